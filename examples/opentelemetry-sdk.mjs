// The OpenTelemetry Node SDK, shut down by graceful last: no SIGTERM listener of its own (the docs' `process.on(
// 'SIGTERM', () => sdk.shutdown())` flushes and exits before the drain, losing the spans of the requests it serves),
// but a flush step that runs after the drain, the hooks and the report. Every span of the shutdown is exported.
//
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 node examples/opentelemetry-sdk.mjs     then Ctrl-C
import { createServer } from 'node:http'
import { trace } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { NodeSDK } from '@opentelemetry/sdk-node'
import { createGraceful } from '@graceful/core'

const sdk = new NodeSDK({ traceExporter: new OTLPTraceExporter() }) // OTEL_EXPORTER_OTLP_* set where it sends
sdk.start()

const g = createGraceful({ drainTimeout: 10_000 })
// The last tier: sdk.shutdown() flushes the spans still in its batch, then stops exporting.
g.onFlush('opentelemetry', () => sdk.shutdown(), { timeout: 5_000 })

const tracer = trace.getTracer('example')
const server = createServer((req, res) => {
  const { pathname, searchParams } = new URL(req.url, 'http://localhost')
  tracer.startActiveSpan(`GET ${pathname}`, span => {
    res.writeHead(200, { 'content-type': 'text/plain' }).flushHeaders() // its headers leave at once, its body later
    setTimeout(() => {
      res.end('ok\n')
      span.end()
    }, Number(searchParams.get('ms') ?? 0))
  })
})
g.attach(server)
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: server.address().port }))
})
