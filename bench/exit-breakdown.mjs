// Where the time from the start of a shutdown to the exit goes, for one variant of bench/server.mjs with idle
// keep-alive sockets: from the start (SIGTERM for a peer, the moment draining begins for graceful with a lame duck) to
// the first socket destroyed, the destroying, from the last one to the 'exit' event, and the process's own exit after
// it. For the question docs/benchmarks.md leaves open: what the drain after a lame duck costs beyond a peer's whole
// shutdown. Node's flags can be given to the server, e.g. `--node-flags="--no-maglev --no-turbofan"` to see what V8's
// optimising compilers cost a drain that runs its per-socket code once.
//
//   node bench/exit-breakdown.mjs --variant node-graceful --sockets 1000 --runs 7 [--pre-stop 300] [--node-flags="…"]
//
// Pinned like run.mjs (the server on one core, this script on the other) where taskset exists. Loopback only; each
// run ends by itself (the server is killed after 30 s).
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median } from './stats.mjs'

const { values } = parseArgs({
  options: {
    variant: { type: 'string', default: 'node-graceful' },
    sockets: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '7' },
    'pre-stop': { type: 'string' },
    'node-flags': { type: 'string', default: '' }
  }
})
const variant = values.variant
const graceful = variant.includes('graceful')
// A lame duck only for graceful's variants: the drain after it is what is timed, from the moment it begins.
const preStop = values['pre-stop'] ?? (graceful ? '300' : '0')
const count = Number(values.sockets)
const runs = Number(values.runs)
const serverScript = fileURLToPath(new URL('server.mjs', import.meta.url))
const marksScript = fileURLToPath(new URL('exit-marks.mjs', import.meta.url))
const pin = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && cpus().length >= 2
if (pin) spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
const wall = () => performance.timeOrigin + performance.now()

async function oneRun () {
  const nodeArgs = ['--import', marksScript, ...values['node-flags'].split(' ').filter(Boolean), serverScript]
  const env = { ...process.env, BENCH_VARIANT: variant, BENCH_PRE_STOP: preStop, NODE_ENV: 'production' }
  delete env.npm_lifecycle_event
  delete env.npm_execpath
  const child = pin
    ? spawn('taskset', ['-c', '1', process.execPath, ...nodeArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, nodeArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const seen = {}
  let marks
  const ready = new Promise(resolve => {
    createInterface({ input: child.stdout }).on('line', line => {
      let event
      try { event = JSON.parse(line) } catch { return }
      seen[event.event] ??= event.t
      if (event.event === 'ready') resolve(event.port)
    })
  })
  // The server's own log lines (graceful's report) are not shown: only the marks are read.
  createInterface({ input: child.stderr }).on('line', line => {
    if (line.startsWith('EXIT-MARKS ')) marks = JSON.parse(line.slice('EXIT-MARKS '.length))
  })
  const exited = once(child, 'exit').then(() => wall())
  const port = await ready
  const sockets = []
  for (let i = 0; i < count; i++) {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    sockets.push(socket)
    await once(socket, 'connect')
    socket.write('GET / HTTP/1.1\r\nhost: bench\r\n\r\n')
    await once(socket, 'data')
  }
  // Idle for a while before the signal, as in run.mjs: their quiet time is known.
  await new Promise(resolve => setTimeout(resolve, 250))
  const signalled = wall()
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const exitAt = await exited
  clearTimeout(killer)
  for (const socket of sockets) socket.destroy()
  // The stderr line may come after the exit event: wait for the stream to end.
  if (marks === undefined && !child.stderr.readableEnded) await once(child.stderr, 'end')
  const start = seen.draining ?? signalled
  // A process that died of the signal (terminus re-raises it) has no 'exit' event, and so no marks.
  if (marks?.firstDestroy === undefined) return { total: exitAt - start }
  return {
    total: exitAt - start,
    toFirstDestroy: marks.firstDestroy - start,
    destroying: marks.lastDestroy - marks.firstDestroy,
    toExitEvent: marks.exitEvent - marks.lastDestroy,
    processExit: exitAt - marks.exitEvent
  }
}

const results = []
for (let i = 0; i < runs; i++) results.push(await oneRun())
const medianOf = key => {
  const values = results.map(result => result[key]).filter(value => value !== undefined)
  return values.length === 0 ? '–' : median(values).toFixed(1)
}
console.log(`${variant}, ${count} idle socket${count === 1 ? '' : 's'}, ${runs} runs${values['node-flags'] ? `, node ${values['node-flags']}` : ''}` +
  ` (medians, ms; from ${graceful ? 'draining' : 'SIGTERM'}):`)
for (const key of ['toFirstDestroy', 'destroying', 'toExitEvent', 'processExit', 'total']) console.log(`  ${key.padEnd(15)} ${medianOf(key)}`)
if (results.every(result => result.toFirstDestroy === undefined)) console.log('  (no marks: the process ended without an \'exit\' event, e.g. by the signal itself)')
console.log(`  totals          ${results.map(result => result.total.toFixed(0)).join(' ')}`)
