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
  /** The balancer has stopped routing here. */
  unrouted = false
  readiness = 'unknown'
  readonly observed: Observed[] = []
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

  constructor (readonly pid: () => number | undefined, readonly balancer: boolean, readonly onChange: () => void = () => {}, readonly fall: number = 3) {}

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

  /** A full answer. 5xx answers are failures and go through `fail`. */
  answer (client: ClientKind, status: number, close: boolean): void {
    const now = performance.now()
    this.answered++
    this.byClient[client].completed++
    if (status < 200 || status > 299) this.statuses[status] = (this.statuses[status] ?? 0) + 1
    if (this.signalAt !== undefined) {
      this.lastResponseAt = now
      if (close) {
        this.connectionClose[this.phase(now)]++
        // A balancer lets go of a backend whose answers say so once it is shutting down.
        if (this.balancer && !this.unrouted) this.unroute('a response said `Connection: close`')
      }
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

  /** A probe failed after the signal; the balancer lets go after `fall` of them in a row. */
  readinessFailed (what: string): void {
    if (this.signalAt === undefined) return
    this.readinessFailures++
    if (this.readinessFailedAt === undefined) {
      this.readinessFailedAt = performance.now()
      this.note(`readiness fails (${what})`)
    }
    if (this.balancer && !this.unrouted && this.readinessFailures >= this.fall) {
      this.unroute(`readiness failed ${this.fall === 1 ? 'once' : `${this.fall} times in a row`}`)
    }
  }

  readinessOk (): void {
    this.readinessFailures = 0
  }

  unroute (why: string): void {
    this.unrouted = true
    this.note(`the balancer stops routing here: ${why}`)
  }

  fail (observed: Omit<Observed, 'failedAt' | 'serviceAlive'>): void {
    const now = performance.now()
    this.byClient[observed.client].failed++
    if (observed.what === 'refused') this.refusedSeen(now)
    this.observed.push({ ...observed, failedAt: now, serviceAlive: this.exitAt === undefined && processAlive(this.pid()) })
    this.onChange()
  }

  phase (at: number): RequestPhase {
    if (this.signalAt === undefined || at < this.signalAt) return 'before-signal'
    if (this.exitAt !== undefined && at >= this.exitAt) return 'after-exit'
    if (this.listenerRefusedAt !== undefined && at >= this.listenerRefusedAt) return 'drain'
    return 'lame-duck'
  }

  /** Whether a client may send another request here. */
  get routed (): boolean {
    return !this.stopped && !this.unrouted
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
