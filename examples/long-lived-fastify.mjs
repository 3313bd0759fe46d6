// Long-lived work in a Fastify service: a server-sent event stream and WebSockets, each ended when draining begins,
// its client sent to another instance. Run it with `node examples/long-lived-fastify.mjs`, open
// http://127.0.0.1:3000/events, then press Ctrl-C (or send it SIGTERM).
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import { endEventStream, gracefulPlugin } from '@graceful/fastify'

const fastify = Fastify({ logger: true })
await fastify.register(gracefulPlugin, { drainTimeout: 10_000 })
// Its WebSockets are closed with 1001 (Going Away) when draining begins: the plugin finds them by itself.
await fastify.register(websocket)

fastify.get('/events', (request, reply) => {
  reply.hijack()
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
  reply.raw.flushHeaders() // EventSource reports the stream open now, not at the first event
  const signal = request.shutdownSignal
  const timer = setInterval(() => reply.raw.write('data: tick\n\n'), 1_000)
  const end = () => {
    clearInterval(timer)
    // EventSource reconnects after `retry` ms: by then the load balancer routes elsewhere.
    endEventStream(reply.raw, { retry: 2_000, event: 'shutdown', data: 'reconnect' })
  }
  if (signal.aborted) return end()
  signal.addEventListener('abort', end, { once: true })
  reply.raw.on('close', () => {
    clearInterval(timer)
    signal.removeEventListener('abort', end)
  })
})

fastify.get('/ws', { websocket: true }, (socket) => socket.send('hello'))

await fastify.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
