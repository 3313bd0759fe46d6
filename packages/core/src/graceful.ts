// The facade: one shutdown coordinator, its public API, and the parts it lends the sequence.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Server as NetServer } from 'node:net'
import { AppCloses } from './app-close.js'
import type { DeferredRun } from './competing-listeners.js'
import { Connections, isNetServer } from './connections.js'
import { LazySignal } from './lazy-signal.js'
import { inFlight } from './drain.js'
import { GracefulError } from './errors.js'
import { EVENT_NAMES, LifecycleEvents, type GracefulEventName, type GracefulListener } from './events.js'
import { Flushes } from './flush.js'
import type { HookOptions, Hook, ShutdownHook } from './hooks.js'
import { serverOf } from './internals.js'
import { resolveOptions, type GracefulOptions, type ResolvedOptions } from './options.js'
import { METHOD_NOT_ALLOWED, NOT_A_PROBE, probeMatcher, ProbeRoutes, READINESS, type ProbeKind, type ProbeRouting } from './probe-routes.js'
import { Readiness, type CheckResult, type HealthResponse } from './readiness.js'
import { activeResources, type Phase, type ShutdownReport } from './report.js'
import { Sequence } from './sequence.js'
import { claimServer } from './server-claims.js'
import { signalRegistry, type CrashMember, type SignalMember } from './signals.js'
import { describe, notAnObject, serverHint, validateDuration } from './validate.js'
import { budgetWarning, containerWarnings, ineffectiveOptions, SECONDS_SCALE, unitsMistake, usageWarnings, type WarningName } from './warnings.js'
import { isWebSocketServer, WebSockets, type WebSocketServerLike } from './web-sockets.js'
import { FORCE_TIMEOUT, WorkSources, type WorkSource } from './work.js'

/** How probe paths are matched unless an adapter says how its router does it: exactly, and with a query string. */
const EXACT: ProbeRouting = { caseSensitive: true, strict: true }

/**
 * One shutdown coordinator: attach the servers it drains, register cleanup hooks, and let a signal or `shutdown()`
 * run the sequence running → stopping → draining → cleanup → stopped.
 */
export class Graceful implements SignalMember, CrashMember {
  readonly #options: ResolvedOptions
  readonly #connections = new Connections()
  readonly #appCloses: AppCloses = new AppCloses(this)
  readonly #routes: ProbeRoutes
  readonly #readiness: Readiness
  readonly #hooks: Hook[] = []
  readonly #work: WorkSources<Graceful>
  readonly #flushes = new Flushes()
  /** `signal`: aborted when draining begins. */
  readonly #draining = new LazySignal()
  /** `deadlineSignal`: aborted when the drain deadline cuts requests or work. */
  readonly #deadline = new LazySignal()
  readonly #webSockets: WebSockets
  readonly #retryAfterSeconds: number
  readonly #warn: (name: WarningName, subject: string, obj: object, msg: string) => void
  readonly #sequence: Sequence<Graceful>
  readonly #events = new LifecycleEvents<Graceful>((name, err) => {
    this.#log('warn', { event: name, error: err instanceof Error ? err.message : String(err) },
      'graceful: a lifecycle event listener threw; the shutdown goes on')
  })

  #shutdown: Promise<ShutdownReport> | undefined
  #registered = false
  #budgetWarned = false
  /** Disposed: the middleware's requests no longer attach their server, until `attach` is called again. */
  #detached = false
  /** The server the last request through `handle()` came from, when it is attached: the next one from it is free. */
  #lastServer: NetServer | undefined
  /** Set for a shutdown the application started by closing itself: it must not exit the process. */
  #exitAfter: boolean | undefined
  /** A second signal is ending the process on purpose: that exit is no surprise. */
  #abandoned = false
  /** The shutdown's report said something was forced or failed. */
  #failed = false
  // Something other than graceful ended the process while it was shutting down: a hook's own process.exit(), an
  // uncaught exception or unhandled rejection. The report will never come, so say where it stopped, and never let
  // such an exit pass for a clean one.
  readonly #exitWatcher = { exitedEarly: (code: number): void => { this.#exitedEarly(code) } }

  #exitedEarly (code: number): void {
    if (this.#abandoned) return
    const { phase, hookRunning } = this.#sequence
    // The report is out: the application's own close callback ended the process. It may not hide a failure.
    if (phase === 'stopped') {
      if (code === 0 && this.#failed) process.exitCode = 1
      return
    }
    this.#log('error', { phase, hook: hookRunning, exitCode: code, inFlight: this.inFlight },
      `graceful: the process exited during ${phase}${hookRunning === undefined ? '' : ` (hook "${hookRunning}")`}` +
      ' before the shutdown finished')
    if (code === 0) process.exitCode = 1
  }

  /**
   * Prefer `createGraceful(options)`. `routing` (for adapters) says how the framework's router matches paths, so that
   * probe paths match the same way: exactly by default.
   */
  constructor (options?: GracefulOptions, routing: ProbeRouting = EXACT) {
    this.#options = resolveOptions(options)
    this.#warn = usageWarnings(this.#options, (obj, msg) => { this.#log('warn', obj, msg) })
    this.#readiness = new Readiness(this.#options, (name, result) => { this.#checkChanged(name, result) })
    this.#routes = new ProbeRoutes(probeMatcher(this.#options.readinessPath, this.#options.livenessPath, routing), kind => this.#health(kind), err => {
      this.#log('error', { err: err instanceof Error ? err.message : String(err) }, 'graceful: readiness failed')
    })
    this.#webSockets = new WebSockets(socket => { this.#connections.of(socket)?.upgradedToWebSocket() })
    this.#work = new WorkSources<Graceful>(this, this.#events)
    this.#sequence = new Sequence<Graceful>({
      instance: this,
      options: this.#options,
      connections: this.#connections,
      routes: this.#routes,
      match: url => this.#routes.match(url),
      webSockets: this.#webSockets,
      abort: reason => { this.#draining.abort(() => new GracefulError('GRACEFUL_ERR_SHUTTING_DOWN', `shutting down (${reason})`)) },
      cut: reason => { this.#deadline.abort(() => new GracefulError('GRACEFUL_ERR_DRAIN_DEADLINE', `the drain deadline passed (${reason}): requests and work still running were cut`)) },
      deadlineSignal: () => this.#deadline.signal,
      events: this.#events,
      hooks: this.#hooks,
      inFlight: () => inFlight(this.#connections, this.#routes.match),
      work: this.#work,
      log: (level, obj, msg) => { this.#log(level, obj, msg) }
    })
    this.#retryAfterSeconds = Math.max(1, Math.ceil((this.#options.preStopDelay + this.#options.drainTimeout) / 1000))
    containerWarnings(this.#options, (obj, msg) => { this.#log('warn', obj, msg) })
    this.#checkConfiguration()
    this.#checkBudget()
    // Also without signals: an instance that will exit must be known to the registry, so that no other instance
    // exits the process while this one is still draining.
    if (this.#options.signals.length > 0 || this.#options.exit || this.#options.onCrash === 'drain') {
      signalRegistry().add(this)
      this.#registered = true
    }
    if (this.#options.onCrash === 'drain') signalRegistry().watchCrashes(this)
  }

  /** Where the instance is in the shutdown sequence. */
  get state (): Phase {
    return this.#sequence.phase
  }

  /**
   * Aborted when draining begins (the listener closes): long polls, streams and other long-lived work should end
   * then. During the lame duck (`preStopDelay`) they keep running, since clients would only reconnect to this instance.
   */
  get signal (): AbortSignal {
    return this.#draining.signal
  }

  /**
   * Aborted at the drain deadline, just before the sockets still open are destroyed, when the deadline cuts requests
   * or work: a handler still running learns that its client was cut, as a Go handler's context is cancelled, and can
   * stop before its side effect (roll back instead of COMMIT). Pass it to what the handler awaits (a query, a fetch).
   * Never aborted by a drain that ends in time. Per request: `req.deadlineSignal` (Express), `request.deadlineSignal`
   * (Fastify).
   */
  get deadlineSignal (): AbortSignal {
    return this.#deadline.signal
  }

  /**
   * Requests in flight right now, over every attached server (read from Node's own state: nothing counts per request),
   * and the work the work sources are running.
   */
  get inFlight (): number {
    return inFlight(this.#connections, this.#routes.match) + this.#work.inFlight
  }

  /** Of `inFlight`, the work the work sources are running (what their `running()` lists). */
  get workInFlight (): number {
    return this.#work.inFlight
  }

  /** Sockets open right now, over every attached server. */
  get openSockets (): number {
    return this.#connections.all.size
  }

  /**
   * Listens to a lifecycle event of this instance: `shutdown:start`, `phase`, `hook:start`, `hook:end`,
   * `shutdown:end` (the same payloads as the `graceful:*` diagnostics channels). A listener that throws is logged and
   * the shutdown goes on.
   */
  on<E extends GracefulEventName>(event: E, listener: GracefulListener<E, Graceful>): this {
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
  off<E extends GracefulEventName>(event: E, listener: GracefulListener<E, Graceful>): this {
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

  /**
   * Whether the process exits once the shutdown is over: the `exit` option, except for a shutdown the application
   * started by closing itself (a direct `fastify.close()`), which leaves the process alone.
   */
  get exit (): boolean {
    return this.#exitAfter ?? this.#options.exit
  }

  /** @internal The bound for the application's own signal listeners, run once the shutdown is over. */
  get hookTimeout (): number {
    return this.#options.hookTimeout
  }

  /** With `startup: 'manual'`, false until `ready()`; true otherwise. */
  get started (): boolean {
    return this.#readiness.started
  }

  /**
   * With `startup: 'manual'`: the application is ready for traffic, so readiness may answer 200 from now on (when the
   * checks pass and no shutdown has begun). Call it once the caches are warm and the connections open. Idempotent.
   */
  ready (): this {
    this.#readiness.ready()
    return this
  }

  /** True from the start of the shutdown until its report is out and its flush steps are done. */
  get busy (): boolean {
    const phase = this.#sequence.phase
    return phase !== 'running' && (phase !== 'stopped' || this.#flushes.running)
  }

  /**
   * Follows the server's sockets from now on and answers the probes ahead of its application. Call it right after
   * creating or listening the server, before any traffic: a socket opened earlier is only known from its next request.
   * Idempotent per server. node:http, node:https and node:http2 servers (HTTP/2 sessions get GOAWAY when draining
   * begins).
   */
  attach (server: NetServer): this {
    // An application object that merely has listen() and on() (a Koa app) would pass a shape check and fail only in
    // the drain.
    if (!isNetServer(server)) {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT',
        `attach(server) expects a node:net, node:http, node:https or node:http2 server (what app.listen() returns); received ${describe(server)}.${serverHint(server)}`)
    }
    this.#detached = false
    // A server the preload attached is handed over to this instance, which knows the application's hooks and options.
    claimServer(server, this)
    if (this.#connections.attach(server)) {
      this.#routes.install(server)
      this.#appCloses.install(server)
    }
    this.#sequence.drain?.closeListener(server)
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
    if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) {
      throw notAnObject(`onShutdown("${name}")`, given)
    }
    const timeout = options?.timeout === undefined
      ? this.#options.hookTimeout
      : validateDuration(options.timeout, `onShutdown("${name}").timeout`)
    const phase = this.#sequence.phase
    if (phase === 'cleanup' || phase === 'stopped') {
      throw new GracefulError('GRACEFUL_ERR_HOOK_TOO_LATE',
        `onShutdown("${name}") was called during the ${phase} phase, after the hooks were started; ` +
        'register hooks at start-up.')
    }
    if (this.#hooks.some(hook => hook.name === name)) {
      throw new GracefulError('GRACEFUL_ERR_DUPLICATE_HOOK',
        `a hook named "${name}" is already registered; hook names identify hooks in the report.`)
    }
    this.#hooks.push({ name, fn, timeout })
    const mistake = unitsMistake(`onShutdown("${name}").timeout`, options?.timeout)
    if (mistake !== undefined) this.#warn('units', `hook:${name}`, { hook: name, timeout }, mistake)
    this.#checkBudget()
    return this
  }

  /**
   * Registers a work source: a queue consumer, a scheduler, a gRPC server, anything that takes work from outside the
   * attached servers. It stops taking work at its `stopAt` moment, its work runs out under the drain's deadline
   * alongside the sockets, and what the deadline cuts is named in the report (the exit code becomes 1). During a
   * shutdown, a source added after its moment is stopped at once.
   */
  addWorkSource (name: string, source: WorkSource): this {
    const phase = this.#sequence.phase
    this.#work.add(name, source, phase === 'cleanup' || phase === 'stopped')
    this.#checkBudget()
    return this
  }

  /**
   * Registers a flush step, the last tier: run after the hooks and after the report is logged, last registered first,
   * each bounded by its timeout (default `hookTimeout`); the process exits after them. For telemetry exporters and
   * log transports, so that the spans and lines of the shutdown itself, the report's included, are not lost.
   */
  onFlush (name: string, fn: ShutdownHook, options?: HookOptions): this {
    this.#flushes.add(name, fn, options, this.#options.hookTimeout)
    this.#checkBudget()
    return this
  }

  /**
   * The per-request entry for a handler or middleware: answers the readiness and liveness routes on a server that
   * was never attached, and attaches it on first sight. True when it answered (or declined) the request. On an
   * attached server the probes were answered before the handler ran, and this costs one comparison.
   */
  handle (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean {
    const request = req as IncomingMessage
    const server = serverOf(request.socket)
    if (server === this.#lastServer && server !== undefined) return false
    return this.#handleUnattached(request, res as ServerResponse, server)
  }

  #handleUnattached (req: IncomingMessage, res: ServerResponse, server: NetServer | undefined): boolean {
    if (server !== undefined && !this.#detached && req.httpVersionMajor !== 2) {
      if (this.#connections.servers.has(server)) {
        this.#lastServer = server
        return false
      }
      // Its later requests pass the probe routes ahead of the application; this one and its socket are followed here.
      this.attach(server)
      this.#connections.adopt(req.socket)
      this.#warn('attach', 'server', { address: server.address() },
        'graceful: a request arrived on a server that was never attached; it is attached now, but a TLS handshake ' +
        'that began before this moment is never seen: call attach(server) right after listen()')
    }
    const kind = this.#routes.match(req.url ?? '/')
    if (kind !== NOT_A_PROBE) {
      this.#routes.probe(req, res, kind)
      return true
    }
    const observer = this.#routes.observer
    if (observer !== undefined && !this.#detached && !observer.request(req, res)) return true
    return false
  }

  /**
   * The health response for a URL, or undefined when it is neither the readiness nor the liveness path. A promise
   * when readiness checks have to run (none ran within `checkMaxAge`). With a `method` other than GET or HEAD, the
   * 405 answer (with `Allow`) that the probe routes give on a socket.
   */
  healthFor (url: string, method?: string): HealthResponse | Promise<HealthResponse> | undefined {
    const kind = this.#routes.match(url)
    if (kind === NOT_A_PROBE) return undefined
    if (method !== undefined && method !== 'GET' && method !== 'HEAD') return { ...METHOD_NOT_ALLOWED, headers: { ...METHOD_NOT_ALLOWED.headers } }
    return this.#health(kind)
  }

  #health (kind: ProbeKind): HealthResponse | Promise<HealthResponse> {
    return this.#readiness.answer(kind === READINESS ? 'readiness' : 'liveness', this.#sequence.phase, this.#retryAfterSeconds)
  }

  /** Starts the shutdown (or returns the one under way): the same promise every time, resolved with the report. */
  shutdown (): Promise<ShutdownReport> {
    return this.#start('shutdown()')
  }

  /**
   * @internal The application is closing itself (a direct `fastify.close()`): runs the same sequence, which leaves the
   * process alone at the end unless a signal arrives meanwhile. Returns the shutdown under way if there is one.
   */
  shutdownFromApp (reason: string): Promise<ShutdownReport> {
    if (this.#shutdown === undefined) this.#exitAfter = false
    return this.#start(reason)
  }

  /**
   * @internal A framework's own close, called by the application (`fastify.close()`): a promise that settles once the
   * shutdown it joins (or starts) is over, or undefined when the framework should close as it would without graceful.
   */
  closeFromApp (reason: string): Promise<void> | undefined {
    return this.#appCloses.join(reason)
  }

  /**
   * @internal Follows a request that reaches the application without a socket (Fastify's `inject()`): it counts in
   * flight and the drain waits for it. Call the function returned when it ends.
   */
  followSocketless (method: string, path: string): () => void {
    return this.#connections.followSocketless(method, path)
  }

  /** @internal How the application's router matches paths, learnt by an adapter once it sees the application. */
  setProbeRouting (routing: ProbeRouting): void {
    this.#routes.match = probeMatcher(this.#options.readinessPath, this.#options.livenessPath, routing)
  }

  /** @internal A warning about how this instance is used, once per subject (adapters: a route graceful shadows). */
  warnUsage (name: WarningName, subject: string, obj: object, msg: string): void {
    this.#warn(name, subject, obj, msg)
  }

  /** @internal True when `path` is a probe path as the application's router matches it. */
  isProbePath (path: string): boolean {
    return this.#routes.match(path) !== NOT_A_PROBE
  }

  /** @internal Starts the shutdown (or returns the one under way) giving `reason` for it, as a signal would. */
  shutdownFor (reason: string): Promise<ShutdownReport> {
    return this.#start(reason)
  }

  /**
   * Lets go of signals and servers without shutting down (the Fastify plugin calls it when the app is closed
   * directly with `fastify.close()`). Does nothing once a shutdown has begun.
   */
  dispose (): void {
    if (this.#sequence.phase !== 'running') return
    signalRegistry().unwatchCrashes(this)
    this.#connections.detach()
    this.#routes.uninstall()
    this.#appCloses.uninstall()
    this.#detached = true
    this.#lastServer = undefined
    if (this.#registered) {
      this.#registered = false
      signalRegistry().settle(this)
    }
  }

  /** @internal The signal registry's entry: a signal this instance listens to arrived. */
  startFromSignal (signal: NodeJS.Signals): void {
    // A signal during a shutdown the application started itself: the operator wants the process gone (after a crash
    // it goes anyway).
    if (this.#sequence.crash === undefined) this.#exitAfter = undefined
    void this.#start(signal)
  }

  /**
   * @internal The registry's entry for `onCrash: 'drain'`: the error is logged in full (never swallowed), the shutdown
   * starts without a lame duck (or the one under way goes on), and the process exits 1 when it is over.
   */
  crashed (kind: 'uncaughtException' | 'unhandledRejection', error: unknown): void {
    const crash = {
      kind,
      message: error instanceof Error ? error.message : String(error),
      ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {})
    }
    this.#log('error', { crash }, `graceful: ${kind}, draining for at most ${this.#options.crashDrainTimeout} ms before exiting 1`)
    // Logged through the logger, but also on stderr when graceful's logging is off: a crash is never silent.
    if (this.#options.logger === false) process.stderr.write(`${crash.stack ?? crash.message}\n`)
    this.#sequence.crash ??= crash
    this.#exitAfter = true
    if (!this.#registered) {
      signalRegistry().add(this)
      this.#registered = true
    }
    void this.#start(kind)
  }

  /** @internal The signal registry's entry: another listener of a signal this instance answers to was found. */
  competing (signal: NodeJS.Signals, origin: string): void {
    this.#warn('competing-listener', `${signal} ${origin}`, { signal, listener: origin },
      `graceful: another ${signal} listener is installed (${origin}): run at the signal, it would close the ` +
      'application or exit the process while the lame duck and the drain still need it, so graceful runs it once ' +
      'its own shutdown is over (after the drain, the hooks and the report); move what it does into onShutdown() ' +
      'hooks, or remove it')
  }

  /** @internal The signal registry's entry: the application's own signal listeners ran after the shutdown. */
  ranDeferred (run: DeferredRun): void {
    const failed = run.timedOut || run.errors.length > 0
    this.#log(failed ? 'error' : 'info', { deferredListeners: run },
      `graceful: the application's own ${run.signal} listener${run.listeners === 1 ? '' : 's'} ran after the shutdown` +
      (run.timedOut ? `, still running after ${this.#options.hookTimeout} ms` : '') +
      (run.errors.length > 0 ? `, failed: ${run.errors.join('; ')}` : ''))
  }

  /** @internal The signal registry's entry: a second signal arrived and the process is about to exit. */
  abandon (signal: NodeJS.Signals): void {
    this.#abandoned = true
    this.#log('error', {
      phase: this.#sequence.phase,
      signal,
      inFlight: this.inFlight,
      sockets: this.openSockets,
      activeResources: activeResources()
    }, `graceful: second ${signal} during ${this.#sequence.phase}, exiting now`)
  }

  #start (reason: string): Promise<ShutdownReport> {
    this.#shutdown ??= this.#run(reason)
    return this.#shutdown
  }

  async #run (reason: string): Promise<ShutdownReport> {
    signalRegistry().watch(this.#exitWatcher)
    const report = await this.#sequence.run(reason)
    if (this.#flushes.steps.length > 0) await this.#flush(report)
    this.#failed = report.exitCode === 1
    // What the application's own close waits on settles now: its callback may end the process, and everything
    // graceful owns is done and reported.
    this.#appCloses.settle()
    signalRegistry().unwatch(this.#exitWatcher)
    signalRegistry().unwatchCrashes(this)
    if (this.#registered) {
      this.#registered = false
      signalRegistry().settle(this, report.exitCode)
    }
    return report
  }

  /** The last tier, after the report is out: its outcome joins the report `shutdown()` resolves with, and is logged. */
  async #flush (report: ShutdownReport): Promise<void> {
    report.flush = await this.#flushes.run()
    for (const step of report.flush) {
      if (step.status !== 'ok') this.#log('warn', { flush: step }, `graceful: flush step "${step.name}" ${step.status}: ${step.error ?? ''}`)
    }
  }

  #checkConfiguration (): void {
    const options = this.#options
    const fromEnvironment = new Set(options.fromEnvironment.map(entry => entry.option))
    if (options.fromEnvironment.length > 0) {
      this.#log('info', { environment: Object.fromEntries(options.fromEnvironment.map(entry => [entry.variable, entry.value])) },
        `graceful: configured from the environment: ${options.fromEnvironment.map(entry => `${entry.option} from ${entry.variable}=${entry.value}`).join(', ')}`)
    }
    for (const name of SECONDS_SCALE) {
      // A variable carries its unit: what it says is what was meant.
      const mistake = fromEnvironment.has(name) ? undefined : unitsMistake(name, options[name])
      if (mistake !== undefined) this.#warn('units', name, { option: name, value: options[name] }, mistake)
    }
    for (const [name, message] of ineffectiveOptions(options)) this.#warn('ineffective-option', name, { option: name }, message)
  }

  #checkBudget (): void {
    if (this.#budgetWarned) return
    this.#budgetWarned = budgetWarning(this.#options, this.#hooks, (obj, msg) => { this.#log('warn', obj, msg) },
      { flushes: this.#flushes.steps, forceTimeout: this.#work.forces ? FORCE_TIMEOUT : 0 })
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

/** Creates a shutdown coordinator; see `GracefulOptions` for every option and its default. */
export function createGraceful (options?: GracefulOptions): Graceful {
  return new Graceful(options)
}
