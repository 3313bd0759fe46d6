// The lame duck's length: fixed, or adaptive (over once no fresh traffic has come for a quiet window).
import { performance } from 'node:perf_hooks'

export interface LameDuckTimes {
  /** `preStopDelay`: the lame duck never lasts longer. */
  maximum: number
  /** `preStopMinimumDelay`: it never ends earlier, however quiet. */
  minimum: number
  /** `preStopQuietWindow`: how long without a request on a fresh connection counts as "the load balancer let go". */
  quietWindow: number
}

// How long before the lame duck's latest end it stops telling clients to go (`Telling.settling`): one told then would
// reconnect here just as the listener closes. Half the lame duck when that is shorter.
export const SETTLE_MS = 100

export function settleAt (maximum: number): number {
  return maximum - Math.min(SETTLE_MS, maximum / 2)
}

export interface LameDuckEnd {
  reason: 'quiet' | 'maximum'
  durationMs: number
}

// Waits until the lame duck may end: the first moment past `minimum` with no fresh request for `quietWindow`, or
// `maximum`. `lastActivity()` (0: none) is read when the timer fires: a request costs one store, nothing polls.
export function lameDuck (times: LameDuckTimes, lastActivity: () => number): Promise<LameDuckEnd> {
  const started = performance.now()
  const latest = started + times.maximum
  return new Promise(resolve => {
    const decide = (): void => {
      const now = performance.now()
      const earliest = Math.max(started + times.minimum, Math.max(started, lastActivity()) + times.quietWindow)
      // Timers fire on whole milliseconds of their own clock: within one of a boundary counts as reached.
      if (earliest <= now + 1 && earliest < latest) {
        resolve({ reason: 'quiet', durationMs: now - started })
      } else if (now + 1 >= latest) {
        resolve({ reason: 'maximum', durationMs: now - started })
      } else {
        setTimeout(decide, Math.min(earliest, latest) - now)
      }
    }
    setTimeout(decide, Math.min(times.maximum, Math.max(times.minimum, times.quietWindow)))
  })
}
