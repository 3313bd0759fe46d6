// The facade: the public API over an instance's parts (assemble.ts).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Server as NetServer } from 'node:net'
import { assemble, type Parts } from './assemble.js'
import { checkedServer } from './connections/connections.js'
import { inFlight } from './shutdown/drain.js'
import type { GracefulEventName, GracefulListener } from './report/events.js'
import { checkedStep, type HookOptions, type ShutdownHook } from './shutdown/hooks.js'
import type { GracefulOptions } from './options/options.js'
import { METHOD_NOT_ALLOWED, NOT_A_PROBE, probeMatcher, type ProbeRouting } from './serving/probe-routes.js'
import type { HealthResponse } from './serving/readiness.js'
import type { Phase, ShutdownReport } from './report/report.js'
import { claimServer } from './serving/server-claims.js'
import { unitsMistake, type WarningName } from './process/warnings.js'
import type { WebSocketServerLike } from './connections/web-sockets.js'
import type { WorkSource } from './shutdown/work.js'

const EXACT: ProbeRouting = { caseSensitive: true, strict: true }

/** One shutdown coordinator: the servers it drains, its hooks, and the sequence that a signal or `shutdown()` runs. */
export class Graceful {
  readonly #parts: Parts<Graceful>

  /** Prefer `createGraceful(options)`. `routing` (adapters): how the framework's router matches paths. */
  constructor (options?: GracefulOptions, routing: ProbeRouting = EXACT) {
    this.#parts = assemble(this, options, routing)
  }

  /** Where the instance is in the shutdown sequence. */
  get state (): Phase { return this.#parts.sequence.phase }

  /** Aborted when draining begins (not in the lame duck, when clients would reconnect here): end long polls then. */
  get signal (): AbortSignal { return this.#parts.draining.signal }

  /**
   * Aborted at the drain deadline, before the sockets still open are destroyed: a handler still running can stop
   * before its side effect (roll back, not COMMIT), as with a Go request context. Never aborted by a drain that ends in
   * time. Per request: `req.deadlineSignal` (Express), `request.deadlineSignal` (Fastify).
   */
  get deadlineSignal (): AbortSignal { return this.#parts.deadline.signal }

  /** Requests in flight over every attached server (read from Node's state), plus the work sources' running work. */
  get inFlight (): number { return inFlight(this.#parts.connections, this.#parts.routes.match) + this.#parts.work.inFlight }

  /** Of `inFlight`, the work the work sources are running (what their `running()` lists). */
  get workInFlight (): number { return this.#parts.work.inFlight }

  /** Sockets open right now, over every attached server. */
  get openSockets (): number { return this.#parts.connections.all.size }

  get readinessPath (): string { return this.#parts.options.readinessPath }

  get livenessPath (): string { return this.#parts.options.livenessPath }

  get signals (): readonly NodeJS.Signals[] { return this.#parts.options.signals }

  /** The `exit` option; false for a shutdown the application started by closing itself (a direct `fastify.close()`). */
  get exit (): boolean { return this.#parts.lifecycle.exit }

  /** With `startup: 'manual'`, false until `ready()`; true otherwise. */
  get started (): boolean { return this.#parts.readiness.started }

  /** True from the start of the shutdown until its report is out (and the flush steps have run). */
  get busy (): boolean { return this.#parts.lifecycle.busy }

  /**
   * Listens to a lifecycle event (`shutdown:start`, `phase`, `hook:start`, `hook:end`, `work:stop`, `work:end`,
   * `shutdown:end`; payloads as on the `graceful:*` diagnostics channels). One that throws is logged and ignored.
   */
  on<E extends GracefulEventName>(event: E, listener: GracefulListener<E, Graceful>): this {
    this.#parts.events.on(event, listener)
    return this
  }

  /** Removes a listener added with `on()`. */
  off<E extends GracefulEventName>(event: E, listener: GracefulListener<E, Graceful>): this {
    this.#parts.events.off(event, listener)
    return this
  }

  /** With `startup: 'manual'`: ready for traffic, readiness may answer 200 from now on (once caches are warm). */
  ready (): this {
    this.#parts.readiness.ready()
    return this
  }

  /**
   * Follows the server's sockets and answers the probes ahead of its application: call it right after creating or
   * listening the server (a socket opened earlier is known only from its next request). node:http, https and http2
   * servers (HTTP/2 sessions get GOAWAY when draining begins). Idempotent.
   */
  attach (server: NetServer): this {
    const { connections, routes, appCloses, late, sequence } = this.#parts
    checkedServer(server)
    late.attached()
    // A preload's instance holding this server steps aside: this one knows the application's hooks and options.
    claimServer(server, this)
    if (connections.attach(server)) {
      routes.install(server)
      appCloses.install(server)
    }
    sequence.drain?.closeListener(server)
    return this
  }

  /**
   * Closes a `ws` server's WebSockets with 1001 when draining begins (later ones at once); the deadline ends any that
   * never close. Never in flight, and readiness ignores them. The Fastify plugin tracks its own. Idempotent.
   */
  trackWebSockets (server: WebSocketServerLike): this {
    this.#parts.webSockets.track(server)
    return this
  }

  /**
   * Registers a cleanup step. Hooks run after the drain, last registered first (a pool registered first closes last),
   * each bounded by its timeout; one that throws, rejects or hangs is reported and the others still run.
   */
  onShutdown (name: string, fn: ShutdownHook, options?: HookOptions): this {
    const { hooks, sequence, warn } = this.#parts
    const late = sequence.phase === 'cleanup' || sequence.phase === 'stopped' ? sequence.phase : undefined
    const hook = checkedStep('onShutdown', name, fn, options, this.#parts.options.hookTimeout, hooks, late)
    hooks.push(hook)
    const mistake = unitsMistake(`onShutdown("${name}").timeout`, options?.timeout)
    if (mistake !== undefined) warn('units', `hook:${name}`, { hook: name, timeout: hook.timeout }, mistake)
    this.#parts.checkBudget()
    return this
  }

  /** Registers a work source (a queue consumer, a scheduler): stopped at its `stopAt`, drained under the deadline. */
  addWorkSource (name: string, source: WorkSource): this {
    const phase = this.#parts.sequence.phase
    this.#parts.work.add(name, source, phase === 'cleanup' || phase === 'stopped')
    this.#parts.checkBudget()
    return this
  }

  /** Registers a flush step (telemetry, log transports): after the hooks and the report, last first, each bounded. */
  onFlush (name: string, fn: ShutdownHook, options?: HookOptions): this {
    this.#parts.flushes.add(name, fn, options, this.#parts.options.hookTimeout)
    this.#parts.checkBudget()
    return this
  }

  /** The per-request entry for a handler: answers the probes on a server never attached (attaching it); true if so. */
  handle (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean {
    return this.#parts.late.handle(req as IncomingMessage, res as ServerResponse)
  }

  /** The health response for a probe URL (a promise while checks run; 405 unless GET or HEAD), or undefined. */
  healthFor (url: string, method?: string): HealthResponse | Promise<HealthResponse> | undefined {
    const kind = this.#parts.routes.match(url)
    if (kind === NOT_A_PROBE) return undefined
    if (method !== undefined && method !== 'GET' && method !== 'HEAD') return { ...METHOD_NOT_ALLOWED, headers: { ...METHOD_NOT_ALLOWED.headers } }
    return this.#parts.routes.health(kind)
  }

  /** Starts the shutdown (or returns the one under way): the same promise every time, resolved with the report. */
  shutdown (): Promise<ShutdownReport> { return this.#parts.lifecycle.start('shutdown()') }

  /** Lets go of signals and servers without shutting down; does nothing once a shutdown has begun. */
  dispose (): void {
    const { sequence, connections, routes, appCloses, late, lifecycle } = this.#parts
    if (sequence.phase !== 'running') return
    connections.detach()
    routes.uninstall()
    appCloses.uninstall()
    late.detached()
    lifecycle.dispose()
  }

  /** @internal The application closes itself (`fastify.close()`): the same sequence, leaving the process alone. */
  shutdownFromApp (reason: string): Promise<ShutdownReport> { return this.#parts.lifecycle.fromApp(reason) }

  /** @internal Starts the shutdown (or returns the one under way) giving `reason` for it, as a signal would. */
  shutdownFor (reason: string): Promise<ShutdownReport> { return this.#parts.lifecycle.start(reason) }

  /** @internal A framework's own close, called by the application: settles once the shutdown it joins is over. */
  closeFromApp (reason: string): Promise<void> | undefined { return this.#parts.appCloses.join(reason) }

  /** @internal Follows a request without a socket (Fastify's `inject()`) until the function returned is called. */
  followSocketless (method: string, path: string): () => void { return this.#parts.connections.followSocketless(method, path) }

  /** @internal How the application's router matches paths, learnt by an adapter once it sees the application. */
  setProbeRouting (routing: ProbeRouting): void {
    this.#parts.routes.match = probeMatcher(this.#parts.options.readinessPath, this.#parts.options.livenessPath, routing)
  }

  /** @internal A warning about how this instance is used, once per subject (adapters: a route graceful shadows). */
  warnUsage (name: WarningName, subject: string, obj: object, msg: string): void { this.#parts.warn(name, subject, obj, msg) }

  /** @internal True when `path` is a probe path as the application's router matches it. */
  isProbePath (path: string): boolean { return this.#parts.routes.match(path) !== NOT_A_PROBE }
}

/** Creates a shutdown coordinator; see `GracefulOptions` for every option and its default. */
export function createGraceful (options?: GracefulOptions): Graceful {
  return new Graceful(options)
}
