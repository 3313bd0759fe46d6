// HTTP/1.1 once shutting down: the newest response says `Connection: close`, what is pipelined behind it is declined.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { saysClose } from './close-decision.js'
import type { Connection } from './connection.js'
import { latestResponse, type Connections } from './connections.js'
import { lingeringClose, restoreWriteHead, withoutConnection, wrapWriteHead } from './http1-sockets.js'
import { activeResponse, receivingSockets, serverOf } from '../internals.js'
import { NOT_A_PROBE, type ProbeKind, type RequestObserver } from '../serving/probe-routes.js'
import { kProbeResponse } from '../symbols.js'

export interface ResponseEvents {
  /** A followed response finished and its connection has nothing else in flight: it is idle now. */
  idle: (connection: Connection) => void
  completed: () => void
}

/** From the signal on, every request passes here before the application; nothing is added while the service runs. */
export class Telling implements RequestObserver {
  servedWhileStopping = 0
  /** Requests pipelined behind a response that said `Connection: close`: declined (RFC 9112 §9.6). */
  declined = 0
  /** When the last request (no probe) came on a connection opened after the signal: the adaptive lame duck's clue. */
  freshRequestAt = 0
  readonly since: number
  // The lame duck's last moments and the poll before the listener closes: responses keep their connection, so that no
  // client is reconnecting as the listener closes (its accept queue is reset: a POST there is unsafe to retry).
  #settling = false
  #events: ResponseEvents | undefined = undefined
  readonly #connections: Connections
  readonly #match: (url: string) => ProbeKind
  readonly #onFinish: (this: ServerResponse) => void
  readonly #writeHead: (this: ServerResponse, ...args: unknown[]) => ServerResponse
  readonly #closeSoon: (this: Socket) => void
  #receivingBy: Map<object, Set<Socket> | undefined> | undefined

  constructor (connections: Connections, match: (url: string) => ProbeKind) {
    this.#connections = connections
    this.#match = match
    this.since = performance.now()
    // One function for every response, which finds its connection through the response: no closure each.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const telling = this
    const key = connections.key
    this.#onFinish = function () {
      const connection = (this as unknown as Record<symbol, Connection | undefined>)[key]
      if (connection !== undefined) telling.#finished(connection, this)
    }
    // Decided as the head goes out, not when the request arrived: by then the next pipelined request may be arriving,
    // and closing after this response would drop it; the close then waits for that request's answer.
    this.#writeHead = function (...args) {
      const connection = (this as unknown as Record<symbol, Connection | undefined>)[key]
      restoreWriteHead(this)
      // Node's parser counts a request as received until it completes, which for a response written at once is after
      // this head: only once this response's own request is complete does "receiving" mean another.
      if (connection !== undefined && saysClose({
        newest: connection.told === this,
        settling: telling.#settling,
        statusCode: args[0],
        requestComplete: this.req.complete,
        receivingNext: () => telling.#receivingOn(connection)
      })) {
        this.setHeader('connection', 'close')
        connection.headSaidClose(this)
        ;(connection.socket as Socket & { destroySoon: unknown }).destroySoon = telling.#closeSoon
        // The application's own `Connection: keep-alive` (event streams, proxies) would keep a closing connection.
        return this.writeHead(...(withoutConnection(args) as Parameters<ServerResponse['writeHead']>))
      }
      return this.writeHead(...(args as Parameters<ServerResponse['writeHead']>))
    }
    // Node ends the socket with destroySoon(); where the client may still be sending, `lingeringClose` instead.
    this.#closeSoon = function () {
      Reflect.deleteProperty(this, 'destroySoon')
      const connection = connections.of(this)
      if (connection !== undefined && telling.#maySend(connection)) lingeringClose(this)
      else this.destroySoon()
    }
  }

  settle (): void {
    this.#settling = true
  }

  drain (events: ResponseEvents): void {
    this.#settling = false
    this.#events = events
  }

  /** Requests no longer count as served during the lame duck. */
  get draining (): boolean {
    return this.#events !== undefined
  }

  // Whether the client may still be sending after a close response (nginx's `lingering_close on`): it pipelined here
  // before, another request is arriving, or the closing response went out before its request's body was in.
  #maySend (connection: Connection): boolean {
    return latestResponse(connection.socket) !== undefined || connection.closing?.req.complete === false || this.#receivingOn(connection)
  }

  readonly #receivingSocket = (socket: Socket): boolean => this.#receiving(socket)

  #receivingOn (connection: Connection): boolean {
    return this.#receiving(connection.socket)
  }

  #receiving (socket: Socket): boolean {
    const server = serverOf(socket)
    if (server === undefined) return false
    if (this.#receivingBy === undefined) {
      this.#receivingBy = new Map()
      setImmediate(() => { this.#receivingBy = undefined })
    }
    if (!this.#receivingBy.has(server)) this.#receivingBy.set(server, receivingSockets(server))
    return this.#receivingBy.get(server)?.has(socket) === true
  }

  /** Only the newest response on a connection may carry `Connection: close`: Node closes the socket after it. */
  #tell (connection: Connection, response: ServerResponse): void {
    if (response.headersSent) return
    const previous = connection.tell(response)
    // A pipelined request arrived behind a response whose head has not gone out: that one must not close the socket.
    if (previous !== undefined && previous !== response && !previous.headersSent &&
      (previous as ServerResponse & { writeHead: unknown }).writeHead === this.#writeHead) restoreWriteHead(previous)
    wrapWriteHead(response, this.#writeHead)
  }

  start (): void {
    for (const connection of this.#connections.all) {
      // Idle, never used, upgraded or HTTP/2 (GOAWAY): nothing to follow.
      const active = connection.signal(this.#receivingSocket)
      if (active === undefined) continue
      connection.runningSince(this.since)
      this.#follow(connection, active)
      const latest = latestResponse(connection.socket)
      if (latest !== undefined && !latest.writableFinished) {
        this.#follow(connection, latest)
        this.#tell(connection, latest)
      } else {
        this.#tell(connection, active)
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
    // HTTP/2 streams arrive through 'stream' first; GOAWAY tells their client.
    if (req.httpVersionMajor === 2) return true
    const connection = this.#connections.adopt(req.socket)
    const closing = connection.closing
    // Once a close response has started, the client has stopped sending here (RFC 9112 §9.6): a request behind it
    // would be processed and its answer dropped. The client retries it.
    if (closing !== undefined && closing !== res) {
      this.declined++
      return false
    }
    if (!probe) this.#arrived(connection)
    if (activeResponse(connection.socket) === res) connection.runningSince(performance.now())
    this.#follow(connection, res)
    this.#tell(connection, res)
    return true
  }

  stream (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    if (this.#match(headers[':path'] ?? '/') !== NOT_A_PROBE) return
    const session = stream.session
    const connection = session === undefined ? undefined : this.#connections.of(session.socket)
    if (connection !== undefined) this.#arrived(connection)
  }

  #arrived (connection: Connection): void {
    if (this.draining) return
    this.servedWhileStopping++
    if (connection.connectedAt >= this.since) this.freshRequestAt = performance.now()
  }

  #follow (connection: Connection, res: ServerResponse): void {
    const followed = res as unknown as Record<symbol, Connection | undefined>
    if (followed[this.#connections.key] !== undefined) return
    followed[this.#connections.key] = connection
    connection.follow()
    res.on('finish', this.#onFinish)
  }

  #finished (connection: Connection, res: ServerResponse): void {
    if ((res as ServerResponse & { [kProbeResponse]?: boolean })[kProbeResponse] !== true) this.#events?.completed()
    const socket = connection.socket
    // Node has handed the socket to the next pipelined response by now (its own 'finish' listener runs first).
    const next = activeResponse(socket)
    connection.finished(performance.now(), next !== undefined)
    if (next !== undefined) {
      this.#follow(connection, next)
      return
    }
    // A response told to close makes Node end the socket; one whose headers left before the signal did not: it closes
    // once quiet.
    if (!socket.destroyed && !socket.writableEnded) this.#events?.idle(connection)
  }
}
