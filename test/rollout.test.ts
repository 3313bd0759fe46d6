// A rolling restart behind a real load balancer: HAProxy health-checks /healthz, the new instance starts, and the
// old one gets SIGTERM the moment HAProxy sees the new one UP. Nothing but the probe tells HAProxy. The harness is
// bench/rollout.mjs (`pnpm rollout` prints the same figures as a table).
import { describe, expect, it } from 'vitest'
import { check, findHaproxy, formatTable, rollout } from '../bench/rollout.mjs'

const haproxy = findHaproxy()
if (haproxy === undefined) {
  console.warn('test/rollout.test.ts skipped: HAProxy is not installed (apt-get install -y haproxy; .ci/run installs it)')
}
// HAProxy stops routing to an instance `fall` failed checks after its readiness turns 503: the lame duck must outlast that.
const preStopDelay = 2_000

describe.skipIf(haproxy === undefined).each([
  ['express', 'Express', 'server.close()'],
  ['fastify', 'Fastify', 'fastify.close()']
] as const)('a rolling restart of %s behind HAProxy', (framework, name, close) => {
  it(`with graceful, no request fails or needs HAProxy to retry it across two rounds of replacements, and each old instance serves through the lame duck`, async () => {
    expect(preStopDelay).toBeGreaterThan(check.inter * check.fall * 2)
    const result = await rollout({ framework, haproxy, preStopDelay })
    console.log(formatTable([result]))
    expect(result.replacements).toBe(4)
    expect(result.failures).toEqual({})
    expect(result.failed).toBe(0)
    // HAProxy logs every request it failed, retried or sent elsewhere: none, so its retries hid nothing.
    expect(result.proxyLog).toEqual({})
    for (const counts of Object.values(result.kinds)) expect(counts.ok).toBeGreaterThan(0)
    for (const exit of result.exits) {
      expect(exit.code).toBe(0)
      expect(exit.exitedMs).toBeGreaterThanOrEqual(preStopDelay)
    }
  }, 90_000)

  it(`bare ${name} (${close} on SIGTERM) loses requests in the same rollout`, async () => {
    const result = await rollout({ framework, haproxy, bare: true })
    console.log(formatTable([result]))
    expect(result.replacements).toBe(4)
    expect(result.failed).toBeGreaterThan(0)
  }, 90_000)
})
