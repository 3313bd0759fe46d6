import { createRequire } from 'node:module'
import { KINDS } from './classify.js'
import { runCycle } from './cycle.js'
import { checkRolloutCycle } from './haproxy.js'
import { settle } from './options.js'
import { derive } from './random.js'
import { SCHEMA_VERSION, type CheckOptions, type CheckReport, type CycleReport, type Distribution, type FailureKind } from './types.js'

/** This package's version, read when first asked for: nothing runs at import time. */
export function version (): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version
}

function distribution (values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b)
  return { min: sorted[0]!, median: sorted[Math.floor((sorted.length - 1) / 2)]!, max: sorted.at(-1)! }
}

/** The cycles' reports as one: totals, the distribution, each cause once, and the verdict. */
export function summarize (cycles: CycleReport[], context: { seed: number, signal: string, maxLost: number, target: CheckReport['target'], balancer: CheckReport['balancer'] }): CheckReport {
  const lost = cycles.flatMap(cycle => cycle.failures.filter(failure => failure.lost))
  const counts = new Map<FailureKind, number>()
  for (const failure of cycles.flatMap(cycle => cycle.failures)) counts.set(failure.kind, (counts.get(failure.kind) ?? 0) + 1)
  const causes = [...counts].map(([kind, count]) => ({ kind, count, lost: KINDS[kind].lost, cause: KINDS[kind].cause, fix: KINDS[kind].fix }))
    .sort((a, b) => Number(b.lost) - Number(a.lost) || b.count - a.count)
  const findings = cycles.flatMap(cycle => cycle.findings)
  const unique = findings.filter((finding, index) => findings.findIndex(other => other.kind === finding.kind && other.cause === finding.cause) === index)
  const exits = cycles.map(cycle => cycle.times.exitMs).filter((ms): ms is number => ms !== null)
  const sum = (key: 'sent' | 'answered' | 'failed' | 'lost' | 'excused' | 'lostNotIdempotent'): number => cycles.reduce((total, cycle) => total + cycle.requests[key], 0)
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'graceful-check', version: version() },
    ok: lost.length <= context.maxLost && !findings.some(finding => finding.fails),
    maxLost: context.maxLost,
    seed: context.seed,
    signal: context.signal,
    target: context.target,
    balancer: context.balancer,
    lost,
    totals: { sent: sum('sent'), answered: sum('answered'), failed: sum('failed'), lost: sum('lost'), excused: sum('excused'), lostNotIdempotent: sum('lostNotIdempotent') },
    distribution: { lost: distribution(cycles.map(cycle => cycle.requests.lost)), exitMs: exits.length === 0 ? null : distribution(exits) },
    causes,
    findings: unique,
    cycles
  }
}

/**
 * Starts the service (or takes one already running), loads it, sends it the signal and reports what was lost, by
 * cause, in the same shape as `graceful-check --json`. Throws a CheckError when the options are wrong or the
 * service does not start.
 */
export async function checkShutdown (options: CheckOptions): Promise<CheckReport> {
  const settings = settle(options)
  const cycles: CycleReport[] = []
  for (let cycle = 0; cycle < settings.cycles; cycle++) {
    if (settings.abortSignal?.aborted === true) break
    cycles.push(settings.lb === 'haproxy' ? await checkRolloutCycle({ ...settings, seed: derive(settings.seed, cycle) }, cycle) : await runCycle(settings, cycle))
  }
  return summarize(cycles, {
    seed: settings.seed,
    signal: settings.signal,
    maxLost: settings.maxLost,
    balancer: { model: settings.lb === 'haproxy' ? 'none' : settings.balancer, propagation: settings.propagation },
    target: {
      command: settings.command ?? null,
      url: cycles[0]?.url ?? `http://${settings.host}${settings.port === undefined ? '' : `:${settings.port}`}`,
      pid: settings.pid ?? null
    }
  })
}

