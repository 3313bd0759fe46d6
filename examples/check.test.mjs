// A service's own test suite proving that SIGTERM under load loses nothing (vitest; runs in this repository's suite).
import { expect, test } from 'vitest'
import { checkShutdown } from '@graceful/check'

test('SIGTERM under load loses no request', async () => {
  const report = await checkShutdown({
    command: ['node', 'examples/express.mjs'], // gets its port as PORT
    env: { GRACEFUL_PRE_STOP_DELAY: '1000ms' },
    ready: '/healthz',
    paths: ['GET /', 'GET /?ms=150'],
    signalAfter: 400
  })
  expect(report.lost).toEqual([])
  expect(report.cycles[0].exit.code).toBe(0)
}, 30_000)
