// The same Fastify service without graceful. `pnpm demo` runs it next to examples/fastify.mjs to show what is lost:
// with ON_SIGTERM=close it closes the way Fastify's documentation shows, fastify.close() on SIGTERM; without, SIGTERM
// ends the process on the spot.
import Fastify from 'fastify'

const fastify = Fastify({ logger: false })
fastify.get('/', async (request) => {
  await new Promise(resolve => setTimeout(resolve, Number(request.query.ms ?? 20)))
  return 'hello\n'
})
// An order: a POST with a JSON body, which no client or balancer may send twice.
fastify.post('/orders', async (request, reply) => {
  await new Promise(resolve => setTimeout(resolve, Number(request.query.ms ?? 20)))
  reply.code(201)
  return { id: request.body?.id ?? null }
})
if (process.env.ON_SIGTERM === 'close') {
  process.once('SIGTERM', () => {
    fastify.close().then(() => process.exit(0), () => process.exit(1))
  })
}
await fastify.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
console.log(`listening on http://127.0.0.1:${fastify.server.address().port}`)
