import type { Graceful, Phase, PhaseEvent, ShutdownEndEvent } from '@graceful/core'
import { Counter, Gauge, register as defaultRegistry, type Registry } from 'prom-client'

export interface GracefulMetricsOptions {
  /**
   * The registry the metrics are registered in.
   * @default prom-client's default registry (`register`)
   */
  registry?: Registry
  /**
   * Prefix of every metric name; give each instance its own when one process runs several.
   * @default 'graceful_'
   */
  prefix?: string
}

/** The metrics `gracefulMetrics()` registered, and the way to take them back. */
export interface GracefulMetrics {
  inFlight: Gauge
  openSockets: Gauge
  phase: Gauge<'phase'>
  drainDuration: Gauge
  forcedCloses: Counter
  /** Work the work sources (`addWorkSource`) are running. */
  workInFlight: Gauge
  /** Work the drain deadline cut, by work source. */
  workCut: Counter<'source'>
  /**
   * Requests the drain deadline cut, by what their handler did (`ended`, `ended-after-cut`, `running`, `unknown` for
   * HTTP/2): any but `unknown` may have committed work its client was told had failed.
   */
  requestsCut: Counter<'handler'>
  /** Stops listening to the instance and removes the metrics from the registry. */
  remove: () => void
}

const PHASES: readonly Phase[] = ['running', 'stopping', 'draining', 'cleanup', 'stopped']

/**
 * Registers the instance's metrics with prom-client: gauges read at scrape time, drain figures from its events.
 * `graceful`: the core instance, `fastify.graceful`, or the Express middleware.
 */
export function gracefulMetrics (graceful: Graceful | { readonly graceful: Graceful }, options: GracefulMetricsOptions = {}): GracefulMetrics {
  const instance = 'graceful' in graceful ? graceful.graceful : graceful
  const registry = options.registry ?? defaultRegistry
  const prefix = options.prefix ?? 'graceful_'
  const registers = [registry]
  let drainStarted: number | undefined
  let drainSeconds = 0

  const inFlight = new Gauge({
    name: `${prefix}in_flight_requests`,
    help: 'HTTP requests whose response has not finished.',
    registers,
    // The instance's inFlight counts the work sources' work too: it has a gauge of its own.
    collect () { this.set(instance.inFlight - instance.workInFlight) }
  })
  const openSockets = new Gauge({
    name: `${prefix}open_sockets`,
    help: 'Sockets open on the attached servers.',
    registers,
    collect () { this.set(instance.openSockets) }
  })
  const phase = new Gauge({
    name: `${prefix}shutdown_phase`,
    help: 'The shutdown phase the instance is in: 1 for the current phase, 0 for the others.',
    labelNames: ['phase'] as const,
    registers,
    collect () {
      const current = instance.state
      for (const name of PHASES) this.set({ phase: name }, name === current ? 1 : 0)
    }
  })
  const drainDuration = new Gauge({
    name: `${prefix}drain_duration_seconds`,
    help: 'How long the drain took (so far, while draining): from the listener closing to the last socket closed.',
    registers,
    collect () {
      this.set(drainStarted === undefined ? drainSeconds : (performance.now() - drainStarted) / 1000)
    }
  })
  const forcedCloses = new Counter({
    name: `${prefix}forced_closes_total`,
    help: 'Sockets destroyed at the drain deadline, with whatever request they were still serving.',
    registers
  })

  const workInFlight = new Gauge({
    name: `${prefix}work_in_flight`,
    help: 'Work the work sources (queue consumers, schedulers, gRPC servers) are running.',
    registers,
    collect () { this.set(instance.workInFlight) }
  })
  const workCut = new Counter({
    name: `${prefix}work_cut_total`,
    help: 'Work the drain deadline cut (jobs handed back, calls ended), by work source.',
    labelNames: ['source'] as const,
    registers
  })

  const requestsCut = new Counter({
    name: `${prefix}requests_cut_total`,
    help: 'Requests the drain deadline cut, by what their handler did: ended (before the cut), ended-after-cut, running (when the report was written), unknown (HTTP/2).',
    labelNames: ['handler'] as const,
    registers
  })

  const onPhase = (event: PhaseEvent): void => {
    if (event.phase === 'draining') drainStarted = performance.now()
    if (event.previous === 'draining') {
      drainStarted = undefined
      drainSeconds = event.previousDurationMs / 1000
    }
  }
  const onEnd = (event: ShutdownEndEvent): void => {
    if (event.report.sockets.forced > 0) forcedCloses.inc(event.report.sockets.forced)
    for (const work of event.report.work?.forced ?? []) workCut.inc({ source: work.source })
    for (const request of event.report.requests.forced) requestsCut.inc({ handler: request.handler ?? 'unknown' })
  }
  instance.on('phase', onPhase)
  instance.on('shutdown:end', onEnd)

  return {
    inFlight,
    openSockets,
    phase,
    drainDuration,
    forcedCloses,
    requestsCut,
    workInFlight,
    workCut,
    remove () {
      instance.off('phase', onPhase)
      instance.off('shutdown:end', onEnd)
      for (const name of ['in_flight_requests', 'open_sockets', 'shutdown_phase', 'drain_duration_seconds', 'forced_closes_total', 'requests_cut_total', 'work_in_flight', 'work_cut_total']) {
        registry.removeSingleMetric(prefix + name)
      }
    }
  }
}
