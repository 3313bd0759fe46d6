// A Fastify service with graceful. Run it with `node examples/fastify.mjs`, then press Ctrl-C (or send it SIGTERM).
import Fastify from 'fastify'
import { gracefulPlugin } from '@graceful/fastify'

// Stands in for your database pool (pg, mysql2, …): it must close after the last request that uses it.
const pool = { end: async () => {} }

const fastify = Fastify({ logger: true })
await fastify.register(gracefulPlugin, {
  // The lame duck: GRACEFUL_PRE_STOP_DELAY (5s, say) in the environment, or on Kubernetes graceful's adaptive default.
  drainTimeout: 10_000
})
fastify.get('/', async (request) => {
  // A request that takes a while, like a database query.
  await new Promise(resolve => setTimeout(resolve, Number(request.query.ms ?? 20)))
  return 'hello\n'
})
// An order: a POST with a JSON body, which no client or balancer may send twice.
fastify.post('/orders', async (request, reply) => {
  await new Promise(resolve => setTimeout(resolve, Number(request.query.ms ?? 20)))
  reply.code(201)
  return { id: request.body?.id ?? null }
})
fastify.addHook('onClose', async () => {
  // Fastify's own onClose hooks run after the drain, on a server with no connection left.
})
fastify.graceful.onShutdown('db', () => pool.end(), { timeout: 2_000 }) // runs after onClose

await fastify.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })

