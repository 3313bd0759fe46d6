// Prometheus metrics for the shutdown: `node examples/metrics.mjs`, scrape http://127.0.0.1:9464/metrics, then Ctrl-C.
// The metrics are served by a server of their own, which graceful does not drain: a scrape during the drain shows it.
import { createServer } from 'node:http'
import { register } from 'prom-client'
import { createGraceful } from '@graceful/core'
import { gracefulMetrics } from '@graceful/prometheus'

const port = Number(process.env.PORT ?? 3000)
const metricsPort = Number(process.env.METRICS_PORT ?? 9464)
const g = createGraceful({ drainTimeout: 10_000 })
gracefulMetrics(g)

const server = createServer((req, res) => {
  if (g.handle(req, res)) return // /healthz and /livez
  const ms = Number(new URL(req.url, 'http://localhost').searchParams.get('ms') ?? 20)
  // A response that streams: its headers leave at once, its body later.
  res.writeHead(200, { 'content-type': 'text/plain' }).flushHeaders()
  setTimeout(() => res.end('hello\n'), ms)
})
g.attach(server)

const metrics = createServer(async (req, res) => {
  res.setHeader('content-type', register.contentType)
  res.end(await register.metrics())
})
metrics.listen(metricsPort, '127.0.0.1', () => {
  server.listen(port, '127.0.0.1', () => {
    console.log(JSON.stringify({ msg: 'listening', port: server.address().port, metricsPort: metrics.address().port }))
  })
})
