import { CheckError } from './errors.js'
import type { BalancerName, FailureKind } from './types.js'

/** What a balancer in front of the instance does with a request the instance failed. */
export interface BalancerModel {
  /** What the reports call it. */
  title: string
  /** A refused connect (no byte of the request reached the instance) is sent to another instance. */
  retriesRefused: boolean
  /**
   * A request written to the instance that got no byte of an answer is sent to another instance, when its method is
   * idempotent (nginx's `proxy_next_upstream error timeout`). A non-idempotent one never is, once a byte went out.
   */
  retriesUnansweredIdempotent: boolean
}

export const BALANCERS: Readonly<Record<BalancerName, BalancerModel>> = {
  'kube-proxy': { title: 'a Kubernetes Service (kube-proxy)', retriesRefused: false, retriesUnansweredIdempotent: false },
  'nginx': { title: 'nginx (proxy_next_upstream error timeout)', retriesRefused: true, retriesUnansweredIdempotent: true },
  'haproxy-redispatch': { title: 'HAProxy with option redispatch', retriesRefused: true, retriesUnansweredIdempotent: false },
  'caddy': { title: 'Caddy (reverse_proxy, no retries)', retriesRefused: false, retriesUnansweredIdempotent: false },
  'none': { title: 'no balancer: clients connect directly', retriesRefused: false, retriesUnansweredIdempotent: false }
}

export const BALANCER_NAMES = Object.keys(BALANCERS) as BalancerName[]

/**
 * How long after the signal a balancer goes on routing new connections here, in ms. Kubernetes removes a terminating
 * pod from its EndpointSlices at the moment it sends SIGTERM; kube-proxy and ingress controllers on every node learn it
 * from a watch and reprogram their rules at most once per sync period (kube-proxy: 1 s), so in small clusters the last
 * one stops routing one to a few seconds later (docs/check.md, "The balancer", gives the sources).
 */
export const DEFAULT_PROPAGATION: Readonly<{ min: number, max: number }> = { min: 1_000, max: 3_000 }

/** `2000` or `1000-3000`: a delay, or a range to draw each cycle's delay from. */
export function parsePropagation (text: string): { min: number, max: number } {
  const match = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(text.trim())
  if (match === null) throw new CheckError('CHECK_ERR_USAGE', `--propagation takes ms or a range of ms, like 2000 or 1000-3000; got "${text}"`)
  const min = Number(match[1])
  const max = match[2] === undefined ? min : Number(match[2])
  return { min, max }
}

/** The kinds of failure that leave no byte of an answer at the client: a balancer can still send the request elsewhere. */
const UNANSWERED: ReadonlySet<FailureKind> = new Set(['reset-fresh-connection', 'reset-reused-connection', 'idle-closed', 'pipelined-behind-close', 'exited-in-flight'])

/**
 * Whether the balancer sends this failure to another instance, where it is answered. Refused: no byte reached this
 * instance, so every balancer that retries at all retries it, whatever the method. Written but unanswered: only a
 * balancer that retries such requests, and only for an idempotent method: no balancer re-sends a POST once a byte of
 * it reached an upstream, since the upstream may have acted on it.
 */
export function retriedElsewhere (model: BalancerModel, kind: FailureKind, idempotent: boolean, responseStarted: boolean): boolean {
  if (kind === 'routed-to-closed-listener') return model.retriesRefused
  return model.retriesUnansweredIdempotent && idempotent && !responseStarted && UNANSWERED.has(kind)
}
