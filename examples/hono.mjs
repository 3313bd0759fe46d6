// A Hono service (@hono/node-server) on the framework-free core: no adapter needed. Run it with
// `node examples/hono.mjs`, then Ctrl-C.
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { createGraceful } from '@graceful/core'

// Stands in for your database pool (pg, mysql2, …): it must close after the last request that uses it.
const pool = { end: async () => {} }

const graceful = createGraceful({
  // The lame duck: GRACEFUL_PRE_STOP_DELAY (5s, say) in the environment, or on Kubernetes graceful's adaptive default.
  drainTimeout: 10_000
})
const app = new Hono()
app.get('/', async (c) => {
  // A request that takes a while, like a database query.
  await new Promise(resolve => setTimeout(resolve, Number(c.req.query('ms') ?? 20)))
  return c.text('hello\n')
})

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`)
})
// serve() returns the node:http server. Attached, it has its sockets followed and /healthz and /livez answered ahead
// of Hono; graceful owns SIGTERM and SIGINT, in place of `server.close(); process.exit(0)`, which drops every request
// in flight.
graceful.attach(server)
graceful.onShutdown('db', () => pool.end(), { timeout: 2_000 }) // runs after the last response
