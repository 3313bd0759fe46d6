// A Koa service on the framework-free core: no adapter needed. Run it with `node examples/koa.mjs`, then Ctrl-C.
import Koa from 'koa'
import { createGraceful } from '@graceful/core'

// Stands in for your database pool (pg, mysql2, …): it must close after the last request that uses it.
const pool = { end: async () => {} }

const graceful = createGraceful({
  // The lame duck: GRACEFUL_PRE_STOP_DELAY (5s, say) in the environment, or on Kubernetes graceful's adaptive default.
  drainTimeout: 10_000
})
const app = new Koa()
app.use(async (ctx) => {
  // A request that takes a while, like a database query.
  await new Promise(resolve => setTimeout(resolve, Number(ctx.query.ms ?? 20)))
  ctx.body = 'hello\n'
})

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
})
// app.listen() returns the node:http server. Attached, it has its sockets followed and /healthz and /livez answered
// ahead of every Koa middleware; graceful owns SIGTERM and SIGINT.
graceful.attach(server)
graceful.onShutdown('db', () => pool.end(), { timeout: 2_000 }) // runs after the last response
