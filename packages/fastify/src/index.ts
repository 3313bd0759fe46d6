import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
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

const plugin: FastifyPluginAsync<GracefulPluginOptions> = async (fastify: FastifyInstance, options) => {
  const core = createGraceful({
    logger: fastify.log,
    ...options,
    // After the drain, so that preClose and onClose hooks run as Fastify intends, on a server with no sockets left:
    // Fastify's own close waits for keep-alive sockets that turn idle during it (fastify#7044); this one never has to.
    close: () => fastify.close()
  })
  core.attach(fastify.server)
  fastify.decorate('graceful', core)

  for (const path of [core.readinessPath, core.livenessPath]) {
    fastify.route({
      method: ['GET', 'HEAD'],
      url: path,
      logLevel: 'warn',
      handler: async (request, reply) => {
        const response = core.healthFor(request.url)
        if (response === undefined) return await reply.callNotFound()
        return await reply.code(response.statusCode).headers(response.headers).send(response.body)
      }
    })
  }
  // An app closed directly with fastify.close() must not keep listening for signals.
  fastify.addHook('onClose', async () => { core.dispose() })
}

/** `await fastify.register(gracefulPlugin, options)`; then `fastify.graceful` holds the controls. */
export const gracefulPlugin: FastifyPluginAsync<GracefulPluginOptions> = fp(plugin, {
  fastify: '5.x',
  name: '@graceful/fastify'
})

export default gracefulPlugin
