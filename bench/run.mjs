// `pnpm bench` (or `pnpm bench --quick`): per-request overhead and shutdown speed of graceful, A/B interleaved against
// the bare frameworks and the peers, on this machine, in one run. Writes docs/benchmarks.md and docs/benchmarks.json.
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
import { median, rankSumP } from './stats.mjs'

const quick = process.argv.includes('--quick')
let quickRender = quick
// For working on the harness: --only <variant substring>, --skip-throughput, --skip-shutdown.
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
const skipThroughput = process.argv.includes('--skip-throughput')
const skipShutdown = process.argv.includes('--skip-shutdown')
// Sockets left idle this long before the signal: long enough to be really idle, as keep-alive sockets mostly are.
const IDLE_BEFORE_SIGNAL = 250
const settings = quick
  ? { rounds: 2, duration: 2, warmup: 1, connections: 64, shutdownRepeats: 3, socketRepeats: 1, socketCounts: [1_000, 10_000] }
  : { rounds: 6, duration: 4, warmup: 2, connections: 64, shutdownRepeats: 5, socketRepeats: 5, socketCounts: [1_000, 10_000] }

const allGroups = {
  'node:http': [
    ['node-bare', 'node:http (bare, server.close())'],
    ['node-bare-aa', 'node:http, bare again (A/A control)'],
    ['node-graceful', 'node:http + @graceful/core']
  ],
  Express: [
    ['express-bare', 'Express 5 (bare, server.close())'],
    ['express-bare-aa', 'Express 5, bare again (A/A control)'],
    ['express-graceful', 'Express + @graceful/express'],
    ['express-graceful-attach', 'Express + @graceful/express, attach() alone'],
    ['express-terminus', 'Express + @godaddy/terminus'],
    ['express-http-terminator', 'Express + http-terminator']
  ],
  Fastify: [
    ['fastify-bare', 'Fastify 5 (bare, fastify.close())'],
    ['fastify-bare-aa', 'Fastify 5, bare again (A/A control)'],
    ['fastify-graceful', 'Fastify + @graceful/fastify'],
    ['fastify-graceful-shutdown', 'Fastify + fastify-graceful-shutdown'],
    ['fastify-close-with-grace', 'Fastify + close-with-grace']
  ]
}
const groups = Object.fromEntries(Object.entries(allGroups)
  .map(([group, variants]) => [group, variants.filter(([variant]) => only === undefined || variant.includes(only))])
  .filter(([, variants]) => variants.length > 0))
const routes = [['/', 'hello world'], ['/json', '1 KiB JSON']]
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

/** A record keyed by Node version, oldest line first. */
const byVersion = (record) => Object.entries(record).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
const fmt = (value, digits = 0) => value === undefined || value === null || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits)
const pct = (ratio) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)} %`

/** The verdict of "no slower than the reference" from both sets of runs: missed only when the rank test says slower. */
const SIGNIFICANCE = 0.05
const slowerBeyondNoise = (larger, smaller) => {
  const p = rankSumP(larger, smaller)
  return { slower: p < SIGNIFICANCE, text: `p = ${p < 0.001 ? '< 0.001' : p.toFixed(3)}` }
}

function render (machine, overhead, shutdown, counted, measuredAgain = [], byLine = {}, shutdownMeasured = undefined, shutdownByLine = {}) {
  const lines = []
  lines.push('# Benchmarks', '')
  lines.push(`Produced by \`pnpm bench${quickRender ? ' --quick' : ''}\` on ${machine.date}: ${machine.cpu} × ${machine.cores} cores, ` +
    `${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}. Raw figures: [benchmarks.json](benchmarks.json).`, '')
  lines.push('Server and load generator (autocannon, ' + `${settings.connections} keep-alive connections, ${settings.duration} s per run) ` +
    'run on one core each of a small machine (pinned with taskset), so absolute figures are modest; the ratios are what ' +
    'to read. Each variant ran ' +
    `${settings.rounds} rounds, each in fresh processes (two processes of the same code can differ by 10 % or more), ` +
    'interleaved with the others (A B C D, B C D A, …) after a discarded warm-up; a ratio is taken per round against ' +
    'the bare framework measured next to it, and the table shows the median. The server\'s CPU time per request is ' +
    'read from the server itself (`process.cpuUsage()`), so it does not depend on which side is the bottleneck.', '')
  lines.push('## Overhead per request', '')
  for (const [group, variants] of Object.entries(allGroups)) {
    for (const [path, label] of routes) {
      lines.push(`### ${group}, ${label} (\`${path}\`)`, '')
      lines.push('| variant | median req/s | req/s ratio to bare | server CPU per request (µs) | CPU ratio to bare | median p99 latency (ms) | errors |')
      lines.push('|---|---:|---:|---:|---:|---:|---:|')
      const bare = overhead[`${variants[0][0]} ${path}`]
      for (const [variant, name] of variants) {
        const runs = overhead[`${variant} ${path}`]
        const ratios = runs.map((run, index) => run.rps / bare[index].rps)
        const cpuRatios = runs.map((run, index) => run.cpuMicros / bare[index].cpuMicros)
        const reference = variant === variants[0][0]
        lines.push(`| ${name} | ${fmt(median(runs.map(r => r.rps)))} | ${reference ? '1 (reference)' : `${median(ratios).toFixed(3)} (${pct(median(ratios))})`} | ` +
          `${fmt(median(runs.map(r => r.cpuMicros)), 2)} | ${reference ? '1 (reference)' : `${median(cpuRatios).toFixed(3)} (${pct(median(cpuRatios))})`} | ` +
          `${fmt(median(runs.map(r => r.p99)), 1)} | ${runs.reduce((sum, r) => sum + r.errors, 0)} |`)
      }
      lines.push('')
    }
  }
  if (Object.keys(counted).length > 0) {
    lines.push('### Instructions per request', '')
    lines.push('Counted by valgrind (callgrind), which counts instructions rather than time, so the figure does not drift ' +
      'with the machine\'s load: one keep-alive connection, hello world, the difference between a run of 30 000 and one ' +
      'of 10 000 requests divided by 20 000, so start-up, the JIT\'s warm-up and shutdown cancel out. Repeated runs of the ' +
      'same variant differ by about 1 % (garbage collection and JIT timing).', '')
    const service = Object.keys(counted).some(key => key.endsWith(' service'))
    if (service) {
      lines.push('Each variant is counted twice. "As a hello world": the server is the first thing the process makes. "After ' +
        'a service\'s start-up": the process first constructs 30 EventEmitters, as a service does before its server ' +
        'exists (a logger\'s stream, a database pool, a WebSocket server). The two differ because V8 fills the inline ' +
        'caches of EventEmitter\'s constructor only after it has run a few times: in the hello world those caches see ' +
        'two shapes (the request and the response) and stay polymorphic; once more than four shapes have passed they ' +
        `are megamorphic, and every request pays more (bare node:http: ${fmt(counted['node-bare service'] - counted['node-bare'])} ` +
        'instructions per request, found with `node --log-ic`: the stores in `EventEmitter.init`). Loading an ES module ' +
        'package of a few files is enough to get there (on Node 20 the loader reads each file through a FileHandle, an ' +
        'EventEmitter), so loading graceful, or any such package, into the hello world moves it there. The second ' +
        'pair compares graceful with the bare framework in the same state: that difference is graceful\'s own.', '')
    }
    lines.push('| framework | bare | with graceful | difference per request | ratio |' + (service ? ' bare, after a service\'s start-up | with graceful | difference | ratio |' : ''))
    lines.push('|---|---:|---:|---:|---:|' + (service ? '---:|---:|---:|---:|' : ''))
    for (const [group, variants] of Object.entries(allGroups)) {
      const bareName = variants[0][0]
      const gracefulName = variants.find(([name]) => name.endsWith('-graceful'))?.[0]
      const bare = counted[bareName]
      const withGraceful = counted[gracefulName]
      if (bare === undefined || withGraceful === undefined) continue
      const row = (b, g) => `${fmt(b)} | ${fmt(g)} | ${fmt(g - b)} | ${(g / b).toFixed(3)} |`
      lines.push(`| ${group} | ${row(bare, withGraceful)}` +
        (service ? ` ${row(counted[`${bareName} service`], counted[`${gracefulName} service`])}` : ''))
    }
    lines.push('')
    const floorText = (suffix, state) => {
      const at = (name) => counted[name + suffix]
      if (at('express-noop') === undefined || at('express-bare') === undefined) return
      const floor = at('express-noop') - at('express-bare')
      lines.push(`${state}: a middleware that only calls \`next()\` costs Express ${fmt(floor)} ` +
        'instructions per request by itself; that is the floor for any `app.use()` middleware, graceful included.' +
        (at('express-graceful') === undefined ? '' : ` Beyond that floor, graceful's middleware costs ${fmt(at('express-graceful') - at('express-noop'))} ` +
          `(${pct(at('express-graceful') / at('express-noop'))} of a request).`) +
        (at('express-graceful-attach') === undefined ? '' : ` With \`attach()\` alone (no middleware): ${fmt(at('express-graceful-attach') - at('express-bare'))} ` +
          `(${pct(at('express-graceful-attach') / at('express-bare'))} over bare Express).`), '')
    }
    floorText('', service ? 'Express as a hello world' : 'For scale')
    if (service) floorText(' service', 'Express after a service\'s start-up')
    if (Object.keys(byLine).length > 0) {
      lines.push('node:http on the other Node lines (`node bench/run.mjs --lines <node binaries>`, the same count with each ' +
        'line\'s own binary):', '')
      lines.push('| Node | bare | with graceful | ratio | bare, after a service\'s start-up | with graceful | ratio |')
      lines.push('|---|---:|---:|---:|---:|---:|---:|')
      for (const [version, at] of Object.entries(byLine)) {
        lines.push(`| ${version} | ${fmt(at['node-bare'])} | ${fmt(at['node-graceful'])} | ${(at['node-graceful'] / at['node-bare']).toFixed(3)} | ` +
          `${fmt(at['node-bare service'])} | ${fmt(at['node-graceful service'])} | ${(at['node-graceful service'] / at['node-bare service']).toFixed(3)} |`)
      }
      lines.push('')
    }
  }
  lines.push('## Shutdown speed', '')
  const socketRuns = (settings.socketRepeats ?? 1) === 1 ? 'one run each' : `the median of ${settings.socketRepeats} runs each`
  lines.push(`Median of ${settings.shutdownRepeats} runs for the first two columns; ${socketRuns} for the socket counts. ` +
    '"SIGTERM → exit" is measured by this script from the signal to the child\'s exit; "last response → exit" from the ' +
    'moment the client has the whole response of the only in-flight request to the exit (cut at 10 s with SIGKILL: ' +
    'a figure near 10 000 means the process was still waiting for the keep-alive socket). Exit codes or signals in ' +
    'brackets; n/a means the in-flight response was lost.' +
    (shutdownMeasured !== undefined
      ? ` This section and the next were measured in a later run of their own (${shutdownMeasured}, \`--skip-throughput --merge\`), after a change to the core's shutdown path; the sections above are from the full run.`
      : measuredAgain.length > 0 ? ` The rows of ${measuredAgain.join(', ')} were measured again after a change to the drain (\`--merge\`).` : ''), '')
  lines.push(...shutdownTable(shutdown))
  lines.push('')
  lines.push('What each column costs, and why:', '',
    '- **SIGTERM → exit, idle keep-alive sockets.** Node\'s `server.close()` destroys idle sockets at once, and so do ' +
    'the peers; graceful closes a socket only when closing it cannot reset a request a client may be writing: after ' +
    'one more poll of the event loop, once the socket has been quiet for `idleSocketGrace` (100 ms). How long it has ' +
    'been quiet is read from Node\'s own keep-alive timer, so sockets idle since long before the signal (as here, ' +
    `${IDLE_BEFORE_SIGNAL} ms) close at once; only a socket whose quiet time is unknown (a server with ` +
    '`keepAliveTimeout` 0) waits the whole window. graceful also closes its listener one poll of the event loop ' +
    'later than the peers, so that a connection the kernel has queued meanwhile is accepted and served rather than ' +
    'reset (microseconds). With thousands of sockets the time is Node\'s own cost of ' +
    'destroying them, the same for every variant: the kernel closing each connection and Node freeing its objects ' +
    '(a perf profile of 10,000: about 15 µs and 9 µs a socket), in the event loop or at the process\'s exit, and ' +
    'one server\'s runs differ by a quarter from one to the next on this machine (the targets below give each range).',
    '- **Last response → exit.** The in-flight response carries `Connection: close`, so the socket closes when it ' +
    'ends and the process exits in the same turns of the event loop: no polling period, no keep-alive timeout. ' +
    'The bare servers keep the keep-alive socket until `keepAliveTimeout` (cut here at 10 s). The next column is the ' +
    'floor: the bare framework when the client itself asks to close, so the socket closes with the response and ' +
    'only the process\'s own exit is left.',
    '- **Heap per socket.** graceful follows each socket with one small record and one `\'close\'` listener; nothing ' +
    'per request. Peak RSS is the kernel\'s high-water mark (VmHWM), read once just before the signal.', '')
  if (Object.values(shutdown).some(entry => entry?.afterLameDuck !== undefined)) {
    lines.push('### After a lame duck', '')
    lines.push('With a 300 ms lame duck (`preStopDelay: 300`), from the moment draining begins to the exit, the same idle ' +
      'keep-alive sockets: they have been quiet through the whole lame duck, so the drain closes them after one more ' +
      `poll of the event loop, with no quiet window left to wait. ${(settings.socketRepeats ?? 1) === 1 ? 'One run each' : `Median of ${settings.socketRepeats} runs each`}. ` +
      '`node bench/exit-breakdown.mjs` splits one variant\'s time into its parts (to the first socket closed, the closing, ' +
      'to the `\'exit\'` event, the process\'s own exit) and passes Node\'s flags to the server. At 1,000 sockets what ' +
      'graceful adds to a peer\'s whole shutdown is mostly before the first socket closes: the check of each socket and ' +
      'one poll (about 3 ms against a peer\'s 0.6 on Node 24), and, for Fastify, the turn after its close step. With the ' +
      'server on one core, V8 compiles code that runs over every socket while it runs (`--node-flags="--no-maglev ' +
      '--no-turbofan"` shows how much): the drain decides each socket in a small function of its own for that reason.', '')
    lines.push(...lameDuckTable(shutdown))
    lines.push('')
  }
  const last = settings.socketCounts.at(-1)
  lines.push(`What graceful itself keeps per tracked socket, from the ${last.toLocaleString('en')}-socket runs ` +
    '(heap per socket with graceful minus the bare framework\'s, after a forced garbage collection):', '')
  for (const variants of Object.values(allGroups)) {
    const bare = shutdown[variants[0][0]]?.sockets[last]?.heapPerSocket
    const [variant, name] = variants.find(([v]) => v.endsWith('-graceful')) ?? []
    const own = variant === undefined ? undefined : shutdown[variant]?.sockets[last]?.heapPerSocket
    if (bare !== undefined && own !== undefined) lines.push(`- ${name}: ${fmt(own - bare)} bytes`)
  }
  lines.push('')
  for (const [version, lineShutdown] of byVersion(shutdownByLine)) {
    lines.push(`### Shutdown on Node ${version}`, '',
      `The same shutdown measurements with Node ${version}'s binary (\`node bench/run.mjs --skip-throughput --merge\` run ` +
      'with it), in a run of their own: compare rows within this table, not with the tables above.', '')
    lines.push(...shutdownTable(lineShutdown), '', ...lameDuckTable(lineShutdown), '')
  }
  lines.push(...targets(overhead, shutdown, counted, byLine))
  for (const [version, lineShutdown] of byVersion(shutdownByLine)) {
    lines.push(...targets({}, lineShutdown, {}, {}, `### The shutdown targets on Node ${version}`))
  }
  return lines.join('\n')
}

/** The shutdown table of one run: every variant's exit times, peak RSS and heap per socket. */
function shutdownTable (shutdown) {
  const lines = []
  lines.push('| variant | SIGTERM → exit, 1 idle keep-alive socket (ms) | last response → exit (ms) | ' +
    'last response → exit, the client asked to close (ms) | ' +
    settings.socketCounts.map(n => `SIGTERM → exit, ${n.toLocaleString('en')} idle sockets (ms)`).join(' | ') +
    ` | peak RSS with ${settings.socketCounts.at(-1).toLocaleString('en')} sockets (MiB) | heap per socket (bytes) |`)
  lines.push('|---|---:|---:|---:|' + settings.socketCounts.map(() => '---:').join('|') + '|---:|---:|')
  for (const variants of Object.values(allGroups)) {
    for (const [variant, name] of variants) {
      const entry = shutdown[variant]
      if (entry === undefined) continue
      const codes = (runs) => [...new Set(runs.map(r => r.code))].join('/')
      const last = settings.socketCounts.at(-1)
      lines.push(`| ${name} | ${fmt(median(entry.idle.map(r => r.ms)), 1)} [${codes(entry.idle)}] | ` +
        `${fmt(median(entry.lastResponse.map(r => r.ms ?? Infinity)), 1)} [${codes(entry.lastResponse)}] | ` +
        (entry.closingClient === undefined ? '– | ' : `${fmt(median(entry.closingClient.map(r => r.ms ?? Infinity)), 1)} [${codes(entry.closingClient)}] | `) +
        settings.socketCounts.map(n => `${fmt(entry.sockets[n].exitMs)} [${entry.sockets[n].code}]`).join(' | ') +
        ` | ${fmt(entry.sockets[last].peakRss / 2 ** 20, 1)} | ${fmt(entry.sockets[last].heapPerSocket)} |`)
    }
  }
  return lines
}

/** The after-a-lame-duck table of one run: draining → exit for graceful's variants. */
function lameDuckTable (shutdown) {
  const counts = [1, ...settings.socketCounts]
  const lines = []
  lines.push('| variant | ' + counts.map(n => `draining → exit, ${n.toLocaleString('en')} idle socket${n === 1 ? '' : 's'} (ms)`).join(' | ') + ' |')
  lines.push('|---|' + counts.map(() => '---:').join('|') + '|')
  for (const variants of Object.values(allGroups)) {
    for (const [variant, name] of variants) {
      const after = shutdown[variant]?.afterLameDuck
      if (after === undefined) continue
      lines.push(`| ${name} | ` + counts.map(n => `${fmt(after[n]?.exitMs, 1)} [${after[n]?.code}]`).join(' | ') + ' |')
    }
  }
  return lines
}

/**
 * The core's measured targets, each with this run's figures and whether it was met: per-request cost (instructions
 * and throughput), the exit after the last response, idle sockets against the fastest peer, heap per socket.
 */
function targets (overhead, shutdown, counted, byLine, heading = '## Against the targets') {
  const lines = [heading, '']
  if (heading === '## Against the targets') {
    lines.push('Each timing target is judged on every run, not on two medians: a target is missed when a one-sided ' +
      'exact rank-sum (Mann–Whitney) test over graceful\'s runs and the reference\'s finds graceful slower ' +
      `(p < ${SIGNIFICANCE}; with 5 runs a side the smallest possible p is 0.004, and it means that every run of ` +
      'graceful was slower than every run of the reference). On this machine one server\'s consecutive 4-second load ' +
      'windows differ by up to a third, so the median of six rounds moves by several percent from one run to the ' +
      'next, and the A/A control\'s own median lands anywhere in that band: comparing one median\'s offset with ' +
      'another\'s, as earlier runs did, called an identical server slower about one time in four (simulated). With so ' +
      'few runs the test sees only differences larger than that spread; the instruction counts, which repeat within ' +
      'about 1 %, are what bound the cost per request.', '')
  }
  const verdict = (ok) => ok ? 'met' : '**missed**'
  // `larger` (graceful's runs, less the margin) no larger than `reference`, by the rank test; with fewer than 3 runs a
  // side (a quick run), by the medians.
  const judge = (larger, reference, margin = 0) => larger.length < 3 || reference.length < 3
    ? { slower: median(larger) > median(reference) + margin, text: 'medians' }
    : slowerBeyondNoise(larger.map(x => x - margin), reference)
  const list = (items) => items.filter(Boolean).join('; ')
  const entries = Object.entries(allGroups)
  const gracefulOf = (variants) => variants.find(([name]) => name.endsWith('-graceful'))?.[0]
  const isGraceful = (variant) => variant.endsWith('-graceful') || variant.endsWith('-graceful-attach')
  if (Object.keys(counted).length > 0) {
    const ratio = (a, b) => counted[a] / counted[b]
    const states = [['', 'as a hello world'], [' service', 'after a service\'s start-up']]
    for (const [group, variants] of entries.filter(([, v]) => !v[0][0].startsWith('express'))) {
      const cells = states.map(([suffix, state]) => {
        const r = ratio(gracefulOf(variants) + suffix, variants[0][0] + suffix)
        return Number.isFinite(r) ? `${pct(r)} ${state} (${verdict(r <= 1.01)})` : undefined
      })
      lines.push(`- Instructions per request, ${group} ≤ +1 % over bare: ${list(cells)}.`)
    }
    const floorCells = states.map(([suffix, state]) => {
      const share = (counted['express-graceful' + suffix] - counted['express-noop' + suffix]) / counted['express-bare' + suffix]
      return Number.isFinite(share) ? `${pct(1 + share)} ${state} (${verdict(share <= 0.003)})` : undefined
    })
    lines.push(`- Instructions per request, Express, graceful's middleware beyond Express's floor for any middleware ≤ +0.3 %: ${list(floorCells)}.`)
    const attachCells = states.map(([suffix, state]) => {
      const r = ratio('express-graceful-attach' + suffix, 'express-bare' + suffix)
      return Number.isFinite(r) ? `${pct(r)} ${state} (${verdict(r <= 1.01)})` : undefined
    })
    lines.push(`- Instructions per request, Express with \`attach()\` alone ≤ +1 % over bare: ${list(attachCells)}.`)
  }
  if (Object.keys(byLine).length > 0) {
    const cells = Object.entries(byLine).map(([version, at]) => {
      const [hello, service] = [at['node-graceful'] / at['node-bare'], at['node-graceful service'] / at['node-bare service']]
      return `Node ${version} ${pct(hello)} and ${pct(service)} (${verdict(hello <= 1.01 && service <= 1.01)})`
    })
    lines.push(`- Instructions per request, node:http ≤ +1 % over bare on the other Node lines (as a hello world, and after a service's start-up): ${cells.join('; ')}.`)
  }
  if (Object.keys(overhead).length > 0) {
    const cells = []
    for (const [, variants] of entries) {
      for (const [path] of routes) {
        const bare = overhead[`${variants[0][0]} ${path}`]
        const ratiosOf = (variant) => overhead[`${variant} ${path}`].map((run, index) => run.rps / bare[index].rps)
        const control = ratiosOf(`${variants[0][0]}-aa`)
        for (const [variant, name] of variants.filter(([v]) => isGraceful(v))) {
          const own = ratiosOf(variant)
          const test = judge(control, own)
          const rounds = (ratios) => `${pct(median(ratios))} (rounds ${pct(Math.min(...ratios))} to ${pct(Math.max(...ratios))})`
          cells.push(`${name} \`${path}\` ${rounds(own)} against the A/A control's ${rounds(control)}, ${test.text} (${verdict(!test.slower)})`)
        }
      }
    }
    lines.push('- Throughput, ratio to bare within the A/A control\'s noise: graceful\'s per-round ratios against the A/A ' +
      `control's (the bare server again), missed when the rank test finds graceful slower (p < ${SIGNIFICANCE}): ${cells.join('; ')}.`)
  }
  if (Object.keys(shutdown).length > 0) {
    // Every run of a server at a socket count, in ms (1: the idle-socket column's runs).
    const runsAt = (entry, count) => count === 1
      ? entry.idle.map(r => r.ms ?? Infinity)
      : entry.sockets[count].runs?.map(r => r.exitMs) ?? [entry.sockets[count].exitMs]
    const span = (runs, digits = 0) => runs.length < 2 ? '' : ` (runs ${fmt(Math.min(...runs), digits)}–${fmt(Math.max(...runs), digits)})`
    const exitCells = []
    const idleCells = []
    const lameDuckCells = []
    const heapCells = []
    for (const [, variants] of entries) {
      const floor = shutdown[variants[0][0]]?.closingClient
      const peers = variants.filter(([v]) => !isGraceful(v) && !v.endsWith('-aa') && shutdown[v] !== undefined)
      // The fastest peer, named: the one with the lowest median.
      const fastest = (count) => peers.map(([v, peerName]) => ({ variant: v, name: peerName, runs: runsAt(shutdown[v], count) }))
        .map(peer => ({ ...peer, ms: median(peer.runs) }))
        .reduce((best, peer) => peer.ms < best.ms ? peer : best)
      for (const [variant, name] of variants.filter(([v]) => isGraceful(v) && shutdown[v] !== undefined)) {
        const entry = shutdown[variant]
        if (floor !== undefined) {
          const own = entry.lastResponse.map(r => r.ms ?? Infinity)
          const reference = floor.map(r => r.ms ?? Infinity)
          const over = median(own) - median(reference)
          const test = judge(own, reference, 1)
          exitCells.push(`${name} ${over >= 0 ? '+' : ''}${over.toFixed(1)} ms, runs ${fmt(Math.min(...own), 1)}–${fmt(Math.max(...own), 1)} ` +
            `against ${fmt(Math.min(...reference), 1)}–${fmt(Math.max(...reference), 1)}, ${test.text} (${verdict(!test.slower)})`)
        }
        for (const count of [1, ...settings.socketCounts]) {
          const peer = fastest(count)
          const own = runsAt(entry, count)
          const idle = judge(own, peer.runs, 100)
          const digits = count === 1 ? 1 : 0
          idleCells.push(`${name}, ${count.toLocaleString('en')}: ${fmt(median(own), digits)}${span(own, digits)} against ` +
            `${fmt(peer.ms, digits)} + 100, ${idle.text} (${verdict(!idle.slower)})`)
          const after = entry.afterLameDuck?.[count]
          if (after === undefined) continue
          const afterRuns = after.runs?.map(r => r.exitMs) ?? [after.exitMs]
          const lameDuck = judge(afterRuns, peer.runs)
          lameDuckCells.push(`${name}, ${count.toLocaleString('en')}: ${fmt(after.exitMs, 1)}${span(afterRuns, digits)} against ` +
            `${fmt(peer.ms, 1)}, ${peer.name}${span(peer.runs, digits)}, ${lameDuck.text} (${verdict(!lameDuck.slower)})`)
        }
        const bareHeap = shutdown[variants[0][0]]?.sockets[settings.socketCounts.at(-1)]?.heapPerSocket
        const ownHeap = entry.sockets[settings.socketCounts.at(-1)]?.heapPerSocket
        if (bareHeap !== undefined && ownHeap !== undefined) heapCells.push(`${name} ${fmt(ownHeap - bareHeap)} (${verdict(ownHeap - bareHeap <= 460)})`)
      }
    }
    if (exitCells.length > 0) lines.push(`- Last response → exit within 1 ms of the floor (the bare framework's exit when the client asked to close; graceful's runs less 1 ms against the floor's): ${exitCells.join('; ')}.`)
    lines.push(`- Without a lame duck, SIGTERM → exit no slower than the fastest peer (the bare framework included) + \`idleSocketGrace\` (graceful's runs less 100 ms against the peer's), in ms: ${idleCells.join('; ')}.`)
    if (lameDuckCells.length > 0) lines.push(`- After a lame duck, draining → exit no slower than the fastest peer's SIGTERM → exit, in ms: ${lameDuckCells.join('; ')}.`)
    if (heapCells.length > 0) lines.push(`- Heap per tracked socket no larger than before the core's reshaping (about 460 bytes): ${heapCells.join('; ')}.`)
  }
  lines.push('')
  if (heading === '## Against the targets' && Object.keys(shutdown).length > 0) {
    lines.push('What the exit times that miss are made of (`node bench/exit-breakdown.mjs`, medians of 7 to 11 runs, ' +
      'measured by hand on 2026-12-06): with one idle socket after a lame duck on Node 24, graceful closes it 1.0 ms ' +
      'later than bare `server.close()` and reaches its `\'exit\'` event 0.5 ms later. The first is one poll of the ' +
      'event loop before the listener closes and one before a quiet socket is closed, so that a connection or request ' +
      'already on the wire is served rather than reset, and the shutdown code running for the first time; the second ' +
      'is the report. @godaddy/terminus ends the process by raising the signal again, which skips Node\'s own exit ' +
      '(with one socket, 4 to 8 ms from the `\'exit\'` event to the process gone on Node 20 and 24, for the variants ' +
      'that exit). With 1,000 sockets on Node 26, graceful checks each socket before closing it (about 3 ms, in code ' +
      'that runs once and cold), and Fastify\'s close step, with its `preClose` and `onClose` hooks, runs after the ' +
      'drain: Fastify answers 503 to every request that reaches a route from the moment its close begins, and a hook ' +
      'that closes a database pool must not see a request in flight (about 3 ms more to the `\'exit\'` event than ' +
      'bare `fastify.close()`). Each is the price of a rule that loses no request or reports what happened, and the ' +
      'project ranks exit latency last (no request lost, then the cost per request, then the exit). With about 150 ' +
      'verdicts at p < 0.05, a few misses are expected by chance alone even where nothing differs.', '')
  }
  return lines
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

if (process.argv.includes('--render') || process.argv.includes('--lines')) {
  // Re-renders docs/benchmarks.md from docs/benchmarks.json, without measuring anything.
  const saved = JSON.parse(readFileSync(new URL('../docs/benchmarks.json', import.meta.url), 'utf8'))
  Object.assign(settings, saved.settings)
  quickRender = saved.quick === true
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), render(saved.machine, saved.overhead, saved.shutdown, saved.instructions ?? {}, saved.shutdownMeasuredAgain, saved.instructionsByLine, saved.shutdownMeasured, saved.shutdownByLine))
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
  Object.assign(settings, saved.settings)
  quickRender = saved.quick === true
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), render(saved.machine, saved.overhead, saved.shutdown, saved.instructions ?? {}, saved.shutdownMeasuredAgain, saved.instructionsByLine, saved.shutdownMeasured, saved.shutdownByLine))
  process.exit(0)
}
if (only !== undefined || skipThroughput || skipShutdown) {
  console.log(JSON.stringify({ overhead, counted, shutdown }, null, 1))
  process.exit(0)
}
const docs = new URL('../docs/', import.meta.url)
writeFileSync(new URL('benchmarks.json', docs), JSON.stringify({ machine, quick, settings, overhead, instructions: counted, shutdown }, null, 2) + '\n')
const markdown = render(machine, overhead, shutdown, counted)
writeFileSync(new URL('benchmarks.md', docs), markdown)
console.log('\n' + markdown)
