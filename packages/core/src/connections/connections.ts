// One Connection per socket of the attached servers (TLS: from the first TCP byte). Nothing here runs per request.
import { Server as NetServer, type Socket } from 'node:net'
import type { ServerResponse } from 'node:http'
import type { Http2Session } from 'node:http2'
import { performance } from 'node:perf_hooks'
import { Connection } from './connection.js'
import { gracefulError } from '../errors.js'
import { httpSockets, parentSocket } from '../internals.js'
import { kLatestResponse } from '../symbols.js'
import { describe, serverHint } from '../options/validate.js'

/** The newest pipelined response a socket has queued (stored by the probe routes), or undefined (maybe long finished). */
export function latestResponse (socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { [kLatestResponse]?: ServerResponse })[kLatestResponse]
}

/** A request that reached the application without a socket (Fastify's `inject()`): followed until it ends. */
export interface SocketlessRequest {
  method: string
  path: string
  since: number
  ended: boolean
}

export interface ConnectionEvents {
  /** Accepted (or an HTTP/2 session started) while the listener was closing. */
  accepted: (connection: Connection) => void
  closed: (connection: Connection) => void
  /** A server started listening (a signal can come before `listen`). */
  listening: (server: NetServer) => void
  socketlessEnded: () => void
  session: (connection: Connection) => void
}

/** Each socket's Connection, under a symbol private to this instance: two instances on one server share no state. */
export class Connections {
  readonly all: Set<Connection> = new Set()
  readonly servers: Set<NetServer> = new Set()
  readonly socketless: Set<SocketlessRequest> = new Set()
  readonly #key: symbol = Symbol('graceful.connection')
  #events: ConnectionEvents | undefined = undefined

  readonly #onConnection = (socket: Socket): void => { this.#accepted(socket, false) }
  readonly #onTlsConnection = (socket: Socket): void => { this.#accepted(socket, true) }
  readonly #onSecureConnection = (socket: Socket): void => { this.#onSecure(socket) }
  readonly #onSession = (session: Http2Session): void => { this.#sessionStarted(session) }
  readonly #onSocketClose: (this: Socket) => void
  readonly #onListening: (this: NetServer) => void

  constructor () {
    // One function for every socket, which finds its connection through the emitter: no closure per connection.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const connections = this
    const key = this.#key
    this.#onSocketClose = function () {
      const connection = (this as unknown as Record<symbol, Connection | undefined>)[key]
      if (connection !== undefined) connections.release(connection)
    }
    this.#onListening = function () { connections.#events?.listening(this) }
  }

  get key (): symbol {
    return this.#key
  }

  of (socket: Socket): Connection | undefined {
    return (socket as unknown as Record<symbol, Connection | undefined>)[this.#key]
  }

  report (events: ConnectionEvents): void {
    this.#events = events
  }

  attach (server: NetServer): boolean {
    if (this.servers.has(server)) return false
    this.servers.add(server)
    // TLS: followed from the TCP socket's first byte (a stalled handshake cannot hold the drain). Prepended: an HTTP/2
    // server starts its session in its own listener, and the session must find its socket followed.
    if (typeof (server as { setSecureContext?: unknown }).setSecureContext === 'function') {
      server.prependListener('connection', this.#onTlsConnection)
      server.prependListener('secureConnection', this.#onSecureConnection)
    } else {
      server.prependListener('connection', this.#onConnection)
    }
    if (isHttp2Server(server)) server.on('session', this.#onSession)
    server.on('listening', this.#onListening)
    // Attached late (after listen, or by the middleware on a first request): the sockets already open are followed too.
    for (const socket of httpSockets(server)) this.adopt(socket)
    return true
  }

  detach (): void {
    for (const server of this.servers) {
      server.off('connection', this.#onConnection)
      server.off('connection', this.#onTlsConnection)
      server.off('secureConnection', this.#onSecureConnection)
      server.off('session', this.#onSession)
      server.off('listening', this.#onListening)
    }
    this.servers.clear()
  }

  followSocketless (method: string, path: string): () => void {
    const request: SocketlessRequest = { method, path, since: performance.now(), ended: false }
    this.socketless.add(request)
    return () => {
      request.ended = true
      if (this.socketless.delete(request)) this.#events?.socketlessEnded()
    }
  }

  /** Follows a socket first seen through a request (connected before its server was attached): its age is unknown. */
  adopt (socket: Socket): Connection {
    return this.of(socket) ?? this.#track(socket, 0, false)
  }

  #accepted (socket: Socket, tls: boolean): void {
    const connection = this.#track(socket, performance.now(), tls)
    this.#events?.accepted(connection)
  }

  #track (socket: Socket, connectedAt: number, handshaking: boolean): Connection {
    const connection = new Connection(socket, connectedAt, handshaking)
    ;(socket as unknown as Record<symbol, Connection>)[this.#key] = connection
    socket.on('close', this.#onSocketClose)
    this.all.add(connection)
    return connection
  }

  #onSecure (tlsSocket: Socket): void {
    const parent = parentSocket(tlsSocket)
    const connection = parent === undefined ? undefined : this.of(parent)
    if (connection === undefined) {
      this.#track(tlsSocket, performance.now(), false)
      return
    }
    connection.secured(tlsSocket)
    ;(tlsSocket as unknown as Record<symbol, Connection>)[this.#key] = connection
  }

  #sessionStarted (session: Http2Session): void {
    // The session's socket is a proxy that reads through to the socket followed since 'connection'.
    const connection = this.adopt(session.socket)
    connection.sessionStarted(session)
    ;(session as unknown as Record<symbol, Connection>)[this.#key] = connection
    this.#events?.session(connection)
  }

  /** Followed no more; the drain hears of it once (a destroyed socket's 'close' comes later and finds it gone). */
  release (connection: Connection): void {
    if (!this.all.delete(connection)) return
    connection.closed()
    this.#events?.closed(connection)
  }
}

export function isHttp2Server (server: NetServer): boolean {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function'
}

/** Every server graceful can drain is a net.Server; a shape check would pass a Koa app and fail only in the drain. */
export function checkedServer (value: unknown): NetServer {
  if (value instanceof NetServer) return value
  throw gracefulError('GRACEFUL_ERR_NOT_A_SERVER', describe(value), serverHint(value))
}
