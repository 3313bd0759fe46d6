import type { Server as NetServer } from 'node:net'
import type { FastifyInstance, FastifyPluginCallback } from 'fastify'
import fp from 'fastify-plugin'
import { createGraceful, gracefulError, type Graceful, type GracefulOptions, type WebSocketServerLike } from '@graceful/core'

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

/** The plugin's options: the core's, less `close` (the plugin closes through `fastify.close()`). */
export type GracefulPluginOptions = Omit<GracefulOptions, 'close'>

declare module 'fastify' {
  interface FastifyInstance {
    /** The shutdown coordinator: `onShutdown`, `shutdown()`, `state`, `signal`, `inFlight`. */
    graceful: Graceful
  }
  interface FastifyRequest {
    /** Aborted when draining begins: a stream, long poll or server-sent event stream ends itself then. */
    readonly shutdownSignal: AbortSignal
    /** Aborted at the drain deadline, when it cuts this request: stop before the side effect (roll back, not COMMIT). */
    readonly deadlineSignal: AbortSignal
  }
}

// Fastify hands register()'s own options to the plugin too; they configure the registration, not graceful.
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers']

const plugin: FastifyPluginCallback<GracefulPluginOptions> = (fastify: FastifyInstance, options, done) => {
  // `fastify.register(gracefulPlugin(options))`: the plugin was called instead of handed over.
  if (typeof done !== 'function' || typeof (fastify as Partial<FastifyInstance> | undefined)?.decorate !== 'function') {
    throw gracefulError('GRACEFUL_ERR_NOT_CALLED',
      'gracefulPlugin is a Fastify plugin, not a factory: pass it with its options, `await fastify.register(gracefulPlugin, options)`.')
  }
  if (fastify.hasDecorator('graceful')) {
    done(gracefulError('GRACEFUL_ERR_ALREADY_REGISTERED'))
    return
  }
  // Inside an encapsulated or prefixed plugin its routes would answer under the prefix (/api/healthz) while the probes
  // answer at the root, and `fastify.graceful` would be missing at the root: a half-state no probe would reveal.
  if (Object.getPrototypeOf(fastify) !== Object.prototype || fastify.prefix !== '') {
    done(gracefulError('GRACEFUL_ERR_NOT_AT_ROOT', fastify.prefix === '' ? '' : ` (prefix ${fastify.prefix})`))
    return
  }
  const given: Record<string, unknown> = { ...options }
  for (const key of REGISTER_OPTIONS) Reflect.deleteProperty(given, key)
  // Fastify's own close, kept before the application's calls are routed through graceful below.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const fastifyClose = fastify.close as unknown as Close
  let core: Graceful
  try {
    core = createGraceful({
      logger: fastify.log,
      ...given,
      // After the drain, so that preClose and onClose hooks run as Fastify intends, on a server with no sockets left:
      // Fastify's own close waits for sockets that turn idle during it (fastify#7044); this one never has to.
      close: () => fastifyClose.call(fastify)
    })
  } catch (err) {
    // Through done(), so that `await fastify.register()` rejects with the GracefulError instead of an uncaught throw.
    done(err as Error)
    return
  }
  try {
    core.attach(fastify.server)
    fastify.decorate('graceful', core)
    // A getter on Fastify's Request prototype: nothing is set per request.
    fastify.decorateRequest('shutdownSignal', { getter: () => core.signal })
    fastify.decorateRequest('deadlineSignal', { getter: () => core.deadlineSignal })
    // Requests on the attached servers never reach these routes: the core answers probes ahead of Fastify (no
    // onRequest hook, auth or rate limit can fail them). The routes serve inject() and show up in printRoutes().
    for (const path of [core.readinessPath, core.livenessPath]) {
      // Every method, as on a socket: GET and HEAD answer, the others get the same 405 with `Allow`.
      fastify.all(path, { logLevel: 'warn' }, async (request, reply) => {
        const response = await core.healthFor(request.url, request.method)
        if (response === undefined) {
          reply.callNotFound()
          return reply
        }
        return reply.code(response.statusCode).headers(response.headers).send(response.body)
      })
    }
  } catch (err) {
    // A duplicate /healthz route: leave nothing behind that a later signal would act on.
    core.dispose()
    done(err as Error)
    return
  }
  followInjections(fastify, core)
  // @fastify/websocket's server, registered before or after this plugin, is found at onReady. listen({ host:
  // 'localhost' }) binds 127.0.0.1 and ::1 with a server each: the second, only in Fastify's bindings list, would
  // keep its listener open and its requests uncounted unless attached.
  let started = false
  fastify.addHook('onReady', (next) => {
    started = true
    const webSocketServer = (fastify as FastifyInstance & { websocketServer?: WebSocketServerLike }).websocketServer
    if (webSocketServer !== undefined) core.trackWebSockets(webSocketServer)
    next()
  })
  fastify.addHook('onListen', (next) => {
    for (const server of secondaryServers(fastify)) core.attach(server)
    next()
  })
  // The application's own fastify.close() (a test's teardown, close-with-grace, NestJS) joins the shutdown: left alone,
  // Fastify answers 503 from the moment close() starts and its server close refuses what balancers still route here.
  // Joined, the lame duck serves and the drain runs, then Fastify's own close; the caller settles after the hooks.
  const joinedClose = function (this: FastifyInstance, callback?: (err?: Error) => void): unknown {
    // Closed before it was ever ready, Fastify runs no hook of its own: nothing to drain, nothing to run.
    const joined = started ? core.closeFromApp('fastify.close()') : undefined
    if (joined === undefined) return fastifyClose.call(this, callback)
    if (typeof callback !== 'function') return joined
    joined.then(() => { callback() }, callback)
    return this
  }
  ;(fastify as unknown as { close: Close }).close = joinedClose
  fastify.addHook('onClose', (_instance, next) => {
    // Closed while graceful was not shutting down (it never listened): it must not keep listening for signals.
    if (core.state === 'running') core.dispose()
    next()
  })
  done()
}

type Close = (this: FastifyInstance, callback?: (err?: Error) => void) => unknown

type Inject = (this: FastifyInstance, options?: unknown, callback?: unknown) => unknown

// inject() requests reach Fastify without a socket, so the probe routes never see them: each is followed from its
// dispatch to its response, so that the drain waits for it. Only inject() is wrapped: sockets pay nothing for it.
function followInjections (fastify: FastifyInstance, core: Graceful): void {
  // Read, not called: it is applied below with the instance as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const inject = fastify.inject as unknown as Inject
  const follow = (option: unknown): (() => void) => {
    const given = typeof option === 'string' ? { url: option } : (option ?? {}) as { method?: unknown, url?: unknown, path?: unknown }
    const url = typeof given.url === 'string' ? given.url : typeof given.path === 'string' ? given.path : '/'
    return core.followSocketless(typeof given.method === 'string' ? given.method.toUpperCase() : 'GET', `${url} (inject)`)
  }
  const wrapped = function (this: FastifyInstance, options?: unknown, callback?: unknown): unknown {
    if (typeof callback === 'function') {
      const end = follow(options)
      return inject.call(this, options, (err: unknown, response: unknown) => {
        end()
        ;(callback as (err: unknown, response: unknown) => void)(err, response)
      })
    }
    const result = inject.call(this, options)
    if (typeof result !== 'object' || result === null || typeof (result as { end?: unknown }).end !== 'function') return result
    // light-my-request's chain: the request starts when the chain ends (explicitly, when awaited, or on the next tick).
    const chain = result as Record<string, unknown> & { option?: unknown, _promise?: Promise<unknown> | null }
    let started = false
    for (const method of ['end', 'then', 'catch', 'finally']) {
      const original = chain[method] as (...args: unknown[]) => unknown
      chain[method] = function (this: typeof chain, ...args: unknown[]): unknown {
        if (started) return original.apply(this, args)
        started = true
        const end = follow(this.option)
        if (method === 'end' && typeof args[0] === 'function') {
          const given = args[0] as (err: unknown, response: unknown) => void
          args[0] = (err: unknown, response: unknown) => {
            end()
            given(err, response)
          }
          return original.apply(this, args)
        }
        const returned = original.apply(this, args)
        const promise = this._promise
        if (promise !== null && promise !== undefined) promise.then(end, end)
        else end()
        return returned
      }
    }
    return chain
  }
  ;(fastify as unknown as { inject: Inject }).inject = wrapped
}

/** Fastify's extra servers for a multi-address host, from its internal bindings list (empty if that ever moves). */
function secondaryServers (fastify: FastifyInstance): NetServer[] {
  // An encapsulated instance inherits the list from the root through its prototype chain.
  for (let holder: object | null = fastify; holder !== null; holder = Object.getPrototypeOf(holder) as object | null) {
    const key = Object.getOwnPropertySymbols(holder).find(symbol => symbol.description === 'fastify.serverBindings')
    if (key === undefined) continue
    const bindings = (holder as Record<symbol, unknown>)[key]
    return Array.isArray(bindings) ? bindings.filter((server): server is NetServer => server !== fastify.server) : []
  }
  return []
}

/** `await fastify.register(gracefulPlugin, options)`; then `fastify.graceful` holds the controls. */
export const gracefulPlugin: FastifyPluginCallback<GracefulPluginOptions> = fp(plugin, {
  fastify: '5.x',
  name: '@graceful/fastify'
})

export default gracefulPlugin
