// Every Node internal graceful reads, in one place. Each is read only when a shutdown begins or a gauge is read,
// never per request (but `isQueued`, one property read), and each has a test (test/internals.test.ts) that runs on
// every Node line we support, so that a change in Node fails a test instead of losing requests. Where an internal is
// missing, the fallback is named.
import type { ServerResponse } from 'node:http'
import type { Http2Session, ServerHttp2Stream } from 'node:http2'
import type { Server as NetServer, Socket } from 'node:net'

/**
 * The response Node is writing on an HTTP/1 socket right now (`socket._httpMessage`), null when the socket is idle.
 * What Node's own `closeIdleConnections()` reads (Node 18 to 26). Pipelined responses wait behind it in a queue only
 * Node sees; each takes this place when the one before it finishes. Without it, in-flight work could not be found.
 */
export function activeResponse (socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined
}

/**
 * True for a response queued behind the one Node is writing (pipelined) as its request is handled: Node assigns a
 * response its socket only when it reaches the front of the queue (`response.socket` is null until then; Node 18 to
 * 26). The probe routes read it per request, to store only such a response. Without it, the newest pipelined response
 * could not be found, and the one being written would be told `Connection: close` under the requests behind it.
 */
export function isQueued (response: ServerResponse): boolean {
  return response.socket === null
}

/** True when Node has taken the socket away from HTTP/1 (an upgrade: WebSocket, CONNECT): it has no parser left. */
export function isDetachedFromHttp (socket: Socket): boolean {
  return (socket as Socket & { parser?: unknown }).parser === null
}

/** The server that accepted the socket (`socket.server`, set by net.Server on every accepted socket, Node 0.x to 26). */
export function serverOf (socket: Socket): NetServer | undefined {
  return (socket as Socket & { server?: NetServer }).server ?? undefined
}

/**
 * The TCP socket a TLS socket wraps (`tlsSocket._parent`, Node 0.x to 26): graceful follows the TCP socket from its
 * first byte (a stalled handshake cannot hold the drain), then moves its record to the TLS socket.
 */
export function parentSocket (tlsSocket: Socket): Socket | undefined {
  return (tlsSocket as Socket & { _parent?: Socket | null })._parent ?? undefined
}

let kHttpConnections: symbol | undefined
/**
 * The HTTP/1 sockets of a server that are receiving a request right now, or have not sent one yet:
 * `server[kConnections].active()`, the list Node keeps for `headersTimeout` (Node 18.2 to 26; http and https servers).
 * An idle socket in it with bytes read is in the middle of a request's head: closing it would reset that request.
 * Undefined where Node keeps no list (an HTTP/2 server with allowHTTP1): then a socket that received bytes since the
 * signal counts as busy, and one that received part of a request's head before the signal only as quiet.
 */
export function receivingSockets (server: NetServer): Set<Socket> | undefined {
  kHttpConnections ??= ownSymbol(server, 'http.server.connections')
  if (kHttpConnections === undefined) return undefined
  const list = (server as unknown as Record<symbol, { active?: () => Array<{ socket?: Socket }> } | undefined>)[kHttpConnections]
  if (typeof list?.active !== 'function') return undefined
  const sockets = new Set<Socket>()
  for (const parser of list.active()) if (parser.socket !== undefined) sockets.add(parser.socket)
  return sockets
}

/**
 * Every HTTP/1 socket of a server, from the same list (`server[kConnections].all()`): the sockets that connected
 * before `attach()`, which graceful would otherwise never see. Empty where Node keeps no list.
 */
export function httpSockets (server: NetServer): Socket[] {
  kHttpConnections ??= ownSymbol(server, 'http.server.connections')
  if (kHttpConnections === undefined) return []
  const list = (server as unknown as Record<symbol, { all?: () => Array<{ socket?: Socket }> } | undefined>)[kHttpConnections]
  if (typeof list?.all !== 'function') return []
  const sockets: Socket[] = []
  for (const parser of list.all()) if (parser.socket !== undefined && !parser.socket.destroyed) sockets.push(parser.socket)
  return sockets
}

let kTimeout: symbol | undefined
/**
 * How long an idle keep-alive socket has been quiet, in ms, or undefined when Node does not know. After a response,
 * Node arms the socket's keep-alive timer (`socket[kTimeout]`, Node 18 to 26), and every read or write on the socket
 * refreshes its `_idleStart`, in the timers' clock; a complete request disarms it. A live timer (`_idleTimeout` > 0)
 * therefore says since when the socket has neither read nor written. Without it (keepAliveTimeout 0, or Node changed),
 * the quiet time is unknown and the socket waits the whole `idleSocketGrace`. `now` is `loopNow()`.
 */
export function quietFor (socket: Socket, now: number | undefined): number | undefined {
  if (now === undefined) return undefined
  kTimeout ??= ownSymbol(socket, 'timeout')
  if (kTimeout === undefined) return undefined
  const timer = (socket as unknown as Record<symbol, { _idleStart?: unknown, _idleTimeout?: unknown, _destroyed?: unknown } | null | undefined>)[kTimeout]
  if (timer === null || timer === undefined || timer._destroyed === true || typeof timer._idleStart !== 'number' ||
    typeof timer._idleTimeout !== 'number' || timer._idleTimeout <= 0) return undefined
  return Math.max(0, now - timer._idleStart)
}

/**
 * The timers' clock (libuv's loop time, in ms) that `_idleStart` is in, read from a timer made for the purpose: Node
 * exposes it nowhere else. Read once per drain, not per socket.
 */
export function loopNow (): number | undefined {
  const timer = setTimeout(noop, 1)
  clearTimeout(timer)
  const start = (timer as unknown as { _idleStart?: unknown })._idleStart
  return typeof start === 'number' ? start : undefined
}

let kSessionState: symbol | undefined
/**
 * The open streams of an HTTP/2 session: `session[kState].streams` (Node 18 to 26), read when a shutdown begins or a
 * gauge is read. Without it an HTTP/2 session's streams are not counted in flight, and the drain still waits for the
 * session to close after its GOAWAY.
 */
export function openStreams (session: Http2Session): Iterable<ServerHttp2Stream> {
  kSessionState ??= ownSymbol(session, 'state')
  if (kSessionState === undefined) return []
  // Node's own SafeMap: map-shaped, but not an instance of this realm's Map.
  const streams = (session as unknown as Record<symbol, { streams?: { values?: unknown } } | undefined>)[kSessionState]?.streams
  return typeof streams?.values === 'function' ? (streams as Map<number, ServerHttp2Stream>).values() : []
}

function ownSymbol (holder: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(holder).find(symbol => symbol.description === description)
}

function noop (): void {}
