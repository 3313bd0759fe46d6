// Telemetry and logs last (docs/beyond-http.md): the OpenTelemetry Node SDK and pino, each in a child process that
// receives a real SIGTERM, flushed by graceful's flush tier after the drain and after the report.
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { ExampleProcess, shutdownStarted } from '../helpers/example-process.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** An OTLP/HTTP receiver (JSON, as the http exporter sends it): the names of the spans it was sent. */
async function receiver (): Promise<{ endpoint: string, spans: string[] }> {
  const spans: string[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => {
      const request = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }> }
      for (const resource of request.resourceSpans) for (const scope of resource.scopeSpans) for (const span of scope.spans) spans.push(span.name)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(() => { server.closeAllConnections(); server.close() })
  return { endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`, spans }
}

function client (port: number): Client {
  const http = new Client(`http://127.0.0.1:${port}`)
  cleanups.push(() => http.close())
  return http
}

describe('examples/opentelemetry-sdk.mjs', () => {
  it('the spans of the requests served during the lame duck and the drain reach the collector: the SDK is shut down after the drain', async () => {
    const collector = await receiver()
    const app = new ExampleProcess('examples/opentelemetry-sdk.mjs', {
      PORT: '0',
      GRACEFUL_PRE_STOP_DELAY: '500ms',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.endpoint,
      // Nothing leaves on the batch's own schedule: what arrives was sent by the flush.
      OTEL_BSP_SCHEDULE_DELAY: '600000'
    })
    const { port } = await app.until(line => line.msg === 'listening') as unknown as { port: number }
    const inFlight = await client(port).request({ method: 'GET', path: '/in-flight?ms=1200' })
    app.child.kill('SIGTERM')
    await app.until(shutdownStarted)
    const duringLameDuck = await client(port).request({ method: 'GET', path: '/lame-duck' })
    expect(await duringLameDuck.body.text()).toBe('ok\n')
    expect(await inFlight.body.text()).toBe('ok\n')
    const { code } = await app.exited
    expect(code).toBe(0)
    expect(app.report!.phases.draining).toBeGreaterThan(300)
    expect(collector.spans.sort()).toEqual(['GET /in-flight', 'GET /lame-duck'])
  })
})

describe('examples/pino.mjs', () => {
  it.each([['pino.destination', '0'], ['the pino/file transport', '1']])('with %s, the last lines, the report included, are in the log file', async (_mode, transport) => {
    const dir = mkdtempSync(join(tmpdir(), 'graceful-pino-'))
    cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
    const file = join(dir, 'app.log')
    const app = new ExampleProcess('examples/pino.mjs', { PORT: '0', LOG_FILE: file, PINO_TRANSPORT: transport })
    const { port } = await app.until(line => line.msg === 'listening') as unknown as { port: number }
    const inFlight = await client(port).request({ method: 'GET', path: '/slow?ms=1000' })
    app.child.kill('SIGTERM')
    expect(await inFlight.body.text()).toBe('ok\n')
    const { code } = await app.exited
    expect(code).toBe(0)
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map(line => JSON.parse(line) as { msg: string, url?: string, exitCode?: number })
    // The request's own lines and graceful's, the report last (a starved machine may end the request before the
    // signal is handled: the order of the two in the middle is not the point).
    expect(lines.map(line => line.msg).sort()).toEqual(['graceful: shutdown complete', 'graceful: shutdown started', 'request', 'response sent'])
    expect(lines.at(-1)).toMatchObject({ msg: 'graceful: shutdown complete', exitCode: 0 })
  })
})
