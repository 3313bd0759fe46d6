// An instance's membership of the signal registry (signals, crashes, the one exit), its shutdown from the signal to the
// exit, and what it says when something else ends the process.
import type { AppCloses } from '../serving/app-close.js'
import type { DeferredRun } from '../process/competing-listeners.js'
import type { Flushes } from './flush.js'
import type { InstanceLog } from '../report/logger.js'
import type { ResolvedOptions } from '../options/resolve-options.js'
import { activeResources, type ShutdownReport } from '../report/report.js'
import type { Sequence } from './sequence.js'
import { signalRegistry, type CrashMember, type SignalMember } from '../process/signals.js'
import type { WarningName } from '../process/warnings.js'

export interface LifecycleParts {
  options: ResolvedOptions
  sequence: Sequence<unknown>
  appCloses: AppCloses
  flushes: Flushes
  log: InstanceLog
  warn: (name: WarningName, subject: string, obj: object, msg: string) => void
  inFlight: () => number
  openSockets: () => number
}

export class Lifecycle implements SignalMember, CrashMember {
  readonly #parts: LifecycleParts
  #shutdown: Promise<ShutdownReport> | undefined
  #registered = false
  // Whether the process exits at the end: `undefined` follows the `exit` option; `false` for a shutdown the
  // application started by closing itself; `true` after a crash, whatever `exit` says.
  #exits: boolean | undefined
  #abandoned = false
  #failed = false
  // Something else ended the process mid-shutdown (a hook's process.exit(), a crash): say where it stopped, and never
  // let such an exit pass for a clean one.
  readonly #exitWatcher = { exitedEarly: (code: number): void => { this.#exitedEarly(code) } }

  constructor (parts: LifecycleParts) {
    this.#parts = parts
    const { options } = parts
    // Also without signals: an instance that will exit must keep any other from exiting while it drains.
    if (options.signals.length > 0 || options.exit || options.onCrash === 'drain') this.#register()
    if (options.onCrash === 'drain') signalRegistry().watchCrashes(this)
  }

  get signals (): readonly NodeJS.Signals[] { return this.#parts.options.signals }
  get exit (): boolean { return this.#exits ?? this.#parts.options.exit }
  get hookTimeout (): number { return this.#parts.options.hookTimeout }

  get busy (): boolean {
    const phase = this.#parts.sequence.phase
    return phase !== 'running' && (phase !== 'stopped' || this.#parts.flushes.running)
  }

  start (reason: string): Promise<ShutdownReport> {
    this.#shutdown ??= this.#run(reason)
    return this.#shutdown
  }

  /** The application closes itself: the same sequence, leaving the process alone unless a signal arrives meanwhile. */
  fromApp (reason: string): Promise<ShutdownReport> {
    if (this.#shutdown === undefined) this.#exits = false
    return this.start(reason)
  }

  dispose (): void {
    signalRegistry().unwatchCrashes(this)
    if (!this.#registered) return
    this.#registered = false
    signalRegistry().settle(this)
  }

  /** @internal The registry's entry: a signal this instance listens to arrived. */
  startFromSignal (signal: NodeJS.Signals): void {
    // A signal during the application's own close: the operator wants the process gone.
    if (this.#parts.sequence.crash === undefined) this.#exits = undefined
    void this.start(signal)
  }

  /** @internal For `onCrash: 'drain'`: logs the error in full, drains without a lame duck, exits 1 when it is over. */
  crashed (kind: 'uncaughtException' | 'unhandledRejection', error: unknown): void {
    const crash = {
      kind,
      message: error instanceof Error ? error.message : String(error),
      ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {})
    }
    const { options, sequence, log } = this.#parts
    log.error({ crash }, `graceful: ${kind}, draining for at most ${options.crashDrainTimeout} ms before exiting 1`)
    // Logged through the logger, but also on stderr when graceful's logging is off: a crash is never silent.
    if (options.logger === false) process.stderr.write(`${crash.stack ?? crash.message}\n`)
    sequence.crash ??= crash
    this.#exits = true
    if (!this.#registered) this.#register()
    void this.start(kind)
  }

  /** @internal The registry's entry: another listener of a signal it answers to was found. */
  competing (signal: NodeJS.Signals, origin: string): void {
    this.#parts.warn('competing-listener', `${signal} ${origin}`, { signal, listener: origin },
      `graceful: another ${signal} listener is installed (${origin}): run at the signal, it would close the ` +
      'application or exit the process while the lame duck and the drain still need it, so graceful runs it once ' +
      'its own shutdown is over (after the drain, the hooks and the report); move what it does into onShutdown() ' +
      'hooks, or remove it')
  }

  /** @internal The registry's entry: the application's own signal listeners ran after the shutdown. */
  ranDeferred (run: DeferredRun): void {
    const failed = run.timedOut || run.errors.length > 0
    this.#parts.log[failed ? 'error' : 'info']({ deferredListeners: run },
      `graceful: the application's own ${run.signal} listener${run.listeners === 1 ? '' : 's'} ran after the shutdown` +
      (run.timedOut ? `, still running after ${this.hookTimeout} ms` : '') +
      (run.errors.length > 0 ? `, failed: ${run.errors.join('; ')}` : ''))
  }

  /** @internal The registry's entry: a second signal arrived and the process is about to exit. */
  abandon (signal: NodeJS.Signals): void {
    this.#abandoned = true
    const phase = this.#parts.sequence.phase
    this.#parts.log.error({
      phase,
      signal,
      inFlight: this.#parts.inFlight(),
      sockets: this.#parts.openSockets(),
      activeResources: activeResources()
    }, `graceful: second ${signal} during ${phase}, exiting now`)
  }

  #register (): void {
    signalRegistry().add(this)
    this.#registered = true
  }

  async #run (reason: string): Promise<ShutdownReport> {
    const registry = signalRegistry()
    const { sequence, flushes, appCloses } = this.#parts
    registry.watch(this.#exitWatcher)
    const report = await sequence.run(reason)
    if (flushes.steps.length > 0) await this.#flush(report)
    this.#failed = report.exitCode === 1
    // What the application's own close waits on settles now: its callback may end the process.
    appCloses.settle()
    registry.unwatch(this.#exitWatcher)
    registry.unwatchCrashes(this)
    if (this.#registered) {
      this.#registered = false
      registry.settle(this, report.exitCode)
    }
    return report
  }

  async #flush (report: ShutdownReport): Promise<void> {
    report.flush = await this.#parts.flushes.run()
    for (const step of report.flush) {
      if (step.status !== 'ok') this.#parts.log.warn({ flush: step }, `graceful: flush step "${step.name}" ${step.status}: ${step.error ?? ''}`)
    }
  }

  #exitedEarly (code: number): void {
    if (this.#abandoned) return
    const { phase, hookRunning } = this.#parts.sequence
    // The report is out: the application's own close callback ended the process. It may not hide a failure.
    if (phase === 'stopped') {
      if (code === 0 && this.#failed) process.exitCode = 1
      return
    }
    this.#parts.log.error({ phase, hook: hookRunning, exitCode: code, inFlight: this.#parts.inFlight() },
      `graceful: the process exited during ${phase}${hookRunning === undefined ? '' : ` (hook "${hookRunning}")`}` +
      ' before the shutdown finished')
    if (code === 0) process.exitCode = 1
  }
}
