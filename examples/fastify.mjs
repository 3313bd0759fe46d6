// A Fastify service with graceful: `node examples/fastify.mjs`, then Ctrl-C (or `kill -TERM <pid>`).
import Fastify from 'fastify'
import { gracefulPlugin } from '@graceful/fastify'

const port = Number(process.env.PORT ?? 3000)
const fastify = Fastify({ logger: process.env.LOG !== 'false', disableRequestLogging: process.env.REQUEST_LOG !== 'true' })
await fastify.register(gracefulPlugin, {
  preStopDelay: Number(process.env.PRE_STOP_DELAY ?? 0),
  drainTimeout: 10_000
})
fastify.get('/', async (request) => {
  // A request that takes a while, like a database query.
  await new Promise(resolve => setTimeout(resolve, Number(request.query.ms ?? 20)))
  return 'hello\n'
})
fastify.graceful.onShutdown('pool', async () => {
  // Close the database pool here: it runs after the drain and after Fastify's own onClose hooks.
}, { timeout: 2_000 })
fastify.addHook('onClose', async () => {
  // Fastify's onClose hooks run after the drain too.
})
await fastify.listen({ port, host: '127.0.0.1' })
console.log(JSON.stringify({ msg: 'listening', port: fastify.server.address().port, pid: process.pid }))
