// The preload under a NestJS application that stops itself as Nest's documentation shows (enableShutdownHooks()):
// graceful names Nest's listener at start-up and runs it once its drain is over, so that the pool closes after the last
// request, and the signal Nest raises again ends the process with graceful's exit code. Real child processes, real
// SIGTERM, judged by graceful-check.
import { describe, expect, it } from 'vitest'
import { root } from '../helpers/packages.js'
import { expectNothingLost, judge, PRELOAD_ENV } from './preload-check.js'

describe('the preload on a NestJS application with enableShutdownHooks()', () => {
  it('loses no request, closes the pool after the drain, and exits 0', async () => {
    const verdict = await judge({
      command: [process.execPath, '--import', '@graceful/core/register', 'test/fixtures/nest-shutdown-hooks.mjs'],
      cwd: root,
      env: PRELOAD_ENV,
      ready: '/healthz',
      paths: ['GET /', 'GET /?ms=300']
    })
    expectNothingLost(verdict)
    const lines = verdict.output.flatMap(line => { try { return [JSON.parse(line) as Record<string, unknown>] } catch { return [] } })
    expect(lines.find(line => line['warning'] === 'competing-listener')?.['listener']).toBe("NestJS's enableShutdownHooks()")
    const report = lines.find(line => line['msg'] === 'graceful: shutdown complete')
    const pool = lines.find(line => line['event'] === 'pool closed')
    expect(report, verdict.output.join('\n')).toBeDefined()
    expect(pool, verdict.output.join('\n')).toBeDefined()
    expect(pool!['time'] as number).toBeGreaterThanOrEqual(report!['time'] as number)
  })
})
