// A rolling restart behind a real load balancer: HAProxy health-checks /healthz, the new instance starts, and the
// old one gets SIGTERM the moment HAProxy sees the new one UP. Nothing but the probe tells HAProxy. The harness is
// graceful-check's `lb: 'haproxy'`, configured by bench/rollout.mjs (`pnpm rollout` prints the same figures).
import { describe, expect, it } from 'vitest'
import { checkShutdown, findHaproxy, haproxyCheck } from '@graceful/check'
import { formatTable, rollout } from '../../bench/rollout.mjs'
import { available } from '../helpers/index.js'

const haproxy = findHaproxy()
const runs = available('HAProxy', haproxy === undefined ? 'HAProxy is not installed (apt-get install -y haproxy)' : undefined)
// HAProxy stops routing to an instance `fall` failed checks after its readiness turns 503: the lame duck must outlast that.
const preStopDelay = 2_000

describe.runIf(runs).each([
  ['express', 'Express', 'server.close()'],
  ['fastify', 'Fastify', 'fastify.close()']
] as const)('a rolling restart of %s behind HAProxy', (framework, name, close) => {
  it(`with graceful, no request fails or needs HAProxy to retry it across two rounds of replacements, and each old instance serves through the lame duck`, async () => {
    expect(preStopDelay).toBeGreaterThan(haproxyCheck.inter * haproxyCheck.fall * 2)
    const result = await rollout({ framework, haproxy, preStopDelay })
    console.log(formatTable([result]))
    const { report } = result
    const [cycle] = report.cycles
    const retired = cycle!.instances.filter(instance => instance.signalledMs !== null)
    expect(retired).toHaveLength(4)
    expect(report.lost).toEqual([])
    expect(cycle!.failures).toEqual([])
    // HAProxy logs every request it failed, retried or sent elsewhere: none, so its retries hid nothing.
    expect(cycle!.proxyLog).toEqual({})
    for (const client of ['keep-alive', 'new-connection'] as const) expect(cycle!.requests.byClient[client].completed).toBeGreaterThan(0)
    for (const instance of retired) {
      expect(instance.code, JSON.stringify(report.findings)).toBe(0)
      expect(instance.exitMs! - instance.signalledMs!).toBeGreaterThanOrEqual(preStopDelay)
    }
    expect(report.ok).toBe(true)
  }, 90_000)

  it('on Kubernetes with no preStopDelay given, the default lame duck (adaptive, from 3 s) loses no request either', async () => {
    const result = await rollout({ framework, haproxy, kubernetes: true })
    console.log(formatTable([result]))
    const { report } = result
    const retired = report.cycles[0]!.instances.filter(instance => instance.signalledMs !== null)
    expect(retired).toHaveLength(4)
    expect(report.lost).toEqual([])
    for (const instance of retired) {
      expect(instance.code, JSON.stringify(report.findings)).toBe(0)
      expect(instance.exitMs! - instance.signalledMs!).toBeGreaterThanOrEqual(3_000)
    }
  }, 90_000)

  it(`bare ${name} (${close} on SIGTERM) loses requests in the same rollout, each with its cause`, async () => {
    const result = await rollout({ framework, haproxy, bare: true })
    console.log(formatTable([result]))
    const { report } = result
    expect(report.cycles[0]!.instances.filter(instance => instance.signalledMs !== null)).toHaveLength(4)
    expect(report.lost.length).toBeGreaterThan(0)
    expect(report.ok).toBe(false)
    // Refused while HAProxy still routed there (retried on the same server, then 503), or, for Fastify, a 503 of its own.
    for (const failure of report.lost) expect(['routed-to-closed-listener', 'server-error', 'reset-reused-connection', 'exited-in-flight']).toContain(failure.kind)
  }, 90_000)
})

describe.runIf(runs)('a rolling restart behind HAProxy, an old instance that fails its shutdown', () => {
  it('is named with its exit code and its last output, which says why', async () => {
    // A service whose shutdown fails on its own terms: it says why on stderr, then exits 3.
    const service = [
      "const server = require('node:http').createServer((req, res) => { res.end('ok') })",
      "server.listen(Number(process.env.PORT), '127.0.0.1')",
      "process.on('SIGTERM', () => { console.error('flushing metrics failed: ECONNREFUSED'); process.exit(3) })"
    ].join('\n')
    const report = await checkShutdown({
      command: [process.execPath, '-e', service],
      lb: 'haproxy',
      ...(haproxy === undefined ? {} : { haproxy }),
      rounds: 1,
      ready: '/healthz',
      paths: ['GET /'],
      signalAfter: 300,
      timeout: 5_000,
      load: { keepAlive: 2, newConnection: 1, idleSockets: 0, slow: 0, pipelining: 0 }
    })
    const exits = report.findings.filter(finding => finding.kind === 'exit-code')
    expect(exits.length, JSON.stringify(report.findings)).toBeGreaterThan(0)
    for (const finding of exits) {
      expect(finding.cause).toMatch(/exited with code 3; its last output: .*flushing metrics failed: ECONNREFUSED/)
    }
  }, 60_000)
})
