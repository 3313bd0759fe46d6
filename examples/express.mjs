// An Express service with graceful: `node examples/express.mjs`, then Ctrl-C (or `kill -TERM <pid>`).
import express from 'express'
import { graceful } from '@graceful/express'

const port = Number(process.env.PORT ?? 3000)
const shutdown = graceful({
  preStopDelay: Number(process.env.PRE_STOP_DELAY ?? 0),
  drainTimeout: 10_000
})

const app = express()
app.use(shutdown) // first: serves /healthz and /livez, tracks requests
app.get('/', (req, res) => {
  // A request that takes a while, like a database query.
  setTimeout(() => res.send('hello\n'), Number(req.query.ms ?? 20))
})

const server = shutdown.attach(app.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: server.address().port, pid: process.pid }))
}))
shutdown.onShutdown('pool', async () => {
  // Close the database pool here: it runs after the last in-flight response ended.
}, { timeout: 2_000 })
