// graceful-check against services it knows nothing about: the examples with graceful, the same apps bare, a Python
// server, a service behind a shell that keeps the signal to itself, and bad command lines. Each run is one short cycle
// over 127.0.0.1; the assertions are about the classification, not about timing figures.
import { describe, expect, it } from 'vitest'
import { reportSchema } from '@graceful/check'
import { notDeliveredFix } from '../../packages/check/src/cycle.js'
import { check, checkJson, lostKinds, validate } from './check-helpers.js'

describe('graceful-check judges a service by its requests alone', () => {
  it('examples/fastify.mjs with the 5 s lame duck of docs/kubernetes.md loses nothing behind the default balancer: exit 0, and the report fits its schema', async () => {
    const { code, report } = await checkJson(['--ready', '/healthz', '--signal-after', '400', '--timeout', '15000', '--path', 'GET /', '--path', 'POST /orders {"id":1}',
      '--', 'node', 'examples/fastify.mjs'], { GRACEFUL_PRE_STOP_DELAY: '5s' })
    expect(validate(reportSchema, report)).toEqual([])
    expect(report.lost).toEqual([])
    expect(report.ok).toBe(true)
    expect(code).toBe(0)
    const [cycle] = report.cycles
    expect(cycle!.exit).toEqual({ code: 0, signal: null, killedAfterTimeout: false })
    // The lame duck, seen from outside: readiness failed and responses said `Connection: close` before the listener
    // refused, and every request sent was answered.
    expect(cycle!.times.readinessFailedMs).not.toBeNull()
    expect(cycle!.connectionClose['lame-duck']).toBeGreaterThan(0)
    expect(cycle!.requests.answered).toBe(cycle!.requests.sent)
    // The balancer routed new connections here for its whole propagation delay, and they were served.
    expect(cycle!.balancer.model).toBe('kube-proxy')
    expect(cycle!.times.routingEndedMs).toBe(cycle!.balancer.propagationMs)
    expect(cycle!.servicePhases!.lameDuckMs).toBeGreaterThanOrEqual(5_000)
    // Its readiness route failed after the signal: nothing to say about readiness.
    expect(report.findings.map(finding => finding.kind)).not.toContain('readiness-never-failed')
    for (const client of ['keep-alive', 'new-connection', 'slow', 'pipelined', 'prober'] as const) {
      expect(cycle!.requests.byClient[client].completed, client).toBeGreaterThan(0)
    }
  })

  it('bare Express with no SIGTERM handler loses the requests in flight when the process dies: exit 1', async () => {
    const { code, report } = await checkJson(['--signal-after', '400', '--', 'node', 'examples/bare-express.mjs'])
    expect(code).toBe(1)
    expect(report.ok).toBe(false)
    expect(lostKinds(report)).toContain('exited-in-flight')
    expect(lostKinds(report).every(kind => ['exited-in-flight', 'routed-to-closed-listener'].includes(kind)), lostKinds(report).join()).toBe(true)
    expect(report.cycles[0]!.exit.signal).toBe('SIGTERM')
    expect(report.findings.map(finding => finding.kind)).toContain('exit-code')
    // Gone at once while the balancer still routes here: what it sends until it lets go is refused, and lost.
    const afterExit = report.lost.filter(failure => failure.kind === 'routed-to-closed-listener' && failure.phase === 'after-exit')
    expect(afterExit.length).toBeGreaterThan(0)
    expect(Math.max(...afterExit.map(failure => failure.sentMs))).toBeGreaterThan(report.cycles[0]!.times.exitMs!)
    const [exited] = report.lost.filter(failure => failure.kind === 'exited-in-flight')
    expect(exited).toMatchObject({ lost: true, cause: 'the process exited with the request in flight', phase: 'after-exit' })
  })

  it('bare Express with server.close() on SIGTERM refuses what the balancer still routes to it, and its keep-alive sockets keep it running: exit 1', async () => {
    // The balancer goes on routing new connections here for the propagation delay after the signal, whatever the
    // service says: the listener is closed for that long while traffic still comes.
    const { code, report } = await checkJson(['--signal-after', '400', '--timeout', '3000', '--', 'node', 'examples/bare-express.mjs'], { ON_SIGTERM: 'close' })
    expect(code).toBe(1)
    expect(lostKinds(report)).toContain('routed-to-closed-listener')
    const routed = report.lost.find(failure => failure.kind === 'routed-to-closed-listener')!
    expect(routed.cause).toMatch(/^refused while the balancer still routed new connections here/)
    expect(routed.fix).toMatch(/keep the listener open and serving after the signal for longer than the balancer takes to stop routing here/)
    expect(routed.phase).toBe('drain')
    expect(routed.failedMs).toBeLessThanOrEqual(report.cycles[0]!.balancer.propagationMs!)
    // Nothing told the keep-alive clients.
    expect(report.cycles[0]!.connectionClose['lame-duck'] + report.cycles[0]!.connectionClose.drain).toBe(0)
    // Up to Node 24, server.close() leaves the sockets that never sent a byte open, and the process runs until the
    // check's timeout; Node 26 closes them too. Either way the report says what happened.
    const exit = report.cycles[0]!.exit
    expect(report.findings.map(finding => finding.kind).includes('did-not-exit')).toBe(exit.killedAfterTimeout)
    if (Number(process.versions.node.split('.')[0]) < 26) expect(exit.killedAfterTimeout).toBe(true)
  })

  it('a readiness path that still answers 2xx after the signal is a finding that does not fail the verdict', async () => {
    // GET / as the readiness path, given: examples/express.mjs answers it through a lame duck of 1 s, ten probe periods.
    const { report } = await checkJson(['--ready', '/', '--signal-after', '300', '--', 'node', 'examples/express.mjs'], { GRACEFUL_PRE_STOP_DELAY: '1000ms' })
    expect(validate(reportSchema, report)).toEqual([])
    const finding = report.findings.find(f => f.kind === 'readiness-never-failed')
    expect(finding, JSON.stringify(report.findings)).toMatchObject({ fails: false })
    expect(finding!.cause).toMatch(/^the readiness path GET \/ answered 2xx to three or more probes sent after the signal and never failed/)
    expect(finding!.fix).toMatch(/^fail readiness \(503\) as soon as the signal comes/)
  })

  it('a readiness path that fails late, after answering 2xx for a while after the signal, is no such finding', async () => {
    // Answers 2xx for 1 s after SIGTERM (ten probe periods), then 503 for 0.5 s, then closes and exits.
    const service = [
      "const http = require('node:http'); let ready = true",
      "const server = http.createServer((req, res) => { res.statusCode = ready ? 200 : 503; res.end('x') })",
      "server.listen(Number(process.env.PORT), '127.0.0.1')",
      "process.on('SIGTERM', () => { setTimeout(() => { ready = false }, 1000); setTimeout(() => { server.close(); server.closeAllConnections() }, 1500) })"
    ].join('\n')
    const { report } = await checkJson(['--ready', '/', '--signal-after', '300', '--timeout', '10000', '--', process.execPath, '-e', service])
    expect(report.cycles[0]!.times.readinessFailedMs, JSON.stringify(report.cycles[0]!.timeline)).toBeGreaterThanOrEqual(1000)
    expect(report.findings.map(finding => finding.kind)).not.toContain('readiness-never-failed')
  })

  it('a Python http.server, which nobody here wrote, is reported as it behaves', async () => {
    const { code, report } = await checkJson(['--signal-after', '300', '--timeout', '10000', '--', 'python3', '-m', 'http.server', '{port}', '--bind', '127.0.0.1'])
    expect(validate(reportSchema, report)).toEqual([])
    expect(code).toBe(report.ok ? 0 : 1)
    const [cycle] = report.cycles
    // Python's default for SIGTERM ends the process on the spot.
    expect(cycle!.exit.signal).toBe('SIGTERM')
    expect(report.findings.map(finding => finding.kind)).toContain('exit-code')
    expect(cycle!.requests.answered).toBeGreaterThan(0)
    expect(cycle!.requests.sent).toBe(cycle!.requests.answered + cycle!.requests.failed)
    for (const failure of report.lost) expect(failure.cause.length).toBeGreaterThan(10)
  })

  it('a service started through a shell that does not pass SIGTERM on is reported as never getting the signal', async () => {
    // dash forks node (a command follows it), and dies of the SIGTERM itself: node is left running, as it is behind
    // a shell-form CMD.
    const { code, report } = await checkJson(['--signal-after', '300', '--timeout', '5000', '--', 'sh', '-c', 'node examples/express.mjs; echo done'])
    expect(code).toBe(1)
    const finding = report.findings.find(f => f.kind === 'signal-not-delivered')
    expect(finding).toMatchObject({ fails: true })
    expect(finding!.fix).toMatch(/the signal never reached node: exec-form CMD/)
    expect(lostKinds(report).every(kind => kind === 'killed-in-flight')).toBe(true)
  })
})

describe('the fix for a signal that never reached the service', () => {
  it.each([
    [['sh', '-c', 'node server.js; echo done'], 'node', 'CMD ["node", "server.js"]'],
    [['node_modules/.bin/deno', 'run', '-A', 'main.ts'], 'deno', 'CMD ["deno", "run", "main.ts"]'],
    [['sh', '-c', 'bun server.ts'], 'bun', 'CMD ["bun", "server.ts"]'],
    [['./service', '--port', '3000'], 'the service', 'CMD ["your-program", …]']
  ])('for %j names %s and its exec form', (command, runtime, cmd) => {
    const fix = notDeliveredFix(command)
    expect(fix).toContain(`the signal never reached ${runtime}: exec-form CMD (\`${cmd}\`)`)
    if (runtime !== 'node') expect(fix).not.toMatch(/\bnode\b/)
  })
})

describe('the command line', () => {
  it('prints a report a person reads, and Markdown for a CI summary, without colour when not on a terminal', async () => {
    // A short propagation delay, and a lame duck that outlasts it: this test is about the text.
    const text = await check(['--signal-after', '300', '--propagation', '300-600', '--', 'node', 'examples/express.mjs'], { GRACEFUL_PRE_STOP_DELAY: '1000ms' })
    // The report (stdout) names each lost request with its cause: in the message, so that a failure says why.
    expect(text.code, text.stderr + text.stdout).toBe(0)
    expect(text.stdout).toMatch(/timeline, ms from the signal:/)
    expect(text.stdout).toMatch(/^ +0 {2}SIGTERM sent$/m)
    expect(text.stdout).toMatch(/the process exited \(code 0\)/)
    expect(text.stdout).toMatch(/^PASS: 0 of \d+ requests lost$/m)
    expect(text.stdout).toMatch(/^SIGTERM after 300 ms of load, kube-proxy routing here for \d+ ms after it \(replay: --seed \d+\), http:/m)
    // No --ready: the probe went to GET /, which a graceful service answers through its lame duck. The report says
    // what to give instead, and the verdict stands.
    expect(text.stdout).toMatch(/^readiness-never-failed: no --ready was given, so readiness was probed on the first load path, GET \/, which answered 2xx to three or more probes sent after the signal/m)
    expect(text.stdout).toMatch(/^ {2}fix: give the service's readiness path with --ready \(a graceful service: --ready \/healthz\)/m)
    // Progress goes to stderr, as plain lines here.
    expect(text.stderr).toMatch(/^graceful-check: cycle 1\/1 signalled/m)
    expect(text.stdout + text.stderr).not.toContain('\x1b[')
    const markdown = await check(['--markdown', '-q', '--signal-after', '300', '--', 'node', 'examples/bare-express.mjs'])
    expect(markdown.code).toBe(1)
    expect(markdown.stdout).toMatch(/^## graceful-check: ❌ \d+ lost$/m)
    expect(markdown.stdout).toMatch(/^\| \d+ \| `exited-in-flight` \| yes \| the process exited with the request in flight \|/m)
    expect(markdown.stderr).toBe('')
  })

  it.each([
    [['--cylces', '3', '--', 'node', 'x.js'], /unknown option --cylces: did you mean --cycles\?/],
    [['--signal-after', 'soon', '--', 'node', 'x.js'], /--signal-after takes a whole number; got "soon"/],
    [['--signal', 'SIGTREM', '--', 'node', 'x.js'], /signal takes one of .*: did you mean "SIGTERM"\?/],
    [['--path', 'orders', '--', 'node', 'x.js'], /--path takes "\[METHOD\] \/path \[body\]"/],
    [['--json', '--markdown', '--', 'node', 'x.js'], /--json and --markdown both print the report: choose one/],
    [['node', 'server.js'], /put the service's command after --/],
    [[], /give the command that starts the service after --/],
    [['--lb', 'nginx', '--', 'node', 'x.js'], /--lb takes "haproxy"/],
    [['--balancer', 'ngnix', '--', 'node', 'x.js'], /--balancer takes "kube-proxy", "nginx", "haproxy-redispatch", "caddy", "none"; got "ngnix": did you mean "nginx"\?/],
    [['--propagation', 'soon', '--', 'node', 'x.js'], /--propagation takes ms or a range of ms, like 2000 or 1000-3000; got "soon"/],
    [['--port', '--json', '--', 'node', 'x.js'], /--port needs a value: -p, --port <n>/],
    [['--cycles', '0', '--', 'node', 'x.js'], /--cycles takes a whole number from 1 to 10000; got 0/],
    [['--json=yes', '--', 'node', 'x.js'], /--json takes no value; got "yes"/]
  ])('%j is refused with exit 2 and one line that says what was expected', async (args, message) => {
    const run = await check(args)
    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr.split('\n')[0]).toMatch(message)
  })

  it('a command that exits at once, or does not exist, is reported with exit 2', async () => {
    const exits = await check(['--', process.execPath, '-e', 'console.error("no database"); process.exit(3)'])
    expect(exits.code).toBe(2)
    expect(exits.stderr).toMatch(/the command exited with code 3 before it was ready/)
    expect(exits.stderr).toContain('no database')
    const missing = await check(['--', 'no-such-command-here'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/the command could not be started: no-such-command-here/)
  })

  it('--help and --version', async () => {
    const help = await check(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^usage: graceful-check \[options\] -- <command…>$/m)
    const version = await check(['--version'])
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})
