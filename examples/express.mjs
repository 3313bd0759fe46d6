// An Express service with graceful. Run it with `node examples/express.mjs`, then press Ctrl-C (or send it SIGTERM).
import express from 'express'
import { graceful } from '@graceful/express'

// Stands in for your database pool (pg, mysql2, …): it must close after the last request that uses it.
const pool = { end: async () => {} }

const shutdown = graceful({
  // The lame duck: GRACEFUL_PRE_STOP_DELAY (5s, say) in the environment, or on Kubernetes graceful's adaptive default.
  drainTimeout: 10_000
})
const app = express()
app.use(shutdown) // first: serves /healthz and /livez, tracks every request
app.get('/', (req, res) => {
  // A request that takes a while, like a database query.
  setTimeout(() => res.send('hello\n'), Number(req.query.ms ?? 20))
})
// An order: a POST with a JSON body, which no client or balancer may send twice.
app.post('/orders', express.json(), (req, res) => {
  setTimeout(() => res.status(201).json({ id: req.body?.id ?? null }), Number(req.query.ms ?? 20))
})

const server = shutdown.attach(app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
}))
shutdown.onShutdown('db', () => pool.end(), { timeout: 2_000 }) // runs after the last response

