// Long-lived work in an Express service: a server-sent event stream, a long poll and WebSockets, each ended when
// draining begins, its client sent to another instance. Run it with `node examples/long-lived-express.mjs`, open
// http://127.0.0.1:3000/events, then press Ctrl-C (or send it SIGTERM).
import { EventEmitter, once } from 'node:events'
import express from 'express'
import { WebSocketServer } from 'ws'
import { endEventStream, graceful } from '@graceful/express'

const shutdown = graceful({ drainTimeout: 10_000 })
const app = express()
app.use(shutdown)

app.get('/events', (req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
  res.flushHeaders() // EventSource reports the stream open now, not at the first event
  const timer = setInterval(() => res.write('data: tick\n\n'), 1_000)
  const end = () => {
    clearInterval(timer)
    // EventSource reconnects after `retry` ms: by then the load balancer routes elsewhere.
    endEventStream(res, { retry: 2_000, event: 'shutdown', data: 'reconnect' })
  }
  // A client that reconnects while this instance drains (on a keep-alive socket still open) is sent away at once.
  if (req.shutdownSignal.aborted) return end()
  req.shutdownSignal.addEventListener('abort', end, { once: true })
  res.on('close', () => {
    clearInterval(timer)
    req.shutdownSignal.removeEventListener('abort', end)
  })
})

const messages = new EventEmitter() // stands in for your queue or pub/sub
app.get('/poll', async (req, res) => {
  try {
    const signal = AbortSignal.any([req.shutdownSignal, AbortSignal.timeout(25_000)])
    const [message] = await once(messages, 'message', { signal })
    res.json(message)
  } catch {
    // Draining (or nothing came): the client polls again, and its next poll goes to another instance.
    res.status(204).end()
  }
})

const server = shutdown.attach(app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
}))
// Closed with 1001 (Going Away) when draining begins; clients reconnect, to another instance.
const wss = new WebSocketServer({ server, path: '/ws' })
shutdown.trackWebSockets(wss)
wss.on('connection', (socket) => socket.send('hello'))
