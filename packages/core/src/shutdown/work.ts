// Work sources: each stops at its moment, drains under the sockets' deadline, and what the deadline cuts is named.
import { performance } from 'node:perf_hooks'
import { gracefulError } from '../errors.js'
import type { LifecycleEvents } from '../report/events.js'
import { deadline, TIMED_OUT } from './timeout.js'
import { describe } from '../options/validate.js'

/**
 * When a work source stops taking work: `'signal'` for what nothing routes to (queue consumers, schedulers: the lame
 * duck is for balancers), `'draining'` for what balancers route to (gRPC), served through the lame duck like HTTP.
 */
export type WorkStopAt = 'signal' | 'draining'

/** What a work source's `stop` receives. */
export interface WorkStopContext {
  /** Aborts at the drain deadline (`GRACEFUL_ERR_DRAIN_DEADLINE`): running work should stop and hand itself back. */
  deadline: AbortSignal
  /** Why the shutdown began: the signal's name (`SIGTERM`, …) or `shutdown()`. */
  reason: string
}

/** One piece of work a source is running: a job, a scheduled run, a call. */
export interface RunningWork {
  id?: string
  name?: string
  /** When it started, in `Date.now()` time. Without it, its age in the report counts from the signal. */
  startedAt?: number
}

/**
 * Anything that takes work from outside (a queue consumer, a scheduler, a gRPC server). At the drain deadline
 * `deadline` aborts and `force()` hands back what is left: it runs again elsewhere, once if it honoured the abort.
 */
export interface WorkSource {
  /** @default 'signal' */
  stopAt?: WorkStopAt
  /** Stop taking new work; resolve once the work already taken has ended (a rejection is the source's failure). */
  stop: (context: WorkStopContext) => unknown
  /** What is running now: counted in `inFlight` and the metrics, named in the report when cut. Read when asked. */
  running?: () => Iterable<RunningWork>
  /** At the deadline, after `deadline` aborted: end what is left (jobs back to their queue), within `FORCE_TIMEOUT`. */
  force?: () => unknown
}

/** A work source's outcome, in the report. */
export interface WorkSourceResult {
  name: string
  stopAt: WorkStopAt
  /** `ok`: its work ended before the deadline; `forced`: the deadline cut it; `failed`: its `stop` threw or rejected. */
  status: 'ok' | 'forced' | 'failed'
  /** From its stop to its end, or to the deadline, in milliseconds. */
  durationMs: number
  /** Work it was running when it was told to stop (0 without `running()`). */
  runningAtStop: number
  /** The error's message, when `stop` or `force` threw or rejected. */
  error?: string
}

/** A piece of work still running when the drain deadline cut it. */
export interface ForcedWork {
  source: string
  id?: string
  name?: string
  /** How long it had been running, in milliseconds: from its `startedAt`, or at least since the signal. */
  ageMs: number
}

/** The report's `work`: each source, and the work the deadline cut. */
export interface WorkReport {
  sources: WorkSourceResult[]
  forced: ForcedWork[]
}

/** The bound on the sources' `force()`, together, from the drain deadline, in milliseconds. */
export const FORCE_TIMEOUT = 1_000

interface Entry {
  name: string
  source: WorkSource
  stopAt: WorkStopAt
  stoppedAt: number
  runningAtStop: number
  controller: AbortController | undefined
  result: WorkSourceResult | undefined
}

export class WorkSources<G> {
  readonly #entries: Entry[] = []
  readonly #instance: G
  readonly #events: LifecycleEvents<G>
  /** The moments reached, with the shutdown's reason: a source added after its moment stops at once. */
  readonly #reached = new Map<WorkStopAt, string>()
  /** `performance.now()` at the signal: the age of work whose start is unknown counts from it. */
  #since = 0
  #drained: (() => void) | undefined
  /** The drain has let go of the sources: one added now would never be waited for. */
  #closed = false
  readonly #forced: ForcedWork[] = []

  constructor (instance: G, events: LifecycleEvents<G>) {
    this.#instance = instance
    this.#events = events
  }

  /** True when a source can hand work back at the deadline: the budget counts `FORCE_TIMEOUT` for it. */
  get forces (): boolean {
    return this.#entries.some(entry => entry.source.force !== undefined)
  }

  get inFlight (): number {
    let count = 0
    for (const entry of this.#entries) count += runningOf(entry.source).length
    return count
  }

  get failed (): boolean {
    return this.#entries.some(entry => entry.result !== undefined && entry.result.status !== 'ok')
  }

  add (name: unknown, source: unknown, late: boolean): void {
    if (typeof name !== 'string' || name.length === 0) {
      throw gracefulError('GRACEFUL_ERR_INVALID_NAME', 'addWorkSource(name, source)', describe(name))
    }
    const checked = validateSource(name, source)
    if (this.#entries.some(entry => entry.name === name)) {
      throw gracefulError('GRACEFUL_ERR_DUPLICATE_WORK_SOURCE', name)
    }
    if (late || this.#closed) {
      throw gracefulError('GRACEFUL_ERR_WORK_SOURCE_TOO_LATE', name)
    }
    const entry: Entry = { name, source: checked, stopAt: checked.stopAt ?? 'signal', stoppedAt: 0, runningAtStop: 0, controller: undefined, result: undefined }
    this.#entries.push(entry)
    const reason = this.#reached.get(entry.stopAt)
    if (reason !== undefined) this.#stop(entry, reason)
  }

  stop (moment: WorkStopAt, reason: string): void {
    if (moment === 'signal') this.#since = performance.now()
    this.#reached.set(moment, reason)
    for (const entry of this.#entries) if (entry.stopAt === moment && entry.controller === undefined) this.#stop(entry, reason)
  }

  /** Resolves once every source has ended, or at `timeout` (the drain's deadline): names, aborts, forces the rest. */
  async drain (timeout: number, atDeadline?: () => void): Promise<void> {
    if (!this.#allDone()) {
      const done = new Promise<void>(resolve => { this.#drained = resolve })
      if (await deadline(done, timeout) === TIMED_OUT) {
        atDeadline?.()
        await this.#cut()
      }
    }
    this.#drained = undefined
    this.#closed = true
  }

  report (): WorkReport | undefined {
    if (this.#entries.length === 0) return undefined
    return { sources: this.#entries.flatMap(entry => entry.result ?? []), forced: this.#forced }
  }

  #stop (entry: Entry, reason: string): void {
    entry.stoppedAt = performance.now()
    entry.controller = new AbortController()
    entry.runningAtStop = runningOf(entry.source).length
    this.#events.emit('work:stop', { graceful: this.#instance, name: entry.name, stopAt: entry.stopAt, running: entry.runningAtStop })
    // Inside a promise chain, so that a stop that throws synchronously fails like one that rejects.
    Promise.resolve()
      .then(() => entry.source.stop({ deadline: entry.controller!.signal, reason }))
      .then(() => { this.#end(entry, 'ok') }, (err: unknown) => { this.#end(entry, 'failed', message(err)) })
  }

  #end (entry: Entry, status: WorkSourceResult['status'], error?: string, forced: ForcedWork[] = []): void {
    // The first outcome stands: a stop that resolves after the deadline cut its work does not make it clean.
    if (entry.result !== undefined) return
    entry.result = {
      name: entry.name,
      stopAt: entry.stopAt,
      status,
      durationMs: Math.round((performance.now() - entry.stoppedAt) * 10) / 10,
      runningAtStop: entry.runningAtStop,
      ...(error === undefined ? {} : { error })
    }
    this.#events.emit('work:end', { graceful: this.#instance, name: entry.name, result: entry.result, forced })
    if (this.#drained !== undefined && this.#allDone()) this.#drained()
  }

  #allDone (): boolean {
    return this.#entries.every(entry => entry.result !== undefined)
  }

  async #cut (): Promise<void> {
    const now = performance.now()
    const wall = Date.now()
    const cut = this.#entries.filter(entry => entry.result === undefined)
    for (const entry of cut) {
      // Named before anything is aborted: what the deadline found running is what it cut.
      const forced = runningOf(entry.source).map(work => ({
        source: entry.name,
        ...(work.id === undefined ? {} : { id: work.id }),
        ...(work.name === undefined ? {} : { name: work.name }),
        ageMs: Math.round(typeof work.startedAt === 'number' ? wall - work.startedAt : now - this.#since)
      }))
      this.#forced.push(...forced)
      this.#end(entry, 'forced', undefined, forced)
    }
    const reason = gracefulError('GRACEFUL_ERR_DRAIN_DEADLINE', this.#reached.get('signal') ?? this.#reached.get('draining') ?? 'shutdown')
    for (const entry of cut) entry.controller?.abort(reason)
    const forcing = cut.filter(entry => entry.source.force !== undefined).map(entry =>
      Promise.resolve().then(() => entry.source.force!()).catch((err: unknown) => { entry.result!.error = message(err) }))
    await deadline(Promise.all(forcing), FORCE_TIMEOUT)
  }
}

/** What a source says it is running; one that throws (or returns nothing iterable) counts as running nothing. */
function runningOf (source: WorkSource): RunningWork[] {
  try {
    const running = source.running?.()
    return running === undefined ? [] : [...running]
  } catch {
    return []
  }
}

function validateSource (name: string, source: unknown): WorkSource {
  if (typeof source !== 'object' || source === null) {
    throw gracefulError('GRACEFUL_ERR_INVALID_WORK_SOURCE', name, 'an object with a stop(context) method', describe(source))
  }
  const { stop, stopAt, running, force } = source as Record<string, unknown>
  const where = `addWorkSource("${name}", source)`
  if (typeof stop !== 'function') throw gracefulError('GRACEFUL_ERR_NOT_A_FUNCTION', where, 'source.stop', describe(stop))
  if (stopAt !== undefined && stopAt !== 'signal' && stopAt !== 'draining') {
    throw gracefulError('GRACEFUL_ERR_INVALID_WORK_SOURCE', name, 'source.stopAt to be "signal" or "draining"', describe(stopAt))
  }
  for (const [key, value] of [['running', running], ['force', force]] as const) {
    if (value !== undefined && typeof value !== 'function') throw gracefulError('GRACEFUL_ERR_NOT_A_FUNCTION', where, `source.${key}, when given,`, describe(value))
  }
  return source as WorkSource
}

function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
