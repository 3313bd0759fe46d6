// `pnpm demo`: a service under keep-alive load receives SIGTERM, once with graceful and once without, and the
// requests each run lost are counted side by side. Traffic goes to 127.0.0.1 only; every run is bounded in time.
//
//   pnpm demo                          Express, no lame duck
//   pnpm demo --fastify                Fastify
//   pnpm demo --pre-stop-delay 2000    a 2 s lame duck: readiness 503 while every request is still served
//   pnpm demo --plain                  plain lines instead of the live display (the default when not a terminal)
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs, styleText } from 'node:util'
import { Client } from 'undici'

const { values } = parseArgs({
  options: {
    fastify: { type: 'boolean', default: false },
    'pre-stop-delay': { type: 'string', default: '0' },
    clients: { type: 'string', default: '32' },
    'load-before-signal': { type: 'string', default: '1500' },
    plain: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (values.help) {
  console.log('usage: pnpm demo [--fastify] [--pre-stop-delay ms] [--clients n] [--load-before-signal ms] [--plain]')
  process.exit(0)
}
const framework = values.fastify ? 'fastify' : 'express'
const clientCount = positive(values.clients, '--clients')
const loadBeforeSignal = positive(values['load-before-signal'], '--load-before-signal')
const preStopDelay = Number(values['pre-stop-delay'])
if (!Number.isFinite(preStopDelay) || preStopDelay < 0 || preStopDelay > 60_000) fail('--pre-stop-delay takes 0 to 60000 ms')
const live = process.stdout.isTTY === true && !values.plain
const color = live && process.env.NO_COLOR === undefined
const paint = (format, text) => color ? styleText(format, text) : text
// Each run stops by itself: the load ends this long after the signal even if the service never exits.
const RUN_LIMIT = 20_000

// `listening on http://127.0.0.1:3000` (the examples' own line) or Fastify's `Server listening at http://…:3000`.
const LISTENING = /listening (?:on|at) http:\/\/[^\s"]+:(\d+)/

function positive (text, name) {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) fail(`${name} takes a whole number above 0`)
  return value
}

function fail (message) {
  console.error(`demo: ${message}`)
  process.exit(2)
}

function label (variant) {
  return variant === 'graceful' ? `${framework} + graceful` : `bare ${framework}`
}

/** Starts the service and resolves with its port; collects its lines (status, logs, the report) in `run`. */
async function startService (variant, run) {
  const script = fileURLToPath(new URL(`${variant === 'graceful' ? '' : 'bare-'}${framework}.mjs`, import.meta.url))
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: '0', PRE_STOP_DELAY: String(preStopDelay), DEMO_STATUS: '1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  run.exited = once(child, 'exit')
  const port = new Promise((resolve, reject) => {
    const onLine = (line) => {
      run.lines.push(line)
      const listening = LISTENING.exec(line)
      if (listening !== null) resolve(Number(listening[1]))
      if (!line.startsWith('{')) return
      let entry
      try { entry = JSON.parse(line) } catch { return }
      if (entry.msg === 'status') {
        run.server.inFlight = entry.inFlight
        setPhase(run, entry.phase)
      } else if (entry.msg === 'graceful: shutdown started') {
        setPhase(run, 'stopping')
      } else if (entry.msg === 'graceful: shutdown complete') {
        run.report = entry
        // Every request has ended by now: answered, or forced at the deadline and named in the report.
        run.server.inFlight = 0
        setPhase(run, 'stopped')
      }
    }
    createInterface({ input: child.stdout }).on('line', onLine)
    createInterface({ input: child.stderr }).on('line', onLine)
    run.exited.then(() => reject(new Error(`the ${variant} service exited before listening:\n${run.lines.join('\n')}`)))
  })
  return { child, port: await port }
}

function setPhase (run, phase) {
  if (run.server.phase === phase) return
  run.server.phase = phase
  note(run, `phase ${phase}`)
}

function setReadiness (run, readiness) {
  if (run.readiness === readiness) return
  run.readiness = readiness
  note(run, `readiness ${readiness}`)
}

/** A moment worth a line: kept for the timeline, printed at once when the display is plain. */
function note (run, what) {
  const at = run.signalledAt === 0 ? 'before SIGTERM' : `SIGTERM +${Date.now() - run.signalledAt} ms`
  run.timeline.push({ at, what })
  if (!live) console.log(`${label(run.variant).padEnd(18)} ${at.padEnd(16)} ${what}`)
}

/** Polls the readiness route the way a load balancer or the kubelet would, on its own connection. */
async function pollReadiness (run, port) {
  const probe = new Client(`http://127.0.0.1:${port}`)
  try {
    while (!run.done) {
      try {
        const res = await probe.request({ method: 'GET', path: '/healthz', headersTimeout: 1_000, bodyTimeout: 1_000 })
        await res.body.dump()
        setReadiness(run, res.statusCode === 200 ? '200 ready' : res.statusCode === 503 ? '503 not ready' : `${res.statusCode}`)
        if (res.statusCode !== 200) run.notReady = true
      } catch (err) {
        run.notReady = true
        setReadiness(run, err.code === 'ECONNREFUSED' ? 'refused (listener closed)' : `no answer (${err.code ?? err.name})`)
      }
      await sleep(100)
    }
  } finally {
    await probe.destroy()
  }
}

async function run (variant) {
  const run = {
    variant,
    lines: [],
    timeline: [],
    server: { phase: variant === 'graceful' ? 'starting' : 'running (no phases)', inFlight: undefined },
    readiness: variant === 'graceful' ? 'unknown' : 'no readiness route',
    counts: { ok: 0, lost: 0, rejected: 0, refused: 0, movedAway: 0 },
    notReady: false,
    lostKinds: new Map(),
    clientsInFlight: 0,
    startedAt: Date.now(),
    signalledAt: 0,
    exitedAt: 0,
    exit: undefined,
    report: undefined,
    done: false,
    exited: undefined
  }
  const { child, port } = await startService(variant, run)
  run.startedAt = Date.now()
  const stopAt = Date.now() + loadBeforeSignal + RUN_LIMIT
  const clients = Array.from({ length: clientCount }, () => new Client(`http://127.0.0.1:${port}`, { keepAliveTimeout: 60_000 }))
  const worker = async (client, index) => {
    for (let i = 0; Date.now() < stopAt && !run.done; i++) {
      run.clientsInFlight++
      try {
        const res = await client.request({ method: 'GET', path: `/?ms=${5 + ((index * 7 + i * 13) % 150)}` })
        await res.body.text()
        if (res.statusCode === 200) run.counts.ok++
        else run.counts.rejected++
        // The driver plays the load balancer too: once its probe has seen the instance not ready, a client told
        // `Connection: close` opens its next connection on another instance instead of this one.
        if (res.headers.connection === 'close' && run.notReady) {
          run.counts.movedAway++
          return
        }
      } catch (err) {
        // Refused at connect: nothing was sent, any client or load balancer retries elsewhere. Anything else
        // (reset, hang-up) hit a request that had been written: the client cannot know whether it ran.
        if (err.code === 'ECONNREFUSED') run.counts.refused++
        else {
          run.counts.lost++
          const kind = err.code ?? err.name
          run.lostKinds.set(kind, (run.lostKinds.get(kind) ?? 0) + 1)
        }
        if (run.signalledAt !== 0) return
      } finally {
        run.clientsInFlight--
      }
    }
  }
  const display = live ? startLiveDisplay(run) : startPlainDisplay(run)
  const probe = variant === 'graceful' ? pollReadiness(run, port) : Promise.resolve()
  const workers = Promise.all(clients.map(worker))
  const signal = setTimeout(() => {
    run.signalledAt = Date.now()
    note(run, 'SIGTERM sent')
    child.kill('SIGTERM')
  }, loadBeforeSignal)
  // A service that never exits is ended here, so that the demo always finishes.
  const limit = setTimeout(() => child.kill('SIGKILL'), loadBeforeSignal + RUN_LIMIT)
  const [exitCode, exitSignal] = await run.exited
  clearTimeout(signal)
  clearTimeout(limit)
  run.exitedAt = Date.now()
  run.exit = exitCode ?? `killed by ${exitSignal}`
  note(run, `exited (${run.exit})`)
  run.done = true
  await Promise.all([workers, probe])
  display.stop()
  await Promise.all(clients.map(client => client.destroy()))
  return run
}

function statusLines (run) {
  const elapsed = Date.now() - run.startedAt
  const width = 30
  const filled = Math.min(width, Math.round(width * Math.min(elapsed, loadBeforeSignal) / loadBeforeSignal))
  const bar = paint('green', '█'.repeat(filled)) + paint('dim', '░'.repeat(width - filled))
  const when = run.signalledAt === 0
    ? `load ${(elapsed / 1000).toFixed(1)} s, SIGTERM at ${(loadBeforeSignal / 1000).toFixed(1)} s`
    : `${paint('yellow', 'SIGTERM')} +${(run.exitedAt || Date.now()) - run.signalledAt} ms${run.exitedAt ? ', exited' : ', waiting for exit'}`
  const phaseColor = run.server.phase === 'running' ? 'green' : run.server.phase === 'stopped' ? 'cyan' : 'yellow'
  const readinessColor = run.readiness.startsWith('200') ? 'green' : run.readiness.startsWith('503') ? 'yellow' : 'dim'
  const server = run.server.inFlight === undefined ? 'unknown' : String(run.server.inFlight)
  const lost = run.counts.lost === 0 ? paint('green', '0') : paint('red', String(run.counts.lost))
  return [
    `${paint('bold', label(run.variant).padEnd(20))} ${bar} ${when}`,
    `  phase      ${paint(phaseColor, run.server.phase.padEnd(22))} readiness  ${paint(readinessColor, run.readiness)}`,
    `  in flight  server ${server.padEnd(6)} clients ${String(run.clientsInFlight).padEnd(6)}`,
    `  requests   completed ${String(run.counts.ok).padEnd(7)} lost ${lost}   non-200 ${run.counts.rejected}   refused before sending ${run.counts.refused}`,
    ...(run.variant === 'graceful' ? [`             clients moved to another instance ${run.counts.movedAway} of ${clientCount}`] : [])
  ]
}

function startLiveDisplay (run) {
  let drawn = 0
  const draw = () => {
    if (drawn > 0) {
      process.stdout.moveCursor(0, -drawn)
      process.stdout.cursorTo(0)
      process.stdout.clearScreenDown()
    }
    const lines = statusLines(run)
    process.stdout.write(lines.join('\n') + '\n')
    drawn = lines.length
  }
  draw()
  const timer = setInterval(draw, 80)
  return {
    stop () {
      clearInterval(timer)
      draw()
    }
  }
}

function startPlainDisplay (run) {
  const print = () => {
    console.log(`${label(run.variant).padEnd(18)} ${(run.signalledAt === 0 ? 'under load' : `SIGTERM +${Date.now() - run.signalledAt} ms`).padEnd(16)} ` +
      `phase ${run.server.phase}, readiness ${run.readiness}, in flight ${run.server.inFlight ?? '?'} (server) ${run.clientsInFlight} (clients), ` +
      `completed ${run.counts.ok}, lost ${run.counts.lost}, non-200 ${run.counts.rejected}, refused ${run.counts.refused}, moved away ${run.counts.movedAway}`)
  }
  const timer = setInterval(print, 500)
  return {
    stop () {
      clearInterval(timer)
      print()
    }
  }
}

function lostText (run) {
  const kinds = [...run.lostKinds].map(([kind, n]) => `${kind} ×${n}`).join(', ')
  return `${run.counts.lost}${kinds ? ` (${kinds})` : ''}`
}

console.log(`graceful demo: ${framework}, ${clientCount} keep-alive clients, SIGTERM after ${loadBeforeSignal} ms of load, ` +
  `preStopDelay ${preStopDelay} ms\n`)
const results = []
for (const variant of ['graceful', 'bare']) {
  const result = await run(variant)
  results.push(result)
  if (live) {
    for (const { at, what } of result.timeline.filter(t => t.at !== 'before SIGTERM')) console.log(paint('dim', `  ${at.padEnd(16)} ${what}`))
  }
  if (result.report !== undefined) {
    const r = result.report
    console.log(`  report: stopping ${r.phases.stopping} ms, draining ${r.phases.draining} ms, cleanup ${r.phases.cleanup} ms`)
    console.log(`    requests: ${r.requests.servedWhileStopping} served during the lame duck, ${r.requests.inFlightAtDrain} in flight when ` +
      `draining began, ${r.requests.completedDuringDrain} completed while draining, ${r.requests.forced.length} forced`)
    console.log(`    sockets: ${r.sockets.openAtDrain} open when draining began: ${r.sockets.closedAfterResponse} closed after their ` +
      `response, ${r.sockets.closedIdle} closed idle, ${r.sockets.forced} forced`)
    console.log(`    hooks: ${r.hooks.map(h => `${h.name} ${h.status}`).join(', ')}`)
  }
  console.log()
}

const [graceful, bare] = results
const rows = [
  ['', label('graceful'), label('bare')],
  ['requests completed', String(graceful.counts.ok), String(bare.counts.ok)],
  ['requests lost', lostText(graceful), lostText(bare)],
  ['non-200 answers', String(graceful.counts.rejected), String(bare.counts.rejected)],
  ['refused before sending', String(graceful.counts.refused), String(bare.counts.refused)],
  ['clients moved away', String(graceful.counts.movedAway), String(bare.counts.movedAway)],
  ['exit code', String(graceful.exit), String(bare.exit)],
  ['SIGTERM → exit', `${graceful.exitedAt - graceful.signalledAt} ms`, `${bare.exitedAt - bare.signalledAt} ms`]
]
const widths = [0, 1, 2].map(column => Math.max(...rows.map(row => row[column].length)))
for (const [index, row] of rows.entries()) {
  const line = `${row[0].padEnd(widths[0])}   ${row[1].padStart(widths[1])}   ${row[2].padStart(widths[2])}`
  console.log(index === 0 ? paint('bold', line) : line)
}
console.log('\n"Lost" means a request that was written on an open connection and never got its response. "Refused"')
console.log('connections sent nothing; every client and load balancer retries them on another instance. The driver also')
console.log('plays the load balancer: it polls /healthz every 100 ms, and once that fails, a client told `Connection: close`')
console.log('moves to another instance instead of reconnecting here.')
console.log(`RESULT ${JSON.stringify(results.map(r => ({
  variant: r.variant,
  ok: r.counts.ok,
  lost: r.counts.lost,
  rejected: r.counts.rejected,
  refused: r.counts.refused,
  movedAway: r.counts.movedAway,
  code: r.exit,
  phases: r.variant === 'graceful' ? [...new Set(r.timeline.filter(t => t.what.startsWith('phase ')).map(t => t.what.slice(6)))] : undefined,
  readiness: r.variant === 'graceful' ? [...new Set(r.timeline.filter(t => t.what.startsWith('readiness ')).map(t => t.what.slice(10)))] : undefined
})))}`)
