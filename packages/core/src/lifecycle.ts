import { setMaxListeners } from 'node:events'
import { Server as NetServer } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import { ConnectionTracker, drainOutcome, type DrainOutcome } from './connections.js'
import { GracefulError } from './errors.js'
import { EVENT_NAMES, LifecycleEvents, type GracefulEventName, type GracefulListener } from './events.js'
import { matchesPath, sendHealth, type HealthResponse } from './health.js'
import { runHooks, type Hook, type HookOptions, type HookResult, type ShutdownHook } from './hooks.js'
import { lameDuck } from './lameduck.js'
import { describe, resolveOptions, validateDuration, type GracefulOptions, type ResolvedOptions } from './options.js'
import { Probes, type CheckResult } from './probes.js'
import { activeResources, exitCodeFor, type HeldAtDeadline, type Phase, type ShutdownReport } from './report.js'
import { signalRegistry, type SignalMember } from './signals.js'
import { budgetWarning, containerWarnings } from './warnings.js'
import { isWebSocketServer, WebSockets, type WebSocketServerLike } from './web-sockets.js'

/**
 * One shutdown coordinator: attach the servers it drains, register cleanup hooks, and let a signal or `shutdown()`
 * run the sequence running → stopping → draining → cleanup → stopped.
 */
export class Graceful implements SignalMember {
  readonly #options: ResolvedOptions
  readonly #tracker: ConnectionTracker
  readonly #hooks: Hook[] = []
  readonly #controller = new AbortController()
  readonly #webSockets: WebSockets
  readonly #retryAfterSeconds: number
  readonly #probes: Probes
  #phase: Phase = 'running'
  #phaseStarted = 0
  readonly #events = new LifecycleEvents((name, err) => {
    this.#log('warn', { event: name, error: err instanceof Error ? err.message : String(err) },
      'graceful: a lifecycle event listener threw; the shutdown goes on')
  })
  #shutdown: Promise<ShutdownReport> | undefined
  #registered = false
  #budgetWarned = false
  /** The hook running now, to name it when something ends the process in the middle of the shutdown. */
  #hookRunning: string | undefined
  /** A second signal is ending the process on purpose: that exit is no surprise. */
  #abandoned = false
  // Something other than graceful ended the process while it was shutting down: a hook's own process.exit(), an
  // uncaught exception or unhandled rejection. The report will never come, so say where it stopped, and never let
  // such an exit pass for a clean one.
  readonly #onEarlyExit = (code: number): void => {
    if (this.#abandoned) return
    this.#log('error', { phase: this.#phase, hook: this.#hookRunning, exitCode: code, inFlight: this.#tracker.inFlight },
      `graceful: the process exited during ${this.#phase}${this.#hookRunning === undefined ? '' : ` (hook "${this.#hookRunning}")`}` +
      ' before the shutdown finished')
    if (code === 0) process.exitCode = 1
  }

  constructor (options?: GracefulOptions) {
    this.#options = resolveOptions(options)
    this.#probes = new Probes(this.#options, (name, result) => { this.#checkChanged(name, result) })
    this.#tracker = new ConnectionTracker({ ...this.#options, probes: this })
    this.#webSockets = new WebSockets(socket => { this.#tracker.markWebSocket(socket) })
    // One listener per stream or long poll is the intended use: no MaxListenersExceededWarning at the eleventh.
    setMaxListeners(0, this.#controller.signal)
    this.#retryAfterSeconds = Math.max(1, Math.ceil((this.#options.preStopDelay + this.#options.drainTimeout) / 1000))
    containerWarnings(this.#options, (obj, msg) => { this.#log('warn', obj, msg) })
    this.#checkBudget()
    // Also without signals: an instance that will exit must be known to the registry, so that no other instance
    // exits the process while this one is still draining.
    if (this.#options.signals.length > 0 || this.#options.exit) {
      signalRegistry().add(this)
      this.#registered = true
    }
  }

  /** Where the instance is in the shutdown sequence. */
  get state (): Phase {
    return this.#phase
  }

  /**
   * Aborted when draining begins (the listener closes): long polls, streams and other long-lived work should end
   * then. During the lame duck (`preStopDelay`) they keep running, since clients would only reconnect to this instance.
   */
  get signal (): AbortSignal {
    return this.#controller.signal
  }

  /** Requests in flight right now, over every attached server. */
  get inFlight (): number {
    return this.#tracker.inFlight
  }

  /** Sockets open right now, over every attached server. */
  get openSockets (): number {
    return this.#tracker.sockets
  }

  /**
   * Listens to a lifecycle event of this instance: `shutdown:start`, `phase`, `hook:start`, `hook:end`,
   * `shutdown:end` (the same payloads as the `graceful:*` diagnostics channels). A listener that throws is logged and
   * the shutdown goes on.
   */
  on<E extends GracefulEventName>(event: E, listener: GracefulListener<E>): this {
    if (typeof listener !== 'function') {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT',
        `on(${describe(event)}, listener) expects listener to be a function; received ${describe(listener)}.`)
    }
    if (!EVENT_NAMES.has(event)) {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT',
        `on(event) expects one of ${[...EVENT_NAMES].join(', ')}; received ${describe(event)}.`)
    }
    this.#events.on(event, listener)
    return this
  }

  /** Removes a listener added with `on()`. */
  off<E extends GracefulEventName>(event: E, listener: GracefulListener<E>): this {
    this.#events.off(event, listener)
    return this
  }

  /** The readiness route's path. */
  get readinessPath (): string {
    return this.#options.readinessPath
  }

  /** The liveness route's path. */
  get livenessPath (): string {
    return this.#options.livenessPath
  }

  /** The signals this instance answers to. */
  get signals (): readonly NodeJS.Signals[] {
    return this.#options.signals
  }

  /** Whether the process exits once the shutdown is over. */
  get exit (): boolean {
    return this.#options.exit
  }

  /** With `startup: 'manual'`, false until `ready()`; true otherwise. */
  get started (): boolean {
    return this.#probes.started
  }

  /**
   * With `startup: 'manual'`: the application is ready for traffic, so readiness may answer 200 from now on (when the
   * checks pass and no shutdown has begun). Call it once the caches are warm and the connections open. Idempotent.
   */
  ready (): this {
    this.#probes.ready()
    return this
  }

  /** True from the start of the shutdown until its report is out. */
  get busy (): boolean {
    return this.#phase !== 'running' && this.#phase !== 'stopped'
  }

  /**
   * Tracks the server's sockets and requests from now on. Call it right after creating or listening the server,
   * before any traffic: a socket opened earlier is only known from its next request. Idempotent per server.
   * node:http, node:https and node:http2 servers (HTTP/2 sessions get GOAWAY when draining begins).
   */
  attach (server: NetServer): this {
    // Every server graceful can drain (http, https, http2, and the frameworks' own) is a net.Server. An application
    // object that merely has listen() and on() (a Koa app) would pass a shape check and fail only in the drain.
    if (!(server instanceof NetServer)) {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT',
        `attach(server) expects a node:net, node:http, node:https or node:http2 server (what app.listen() returns); received ${describe(server)}.`)
    }
    this.#tracker.attach(server)
    return this
  }

  /**
   * Closes the server's WebSockets with 1001 (Going Away) when draining begins, and those accepted later at once;
   * the drain deadline destroys any that never complete the close handshake. Takes a `ws` WebSocketServer (or
   * `fastify.websocketServer`, which the Fastify plugin tracks by itself). WebSockets are not requests: they are
   * never in flight and readiness does not wait for them. Idempotent per server.
   */
  trackWebSockets (server: WebSocketServerLike): this {
    if (!isWebSocketServer(server)) {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT',
        `trackWebSockets(server) expects a ws WebSocketServer (with on() and, optionally, clients); received ${describe(server)}.`)
    }
    this.#webSockets.track(server)
    return this
  }

  /**
   * Registers a cleanup step. Hooks run after the drain, last registered first (a pool registered first closes last),
   * each bounded by its timeout; one that throws, rejects or hangs is reported and the others still run.
   */
  onShutdown (name: string, fn: ShutdownHook, options?: HookOptions): this {
    if (typeof name !== 'string' || name.length === 0) {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT',
        `onShutdown(name, fn) expects a non-empty name; received ${describe(name)}.`)
    }
    if (typeof fn !== 'function') {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT',
        `onShutdown("${name}", fn) expects fn to be a function; received ${describe(fn)}.`)
    }
    const given = options as unknown
    if (given !== undefined && (typeof given !== 'object' || given === null)) {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT',
        `onShutdown("${name}", fn, options) expects options to be an object; received ${describe(options)}.`)
    }
    const timeout = options?.timeout === undefined
      ? this.#options.hookTimeout
      : validateDuration(options.timeout, `onShutdown("${name}").timeout`)
    if (this.#phase === 'cleanup' || this.#phase === 'stopped') {
      throw new GracefulError('GRACEFUL_ERR_HOOK_TOO_LATE',
        `onShutdown("${name}") was called during the ${this.#phase} phase, after the hooks were started; ` +
        'register hooks at start-up.')
    }
    if (this.#hooks.some(hook => hook.name === name)) {
      throw new GracefulError('GRACEFUL_ERR_DUPLICATE_HOOK',
        `a hook named "${name}" is already registered; hook names identify hooks in the report.`)
    }
    this.#hooks.push({ name, fn, timeout })
    this.#checkBudget()
    return this
  }

  /**
   * The per-request entry for middleware: makes sure the request is tracked (attaching its server on first sight)
   * and answers the readiness and liveness routes. True when it answered.
   */
  handle (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean {
    // HTTP/2 streams (the compatibility API) are counted through their server's events, which attach() follows.
    const request = req as IncomingMessage
    const response = res as ServerResponse
    const probe = this.isProbe(req.url ?? '/')
    if (!this.#tracker.isTracked(request)) this.#tracker.adopt(request, response, probe)
    if (!probe) return false
    this.answerProbe(request, response)
    return true
  }

  /** @internal True when `url` is the readiness or the liveness path. Runs on every request: two string compares. */
  isProbe (url: string): boolean {
    return matchesPath(url, this.#options.readinessPath) || matchesPath(url, this.#options.livenessPath)
  }

  /** @internal Answers a probe on node:http (the tracker calls it before any 'request' listener). */
  answerProbe (req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendHealth(req, res, { statusCode: 405, headers: {}, body: '' })
      return
    }
    const response = this.healthFor(req.url ?? '/')
    if (response === undefined) return
    if (!(response instanceof Promise)) {
      sendHealth(req, res, response)
      return
    }
    response.then(answer => { sendHealth(req, res, answer) }, (err: unknown) => {
      this.#log('error', { err: err instanceof Error ? err.message : String(err) }, 'graceful: readiness failed')
      sendHealth(req, res, { statusCode: 500, headers: { 'cache-control': 'no-store' }, body: '' })
    })
  }

  /**
   * The health response for a URL, or undefined when it is neither the readiness nor the liveness path. A promise
   * when readiness checks have to run (none ran within `checkMaxAge`).
   */
  healthFor (url: string): HealthResponse | Promise<HealthResponse> | undefined {
    if (matchesPath(url, this.#options.readinessPath)) {
      return this.#probes.answer('readiness', this.#phase, this.#retryAfterSeconds)
    }
    if (matchesPath(url, this.#options.livenessPath)) {
      return this.#probes.answer('liveness', this.#phase, this.#retryAfterSeconds)
    }
    return undefined
  }

  /** Starts the shutdown (or returns the one under way): the same promise every time, resolved with the report. */
  shutdown (): Promise<ShutdownReport> {
    return this.#start('shutdown()')
  }

  /**
   * Lets go of signals and servers without shutting down (the Fastify plugin calls it when the app is closed
   * directly with `fastify.close()`). Does nothing once a shutdown has begun.
   */
  dispose (): void {
    if (this.#phase !== 'running') return
    this.#tracker.detach()
    if (this.#registered) {
      this.#registered = false
      signalRegistry().settle(this)
    }
  }

  /** @internal The signal registry's entry: a signal this instance listens to arrived. */
  startFromSignal (signal: NodeJS.Signals): void {
    void this.#start(signal)
  }

  /** @internal The signal registry's entry: a second signal arrived and the process is about to exit. */
  abandon (signal: NodeJS.Signals): void {
    this.#abandoned = true
    this.#log('error', {
      phase: this.#phase,
      signal,
      inFlight: this.#tracker.inFlight,
      sockets: this.#tracker.sockets,
      activeResources: activeResources()
    }, `graceful: second ${signal} during ${this.#phase}, exiting now`)
  }

  #start (reason: string): Promise<ShutdownReport> {
    this.#shutdown ??= this.#run(reason)
    return this.#shutdown
  }

  async #run (reason: string): Promise<ShutdownReport> {
    let report: ShutdownReport
    process.on('exit', this.#onEarlyExit)
    try {
      report = await this.#sequence(reason)
    } catch (err) {
      // A bug here must still end in a report and an exit, never in a process that hangs half shut down.
      this.#enter('stopped')
      report = buildReport(reason, drainOutcome(0, 0), [], this.#tracker.servedWhileStopping, { stopping: 0, draining: 0, cleanup: 0, total: 0 }, 1)
      report.error = err instanceof Error ? err.message : String(err)
      this.#log('error', report, 'graceful: shutdown failed')
      this.#events.emit('shutdown:end', { graceful: this, report })
    }
    process.off('exit', this.#onEarlyExit)
    if (this.#registered) {
      this.#registered = false
      signalRegistry().settle(this, report.exitCode)
    }
    return report
  }

  async #sequence (reason: string): Promise<ShutdownReport> {
    const options = this.#options
    this.#events.emit('shutdown:start', { graceful: this, reason })
    const started = this.#enter('stopping')
    this.#log('info', { reason, phase: 'stopping', preStopDelay: options.preStopDelay, inFlight: this.#tracker.inFlight },
      'graceful: shutdown started')
    this.#tracker.startTelling()
    if (options.preStopQuietWindow > 0 && options.preStopDelay > 0) {
      const ended = await lameDuck({
        maximum: options.preStopDelay,
        minimum: options.preStopMinimumDelay,
        quietWindow: options.preStopQuietWindow
      }, () => this.#tracker.freshRequestAt)
      if (ended.reason === 'quiet') {
        this.#log('info', { phase: 'stopping', stoppingMs: round(ended.durationMs), preStopQuietWindow: options.preStopQuietWindow },
          'graceful: lame duck ended early, no new traffic')
      }
    } else if (options.preStopDelay > 0) {
      await delay(options.preStopDelay)
    }

    const drainStarted = this.#enter('draining')
    this.#controller.abort(new GracefulError('GRACEFUL_ERR_SHUTTING_DOWN', `shutting down (${reason})`))
    this.#webSockets.goAway()
    let held: HeldAtDeadline | undefined
    const drain = await this.#tracker.drain(options.drainTimeout, () => {
      held = { inFlight: this.#tracker.inFlight, openSockets: this.#tracker.sockets, activeResources: activeResources() }
    })

    const cleanupStarted = this.#enter('cleanup')
    const steps: Hook[] = []
    const close = options.close
    if (close !== undefined) steps.push({ name: 'close', fn: () => close(), timeout: options.hookTimeout })
    steps.push(...[...this.#hooks].reverse())
    const hooks = await runHooks(steps, {
      start: hook => {
        this.#hookRunning = hook.name
        this.#events.emit('hook:start', { graceful: this, name: hook.name, timeoutMs: hook.timeout })
      },
      end: result => { this.#events.emit('hook:end', { graceful: this, name: result.name, result }) }
    })
    this.#hookRunning = undefined
    // A rejection a hook left unhandled surfaces only after this turn of the event loop: exiting within it would hide
    // the error and report a clean shutdown. One turn lets Node's own rule (it throws) apply first.
    await new Promise(resolve => setImmediate(resolve))

    const stopped = this.#enter('stopped')
    const times = {
      stopping: drainStarted - started,
      draining: cleanupStarted - drainStarted,
      cleanup: stopped - cleanupStarted,
      total: stopped - started
    }
    const failed = drain.forced > 0 || hooks.some(hook => hook.status !== 'ok')
    const report = buildReport(reason, drain, hooks, this.#tracker.servedWhileStopping, times,
      exitCodeFor(failed, reason, options.signalExitCode), held)
    this.#log(failed ? 'warn' : 'info', report, 'graceful: shutdown complete')
    this.#events.emit('shutdown:end', { graceful: this, report })
    return report
  }

  /**
   * Moves to the next phase and tells the listeners and the diagnostics channel. Returns the time it began, so that
   * the report and the events give a phase the same duration.
   */
  #enter (phase: Phase): number {
    const previous = this.#phase
    const now = performance.now()
    const previousDurationMs = previous === 'running' ? 0 : Math.round((now - this.#phaseStarted) * 10) / 10
    this.#phase = phase
    this.#phaseStarted = now
    this.#events.emit('phase', {
      graceful: this,
      phase,
      previous,
      previousDurationMs,
      inFlight: this.#tracker.inFlight,
      openSockets: this.#tracker.sockets
    })
    return now
  }

  #checkBudget (): void {
    if (this.#budgetWarned) return
    this.#budgetWarned = budgetWarning(this.#options, this.#hooks, (obj, msg) => { this.#log('warn', obj, msg) })
  }

  #checkChanged (name: string, result: CheckResult): void {
    if (result.status === 'ok') {
      this.#log('info', { check: name, status: result.status }, `graceful: readiness check "${name}" passes`)
    } else {
      this.#log('warn', { check: name, status: result.status, error: result.error },
        `graceful: readiness check "${name}" fails`)
    }
  }

  #log (level: 'info' | 'warn' | 'error', obj: object, msg: string): void {
    const logger = this.#options.logger
    if (logger === false) return
    try {
      logger[level](obj, msg)
    } catch {
      // A broken logger must not break the shutdown it reports on.
    }
  }
}

function buildReport (
  reason: string,
  drain: DrainOutcome,
  hooks: HookResult[],
  servedWhileStopping: number,
  times: { stopping: number, draining: number, cleanup: number, total: number },
  exitCode: number,
  atDeadline?: HeldAtDeadline
): ShutdownReport {
  return {
    reason,
    exitCode,
    durationMs: round(times.total),
    phases: { stopping: round(times.stopping), draining: round(times.draining), cleanup: round(times.cleanup) },
    requests: {
      servedWhileStopping,
      inFlightAtDrain: drain.inFlightAtStart,
      completedDuringDrain: drain.completed,
      forced: drain.forcedRequests
    },
    sockets: {
      openAtDrain: drain.socketsAtStart,
      webSockets: drain.webSockets,
      http2Sessions: drain.http2Sessions,
      closedIdle: drain.closedIdle,
      closedAfterResponse: drain.closedAfterResponse,
      forced: drain.forced
    },
    // Before the hooks in the logged line, next to the sockets it explains.
    ...(atDeadline === undefined ? {} : { atDeadline }),
    hooks
  }
}

function round (ms: number): number {
  return Math.round(ms * 10) / 10
}

/** Creates a shutdown coordinator; see `GracefulOptions` for every option and its default. */
export function createGraceful (options?: GracefulOptions): Graceful {
  return new Graceful(options)
}
