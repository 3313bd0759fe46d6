import { Server as NetServer, type Socket } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import { performance } from 'node:perf_hooks'

/** A request that was still running when the drain deadline destroyed its socket. */
export interface ForcedRequest {
  method: string
  /** The request's path, without the query string (it may carry secrets). */
  path: string
  /** How long it had been running, in milliseconds. */
  ageMs: number
}

/** What the drain did, for the report. */
export interface DrainOutcome {
  /** Requests in flight when draining began. */
  inFlightAtStart: number
  /** Responses that ended while draining. */
  completed: number
  /** Sockets open when draining began. */
  socketsAtStart: number
  /** Sockets closed by graceful because they were quiet (idle keep-alive, or never used). */
  closedIdle: number
  /** Sockets closed after their last response, or by the client. */
  closedAfterResponse: number
  /** Sockets destroyed at the deadline. */
  forced: number
  /** Of the sockets open when draining began, those upgraded to a WebSocket known through `trackWebSockets`. */
  webSockets: number
  /** Of the sockets open when draining began, those carrying an HTTP/2 session. */
  http2Sessions: number
  /** The requests those sockets were still serving. */
  forcedRequests: ForcedRequest[]
}

/** Answers the readiness and liveness routes ahead of the application (the Graceful instance). */
export interface ProbeResponder {
  isProbe: (url: string) => boolean
  answerProbe: (req: IncomingMessage, res: ServerResponse) => void
}

// How graceful ended a socket, so that its 'close' event is counted in the right column of the report.
const ENDED_BY_PEER_OR_RESPONSE = 0
const ENDED_IDLE = 1
const ENDED_FORCED = 2

class Connection {
  socket: Socket
  readonly connectedAt: number = performance.now()
  /** Requests whose response has not finished (more than one when the client pipelines). */
  inFlight = 0
  /** Of those, probes: not application work, so not in the tracker's count. */
  probes = 0
  /** Requests seen on this socket, ever. */
  requests = 0
  idleSince: number = this.connectedAt
  /** `socket.bytesRead` when the socket last turned idle: more since then means a request is on its way in. */
  readAtIdle = 0
  /** A TLS socket before its handshake completes: the bytes it reads are handshake, not a request. */
  handshaking = false
  /**
   * The oldest request in flight (an HTTP/2 stream's headers) and when it started, for the report; unknown past the
   * first when requests overlap (pipelined, or concurrent HTTP/2 streams).
   */
  oldest: IncomingMessage | IncomingHttpHeaders | undefined = undefined
  oldestAt = 0
  /** The newest response: the one that must carry `Connection: close`, since the socket closes after it. */
  latest: ServerResponse | undefined = undefined
  /** The response graceful added `Connection: close` to. */
  told: ServerResponse | undefined = undefined
  timer: NodeJS.Timeout | undefined = undefined
  endedBy = ENDED_BY_PEER_OR_RESPONSE
  /** The HTTP/2 session on this socket: its streams are the requests, and GOAWAY is how its client is told to go. */
  session: Http2Session | undefined = undefined
  /** Upgraded to a WebSocket that the application closes itself (going away) when draining begins. */
  webSocket = false

  constructor (socket: Socket) {
    this.socket = socket
  }
}

/**
 * Follows every socket and request of the servers it is attached to, tells keep-alive clients to go
 * (`Connection: close`) once shutdown begins, and drains: each socket is closed as soon as closing it cannot lose a
 * request. Everything is driven by socket and response events and one timer per waiting socket: nothing polls.
 */
export class ConnectionTracker {
  /** Requests whose response has not finished, over every attached server. */
  inFlight = 0
  /** Requests that arrived after shutdown began and before the listener closed. */
  servedWhileStopping = 0
  /**
   * When the last request (not a probe) arrived on a connection opened after shutdown began, in `performance.now()`
   * time: the adaptive lame duck's evidence that a load balancer still routes here. 0 when none has.
   */
  freshRequestAt = 0

  readonly #connections = new Set<Connection>()
  readonly #servers = new Set<NetServer>()
  /** Servers whose listener close has not completed: something still holds a socket of theirs. */
  readonly #closing = new Set<NetServer>()
  // Per tracker, not global: two instances attached to one server must not share a socket's state.
  readonly #key: symbol = Symbol('graceful.connection')
  readonly #idleSocketGrace: number
  readonly #newSocketGrace: number
  #telling = false
  #tellingSince = 0
  readonly #probes: ProbeResponder | undefined
  /**
   * Each attached server's `emit` before probes were put in front of it and the one that puts them there, to put back
   * on detach.
   */
  readonly #emits = new Map<NetServer, { own: NetServer['emit'], patched: NetServer['emit'] }>()
  #draining = false
  /** Detached (disposed): the middleware's requests no longer attach their server, until `attach` is called again. */
  #detached = false
  #outcome: DrainOutcome | undefined
  #drained: (() => void) | undefined

  // Handlers are created once per tracker and find their state through the emitter (`this`), so that a request
  // costs no closure.
  readonly #onConnection = (socket: Socket): void => { this.#accepted(socket, false) }
  readonly #onTlsConnection = (socket: Socket): void => { this.#accepted(socket, true) }
  readonly #onSecureConnection = (socket: Socket): void => { this.#onSecure(socket) }
  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => { this.#request(req, res) }
  // On an HTTP/2 server with allowHTTP1: HTTP/2 streams arrive here too, through the compatibility API, and are counted
  // as streams instead.
  readonly #onHttp1Request = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.httpVersionMajor !== 2) this.#request(req, res)
  }
  readonly #onSession = (session: Http2Session): void => { this.#sessionStarted(session) }
  readonly #onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => { this.#stream(stream, headers) }
  readonly #onNewListener: (this: NetServer, event: string | symbol) => void
  readonly #onStreamClose: (this: ServerHttp2Stream) => void
  readonly #onProbeStreamClose: (this: ServerHttp2Stream) => void
  readonly #onListening: (this: NetServer) => void
  readonly #onFinish: (this: ServerResponse) => void
  readonly #onProbeFinish: (this: ServerResponse) => void
  readonly #onSocketClose: (this: Socket) => void
  // A timer runs before the poll phase: a request already in the kernel's buffer when it fires has not been read yet,
  // and destroying the socket then would reset it. The socket joins the batch released after the next poll instead.
  readonly #onQuiet = (connection: Connection): void => {
    connection.timer = undefined
    this.#releaseAfterPoll(connection)
  }
  /** Sockets already quiet long enough: released together after the next poll, rather than one timer each. */
  #quietNow: Connection[] = []
  // An immediate queued from a check phase runs in the next iteration's check phase, after its poll phase: two hops
  // guarantee one complete poll, wherever the drain started (a timer will not do: the timers phase comes first).
  readonly #afterNextPoll = (): void => { setImmediate(this.#onQuietNow) }
  readonly #onQuietNow = (): void => {
    const batch = this.#quietNow
    this.#quietNow = []
    // One that served a request meanwhile has a fresh window of its own (its timer): that one decides.
    for (const connection of batch) if (connection.timer === undefined) this.#closeQuiet(connection)
  }

  constructor (options: { idleSocketGrace: number, newSocketGrace: number, probes?: ProbeResponder }) {
    this.#idleSocketGrace = options.idleSocketGrace
    this.#newSocketGrace = options.newSocketGrace
    this.#probes = options.probes
    // These three need the emitter as `this` (that is how they find their socket without a closure per request) and
    // the tracker as well, hence the alias.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const tracker = this
    const key = this.#key
    this.#onFinish = function () {
      const connection = (this.req.socket as unknown as Record<symbol, Connection | undefined>)[key]
      if (connection !== undefined) tracker.#finished(connection)
    }
    this.#onProbeFinish = function () {
      const connection = (this.req.socket as unknown as Record<symbol, Connection | undefined>)[key]
      if (connection !== undefined) tracker.#finished(connection, false)
    }
    this.#onSocketClose = function () {
      const connection = (this as unknown as Record<symbol, Connection | undefined>)[key]
      if (connection !== undefined) tracker.#closed(connection)
    }
    this.#onListening = function () {
      // A server that starts listening after the drain began (a signal before `listen`) must not accept anything.
      if (tracker.#draining) tracker.#closeListener(this)
    }
    // A stream has lost its session by the time it closes: it carries its connection itself.
    this.#onStreamClose = function () {
      const connection = (this as unknown as Record<symbol, Connection | undefined>)[key]
      if (connection !== undefined) tracker.#finished(connection)
    }
    this.#onProbeStreamClose = function () {
      const connection = (this as unknown as Record<symbol, Connection | undefined>)[key]
      if (connection !== undefined) tracker.#finished(connection, false)
    }
    this.#onNewListener = function (event) {
      if (event !== 'request') return
      this.off('newListener', tracker.#onNewListener)
      this.prependListener('request', tracker.#onHttp1Request)
    }
  }

  get sockets (): number {
    return this.#connections.size
  }

  attach (server: NetServer): void {
    this.#detached = false
    if (this.#servers.has(server)) return
    this.#servers.add(server)
    // TLS: 'connection' gives the TCP socket (tracked from its first byte, so a stalled handshake cannot hold the
    // drain); 'secureConnection' the TLS socket that requests arrive on. Both prepended: an HTTP/2 server starts its
    // session in its own listener, and the session must find its socket tracked.
    if (typeof (server as { setSecureContext?: unknown }).setSecureContext === 'function') {
      server.prependListener('connection', this.#onTlsConnection)
      server.prependListener('secureConnection', this.#onSecureConnection)
    } else {
      server.prependListener('connection', this.#onConnection)
    }
    if (isHttp2Server(server)) {
      server.on('session', this.#onSession)
      server.prependListener('stream', this.#onStream)
      // HTTP/1.1 requests (allowHTTP1) arrive as 'request'; but a 'request' listener also switches an HTTP/2 server
      // to its compatibility API for every stream, which an application using the stream API alone did not ask for.
      if (server.listenerCount('request') > 0) server.prependListener('request', this.#onHttp1Request)
      else server.on('newListener', this.#onNewListener)
    } else {
      // Prepended so that `Connection: close` is set before the application can send its headers.
      server.prependListener('request', this.#onRequest)
    }
    server.on('listening', this.#onListening)
    if (this.#probes !== undefined) this.#answerProbesFirst(server, this.#probes)
    if (this.#draining) this.#closeListener(server)
  }

  /**
   * Probes are answered inside the server's `emit`, before any 'request' listener runs: the application (node:http
   * handler, Express middleware, Fastify hooks) never sees them, so authentication, body parsing or rate limiting
   * cannot fail a probe, and they are tracked per socket (for the drain) but not counted as in-flight work.
   * A prepended listener would not do: every listener of an event runs, so the application would answer too.
   */
  #answerProbesFirst (server: NetServer, probes: ProbeResponder): void {
    // Read, not called: it is applied below with the server as `this`.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const emit = server.emit
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const tracker = this
    const patched = function (this: NetServer, event: string | symbol, req?: unknown, res?: unknown): boolean {
      // Once detached, it passes everything through: another instance attached later may have wrapped it, so it can
      // stay in the chain.
      if (event === 'request' && probes.isProbe((req as IncomingMessage).url ?? '/') && tracker.#emits.has(this)) {
        // An HTTP/2 probe (compatibility API) is tracked as a stream already.
        if ((req as IncomingMessage).httpVersionMajor !== 2) tracker.#probe(req as IncomingMessage, res as ServerResponse)
        probes.answerProbe(req as IncomingMessage, res as ServerResponse)
        return true
      }
      // Every other event and request passes through untouched, with all its arguments, and costs no allocation.
      // eslint-disable-next-line prefer-rest-params
      return Reflect.apply(emit, this, arguments) as boolean
    } as NetServer['emit']
    this.#emits.set(server, { own: emit, patched })
    server.emit = patched
  }

  /** Stops following the servers (an app closed on its own, without a shutdown). */
  detach (): void {
    for (const server of this.#servers) {
      server.off('connection', this.#onConnection)
      server.off('connection', this.#onTlsConnection)
      server.off('secureConnection', this.#onSecureConnection)
      server.off('request', this.#onRequest)
      server.off('request', this.#onHttp1Request)
      server.off('session', this.#onSession)
      server.off('stream', this.#onStream)
      server.off('newListener', this.#onNewListener)
      server.off('listening', this.#onListening)
      const emits = this.#emits.get(server)
      // Put back only when nothing wrapped it since (another instance's probes): that one must stay in front.
      if (emits !== undefined && server.emit === emits.patched) {
        if (emits.own === (Object.getPrototypeOf(server) as NetServer).emit) Reflect.deleteProperty(server, 'emit')
        else server.emit = emits.own
      }
    }
    this.#emits.clear()
    this.#servers.clear()
    this.#detached = true
  }

  /** Tracks a request that arrived before its server was attached (the Express middleware's first request). */
  adopt (req: IncomingMessage, res: ServerResponse, probe = false): void {
    // An HTTP/2 stream is only known through its server's events: that server must be attached.
    if (this.#detached || (req.socket as unknown as Record<symbol, unknown>)[this.#key] !== undefined ||
      req.httpVersionMajor === 2) return
    const server = (req.socket as Socket & { server?: NetServer }).server
    if (server !== undefined && !this.#servers.has(server)) this.attach(server)
    if (probe) this.#probe(req, res)
    else this.#request(req, res)
  }

  /**
   * A probe occupies its socket like any request (the drain must not close the socket under it, and it is told
   * `Connection: close`), but it is not application work: `inFlight`, the report and the lame duck leave it out.
   */
  #probe (req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as unknown as Record<symbol, Connection | undefined>
    const connection = socket[this.#key] ?? this.#track(req.socket)
    connection.requests++
    connection.probes++
    if (connection.inFlight++ === 0) {
      connection.oldest = req
      connection.oldestAt = performance.now()
    }
    connection.latest = res
    res.on('finish', this.#onProbeFinish)
    if (this.#telling) {
      if (connection.timer !== undefined) {
        clearTimeout(connection.timer)
        connection.timer = undefined
      }
      this.#tell(connection)
    }
  }

  /** Marks the socket of an accepted WebSocket, so that the report counts it apart. */
  markWebSocket (socket: Socket): void {
    const connection = (socket as unknown as Record<symbol, Connection | undefined>)[this.#key]
    if (connection !== undefined) connection.webSocket = true
  }

  isTracked (req: IncomingMessage): boolean {
    return (req.socket as unknown as Record<symbol, unknown>)[this.#key] !== undefined
  }

  #accepted (socket: Socket, tls: boolean): void {
    const connection = this.#track(socket)
    connection.handshaking = tls
    // Accepted while the listener was closing: it gets the same window as any socket that has not spoken yet.
    if (this.#draining) this.#closeWhenQuiet(connection)
  }

  #track (socket: Socket): Connection {
    const connection = new Connection(socket)
    ;(socket as unknown as Record<symbol, Connection>)[this.#key] = connection
    socket.on('close', this.#onSocketClose)
    this.#connections.add(connection)
    return connection
  }

  #onSecure (tlsSocket: Socket): void {
    // Node's TLS socket keeps the TCP socket it wraps in `_parent`: the one internal field read here. The state moves
    // to the TLS socket, which requests arrive on and whose destruction ends both.
    const parent = (tlsSocket as Socket & { _parent?: Socket })._parent
    const connection = parent === undefined
      ? undefined
      : (parent as unknown as Record<symbol, Connection | undefined>)[this.#key]
    if (connection === undefined) {
      this.#track(tlsSocket)
      return
    }
    connection.socket = tlsSocket
    connection.handshaking = false
    // The TLS socket counts decrypted bytes only: none yet.
    connection.readAtIdle = tlsSocket.bytesRead
    ;(tlsSocket as unknown as Record<symbol, Connection>)[this.#key] = connection
  }

  #request (req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as unknown as Record<symbol, Connection | undefined>
    const connection = socket[this.#key] ?? this.#track(req.socket)
    connection.requests++
    if (connection.inFlight++ === 0) {
      connection.oldest = req
      connection.oldestAt = performance.now()
    }
    connection.latest = res
    this.inFlight++
    res.on('finish', this.#onFinish)
    if (this.#telling) {
      if (connection.timer !== undefined) {
        clearTimeout(connection.timer)
        connection.timer = undefined
      }
      if (!this.#draining) {
        this.servedWhileStopping++
        if (connection.connectedAt >= this.#tellingSince) this.freshRequestAt = performance.now()
      }
      this.#tell(connection)
    }
  }

  #sessionStarted (session: Http2Session): void {
    // The session's socket is a proxy that reads through to the socket tracked on 'connection'.
    const socket = session.socket as unknown as Record<symbol, Connection | undefined>
    const connection = socket[this.#key] ?? this.#track(session.socket)
    connection.session = session
    ;(session as unknown as Record<symbol, Connection>)[this.#key] = connection
    // Accepted while the listener was closing: GOAWAY at once, its first streams are refused and retried elsewhere.
    if (this.#draining) this.#goAway(connection)
  }

  #stream (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const session = stream.session as unknown as Record<symbol, Connection | undefined> | undefined
    const connection = session?.[this.#key]
    if (connection === undefined) return
    ;(stream as unknown as Record<symbol, Connection>)[this.#key] = connection
    connection.requests++
    if (connection.inFlight++ === 0) {
      connection.oldest = headers
      connection.oldestAt = performance.now()
    }
    // A probe holds its session open like any stream, but is not application work (see #probe).
    if (this.#probes?.isProbe(headers[':path'] ?? '/') === true) {
      connection.probes++
      stream.on('close', this.#onProbeStreamClose)
      return
    }
    this.inFlight++
    stream.on('close', this.#onStreamClose)
    if (this.#telling && !this.#draining) {
      this.servedWhileStopping++
      if (connection.connectedAt >= this.#tellingSince) this.freshRequestAt = performance.now()
    }
  }

  /** GOAWAY: open streams finish, new ones are refused (the client retries them elsewhere), and Node closes the session once it has no stream left. */
  #goAway (connection: Connection): void {
    const session = connection.session
    if (session === undefined || session.closed || session.destroyed) return
    if (connection.inFlight === 0) connection.endedBy = ENDED_IDLE
    session.close()
  }

  #finished (connection: Connection, counted = true): void {
    // A socket closed (or destroyed at the deadline) has been settled already; its HTTP/2 streams close after it.
    if (connection.inFlight === 0) return
    connection.inFlight--
    if (!counted) connection.probes--
    else {
      this.inFlight--
      if (this.#draining && this.#outcome !== undefined) this.#outcome.completed++
    }
    if (connection.inFlight > 0) {
      connection.oldest = undefined
      return
    }
    // An HTTP/2 session was sent GOAWAY when draining began: Node closes it when its last stream ends.
    if (connection.session !== undefined) {
      connection.oldest = undefined
      return
    }
    connection.oldest = undefined
    connection.latest = undefined
    connection.told = undefined
    connection.idleSince = performance.now()
    connection.readAtIdle = connection.socket.bytesRead
    // A response told `Connection: close` makes Node end the socket (its write side is ended by now, and the socket
    // is destroyed once the response is flushed); one whose headers left before shutdown began did not, and its
    // socket would linger until keepAliveTimeout, so it is closed once it has been quiet.
    if (this.#draining && !connection.socket.writableEnded) this.#closeWhenQuiet(connection)
  }

  #closed (connection: Connection): void {
    if (connection.timer !== undefined) clearTimeout(connection.timer)
    this.#connections.delete(connection)
    this.inFlight -= connection.inFlight - connection.probes
    connection.inFlight = 0
    connection.probes = 0
    const outcome = this.#outcome
    if (outcome === undefined) return
    if (connection.endedBy === ENDED_IDLE) outcome.closedIdle++
    else if (connection.endedBy === ENDED_BY_PEER_OR_RESPONSE) outcome.closedAfterResponse++
    this.#checkDrained()
  }

  /** Only the newest response on a socket may carry `Connection: close`: Node closes the socket after it. */
  #tell (connection: Connection): void {
    const response = connection.latest
    if (response === undefined || response.headersSent) return
    const previous = connection.told
    // A pipelined request arrived behind a response already told: that one must not close the socket under it.
    if (previous !== undefined && previous !== response) {
      if (!previous.headersSent) {
        previous.removeHeader('connection')
      } else if (!previous.writableFinished) {
        // Its `Connection: close` is out already, and Node ends the socket after a response it sent that header on
        // (`_last`): the request that just arrived, which the application is about to handle, would get no response.
        // It gets one, and carries the header itself.
        (previous as ServerResponse & { _last: boolean })._last = false
      }
    }
    response.setHeader('connection', 'close')
    connection.told = response
  }

  /** Lame duck: keep serving, but every response that has not sent its headers tells its client to go. */
  startTelling (): void {
    if (this.#telling) return
    this.#telling = true
    this.#tellingSince = performance.now()
    for (const connection of this.#connections) {
      if (connection.inFlight > 0) this.#tell(connection)
    }
  }

  /**
   * Closes the listeners and waits until every socket is closed, or until `timeout` ms have passed: then the
   * remaining sockets are destroyed and their requests named. `atDeadline` runs just before that, while what holds
   * the process is still there to be seen.
   */
  async drain (timeout: number, atDeadline?: () => void): Promise<DrainOutcome> {
    this.startTelling()
    this.#draining = true
    const outcome = drainOutcome(this.inFlight, this.#connections.size)
    this.#outcome = outcome
    for (const server of this.#servers) this.#closeListener(server)
    for (const connection of this.#connections) {
      if (connection.webSocket) outcome.webSockets++
      if (connection.session !== undefined) {
        outcome.http2Sessions++
        this.#goAway(connection)
      } else if (connection.inFlight === 0) {
        this.#closeWhenQuiet(connection)
      }
    }
    const drained = new Promise<void>(resolve => { this.#drained = resolve })
    this.#checkDrained()
    let deadline: NodeJS.Timeout | undefined
    const expired = new Promise<boolean>(resolve => { deadline = setTimeout(resolve, timeout, true) })
    const timedOut = await Promise.race([drained.then(() => false), expired])
    clearTimeout(deadline)
    if (timedOut) {
      atDeadline?.()
      await this.#destroyRemaining(outcome)
    }
    this.#drained = undefined
    return outcome
  }

  #closeListener (server: NetServer): void {
    if (this.#closing.has(server)) return
    this.#closing.add(server)
    // net.Server's close, not http.Server's: the latter also destroys idle keep-alive sockets on the spot, and a
    // client may be writing its next request on one of them at that instant. Idle sockets get a quiet window instead.
    NetServer.prototype.close.call(server, () => {
      this.#closing.delete(server)
      this.#checkDrained()
    })
  }

  #checkDrained (): void {
    if (this.#drained !== undefined && this.#connections.size === 0 && this.#closing.size === 0) {
      this.#drained()
    }
  }

  /**
   * A quiet socket may have a request on the wire that was written before the client saw anything from us, so it
   * gets a short window from the moment it turned quiet: `idleSocketGrace` after its last response, or, when it has
   * never sent a request, `newSocketGrace` from its connection (a browser's preconnect). A socket quiet for longer
   * already is released after the event loop's next poll. One timer per waiting socket, no polling.
   */
  #closeWhenQuiet (connection: Connection): void {
    if (connection.timer !== undefined) clearTimeout(connection.timer)
    const remaining = connection.requests === 0
      ? this.#newSocketGrace - (performance.now() - connection.connectedAt)
      : this.#idleSocketGrace - (performance.now() - connection.idleSince)
    if (remaining > 0) {
      connection.timer = setTimeout(this.#onQuiet, remaining, connection)
      return
    }
    // Never before the event loop has polled once more, even for a socket quiet for minutes: a request already in
    // the kernel's buffer is read by that poll, and then it is served instead of reset.
    this.#releaseAfterPoll(connection)
  }

  #releaseAfterPoll (connection: Connection): void {
    if (this.#quietNow.push(connection) === 1) setImmediate(this.#afterNextPoll)
  }

  #closeQuiet (connection: Connection): void {
    connection.timer = undefined
    // A socket Node is already ending closes by itself once its last bytes are out; destroying it could cut them. An
    // HTTP/2 session closes itself after its GOAWAY.
    if (connection.inFlight > 0 || connection.socket.destroyed || connection.socket.writableEnded ||
      connection.session !== undefined) return
    // Bytes since the socket turned idle (or, for a socket that never sent a request, any byte at all) mean a request
    // is arriving slowly or the socket was upgraded (WebSocket): it is busy, and only the deadline may end it.
    if (!connection.handshaking && connection.socket.bytesRead !== connection.readAtIdle) return
    connection.endedBy = ENDED_IDLE
    connection.socket.destroy()
  }

  async #destroyRemaining (outcome: DrainOutcome): Promise<void> {
    // Sockets this tracker never saw (connected before attach) still hold their listener's close. Node's own count
    // finds them; http.Server#closeAllConnections ends them.
    let open = 0
    for (const server of this.#closing) open += await connectionsOf(server)
    const untracked = Math.max(0, open - this.#connections.size)
    const now = performance.now()
    for (const connection of this.#connections) {
      outcome.forced++
      const request = connection.oldest
      if (connection.inFlight > 0) {
        outcome.forcedRequests.push(request === undefined
          ? { method: 'unknown', path: connection.session === undefined ? 'unknown (pipelined)' : 'unknown (concurrent stream)', ageMs: 0 }
          : { ...describeRequest(request), ageMs: Math.round(now - connection.oldestAt) })
      }
      connection.endedBy = ENDED_FORCED
      if (connection.timer !== undefined) clearTimeout(connection.timer)
      this.inFlight -= connection.inFlight - connection.probes
      connection.inFlight = 0
      connection.probes = 0
      connection.session?.destroy()
      connection.socket.destroy()
    }
    if (untracked > 0) {
      outcome.forced += untracked
      for (const server of this.#closing) {
        (server as NetServer & { closeAllConnections?: () => void }).closeAllConnections?.()
      }
    }
  }
}

/** A drain's outcome before anything has closed. */
export function drainOutcome (inFlightAtStart: number, socketsAtStart: number): DrainOutcome {
  return {
    inFlightAtStart,
    completed: 0,
    socketsAtStart,
    closedIdle: 0,
    closedAfterResponse: 0,
    forced: 0,
    webSockets: 0,
    http2Sessions: 0,
    forcedRequests: []
  }
}

function connectionsOf (server: NetServer): Promise<number> {
  return new Promise(resolve => {
    server.getConnections((err, count) => { resolve(err === null ? count : 0) })
  })
}

function describeRequest (request: IncomingMessage | IncomingHttpHeaders): { method: string, path: string } {
  if (isHttp1Request(request)) {
    // Express rewrites req.url while routing through mounted routers; originalUrl is what the client asked for.
    return { method: request.method ?? 'unknown', path: pathOf((request as IncomingMessage & { originalUrl?: string }).originalUrl ?? request.url ?? '') }
  }
  return { method: request[':method'] ?? 'unknown', path: pathOf(request[':path'] ?? '') }
}

function isHttp1Request (request: IncomingMessage | IncomingHttpHeaders): request is IncomingMessage {
  return typeof (request as { httpVersionMajor?: unknown }).httpVersionMajor === 'number'
}

function pathOf (url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** node:http2's servers, secure or not (the only servers with `updateSettings`). */
export function isHttp2Server (server: NetServer): boolean {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function'
}
