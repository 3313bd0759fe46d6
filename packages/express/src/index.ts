import { IncomingMessage, type ServerResponse } from 'node:http'
import type { Server as NetServer } from 'node:net'
import {
  Graceful,
  gracefulError,
  type GracefulEventName,
  type GracefulListener,
  type GracefulOptions,
  type HookOptions,
  type Phase,
  type ShutdownHook,
  type ShutdownReport,
  type WebSocketServerLike
} from '@graceful/core'

export type {
  EventStreamEnd,
  GracefulOptions,
  HookOptions,
  Phase,
  ReadinessCheck,
  ShutdownContext,
  ShutdownHook,
  ShutdownReport,
  WebSocketServerLike
} from '@graceful/core'
export { endEventStream, GracefulError, isGracefulError } from '@graceful/core'

declare global {
  // Express's own types merge this namespace into its Request (@types/express-serve-static-core).
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Aborted when draining begins: a stream, long poll or server-sent event stream ends itself then. */
      readonly shutdownSignal: AbortSignal
      /** Aborted at the drain deadline if it cuts this request: stop before the side effect (roll back, not COMMIT). */
      readonly deadlineSignal: AbortSignal
    }
  }
}

/** Express middleware that serves the health routes and tracks requests, with the shutdown controls on it. */
export interface GracefulMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void
  /** Tracks the server's sockets from now on: `shutdown.attach(app.listen(3000))`. Returns the server. */
  attach: <S extends NetServer>(server: S) => S
  /** Closes the `ws` server's WebSockets with 1001 (Going Away) when draining begins. */
  trackWebSockets: (server: WebSocketServerLike) => GracefulMiddleware
  /** Registers a cleanup step, run after the drain, last registered first, bounded by its timeout. */
  onShutdown: (name: string, fn: ShutdownHook, options?: HookOptions) => GracefulMiddleware
  /** With `startup: 'manual'`: the app is ready, readiness may answer 200 from now on. */
  ready: () => GracefulMiddleware
  /** Starts the shutdown (or returns the one under way), resolved with the report. */
  shutdown: () => Promise<ShutdownReport>
  /** Where the shutdown stands. */
  readonly state: Phase
  /** Aborted when draining begins: long-lived work should end then. */
  readonly signal: AbortSignal
  /** Aborted at the drain deadline, when it cuts requests still running: their work should stop before committing. */
  readonly deadlineSignal: AbortSignal
  /** Requests in flight right now. */
  readonly inFlight: number
  /** Sockets open right now on the attached servers. */
  readonly openSockets: number
  /** Listens to a lifecycle event (`shutdown:start`, `phase`, `hook:start`, `hook:end`, `shutdown:end`). */
  on: <E extends GracefulEventName>(event: E, listener: GracefulListener<E>) => GracefulMiddleware
  /** Removes a listener added with `on()`. */
  off: <E extends GracefulEventName>(event: E, listener: GracefulListener<E>) => GracefulMiddleware
  /** The core instance, for everything else. */
  readonly graceful: Graceful
}

/** What graceful reads of an Express app (4 or 5): its request prototype, its settings and its router's routes. */
interface ExpressApp {
  request: object
  enabled: (setting: string) => boolean
  lazyrouter?: () => void
  _router?: { stack?: unknown[] }
  router?: { stack?: unknown[] }
}

function isExpressApp (value: unknown): value is ExpressApp {
  return typeof value === 'function' && typeof (value as Partial<ExpressApp>).enabled === 'function' &&
    typeof (value as Partial<ExpressApp>).request === 'object'
}

// Probe paths follow the app's routing settings, and an app route on a probe path (never reached) is named in a
// warning. Read when the app is first seen: its routes are declared by then.
function followRouting (core: Graceful, app: ExpressApp): void {
  core.setProbeRouting({ caseSensitive: app.enabled('case sensitive routing'), strict: app.enabled('strict routing') })
  // Express 4 keeps its router in _router (and app.router throws there); Express 5 in the router getter.
  const router = typeof app.lazyrouter === 'function' ? app._router : app.router
  for (const layer of router?.stack ?? []) {
    const path = (layer as { route?: { path?: unknown } }).route?.path
    if (typeof path !== 'string' || !core.isProbePath(path)) continue
    core.warnUsage('shadowed-route', path, { path },
      `graceful: the app's route ${path} is never reached: graceful answers it ahead of Express (readinessPath ` +
      `${core.readinessPath}, livenessPath ${core.livenessPath}); move the route, or give graceful other paths`)
  }
}

/**
 * `const shutdown = graceful()`, then `shutdown.attach(app.listen(port))`: attach alone answers the probes ahead of
 * Express and follows the sockets. `app.use(shutdown)` (first) is for a server that is never attached: then the
 * middleware answers the probes and attaches the server on its first request. See `GracefulOptions` for every option.
 */
export function graceful (options?: GracefulOptions): GracefulMiddleware {
  // `app.use(graceful)`: Express calls the factory with each request. Said at once, on the first request.
  if (options instanceof IncomingMessage) {
    throw gracefulError('GRACEFUL_ERR_NOT_CALLED',
      'graceful is a factory: call it, `const shutdown = graceful(options)`, then `app.use(shutdown)` or `shutdown.attach(server)`; ' +
      'it was passed to app.use() uncalled.')
  }
  // Probe paths match as Express's router matches a route by default: case-insensitive, with or without a trailing
  // slash, so that no variant of /healthz reaches the application while the probe says something else.
  const core = new Graceful(options, { caseSensitive: false, strict: false })
  // `req.shutdownSignal` is a getter defined once on the app's own request prototype (app.request): a request costs
  // nothing for it. Never on node:http's IncomingMessage.prototype, which every server and instance shares.
  let withSignal: object | null = null
  const seen = new WeakSet<object>()
  const adopt = (app: ExpressApp): void => {
    const prototype = app.request
    withSignal = prototype
    if (seen.has(app)) return
    seen.add(app)
    if (prototype instanceof IncomingMessage && !Object.hasOwn(prototype, 'shutdownSignal')) {
      Object.defineProperty(prototype, 'shutdownSignal', { get: (): AbortSignal => core.signal, configurable: true })
      Object.defineProperty(prototype, 'deadlineSignal', { get: (): AbortSignal => core.deadlineSignal, configurable: true })
    }
    followRouting(core, app)
  }
  const middleware = function gracefulMiddleware (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    if (Object.getPrototypeOf(req) !== withSignal) {
      const app = (req as IncomingMessage & { app?: unknown }).app
      if (isExpressApp(app)) adopt(app)
    }
    if (!core.handle(req, res)) next()
  } as GracefulMiddleware
  Object.defineProperties(middleware, {
    attach: {
      value: <S extends NetServer>(server: S): S => {
        core.attach(server)
        // Without the middleware, the app is found as the server's request listener (app.listen, createServer(app)).
        for (const listener of server.listeners('request')) if (isExpressApp(listener)) adopt(listener)
        return server
      }
    },
    trackWebSockets: {
      value: (server: WebSocketServerLike): GracefulMiddleware => {
        core.trackWebSockets(server)
        return middleware
      }
    },
    onShutdown: {
      value: (name: string, fn: ShutdownHook, hookOptions?: HookOptions): GracefulMiddleware => {
        core.onShutdown(name, fn, hookOptions)
        return middleware
      }
    },
    ready: {
      value: (): GracefulMiddleware => {
        core.ready()
        return middleware
      }
    },
    shutdown: { value: (): Promise<ShutdownReport> => core.shutdown() },
    state: { get: (): Phase => core.state, enumerable: true },
    signal: { get: (): AbortSignal => core.signal, enumerable: true },
    deadlineSignal: { get: (): AbortSignal => core.deadlineSignal, enumerable: true },
    inFlight: { get: (): number => core.inFlight, enumerable: true },
    openSockets: { get: (): number => core.openSockets, enumerable: true },
    on: {
      value: <E extends GracefulEventName>(event: E, listener: GracefulListener<E>): GracefulMiddleware => {
        core.on(event, listener)
        return middleware
      }
    },
    off: {
      value: <E extends GracefulEventName>(event: E, listener: GracefulListener<E>): GracefulMiddleware => {
        core.off(event, listener)
        return middleware
      }
    },
    graceful: { value: core }
  })
  return middleware
}
