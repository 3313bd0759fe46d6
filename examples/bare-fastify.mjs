// The same Fastify service without graceful, closing the way Fastify's documentation shows: fastify.close() on
// SIGTERM. The demo runs it next to examples/fastify.mjs to show what is lost.
import Fastify from 'fastify'

const port = Number(process.env.PORT ?? 3000)
const fastify = Fastify({ logger: false })
fastify.get('/', async (request) => {
  await new Promise(resolve => setTimeout(resolve, Number(request.query.ms ?? 20)))
  return 'hello\n'
})
process.once('SIGTERM', () => {
  fastify.close().then(() => process.exit(0), () => process.exit(1))
})
await fastify.listen({ port, host: '127.0.0.1' })
console.log(JSON.stringify({ msg: 'listening', port: fastify.server.address().port, pid: process.pid }))
