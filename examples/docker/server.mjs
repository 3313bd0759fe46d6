// The service that examples/docker/Dockerfile packages and examples/kubernetes/deployment.yaml runs: Express with
// graceful, its shutdown timing read from the environment so that the manifest holds every number of the budget.
// `PORT=3000 node examples/docker/server.mjs`, then `kill -TERM <pid>`.
import express from 'express'
import { graceful } from '@graceful/express'

const number = (name, fallback) => Number(process.env[name] ?? fallback)
const port = number('PORT', 3000)
// Bound for closing the database pool; with the lame duck and the drain, it is what terminationGracePeriodSeconds
// has to cover (docs/kubernetes.md works the sum through).
const poolCloseTimeout = 2_000
const timing = {
  preStopDelay: number('PRE_STOP_DELAY', 5_000),
  drainTimeout: number('DRAIN_TIMEOUT', 20_000)
}

const shutdown = graceful(timing)
const app = express()
app.use(shutdown) // first: /healthz (readiness) and /livez (liveness) answer before any other middleware
app.get('/', (req, res) => {
  setTimeout(() => res.send('hello\n'), Number(req.query.ms ?? 20))
})

const server = shutdown.attach(app.listen(port, process.env.HOST ?? '0.0.0.0', () => {
  console.log(JSON.stringify({
    msg: 'listening',
    port: server.address().port,
    pid: process.pid,
    ...timing,
    hookTimeouts: { pool: poolCloseTimeout }
  }))
}))
shutdown.onShutdown('pool', async () => {
  // pool.end(): runs once the last in-flight response has ended.
}, { timeout: poolCloseTimeout })
