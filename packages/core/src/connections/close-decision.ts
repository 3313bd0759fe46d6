// When a connection may close once draining has begun: pure functions of what it is doing and of the time, so that
// the rules that lose no request can be checked without sockets (test/close-decision.test.ts, property tests).

/** The drain's windows, in ms. */
export interface DrainTimes {
  /** How long a keep-alive connection must have been quiet before it closes. */
  idleSocketGrace: number
  /** How long after its connection one that never sent a byte may be kept. */
  newSocketGrace: number
}

/** What the drain reads of a connection, all at one moment (Connection#facts). */
export interface ConnectionFacts {
  /** An HTTP/2 session: GOAWAY and its streams end it. */
  session: boolean
  /** It left HTTP (WebSocket, CONNECT). */
  upgraded: boolean
  /** Node is ending it already (its last response said close), or it is gone. */
  ending: boolean
  /** A response is being written on it. */
  inFlight: boolean
  /** It has never sent a byte, or is still in its TLS handshake. */
  neverUsed: boolean
  /** Node's parser is in the middle of a request's head on it. */
  receiving: boolean
  /** How long it has been quiet by Node's own keep-alive timer, when that runs. */
  quietByNode: number | undefined
  /** It was idle when the shutdown began and has read nothing since. */
  idleSinceSignal: boolean
  msSinceSignal: number
  /** Since its last followed response finished, when one did during the shutdown. */
  msSinceFinished: number | undefined
  /** Since it was accepted, when that is known. */
  msSinceConnected: number | undefined
}

/**
 * `never`: the drain does not close it; its own end does (its response, its protocol), or the deadline. `after`:
 * once it has been quiet for `ms` more (0: after the event loop's next poll, never in the tick it is decided).
 */
export type CloseDecision = { close: 'never' } | { close: 'after', ms: number }

const NEVER: CloseDecision = { close: 'never' }

/**
 * A quiet connection may have a request on the wire that its client wrote before it saw anything from us, so it gets
 * a window from the moment it turned quiet: `idleSocketGrace` after its last response, or, when it never sent a
 * request, `newSocketGrace` from its connection (a browser's preconnect).
 */
export function closeDecision (facts: ConnectionFacts, times: DrainTimes): CloseDecision {
  // In flight: its response decides. Upgraded: its own protocol (1001), or the deadline. Ending: Node closes it once its
  // last bytes are out; closing it could cut them. A session: GOAWAY.
  if (facts.session || facts.inFlight || facts.upgraded || facts.ending) return NEVER
  if (facts.neverUsed) return after(freshWindow(true, times) - (facts.msSinceConnected ?? 0))
  // Part of a request's head has arrived: closing would reset it. Its request will be told, or the deadline ends it.
  if (facts.receiving) return NEVER
  return after(freshWindow(false, times) - quietFor(facts))
}

/**
 * How long it has been quiet: by Node's keep-alive timer when it runs; else the whole shutdown so far when it was idle
 * at the signal and has read nothing since (the lame duck counts as quiet time); else since its last response
 * finished; else unknown, and it waits the whole window.
 */
export function quietFor (facts: ConnectionFacts): number {
  if (facts.quietByNode !== undefined) return facts.quietByNode
  if (facts.idleSinceSignal) return facts.msSinceSignal
  return facts.msSinceFinished ?? 0
}

/**
 * The whole window: for a connection that never sent a byte, from its connection; for another, from its last byte. A
 * response that finishes while draining, or a connection accepted as the listener closes, starts one in full.
 */
export function freshWindow (neverUsed: boolean, times: DrainTimes): number {
  return neverUsed ? times.newSocketGrace : times.idleSocketGrace
}

/**
 * At the end of its quiet window (after the poll that follows it): it closes only when nothing has arrived meanwhile,
 * nothing is in flight and Node is not ending it already.
 */
export function stillQuiet (facts: { ending: boolean, session: boolean, inFlight: boolean, readSinceQuiet: boolean }): boolean {
  return !facts.ending && !facts.session && !facts.inFlight && !facts.readSinceQuiet
}

/**
 * Whether a response whose head is going out says `Connection: close`: only the newest on its connection (Node closes
 * the socket after it, so an earlier one would drop the requests pipelined behind it); not while the lame duck settles
 * (a client told then would reconnect to a listener about to close); not a protocol switch; and not when Node's parser
 * is receiving the next request behind a complete one (the close then waits for that request's answer).
 */
export function saysClose (head: { newest: boolean, settling: boolean, statusCode: unknown, requestComplete: boolean, receivingNext: () => boolean }): boolean {
  return head.newest && !head.settling && head.statusCode !== 101 && !(head.requestComplete && head.receivingNext())
}

function after (ms: number): CloseDecision {
  return { close: 'after', ms: ms > 0 ? ms : 0 }
}
