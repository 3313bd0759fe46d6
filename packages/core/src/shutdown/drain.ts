// The drain, from the listener's close: each connection is closed as soon as that cannot lose a request
// (close-decision.ts), and at the deadline what is left goes to deadline.ts.
import { Server as NetServer, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { closeDecision, freshWindow, stillQuiet, type DrainTimes } from '../connections/close-decision.js'
import type { Connection } from '../connections/connection.js'
import type { Connections } from '../connections/connections.js'
import { Deadline } from './deadline.js'
import { http1InFlight } from '../connections/http1-sockets.js'
import type { Telling } from '../connections/http1.js'
import { followStreams, goAway, http2InFlight } from '../connections/http2.js'
import { activeResponse, loopNow, receivingSockets, serverOf } from '../internals.js'
import type { ProbeKind } from '../serving/probe-routes.js'
import type { DrainOutcome, ForcedRequest } from '../report/report.js'
import { deadline, TIMED_OUT } from './timeout.js'

export type { DrainTimes } from '../connections/close-decision.js'

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

export function inFlight (connections: Connections, match: (url: string) => ProbeKind): number {
  let count = connections.socketless.size
  for (const connection of connections.all) {
    count += connection.session === undefined ? http1InFlight(connection) : http2InFlight(connection, match)
  }
  return count
}

export class Drain {
  readonly outcome: DrainOutcome
  readonly #connections: Connections
  readonly #telling: Telling
  readonly #match: (url: string) => ProbeKind
  readonly #times: DrainTimes
  readonly #deadline: Deadline
  /** Servers whose listener close has not completed: something still holds a socket of theirs. */
  readonly #closing = new Set<NetServer>()
  #drained: (() => void) | undefined
  #forcing = false
  readonly #streamCompleted = (): void => {
    if (!this.#forcing) this.outcome.completed++
  }

  /** Connections already quiet long enough: closed together after the next poll, rather than one timer each. */
  #quietNow: Connection[] = []
  // A timer fires before the poll phase, when a request in the kernel's buffer is not read yet: close after the poll.
  readonly #onQuiet = (connection: Connection): void => {
    connection.quietWindowOver()
    this.#closeAfterPoll(connection)
  }

  readonly #onQuietNow = (): void => {
    const batch = this.#quietNow
    this.#quietNow = []
    // One that served a request meanwhile has a fresh window of its own (its timer): that one decides.
    for (const connection of batch) if (!connection.waiting) this.#closeQuiet(connection)
  }

  constructor (connections: Connections, telling: Telling, match: (url: string) => ProbeKind, times: DrainTimes, inFlightNow: number) {
    this.#connections = connections
    this.#telling = telling
    this.#match = match
    this.#times = times
    this.#deadline = new Deadline(match, telling.since)
    this.outcome = drainOutcome(inFlightNow, connections.all.size)
  }

  async run (timeout: number, atDeadline?: () => void): Promise<DrainOutcome> {
    const outcome = this.outcome
    const drained = new Promise<void>(resolve => { this.#drained = resolve })
    this.#telling.drain({
      idle: connection => { this.#waitQuiet(connection, freshWindow(connection.neverUsed, this.#times)) },
      completed: () => { outcome.completed++ }
    })
    this.#connections.report({
      // Accepted while the listener was closing: the same window as any connection that has not spoken yet.
      accepted: connection => {
        if (connection.session === undefined) this.#waitQuiet(connection, freshWindow(connection.neverUsed, this.#times))
      },
      closed: connection => { this.#closed(connection) },
      // A server listening after the drain began (a signal before `listen`): closed once its 'listening' callbacks ran.
      listening: server => { process.nextTick(() => { this.closeListener(server) }) },
      socketlessEnded: () => {
        if (!this.#forcing) outcome.completed++
        this.#checkDrained()
      },
      session: connection => { goAway(connection, this.#match) }
    })
    for (const server of this.#connections.servers) this.closeListener(server)
    this.#decide()
    this.#checkDrained()
    if (await deadline(drained, timeout) === TIMED_OUT) {
      atDeadline?.()
      this.#forcing = true
      await this.#deadline.cut(this.#connections, this.#closing, outcome)
    }
    this.#drained = undefined
    return outcome
  }

  closeListener (server: NetServer): void {
    if (this.#closing.has(server) || !server.listening) return
    this.#closing.add(server)
    // net.Server's close, not http.Server's: the latter destroys idle keep-alive sockets on the spot, where a client
    // may be writing its next request. They get a quiet window instead.
    NetServer.prototype.close.call(server, () => {
      this.#closing.delete(server)
      this.#checkDrained()
    })
  }

  stillRunning (): ForcedRequest[] {
    return this.#deadline.stillRunning()
  }

  #decide (): void {
    const now = performance.now()
    const clock = loopNow()
    const receiving = new Map<NetServer, Set<Socket> | undefined>()
    // One call per connection: V8 compiles a long-running loop on the spot (OSR) with its whole body inlined: slower.
    for (const connection of this.#connections.all) this.#decideOne(connection, now, clock, receiving)
  }

  #decideOne (connection: Connection, now: number, clock: number | undefined, receiving: Map<NetServer, Set<Socket> | undefined>): void {
    const socket = connection.socket
    if (socket.destroyed) return
    if (connection.webSocket) this.outcome.webSockets++
    if (connection.session !== undefined) {
      this.outcome.http2Sessions++
      followStreams(connection, this.#match, this.#streamCompleted)
      goAway(connection, this.#match)
      return
    }
    // Idle since the signal through a lame duck at least as long as its window: nothing is left to decide, and closing
    // thousands of them is a loop of closes after one poll.
    if (connection.quietSinceSignal && now - this.#telling.since >= this.#times.idleSocketGrace && !socket.writableEnded) {
      this.#waitQuiet(connection, 0)
      return
    }
    const decision = closeDecision(connection.facts(now, this.#telling.since, clock, receivingOn(socket, receiving)), this.#times)
    if (decision.close === 'after') this.#waitQuiet(connection, decision.ms)
  }

  #closed (connection: Connection): void {
    const outcome = this.outcome
    if (connection.endedBy === 'idle') outcome.closedIdle++
    else if (connection.endedBy === 'peer-or-response') outcome.closedAfterResponse++
    this.#checkDrained()
  }

  #checkDrained (): void {
    const connections = this.#connections
    if (this.#drained !== undefined && connections.all.size === 0 && connections.socketless.size === 0 &&
      this.#closing.size === 0) this.#drained()
  }

  #waitQuiet (connection: Connection, ms: number): void {
    connection.waitQuiet(ms, this.#onQuiet)
    // Never before the event loop has polled once more: a request already in the kernel's buffer is served, not reset.
    if (ms === 0) this.#closeAfterPoll(connection)
  }

  #closeAfterPoll (connection: Connection): void {
    if (this.#quietNow.push(connection) === 1) afterNextPoll(this.#onQuietNow)
  }

  #closeQuiet (connection: Connection): void {
    const socket = connection.socket
    // Ending already (Node closes it), or bytes since the window began (a request arriving): not quiet.
    if (!stillQuiet({
      ending: socket.destroyed || socket.writableEnded,
      session: connection.session !== undefined,
      inFlight: activeResponse(socket) !== undefined,
      readSinceQuiet: connection.readSinceQuiet
    })) return
    connection.destroy('idle')
    // Done now, not at its 'close' event: nothing more can arrive on a closed descriptor, and an exit right away skips
    // Node's close handling of each socket, as bare server.close() then exit does.
    this.#connections.release(connection)
  }
}

function receivingOn (socket: Socket, receiving: Map<NetServer, Set<Socket> | undefined>): boolean {
  const server = serverOf(socket)
  if (server === undefined) return false
  if (!receiving.has(server)) receiving.set(server, receivingSockets(server))
  return receiving.get(server)?.has(socket) === true
}

// Runs `fn` after one complete poll phase more, so that what the kernel holds (a request on a socket, a connection in
// an accept queue) has been taken in: two immediates guarantee it; a timer would not (timers come before the poll).
export function afterNextPoll (fn: () => void): void {
  setImmediate(() => { setImmediate(fn) })
}
