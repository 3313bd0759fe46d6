// graceful-check's verdict on a service run with the preload and without it: the helpers the preload's tests share
// (test/preload/preload.test.ts on every Node line, test/preload/preload-builds.test.ts on the apps built in a temp folder).
import { expect } from 'vitest'
import { checkShutdown, type CheckOptions, type CheckReport } from '@graceful/check'

/** The lame duck the preloaded services get from the environment: longer than the simulated balancer routes here. */
export const PRELOAD_ENV = { GRACEFUL_PRE_STOP_DELAY: '1000ms' }
/** How long graceful-check's simulated Service goes on routing here after the signal: within the lame duck above. */
const PROPAGATION = { min: 300, max: 600 }

export interface Verdict {
  report: CheckReport
  /** Every line the service wrote. */
  output: string[]
}

/** One start–load–SIGTERM–exit cycle of `command` under graceful-check's default load, behind its simulated balancer. */
export async function judge (options: Pick<CheckOptions, 'command' | 'cwd' | 'env' | 'paths' | 'ready' | 'timeout' | 'startTimeout' | 'load'>): Promise<Verdict> {
  const output: string[] = []
  const report = await checkShutdown({ signalAfter: 400, propagation: PROPAGATION, ...options, onOutput: line => { output.push(line) } })
  return { report, output }
}

/** Every request answered, readiness failed after the signal (probes flip), and the process exited 0. */
export function expectNothingLost ({ report, output }: Verdict): void {
  const cycle = report.cycles[0]!
  const context = `lost: ${JSON.stringify(report.lost.slice(0, 5))}; findings: ${JSON.stringify(report.findings)}; output: ${output.slice(-20).join('\n')}`
  expect(report.lost, context).toEqual([])
  expect(report.ok, context).toBe(true)
  expect(cycle.times.readinessFailedMs, 'readiness answered 503 after the signal').not.toBeNull()
  expect(cycle.exit, context).toMatchObject({ code: 0, killedAfterTimeout: false })
  expect(report.totals.answered).toBeGreaterThan(20)
}

/** The same service without the preload: requests lost, so the verdict fails. */
export function expectRequestsLost ({ report }: Verdict): void {
  expect(report.ok).toBe(false)
  expect(report.totals.lost, JSON.stringify(report.causes)).toBeGreaterThan(0)
}
