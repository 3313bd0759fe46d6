// checkShutdown() from a test file, the way a user checks their own service in their own suite.
import { describe, expect, it } from 'vitest'
import { checkShutdown, isCheckError, SCHEMA_VERSION } from '@graceful/check'

describe('checkShutdown()', () => {
  it('proves that examples/express.mjs loses no request when it gets SIGTERM under load', async () => {
    const report = await checkShutdown({
      command: ['node', 'examples/express.mjs'],
      ready: '/healthz',
      env: { PRE_STOP_DELAY: '1000' },
      paths: ['GET /', 'GET /?ms=150'],
      signalAfter: 400,
      timeout: 15_000
    })
    expect(report.lost).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.schemaVersion).toBe(SCHEMA_VERSION)
    expect(report.cycles[0]!.exit.code).toBe(0)
  })

  it('rejects a misspelt option at once, with a hint', async () => {
    const error: unknown = await checkShutdown({ command: ['node', 'server.js'], singalAfter: 10 } as never).catch((err: unknown) => err)
    expect(isCheckError(error, 'CHECK_ERR_USAGE')).toBe(true)
    expect((error as Error).message).toBe('unknown option "singalAfter": did you mean "signalAfter"?')
  })
})
