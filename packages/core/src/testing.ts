// @graceful/core/testing: instances for a test suite, a simulated signal, and waiting for a phase.
import { Graceful } from './graceful.js'
import type { GracefulOptions } from './options/options.js'
import type { Phase, ShutdownReport } from './report/report.js'

/** Options for a test's instance (no signals, no exit, no logs): spread them under yours, `{ ...testOptions, … }`. */
export const testOptions: Readonly<{ signals: readonly NodeJS.Signals[], exit: false, logger: false }> =
  Object.freeze({ signals: Object.freeze([]), exit: false as const, logger: false as const })

/** `createGraceful()` for a test: `testOptions` first, then yours. */
export function createTestGraceful (options?: GracefulOptions): Graceful {
  return new Graceful({ ...testOptions, ...options })
}

/** Starts the shutdown as `signal` would (its name is the `reason`), without sending one; resolves with the report. */
export function simulateSignal (graceful: Graceful, signal: NodeJS.Signals = 'SIGTERM'): Promise<ShutdownReport> {
  return graceful.shutdownFor(signal)
}

const ORDER: readonly Phase[] = ['running', 'stopping', 'draining', 'cleanup', 'stopped']

/** Resolves once the instance has entered `phase` (at once when it is there or past it already). */
export function untilPhase (graceful: Graceful, phase: Phase): Promise<void> {
  if (ORDER.indexOf(graceful.state) >= ORDER.indexOf(phase)) return Promise.resolve()
  return new Promise(resolve => {
    const onPhase = ({ phase: entered }: { phase: Phase }): void => {
      if (ORDER.indexOf(entered) < ORDER.indexOf(phase)) return
      graceful.off('phase', onPhase)
      resolve()
    }
    graceful.on('phase', onPhase)
  })
}
