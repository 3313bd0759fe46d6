import type { Server as NetServer } from 'node:net'
import type { FastifyInstance, FastifyPluginCallback } from 'fastify'
import fp from 'fastify-plugin'
import { createGraceful, type Graceful, type GracefulOptions, type WebSocketServerLike } from '@graceful/core'

export type {
  EventStreamEnd,
  GracefulOptions,
  HookOptions,
  Phase,
  ReadinessCheck,
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
  }
}

// Fastify hands register()'s own options to the plugin too; they configure the registration, not graceful.
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers']

const plugin: FastifyPluginCallback<GracefulPluginOptions> = (fastify: FastifyInstance, options, done) => {
  const given: Record<string, unknown> = { ...options }
  for (const key of REGISTER_OPTIONS) Reflect.deleteProperty(given, key)
  let core: Graceful
  try {
    core = createGraceful({
      logger: fastify.log,
      ...given,
      // After the drain, so that preClose and onClose hooks run as Fastify intends, on a server with no sockets left:
      // Fastify's own close waits for sockets that turn idle during it (fastify#7044); this one never has to.
      close: () => fastify.close()
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
    // A duplicate /healthz route or a second registration: leave nothing behind that a later signal would act on.
    core.dispose()
    done(err as Error)
    return
  }
  // listen({ host: 'localhost' }) binds 127.0.0.1 and ::1 with one server each; the second is only reachable
  // through Fastify's bindings list. Unattached, it would keep its listener open and its requests uncounted.
  // @fastify/websocket's server, when it is registered (before or after this plugin): its WebSockets are closed with
  // 1001 when draining begins.
  fastify.addHook('onReady', (next) => {
    const webSocketServer = (fastify as FastifyInstance & { websocketServer?: WebSocketServerLike }).websocketServer
    if (webSocketServer !== undefined) core.trackWebSockets(webSocketServer)
    next()
  })
  fastify.addHook('onListen', (next) => {
    for (const server of secondaryServers(fastify)) core.attach(server)
    next()
  })
  // An app closed directly with fastify.close() must not keep listening for signals.
  fastify.addHook('onClose', (_instance, next) => {
    core.dispose()
    next()
  })
  done()
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
