import { gracefulError, type GracefulError } from '../errors.js'
import { describe, invalid as invalidOption, notAnObject, rejectUnknownKeys, validateDuration } from '../options/validate.js'

/** The last event of a server-sent event stream, which tells an `EventSource` client when to reconnect. */
export interface EventStreamEnd {
  /**
   * Milliseconds the client waits before it reconnects (`retry:`, kept for later reconnections too): long enough for
   * the load balancer to stop routing here, so that it reconnects elsewhere; short enough that it misses little.
   * @default 1_000
   */
  retry?: number
  /**
   * The final event's type (`event:`), dispatched to the client's listeners of that type.
   * @default undefined (a `message` event, when there is `data`)
   */
  event?: string
  /**
   * The final event's data, one `data:` line per line; without it no event is dispatched (`retry` still applies).
   * @default undefined
   */
  data?: string
  /**
   * The final event's id (`id:`), sent back as `Last-Event-ID` when the client reconnects.
   * @default undefined
   */
  id?: string
}

/** node:http's `ServerResponse` (Express's `res`, Fastify's `reply.raw`), or node:http2's response or stream. */
export interface EventStreamTarget {
  end: (chunk: string) => unknown
  readonly writableEnded?: boolean
  readonly destroyed?: boolean
}

const KNOWN = ['retry', 'event', 'data', 'id']

/**
 * Ends a server-sent event stream with a last event and `retry:`, so that `EventSource` clients reconnect after
 * `retry` ms, by then to another instance. Call it when the shutdown signal aborts; a no-op on an ended stream.
 */
export function endEventStream (stream: EventStreamTarget, options?: EventStreamEnd): void {
  const target = stream as unknown
  if (typeof target !== 'object' || target === null || typeof (target as Partial<EventStreamTarget>).end !== 'function') {
    throw gracefulError('GRACEFUL_ERR_NOT_A_STREAM', describe(stream))
  }
  const given = options as unknown
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) throw notAnObject('endEventStream()', given)
  if (options !== undefined) rejectUnknownKeys(options, KNOWN, 'endEventStream()')
  const retry = options?.retry === undefined ? 1_000 : validateDuration(options.retry, 'retry')
  let block = `retry: ${String(Math.round(retry))}\n`
  if (options?.id !== undefined) block += `id: ${field(options.id, 'id')}\n`
  if (options?.event !== undefined) block += `event: ${field(options.event, 'event')}\n`
  if (options?.data !== undefined) {
    if (typeof options.data !== 'string') throw invalid('data', 'a string', options.data)
    // Every line break the spec knows (CRLF, LF, CR) starts a new data line; the client joins them with LF.
    for (const line of options.data.split(/\r\n|\r|\n/)) block += `data: ${line}\n`
  }
  if (stream.writableEnded === true || stream.destroyed === true) return
  stream.end(block + '\n')
}

function field (value: unknown, name: string): string {
  // A line break would end the field and start another one.
  if (typeof value !== 'string' || /[\r\n\0]/.test(value)) throw invalid(name, 'a string without line breaks or NUL', value)
  return value
}

function invalid (name: string, expected: string, value: unknown): GracefulError {
  return invalidOption(name, expected, value, 'endEventStream(): ')
}
