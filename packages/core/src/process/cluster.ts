// The cluster primary: on a signal it tells every worker to shut down, waits for them within a bound, and exits.
import cluster, { type Worker } from 'node:cluster'
import { performance } from 'node:perf_hooks'
import { gracefulError } from '../errors.js'
import { fallbackLogger, type GracefulLogger } from '../report/logger.js'
import { kPrimary } from '../symbols.js'
import { deadline, TIMED_OUT } from '../shutdown/timeout.js'
import { validateBoolean, validateDuration, validateLogger, validateOptions, validateSignals, validateSilence } from '../options/validate.js'
import { SHUTDOWN_MESSAGE, signalRegistry, worst, type SignalMember } from './signals.js'
import { containerWarnings, unitsMistake, type WarningName } from './warnings.js'

const PRIMARY_WARNINGS: readonly WarningName[] = ['pid1', 'run-script', 'units', 'ineffective-option']

export interface GracefulClusterOptions {
  /**
   * Signals that start the shutdown of every worker. A second one exits the primary at once and kills the workers.
   * @default ['SIGTERM', 'SIGINT']
   */
  signals?: readonly NodeJS.Signals[]
  /**
   * Deadline in milliseconds for every worker's own shutdown, from the signal; workers still running then are killed
   * (SIGKILL) and the primary exits 1. At least the workers' `preStopDelay + drainTimeout` plus their hooks' timeouts.
   * @default 30_000
   */
  shutdownTimeout?: number
  /**
   * Exit the primary once every worker has exited: 0 when each worker exited 0, 1 when one failed or was killed.
   * @default true
   */
  exit?: boolean
  /**
   * Where the primary's start and report lines go: any pino-compatible logger, or `false`.
   * @default graceful's fallback logger (stderr)
   */
  logger?: GracefulLogger | false
  /**
   * Silences the primary's start-up warnings (`'pid1'`, `'run-script'`), as for an instance (or the env variable).
   * @default false
   */
  silenceWarnings?: boolean | readonly WarningName[]
}

/** What the primary's shutdown did. */
export interface ClusterReport {
  /** The signal that started it, or `shutdown()`. */
  reason: string
  exitCode: number
  durationMs: number
  /** Each worker that was running, with how it ended. */
  workers: Array<{ id: number, pid: number | undefined, exitCode: number | null, signal: string | null, forced: boolean }>
}

/** The primary's controls. */
export interface GracefulCluster {
  /** `running` until the signal, `stopping` while the workers shut down, `stopped` once they all have. */
  readonly state: 'running' | 'stopping' | 'stopped'
  /** Aborted when the shutdown begins: a primary that re-forks workers that exit should stop doing so then. */
  readonly signal: AbortSignal
  /** Starts the shutdown of every worker (or returns the one under way), resolved with the report. */
  shutdown: () => Promise<ClusterReport>
}


const clusterValidators = {
  signals: validateSignals,
  shutdownTimeout: validateDuration,
  exit: validateBoolean,
  logger: validateLogger,
  silenceWarnings: validateSilence
} as const satisfies Record<keyof GracefulClusterOptions, unknown>

class ClusterPrimary implements SignalMember {
  readonly signals: readonly NodeJS.Signals[]
  readonly exit: boolean
  readonly #timeout: number
  readonly #logger: GracefulLogger | false
  readonly #controller = new AbortController()
  #state: 'running' | 'stopping' | 'stopped' = 'running'
  #shutdown: Promise<ClusterReport> | undefined
  #signal: NodeJS.Signals = 'SIGTERM'

  constructor (options: Required<GracefulClusterOptions>) {
    this.signals = options.signals
    this.exit = options.exit
    this.#timeout = options.shutdownTimeout
    this.#logger = options.logger
    signalRegistry().add(this)
  }

  get busy (): boolean {
    return this.#state === 'stopping'
  }

  get state (): 'running' | 'stopping' | 'stopped' {
    return this.#state
  }

  get signal (): AbortSignal {
    return this.#controller.signal
  }

  shutdown (): Promise<ClusterReport> {
    this.#shutdown ??= this.#run('shutdown()')
    return this.#shutdown
  }

  startFromSignal (signal: NodeJS.Signals): void {
    this.#signal = signal
    this.#shutdown ??= this.#run(signal)
  }

  abandon (signal: NodeJS.Signals): void {
    const workers = liveWorkers()
    this.#log('error', { signal, workers: workers.map(worker => worker.process.pid) },
      `graceful: second ${signal} in the cluster primary, killing the workers and exiting now`)
    for (const worker of workers) worker.process.kill('SIGKILL')
  }

  async #run (reason: string): Promise<ClusterReport> {
    const started = performance.now()
    this.#state = 'stopping'
    this.#controller.abort(gracefulError('GRACEFUL_ERR_SHUTTING_DOWN', reason))
    const results = new Map<Worker, ClusterReport['workers'][number]>()
    const pending = new Set<Worker>()
    let forced = false
    let done: (() => void) | undefined
    const finished = new Promise<void>(resolve => { done = resolve })
    const tell = (worker: Worker): void => {
      pending.add(worker)
      results.set(worker, { id: worker.id, pid: worker.process.pid, exitCode: null, signal: null, forced: false })
      worker.on('error', closedChannel)
      // A message, not a signal: a forwarded one would be the worker's second (SignalRegistry#listenToPrimary).
      if (worker.isConnected()) worker.send({ graceful: SHUTDOWN_MESSAGE, signal: this.#signal }, undefined, unsent)
      else worker.process.kill(this.#signal)
    }
    const onExit = (worker: Worker, code: number | null, signal: string | null): void => {
      const result = results.get(worker)
      if (result !== undefined) {
        result.exitCode = code
        result.signal = signal
      }
      pending.delete(worker)
      if (pending.size === 0) done?.()
    }
    // A worker forked during the shutdown (by an 'exit' handler) is told once it listens; one told while starting may
    // have had no instance to hear it, so it is told again.
    const onListening = (worker: Worker): void => {
      if (!results.has(worker)) tell(worker)
      else if (pending.has(worker) && worker.isConnected()) worker.send({ graceful: SHUTDOWN_MESSAGE, signal: this.#signal }, undefined, unsent)
    }
    cluster.on('exit', onExit)
    cluster.on('listening', onListening)
    const workers = liveWorkers()
    this.#log('info', { reason, workers: workers.length, shutdownTimeout: this.#timeout }, 'graceful: cluster shutdown started')
    for (const worker of workers) tell(worker)
    if (pending.size === 0) done?.()
    if (await deadline(finished, this.#timeout) === TIMED_OUT) {
      forced = true
      for (const worker of pending) {
        const result = results.get(worker)
        if (result !== undefined) result.forced = true
        worker.process.kill('SIGKILL')
      }
      // SIGKILL cannot be caught: the exits follow at once.
      await finished
    }
    cluster.off('exit', onExit)
    cluster.off('listening', onListening)
    let exitCode = 0
    for (const result of results.values()) {
      exitCode = worst(exitCode, result.forced || result.exitCode === null ? 1 : result.exitCode)
    }
    if (forced) exitCode = 1
    const report: ClusterReport = {
      reason,
      exitCode,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      workers: [...results.values()]
    }
    this.#state = 'stopped'
    this.#log(exitCode === 0 ? 'info' : 'warn', report, 'graceful: cluster shutdown complete')
    signalRegistry().settle(this, exitCode)
    return report
  }

  #log (level: 'info' | 'warn' | 'error', obj: object, msg: string): void {
    if (this.#logger === false) return
    try {
      this.#logger[level](obj, msg)
    } catch {
      // A broken logger must not break the shutdown it reports on.
    }
  }
}

/** A worker dead a moment ago can look connected: the failed write (EPIPE) must not become an unhandled 'error'. */
function unsent (): void {}

// A worker told to stop mid-listen exits unanswered: the EPIPE 'error' on its closed channel would crash the primary.
function closedChannel (err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET' && err.code !== 'ERR_IPC_CHANNEL_CLOSED') throw err
}

function liveWorkers (): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead())
}

/** In the cluster primary: at SIGTERM or SIGINT, tells every worker (each with its own instance) to shut down. */
export function gracefulCluster (options?: GracefulClusterOptions): GracefulCluster {
  if (!cluster.isPrimary) {
    throw gracefulError('GRACEFUL_ERR_NOT_PRIMARY')
  }
  const holder = globalThis as Record<symbol, ClusterPrimary | undefined>
  if (holder[kPrimary] !== undefined) {
    throw gracefulError('GRACEFUL_ERR_CALLED_TWICE', 'gracefulCluster()', ' in this primary', 'call it once')
  }
  const resolved: Required<GracefulClusterOptions> = {
    signals: ['SIGTERM', 'SIGINT'],
    shutdownTimeout: 30_000,
    exit: true,
    logger: fallbackLogger,
    silenceWarnings: false,
    ...validateOptions<GracefulClusterOptions>(options, clusterValidators, 'gracefulCluster()')
  }
  const primary = new ClusterPrimary(resolved)
  const log = resolved.logger
  if (log !== false) {
    // The primary gives only the process warnings (and these two): silencing another name here does nothing.
    const silenced = resolved.silenceWarnings
    const ineffective = typeof silenced === 'boolean' ? [] : silenced.filter(name => !PRIMARY_WARNINGS.includes(name))
    if (ineffective.length > 0) {
      log.warn({ warning: 'ineffective-option', silenceWarnings: ineffective },
        `graceful: silenceWarnings ${ineffective.join(', ')} does nothing on gracefulCluster(): the primary gives only ` +
        `${PRIMARY_WARNINGS.join(', ')}; set it on the workers' instances`)
    }
    const mistake = unitsMistake('shutdownTimeout', resolved.shutdownTimeout)
    if (mistake !== undefined) log.warn({ warning: 'units', option: 'shutdownTimeout' }, mistake)
  }
  holder[kPrimary] = primary
  // The process facts (PID 1, a run script) are the primary's: its workers leave these warnings to it.
  const logger = resolved.logger
  if (logger !== false) containerWarnings(resolved, (obj, msg) => { logger.warn(obj, msg) })
  return primary
}
