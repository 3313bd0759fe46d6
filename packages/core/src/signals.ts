/** What the registry needs of an instance. Kept small and stable: another installed copy may share the registry. */
export interface SignalMember {
  readonly signals: readonly NodeJS.Signals[]
  readonly exit: boolean
  /** True from the start of its shutdown until its report is out. */
  readonly busy: boolean
  /** Starts (or joins) the shutdown because `signal` arrived. */
  startFromSignal: (signal: NodeJS.Signals) => void
  /** A second signal arrived while this instance was busy: say what is being abandoned. */
  abandon: (signal: NodeJS.Signals) => void
}

/**
 * One registry per process serves every instance, so that several servers and several apps share one listener per
 * signal (no MaxListeners warning, no leak), and the process exits once, when the last busy instance is done,
 * not when the first one finishes.
 */
export class SignalRegistry {
  readonly #members = new Set<SignalMember>()
  readonly #handlers = new Map<NodeJS.Signals, () => void>()
  #received: NodeJS.Signals | undefined
  #exitCode: number | undefined

  add (member: SignalMember): void {
    this.#members.add(member)
    for (const signal of member.signals) {
      if (this.#handlers.has(signal)) continue
      const handler = (): void => { this.#onSignal(signal) }
      this.#handlers.set(signal, handler)
      process.on(signal, handler)
    }
  }

  /** The member is done (or disposed). Exits the process when it asked to and nothing else is still shutting down. */
  settle (member: SignalMember, exitCode?: number): void {
    this.#members.delete(member)
    if (member.exit && exitCode !== undefined) this.#exitCode = worst(this.#exitCode ?? 0, exitCode)
    for (const other of this.#members) if (other.busy) return
    if (this.#exitCode !== undefined) {
      // The one exit path of the library: every instance that was shutting down has reported.
      // eslint-disable-next-line n/no-process-exit
      process.exit(this.#exitCode)
    }
    this.#received = undefined
    this.#release()
  }

  /** Removes the handlers no remaining member listens to, so that a later signal gets Node's default behaviour. */
  #release (): void {
    for (const [signal, handler] of this.#handlers) {
      let wanted = false
      for (const member of this.#members) if (member.signals.includes(signal)) wanted = true
      if (!wanted) {
        process.removeListener(signal, handler)
        this.#handlers.delete(signal)
      }
    }
  }

  #onSignal (signal: NodeJS.Signals): void {
    if (this.#received !== undefined) {
      this.#forceExit(signal)
      return
    }
    this.#received = signal
    for (const member of [...this.#members]) {
      if (member.signals.includes(signal)) member.startFromSignal(signal)
    }
  }

  /** A second signal, in any phase, is an operator who will not wait: leave now. */
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
    // Every busy instance was told to leave the process alone (`exit: false`): step aside for this signal and let it
    // do what it would have done without graceful (Node's default terminates; the embedder's own handlers may not).
    const handler = this.#handlers.get(signal)
    if (handler !== undefined) process.removeListener(signal, handler)
    this.#handlers.delete(signal)
    this.#received = undefined
    process.kill(process.pid, signal)
  }
}

/**
 * A failure (1) outranks a clean exit that reports its signal (128 + n, `signalExitCode: 'conventional'`), which
 * outranks 0: when several instances report, the process exits with the code that tells the most.
 */
export function worst (a: number, b: number): number {
  return severity(b) > severity(a) || (severity(b) === severity(a) && b > a) ? b : a
}

function severity (code: number): number {
  if (code === 0) return 0
  return code > 128 ? 1 : 2
}

// Shared through the global symbol registry, so that two installed copies of this package still make one registry.
const kRegistry = Symbol.for('graceful.signal-registry.v1')

export function signalRegistry (): SignalRegistry {
  const holder = globalThis as Record<symbol, SignalRegistry | undefined>
  const registry = holder[kRegistry] ?? new SignalRegistry()
  holder[kRegistry] = registry
  return registry
}
