// The one error class, its codes, and the brand that recognises it across installed copies.
import { kGracefulError } from './symbols.js'
/** Every code a `GracefulError` can carry. Each has a row in docs/reference/errors.md. */
export type GracefulErrorCode =
  | 'GRACEFUL_ERR_OPTIONS_NOT_OBJECT'
  | 'GRACEFUL_ERR_UNKNOWN_OPTION'
  | 'GRACEFUL_ERR_INVALID_DURATION'
  | 'GRACEFUL_ERR_INVALID_PATH'
  | 'GRACEFUL_ERR_INVALID_SIGNAL'
  | 'GRACEFUL_ERR_CONFLICTING_OPTIONS'
  | 'GRACEFUL_ERR_INVALID_ENV'
  | 'GRACEFUL_ERR_INVALID_OPTION'
  | 'GRACEFUL_ERR_INVALID_ARGUMENT'
  | 'GRACEFUL_ERR_HOOK_TOO_LATE'
  | 'GRACEFUL_ERR_DUPLICATE_HOOK'
  | 'GRACEFUL_ERR_HOOK_TIMEOUT'
  | 'GRACEFUL_ERR_SHUTTING_DOWN'
  | 'GRACEFUL_ERR_NOT_PRIMARY'
  | 'GRACEFUL_ERR_NOT_CALLED'
  | 'GRACEFUL_ERR_ALREADY_REGISTERED'
  | 'GRACEFUL_ERR_NOT_AT_ROOT'
  | 'GRACEFUL_ERR_DUPLICATE_WORK_SOURCE'
  | 'GRACEFUL_ERR_WORK_SOURCE_TOO_LATE'
  | 'GRACEFUL_ERR_DRAIN_DEADLINE'


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

/** True when `err` is a `GracefulError` (from any copy of this package), optionally with the given code. */
export function isGracefulError (err: unknown, code?: GracefulErrorCode): err is GracefulError {
  if (typeof err !== 'object' || err === null || (err as Record<symbol, unknown>)[kGracefulError] !== true) {
    return false
  }
  return code === undefined || (err as GracefulError).code === code
}
