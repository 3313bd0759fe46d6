import type { FastifyInstance, FastifyPluginCallback } from 'fastify'
import fp from 'fastify-plugin'
import { createGraceful, type Graceful, type GracefulOptions } from '@graceful/core'

export type { GracefulOptions, HookOptions, Phase, ShutdownHook, ShutdownReport } from '@graceful/core'
export { GracefulError, isGracefulError } from '@graceful/core'

/** The plugin's options: the core's, less `close` (the plugin closes through `fastify.close()`). */
export type GracefulPluginOptions = Omit<GracefulOptions, 'close'>

declare module 'fastify' {
  interface FastifyInstance {
    /** The shutdown coordinator: `onShutdown`, `shutdown()`, `state`, `signal`, `inFlight`. */
    graceful: Graceful
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
  core.attach(fastify.server)
  fastify.decorate('graceful', core)

  for (const path of [core.readinessPath, core.livenessPath]) {
    fastify.route({
      method: ['GET', 'HEAD'],
      url: path,
      logLevel: 'warn',
      handler: (request, reply) => {
        const response = core.healthFor(request.url)
        if (response === undefined) {
          reply.callNotFound()
          return reply
        }
        return reply.code(response.statusCode).headers(response.headers).send(response.body)
      }
    })
  }
  // An app closed directly with fastify.close() must not keep listening for signals.
  fastify.addHook('onClose', (_instance, next) => {
    core.dispose()
    next()
  })
  done()
}

/** `await fastify.register(gracefulPlugin, options)`; then `fastify.graceful` holds the controls. */
export const gracefulPlugin: FastifyPluginCallback<GracefulPluginOptions> = fp(plugin, {
  fastify: '5.x',
  name: '@graceful/fastify'
})

export default gracefulPlugin
