// The OpenTelemetry recipe of docs/observability.md (examples/opentelemetry.mjs) against the real SDK: gauges read at
// collection, spans built from the diagnostics channels and flushed by the hook that runs last.
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { Client } from 'undici'
import { metrics, trace, SpanStatusCode } from '@opentelemetry/api'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base'
import { afterEach, describe, expect, it } from 'vitest'
import { createGraceful } from '@graceful/core'
import { instrument } from '../../examples/opentelemetry.mjs'

class Reader extends MetricReader {
  protected async onForceFlush (): Promise<void> {}
  protected async onShutdown (): Promise<void> {}
}

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('OpenTelemetry recipe', () => {
  it('docs/observability.md shows the recipe exactly as it is tested', () => {
    const recipe = readFileSync(new URL('../../examples/opentelemetry.mjs', import.meta.url), 'utf8')
    const docs = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8')
    expect(docs).toContain('```js\n' + recipe + '```')
  })

  it('gauges follow the instance, and the shutdown and hook spans are exported by the flush hook', async () => {
    const reader = new Reader()
    const meterProvider = new MeterProvider({ readers: [reader] })
    const exporter = new InMemorySpanExporter()
    // Exported only when flushed: what is there after the shutdown was flushed by the recipe's hook.
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 600_000 })]
    })
    metrics.setGlobalMeterProvider(meterProvider)
    trace.setGlobalTracerProvider(tracerProvider)
    cleanups.push(async () => {
      metrics.disable()
      trace.disable()
      await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()])
    })

    const g = createGraceful({ signals: [], exit: false, logger: false })
    cleanups.push(instrument(g, { flush: () => tracerProvider.forceFlush() }))
    g.onShutdown('db', () => { throw new Error('db broke') })

    let arrived: () => void = () => {}
    const inHandler = new Promise<void>(resolve => { arrived = resolve })
    let release: () => void = () => {}
    const server: Server = createServer((req, res) => {
      if (g.handle(req, res)) return
      release = () => res.end('done')
      arrived()
    })
    cleanups.push(() => server.closeAllConnections())
    g.attach(server)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const client = new Client(`http://127.0.0.1:${port}`)
    cleanups.push(async () => { await client.destroy() })
    const response = client.request({ method: 'GET', path: '/' })
    await inHandler

    const { resourceMetrics } = await reader.collect()
    const gauges = Object.fromEntries(resourceMetrics.scopeMetrics.flatMap(scope => scope.metrics)
      .map(metric => [metric.descriptor.name, metric.dataPoints[0]?.value]))
    expect(gauges).toEqual({ 'graceful.in_flight_requests': 1, 'graceful.open_sockets': 1 })

    g.on('phase', event => { if (event.phase === 'draining') release() })
    const report = await g.shutdown()
    expect(await (await response).body.text()).toBe('done')
    expect(report.hooks.map(hook => hook.name)).toEqual(['db', 'telemetry'])

    const spans = exporter.getFinishedSpans()
    expect(spans.map(span => span.name)).toEqual(['graceful.shutdown', 'graceful.hook db'])
    const [shutdown, hook] = spans
    expect(shutdown!.attributes).toEqual({ 'graceful.reason': 'shutdown()' })
    expect(shutdown!.events.map(event => event.name)).toEqual(['graceful.stopping', 'graceful.draining', 'graceful.cleanup'])
    expect(shutdown!.events[1]!.attributes).toEqual({ 'graceful.in_flight': 1, 'graceful.open_sockets': 1 })
    expect(hook!.parentSpanContext?.spanId).toBe(shutdown!.spanContext().spanId)
    expect(hook!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'db broke' })
    expect(hook!.attributes).toEqual({ 'graceful.hook.status': 'failed' })
  })
})
