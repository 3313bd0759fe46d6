// docs/benchmarks.md and its chart from a saved run (docs/benchmarks.json): `node bench/run.mjs --render` writes both
// from the saved figures, and a measuring run writes them from the figures it has just saved.
import { chartFile } from './chart.mjs'
import { median } from './stats.mjs'
import { fmt, pct, SIGNIFICANCE, TARGETS, verdicts } from './targets.mjs'
import { allGroups, byVersion, IDLE_BEFORE_SIGNAL, routes } from './variants.mjs'

/**
 * docs/benchmarks.md from a saved run (docs/benchmarks.json), measuring nothing: the one renderer of the figures, so
 * that a test can check that the committed page is what they give.
 */
export function render (saved) {
  const { machine, settings, overhead = {}, shutdown = {} } = saved
  const counted = saved.instructions ?? {}
  const byLine = saved.instructionsByLine ?? {}
  const measuredAgain = saved.shutdownMeasuredAgain ?? []
  const shutdownMeasured = saved.shutdownMeasured
  const shutdownByLine = saved.shutdownByLine ?? {}
  const lines = []
  lines.push('# Benchmarks', '')
  lines.push(`Produced by \`pnpm bench${saved.quick === true ? ' --quick' : ''}\` on ${machine.date}: ${machine.cpu} × ${machine.cores} cores, ` +
    `${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}. Raw figures: [benchmarks.json](benchmarks.json).`, '')
  lines.push('Server and load generator (autocannon, ' + `${settings.connections} keep-alive connections, ${settings.duration} s per run) ` +
    'run on one core each of a small machine (pinned with taskset), so absolute figures are modest; the ratios are what ' +
    'to read. Each variant ran ' +
    `${settings.rounds} rounds, each in fresh processes (two processes of the same code can differ by 10 % or more), ` +
    'interleaved with the others (A B C D, B C D A, …) after a discarded warm-up; a ratio is taken per round against ' +
    'the bare framework measured next to it, and the table shows the median. The server\'s CPU time per request is ' +
    'read from the server itself (`process.cpuUsage()`), so it does not depend on which side is the bottleneck.', '')
  lines.push(...summary(saved))
  lines.push('## Overhead per request', '')
  for (const [group, variants] of Object.entries(allGroups)) {
    for (const [path, label] of routes) {
      const bare = overhead[`${variants[0][0]} ${path}`]
      if (bare === undefined) continue
      lines.push(`### ${group}, ${label} (\`${path}\`)`, '')
      lines.push('| variant | median req/s | req/s ratio to bare | server CPU per request (µs) | CPU ratio to bare | median p99 latency (ms) | errors |')
      lines.push('|---|---:|---:|---:|---:|---:|---:|')
      for (const [variant, name] of variants) {
        const runs = overhead[`${variant} ${path}`]
        if (runs === undefined) continue
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
        'pair compares graceful with the bare framework in the same state: that difference is graceful\'s own. The core ' +
        'is published as one bundle (its three entries and one shared chunk, packages/core/bundle.mjs) so that loading it ' +
        'reads four files, not one per module.', '')
    }
    if (saved.instructionsMeasured !== undefined) {
      lines.push(`These counts were taken again on their own (${saved.instructionsMeasured}, \`node bench/run.mjs --instructions\`), ` +
        'after the core was published as a bundle; the timings on this page are from the runs named with them.', '')
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
  lines.push(...shutdownTable(shutdown, settings))
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
    lines.push(...lameDuckTable(shutdown, settings))
    lines.push('')
  }
  for (const [version, lineShutdown] of byVersion(shutdownByLine)) {
    lines.push(`### Shutdown on Node ${version}`, '',
      `The same shutdown measurements with Node ${version}'s binary (\`node bench/run.mjs --skip-throughput --merge\` run ` +
      'with it), in a run of their own: compare rows within this table, not with the tables above.', '')
    lines.push(...shutdownTable(lineShutdown, settings), '', ...lameDuckTable(lineShutdown, settings), '')
  }
  lines.push(...targetSection(saved))
  return lines.join('\n')
}

/** The shutdown table of one run: every variant's exit times, peak RSS and heap per socket. */
function shutdownTable (shutdown, settings) {
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
function lameDuckTable (shutdown, settings) {
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

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens (as github-slugger does). */
const anchor = (heading) => '#' + heading.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replaceAll(' ', '-')

/** Every Node line of a saved run, the main line first. */
export function nodeLines (saved) {
  return [saved.machine.node, ...byVersion(saved.shutdownByLine).map(([version]) => version).filter(v => v !== saved.machine.node)]
}

/** The targets met and missed per Node line, and the chart of the shutdown times against the peers. */
function summary (saved) {
  const all = verdicts(saved)
  const lines = nodeLines(saved)
  const out = ['## At a glance', '',
    'The core\'s targets on each Node line measured: how many of a target\'s verdicts (one per framework, route or ' +
    'socket count) were missed or met. [Against the targets](#against-the-targets) gives each verdict with its figures.', '']
  out.push(`| target | ${lines.map(v => `Node ${v}`).join(' | ')} |`, `|---|${lines.map(() => '---|').join('')}`)
  for (const target of TARGETS) {
    const rows = all[target.id]
    if (rows.length === 0) continue
    const cells = lines.map(line => {
      const at = rows.filter(row => row.node === line)
      const missed = at.filter(row => !row.met).length
      return at.length === 0 ? '–' : missed === 0 ? `met (${at.length} of ${at.length})` : `**missed** (${missed} of ${at.length})`
    })
    out.push(`| [${target.title}](${anchor(target.title)}) | ${cells.join(' | ')} |`)
  }
  out.push('')
  if (saved.shutdownByLineStale !== undefined) {
    // Set by hand when the core's shutdown path changed after the other lines' shutdown runs.
    out.push(`The shutdown figures of Node ${Object.keys(saved.shutdownByLine ?? {}).sort().join(', ')} predate ` +
      `${saved.shutdownByLineStale}; Node ${saved.machine.node}'s were measured after it. \`node bench/run.mjs ` +
      '--skip-throughput --merge` run with a line\'s binary measures that line again (about 12 minutes on a quiet machine).', '')
  }
  if (Object.keys(saved.shutdown ?? {}).length > 0) {
    out.push(`![Shutdown times of graceful and the peers, per Node line and socket count](${chartFile})`, '',
      'The chart: SIGTERM → exit with idle keep-alive sockets, per Node line (rows) and socket count (columns, each ' +
      'with its own scale), for every peer and for graceful without a lame duck; for graceful also draining → exit ' +
      'after a 300 ms lame duck, the figure the targets compare with the fastest peer\'s (the dashed line in each ' +
      'framework\'s group; the shaded band is the margin the target allows). A bar is the median, the whisker the range of the runs. Each Node line is a run of its own: ' +
      'compare bars within a panel.', '')
  }
  return out
}

/** The verdicts, one table per target: target, graceful, reference, p, met. */
function targetSection (saved) {
  const all = verdicts(saved)
  const out = ['## Against the targets', '']
  out.push('Each timing target is judged on every run, not on two medians: a target is missed when a one-sided ' +
    'exact rank-sum (Mann–Whitney) test over graceful\'s runs and the reference\'s finds graceful slower ' +
    `(p < ${SIGNIFICANCE}; with 5 runs a side the smallest possible p is 0.004, and it means that every run of ` +
    'graceful was slower than every run of the reference); "medians" where a side has fewer than 3 runs (a quick ' +
    'run). On this machine one server\'s consecutive 4-second load windows differ by up to a third, so the median ' +
    'of six rounds moves by several percent from one run to the next, and the A/A control\'s own median lands ' +
    'anywhere in that band: comparing one median\'s offset with another\'s, as earlier runs did, called an identical ' +
    'server slower about one time in four (simulated). With so few runs the test sees only differences larger than ' +
    'that spread; the instruction counts, which repeat within about 1 %, are what bound the cost per request. ' +
    'Figures are medians, with the range of the runs in brackets.', '')
  for (const target of TARGETS) {
    const rows = all[target.id]
    if (rows.length === 0) continue
    out.push(`### ${target.title}`, '', target.rule, '')
    out.push('| Node | target | graceful | reference | p | met |', '|---|---|---:|---:|---:|---|')
    for (const row of rows) {
      out.push(`| ${row.node} | ${row.target} | ${row.graceful} | ${row.reference} | ${row.p} | ${row.met ? 'met' : '**missed**'} |`)
    }
    out.push('')
  }
  if (Object.keys(saved.shutdown ?? {}).length > 0) {
    out.push('What the exit times that miss are made of (`node bench/exit-breakdown.mjs`, medians of 7 to 11 runs, ' +
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
      `project ranks exit latency last (no request lost, then the cost per request, then the exit). With about ` +
      `${Math.round(Object.values(all).flat().length / 10) * 10} verdicts at p < ${SIGNIFICANCE}, a few misses are ` +
      'expected by chance alone even where nothing differs.', '')
  }
  return out
}
