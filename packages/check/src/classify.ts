import { retriedElsewhere, type BalancerModel } from './balancer.js'
import type { ClientKind, FailedRequest, FailureKind, RequestPhase } from './types.js'

/** A failure as a client saw it, before the cycle's end tells what it means. Times are performance.now(). */
export interface Observed {
  client: ClientKind
  method: string
  path: string
  connection: 'fresh' | 'reused'
  localPort: number | null
  sentAt: number
  failedAt: number
  what: 'refused' | 'no-response' | 'mid-response' | 'status' | 'timeout'
  error: string | null
  status: number | null
  /** How long the connection had been quiet when this request went out on it (reused connections). */
  idleMs: number
  /** The server's FIN arrived before any byte of the answer. */
  finFirst: boolean
  /** Pipelined behind a response that said `Connection: close`. */
  behindClose: boolean
  /** A balancer still routed new connections here when the request went out. */
  routed: boolean
  /** Whether the service's process was still alive when the failure was seen. */
  serviceAlive: boolean
  /** The request's `x-check-id`, to find it in a proxy's log. */
  id?: number
}

/** What the end of a cycle knows. Times are performance.now(). */
export interface CycleFacts {
  signalAt: number
  listenerRefusedAt: number | undefined
  exitAt: number | undefined
  killedAt: number | undefined
  idleGrace: number
  /** The client ports the service said it accepted, when it said. */
  accepted: Set<number> | undefined
  /** What the balancer in front re-sends elsewhere. */
  balancer: BalancerModel
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

export function idempotent (method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase())
}

/** Each kind's cause and fix in one line, and whether it counts as lost. */
export const KINDS: Record<FailureKind, { lost: boolean, cause: string, fix: string }> = {
  'refused': {
    lost: false,
    cause: 'refused before sending: no byte went out, so any client or balancer retries it safely',
    fix: 'nothing to fix: a closed listener refuses, which is the safe way to say no'
  },
  'routed-to-closed-listener': {
    lost: true,
    cause: 'refused while the balancer still routed new connections here: endpoints take a while to propagate after the signal, whatever readiness says',
    fix: 'keep the listener open and serving after the signal for longer than the balancer takes to stop routing here (a lame duck: graceful\'s preStopDelay, or its adaptive default on Kubernetes), each response with `Connection: close`'
  },
  'never-accepted': {
    lost: false,
    cause: 'reset in the accept queue: the service never accepted this connection, so nothing of the request ran; safe to retry',
    fix: 'nothing the service can do once its listener closes; a lame duck keeps new connections away from it first'
  },
  'reset-fresh-connection': {
    lost: true,
    cause: 'a new connection was reset after its request went out: the listener closed with it still queued, or the service dropped it',
    fix: 'keep the listener open through a lame duck until the balancer has let go; with evidence of the accepted ports the report can tell the queue apart'
  },
  'reset-reused-connection': {
    lost: true,
    cause: 'a keep-alive socket was closed under a request',
    fix: 'close idle sockets only after a quiet window, or send `Connection: close` first'
  },
  'idle-closed': {
    lost: false,
    cause: 'a keep-alive connection quiet for longer than the idle window was closed as the request went out: the race every client meets at the idle timeout, which HTTP/1.1 leaves to the client to retry',
    fix: 'clients: retry an idempotent request that a reused connection closed without answering (RFC 9112 §9.3.1)'
  },
  'pipelined-behind-close': {
    lost: true,
    cause: 'pipelined behind a `Connection: close` response, and dropped without an answer',
    fix: 'answer every request already received before closing, or close only between requests; pipelining clients retry the rest'
  },
  'closed-mid-response': {
    lost: true,
    cause: 'closed before the response was complete',
    fix: 'let a response finish before closing its socket: close after the last byte, never on a timer that ignores it'
  },
  'exited-in-flight': {
    lost: true,
    cause: 'the process exited with the request in flight',
    fix: 'handle the signal: stop taking new work, let the requests in flight finish, then exit'
  },
  'killed-in-flight': {
    lost: true,
    cause: 'the service was still serving when graceful-check killed it: at the timeout, or because the signal never reached it',
    fix: 'exit within the grace period: tell keep-alive clients `Connection: close`, close idle sockets, bound the drain'
  },
  'server-error': {
    lost: true,
    cause: 'a 5xx from the service',
    fix: 'keep serving normally while shutting down; a 503 only on the readiness route'
  },
  'timed-out': {
    lost: true,
    cause: 'no full answer within the request timeout',
    fix: 'bound the drain below the grace period, and end long requests when it starts (an AbortSignal)'
  },
  'retried-elsewhere': {
    lost: false,
    cause: 'the balancer sent it to another instance: no byte of it had reached this one (refused), or it is idempotent and no byte of an answer had come back',
    fix: 'nothing lost here, but a retry costs the client time and a non-idempotent request is never retried: keep the listener open through a lame duck'
  },
  'probe-failed': {
    lost: false,
    cause: 'the readiness probe got no answer: a probe is the balancer\'s or the kubelet\'s own request, not a user\'s, and a failed one only says "not ready"',
    fix: 'nothing during a shutdown (a probe can meet the listener as it closes); before the signal, find why the readiness route fails'
  }
}

export function phaseAt (at: number, facts: CycleFacts, alive: boolean): RequestPhase {
  if (at < facts.signalAt) return 'before-signal'
  if (!alive || (facts.exitAt !== undefined && at >= facts.exitAt)) return 'after-exit'
  if (facts.listenerRefusedAt !== undefined && at >= facts.listenerRefusedAt) return 'drain'
  return 'lame-duck'
}

function kindOf (o: Observed, facts: CycleFacts): FailureKind {
  // Without a readiness route of its own (no --ready), the probe is a request to the first path, and it goes on until
  // the listener refuses: one may reach the listener as it closes. Whatever became of it, no user sent it.
  if (o.client === 'prober') return 'probe-failed'
  // Refused because graceful-check killed the service: nothing the balancer could have known.
  if (o.what === 'refused') return o.routed && !(facts.killedAt !== undefined && o.failedAt >= facts.killedAt) ? 'routed-to-closed-listener' : 'refused'
  if (o.what === 'status') return 'server-error'
  if (o.what === 'timeout') return 'timed-out'
  if (facts.killedAt !== undefined && o.failedAt >= facts.killedAt) return 'killed-in-flight'
  if (o.what === 'mid-response') return o.serviceAlive ? 'closed-mid-response' : 'exited-in-flight'
  if (o.behindClose) return 'pipelined-behind-close'
  if (o.connection === 'reused' && (o.finFirst || o.idleMs >= facts.idleGrace)) return 'idle-closed'
  // Evidence from the service's side settles what the client cannot know: whether the connection was ever accepted.
  if (o.connection === 'fresh' && facts.accepted !== undefined && o.localPort !== null && !facts.accepted.has(o.localPort)) return 'never-accepted'
  // A process that is exiting closes its sockets a moment before it shows as gone: a reset that close to the exit was
  // the exit's.
  if (!o.serviceAlive || (facts.exitAt !== undefined && facts.exitAt - o.failedAt < 100)) return 'exited-in-flight'
  return o.connection === 'fresh' ? 'reset-fresh-connection' : 'reset-reused-connection'
}

export function classify (o: Observed, facts: CycleFacts): FailedRequest {
  const seen = kindOf(o, facts)
  // What the client met, then what the balancer in front would have done with it: sent it to another instance.
  const retried = KINDS[seen].lost && retriedElsewhere(facts.balancer, seen, idempotent(o.method), o.what === 'mid-response')
  const kind = retried ? 'retried-elsewhere' : seen
  const { lost, fix } = KINDS[kind]
  const cause = retried ? `${facts.balancer.title} sent it to another instance after this one failed it: ${KINDS[seen].cause}` : KINDS[kind].cause
  return {
    client: o.client,
    method: o.method,
    path: o.path,
    idempotent: idempotent(o.method),
    connection: o.connection,
    localPort: o.localPort,
    sentMs: Math.round(o.sentAt - facts.signalAt),
    failedMs: Math.round(o.failedAt - facts.signalAt),
    phase: seen === 'exited-in-flight' ? 'after-exit' : phaseAt(o.failedAt, facts, o.serviceAlive),
    kind,
    status: o.status,
    error: o.error,
    lost,
    cause: kind === 'server-error' && o.status !== null ? `${cause} (${o.status})` : cause,
    fix
  }
}
