import { readFileSync } from 'node:fs'
import type { Observed } from './classify.js'
import type { ClientCounts, ClientKind, RequestPhase } from './types.js'

/** Whether a process is alive: on Linux a zombie (exited, not yet reaped) counts as gone. */
export function processAlive (pid: number | undefined): boolean {
  if (pid === undefined) return true
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The state follows the command name, which is in parentheses and may itself hold spaces or parentheses.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
}

const kinds: ClientKind[] = ['keep-alive', 'new-connection', 'slow', 'pipelined', 'prober']

/** Everything the clients and the prober of one cycle see, in one place. Times are performance.now(). */
export class Recorder {
  readonly startedAt: number = performance.now()
  signalAt: number | undefined
  listenerRefusedAt: number | undefined
  readinessFailedAt: number | undefined
  readinessFailures = 0
  /** Probes sent after the signal and answered 2xx: the service still said it was ready. */
  readyAfterSignal = 0
  /** When a probe sent after the signal was first answered with a status that is not 2xx. */
  notReadyAt: number | undefined
  lastResponseAt: number | undefined
  exitAt: number | undefined
  killedAt: number | undefined
  /** Set when the load must end: the service is gone, or the run's bound passed. */
  stopped = false
  /** When the balancer stops routing new connections here (the signal + the propagation delay). */
  routingEndsAt: number | undefined
  readiness = 'unknown'
  readonly observed: Observed[] = []
  /** Every request: client, sent, done (performance.now()), and the index of its failure in `observed` (-1: answered). */
  readonly marks: Array<[ClientKind, number, number, number]> = []
  readonly byClient = Object.fromEntries(kinds.map(kind => [kind, { sent: 0, completed: 0, failed: 0, lost: 0 }])) as Record<ClientKind, ClientCounts>
  readonly connectionClose: Record<RequestPhase, number> = { 'before-signal': 0, 'lame-duck': 0, 'drain': 0, 'after-exit': 0 }
  readonly statuses: Record<string, number> = {}
  readonly timeline: Array<{ at: number, what: string }> = []
  readonly probeChanges: Array<{ at: number, what: string }> = []
  probes = 0
  /** The next request's id (`x-check-id`). */
  ids = 1
  answered = 0
  readonly #stopWaiters = new Set<() => void>()
  #resolveStopped: () => void = () => {}
  /** Resolves when the load is stopped. */
  readonly whenStopped: Promise<void> = new Promise(resolve => { this.#resolveStopped = resolve })

  /**
   * `direct`: no balancer, the clients connect straight to the service and stop at its first refusal. `fall`: failed
   * probes in a row after which the prober stops writing requests and only opens connections.
   */
  constructor (readonly pid: () => number | undefined, readonly direct: boolean, readonly onChange: () => void = () => {}, readonly fall: number = 3) {}

  get signalled (): boolean {
    return this.signalAt !== undefined
  }

  note (what: string, at: number = performance.now()): void {
    this.timeline.push({ at, what })
    this.onChange()
  }

  sent (client: ClientKind): number {
    this.byClient[client].sent++
    return performance.now()
  }

  /** A full answer to a request sent at `sentAt`. 5xx answers are failures and go through `fail`. */
  answer (client: ClientKind, status: number, close: boolean, sentAt: number): void {
    const now = performance.now()
    this.answered++
    this.marks.push([client, sentAt, now, -1])
    this.byClient[client].completed++
    if (status < 200 || status > 299) this.statuses[status] = (this.statuses[status] ?? 0) + 1
    if (this.signalAt !== undefined) {
      this.lastResponseAt = now
      // A balancer goes on routing here whatever the answers say: `Connection: close` only ends that connection.
      if (close) this.connectionClose[this.phase(now)]++
    } else if (close) {
      this.connectionClose['before-signal']++
    }
  }

  refusedSeen (at: number = performance.now()): void {
    if (this.signalAt !== undefined && this.listenerRefusedAt === undefined) {
      this.listenerRefusedAt = at
      this.note('the listener refuses connections', at)
    }
  }

  /** A probe failed after the signal. It tells the timeline, not the balancer: endpoints leave on the signal itself. */
  readinessFailed (what: string): void {
    if (this.signalAt === undefined) return
    this.readinessFailures++
    if (this.readinessFailedAt === undefined) {
      this.readinessFailedAt = performance.now()
      this.note(`readiness fails (${what})`)
    }
  }

  readinessOk (): void {
    this.readinessFailures = 0
  }

  fail (observed: Omit<Observed, 'failedAt' | 'serviceAlive'>): void {
    const now = performance.now()
    this.byClient[observed.client].failed++
    if (observed.what === 'refused') this.refusedSeen(now)
    this.marks.push([observed.client, observed.sentAt, now, this.observed.length])
    this.observed.push({ ...observed, failedAt: now, serviceAlive: this.exitAt === undefined && processAlive(this.pid()) })
    this.onChange()
  }

  phase (at: number): RequestPhase {
    if (this.signalAt === undefined || at < this.signalAt) return 'before-signal'
    if (this.exitAt !== undefined && at >= this.exitAt) return 'after-exit'
    if (this.listenerRefusedAt !== undefined && at >= this.listenerRefusedAt) return 'drain'
    return 'lame-duck'
  }

  /**
   * Whether the balancer sends a new connection here now: until the propagation delay after the signal has passed,
   * whatever readiness and the responses said. A connection already open carries on after that until the service
   * closes it or says `Connection: close`, as a client's pool does. Without a balancer, until the load stops.
   */
  get routesNewConnections (): boolean {
    if (this.stopped) return false
    return this.direct || this.routingEndsAt === undefined || performance.now() < this.routingEndsAt
  }

  stop (): void {
    this.stopped = true
    this.#resolveStopped()
    for (const wake of this.#stopWaiters) wake()
    this.#stopWaiters.clear()
  }

  /** Waits `ms`, or less if the load is stopped meanwhile. */
  async pause (ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return
    await new Promise<void>(resolve => {
      const wake = (): void => {
        clearTimeout(timer)
        this.#stopWaiters.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#stopWaiters.add(wake)
    })
  }
}
