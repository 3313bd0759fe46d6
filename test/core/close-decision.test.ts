// The rules that decide when a connection may close, as properties over every combination of what a connection can be
// doing and of the time (packages/core/src/connections/close-decision.ts): pure, no sockets, milliseconds on every Node line.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { closeDecision, quietFor, saysClose, stillQuiet, type ConnectionFacts, type DrainTimes } from '../../packages/core/dist/connections/close-decision.js'

const ms = fc.double({ min: 0, max: 120_000, noNaN: true })
const times: fc.Arbitrary<DrainTimes> = fc.record({ idleSocketGrace: fc.integer({ min: 0, max: 5_000 }), newSocketGrace: fc.integer({ min: 0, max: 10_000 }) })
const facts: fc.Arbitrary<ConnectionFacts> = fc.record({
  session: fc.boolean(),
  upgraded: fc.boolean(),
  ending: fc.boolean(),
  inFlight: fc.boolean(),
  neverUsed: fc.boolean(),
  receiving: fc.boolean(),
  quietByNode: fc.option(ms, { nil: undefined }),
  idleSinceSignal: fc.boolean(),
  msSinceSignal: ms,
  msSinceFinished: fc.option(ms, { nil: undefined }),
  msSinceConnected: fc.option(ms, { nil: undefined })
})

describe('closeDecision', () => {
  it('never closes a connection with request bytes received and unanswered: a request in flight, or one whose head is arriving', () => {
    fc.assert(fc.property(facts, times, (connection, windows) => {
      const answered = !connection.inFlight && !(connection.receiving && !connection.neverUsed)
      if (!answered) expect(closeDecision(connection, windows)).toEqual({ close: 'never' })
    }))
  })

  it('leaves to their own end a session (GOAWAY), an upgraded connection (its protocol) and one Node is ending', () => {
    fc.assert(fc.property(facts, times, (connection, windows) => {
      if (connection.session || connection.upgraded || connection.ending) expect(closeDecision(connection, windows)).toEqual({ close: 'never' })
    }))
  })

  it('never holds a connection that never sent a byte past newSocketGrace from its connection', () => {
    fc.assert(fc.property(facts, times, (connection, windows) => {
      // A session, an upgrade or a socket Node is ending has its own end; any other never-used socket is closed.
      if (!connection.neverUsed || connection.session || connection.upgraded || connection.ending || connection.inFlight) return
      const decision = closeDecision(connection, windows)
      expect(decision.close).toBe('after')
      const age = connection.msSinceConnected ?? 0
      expect(age + (decision as { ms: number }).ms).toBeLessThanOrEqual(Math.max(windows.newSocketGrace, age))
    }))
  })

  it('closes a quiet keep-alive connection once it has been quiet for idleSocketGrace, never sooner', () => {
    fc.assert(fc.property(facts, times, (connection, windows) => {
      const decision = closeDecision(connection, windows)
      const quiet = !connection.neverUsed && !connection.session && !connection.upgraded && !connection.ending && !connection.inFlight && !connection.receiving
      if (quiet) expect(decision.close).toBe('after')
      if (connection.neverUsed || decision.close === 'never') return
      expect(decision.ms).toBeLessThanOrEqual(windows.idleSocketGrace)
      // Quiet when it closes: what it had been quiet so far, plus the wait. Never less than the window.
      expect(quietFor(connection) + decision.ms).toBeGreaterThanOrEqual(windows.idleSocketGrace)
    }))
  })

  it.each([
    ["Node's own keep-alive timer, when it runs", { quietByNode: 40, idleSinceSignal: true, msSinceSignal: 900, msSinceFinished: 10 }, 40],
    ['the whole shutdown so far, for a connection idle at the signal that has read nothing since (the lame duck is quiet time)', { idleSinceSignal: true, msSinceSignal: 900, msSinceFinished: 10 }, 900],
    ['its last response, when one finished during the shutdown', { idleSinceSignal: false, msSinceSignal: 900, msSinceFinished: 10 }, 10],
    ['the start of the drain, when nothing tells', { idleSinceSignal: false, msSinceSignal: 900 }, 0]
  ])('counts the quiet time from %s', (_name, given, quiet) => {
    const connection = { ...idle(), ...given }
    expect(quietFor(connection)).toBe(quiet)
    expect(closeDecision(connection, { idleSocketGrace: 100, newSocketGrace: 1_000 })).toEqual({ close: 'after', ms: Math.max(0, 100 - quiet) })
  })
})

describe('stillQuiet, at the end of a quiet window', () => {
  it('closes only a connection that read nothing since its window began, has nothing in flight and is not ending', () => {
    fc.assert(fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), (ending, session, inFlight, readSinceQuiet) => {
      expect(stillQuiet({ ending, session, inFlight, readSinceQuiet })).toBe(!ending && !session && !inFlight && !readSinceQuiet)
    }))
  })
})

describe('saysClose, as a response head goes out after the signal', () => {
  it('the newest response says Connection: close, outside the settle, unless the next request is arriving behind its complete one', () => {
    fc.assert(fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.constantFrom(200, 204, 101, 500), (newest, settling, requestComplete, receiving, statusCode) => {
      const closes = saysClose({ newest, settling, statusCode, requestComplete, receivingNext: () => receiving })
      if (!newest || settling || statusCode === 101) expect(closes).toBe(false)
      else expect(closes).toBe(!(requestComplete && receiving))
    }))
  })
})

function idle (): ConnectionFacts {
  return {
    session: false,
    upgraded: false,
    ending: false,
    inFlight: false,
    neverUsed: false,
    receiving: false,
    quietByNode: undefined,
    idleSinceSignal: false,
    msSinceSignal: 0,
    msSinceFinished: undefined,
    msSinceConnected: 500
  }
}
