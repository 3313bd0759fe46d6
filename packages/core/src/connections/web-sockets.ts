// WebSockets: not requests, but connections to end politely (1001 Going Away) when draining begins.
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { gracefulError } from '../errors.js'
import { describe } from '../options/validate.js'

/** What graceful uses of a WebSocket: `close(code, reason)` and its 'close' event, as `ws` has them. */
export interface WebSocketLike {
  close (code?: number, reason?: string): void
  // A listener that takes nothing fits every library's 'close' signature.
  on (event: 'close', listener: () => void): unknown
}

/**
 * What graceful uses of a WebSocket server: its 'connection' event and, when it keeps them, its `clients`. `ws`'s
 * `WebSocketServer` and `@fastify/websocket`'s `fastify.websocketServer` fit; `ws` is never a dependency of graceful.
 */
export interface WebSocketServerLike {
  on (event: 'connection', listener: (socket: WebSocketLike, request: IncomingMessage) => void): unknown
  readonly clients?: Iterable<WebSocketLike>
}

/** 1001 Going Away (RFC 6455, 7.4.1): the endpoint is going down; clients reconnect, to another instance. */
export const GOING_AWAY = 1001

export function isWebSocketServer (value: unknown): value is WebSocketServerLike {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as { on?: unknown, clients?: unknown }
  return typeof candidate.on === 'function' &&
    (candidate.clients === undefined || (typeof candidate.clients === 'object' && candidate.clients !== null &&
      Symbol.iterator in candidate.clients))
}

export class WebSockets {
  readonly #open = new Set<WebSocketLike>()
  readonly #servers = new WeakSet<object>()
  readonly #markSocket: (socket: Socket) => void
  #goingAway = false
  readonly #onConnection = (socket: WebSocketLike, request: IncomingMessage | undefined): void => {
    this.#accepted(socket, request)
  }

  readonly #onClose: (this: WebSocketLike) => void

  constructor (markSocket: (socket: Socket) => void) {
    this.#markSocket = markSocket
    const open = this.#open
    // One function for every WebSocket, which finds it as `this`: no closure per connection.
    this.#onClose = function () { open.delete(this) }
  }

  track (server: WebSocketServerLike): void {
    if (!isWebSocketServer(server)) {
      throw gracefulError('GRACEFUL_ERR_NOT_A_WEBSOCKET_SERVER', describe(server))
    }
    if (this.#servers.has(server)) return
    this.#servers.add(server)
    server.on('connection', this.#onConnection)
    // Those accepted before: their sockets are not marked (no request at hand), but they are told to go all the same.
    if (server.clients !== undefined) for (const socket of server.clients) this.#accepted(socket, undefined)
  }

  goAway (): void {
    this.#goingAway = true
    for (const socket of this.#open) close(socket)
  }

  #accepted (socket: WebSocketLike, request: IncomingMessage | undefined): void {
    if (this.#open.has(socket)) return
    if (request !== undefined) this.#markSocket(request.socket)
    if (this.#goingAway) {
      close(socket)
      return
    }
    this.#open.add(socket)
    socket.on('close', this.#onClose)
  }
}

function close (socket: WebSocketLike): void {
  try {
    socket.close(GOING_AWAY, 'server shutting down')
  } catch {
    // One that cannot be closed politely (still connecting, say) is left to the drain deadline.
  }
}
