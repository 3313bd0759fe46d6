// One signal registry per process: one listener per signal for every instance, and the one exit path.
import cluster from 'node:cluster'
import { CompetingListeners, type DeferredRun } from './competing-listeners.js'
import { kOwnHandler, kRegistry } from '../symbols.js'

export const SHUTDOWN_MESSAGE = 'graceful:shutdown'

/** What the registry needs of an instance. Kept small and stable: another installed copy may share the registry. */
export interface SignalMember {
  readonly signals: readonly NodeJS.Signals[]
  readonly exit: boolean
  readonly busy: boolean
  startFromSignal: (signal: NodeJS.Signals) => void
  abandon: (signal: NodeJS.Signals) => void
  /** The bound for the application's own signal listeners, run after the shutdown. */
  readonly hookTimeout?: number
  competing?: (signal: NodeJS.Signals, origin: string) => void
  ranDeferred?: (run: DeferredRun) => void
}

export interface CrashMember {
  crashed: (kind: 'uncaughtException' | 'unhandledRejection', error: unknown) => void
}

export interface ExitWatcher {
  exitedEarly: (code: number) => void
}

/** One per process: one listener per signal for every instance (no leak), and one exit, after the last busy one. */
export class SignalRegistry {
  readonly #members = new Set<SignalMember>()
  readonly #handlers = new Map<NodeJS.Signals, () => void>()
  #received: NodeJS.Signals | undefined
  #exitCode: number | undefined
  #stopListeningToPrimary: (() => void) | undefined
  /** The shutdown began with the primary's message: the signal that made the primary send it may still arrive here. */
  #startedByPrimary = false
  readonly #watchers = new Set<ExitWatcher>()
  readonly #competing = new CompetingListeners((signal, origin) => {
    for (const member of this.#members) {
      if (member.signals.includes(signal) && member.competing !== undefined) {
        member.competing(signal, origin)
        return
      }
    }
  })
  #finishing = false
  #reporter: SignalMember | undefined
  #deferredTimeout = 0
  readonly #crashMembers = new Set<CrashMember>()
  readonly #onUncaught = (error: unknown): void => { this.#crashed('uncaughtException', error) }
  readonly #onUnhandled = (reason: unknown): void => { this.#crashed('unhandledRejection', reason) }

  /** Only for members that asked (`onCrash: 'drain'`): while one listens, Node no longer exits on a crash by itself. */
  watchCrashes (member: CrashMember): void {
    if (this.#crashMembers.size === 0) {
      process.on('uncaughtException', this.#onUncaught)
      process.on('unhandledRejection', this.#onUnhandled)
    }
    this.#crashMembers.add(member)
  }

  unwatchCrashes (member: CrashMember): void {
    if (!this.#crashMembers.delete(member) || this.#crashMembers.size > 0) return
    process.off('uncaughtException', this.#onUncaught)
    process.off('unhandledRejection', this.#onUnhandled)
  }

  #crashed (kind: 'uncaughtException' | 'unhandledRejection', error: unknown): void {
    for (const member of [...this.#crashMembers]) member.crashed(kind, error)
  }
  // One 'exit' listener for every instance shutting down, however many a test file creates.
  readonly #onExit = (code: number): void => {
    for (const watcher of [...this.#watchers]) watcher.exitedEarly(code)
  }

  watch (watcher: ExitWatcher): void {
    if (this.#watchers.size === 0) process.on('exit', this.#onExit)
    this.#watchers.add(watcher)
  }

  unwatch (watcher: ExitWatcher): void {
    if (!this.#watchers.delete(watcher)) return
    if (this.#watchers.size === 0) process.off('exit', this.#onExit)
  }

  add (member: SignalMember): void {
    this.#members.add(member)
    if (this.#stopListeningToPrimary === undefined && cluster.isWorker) this.#listenToPrimary()
    for (const signal of member.signals) {
      if (this.#handlers.has(signal)) continue
      const handler = Object.assign((): void => { this.#onSignal(signal) }, { [kOwnHandler]: true })
      this.#handlers.set(signal, handler)
      process.on(signal, handler)
    }
    // Once the handlers are in: the first member to answer a signal is there to name what else listens to it.
    for (const signal of member.signals) this.#competing.own(signal)
  }

  /** `member` is done (or disposed): the process exits if it asked to and nothing else is still shutting down. */
  settle (member: SignalMember, exitCode?: number): void {
    this.#members.delete(member)
    if (member.exit && exitCode !== undefined) this.#exitCode = worst(this.#exitCode ?? 0, exitCode)
    if (exitCode !== undefined) {
      this.#reporter = member
      this.#deferredTimeout = Math.max(this.#deferredTimeout, member.hookTimeout ?? 0)
    }
    if (this.#finishing) return
    for (const other of this.#members) if (other.busy) return
    if (this.#competing.pending) {
      this.#finishing = true
      void this.#finish()
      return
    }
    this.#exitOrRelease()
  }

  async #finish (): Promise<void> {
    const exitCode = this.#exitCode
    // A listener that exits the process itself (process.exit(0)) must not hide a failed shutdown.
    const honest = (code: number): void => {
      if (exitCode !== undefined && severity(exitCode) > severity(code)) process.exitCode = exitCode
    }
    process.once('exit', honest)
    const run = await this.#competing.runDue(this.#deferredTimeout > 0 ? this.#deferredTimeout : DEFERRED_TIMEOUT)
    // A turn for what they queued (a server.close() callback comes on the next tick), before the exit cuts it.
    await new Promise(resolve => setImmediate(resolve))
    process.off('exit', honest)
    if (run !== undefined) this.#reporter?.ranDeferred?.(run)
    this.#finishing = false
    this.#exitOrRelease()
  }

  #exitOrRelease (): void {
    this.#deferredTimeout = 0
    this.#reporter = undefined
    if (this.#exitCode !== undefined) {
      // eslint-disable-next-line n/no-process-exit
      process.exit(this.#exitCode)
    }
    this.#received = undefined
    this.#startedByPrimary = false
    this.#release()
  }

  // A cluster worker is told through IPC, not a signal: Ctrl-C has reached the whole process group already, and a
  // forwarded signal would be the worker's second, which exits at once.
  #listenToPrimary (): void {
    const onMessage = (message: unknown): void => {
      if (typeof message !== 'object' || message === null) return
      const { graceful, signal } = message as { graceful?: unknown, signal?: unknown }
      if (graceful !== SHUTDOWN_MESSAGE || this.#received !== undefined) return
      const name = (typeof signal === 'string' ? signal : 'SIGTERM') as NodeJS.Signals
      this.#received = name
      this.#startedByPrimary = true
      // Every instance that answers signals at all: the primary's signal may not be one this worker lists.
      for (const member of [...this.#members]) if (member.signals.length > 0) member.startFromSignal(name)
    }
    process.on('message', onMessage)
    this.#stopListeningToPrimary = () => { process.off('message', onMessage) }
  }

  #release (): void {
    if (this.#members.size === 0 && this.#stopListeningToPrimary !== undefined) {
      // The IPC channel holds the event loop while something listens to it.
      this.#stopListeningToPrimary()
      this.#stopListeningToPrimary = undefined
    }
    for (const [signal, handler] of this.#handlers) {
      let wanted = false
      for (const member of this.#members) if (member.signals.includes(signal)) wanted = true
      if (!wanted) {
        process.removeListener(signal, handler)
        this.#handlers.delete(signal)
        this.#competing.release(signal)
      }
    }
  }

  #onSignal (signal: NodeJS.Signals): void {
    if (this.#finishing) {
      // Graceful is done and the application's own listeners run: one raised the signal again (NestJS does), or the
      // operator insists.
      this.#exitNow(signal)
      return
    }
    if (this.#received !== undefined) {
      // Ctrl-C reaches the primary and its workers alike, and the primary's message may come first: same keypress.
      if (this.#startedByPrimary) {
        this.#startedByPrimary = false
        return
      }
      this.#forceExit(signal)
      return
    }
    this.#received = signal
    for (const member of [...this.#members]) {
      if (member.signals.includes(signal)) member.startFromSignal(signal)
    }
  }

  /** A second signal, in any phase, is an operator who will not wait. */
  #forceExit (signal: NodeJS.Signals): void {
    let exit = false
    for (const member of this.#members) {
      if (!member.busy) continue
      member.abandon(signal)
      if (member.exit) exit = true
    }
    if (exit) {
      // eslint-disable-next-line n/no-process-exit
      process.exit(1)
    }
    this.#stepAside(signal)
  }

  #exitNow (signal: NodeJS.Signals): void {
    if (this.#exitCode !== undefined) {
      // eslint-disable-next-line n/no-process-exit
      process.exit(this.#exitCode)
    }
    this.#stepAside(signal)
  }

  // Every busy instance leaves the process alone (`exit: false`): let the signal do what it would without graceful.
  #stepAside (signal: NodeJS.Signals): void {
    this.#competing.release(signal)
    const handler = this.#handlers.get(signal)
    if (handler !== undefined) process.removeListener(signal, handler)
    this.#handlers.delete(signal)
    this.#received = undefined
    process.kill(process.pid, signal)
  }
}

// 1 outranks a clean exit that reports its signal (128 + n), which outranks 0: the code that tells the most wins.
export function worst (a: number, b: number): number {
  return severity(b) > severity(a) || (severity(b) === severity(a) && b > a) ? b : a
}

const DEFERRED_TIMEOUT = 5_000

function severity (code: number): number {
  if (code === 0) return 0
  return code > 128 ? 1 : 2
}


export function signalRegistry (): SignalRegistry {
  const holder = globalThis as Record<symbol, SignalRegistry | undefined>
  const registry = holder[kRegistry] ?? new SignalRegistry()
  holder[kRegistry] = registry
  return registry
}
