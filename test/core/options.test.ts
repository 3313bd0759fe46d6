import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { thrown } from '../helpers/index.js'
import { root } from '../helpers/packages.js'
import { createGraceful, GracefulError, isGracefulError, type GracefulErrorCode } from '@graceful/core'
import { graceful } from '@graceful/express'

// Instances here never attach a server or take a signal: `signals: []` keeps them off the process.
const quiet = { signals: [], exit: false, logger: false } as const

function expectInvalid (options: unknown, message: RegExp, code: GracefulErrorCode = 'GRACEFUL_ERR_INVALID_OPTION'): void {
  const caught = thrown(() => createGraceful(options as never))
  expect(caught).toBeInstanceOf(GracefulError)
  expect((caught as GracefulError).code).toBe(code)
  expect((caught as Error).message).toMatch(message)
}

describe('option validation', () => {
  it.each([
    ['a string for a duration', { drainTimeout: '10s' }, /`drainTimeout` must be a finite number of milliseconds.*received "10s"/, 'GRACEFUL_ERR_INVALID_DURATION'],
    ['a negative duration', { preStopDelay: -1 }, /`preStopDelay` must be/, 'GRACEFUL_ERR_INVALID_DURATION'],
    ['an infinite duration', { drainTimeout: Infinity }, /`drainTimeout`.*Infinity/, 'GRACEFUL_ERR_INVALID_DURATION'],
    ['NaN', { hookTimeout: Number.NaN }, /`hookTimeout`.*NaN/, 'GRACEFUL_ERR_INVALID_DURATION'],
    ['a duration past what setTimeout can hold', { drainTimeout: 2 ** 31 }, /from 0 to 2147483647/, 'GRACEFUL_ERR_INVALID_DURATION'],
    ['an unknown signal', { signals: ['SIGTERMX'] }, /`signals`.*"SIGTERMX"/, 'GRACEFUL_ERR_INVALID_SIGNAL'],
    ['SIGKILL, which cannot be caught', { signals: ['SIGKILL'] }, /`signals`.*"SIGKILL"/, 'GRACEFUL_ERR_INVALID_SIGNAL'],
    ['a repeated signal', { signals: ['SIGTERM', 'SIGTERM'] }, /without repeats/, 'GRACEFUL_ERR_INVALID_SIGNAL'],
    ['signals that are not an array', { signals: 'SIGTERM' }, /`signals` must be an array/, 'GRACEFUL_ERR_INVALID_SIGNAL'],
    ['a path without a leading slash', { readinessPath: 'healthz' }, /`readinessPath` must be a path that starts with "\/"/, 'GRACEFUL_ERR_INVALID_PATH'],
    ['a path with a query', { livenessPath: '/livez?x' }, /`livenessPath`/, 'GRACEFUL_ERR_INVALID_PATH'],
    ['the same path twice', { readinessPath: '/health', livenessPath: '/health' }, /other than readinessPath/, 'GRACEFUL_ERR_CONFLICTING_OPTIONS'],
    ['a minimum lame duck above its maximum', { preStopDelay: 1_000, preStopMinimumDelay: 2_000 }, /at most preStopDelay/, 'GRACEFUL_ERR_CONFLICTING_OPTIONS'],
    ['a non-boolean exit', { exit: 'yes' }, /`exit` must be true or false/, 'GRACEFUL_ERR_INVALID_OPTION'],
    ['a logger without methods', { logger: console.log }, /`logger` must be false or a logger/, 'GRACEFUL_ERR_INVALID_OPTION'],
    ['a close that is not a function', { close: 'fastify' }, /`close` must be a function/, 'GRACEFUL_ERR_INVALID_OPTION'],
    ['an exit code policy that is not one of the two', { signalExitCode: 143 }, /`signalExitCode` must be "zero" .* or "conventional" \(128 \+ the signal's number\); received 143/, 'GRACEFUL_ERR_INVALID_OPTION'],
    ['an exit code policy spelt otherwise', { signalExitCode: 'signal' }, /`signalExitCode`.*received "signal"/, 'GRACEFUL_ERR_INVALID_OPTION'],
    ['an onCrash that is not one of the two', { onCrash: 'restart' }, /`onCrash` must be "exit"/, 'GRACEFUL_ERR_INVALID_OPTION'],
    ['options that are not an object', 'fast', /options must be an object; received "fast"/, 'GRACEFUL_ERR_OPTIONS_NOT_OBJECT'],
    ['null options', null, /options must be an object; received null/, 'GRACEFUL_ERR_OPTIONS_NOT_OBJECT'],
    ['an array for options', [], /options must be an object; received an array/, 'GRACEFUL_ERR_OPTIONS_NOT_OBJECT']
  ] as Array<[string, unknown, RegExp, GracefulErrorCode]>)('rejects %s at construction', (_name, options, message, code) => {
    expectInvalid(options, message, code)
  })

  it('names the closest option for a typo', () => {
    expectInvalid({ drainTimout: 5_000 }, /unknown option `drainTimout`\. Did you mean `drainTimeout`\?/, 'GRACEFUL_ERR_UNKNOWN_OPTION')
    expectInvalid({ PreStopDelay: 5_000 }, /Did you mean `preStopDelay`\?/, 'GRACEFUL_ERR_UNKNOWN_OPTION')
    expectInvalid({ signalExitcodes: 'zero' }, /Did you mean `signalExitCode`\?/, 'GRACEFUL_ERR_UNKNOWN_OPTION')
    expectInvalid({ somethingElse: 1 }, /unknown option `somethingElse`\. Known options: signals,/, 'GRACEFUL_ERR_UNKNOWN_OPTION')
  })

  it('treats a `__proto__` key from JSON as an unknown option and leaves Object.prototype alone', () => {
    expectInvalid(JSON.parse('{"__proto__": {"polluted": true}}'), /unknown option `__proto__`/, 'GRACEFUL_ERR_UNKNOWN_OPTION')
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })

  it('validates the Express middleware options the same way', () => {
    expect(() => graceful({ drainTimeout: -5 })).toThrow(GracefulError)
  })

  it('accepts every option at its documented bounds', () => {
    const g = createGraceful({
      ...quiet,
      readinessPath: '/ready',
      livenessPath: '/alive',
      preStopDelay: 0,
      drainTimeout: 2_147_483_647,
      hookTimeout: 0,
      idleSocketGrace: 0,
      newSocketGrace: 0,
      close: () => undefined
    })
    expect(g.state).toBe('running')
    expect(g.readinessPath).toBe('/ready')
  })

  it('rejects a bad hook at registration, not at shutdown', () => {
    const g = createGraceful(quiet)
    expect(() => g.onShutdown('', () => undefined)).toThrow(/non-empty name/)
    expect(() => g.onShutdown('db', 'pool.end' as never)).toThrow(/fn to be a function/)
    expect(() => g.onShutdown('db', () => undefined, { timeout: -1 })).toThrow(/onShutdown\("db"\)\.timeout/)
    g.onShutdown('db', () => undefined)
    const caught = thrown(() => g.onShutdown('db', () => undefined))
    expect(isGracefulError(caught, 'GRACEFUL_ERR_DUPLICATE_HOOK')).toBe(true)
  })

  it('rejects attaching something that is not a server', () => {
    const g = createGraceful(quiet)
    const caught = thrown(() => g.attach({} as never))
    expect(isGracefulError(caught, 'GRACEFUL_ERR_NOT_A_SERVER')).toBe(true)
  })

  it('rejects attaching an application object that only looks like a server (a Koa app), naming what to pass', () => {
    const g = createGraceful(quiet)
    class KoaLikeApp extends EventEmitter {
      listen (): void {}
    }
    const caught = thrown(() => g.attach(new KoaLikeApp() as never))
    expect(isGracefulError(caught, 'GRACEFUL_ERR_NOT_A_SERVER')).toBe(true)
    expect((caught as Error).message).toMatch(/app\.listen\(\)/)
  })
})

describe('GracefulError', () => {
  it('is recognised by its code and its brand; instanceof holds for it (another installed copy: test/packaging/consumer.test.ts)', () => {
    const own = new GracefulError('GRACEFUL_ERR_INVALID_OPTION', 'x')
    expect(isGracefulError(own)).toBe(true)
    expect(isGracefulError(own, 'GRACEFUL_ERR_INVALID_OPTION')).toBe(true)
    expect(isGracefulError(own, 'GRACEFUL_ERR_HOOK_TIMEOUT')).toBe(false)
    expect(own).toBeInstanceOf(GracefulError)
    expect(own).toBeInstanceOf(Error)
    expect(own.name).toBe('GracefulError')
    expect(isGracefulError(new Error('plain'))).toBe(false)
    expect(new Error('plain')).not.toBeInstanceOf(GracefulError)
    expect(isGracefulError(null)).toBe(false)
  })
})

describe('the errors reference', () => {
  it('has a row in docs/reference/errors.md for every code of the ERRORS table, with its kind, and none for a code that is gone', async () => {
    const { ERRORS } = await import('../../packages/core/dist/errors.js')
    const reference = readFileSync(join(root, 'docs/reference/errors.md'), 'utf8')
    const rows = [...reference.matchAll(/^\| `(GRACEFUL_ERR_[A-Z_]+)` \| (\w+) \|/gm)].map(match => [match[1]!, match[2]!])
    expect(Object.keys(ERRORS).length).toBeGreaterThan(10)
    expect(rows.sort()).toEqual(Object.entries(ERRORS).map(([code, [kind]]) => [code, kind]).sort())
  })

  it('fills every %s of a message from the table, in order', async () => {
    const { gracefulError } = await import('../../packages/core/dist/errors.js')
    const error = gracefulError('GRACEFUL_ERR_DUPLICATE_HOOK', 'hook', 'db', 'hook')
    expect(error.message).toBe('a hook named "db" is already registered; names identify hooks in the report.')
    expect(isGracefulError(error, 'GRACEFUL_ERR_DUPLICATE_HOOK')).toBe(true)
  })
})
