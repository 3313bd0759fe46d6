// A plain node:http service with the framework-free core. Run it with `node examples/node-http.mjs`, then Ctrl-C.
import { createServer } from 'node:http'
import { createGraceful } from '@graceful/core'

// Stands in for your database pool (pg, mysql2, …): it must close after the last request that uses it.
const pool = { end: async () => {} }

const g = createGraceful({ drainTimeout: 10_000 })
const server = createServer((req, res) => {
  const ms = Number(new URL(req.url, 'http://localhost').searchParams.get('ms') ?? 20)
  setTimeout(() => res.end('hello\n'), ms) // a request that takes a while, like a database query
})
// Before any traffic: every socket is followed from its first byte, and /healthz and /livez are answered before this
// handler runs (it never sees them).
g.attach(server)
g.onShutdown('db', () => pool.end(), { timeout: 2_000 }) // runs after the last response

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
})
