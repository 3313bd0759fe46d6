export type CheckErrorCode =
  | 'CHECK_ERR_USAGE'
  | 'CHECK_ERR_COMMAND_NOT_FOUND'
  | 'CHECK_ERR_COMMAND_EXITED'
  | 'CHECK_ERR_NOT_READY'
  | 'CHECK_ERR_HAPROXY'

const brand = Symbol.for('graceful-check.error')

/** A run that could not be made: bad options, or a service that does not start. The CLI exits 2 with its message. */
export class CheckError extends Error {
  override name = 'CheckError'
  constructor (readonly code: CheckErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    Object.defineProperty(this, brand, { value: true })
  }

  static override [Symbol.hasInstance] (value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true
  }
}

/** True when `err` is a CheckError (from any installed copy), optionally with that code. */
export function isCheckError (err: unknown, code?: CheckErrorCode): err is CheckError {
  return err instanceof CheckError && (code === undefined || err.code === code)
}
