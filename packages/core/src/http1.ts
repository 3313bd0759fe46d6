// HTTP/1.1 once a shutdown has begun: telling keep-alive clients to go (`Connection: close` on the newest response),
// declining what is pipelined behind a response that said so, and following responses until their socket is idle.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { latestResponse, type Connections, type SocketRecord } from './connections.js'
import { activeResponse, isDetachedFromHttp, receivingSockets, serverOf } from './internals.js'
import { kProbeResponse, NOT_A_PROBE, type ProbeKind, type RequestObserver } from './probe-routes.js'

/** What the drain wants to hear from the responses it follows. */
export interface ResponseObserver {
  /** A followed response finished and its socket has nothing else in flight: it is idle now. */
  idle: (record: SocketRecord) => void
  /** A followed response (not a probe's) finished. */
  completed: () => void
}

/**
 * From the signal on, every request that reaches the application passes here first (the probe routes call it), and
 * every HTTP/1 response in flight is followed: listeners are added now, never while the service runs.
 */
export class Telling implements RequestObserver {
  /** Requests that arrived after the signal and before draining began. */
  servedWhileStopping = 0
  /** Requests pipelined behind a response that said `Connection: close`: not handed to the application (RFC 9112 §9.6). */
  declined = 0
  /**
   * When the last request (not a probe) arrived on a connection opened after the signal, in `performance.now()` time:
   * the adaptive lame duck's evidence that a load balancer still routes here. 0 when none has.
   */
  freshRequestAt = 0
  /** When the shutdown began (`performance.now()`). */
  readonly since: number
  draining = false
  /**
   * The last moments of the lame duck (`SETTLE_MS`): responses keep their connection, so that no client told to go
   * is reconnecting to this instance as its listener closes (a connection still in the kernel's accept queue then is
   * reset, and a POST on it is not safe to retry). Draining tells them.
   */
  settling = false
  observer: ResponseObserver | undefined = undefined
  readonly #connections: Connections
  readonly #match: (url: string) => ProbeKind
  readonly #onFinish: (this: ServerResponse) => void
  readonly #writeHead: (this: ServerResponse, ...args: unknown[]) => ServerResponse
  readonly #closeSoon: (this: Socket) => void
  /** The sockets receiving a request, per server, read once per turn of the event loop. */
  #receiving: Map<object, Set<Socket> | undefined> | undefined

  constructor (connections: Connections, match: (url: string) => ProbeKind) {
    this.#connections = connections
    this.#match = match
    this.since = performance.now()
    // One function for every response, which finds its socket's record through the response: no closure each.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const telling = this
    const key = connections.key
    this.#onFinish = function () {
      const record = (this as unknown as Record<symbol, SocketRecord | undefined>)[key]
      if (record !== undefined) telling.#finished(record, this)
    }
    // Whether the newest response says `Connection: close` is decided as its head goes out, not when its request
    // arrived: by then the next pipelined request may be arriving behind it, and closing after this response would
    // drop the part of it Node has read. Then the close waits for that request's response.
    this.#writeHead = function (...args) {
      const record = (this as unknown as Record<symbol, SocketRecord | undefined>)[key]
      restoreWriteHead(this)
      // Node's parser counts a request as being received until its message completes, which for a response written
      // at once is after this head: only once this response's own request is complete does "receiving" mean another.
      if (record !== undefined && record.told === this && !telling.settling && args[0] !== 101 &&
        !(this.req.complete && telling.#receivingOn(record))) {
        this.setHeader('connection', 'close')
        record.closing = this
        ;(record.socket as Socket & { destroySoon: unknown }).destroySoon = telling.#closeSoon
        // A `Connection` the application passes here (keep-alive, as server-sent events handlers and proxies write)
        // would override it: the client would keep a connection that is about to close, and be reset on its next
        // request.
        return this.writeHead(...(withoutConnection(args) as Parameters<ServerResponse['writeHead']>))
      }
      return this.writeHead(...(args as Parameters<ServerResponse['writeHead']>))
    }
    // Node ends a socket after its close response with destroySoon(): the FIN, then destroyed once it is out. Where
    // the client may still be sending, a staged close instead (RFC 9112 §9.6): see `lingeringClose`.
    this.#closeSoon = function () {
      Reflect.deleteProperty(this, 'destroySoon')
      const record = connections.recordOf(this)
      if (record !== undefined && telling.#maySend(record)) lingeringClose(this)
      else this.destroySoon()
    }
  }

  /**
   * Whether the client may still be sending on a socket whose response said close, as nginx's `lingering_close on`
   * judges it: it has pipelined on this connection before (a request that wrote ahead of its answers may have written
   * ahead again), another request is arriving, or the closing response went out before its request's body was in.
   */
  #maySend (record: SocketRecord): boolean {
    return latestResponse(record.socket) !== undefined || record.closing?.req.complete === false || this.#receivingOn(record)
  }

  /** True when Node's parser is in the middle of another request on the record's socket. */
  #receivingOn (record: SocketRecord): boolean {
    const server = serverOf(record.socket)
    if (server === undefined) return false
    if (this.#receiving === undefined) {
      this.#receiving = new Map()
      setImmediate(() => { this.#receiving = undefined })
    }
    if (!this.#receiving.has(server)) this.#receiving.set(server, receivingSockets(server))
    return this.#receiving.get(server)?.has(record.socket) === true
  }

  /** Only the newest response on a socket may carry `Connection: close`: Node closes the socket after it. */
  #tell (record: SocketRecord, response: ServerResponse): void {
    if (response.headersSent) return
    const previous = record.told
    // A pipelined request arrived behind a response whose head has not gone out: that one must not close the socket.
    if (previous !== undefined && previous !== response && !previous.headersSent) {
      if ((previous as ServerResponse & { writeHead: unknown }).writeHead === this.#writeHead) restoreWriteHead(previous)
    }
    record.told = response
    const told = response as ServerResponse & { writeHead: unknown, [kOwnWriteHead]?: unknown }
    if (told.writeHead === this.#writeHead) return
    // A writeHead the application wrapped before the signal (on-headers: compression, morgan, sessions) still runs.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    if (Object.hasOwn(told, 'writeHead') && told[kOwnWriteHead] === undefined) told[kOwnWriteHead] = told.writeHead
    told.writeHead = this.#writeHead
  }

  /** The shutdown begins: the newest response of every socket in flight tells its client to go. */
  start (): void {
    for (const record of this.#connections.records) {
      // An upgraded socket (WebSocket) has left HTTP: its own protocol tells its client to go.
      if (record.session !== undefined || isDetachedFromHttp(record.socket)) continue
      const active = activeResponse(record.socket)
      if (active === undefined) {
        record.readAtSignal = record.socket.bytesRead
        continue
      }
      record.followedAt = this.since
      this.#follow(record, active)
      // Pipelined responses wait behind the active one: only the newest may say `Connection: close`.
      const latest = latestResponse(record.socket)
      if (latest !== undefined && !latest.writableFinished) {
        this.#follow(record, latest)
        this.#tell(record, latest)
      } else {
        this.#tell(record, active)
      }
    }
  }

  request (req: IncomingMessage, res: ServerResponse): boolean {
    return this.#told(req, res, false)
  }

  probe (req: IncomingMessage, res: ServerResponse): boolean {
    return this.#told(req, res, true)
  }

  #told (req: IncomingMessage, res: ServerResponse, probe: boolean): boolean {
    // HTTP/2 streams are counted as streams (they arrive through 'stream' first); their client is told by GOAWAY.
    if (req.httpVersionMajor === 2) return true
    const record = this.#connections.adopt(req.socket)
    const closing = record.closing
    // Once a response that said `Connection: close` has started, the client has stopped sending on this connection
    // (RFC 9112 §9.6): a request behind it would be processed and its answer dropped. The client retries it.
    if (closing !== undefined && closing !== res) {
      this.declined++
      return false
    }
    if (!probe) this.#arrived(record)
    if (activeResponse(record.socket) === res) record.followedAt = performance.now()
    this.#follow(record, res)
    this.#tell(record, res)
    return true
  }

  stream (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    if (this.#match(headers[':path'] ?? '/') !== NOT_A_PROBE) return
    const session = stream.session
    const record = session === undefined ? undefined : this.#connections.recordOf(session.socket)
    if (record !== undefined) this.#arrived(record)
  }

  #arrived (record: SocketRecord): void {
    if (this.draining) return
    this.servedWhileStopping++
    if (record.connectedAt >= this.since) this.freshRequestAt = performance.now()
  }

  #follow (record: SocketRecord, res: ServerResponse): void {
    const followed = res as unknown as Record<symbol, SocketRecord | undefined>
    if (followed[this.#connections.key] !== undefined) return
    followed[this.#connections.key] = record
    if (record.timer !== undefined) {
      clearTimeout(record.timer)
      record.timer = undefined
    }
    res.on('finish', this.#onFinish)
  }

  #finished (record: SocketRecord, res: ServerResponse): void {
    if ((res as ServerResponse & { [kProbeResponse]?: boolean })[kProbeResponse] !== true) this.observer?.completed()
    const socket = record.socket
    // Node has handed the socket to the next pipelined response by now (its own 'finish' listener runs first).
    const next = activeResponse(socket)
    if (next !== undefined) {
      record.followedAt = performance.now()
      this.#follow(record, next)
      return
    }
    record.finishedAt = performance.now()
    record.followedAt = 0
    // A response told `Connection: close` makes Node end the socket (its write side is ended by now); one whose headers
    // left before the signal did not, and its socket is closed once it has been quiet.
    if (!socket.destroyed && !socket.writableEnded) this.observer?.idle(record)
  }
}

const kOwnWriteHead = Symbol('graceful.own-write-head')

/** Gives a response back the writeHead it had before it was told. */
function restoreWriteHead (response: ServerResponse): void {
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
function withoutConnection (args: unknown[]): unknown[] {
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

/** How long a socket that said `Connection: close` goes on reading after its last response, at most. */
export const LINGER_MS = 1_000

/**
 * The staged close: the FIN, then reading goes on until the client closes too (it does on reading the close), for
 * `LINGER_MS` at most. Node's own close destroys the socket as soon as its FIN is out; a request the client wrote
 * before that FIN reached it then meets a closed socket, and the kernel answers with a reset, which can also destroy
 * the close response itself in the client's buffer before it is read. A request that arrives meanwhile is declined
 * and counted, and the client retries it.
 */
function lingeringClose (socket: Socket): void {
  if (socket.writable) socket.end()
  if (socket.destroyed) return
  const timer = setTimeout(() => { socket.destroy() }, LINGER_MS)
  socket.once('close', () => { clearTimeout(timer) })
}

/**
 * Requests in flight on an HTTP/1 socket, read from Node's state: the response being written, and one more when a
 * newer one waits behind it (pipelined; deeper queues count as two). Probes are not application work.
 */
export function http1InFlight (record: SocketRecord): number {
  const active = activeResponse(record.socket)
  // An upgrade handled outside 'request' (@fastify/websocket) leaves a response on a socket that has left HTTP.
  if (active === undefined || isDetachedFromHttp(record.socket)) return 0
  const latest = latestResponse(record.socket)
  const behind = latest !== undefined && latest !== active && !latest.writableFinished ? 1 : 0
  return ((active as ServerResponse & { [kProbeResponse]?: boolean })[kProbeResponse] === true ? 0 : 1) + behind
}

/** The responses in flight on an HTTP/1 socket, for the report when the deadline cuts them. */
export function http1Responses (record: SocketRecord): ServerResponse[] {
  const active = activeResponse(record.socket)
  if (active === undefined || isDetachedFromHttp(record.socket)) return []
  const responses: ServerResponse[] = [active]
  const latest = latestResponse(record.socket)
  if (latest !== undefined && latest !== active && !latest.writableFinished) responses.push(latest)
  return responses
}
