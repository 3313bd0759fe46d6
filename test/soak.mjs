// Soak: SIGTERM under load, over and over, with randomised timing, against the fixture app (Express and Fastify in
// child processes). Each cycle is one run of graceful-check (`checkShutdown()`), configured here:
//
//   pnpm soak                                   30 cycles per framework, a random seed
//   pnpm soak --cycles 5 --seed 1234            replay the same choices (timing on a shared machine still varies)
//   pnpm soak --idle-grace 500                  the server's idleSocketGrace (default 100, the core's default)
//   node test/soak.mjs --frameworks express --cycles 3 --json
//
// The clients connect directly (no balancer: they keep coming until the listener refuses them), of three kinds:
//   - 8–16 keep-alive clients: GET /work with server-side durations of 0–40 ms, pauses of 0–20 ms, one pause in ten
//     2.5 × the idle window, so that sockets turn idle and are closed under them;
//   - 2–6 pipelining clients: batches of 2–4 requests, three in ten written in two parts cut inside a request;
//   - 2–6 slow clients: POST /upload with a 4 kB body, each request written in three parts over 300 ms.
// The fixture writes the port of every connection it accepts (`reportAccepted`), and graceful-check takes it as
// evidence: a new connection reset before an answer is excused only when the app never accepted it.
//
// A cycle fails when a request is lost (graceful-check's verdict; a pipelined request the server declined aside: see
// DECLINED_KIND),
// the app exits with a code other than 0, or its report names a forced socket.
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { checkShutdown } from '@graceful/check'

const fixture = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url))

/** A choice from the seed: the n-th draw between min and max. */
function choose (seed, n, min, max) {
  const mixed = Math.imul((seed ^ Math.imul(n + 1, 0x9E3779B9)) >>> 0, 0x85EBCA6B) >>> 0
  return min + ((mixed ^ (mixed >>> 13)) >>> 0) % (max - min + 1)
}

/**
 * A pipelined request can reach a server after the response that told its client to close: the client wrote it before
 * that response reached it. No server can answer it; graceful reads it (a staged close, RFC 9112 §9.6), declines it and
 * counts it in its report (`requests.declinedPipelined`), and RFC 9112 §9.3.2 has the client retry it. Such a loss is
 * excused only as many times as the server declined one: a request the server never received is a loss.
 */
export const DECLINED_KIND = 'pipelined-behind-close'

/** One SIGTERM-under-load cycle. */
export async function cycle (framework, seed, idleGrace = 100) {
  const preStopDelay = choose(seed, 0, 0, 9) < 3 ? choose(seed, 1, 50, 400) : 0
  const signalAfter = choose(seed, 2, 50, 1_200)
  let report
  const output = []
  const result = await checkShutdown({
    command: [process.execPath, fixture],
    env: {
      GRACEFUL_FIXTURE: JSON.stringify({
        framework,
        port: 'env',
        reportAccepted: true,
        keepAliveTimeout: 60_000,
        options: { preStopDelay, drainTimeout: 15_000, idleSocketGrace: idleGrace }
      })
    },
    acceptedFromOutput: true,
    onOutput: (line) => {
      if (line.includes('"graceful: shutdown complete"')) report = JSON.parse(line)
      else if (!line.startsWith('{') && !line.startsWith('graceful-check accepted')) output.push(line)
    },
    ready: '/healthz',
    paths: [...Array.from({ length: 5 }, (_, i) => `GET /work?ms=${i * 10}`)],
    seed,
    signalAfter,
    idleGrace,
    timeout: 30_000,
    balancer: 'none',
    load: {
      keepAlive: choose(seed, 3, 8, 16),
      newConnection: 0,
      idleSockets: 0,
      pipelining: choose(seed, 4, 2, 6),
      splitPipelines: true,
      slow: choose(seed, 5, 2, 6),
      slowPaths: [`POST /upload?ms=5 ${'x'.repeat(4_000)}`],
      pauseMs: 20,
      longPauseMs: Math.round(idleGrace * 2.5)
    }
  })
  const [only] = result.cycles
  const lostByKind = {}
  for (const failure of result.lost) lostByKind[failure.kind] = (lostByKind[failure.kind] ?? 0) + 1
  const excusedByKind = {}
  for (const failure of only.failures.filter(f => !f.lost)) excusedByKind[failure.kind] = (excusedByKind[failure.kind] ?? 0) + 1
  return {
    framework,
    seed,
    preStopDelay,
    signalAfterMs: signalAfter,
    sent: only.requests.sent,
    answered: only.requests.answered,
    failed: only.requests.failed,
    lost: only.requests.lost,
    lostByKind,
    excusedByKind,
    exitCode: only.exit.code,
    forcedSockets: report?.sockets?.forced,
    inFlightAtDrain: report?.requests?.inFlightAtDrain,
    servedWhileStopping: report?.requests?.servedWhileStopping,
    declinedPipelined: report?.requests?.declinedPipelined ?? 0,
    drainMs: report?.phases?.draining,
    output: only.exit.code === 0 ? undefined : output.slice(-20).join('\n')
  }
}

export async function soak ({ frameworks, cycles, seed, idleGrace = 100, onCycle }) {
  const results = []
  for (let i = 0; i < cycles; i++) {
    for (const framework of frameworks) {
      const result = await cycle(framework, (seed + i) >>> 0, idleGrace)
      result.cycle = i
      results.push(result)
      onCycle?.(result)
    }
  }
  return results
}

export function unexplainedLosses (result) {
  return result.lost - Math.min(result.lostByKind[DECLINED_KIND] ?? 0, result.declinedPipelined)
}

export function failed (result) {
  return unexplainedLosses(result) > 0 || result.exitCode !== 0 || result.forcedSockets !== 0
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      cycles: { type: 'string', default: '30' },
      seed: { type: 'string' },
      frameworks: { type: 'string', default: 'express,fastify' },
      'idle-grace': { type: 'string', default: '100' },
      json: { type: 'boolean', default: false }
    }
  })
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
  const cycles = Number(values.cycles)
  const frameworks = values.frameworks.split(',')
  const idleGrace = Number(values['idle-grace'])
  if (!Number.isInteger(cycles) || cycles < 1 || !Number.isInteger(seed) || !Number.isInteger(idleGrace) || idleGrace < 1) {
    console.error('usage: node test/soak.mjs [--cycles N] [--seed N] [--frameworks express,fastify] [--idle-grace MS] [--json]')
    process.exit(2)
  }
  const started = performance.now()
  console.error(`soak: seed ${seed}, ${cycles} cycles × ${frameworks.join(', ')}, idleSocketGrace ${idleGrace} ms ` +
    `(replay: pnpm soak --seed ${seed} --cycles ${cycles} --idle-grace ${idleGrace})`)
  const kinds = (counts) => Object.entries(counts).map(([kind, n]) => `${kind} ${n}`).join(', ')
  const results = await soak({
    frameworks,
    cycles,
    seed,
    idleGrace,
    onCycle: (r) => {
      if (values.json) process.stdout.write(JSON.stringify(r) + '\n')
      else {
        console.log(`${String(r.cycle).padStart(3)} ${r.framework.padEnd(8)} seed ${r.seed} signal@${String(r.signalAfterMs).padStart(4)}ms ` +
          `preStop ${String(r.preStopDelay).padStart(3)}  sent ${String(r.sent).padStart(5)}  answered ${String(r.answered).padStart(5)}  ` +
          `lost ${r.lost}${r.lost === 0 ? '' : ` (${kinds(r.lostByKind)})`}  not counted: ${kinds(r.excusedByKind) || 'none'}  ` +
          `declined ${r.declinedPipelined}  inFlightAtDrain ${r.inFlightAtDrain}  exit ${r.exitCode}  forced ${r.forcedSockets}`)
        if (r.output !== undefined) console.log(r.output)
      }
    }
  })
  const total = (key) => results.reduce((sum, r) => sum + r[key], 0)
  const byKind = (key) => {
    const counts = {}
    for (const r of results) for (const [kind, n] of Object.entries(r[key])) counts[kind] = (counts[kind] ?? 0) + n
    return kinds(counts) || 'none'
  }
  const bad = results.filter(failed)
  console.error(`soak: ${results.length} cycles in ${Math.round((performance.now() - started) / 1000)} s, seed ${seed}: ` +
    `sent ${total('sent')}, answered ${total('answered')}, lost ${total('lost')} (${byKind('lostByKind')}), ` +
    `declined by the server ${total('declinedPipelined')}, not counted: ${byKind('excusedByKind')}; ` +
    `${bad.length} cycle(s) failed`)
  process.exitCode = bad.length === 0 ? 0 : 1
}
