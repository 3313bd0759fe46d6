// A plain node:http service with the framework-free core: `node examples/node-http.mjs`, then Ctrl-C.
import { createServer } from 'node:http'
import { createGraceful } from '@graceful/core'

const port = Number(process.env.PORT ?? 3000)
const g = createGraceful({ preStopDelay: Number(process.env.PRE_STOP_DELAY ?? 0), drainTimeout: 10_000 })

const server = createServer((req, res) => {
  if (g.handle(req, res)) return // /healthz and /livez
  const ms = Number(new URL(req.url, 'http://localhost').searchParams.get('ms') ?? 20)
  setTimeout(() => res.end('hello\n'), ms)
})
g.attach(server)
g.onShutdown('pool', async () => {
  // Close the database pool here: it runs after the last in-flight response ended.
}, { timeout: 2_000 })
server.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: server.address().port, pid: process.pid }))
})
