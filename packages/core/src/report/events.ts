// Lifecycle events: the instance's listeners and the process-wide diagnostics channels, fed together.
import { channel } from 'node:diagnostics_channel'
import { gracefulError } from '../errors.js'
import type { HookResult } from '../shutdown/hooks.js'
import type { Phase, ShutdownReport } from './report.js'
import { describe } from '../options/validate.js'
import type { ForcedWork, WorkSourceResult, WorkStopAt } from '../shutdown/work.js'

export interface ShutdownStartEvent<G> {
  graceful: G
  /** The signal that started it (`SIGTERM`, `SIGINT`, …) or `shutdown()`. */
  reason: string
}

export interface PhaseEvent<G> {
  graceful: G
  phase: Phase
  previous: Phase
  /** How long the phase just left lasted, in milliseconds (0 for `running`, which has no start). */
  previousDurationMs: number
  /** Requests and work (of the work sources) in flight at this moment. */
  inFlight: number
  /** Of `inFlight`, the work of the work sources. */
  workInFlight: number
  openSockets: number
}

export interface HookStartEvent<G> {
  graceful: G
  name: string
  /** Its bound in milliseconds: past it, it is reported as timed out and the next one starts. */
  timeoutMs: number
}

export interface HookEndEvent<G> {
  graceful: G
  name: string
  /** Its entry in the report: status, duration, error message. */
  result: HookResult
}

export interface WorkStopEvent<G> {
  graceful: G
  name: string
  stopAt: WorkStopAt
  /** The work it was running then. */
  running: number
}

export interface WorkEndEvent<G> {
  graceful: G
  name: string
  result: WorkSourceResult
  /** The work the deadline cut (empty unless `result.status` is `forced`). */
  forced: ForcedWork[]
}

export interface ShutdownEndEvent<G> {
  graceful: G
  report: ShutdownReport
}

/** Every lifecycle event (each payload names its instance in `graceful`) by the name `on()` takes. */
export interface GracefulEvents<G> {
  'shutdown:start': ShutdownStartEvent<G>
  phase: PhaseEvent<G>
  'hook:start': HookStartEvent<G>
  'hook:end': HookEndEvent<G>
  'work:stop': WorkStopEvent<G>
  'work:end': WorkEndEvent<G>
  'shutdown:end': ShutdownEndEvent<G>
}

export type GracefulEventName = keyof GracefulEvents<unknown>

export type GracefulListener<E extends GracefulEventName, G> = (event: GracefulEvents<G>[E]) => void

/** The `node:diagnostics_channel` names graceful publishes on, for every instance: `subscribe(channels.phase, fn)`. */
export const channels: {
  readonly shutdownStart: 'graceful:shutdown:start'
  readonly phase: 'graceful:phase'
  readonly hookStart: 'graceful:hook:start'
  readonly hookEnd: 'graceful:hook:end'
  readonly workStop: 'graceful:work:stop'
  readonly workEnd: 'graceful:work:end'
  readonly shutdownEnd: 'graceful:shutdown:end'
} = Object.freeze({
  shutdownStart: 'graceful:shutdown:start',
  phase: 'graceful:phase',
  hookStart: 'graceful:hook:start',
  hookEnd: 'graceful:hook:end',
  workStop: 'graceful:work:stop',
  workEnd: 'graceful:work:end',
  shutdownEnd: 'graceful:shutdown:end'
} as const)

export const EVENT_NAMES: ReadonlySet<string> = new Set(Object.values(channels).map(name => name.slice('graceful:'.length)))

type AnyListener = (event: never) => void

/** A few events per shutdown, none per request: nothing here is on the hot path. */
export class LifecycleEvents<G> {
  readonly #listeners = new Map<GracefulEventName, Set<AnyListener>>()
  readonly #onListenerError: (name: GracefulEventName, err: unknown) => void

  constructor (onListenerError: (name: GracefulEventName, err: unknown) => void) {
    this.#onListenerError = onListenerError
  }

  on<E extends GracefulEventName>(name: E, listener: GracefulListener<E, G>): void {
    if (typeof listener !== 'function') {
      throw gracefulError('GRACEFUL_ERR_NOT_A_FUNCTION', `on(${describe(name)}, listener)`, 'listener', describe(listener))
    }
    if (!EVENT_NAMES.has(name)) {
      throw gracefulError('GRACEFUL_ERR_UNKNOWN_EVENT', [...EVENT_NAMES].join(', '), describe(name))
    }
    let set = this.#listeners.get(name)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(name, set)
    }
    set.add(listener)
  }

  off<E extends GracefulEventName>(name: E, listener: GracefulListener<E, G>): void {
    this.#listeners.get(name)?.delete(listener)
  }

  emit<E extends GracefulEventName>(name: E, event: GracefulEvents<G>[E]): void {
    // Looked up when used, not at import time: Node keeps one channel object per name.
    const named = channel(`graceful:${name}`)
    // Node reports a throwing subscriber through process.nextTick (an uncaught exception), as for every channel.
    if (named.hasSubscribers) named.publish(event)
    const set = this.#listeners.get(name)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        const result = (listener as (event: GracefulEvents<G>[E]) => unknown)(event)
        // An async listener's rejection is its throw: logged, never an unhandled rejection that ends the process.
        if (isThenable(result)) result.then(undefined, (err: unknown) => { this.#onListenerError(name, err) })
      } catch (err) {
        // A listener is an observer: it must never stop or change the shutdown it watches.
        this.#onListenerError(name, err)
      }
    }
  }
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
