// Node's HTTP/1 responses and sockets once shutting down: requests in flight, heads told to close, staged closes.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Connection } from './connection.js'
import { latestResponse } from './connections.js'
import { activeResponse, isDetachedFromHttp } from '../internals.js'
import { kOwnWriteHead, kProbeResponse } from '../symbols.js'

/** Requests in flight on an HTTP/1 connection: the one being written, plus one for any pipelined behind; no probes. */
export function http1InFlight (connection: Connection): number {
  const active = activeResponse(connection.socket)
  // An upgrade handled outside 'request' (@fastify/websocket) leaves a response on a socket that has left HTTP.
  if (active === undefined || isDetachedFromHttp(connection.socket)) return 0
  const latest = latestResponse(connection.socket)
  const behind = latest !== undefined && latest !== active && !latest.writableFinished ? 1 : 0
  return ((active as ServerResponse & { [kProbeResponse]?: boolean })[kProbeResponse] === true ? 0 : 1) + behind
}

export function http1Responses (connection: Connection): ServerResponse[] {
  const active = activeResponse(connection.socket)
  if (active === undefined || isDetachedFromHttp(connection.socket)) return []
  const responses: ServerResponse[] = [active]
  const latest = latestResponse(connection.socket)
  if (latest !== undefined && latest !== active && !latest.writableFinished) responses.push(latest)
  return responses
}

/** Puts `writeHead` on the response, keeping the one the application wrapped before (on-headers: compression, morgan). */
export function wrapWriteHead (response: ServerResponse, writeHead: (this: ServerResponse, ...args: unknown[]) => ServerResponse): void {
  const told = response as ServerResponse & { writeHead: unknown, [kOwnWriteHead]?: unknown }
  if (told.writeHead === writeHead) return
  // eslint-disable-next-line @typescript-eslint/unbound-method
  if (Object.hasOwn(told, 'writeHead') && told[kOwnWriteHead] === undefined) told[kOwnWriteHead] = told.writeHead
  told.writeHead = writeHead
}

export function restoreWriteHead (response: ServerResponse): void {
  const told = response as ServerResponse & { [kOwnWriteHead]?: ServerResponse['writeHead'] | undefined }
  const own = told[kOwnWriteHead]
  if (own === undefined) {
    Reflect.deleteProperty(response, 'writeHead')
    return
  }
  // Once: a wrapper the application added after the telling calls it in turn, and must then reach Node's own.
  told[kOwnWriteHead] = undefined
  response.writeHead = own
}

/** writeHead's arguments without the `Connection` header among them: an object, or Node's flat [name, value, …] list. */
export function withoutConnection (args: unknown[]): unknown[] {
  const index = typeof args[1] === 'string' ? 2 : 1
  const headers = args[index]
  let kept: unknown
  if (Array.isArray(headers)) {
    const flat: unknown[] = []
    for (let at = 0; at + 1 < headers.length; at += 2) {
      if (!isConnection(headers[at])) flat.push(headers[at], headers[at + 1])
    }
    kept = flat
  } else if (typeof headers === 'object' && headers !== null) {
    kept = Object.fromEntries(Object.entries(headers).filter(([name]) => !isConnection(name)))
  } else {
    return args
  }
  const copy = [...args]
  copy[index] = kept
  return copy
}

function isConnection (name: unknown): boolean {
  return typeof name === 'string' && name.toLowerCase() === 'connection'
}

export const LINGER_MS = 1_000

// The staged close (RFC 9112 §9.6): the FIN, then read on until the client closes too (`LINGER_MS` at most). Node's
// close destroys the socket once the FIN is out, and a request still arriving then gets the kernel's reset, which can
// destroy the unread close response in the client's buffer. A request arriving meanwhile is declined (and retried).
export function lingeringClose (socket: Socket): void {
  if (socket.writable) socket.end()
  if (socket.destroyed) return
  const timer = setTimeout(() => { socket.destroy() }, LINGER_MS)
  socket.once('close', () => { clearTimeout(timer) })
}
