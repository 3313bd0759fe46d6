// `pnpm bench` (or `pnpm bench --quick`): per-request overhead and shutdown speed of graceful, A/B interleaved against
// the bare frameworks and the peers, on this machine, in one run. Writes docs/benchmarks.json, and from it alone
// docs/benchmarks.md and its chart (render.mjs, chart.mjs; `--render` re-renders them from the saved figures).
// All traffic goes to 127.0.0.1; every server is a child process this script started and ends by its PID.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { cpus, totalmem } from 'node:os'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'
import { instructionsPerRequest } from './ir.mjs'
import { chart, chartFile } from './chart.mjs'
import { render } from './render.mjs'
import { median } from './stats.mjs'
import { allGroups, IDLE_BEFORE_SIGNAL, routes } from './variants.mjs'

const quick = process.argv.includes('--quick')
// For working on the harness: --only <variant substring>, --skip-throughput, --skip-shutdown.
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
const skipThroughput = process.argv.includes('--skip-throughput')
const skipShutdown = process.argv.includes('--skip-shutdown')
const settings = quick
  ? { rounds: 2, duration: 2, warmup: 1, connections: 64, shutdownRepeats: 3, socketRepeats: 1, socketCounts: [1_000, 10_000] }
  : { rounds: 6, duration: 4, warmup: 2, connections: 64, shutdownRepeats: 5, socketRepeats: 5, socketCounts: [1_000, 10_000] }

const groups = Object.fromEntries(Object.entries(allGroups)
  .map(([group, variants]) => [group, variants.filter(([variant]) => only === undefined || variant.includes(only))])
  .filter(([, variants]) => variants.length > 0))
const serverScript = new URL('./server.mjs', import.meta.url).pathname
const children = new Set()
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })

// The server gets a core of its own and this script (the load generator) the other, where taskset exists: two
// processes fighting over both cores make throughput figures drift far more than the overhead being measured.
const pin = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && cpus().length >= 2
if (pin) spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })

function start (variant, extraEnv = {}) {
  const command = pin ? 'taskset' : process.execPath
  const args = pin ? ['-c', '1', process.execPath, '--expose-gc', serverScript] : ['--expose-gc', serverScript]
  // Started with node directly: the variables `pnpm bench` set would make graceful warn about a package manager.
  const env = { ...process.env }
  delete env.npm_lifecycle_event
  delete env.npm_execpath
  const child = spawn(command, args, {
    env: { ...env, ...extraEnv, BENCH_VARIANT: variant, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  children.add(child)
  const events = []
  const waiters = []
  createInterface({ input: child.stdout }).on('line', line => {
    let event
    try { event = JSON.parse(line) } catch { return }
    events.push(event)
    for (const waiter of waiters.splice(0)) {
      if (waiter.match(event)) waiter.resolve(event)
      else waiters.push(waiter)
    }
  })
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child)
    return { code, signal, at: performance.now() }
  })
  const waitFor = (match, timeout = 15_000) => new Promise((resolve, reject) => {
    const seen = events.find(match)
    if (seen) return resolve(seen)
    const timer = setTimeout(() => reject(new Error(`${variant}: timed out`)), timeout)
    waiters.push({ match, resolve: (event) => { clearTimeout(timer); resolve(event) } })
  })
  return { variant, child, exited, waitFor, port: waitFor(e => e.event === 'ready').then(e => e.port) }
}

/** The run with the median exit time, with every run's figures kept (`runs`) and its exit codes joined. */
function medianRun (runs) {
  const sorted = [...runs].sort((a, b) => a.exitMs - b.exitMs)
  const result = { ...sorted[Math.floor(sorted.length / 2)], code: [...new Set(runs.map(r => r.code))].join('/'), runs }
  // Heap and RSS are medians of their own: the run with the median exit time need not have the median heap.
  for (const key of ['peakRss', 'heapPerSocket']) if (key in result) result[key] = median(runs.map(r => r[key]))
  return result
}

function load (port, path, duration) {
  return autocannon({ url: `http://127.0.0.1:${port}${path}`, connections: settings.connections, pipelining: 1, duration })
}

async function throughput () {
  const results = {}
  for (const [group, variants] of Object.entries(groups)) {
    for (let round = 0; round < settings.rounds; round++) {
      // Fresh processes every round: two processes running the same code can differ by 10 % or more (JIT and
      // memory layout luck), which would otherwise pass for a difference between the libraries.
      const servers = variants.map(([variant]) => start(variant))
      const ports = await Promise.all(servers.map(server => server.port))
      for (const [path] of routes) {
        for (const port of ports) await load(port, path, settings.warmup) // warm-up, discarded
      }
      for (const [path] of routes) {
        // A B C D, then B C D A, …: each variant runs next to every other, so drift and order cancel out.
        const order = variants.map((_, index) => (index + round) % variants.length)
        for (const index of order) {
          const [variant] = variants[index]
          const cpuBefore = await cpuOf(ports[index])
          const result = await load(ports[index], path, settings.duration)
          const cpuAfter = await cpuOf(ports[index])
          const key = `${variant} ${path}`
          results[key] ??= []
          results[key][round] = {
            round,
            rps: result.requests.average,
            p99: result.latency.p99,
            // The server's own CPU time per request: what the library costs, whoever the bottleneck is.
            cpuMicros: (cpuAfter - cpuBefore) / result.requests.total,
            errors: result.errors + result.non2xx
          }
          process.stdout.write(`  ${group} round ${round + 1}/${settings.rounds} ${path.padEnd(5)} ${variant.padEnd(26)} ${Math.round(result.requests.average)} req/s\n`)
        }
      }
      for (const server of servers) server.child.kill('SIGKILL')
      await Promise.all(servers.map(server => server.exited))
    }
  }
  return results
}

function request (socket, path = '/', close = false) {
  return new Promise((resolve, reject) => {
    let data = ''
    const onData = (chunk) => {
      data += chunk
      if (/\r\n\r\n[\s\S]*(hello world|slow|heapUsed[^}]*})/.test(data)) { socket.off('data', onData); resolve(data) }
    }
    socket.setEncoding('utf8')
    socket.on('data', onData)
    socket.once('error', reject)
    socket.once('close', () => reject(new Error(`closed before a response: ${JSON.stringify(data.slice(0, 200))}`)))
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n${close ? 'Connection: close\r\n' : ''}\r\n`)
  })
}

async function openSockets (port, count) {
  const sockets = []
  for (let done = 0; done < count;) {
    const batch = Math.min(250, count - done)
    await Promise.all(Array.from({ length: batch }, async () => {
      const socket = connect(port, '127.0.0.1')
      socket.on('error', () => {})
      await once(socket, 'connect')
      await request(socket)
      sockets.push(socket)
    }))
    done += batch
  }
  return sockets
}

async function cpuOf (port) {
  const response = await fetch(`http://127.0.0.1:${port}/cpu`, { headers: { connection: 'close' } })
  const usage = await response.json()
  return usage.user + usage.system
}

async function heapOf (port) {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  const data = await request(socket, '/mem')
  socket.destroy()
  return JSON.parse(data.slice(data.indexOf('{'))).heapUsed
}

/**
 * Peak resident set (VmHWM) of a child so far, read once, just before the signal: the kernel keeps the high-water mark,
 * so nothing needs to poll while the shutdown is timed (reading /proc every 2 ms during it made the 10 000-socket
 * exits slower and far noisier: 369 to 460 ms against 316 to 371 without, for the same server).
 */
function peakRssOf (pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? NaN : Number(match[1]) * 1024
}

async function exitAfterSignal (server, limit = 30_000) {
  const signalled = performance.now()
  server.child.kill('SIGTERM')
  const timer = setTimeout(() => server.child.kill('SIGKILL'), limit)
  const exit = await server.exited
  clearTimeout(timer)
  return { ms: exit.at - signalled, code: exit.code ?? exit.signal }
}

/** From the moment the client has the whole response of the only in-flight request to the server's exit. */
async function lastResponseToExit (variant, close) {
  const server = start(variant)
  const port = await server.port
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  const response = request(socket, '/slow?ms=200', close).then(() => performance.now())
  await server.waitFor(e => e.event === 'started')
  server.child.kill('SIGTERM')
  const answered = await response.catch((err) => { if (process.env.BENCH_DEBUG) console.error(variant, err.message); return undefined })
  // A library that leaves the keep-alive socket open waits for keepAliveTimeout (30 s here): cut at 10 s.
  const limit = setTimeout(() => server.child.kill('SIGKILL'), 10_000)
  const exit = await server.exited
  clearTimeout(limit)
  socket.destroy()
  return { ms: answered === undefined ? null : exit.at - answered, code: exit.code ?? exit.signal }
}

async function shutdownSpeed () {
  const results = {}
  for (const variants of Object.values(groups)) {
    for (const [variant] of variants) {
      // The A/A control is throughput's yardstick; its shutdown is the bare one's.
      if (variant.endsWith('-aa')) continue
      const entry = results[variant] = { idle: [], lastResponse: [], sockets: {} }
      for (let i = 0; i < settings.shutdownRepeats; i++) {
        // SIGTERM → exit with one idle keep-alive socket.
        const server = start(variant)
        const idle = await openSockets(await server.port, 1)
        await new Promise(resolve => setTimeout(resolve, IDLE_BEFORE_SIGNAL))
        entry.idle.push(await exitAfterSignal(server))
        idle.forEach(socket => socket.destroy())

        // The last in-flight response → exit; for the bare frameworks also with a client that asks to close: the
        // process-exit floor, what any library that closes the socket after the response can at best reach.
        entry.lastResponse.push(await lastResponseToExit(variant, false))
        if (variant.endsWith('-bare')) (entry.closingClient ??= []).push(await lastResponseToExit(variant, true))
      }
      for (const count of settings.socketCounts) {
        const runs = []
        for (let i = 0; i < settings.socketRepeats; i++) {
          const server = start(variant)
          const port = await server.port
          const before = await heapOf(port)
          const sockets = await openSockets(port, count)
          const after = await heapOf(port)
          await new Promise(resolve => setTimeout(resolve, IDLE_BEFORE_SIGNAL))
          const peakRss = peakRssOf(server.child.pid)
          const exit = await exitAfterSignal(server)
          runs.push({ exitMs: exit.ms, code: exit.code, peakRss, heapPerSocket: (after - before) / count })
          sockets.forEach(s => s.destroy())
        }
        entry.sockets[count] = medianRun(runs)
      }
      if (variant.endsWith('-graceful') || variant.endsWith('-graceful-attach')) {
        // After a lame duck (300 ms), from the moment draining begins to the exit: the idle sockets have been quiet for
        // the whole lame duck, so the drain has nothing to wait for.
        entry.afterLameDuck = {}
        for (const count of [1, ...settings.socketCounts]) {
          const runs = []
          for (let i = 0; i < settings.socketRepeats; i++) {
            const server = start(variant, { BENCH_PRE_STOP: '300' })
            const port = await server.port
            const sockets = await openSockets(port, count)
            await new Promise(resolve => setTimeout(resolve, IDLE_BEFORE_SIGNAL))
            server.child.kill('SIGTERM')
            const draining = await server.waitFor(e => e.event === 'draining')
            const exit = await server.exited
            runs.push({ exitMs: exit.at - (draining.t - performance.timeOrigin), code: exit.code ?? exit.signal })
            sockets.forEach(s => s.destroy())
          }
          entry.afterLameDuck[count] = medianRun(runs)
        }
      }
      process.stdout.write(`  shutdown ${variant.padEnd(26)} idle ${median(entry.idle.map(r => r.ms)).toFixed(1)} ms, ` +
        `last response → exit ${median(entry.lastResponse.map(r => r.ms ?? Infinity)).toFixed(1)} ms, ` +
        `10k sockets ${entry.sockets[10_000]?.exitMs.toFixed(0)} ms\n`)
    }
  }
  return results
}

/** Instructions per hello-world request, bare and with graceful, for each framework (full run, valgrind only). */
async function instructions () {
  if (quick || spawnSync('valgrind', ['--version']).status !== 0) return {}
  const results = {}
  for (const variants of Object.values(groups)) {
    const measured = variants.filter(([name]) => name.endsWith('-bare') || name.endsWith('-graceful') || name.endsWith('-graceful-attach'))
    if (variants[0][0] === 'express-bare') measured.push(['express-noop'])
    for (const [variant] of measured) {
      // As started (a hello world), and as a service starts (see BENCH_SERVICE_STARTUP in server.mjs).
      results[variant] = await instructionsPerRequest(variant)
      results[`${variant} service`] = await instructionsPerRequest(variant, { service: true })
      process.stdout.write(`  instructions ${variant.padEnd(26)} ${Math.round(results[variant])} per request, ` +
        `${Math.round(results[`${variant} service`])} after a service's start-up\n`)
    }
  }
  return results
}

/**
 * docs/benchmarks.md and its chart, rendered from a saved run (what docs/benchmarks.json holds) and nothing else, so
 * that the committed page is always what the committed figures give (test/docs/bench-docs.test.ts).
 */
function writeDocs (saved) {
  const markdown = render(saved)
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), markdown)
  writeFileSync(new URL(`../docs/${chartFile}`, import.meta.url), chart(saved))
  return markdown
}

if (process.argv.includes('--lines')) {
  // Instructions per request of node:http, bare and with graceful, on other Node lines: merged into the saved run.
  const file = new URL('../docs/benchmarks.json', import.meta.url)
  const saved = JSON.parse(readFileSync(file, 'utf8'))
  saved.instructionsByLine ??= {}
  for (const node of process.argv[process.argv.indexOf('--lines') + 1].split(',')) {
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '')
    const at = {}
    for (const variant of ['node-bare', 'node-graceful']) {
      at[variant] = await instructionsPerRequest(variant, { node })
      at[`${variant} service`] = await instructionsPerRequest(variant, { node, service: true })
    }
    process.stdout.write(`  Node ${version}: ${JSON.stringify(at)}\n`)
    saved.instructionsByLine[version] = at
  }
  writeFileSync(file, JSON.stringify(saved, null, 2) + '\n')
}

if (process.argv.includes('--instructions')) {
  // Re-counts every variant's instructions per request into the saved run (after a change to what a request runs or
  // to how the packages load), leaving its timings as they were, and re-renders.
  const file = new URL('../docs/benchmarks.json', import.meta.url)
  const saved = JSON.parse(readFileSync(file, 'utf8'))
  saved.instructions = await instructions()
  saved.instructionsMeasured = new Date().toISOString().slice(0, 10)
  writeFileSync(file, JSON.stringify(saved, null, 2) + '\n')
}

if (process.argv.includes('--render') || process.argv.includes('--lines') || process.argv.includes('--instructions')) {
  // Re-renders docs/benchmarks.md from docs/benchmarks.json, without measuring anything.
  const saved = JSON.parse(readFileSync(new URL('../docs/benchmarks.json', import.meta.url), 'utf8'))
  writeDocs(saved)
  process.exit(0)
}

const machine = {
  date: new Date().toISOString().slice(0, 10),
  cpu: cpus()[0]?.model ?? 'unknown CPU',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.versions.node,
  platform: `${process.platform}-${process.arch}`
}
console.log(`graceful bench${quick ? ' (quick)' : ''}: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`)
// A long run keeps what it has measured in bench/results/partial.json.tmp, so that `--resume` can go on from there
// after a failure in a later section instead of measuring everything again.
const partialFile = new URL('./results/partial.json.tmp', import.meta.url)
const partial = process.argv.includes('--resume') ? JSON.parse(readFileSync(partialFile, 'utf8')) : {}
const checkpoint = (key, value) => {
  partial[key] = value
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  writeFileSync(partialFile, JSON.stringify(partial))
  return value
}
console.log('overhead per request…')
const overhead = partial.overhead ?? (skipThroughput ? {} : checkpoint('overhead', await throughput()))
console.log('instructions per request…')
const counted = partial.counted ?? (skipThroughput ? {} : checkpoint('counted', await instructions()))
console.log('shutdown speed…')
const shutdown = skipShutdown ? {} : await shutdownSpeed()
if (process.argv.includes('--merge')) {
  // Re-measures some variants' shutdown figures (after a change to the drain) into the saved run, and re-renders.
  const file = new URL('../docs/benchmarks.json', import.meta.url)
  const saved = JSON.parse(readFileSync(file, 'utf8'))
  if (machine.node !== saved.machine.node) {
    // Run with another Node line's binary: that line's shutdown figures, beside the saved run's.
    saved.shutdownByLine = { ...saved.shutdownByLine, [machine.node]: { ...saved.shutdownByLine?.[machine.node], ...shutdown } }
  } else {
    Object.assign(saved.shutdown, shutdown)
    saved.shutdownMeasuredAgain = [...new Set([...(saved.shutdownMeasuredAgain ?? []), ...Object.keys(shutdown)])]
    // Every variant measured again: the shutdown section is one run of its own, with this run's repeats and date.
    if (only === undefined) {
      saved.settings = { ...saved.settings, shutdownRepeats: settings.shutdownRepeats, socketRepeats: settings.socketRepeats }
      saved.shutdownMeasured = machine.date
    }
  }
  writeFileSync(file, JSON.stringify(saved, null, 2) + '\n')
  writeDocs(saved)
  process.exit(0)
}
if (only !== undefined || skipThroughput || skipShutdown) {
  console.log(JSON.stringify({ overhead, counted, shutdown }, null, 1))
  process.exit(0)
}
const saved = { machine, quick, settings, overhead, instructions: counted, shutdown }
writeFileSync(new URL('../docs/benchmarks.json', import.meta.url), JSON.stringify(saved, null, 2) + '\n')
console.log('\n' + writeDocs(saved))
