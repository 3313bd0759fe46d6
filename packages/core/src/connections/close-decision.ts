// When a connection may close once draining has begun: pure functions of its state and the time, so that the rules
// that lose no request are property-tested without sockets (test/core/close-decision.test.ts).

/** The drain's windows, in ms: `idleSocketGrace` after a connection's last byte, `newSocketGrace` after its accept. */
export interface DrainTimes {
  idleSocketGrace: number
  newSocketGrace: number
}

/** What the drain reads of a connection, all at one moment (Connection#facts). */
export interface ConnectionFacts {
  session: boolean
  upgraded: boolean
  /** Node is ending it already (its last response said close), or it is gone. */
  ending: boolean
  inFlight: boolean
  neverUsed: boolean
  receiving: boolean
  /** How long it has been quiet by Node's own keep-alive timer, when that runs. */
  quietByNode: number | undefined
  /** It was idle when the shutdown began and has read nothing since. */
  idleSinceSignal: boolean
  msSinceSignal: number
  /** Since its last followed response finished, when one did during the shutdown. */
  msSinceFinished: number | undefined
  msSinceConnected: number | undefined
}

// `never`: its own end or the deadline closes it; `after`: once quiet `ms` more (0: after the next poll, not now).
export type CloseDecision = { close: 'never' } | { close: 'after', ms: number }

const NEVER: CloseDecision = { close: 'never' }

// A quiet connection may have a request on the wire that its client wrote before it saw anything from us: it gets a
// window from the moment it turned quiet (a connection that never sent a request: from its accept, a preconnect).
export function closeDecision (facts: ConnectionFacts, times: DrainTimes): CloseDecision {
  // In flight: its response decides. Upgraded: its own protocol (1001), or the deadline. Ending: Node closes it once its
  // last bytes are out; closing it could cut them. A session: GOAWAY.
  if (facts.session || facts.inFlight || facts.upgraded || facts.ending) return NEVER
  if (facts.neverUsed) return after(freshWindow(true, times) - (facts.msSinceConnected ?? 0))
  // Part of a request's head has arrived: closing would reset it. Its request will be told, or the deadline ends it.
  if (facts.receiving) return NEVER
  return after(freshWindow(false, times) - quietFor(facts))
}

// How long it has been quiet: by Node's keep-alive timer when it runs; else, idle at the signal and silent since, the
// whole shutdown (the lame duck counts); else since its last response finished; else unknown: the whole window.
export function quietFor (facts: ConnectionFacts): number {
  if (facts.quietByNode !== undefined) return facts.quietByNode
  if (facts.idleSinceSignal) return facts.msSinceSignal
  return facts.msSinceFinished ?? 0
}

/** A response finished while draining, or a connection accepted as the listener closes, starts a window in full. */
export function freshWindow (neverUsed: boolean, times: DrainTimes): number {
  return neverUsed ? times.newSocketGrace : times.idleSocketGrace
}

/** At the end of its quiet window (after the poll that follows it): nothing arrived, nothing in flight, not ending. */
export function stillQuiet (facts: { ending: boolean, session: boolean, inFlight: boolean, readSinceQuiet: boolean }): boolean {
  return !facts.ending && !facts.session && !facts.inFlight && !facts.readSinceQuiet
}

// Whether a head going out says `Connection: close`: only the newest on its connection (Node closes the socket after
// it, dropping what is pipelined behind); not while the lame duck settles; not a protocol switch; not while the parser
// receives the next request behind a complete one (the close waits for that request's answer).
export function saysClose (head: { newest: boolean, settling: boolean, statusCode: unknown, requestComplete: boolean, receivingNext: () => boolean }): boolean {
  return head.newest && !head.settling && head.statusCode !== 101 && !(head.requestComplete && head.receivingNext())
}

function after (ms: number): CloseDecision {
  return { close: 'after', ms: ms > 0 ? ms : 0 }
}
