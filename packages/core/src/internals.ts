// Every Node internal graceful reads, each tested on every supported Node line (test/core/internals.test.ts), its fallback
// named in docs/how-it-works.md. None is read per request but `isQueued`.
import type { ServerResponse } from 'node:http'
import type { Http2Session, ServerHttp2Stream } from 'node:http2'
import type { Server as NetServer, Socket } from 'node:net'

// The response being written on an HTTP/1 socket: `socket._httpMessage` (Node 18–26, as closeIdleConnections reads).
export function activeResponse (socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined
}

// True for a response queued behind the one being written: Node gives it its socket only at the front of the queue
// (`response.socket` is null until then, Node 18–26). Read per request, so that only such a response is stored.
export function isQueued (response: ServerResponse): boolean {
  return response.socket === null
}

/** True when Node has taken the socket away from HTTP/1 (an upgrade: WebSocket, CONNECT): it has no parser left. */
export function isDetachedFromHttp (socket: Socket): boolean {
  return (socket as Socket & { parser?: unknown }).parser === null
}

/** The server that accepted the socket (`socket.server`, Node 0.x–26). */
export function serverOf (socket: Socket): NetServer | undefined {
  return (socket as Socket & { server?: NetServer }).server ?? undefined
}

/** The TCP socket under a TLS socket (`tlsSocket._parent`, Node 0.x–26): followed from its first byte. */
export function parentSocket (tlsSocket: Socket): Socket | undefined {
  return (tlsSocket as Socket & { _parent?: Socket | null })._parent ?? undefined
}

let kHttpConnections: symbol | undefined
// HTTP/1 sockets receiving a request (or yet to send one): `server[kConnections].active()`, the list Node keeps for
// `headersTimeout` (Node 18.2–26); one with bytes read is mid-head, and closing it would reset that request.
// Undefined without the list (HTTP/2 with allowHTTP1): then only bytes since the signal make a socket busy.
export function receivingSockets (server: NetServer): Set<Socket> | undefined {
  kHttpConnections ??= ownSymbol(server, 'http.server.connections')
  if (kHttpConnections === undefined) return undefined
  const list = (server as unknown as Record<symbol, { active?: () => Array<{ socket?: Socket }> } | undefined>)[kHttpConnections]
  if (typeof list?.active !== 'function') return undefined
  const sockets = new Set<Socket>()
  for (const parser of list.active()) if (parser.socket !== undefined) sockets.add(parser.socket)
  return sockets
}

/** Every HTTP/1 socket of a server, from the same list (`.all()`): those connected before `attach()` too. */
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
// How long an idle keep-alive socket has been quiet (`now`: `loopNow()`): Node's keep-alive timer (`socket[kTimeout]`,
// Node 18–26) is armed after a response, refreshed by every read or write, disarmed by a complete request.
export function quietFor (socket: Socket, now: number | undefined): number | undefined {
  if (now === undefined) return undefined
  kTimeout ??= ownSymbol(socket, 'timeout')
  if (kTimeout === undefined) return undefined
  const timer = (socket as unknown as Record<symbol, { _idleStart?: unknown, _idleTimeout?: unknown, _destroyed?: unknown } | null | undefined>)[kTimeout]
  if (timer === null || timer === undefined || timer._destroyed === true || typeof timer._idleStart !== 'number' ||
    typeof timer._idleTimeout !== 'number' || timer._idleTimeout <= 0) return undefined
  return Math.max(0, now - timer._idleStart)
}

/** The timers' clock (libuv's loop time) of `_idleStart`, from a throwaway timer: Node exposes it nowhere else. */
export function loopNow (): number | undefined {
  const timer = setTimeout(noop, 1)
  clearTimeout(timer)
  const start = (timer as unknown as { _idleStart?: unknown })._idleStart
  return typeof start === 'number' ? start : undefined
}

let kSessionState: symbol | undefined
/** An HTTP/2 session's open streams (`session[kState].streams`, Node 18–26); without them none counts in flight. */
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
