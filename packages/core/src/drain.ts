// The drain: exists only once draining begins. Closes the listeners, closes each socket as soon as closing it cannot
// lose a request, and at the deadline destroys the rest and names what they were serving.
import type { IncomingMessage } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http2'
import { Server as NetServer, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { ENDED_BY_PEER_OR_RESPONSE, ENDED_FORCED, ENDED_IDLE, type Connections, type SocketRecord } from './connections.js'
import { http1InFlight, http1Responses, type Telling } from './http1.js'
import { followStreams, goAway, http2InFlight, http2Requests } from './http2.js'
import { activeResponse, isDetachedFromHttp, loopNow, quietFor, receivingSockets, serverOf } from './internals.js'
import type { ProbeKind } from './probe-routes.js'
import type { DrainOutcome, ForcedRequest } from './report.js'
import { deadline, TIMED_OUT } from './timeout.js'

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
    forcedRequests: [],
    untracked: 0
  }
}

/** Requests in flight over every socket, read from Node's own per-socket state. */
export function inFlight (connections: Connections, match: (url: string) => ProbeKind): number {
  let count = connections.socketless.size
  for (const record of connections.records) {
    count += record.session === undefined ? http1InFlight(record) : http2InFlight(record, match)
  }
  return count
}

export interface DrainTimes {
  idleSocketGrace: number
  newSocketGrace: number
}

export class Drain {
  readonly outcome: DrainOutcome
  readonly #connections: Connections
  readonly #telling: Telling
  readonly #match: (url: string) => ProbeKind
  readonly #times: DrainTimes
  /** Servers whose listener close has not completed: something still holds a socket of theirs. */
  readonly #closing = new Set<NetServer>()
  #drained: (() => void) | undefined
  /** Past the deadline: what closes now was cut, not completed. */
  #forcing = false
  /** Each request the deadline cut whose handler was still running, and how to tell that it has ended since. */
  readonly #cut: Array<{ request: ForcedRequest, ended: () => boolean }> = []
  readonly #streamCompleted = (): void => {
    if (!this.#forcing) this.outcome.completed++
  }
  /** Sockets already quiet long enough: released together after the next poll, rather than one timer each. */
  #quietNow: SocketRecord[] = []
  // A timer runs before the poll phase: a request already in the kernel's buffer when it fires has not been read yet,
  // and destroying the socket then would reset it. The socket joins the batch released after the next poll instead.
  readonly #onQuiet = (record: SocketRecord): void => {
    record.timer = undefined
    this.#releaseAfterPoll(record)
  }

  readonly #onQuietNow = (): void => {
    const batch = this.#quietNow
    this.#quietNow = []
    // One that served a request meanwhile has a fresh window of its own (its timer): that one decides.
    for (const record of batch) if (record.timer === undefined) this.#closeQuiet(record)
  }

  /** `inFlightNow`: the requests in flight as draining begins, counted by the caller (a count reads every socket). */
  constructor (connections: Connections, telling: Telling, match: (url: string) => ProbeKind, times: DrainTimes, inFlightNow: number) {
    this.#connections = connections
    this.#telling = telling
    this.#match = match
    this.#times = times
    this.outcome = drainOutcome(inFlightNow, connections.records.size)
  }

  /**
   * Closes the listeners and waits until every socket is closed, or until `timeout` ms have passed: then the
   * remaining sockets are destroyed and their requests named. `atDeadline` runs just before that, while what holds
   * the process is still there to be seen.
   */
  async run (timeout: number, atDeadline?: () => void): Promise<DrainOutcome> {
    const outcome = this.outcome
    const drained = new Promise<void>(resolve => { this.#drained = resolve })
    this.#telling.draining = true
    this.#telling.observer = {
      idle: record => { this.#closeWhenQuiet(record, 0) },
      completed: () => { outcome.completed++ }
    }
    this.#connections.observer = {
      // Accepted while the listener was closing: the same window as any socket that has not spoken yet.
      accepted: record => {
        if (record.session === undefined) this.#closeWhenQuiet(record, 0)
      },
      closed: record => { this.#closed(record) },
      // A server that starts listening after the drain began (a signal before `listen`) must not accept anything.
      // Closed once the application's own 'listening' callbacks have run: they may read server.address().
      listening: server => { process.nextTick(() => { this.closeListener(server) }) },
      socketlessEnded: () => {
        if (!this.#forcing) outcome.completed++
        this.#checkDrained()
      }
    }
    this.#connections.onSession = record => { goAway(record, this.#match) }
    for (const server of this.#connections.servers) this.closeListener(server)
    this.#classify()
    this.#checkDrained()
    if (await deadline(drained, timeout) === TIMED_OUT) {
      atDeadline?.()
      await this.#destroyRemaining()
    }
    // The observers stay: a server that starts listening after the drain (a signal before `listen`) is closed at once.
    this.#drained = undefined
    return outcome
  }

  closeListener (server: NetServer): void {
    if (this.#closing.has(server) || !server.listening) return
    this.#closing.add(server)
    // net.Server's close, not http.Server's: the latter also destroys idle keep-alive sockets on the spot, and a
    // client may be writing its next request on one of them at that instant. Idle sockets get a quiet window instead.
    NetServer.prototype.close.call(server, () => {
      this.#closing.delete(server)
      this.#checkDrained()
    })
  }

  /** Decides, for each socket open when draining begins, when it may close. */
  #classify (): void {
    const now = performance.now()
    const clock = loopNow()
    const receiving = new Map<NetServer, Set<Socket> | undefined>()
    // One call per socket, not the decision written out in the loop: the loop runs once, over every socket, and V8
    // compiles a loop that runs long on the spot (on-stack replacement) with everything in its body inlined, on the
    // same core as the drain when the process has one. A small function of its own is compiled instead, in less
    // time: 1,000 idle sockets on Node 24, one core, 6.7 → 3.0–3.4 ms from the drain's start to the first socket
    // closed (bench/exit-breakdown.mjs).
    for (const record of this.#connections.records) this.#classifyOne(record, now, clock, receiving)
  }

  #classifyOne (record: SocketRecord, now: number, clock: number | undefined, receiving: Map<NetServer, Set<Socket> | undefined>): void {
    const socket = record.socket
    if (socket.destroyed) return
    if (record.webSocket) this.outcome.webSockets++
    if (record.session !== undefined) {
      this.outcome.http2Sessions++
      followStreams(record, this.#match, this.#streamCompleted)
      goAway(record, this.#match)
      return
    }
    // In flight: followed since the signal; its 'finish' decides. Upgraded (WebSocket, CONNECT): not HTTP any more,
    // its own protocol ends it (1001), or the deadline does.
    if (activeResponse(socket) !== undefined || isDetachedFromHttp(socket) || socket.writableEnded) return
    if (record.handshaking || socket.bytesRead === 0) {
      this.#closeWhenQuiet(record, record.connectedAt === 0 ? 0 : now - record.connectedAt)
      return
    }
    // Part of a request's head has arrived: closing would reset it. Its request will be told, or the deadline ends it.
    const server = serverOf(socket)
    if (server !== undefined) {
      if (!receiving.has(server)) receiving.set(server, receivingSockets(server))
      if (receiving.get(server)?.has(socket) === true) return
    }
    // How long it has been quiet: from Node's keep-alive timer when it runs; else the whole shutdown so far when it
    // was idle at the signal and has read nothing since (the lame duck counts as quiet time); else since its last
    // response finished; else unknown, and it waits the whole window.
    let quiet = quietFor(socket, clock)
    if (quiet === undefined && record.readAtSignal === socket.bytesRead) quiet = now - this.#telling.since
    if (quiet === undefined && record.finishedAt > 0) quiet = now - record.finishedAt
    this.#closeWhenQuiet(record, quiet ?? 0)
  }

  #closed (record: SocketRecord): void {
    const outcome = this.outcome
    if (record.endedBy === ENDED_IDLE) outcome.closedIdle++
    else if (record.endedBy === ENDED_BY_PEER_OR_RESPONSE) outcome.closedAfterResponse++
    this.#checkDrained()
  }

  #checkDrained (): void {
    const connections = this.#connections
    if (this.#drained !== undefined && connections.records.size === 0 && connections.socketless.size === 0 &&
      this.#closing.size === 0) this.#drained()
  }

  /**
   * A quiet socket may have a request on the wire that was written before the client saw anything from us, so it
   * gets a short window from the moment it turned quiet: `idleSocketGrace` after its last response, or, when it has
   * never sent a request, `newSocketGrace` from its connection (a browser's preconnect). A socket quiet for longer
   * already is released after the event loop's next poll. One timer per waiting socket, no polling.
   */
  #closeWhenQuiet (record: SocketRecord, quietFor: number): void {
    if (record.timer !== undefined) clearTimeout(record.timer)
    record.timer = undefined
    record.readAtQuiet = record.socket.bytesRead
    const neverUsed = record.handshaking || record.socket.bytesRead === 0
    const remaining = (neverUsed ? this.#times.newSocketGrace : this.#times.idleSocketGrace) - quietFor
    if (remaining > 0) {
      record.timer = setTimeout(this.#onQuiet, remaining, record)
      return
    }
    // Never before the event loop has polled once more, even for a socket quiet for minutes: a request already in
    // the kernel's buffer is read by that poll, and then it is served instead of reset.
    this.#releaseAfterPoll(record)
  }

  #releaseAfterPoll (record: SocketRecord): void {
    if (this.#quietNow.push(record) === 1) afterNextPoll(this.#onQuietNow)
  }

  #closeQuiet (record: SocketRecord): void {
    const socket = record.socket
    // A socket Node is already ending closes by itself once its last bytes are out; destroying it could cut them.
    if (socket.destroyed || socket.writableEnded || record.session !== undefined || activeResponse(socket) !== undefined) return
    // Bytes since the quiet window began (a TLS handshake aside) mean a request is arriving or the socket was
    // upgraded: it is busy, and only its request's response or the deadline may end it.
    if (!record.handshaking && socket.bytesRead !== record.readAtQuiet) return
    record.endedBy = ENDED_IDLE
    socket.destroy()
    // Done now, not at its 'close' event: destroy() has closed the descriptor, and nothing more can arrive on it or be
    // lost. 'close' comes in the event loop's close phase, after Node's own JavaScript for each socket (socketOnClose,
    // the parser's release); waiting for it runs that for every socket before the exit, where an exit right away skips
    // it, as bare server.close() then exit does.
    this.#connections.release(record)
  }

  /**
   * The requests the deadline cut whose handlers have not ended their responses: their work (a transaction) may still
   * complete after their clients were told they failed. Each one found ended since is marked so.
   */
  stillRunning (): ForcedRequest[] {
    const running: ForcedRequest[] = []
    for (const { request, ended } of this.#cut) {
      if (request.handler === 'running' && ended()) request.handler = 'ended-after-cut'
      if (request.handler === 'running') running.push(request)
    }
    return running
  }

  #named (request: ForcedRequest, ended: () => boolean): void {
    request.handler = ended() ? 'ended' : 'running'
    this.outcome.forcedRequests.push(request)
    this.#cut.push({ request, ended })
  }

  async #destroyRemaining (): Promise<void> {
    const outcome = this.outcome
    this.#forcing = true
    // Sockets graceful never saw (connected before attach) still hold their listener's close. Node's own count finds
    // them; http.Server#closeAllConnections ends them.
    let open = 0
    for (const server of this.#closing) open += await connectionsOf(server)
    const records = this.#connections.records
    outcome.untracked = Math.max(0, open - records.size)
    const now = performance.now()
    for (const record of [...records]) {
      outcome.forced++
      const age = record.followedAt === 0 ? 0 : Math.round(now - record.followedAt)
      if (record.session === undefined) {
        for (const response of http1Responses(record)) {
          this.#named({ ...describeHttp1(response.req), ageMs: age }, () => response.writableEnded)
        }
      } else {
        for (const headers of http2Requests(record, this.#match)) {
          outcome.forcedRequests.push({ ...describeHttp2(headers), ageMs: Math.round(now - this.#telling.since) })
        }
      }
      record.endedBy = ENDED_FORCED
      if (record.timer !== undefined) clearTimeout(record.timer)
      record.timer = undefined
      record.session?.destroy()
      record.socket.destroy()
      // Gone now, not at its 'close' event: the report (and `openSockets` when shutdown() resolves) must not count it.
      this.#connections.release(record)
    }
    // Requests without a socket cannot be cut: they are named, and the shutdown goes on without them.
    for (const request of this.#connections.socketless) {
      this.#named({ method: request.method, path: pathOf(request.path), ageMs: Math.round(now - request.since) }, () => request.ended)
    }
    if (outcome.untracked > 0) {
      outcome.forced += outcome.untracked
      for (const server of this.#closing) {
        (server as NetServer & { closeAllConnections?: () => void }).closeAllConnections?.()
      }
    }
  }
}

/**
 * Runs `fn` once the event loop has completed one more poll phase, wherever it is called from: what the kernel holds
 * for this process by then (a request on a socket, a connection in a listener's accept queue) has been taken in. An
 * immediate queued from a check phase runs in the next iteration's check phase, after its poll phase: two hops
 * guarantee one complete poll (a timer will not do: the timers phase comes before the poll).
 */
export function afterNextPoll (fn: () => void): void {
  setImmediate(() => { setImmediate(fn) })
}

function connectionsOf (server: NetServer): Promise<number> {
  return new Promise(resolve => {
    server.getConnections((err, count) => { resolve(err === null ? count : 0) })
  })
}

function describeHttp1 (request: IncomingMessage): { method: string, path: string } {
  // Express rewrites req.url while routing through mounted routers; originalUrl is what the client asked for.
  return { method: request.method ?? 'unknown', path: pathOf((request as IncomingMessage & { originalUrl?: string }).originalUrl ?? request.url ?? '') }
}

function describeHttp2 (headers: IncomingHttpHeaders | undefined): { method: string, path: string } {
  if (headers === undefined) return { method: 'unknown', path: 'unknown (stream opened before it could be seen)' }
  return { method: headers[':method'] ?? 'unknown', path: pathOf(headers[':path'] ?? '') }
}

function pathOf (url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}
