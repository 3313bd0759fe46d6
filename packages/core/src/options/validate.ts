// Validation shared by every entry that takes options: one message shape, one "did you mean", wherever it is made.
import { constants } from 'node:os'
import { gracefulError, type GracefulError } from '../errors.js'
import type { GracefulLogger } from '../report/logger.js'
import { WARNING_NAMES, type WarningName } from '../process/warnings.js'

export type Validator<T = unknown> = (value: unknown, name: string) => T

// setTimeout turns any larger delay into 1 ms, which would end a lame duck or a drain at once.
export const MAX_DELAY = 2_147_483_647
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP'])

export function invalid (name: string, expected: string, value: unknown, where = ''): GracefulError {
  return gracefulError('GRACEFUL_ERR_INVALID_OPTION', where, name, expected, describe(value))
}

/** `options` (of an instance, a hook, endEventStream…) must be an object when given: one code wherever it is. */
export function notAnObject (what: string, value: unknown): GracefulError {
  return gracefulError('GRACEFUL_ERR_OPTIONS_NOT_OBJECT', what === '' ? '' : `${what} `, describe(value))
}

export function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  // The class names what was passed (`attach(new Koa())`: a Koa application, not a server); a plain object has none.
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  if (typeof name === 'string' && name !== '' && name !== 'Object') return `an instance of ${name}`
  return `an object (${Object.prototype.toString.call(value)})`
}

/** For `attach()`: what to pass instead of an application object, told by its shape (the core knows no framework). */
export function serverHint (value: unknown): string {
  const app = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  if (typeof app['listen'] === 'function') return ' It has listen(): pass the server that listen() returns.'
  if (typeof app['fetch'] === 'function') return ' It has fetch(): pass the server that serve({ fetch: app.fetch }) of @hono/node-server returns.'
  return ''
}

export function validateDuration (value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_DELAY) {
    throw gracefulError('GRACEFUL_ERR_INVALID_DURATION', name, MAX_DELAY, describe(value))
  }
  return value
}

export function validatePath (value: unknown, name: string): string {
  if (typeof value !== 'string' || !/^\/[^\s?#]*$/.test(value)) {
    throw gracefulError('GRACEFUL_ERR_INVALID_PATH', name, describe(value))
  }
  return value
}

export function validateBoolean (value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalid(name, 'true or false', value)
  return value
}

export function validateFunction (value: unknown, name: string): () => unknown {
  if (typeof value !== 'function') throw invalid(name, 'a function', value)
  return value as () => unknown
}

export function validateSilence (value: unknown, name: string): boolean | readonly WarningName[] {
  if (typeof value === 'boolean') return value
  if (Array.isArray(value)) {
    for (const warning of value as unknown[]) {
      if (!(WARNING_NAMES as readonly unknown[]).includes(warning)) {
        throw invalid(name, `true, false or a list of warning names (${WARNING_NAMES.join(', ')})`, warning)
      }
    }
    return Object.freeze([...value as WarningName[]])
  }
  throw invalid(name, `true, false or a list of warning names (${WARNING_NAMES.join(', ')})`, value)
}

export function validateSignals (value: unknown, name: string): readonly NodeJS.Signals[] {
  if (!Array.isArray(value)) throw gracefulError('GRACEFUL_ERR_INVALID_SIGNAL', name, 'an array of signal names such as ["SIGTERM", "SIGINT"]', describe(value))
  const seen = new Set<string>()
  for (const signal of value as unknown[]) {
    if (typeof signal !== 'string' || !Object.hasOwn(constants.signals, signal) || UNCATCHABLE.has(signal)) {
      throw gracefulError('GRACEFUL_ERR_INVALID_SIGNAL', name, 'a list of signals this platform can catch, such as "SIGTERM" or "SIGINT"', describe(signal))
    }
    if (seen.has(signal)) throw gracefulError('GRACEFUL_ERR_INVALID_SIGNAL', name, 'a list without repeats', describe(signal))
    seen.add(signal)
  }
  return Object.freeze([...seen]) as readonly NodeJS.Signals[]
}

export function validateLogger (value: unknown, name: string): GracefulLogger | false {
  if (value === false) return false
  if (typeof value === 'object' && value !== null) {
    const logger = value as Record<string, unknown>
    if (typeof logger['info'] === 'function' && typeof logger['warn'] === 'function' &&
      typeof logger['error'] === 'function') {
      return value as GracefulLogger
    }
  }
  throw invalid(name, 'false or a logger with info, warn and error methods (pino, fastify.log)', value)
}

// Checks an options object against a table of validators: own keys only (an inherited or `__proto__` key must neither
// configure anything nor pass unnoticed), each known (else "did you mean") and valid.
export function validateOptions<T extends object> (input: unknown, validators: { readonly [K in keyof T]-?: Validator<T[K]> }, what: string): Partial<T> {
  if (input === undefined) return {}
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw notAnObject(what, input)
  const known = Object.keys(validators)
  rejectUnknownKeys(input, known, what)
  const given = input as Record<string, unknown>
  const resolved: Record<string, unknown> = {}
  for (const key of known) {
    const value = Object.hasOwn(given, key) ? given[key] : undefined
    if (value !== undefined) resolved[key] = (validators as Record<string, Validator>)[key]!(value, key)
  }
  return resolved as Partial<T>
}

export function rejectUnknownKeys (given: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue
    const hint = closest(key, known)
    throw gracefulError('GRACEFUL_ERR_UNKNOWN_OPTION', key, what === '' ? '' : ` for ${what}`,
      hint === undefined ? '' : ` Did you mean \`${hint}\`?`, known.join(', '))
  }
}

export function closest (key: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
