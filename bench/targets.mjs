// The core's measured targets, judged from a saved run (docs/benchmarks.json): each verdict is one row (target,
// graceful, reference, p, met), so that docs/benchmarks.md can show them as tables and a test can check them.
import { allGroups, byVersion, isControl, isGraceful, routes } from './variants.mjs'
import { median, rankSumP } from './stats.mjs'

/** A target is missed when the rank test finds graceful slower at this level. */
export const SIGNIFICANCE = 0.05
/** What graceful may keep per tracked socket: about what it kept before the core's reshaping (bytes). */
export const HEAP_PER_SOCKET = 460
/** `idleSocketGrace`'s default (ms): how much later than a peer an idle socket may close without a lame duck. */
export const IDLE_SOCKET_GRACE = 100

/**
 * How much later than the fastest peer's exit graceful's drain after a lame duck may end (ms), issue 30's target:
 * 10 % of the peer's median, and 2 ms with one socket (the two polls of the event loop that save a request already
 * on the wire, one before the listener closes and one before a quiet socket is closed).
 */
export const lameDuckMargin = (sockets, peerMs) => sockets === 1 ? 2 : peerMs / 10

export const fmt = (value, digits = 0) => value === undefined || value === null || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits)
export const pct = (ratio) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)} %`
const count = (n) => n.toLocaleString('en')
const range = (runs, digits) => runs.length < 2 ? '' : ` (${fmt(Math.min(...runs), digits)}–${fmt(Math.max(...runs), digits)})`
/** A median and, from two runs on, the range of the runs. */
export const spread = (runs, digits = 0) => `${fmt(median(runs), digits)}${range(runs, digits)}`

/**
 * Whether `own` (graceful's runs, less the margin) is slower than `reference`: by the one-sided rank test over every
 * run, or by the medians with fewer than 3 runs a side (a quick run). Missed only when the test says slower: one
 * server's runs differ by a quarter on a small machine, and comparing two medians called an identical server slower
 * about one time in four.
 */
export function judge (own, reference, margin = 0) {
  if (own.length < 3 || reference.length < 3) return { met: !(median(own) > median(reference) + margin), p: 'medians' }
  const p = rankSumP(own.map(x => x - margin), reference)
  return { met: p >= SIGNIFICANCE, p: p < 0.001 ? '< 0.001' : p.toFixed(3) }
}

/** Every run of a server at a socket count, in ms (1: the one-idle-socket column's runs). */
export function runsAt (entry, sockets) {
  if (sockets === 1) return entry.idle.map(r => r.ms ?? Infinity)
  const at = entry.sockets[sockets]
  return at.runs?.map(r => r.exitMs) ?? [at.exitMs]
}

/** graceful's draining → exit after a lame duck, every run, in ms (undefined when not measured). */
export function afterLameDuckRuns (entry, sockets) {
  const after = entry.afterLameDuck?.[sockets]
  return after === undefined ? undefined : after.runs?.map(r => r.exitMs) ?? [after.exitMs]
}

/** The peer (bare framework included) with the lowest median exit at a socket count, among a framework's variants. */
export function fastestPeer (shutdown, variants, sockets) {
  return variants.filter(([v]) => !isGraceful(v) && !isControl(v) && shutdown[v] !== undefined)
    .map(([variant, name]) => ({ variant, name, runs: runsAt(shutdown[variant], sockets) }))
    .map(peer => ({ ...peer, ms: median(peer.runs) }))
    .reduce((best, peer) => best === undefined || peer.ms < best.ms ? peer : best, undefined)
}

/**
 * The targets, in the order docs/benchmarks.md shows them. `rule` says what is compared with what; each row is one
 * verdict on one Node line.
 */
export const TARGETS = [
  {
    id: 'instructions',
    title: 'Instructions per request within 1 % of bare',
    rule: 'Instructions per hello-world request (valgrind) with graceful at most 1 % over the bare framework\'s, in ' +
      'both states of the process (see [Instructions per request](#instructions-per-request)). Counts repeat within ' +
      'about 1 %, so they are compared as they are, with no rank test.'
  },
  {
    id: 'middleware',
    title: 'Express middleware beyond the floor',
    rule: 'What graceful\'s Express middleware costs beyond Express\'s own cost of any `app.use()` middleware (a ' +
      'middleware that only calls `next()`) at most 0.3 % of a request, in instructions.'
  },
  {
    id: 'throughput',
    title: 'Throughput within the noise',
    rule: 'Requests per second, ratio to the bare framework in the same round, no lower than the A/A control\'s (the ' +
      'bare server again): missed when the rank test over the rounds finds graceful\'s ratios lower.'
  },
  {
    id: 'last-response',
    title: 'Last response to exit',
    rule: 'From the last response to the exit (ms) within 1 ms of the floor, the bare framework\'s exit when the ' +
      'client asked to close (graceful\'s runs less 1 ms against the floor\'s).'
  },
  {
    id: 'idle',
    title: 'Idle sockets without a lame duck',
    rule: 'SIGTERM → exit (ms) with idle keep-alive sockets no slower than the fastest peer (the bare framework ' +
      `included) + \`idleSocketGrace\` (graceful's runs less ${IDLE_SOCKET_GRACE} ms against the peer's).`
  },
  {
    id: 'lame-duck',
    title: 'Idle sockets after a lame duck',
    rule: 'Draining → exit (ms) after a 300 ms lame duck within 10 % of the fastest peer\'s SIGTERM → exit with the ' +
      'same idle sockets, and within 2 ms with one socket (the two polls of the event loop that save a request already ' +
      'on the wire): graceful\'s runs less that margin against the peer\'s.'
  },
  {
    id: 'heap',
    title: 'Heap per tracked socket',
    rule: `What graceful keeps per tracked socket (bytes): at most ${HEAP_PER_SOCKET}, about what it kept before the ` +
      'core\'s reshaping; heap per socket with graceful less the bare framework\'s, from the largest socket count.'
  }
]

const entries = Object.entries(allGroups)
const gracefulOf = (variants) => variants.find(([name]) => name.endsWith('-graceful'))?.[0]
const STATES = [['', 'as a hello world'], [' service', 'after a service\'s start-up']]

/** The instruction-count verdicts of the main line (`counted`) and of node:http on the other lines (`byLine`). */
function instructionRows (node, counted, byLine) {
  const rows = { instructions: [], middleware: [] }
  const ratioRow = (line, target, at, variant, bare) => {
    const r = at[variant] / at[bare]
    if (Number.isFinite(r)) rows.instructions.push({ node: line, target, graceful: `${fmt(at[variant])} (${pct(r)})`, reference: fmt(at[bare]), p: '–', met: r <= 1.01 })
  }
  for (const [group, variants] of entries.filter(([, v]) => !v[0][0].startsWith('express'))) {
    for (const [suffix, state] of STATES) ratioRow(node, `${group}, ${state}`, counted, gracefulOf(variants) + suffix, variants[0][0] + suffix)
  }
  for (const [suffix, state] of STATES) {
    ratioRow(node, `Express with \`attach()\` alone, ${state}`, counted, 'express-graceful-attach' + suffix, 'express-bare' + suffix)
  }
  // The other lines count node:http alone (`run.mjs --lines`).
  for (const [version, at] of byVersion(byLine)) {
    for (const [suffix, state] of STATES) ratioRow(version, `node:http, ${state}`, at, 'node-graceful' + suffix, 'node-bare' + suffix)
  }
  for (const [suffix, state] of STATES) {
    const [own, floor, bare] = ['express-graceful', 'express-noop', 'express-bare'].map(v => counted[v + suffix])
    const share = (own - floor) / bare
    if (Number.isFinite(share)) {
      rows.middleware.push({
        node,
        target: `Express, ${state}`,
        graceful: `${fmt(own)} (${own >= floor ? '+' : ''}${fmt(own - floor)}, ${pct(1 + share)})`,
        reference: `${fmt(floor)}, a \`next()\` middleware`,
        p: '–',
        met: share <= 0.003
      })
    }
  }
  return rows
}

function throughputRows (node, overhead) {
  const rows = []
  for (const [, variants] of entries) {
    for (const [path] of routes) {
      const bare = overhead[`${variants[0][0]} ${path}`]
      if (bare === undefined) continue
      const ratiosOf = (variant) => overhead[`${variant} ${path}`].map((run, index) => run.rps / bare[index].rps)
      const control = ratiosOf(`${variants[0][0]}-aa`)
      const rounds = (ratios) => `${pct(median(ratios))} (${pct(Math.min(...ratios))} to ${pct(Math.max(...ratios))})`
      for (const [variant, name] of variants.filter(([v]) => isGraceful(v))) {
        const own = ratiosOf(variant)
        // Lower is slower here: the control's ratios are the ones that must not rank above graceful's.
        const { met, p } = judge(control, own)
        rows.push({ node, target: `${name}, \`${path}\``, graceful: rounds(own), reference: rounds(control), p, met })
      }
    }
  }
  return rows
}

/** The shutdown verdicts of one run (one Node line). */
function shutdownRows (node, shutdown, settings) {
  const rows = { 'last-response': [], idle: [], 'lame-duck': [], heap: [] }
  const last = settings.socketCounts.at(-1)
  for (const [, variants] of entries) {
    const floor = shutdown[variants[0][0]]?.closingClient
    for (const [variant, name] of variants.filter(([v]) => isGraceful(v) && shutdown[v] !== undefined)) {
      const entry = shutdown[variant]
      if (floor !== undefined) {
        const own = entry.lastResponse.map(r => r.ms ?? Infinity)
        const reference = floor.map(r => r.ms ?? Infinity)
        rows['last-response'].push({ node, target: name, graceful: spread(own, 1), reference: spread(reference, 1), ...judge(own, reference, 1) })
      }
      for (const sockets of [1, ...settings.socketCounts]) {
        const peer = fastestPeer(shutdown, variants, sockets)
        if (peer === undefined) continue
        const digits = sockets === 1 ? 1 : 0
        const target = `${name}, ${count(sockets)} socket${sockets === 1 ? '' : 's'}`
        const reference = (margin) => `${spread(peer.runs, digits)} + ${fmt(margin, digits)}, ${peer.name}`
        const own = runsAt(entry, sockets)
        rows.idle.push({ node, target, graceful: spread(own, digits), reference: reference(IDLE_SOCKET_GRACE), ...judge(own, peer.runs, IDLE_SOCKET_GRACE) })
        const after = afterLameDuckRuns(entry, sockets)
        if (after === undefined) continue
        const margin = lameDuckMargin(sockets, peer.ms)
        rows['lame-duck'].push({ node, target, graceful: spread(after, digits), reference: reference(margin), ...judge(after, peer.runs, margin) })
      }
      const bareHeap = shutdown[variants[0][0]]?.sockets[last]?.heapPerSocket
      const ownHeap = entry.sockets[last]?.heapPerSocket
      if (bareHeap !== undefined && ownHeap !== undefined) {
        rows.heap.push({ node, target: name, graceful: fmt(ownHeap - bareHeap), reference: `${HEAP_PER_SOCKET}`, p: '–', met: ownHeap - bareHeap <= HEAP_PER_SOCKET })
      }
    }
  }
  return rows
}

/**
 * Every verdict of a saved run: per target (TARGETS' ids), its rows, main line first, then the other lines oldest
 * first. Each row: { node, target, graceful, reference, p, met }.
 */
export function verdicts (saved) {
  const node = saved.machine.node
  const all = Object.fromEntries(TARGETS.map(target => [target.id, []]))
  const add = (rows) => { for (const [id, list] of Object.entries(rows)) all[id].push(...list) }
  add(instructionRows(node, saved.instructions ?? {}, saved.instructionsByLine ?? {}))
  add({ throughput: throughputRows(node, saved.overhead ?? {}) })
  add(shutdownRows(node, saved.shutdown ?? {}, saved.settings))
  for (const [version, lineShutdown] of byVersion(saved.shutdownByLine)) add(shutdownRows(version, lineShutdown, saved.settings))
  return all
}
