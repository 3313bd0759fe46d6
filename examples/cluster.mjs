// A node:http service on every core with node:cluster. Run it with `node examples/cluster.mjs`, then Ctrl-C.
import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { createServer } from 'node:http'
import { createGraceful, gracefulCluster } from '@graceful/core'

if (cluster.isPrimary) {
  // On SIGTERM or SIGINT: every worker shuts down (lame duck, drain, hooks); the primary exits when all are done,
  // or kills the rest after shutdownTimeout.
  const primary = gracefulCluster({ shutdownTimeout: 30_000 })
  const workers = Number(process.env.WORKERS ?? availableParallelism())
  for (let i = 0; i < workers; i++) cluster.fork()
  // Replace a crashed worker, but not once the shutdown has begun.
  cluster.on('exit', () => { if (!primary.signal.aborted) cluster.fork() })
} else {
  // Each worker: the usual graceful instance (createGraceful, graceful() for Express, gracefulPlugin for Fastify).
  const g = createGraceful({ drainTimeout: 10_000 })
  const server = createServer((req, res) => {
    if (g.handle(req, res)) return
    const ms = Number(new URL(req.url, 'http://localhost').searchParams.get('ms') ?? 20)
    setTimeout(() => res.end(`hello from worker ${cluster.worker.id}\n`), ms)
  })
  g.attach(server)
  server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`)
  })
}
