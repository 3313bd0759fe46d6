import { BALANCERS } from './balancer.js'
import { classify, idempotent, type CycleFacts, type Observed } from './classify.js'
import type { Settings } from './options.js'
import type { Recorder } from './recorder.js'
import type { Exit } from './service.js'
import type { BalancerName, CycleReport, FailedRequest, Finding, RequestMark } from './types.js'

/**
 * The readiness path still answered 2xx to several probes after the signal and never failed: from outside, the
 * service never asked to leave the rotation. Without --ready the probe went to the first load path, which a graceful
 * service keeps answering through its lame duck: the user most likely meant its readiness route. Three probes, so that
 * one that reached the service before it handled the signal does not count; a failure later on (a readiness route
 * that flips late) is an answer, and then there is nothing to say.
 */
export function readinessFinding (settings: Pick<Settings, 'ready' | 'readyGiven'>, recorder: Pick<Recorder, 'readyAfterSignal' | 'notReadyAt'>): Finding | undefined {
  if (recorder.readyAfterSignal < 3 || recorder.notReadyAt !== undefined) return undefined
  // No count in the text: the findings of several cycles are told once each, by their text.
  const probes = 'three or more probes sent after the signal'
  if (!settings.readyGiven) {
    return {
      kind: 'readiness-never-failed',
      fails: false,
      cause: `no --ready was given, so readiness was probed on the first load path, GET ${settings.ready}, which answered 2xx to ${probes} and never failed: this check could not see the service ask to leave the rotation`,
      fix: 'give the service\'s readiness path with --ready (a graceful service: --ready /healthz), as its readiness probe or balancer health check is configured'
    }
  }
  return {
    kind: 'readiness-never-failed',
    fails: false,
    cause: `the readiness path GET ${settings.ready} answered 2xx to ${probes} and never failed: a balancer or kubelet probing it goes on routing new connections here until the listener closes`,
    fix: 'fail readiness (503) as soon as the signal comes, then keep serving for a few probe periods before closing the listener (graceful: the /healthz route and preStopDelay)'
  }
}

export interface CycleContext {
  cycle: number
  seed: number
  url: string
  balancer: BalancerName
  /** This cycle's propagation delay; null without a balancer. */
  propagationMs: number | null
  /** The service's own last lines, where graceful's report is found. */
  output: readonly string[]
  signalAfter: number
  exit: Exit | undefined
  killedAfterTimeout: boolean
  findings: Finding[]
  idle: Array<{ opened: boolean, closedAt: number | undefined, serviceAlive: boolean }>
  accepted: Set<number> | undefined
  instances: CycleReport['instances']
  proxyLog: Record<string, number>
  /** A second look at a failure, with what only the caller knows (a proxy's log). */
  refine?: (failure: FailedRequest, observed: Observed) => FailedRequest
}

/** What the recorder saw, classified, as the report's cycle. */
export function cycleReport (settings: Settings, recorder: Recorder, context: CycleContext): CycleReport {
  const { cycle, seed, signalAfter, exit, findings } = context
  const idleResults = context.idle
  const signalAt = recorder.signalAt ?? recorder.startedAt
  const facts: CycleFacts = {
    signalAt: signalAt,
    listenerRefusedAt: recorder.listenerRefusedAt,
    exitAt: recorder.exitAt,
    killedAt: recorder.killedAt,
    idleGrace: settings.idleGrace,
    accepted: context.accepted,
    balancer: BALANCERS[context.balancer]
  }
  const classified = recorder.observed.map(observed => {
    const failure = classify(observed, facts)
    return context.refine === undefined ? failure : context.refine(failure, observed)
  })
  // Sorted by when they failed; each request's mark keeps the index of its failure in that order.
  const order = classified.map((_, index) => index).sort((a, b) => classified[a]!.failedMs - classified[b]!.failedMs)
  const position = new Map(order.map((observedIndex, sortedIndex) => [observedIndex, sortedIndex]))
  const failures = order.map(index => classified[index]!)
  for (const failure of failures) if (failure.lost) recorder.byClient[failure.client].lost++
  const since = (at: number | undefined): number | null => at === undefined ? null : Math.round(at - signalAt)
  const sent = Object.values(recorder.byClient).reduce((sum, counts) => sum + counts.sent, 0)
  const lost = failures.filter(failure => failure.lost).length
  // The moment the balancer let go, once it has passed: the load ran at least until then unless it was stopped early.
  const routingEnded = recorder.routingEndsAt !== undefined && recorder.routingEndsAt <= performance.now()
    ? [{ at: recorder.routingEndsAt, what: `the balancer stops routing new connections here (endpoint propagation, ${context.propagationMs ?? 0} ms)` }]
    : []
  const timeline = [...recorder.timeline, ...routingEnded, ...recorder.probeChanges.map(change => ({ at: change.at, what: `readiness: ${change.what}` }))]
    .sort((a, b) => a.at - b.at)
    .map(event => ({ atMs: Math.round(event.at - signalAt), what: event.what }))
  const marks: RequestMark[] = [...recorder.marks].sort((a, b) => a[1] - b[1])
    .map(([client, sentAt, doneAt, failure]) => [client, Math.round(sentAt - signalAt), Math.round(doneAt - signalAt), failure === -1 ? null : position.get(failure)!])
  return {
    cycle,
    seed,
    url: context.url,
    signalAfterMs: signalAfter,
    times: {
      readinessFailedMs: since(recorder.readinessFailedAt),
      listenerRefusedMs: since(recorder.listenerRefusedAt),
      lastResponseMs: since(recorder.lastResponseAt),
      exitMs: since(recorder.exitAt),
      routingEndedMs: routingEnded.length === 0 ? null : since(recorder.routingEndsAt)
    },
    balancer: { model: context.balancer, propagationMs: context.propagationMs },
    servicePhases: servicePhases(context.output),
    exit: { code: exit?.code ?? null, signal: exit?.signal ?? null, killedAfterTimeout: context.killedAfterTimeout },
    requests: {
      sent,
      answered: recorder.answered,
      failed: failures.length,
      lost,
      excused: failures.length - lost,
      lostNotIdempotent: failures.filter(failure => failure.lost && !idempotent(failure.method)).length,
      byClient: recorder.byClient
    },
    connectionClose: recorder.connectionClose,
    statuses: recorder.statuses,
    idleSockets: {
      opened: idleResults.filter(result => result.opened).length,
      closedByServiceMs: idleResults.flatMap(result => result.closedAt !== undefined && result.serviceAlive ? [Math.round(result.closedAt - signalAt)] : []),
      openAtExit: idleResults.filter(result => result.opened && (result.closedAt === undefined || !result.serviceAlive)).length
    },
    probes: { sent: recorder.probes, changes: recorder.probeChanges.map(change => ({ atMs: Math.round(change.at - signalAt), what: change.what })) },
    timeline,
    failures,
    findings,
    instances: context.instances,
    proxyLog: context.proxyLog,
    marks
  }
}

/**
 * The phases of the shutdown as graceful reported them on its last line (`graceful: shutdown complete`, with
 * `phases: { stopping, draining, cleanup }` in ms), read from the service's output; null for any other service.
 */
export function servicePhases (output: readonly string[]): CycleReport['servicePhases'] {
  for (const line of [...output].reverse()) {
    if (!line.includes('graceful: shutdown complete')) continue
    try {
      const phases = (JSON.parse(line.slice(line.indexOf('{'))) as { phases?: Record<string, unknown> }).phases
      const ms = (value: unknown): number => typeof value === 'number' ? Math.round(value) : 0
      if (phases !== undefined) return { lameDuckMs: ms(phases.stopping), drainMs: ms(phases.draining), hooksMs: ms(phases.cleanup) }
    } catch {
      // not graceful's JSON line after all
    }
  }
  return null
}

