// The other listeners of the signals graceful owns (NestJS's enableShutdownHooks(), close-with-grace, every tutorial's
// `process.on('SIGTERM', () => { server.close(); process.exit(0) })`) would close the app or exit mid-drain: each is
// named when it appears, and run once graceful's shutdown is over, as at the signal (in order, awaited, bounded).


import { kDeferred, kListenerOrigins, kOwnHandler } from '../symbols.js'

type Listener = (...args: unknown[]) => unknown
type Deferred = Listener & { listener: Listener, once: boolean, [kDeferred]: true }

export interface DeferredRun {
  signal: NodeJS.Signals
  listeners: number
  timedOut: boolean
  errors: string[]
}

/** Who added a listener, when the stack tells: the libraries known to add one, else the file that did. */
/** This module's file as stack frames name it: a file URL, or its path when loaded through require(). */
const OWN_FILE = import.meta.url

export function originOf (stack: string | undefined): string | undefined {
  if (stack === undefined) return undefined
  const known: Array<[RegExp, string]> = [
    [/[\\/]@nestjs[\\/]core[\\/]/, "NestJS's enableShutdownHooks()"],
    [/[\\/]@opentelemetry[\\/]/, "OpenTelemetry's SDK"],
    [/[\\/]close-with-grace[\\/]/, 'close-with-grace'],
    [/[\\/]@godaddy[\\/]terminus[\\/]/, '@godaddy/terminus'],
    [/[\\/]next[\\/]dist[\\/]/, 'Next.js'],
    [/[\\/](nitropack|nitro)[\\/]/, 'Nitro']
  ]
  const frames = stack.split('\n').slice(1).map(line => line.trim())
  // The first frame that is neither Node's own (process.on) nor this file (the published bundle's chunk, which holds it).
  const caller = frames.find(frame => !frame.includes('node:') && !frame.includes(OWN_FILE))
  if (caller === undefined) return undefined
  for (const [pattern, name] of known) if (pattern.test(caller)) return name
  return caller.replace(/^at\s+/, '')
}

/** Where each signal listener added since `recordListenerOrigins()` came from, shared by every installed copy. */
function origins (): WeakMap<Listener, string> {
  const holder = globalThis as Record<symbol, WeakMap<Listener, string> | undefined>
  holder[kListenerOrigins] ??= new WeakMap()
  return holder[kListenerOrigins]
}

const RECORDED = new Set(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR2'])

// The preload runs before the application: each listener of a stopping signal is noted with who added it, so that one
// added before graceful's first instance (NestJS's enableShutdownHooks()) is named by its library.
export function recordListenerOrigins (): void {
  process.on('newListener', (event: string | symbol, listener: Listener) => {
    if (typeof event !== 'string' || !RECORDED.has(event) || origins().has(listener)) return
    const origin = originOf(new Error('where the listener was added').stack)
    if (origin !== undefined) origins().set(listener, origin)
  })
}

export class CompetingListeners {
  readonly #owned = new Set<NodeJS.Signals>()
  #due: Array<{ listener: Listener, args: unknown[] }> = []
  #dueSignal: NodeJS.Signals | undefined
  readonly #found: (signal: NodeJS.Signals, origin: string) => void
  /** Adding a deferred listener now: 'newListener' hands over its `.listener`, the application's own function. */
  #adding = false
  readonly #onNewListener = (event: string | symbol, listener: Listener): void => {
    if (this.#adding || !this.#owned.has(event as NodeJS.Signals) || isOurs(listener)) return
    // Fired before the listener is added: it is deferred once it is in place, before any signal can be handled.
    const origin = originOf(new Error('where the listener was added').stack) ?? `a listener (${nameOf(listener)})`
    queueMicrotask(() => { this.#defer(event as NodeJS.Signals, listener, origin) })
  }

  constructor (found: (signal: NodeJS.Signals, origin: string) => void) {
    this.#found = found
  }

  /** From now on the listeners of `signal`, present and future, are deferred. */
  own (signal: NodeJS.Signals): void {
    if (this.#owned.has(signal)) return
    if (this.#owned.size === 0) process.on('newListener', this.#onNewListener)
    this.#owned.add(signal)
    for (const raw of process.rawListeners(signal) as Listener[]) {
      const listener = (raw as Partial<Deferred>).listener ?? raw
      if (!isOurs(raw) && !isOurs(listener)) this.#defer(signal, listener, undefined)
    }
  }

  release (signal: NodeJS.Signals): void {
    if (!this.#owned.delete(signal)) return
    if (this.#owned.size === 0) process.off('newListener', this.#onNewListener)
    for (const raw of process.rawListeners(signal) as Listener[]) {
      if ((raw as Partial<Deferred>)[kDeferred] !== true) continue
      const { listener, once } = raw as Deferred
      process.removeListener(signal, raw)
      if (once) process.once(signal, listener)
      else process.on(signal, listener)
    }
  }

  get pending (): boolean {
    return this.#due.length > 0
  }

  /** Runs the waiting listeners as Node would have at the signal, and waits at most `timeout` ms for their promises. */
  async runDue (timeout: number): Promise<DeferredRun | undefined> {
    const due = this.#due
    const signal = this.#dueSignal
    this.#due = []
    if (due.length === 0 || signal === undefined) return undefined
    const run: DeferredRun = { signal, listeners: due.length, timedOut: false, errors: [] }
    const settled: Array<Promise<unknown>> = []
    for (const { listener, args } of due) {
      try {
        const result: unknown = Reflect.apply(listener, process, args)
        if (isThenable(result)) {
          settled.push(Promise.resolve(result).catch((err: unknown) => { run.errors.push(messageOf(err)) }))
        }
      } catch (err) {
        run.errors.push(messageOf(err))
      }
    }
    if (settled.length === 0) return run
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<'timed-out'>(resolve => { timer = setTimeout(resolve, timeout, 'timed-out') })
    run.timedOut = await Promise.race([Promise.all(settled), bound]) === 'timed-out'
    clearTimeout(timer)
    return run
  }

  #defer (signal: NodeJS.Signals, listener: Listener, origin: string | undefined): void {
    const raw = (process.rawListeners(signal) as Listener[]).find(entry => entry === listener || (entry as Partial<Deferred>).listener === listener)
    if (raw === undefined || !this.#owned.has(signal)) return
    const once = raw !== listener
    // The original stays what the application sees: `removeListener()` and `listeners()` work as on a `once` wrapper.
    const deferred = Object.assign((...args: unknown[]): void => {
      if (once) process.removeListener(signal, deferred)
      this.#dueSignal ??= signal
      this.#due.push({ listener, args })
    }, { listener, once, [kDeferred]: true as const })
    process.removeListener(signal, raw)
    this.#adding = true
    try {
      process.on(signal, deferred)
    } finally {
      this.#adding = false
    }
    this.#found(signal, origin ?? origins().get(listener) ?? `a listener added before graceful (${nameOf(listener)})`)
  }
}

function isOurs (listener: Listener): boolean {
  return (listener as Listener & { [kOwnHandler]?: boolean })[kOwnHandler] === true || (listener as Partial<Deferred>)[kDeferred] === true
}

function nameOf (listener: Listener): string {
  return listener.name === '' ? 'an anonymous function' : `function ${listener.name}`
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
