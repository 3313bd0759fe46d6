import type { Random } from './random.js'
import type { RequestSpec } from './types.js'

// What the clients read from an error, and how they write a request: the same for undici and the raw sockets.

export function errorCode (err: unknown): string {
  const e = err as { code?: string, cause?: { code?: string }, name?: string }
  return e.cause?.code ?? e.code ?? e.name ?? 'error'
}

export function isRefused (err: unknown): boolean {
  const e = err as { code?: string, syscall?: string, cause?: { code?: string, syscall?: string } }
  return e.code === 'ECONNREFUSED' || e.cause?.code === 'ECONNREFUSED'
}

export function isTimeout (code: string): boolean {
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'timeout'
}

export function contentType (body: string): string {
  try {
    JSON.parse(body)
    return 'application/json'
  } catch {
    return 'text/plain'
  }
}

/** The text of one request on the wire. */
export function requestText (spec: RequestSpec, host: string, id: number): string {
  const body = spec.body ?? ''
  const bodyHeaders = spec.body === undefined ? '' : `content-type: ${contentType(body)}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
  return `${spec.method} ${spec.path} HTTP/1.1\r\nhost: ${host}\r\nuser-agent: graceful-check\r\nx-check-id: ${id}\r\n${bodyHeaders}\r\n${body}`
}

/**
 * Where a split batch is cut: inside one of its requests, never between two. A cut between two requests would make the
 * second a request written some milliseconds after the first was complete, which a server may answer with a close
 * before a byte of it arrives: that is a new request on a closing connection, not a batch split by the network.
 */
export function cutInside (texts: readonly string[], rng: Random): number {
  const which = rng.int(0, texts.length - 1)
  const before = texts.slice(0, which).reduce((sum, text) => sum + text.length, 0)
  return before + rng.int(1, texts[which]!.length - 1)
}
