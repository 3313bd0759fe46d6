// An instance's parts and how they are wired; the facade (graceful.ts) is the public API over them, with no logic.
import { AppCloses, type AppCloseHost } from './serving/app-close.js'
import { Connections } from './connections/connections.js'
import { inFlight } from './shutdown/drain.js'
import { gracefulError } from './errors.js'
import { LifecycleEvents } from './report/events.js'
import { Flushes } from './shutdown/flush.js'
import type { Hook } from './shutdown/hooks.js'
import { LateAttach } from './serving/late-attach.js'
import { LazySignal } from './serving/lazy-signal.js'
import { Lifecycle } from './shutdown/lifecycle.js'
import { InstanceLog } from './report/logger.js'
import { resolveOptions, type ResolvedOptions } from './options/resolve-options.js'
import { probeMatcher, ProbeRoutes, READINESS, type ProbeRouting } from './serving/probe-routes.js'
import { Readiness, type HealthResponse } from './serving/readiness.js'
import { Sequence } from './shutdown/sequence.js'
import { budgetWarning, configurationWarnings, containerWarnings, usageWarnings, type WarningName } from './process/warnings.js'
import { WebSockets } from './connections/web-sockets.js'
import { FORCE_TIMEOUT, WorkSources } from './shutdown/work.js'

export interface Parts<G> {
  options: ResolvedOptions
  log: InstanceLog
  warn: (name: WarningName, subject: string, obj: object, msg: string) => void
  events: LifecycleEvents<G>
  connections: Connections
  appCloses: AppCloses
  routes: ProbeRoutes
  readiness: Readiness
  late: LateAttach
  webSockets: WebSockets
  hooks: Hook[]
  work: WorkSources<G>
  flushes: Flushes
  draining: LazySignal
  deadline: LazySignal
  sequence: Sequence<G>
  lifecycle: Lifecycle
  /** Warns, once, when the worst-case shutdown no longer fits in the grace period: called as steps are registered. */
  checkBudget: () => void
}

/** Builds an instance's parts from its options; `instance` is the facade they report to and name in their events. */
export function assemble<G extends AppCloseHost & { attach: (server: never) => unknown }> (instance: G, given: unknown, routing: ProbeRouting): Parts<G> {
  const options = resolveOptions(given)
  const log = new InstanceLog(options.logger)
  const warn = usageWarnings(options, (obj, msg) => { log.warn(obj, msg) })
  const events = new LifecycleEvents<G>((name, err) => {
    log.warn({ event: name, error: err instanceof Error ? err.message : String(err) }, 'graceful: a lifecycle event listener threw; the shutdown goes on')
  })
  const readiness = new Readiness(options, (name, result) => {
    if (result.status === 'ok') log.info({ check: name, status: result.status }, `graceful: readiness check "${name}" passes`)
    else log.warn({ check: name, status: result.status, error: result.error }, `graceful: readiness check "${name}" fails`)
  })
  const retryAfter = Math.max(1, Math.ceil((options.preStopDelay + options.drainTimeout) / 1000))
  // Probes are answered from the sequence's phase: read when a probe comes, once everything here is built.
  const routes = new ProbeRoutes(probeMatcher(options.readinessPath, options.livenessPath, routing),
    (kind): HealthResponse | Promise<HealthResponse> => readiness.answer(kind === READINESS ? 'readiness' : 'liveness', sequence.phase, retryAfter),
    err => { log.error({ err: err instanceof Error ? err.message : String(err) }, 'graceful: readiness failed') })
  const connections = new Connections()
  const appCloses = new AppCloses(instance)
  const webSockets = new WebSockets(socket => { connections.of(socket)?.upgradedToWebSocket() })
  const hooks: Hook[] = []
  const work = new WorkSources<G>(instance, events)
  const flushes = new Flushes()
  const draining = new LazySignal()
  const deadline = new LazySignal()
  const requestsInFlight = (): number => inFlight(connections, routes.match)
  const sequence: Sequence<G> = new Sequence<G>({
    instance,
    options,
    connections,
    routes,
    match: url => routes.match(url),
    webSockets,
    abort: reason => { draining.abort(() => gracefulError('GRACEFUL_ERR_SHUTTING_DOWN', reason)) },
    cut: reason => { deadline.abort(() => gracefulError('GRACEFUL_ERR_DRAIN_DEADLINE', reason)) },
    deadlineSignal: () => deadline.signal,
    events,
    hooks,
    inFlight: requestsInFlight,
    work,
    log: (level, obj, msg) => { log[level](obj, msg) }
  })
  containerWarnings(options, (obj, msg) => { log.warn(obj, msg) })
  if (options.fromEnvironment.length > 0) {
    log.info({ environment: Object.fromEntries(options.fromEnvironment.map(entry => [entry.variable, entry.value])) },
      `graceful: configured from the environment: ${options.fromEnvironment.map(entry => `${entry.option} from ${entry.variable}=${entry.value}`).join(', ')}`)
  }
  configurationWarnings(options, warn)
  let budgetWarned = false
  const checkBudget = (): void => {
    if (budgetWarned) return
    budgetWarned = budgetWarning(options, hooks, (obj, msg) => { log.warn(obj, msg) },
      { flushes: flushes.steps, forceTimeout: work.forces ? FORCE_TIMEOUT : 0 })
  }
  checkBudget()
  const late = new LateAttach(connections, routes, server => { instance.attach(server as never) }, warn)
  const lifecycle = new Lifecycle({
    options, sequence, appCloses, flushes, log, warn, inFlight: requestsInFlight, openSockets: () => connections.all.size
  })
  return { options, log, warn, events, connections, appCloses, routes, readiness, late, webSockets, hooks, work, flushes, draining, deadline, sequence, lifecycle, checkBudget }
}
