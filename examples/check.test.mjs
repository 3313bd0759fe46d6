// A service's own test suite proving that SIGTERM under load loses nothing (vitest; runs in this repository's suite).
import { expect, test } from 'vitest'
import { checkShutdown } from '@graceful/check'

test('SIGTERM under load loses no request', async () => {
  const report = await checkShutdown({
    command: ['node', 'examples/express.mjs'], // gets its port as PORT
    env: { GRACEFUL_PRE_STOP_DELAY: '5s' }, // outlasts the balancer's propagation delay (1 to 3 s by default)
    ready: '/healthz',
    paths: ['GET /', 'GET /?ms=150', 'POST /orders {"id":1}'],
    signalAfter: 400
  })
  expect(report.lost).toEqual([])
  expect(report.cycles[0].exit.code).toBe(0)
}, 30_000)
