// The sockets of the attached servers: one plain record per connection, from accept (TLS: from the first TCP byte)
// until it closes or the drain destroys it. Nothing here runs per request; what a socket is doing is read from Node's
// own state when a shutdown needs it.
import { Server as NetServer, type Socket } from 'node:net'
import type { ServerResponse } from 'node:http'
import type { Http2Session } from 'node:http2'
import { performance } from 'node:perf_hooks'
import { httpSockets, parentSocket } from './internals.js'

/**
 * The newest response queued on an HTTP/1 socket behind the one being written (pipelined), stored on the socket by
 * the probe routes as its request passes. Node keeps pipelined responses in a queue only it sees; when the shutdown
 * begins, the newest must say `Connection: close`, and no other. A response Node writes at once is not stored: it is
 * `socket._httpMessage`, and a stored one would stay alive with its request on every idle keep-alive socket. What is
 * stored is finished by the time another request finds the socket idle; readers check `writableFinished`.
 */
export const kLatestResponse: unique symbol = Symbol('graceful.latest-response')

/** The newest pipelined response a socket has queued, or undefined (possibly one long finished). */
export function latestResponse (socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { [kLatestResponse]?: ServerResponse })[kLatestResponse]
}

/** How a socket ended during a drain, so that its 'close' is counted in the right column of the report. */
export const ENDED_BY_PEER_OR_RESPONSE = 0
export const ENDED_IDLE = 1
export const ENDED_FORCED = 2

/** One accepted connection. The fields below `session` are written only once a shutdown has begun. */
export class SocketRecord {
  /** The TCP socket, then (TLS) the TLS socket that requests arrive on. */
  socket: Socket
  /** When it was accepted (`performance.now()`); 0 when unknown (a socket first seen through a request). */
  readonly connectedAt: number
  /** A TLS socket before its handshake completes: the bytes it reads are handshake, not a request. */
  handshaking: boolean
  /** The HTTP/2 session on this socket: its streams are the requests, and GOAWAY is how its client is told to go. */
  session: Http2Session | undefined = undefined
  /** Upgraded to a WebSocket that the application closes itself (going away) when draining begins. */
  webSocket = false
  /** The response that is to say `Connection: close` when its head goes out: the newest graceful has seen. */
  told: ServerResponse | undefined = undefined
  /** The response whose head went out with `Connection: close`: Node closes the socket after it. */
  closing: ServerResponse | undefined = undefined
  /** `socket.bytesRead` when the shutdown began, for a socket idle then; -1 otherwise. */
  readAtSignal = -1
  /** When its last followed response finished (`performance.now()`), during the shutdown; 0 before. */
  finishedAt = 0
  /** When graceful first followed the request now in flight, for a forced request's age. */
  followedAt = 0
  /** `socket.bytesRead` when a quiet window started: more since then means a request is on its way in. */
  readAtQuiet = 0
  timer: NodeJS.Timeout | undefined = undefined
  endedBy: number = ENDED_BY_PEER_OR_RESPONSE

  constructor (socket: Socket, connectedAt: number, handshaking: boolean) {
    this.socket = socket
    this.connectedAt = connectedAt
    this.handshaking = handshaking
  }
}

/** A request that reached the application without a socket (Fastify's `inject()`): followed until it ends. */
export interface SocketlessRequest {
  method: string
  path: string
  /** When it started (`performance.now()`). */
  since: number
  /** Its response was given (after the deadline cut it, too). */
  ended: boolean
}

/** What the drain and the HTTP/2 side want to hear about sockets while they run. */
export interface ConnectionObserver {
  /** A socket accepted (or an HTTP/2 session started) after the observer was set: the listener is closing. */
  accepted: (record: SocketRecord) => void
  closed: (record: SocketRecord) => void
  /** A server started listening (a signal can come before `listen`). */
  listening: (server: NetServer) => void
  /** A request without a socket ended. */
  socketlessEnded: () => void
}

/**
 * The records of every socket of the attached servers, each found from its socket through a symbol private to this
 * instance (two instances attached to one server must not share a socket's state).
 */
export class Connections {
  readonly records: Set<SocketRecord> = new Set()
  readonly servers: Set<NetServer> = new Set()
  /** Requests without a socket, in flight. */
  readonly socketless: Set<SocketlessRequest> = new Set()
  readonly #key: symbol = Symbol('graceful.socket')
  observer: ConnectionObserver | undefined = undefined
  /** Called for each HTTP/2 session as it starts, with its record. */
  onSession: ((record: SocketRecord) => void) | undefined = undefined

  readonly #onConnection = (socket: Socket): void => { this.#accepted(socket, false) }
  readonly #onTlsConnection = (socket: Socket): void => { this.#accepted(socket, true) }
  readonly #onSecureConnection = (socket: Socket): void => { this.#onSecure(socket) }
  readonly #onSession = (session: Http2Session): void => { this.#sessionStarted(session) }
  readonly #onSocketClose: (this: Socket) => void
  readonly #onListening: (this: NetServer) => void

  constructor () {
    // One function for every socket, which finds its record through the emitter: no closure per connection.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const connections = this
    const key = this.#key
    this.#onSocketClose = function () {
      const record = (this as unknown as Record<symbol, SocketRecord | undefined>)[key]
      if (record !== undefined) connections.release(record)
    }
    this.#onListening = function () { connections.observer?.listening(this) }
  }

  /** The symbol a socket's (or a followed response's) record is stored under. */
  get key (): symbol {
    return this.#key
  }

  recordOf (socket: Socket): SocketRecord | undefined {
    return (socket as unknown as Record<symbol, SocketRecord | undefined>)[this.#key]
  }

  attach (server: NetServer): boolean {
    if (this.servers.has(server)) return false
    this.servers.add(server)
    // TLS: 'connection' gives the TCP socket (followed from its first byte, so a stalled handshake cannot hold the
    // drain); 'secureConnection' the TLS socket that requests arrive on. Both prepended: an HTTP/2 server starts its
    // session in its own listener, and the session must find its socket followed.
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

  /** Follows a request that has no socket until the function it returns is called (once). */
  followSocketless (method: string, path: string): () => void {
    const request: SocketlessRequest = { method, path, since: performance.now(), ended: false }
    this.socketless.add(request)
    return () => {
      request.ended = true
      if (this.socketless.delete(request)) this.observer?.socketlessEnded()
    }
  }

  /** Follows a socket first seen through a request (connected before its server was attached): its age is unknown. */
  adopt (socket: Socket): SocketRecord {
    return this.recordOf(socket) ?? this.#track(socket, 0, false)
  }

  #accepted (socket: Socket, tls: boolean): void {
    const record = this.#track(socket, performance.now(), tls)
    this.observer?.accepted(record)
  }

  #track (socket: Socket, connectedAt: number, handshaking: boolean): SocketRecord {
    const record = new SocketRecord(socket, connectedAt, handshaking)
    ;(socket as unknown as Record<symbol, SocketRecord>)[this.#key] = record
    socket.on('close', this.#onSocketClose)
    this.records.add(record)
    return record
  }

  #onSecure (tlsSocket: Socket): void {
    // The record moves to the TLS socket, which requests arrive on and whose destruction ends both.
    const parent = parentSocket(tlsSocket)
    const record = parent === undefined ? undefined : this.recordOf(parent)
    if (record === undefined) {
      this.#track(tlsSocket, performance.now(), false)
      return
    }
    record.socket = tlsSocket
    record.handshaking = false
    ;(tlsSocket as unknown as Record<symbol, SocketRecord>)[this.#key] = record
  }

  #sessionStarted (session: Http2Session): void {
    // The session's socket is a proxy that reads through to the socket followed since 'connection'.
    const record = this.adopt(session.socket)
    record.session = session
    ;(session as unknown as Record<symbol, SocketRecord>)[this.#key] = record
    this.onSession?.(record)
  }

  /**
   * The socket is closed, or destroyed by the drain: it is followed no more, and the observer hears of it once. Its
   * 'close' event comes later for a socket the drain destroyed, and finds it released already.
   */
  release (record: SocketRecord): void {
    if (!this.records.delete(record)) return
    if (record.timer !== undefined) clearTimeout(record.timer)
    record.timer = undefined
    this.observer?.closed(record)
  }
}

/** node:http2's servers, secure or not (the only servers with `updateSettings`). */
export function isHttp2Server (server: NetServer): boolean {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function'
}

/** Every server graceful can drain (http, https, http2, and the frameworks' own) is a net.Server. */
export function isNetServer (value: unknown): value is NetServer {
  return value instanceof NetServer
}
