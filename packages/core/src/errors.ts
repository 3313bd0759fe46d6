// The one error class; every code with its kind and message in one table, as Fastify's createError keeps them.
import { kGracefulError } from './symbols.js'

// What a mistake is about (the Kind column of docs/reference/errors.md); `abort` is never thrown, only aborted with.
export type ErrorKind = 'option' | 'environment' | 'argument' | 'state' | 'abort'

/** Every code a `GracefulError` can carry: one per kind of mistake, each with a row in docs/reference/errors.md. */
export type GracefulErrorCode =
  | 'GRACEFUL_ERR_OPTIONS_NOT_OBJECT'
  | 'GRACEFUL_ERR_UNKNOWN_OPTION'
  | 'GRACEFUL_ERR_INVALID_DURATION'
  | 'GRACEFUL_ERR_INVALID_PATH'
  | 'GRACEFUL_ERR_INVALID_SIGNAL'
  | 'GRACEFUL_ERR_CONFLICTING_OPTIONS'
  | 'GRACEFUL_ERR_INVALID_OPTION'
  | 'GRACEFUL_ERR_INVALID_ENV'
  | 'GRACEFUL_ERR_INVALID_NAME'
  | 'GRACEFUL_ERR_NOT_A_FUNCTION'
  | 'GRACEFUL_ERR_NOT_A_SERVER'
  | 'GRACEFUL_ERR_NOT_A_WEBSOCKET_SERVER'
  | 'GRACEFUL_ERR_NOT_A_STREAM'
  | 'GRACEFUL_ERR_UNKNOWN_EVENT'
  | 'GRACEFUL_ERR_INVALID_WORK_SOURCE'
  | 'GRACEFUL_ERR_MISSING_INTERCEPTOR'
  | 'GRACEFUL_ERR_NOT_CALLED'
  | 'GRACEFUL_ERR_HOOK_TOO_LATE'
  | 'GRACEFUL_ERR_DUPLICATE_HOOK'
  | 'GRACEFUL_ERR_DUPLICATE_WORK_SOURCE'
  | 'GRACEFUL_ERR_WORK_SOURCE_TOO_LATE'
  | 'GRACEFUL_ERR_NOT_PRIMARY'
  | 'GRACEFUL_ERR_CALLED_TWICE'
  | 'GRACEFUL_ERR_ALREADY_REGISTERED'
  | 'GRACEFUL_ERR_NOT_AT_ROOT'
  | 'GRACEFUL_ERR_SHUTTING_DOWN'
  | 'GRACEFUL_ERR_DRAIN_DEADLINE'
  | 'GRACEFUL_ERR_HOOK_TIMEOUT'

/** Each code's kind and message: each `%s` is filled in order (a test checks docs/reference/errors.md against it). */
export const ERRORS: Readonly<Record<GracefulErrorCode, readonly [ErrorKind, string]>> = {
  GRACEFUL_ERR_OPTIONS_NOT_OBJECT: ['option', '%soptions must be an object; received %s.'],
  GRACEFUL_ERR_UNKNOWN_OPTION: ['option', 'unknown option `%s`%s.%s Known options: %s.'],
  GRACEFUL_ERR_INVALID_DURATION: ['option', '`%s` must be a finite number of milliseconds from 0 to %s; received %s.'],
  GRACEFUL_ERR_INVALID_PATH: ['option', '`%s` must be a path that starts with "/" and holds no spaces, "?" or "#"; received %s.'],
  GRACEFUL_ERR_INVALID_SIGNAL: ['option', '`%s` must be %s; received %s.'],
  GRACEFUL_ERR_CONFLICTING_OPTIONS: ['option', '`%s` must be %s; received %s.'],
  GRACEFUL_ERR_INVALID_OPTION: ['option', '%s`%s` must be %s; received %s.'],
  GRACEFUL_ERR_INVALID_ENV: ['environment', '`%s (env)` must be %s; received %s.'],
  GRACEFUL_ERR_INVALID_NAME: ['argument', '%s expects a non-empty name; received %s.'],
  GRACEFUL_ERR_NOT_A_FUNCTION: ['argument', '%s expects %s to be a function; received %s.'],
  GRACEFUL_ERR_NOT_A_SERVER: ['argument', 'attach(server) expects a node:net, node:http, node:https or node:http2 server (what app.listen() returns); received %s.%s'],
  GRACEFUL_ERR_NOT_A_WEBSOCKET_SERVER: ['argument', 'trackWebSockets(server) expects a ws WebSocketServer (with on() and, optionally, clients); received %s.'],
  GRACEFUL_ERR_NOT_A_STREAM: ['argument', 'endEventStream(stream) expects a response or stream with end(); received %s.'],
  GRACEFUL_ERR_UNKNOWN_EVENT: ['argument', 'on(event) expects one of %s; received %s.'],
  GRACEFUL_ERR_INVALID_WORK_SOURCE: ['argument', 'addWorkSource("%s", source) expects %s; received %s.'],
  GRACEFUL_ERR_MISSING_INTERCEPTOR: ['argument', '%s: the server was created without its interceptor; create it with new grpc.Server({ interceptors: [%s] }).'],
  GRACEFUL_ERR_NOT_CALLED: ['argument', '%s'],
  GRACEFUL_ERR_HOOK_TOO_LATE: ['state', '%s("%s") was called during the %s phase, after the %ss were started; register them at start-up.'],
  GRACEFUL_ERR_DUPLICATE_HOOK: ['state', 'a %s named "%s" is already registered; names identify %ss in the report.'],
  GRACEFUL_ERR_DUPLICATE_WORK_SOURCE: ['state', 'a work source named "%s" is already registered; names identify work sources in the report.'],
  GRACEFUL_ERR_WORK_SOURCE_TOO_LATE: ['state', 'addWorkSource("%s") was called after the drain ended; register work sources at start-up.'],
  GRACEFUL_ERR_NOT_PRIMARY: ['state', 'gracefulCluster() belongs in the cluster primary (cluster.isPrimary); workers use createGraceful(), graceful() or gracefulPlugin.'],
  GRACEFUL_ERR_CALLED_TWICE: ['state', '%s was already called%s; %s.'],
  GRACEFUL_ERR_ALREADY_REGISTERED: ['state', 'gracefulPlugin is registered already on this instance: register it once, on the root instance.'],
  GRACEFUL_ERR_NOT_AT_ROOT: ['state', 'gracefulPlugin was registered inside an encapsulated plugin%s: register it on the root instance, `await fastify.register(gracefulPlugin, options)` on what Fastify() returned, or from a plugin wrapped in fastify-plugin.'],
  GRACEFUL_ERR_SHUTTING_DOWN: ['abort', 'shutting down (%s)'],
  GRACEFUL_ERR_DRAIN_DEADLINE: ['abort', 'the drain deadline passed (%s): requests and work still running were cut'],
  GRACEFUL_ERR_HOOK_TIMEOUT: ['abort', '%s "%s" did not finish within %s ms']
}

export class GracefulError extends Error {
  override name = 'GracefulError'
  readonly code: GracefulErrorCode

  constructor (code: GracefulErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    Object.defineProperty(this, kGracefulError, { value: true })
  }

  /** `err instanceof GracefulError` is true for an error from any installed copy of this package (the brand). */
  static override [Symbol.hasInstance] (value: unknown): boolean {
    return isGracefulError(value)
  }
}

/** The error for `code`, its message's `%s` filled with `args` in order. */
export function gracefulError (code: GracefulErrorCode, ...args: Array<string | number>): GracefulError {
  let next = 0
  const message = ERRORS[code][1].replace(/%s/g, () => String(args[next++] ?? ''))
  return new GracefulError(code, message)
}

/** True when `err` is a `GracefulError` (from any copy of this package), optionally with the given code. */
export function isGracefulError (err: unknown, code?: GracefulErrorCode): err is GracefulError {
  if (typeof err !== 'object' || err === null || (err as Record<symbol, unknown>)[kGracefulError] !== true) {
    return false
  }
  return code === undefined || (err as GracefulError).code === code
}
