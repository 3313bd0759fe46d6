// The shutdown sequence: running → stopping (lame duck) → draining → cleanup → stopped, the report, and the exit code.
import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import type { Connections } from '../connections/connections.js'
import { afterNextPoll, Drain, drainOutcome } from './drain.js'
import type { GracefulEvents, LifecycleEvents } from '../report/events.js'
import { runHooks, type Hook } from './hooks.js'
import { Telling } from '../connections/http1.js'
import { lameDuck, settleAt } from './lameduck.js'
import type { ResolvedOptions } from '../options/resolve-options.js'
import type { ProbeKind, ProbeRoutes } from '../serving/probe-routes.js'
import { activeResources, buildReport, exitCodeFor, round, type CrashReport, type HeldAtDeadline, type Phase, type ShutdownReport } from '../report/report.js'
import type { WebSockets } from '../connections/web-sockets.js'
import type { WorkSources } from './work.js'

export type Log = (level: 'info' | 'warn' | 'error', obj: object, msg: string) => void

export interface SequenceParts<G> {
  instance: G
  options: ResolvedOptions
  connections: Connections
  routes: ProbeRoutes
  match: (url: string) => ProbeKind
  webSockets: WebSockets
  abort: (reason: string) => void
  cut: (reason: string) => void
  deadlineSignal: () => AbortSignal
  events: LifecycleEvents<G>
  hooks: readonly Hook[]
  inFlight: () => number
  work: WorkSources<G>
  log: Log
}

export class Sequence<G> {
  phase: Phase = 'running'
  /** The hook running now, to name it when something ends the process in the middle of the shutdown. */
  hookRunning: string | undefined = undefined
  drain: Drain | undefined = undefined
  /** Set by a crash: no lame duck, a short drain, exit 1, and the report names it. */
  crash: CrashReport | undefined = undefined
  #phaseStarted = 0
  readonly #parts: SequenceParts<G>

  constructor (parts: SequenceParts<G>) {
    this.#parts = parts
  }

  /** Runs the whole sequence once; never rejects: a bug still ends in a report (and an exit), never in a hang. */
  async run (reason: string): Promise<ShutdownReport> {
    try {
      return await this.#sequence(reason)
    } catch (err) {
      this.#enter('stopped')
      const report = buildReport(reason, drainOutcome(0, 0), [], { servedWhileStopping: 0, declined: 0 },
        { stopping: 0, draining: 0, cleanup: 0, total: 0 }, 1)
      report.error = err instanceof Error ? err.message : String(err)
      if (this.crash !== undefined) report.crash = this.crash
      this.#parts.log('error', report, 'graceful: shutdown failed')
      this.#parts.events.emit('shutdown:end', { graceful: this.#parts.instance, report })
      return report
    }
  }

  async #sequence (reason: string): Promise<ShutdownReport> {
    const { instance, options, connections, routes, match, events, log } = this.#parts
    events.emit('shutdown:start', { graceful: instance, reason })
    // Counted once per moment: each count reads every socket, thousands of them on a busy instance.
    const inFlightAtSignal = this.#parts.inFlight()
    const started = this.#enter('stopping', inFlightAtSignal)
    log('info', { reason, phase: 'stopping', preStopDelay: options.preStopDelay, inFlight: inFlightAtSignal },
      'graceful: shutdown started')
    // Consumers and schedulers stop now: nothing routes to them, so the lame duck is no reason to go on.
    this.#parts.work.stop('signal', reason)
    const telling = new Telling(connections, match)
    routes.observe(telling)
    telling.start()
    const settle = this.crash === undefined && options.preStopDelay > 0
      ? setTimeout(() => { telling.settle() }, settleAt(options.preStopDelay))
      : undefined
    // After a crash the process may be corrupt: no lame duck, only the requests already here finish.
    if (this.crash !== undefined) {
      // nothing to wait for
    } else if (options.preStopQuietWindow > 0 && options.preStopDelay > 0) {
      const ended = await lameDuck({
        maximum: options.preStopDelay,
        minimum: options.preStopMinimumDelay,
        quietWindow: options.preStopQuietWindow
      }, () => telling.freshRequestAt)
      if (ended.reason === 'quiet') {
        log('info', { phase: 'stopping', stoppingMs: round(ended.durationMs), preStopQuietWindow: options.preStopQuietWindow },
          'graceful: lame duck ended early, no new traffic')
      }
    } else if (options.preStopDelay > 0) {
      await delay(options.preStopDelay)
    }

    // One more poll before the listener closes: a connection the kernel queued while the event loop was busy is
    // accepted and served, where closing would reset it (settling meanwhile, as at the end of a lame duck).
    telling.settle()
    await new Promise<void>(resolve => { afterNextPoll(resolve) })
    clearTimeout(settle)
    const inFlightAtDrain = this.#parts.inFlight()
    const drainStarted = this.#enter('draining', inFlightAtDrain)
    this.#parts.abort(reason)
    this.#parts.webSockets.goAway()
    this.#parts.work.stop('draining', reason)
    let held: HeldAtDeadline | undefined
    this.drain = new Drain(connections, telling, match, options, inFlightAtDrain)
    const drainTimeout = this.crash === undefined ? options.drainTimeout : Math.min(options.drainTimeout, options.crashDrainTimeout)
    // One deadline for the sockets and the work, both started now; whatever it cuts first, `deadlineSignal` aborts
    // before anything is destroyed, as a Go handler's context is cancelled with its connection.
    const [drain] = await Promise.all([this.drain.run(drainTimeout, () => {
      held = { inFlight: this.#parts.inFlight(), openSockets: connections.all.size, activeResources: activeResources() }
      this.#parts.cut(reason)
    }), this.#parts.work.drain(drainTimeout, () => { this.#parts.cut(reason) })])
    const forced = drain.forced > 0 || drain.forcedRequests.length > 0 || this.#parts.work.failed

    const cleanupStarted = this.#enter('cleanup')
    const steps: Hook[] = []
    const close = options.close
    if (close !== undefined) steps.push({ name: 'close', fn: () => close(reason), timeout: options.hookTimeout })
    steps.push(...[...this.#parts.hooks].reverse())
    const cut = this.drain
    const hooks = await runHooks(steps, {
      start: hook => {
        this.hookRunning = hook.name
        events.emit('hook:start', { graceful: instance, name: hook.name, timeoutMs: hook.timeout })
      },
      end: result => { events.emit('hook:end', { graceful: instance, name: result.name, result }) }
    }, () => ({ reason, forced, running: cut.stillRunning(), deadline: this.#parts.deadlineSignal() }))
    this.hookRunning = undefined
    cut.stillRunning()
    // A rejection a hook left unhandled surfaces only after this turn: exiting within it would report a clean shutdown.
    // Without hooks the turn is skipped: it would run Node's close handling of every socket the drain just destroyed.
    if (steps.length > 0) await new Promise(resolve => setImmediate(resolve))

    const stopped = this.#enter('stopped')
    const times = {
      stopping: drainStarted - started,
      draining: cleanupStarted - drainStarted,
      cleanup: stopped - cleanupStarted,
      total: stopped - started
    }
    const failed = this.crash !== undefined || forced || hooks.some(hook => hook.status !== 'ok')
    const report = buildReport(reason, drain, hooks, telling, times,
      exitCodeFor(failed, reason, options.signalExitCode), held)
    if (this.crash !== undefined) report.crash = this.crash
    const work = this.#parts.work.report()
    if (work !== undefined) report.work = work
    log(failed ? 'warn' : 'info', report, 'graceful: shutdown complete')
    events.emit('shutdown:end', { graceful: instance, report })
    return report
  }

  /** Enters `phase` and tells the listeners; returns when, so that the report and the events give it one duration. */
  #enter (phase: Phase, inFlight = this.#parts.inFlight()): number {
    const previous = this.phase
    const now = performance.now()
    const previousDurationMs = previous === 'running' ? 0 : round(now - this.#phaseStarted)
    this.phase = phase
    this.#phaseStarted = now
    const workInFlight = this.#parts.work.inFlight
    const event: GracefulEvents<G>['phase'] = {
      graceful: this.#parts.instance,
      phase,
      previous,
      previousDurationMs,
      inFlight: inFlight + workInFlight,
      workInFlight,
      openSockets: this.#parts.connections.all.size
    }
    this.#parts.events.emit('phase', event)
    return now
  }
}
