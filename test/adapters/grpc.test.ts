// @graceful/grpc with real @grpc/grpc-js servers and clients over 127.0.0.1: the health service, the lame duck, GOAWAY
// when draining begins, UNAVAILABLE at the deadline; then examples/grpc.mjs, HTTP and gRPC in one process, with a real
// SIGTERM.
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { Client } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { createGraceful, isGracefulError, type Graceful } from '@graceful/core'
import { untilPhase } from '@graceful/core/testing'
import { gracefulGrpc } from '@graceful/grpc'
import { ExampleProcess, shutdownStarted } from '../helpers/example-process.js'
import { thrown } from '../helpers/index.js'

const require = createRequire(import.meta.url)
const { service: healthService } = require('grpc-health-check') as { service: grpc.ServiceDefinition }
const protoPath = fileURLToPath(new URL('../../examples/grpc/demo.proto', import.meta.url))
const { demo } = grpc.loadPackageDefinition(loadSync(protoPath)) as unknown as { demo: { Demo: grpc.ServiceClientConstructor } }
const Health = grpc.makeClientConstructor(healthService, 'Health')

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

type Unary = (request: object, callback: (err: grpc.ServiceError | null, reply?: { text?: string, status?: string }) => void) => void
type Streaming = (request: object) => grpc.ClientReadableStream<{ text?: string, status?: string }>

interface Served {
  port: number
  /** Unary calls waiting for `release`, in arrival order. */
  held: Array<() => void>
  /** Resolves once `count` unary calls are held. */
  arrived: (count: number) => Promise<void>
  demo: grpc.Client & { wait: Unary, ticks: Streaming }
  health: grpc.Client & { check: Unary, watch: Streaming }
}

/** A gRPC server in the drain of `g`: `Wait` is held until the test releases it (`ms` < 0) or answers at once. */
async function serve (g: Graceful): Promise<Served> {
  const grpcShutdown = gracefulGrpc(g)
  const server = new grpc.Server({ interceptors: [grpcShutdown.interceptor] })
  const held: Array<() => void> = []
  let waiting: { count: number, resolve: () => void } | undefined
  server.addService(demo.Demo.service, {
    wait: (call: grpc.ServerUnaryCall<{ ms: number }, unknown>, callback: grpc.sendUnaryData<{ text: string }>) => {
      if (call.request.ms >= 0) { callback(null, { text: 'at once' }); return }
      held.push(() => { callback(null, { text: 'released' }) })
      if (waiting !== undefined && held.length >= waiting.count) waiting.resolve()
    },
    ticks: (call: grpc.ServerWritableStream<{ count: number, ms: number }, unknown>) => {
      let sent = 0
      const timer = setInterval(() => {
        if (call.cancelled) { clearInterval(timer); return }
        call.write({ text: `tick ${sent}` })
        if (++sent === call.request.count) { clearInterval(timer); call.end() }
      }, call.request.ms)
      call.on('cancelled', () => { clearInterval(timer) })
    }
  })
  grpcShutdown.attach(server)
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => { if (err === null) resolve(bound); else reject(err) })
  })
  cleanups.push(() => { server.forceShutdown() })
  const address = `127.0.0.1:${port}`
  const demoClient = new demo.Demo(address, grpc.credentials.createInsecure()) as unknown as Served['demo']
  const health = new Health(address, grpc.credentials.createInsecure()) as unknown as Served['health']
  cleanups.push(() => { demoClient.close(); health.close() })
  return {
    port,
    held,
    arrived: async count => {
      if (held.length >= count) return
      await new Promise<void>(resolve => { waiting = { count, resolve } })
    },
    demo: demoClient,
    health
  }
}

function unary (call: Unary, request: object): Promise<{ text?: string, status?: string }> {
  return new Promise((resolve, reject) => { call(request, (err, reply) => { if (err === null) resolve(reply!); else reject(err) }) })
}

/** Every message of a server stream, and how it ended: its status code and details. */
function collect (stream: grpc.ClientReadableStream<{ text?: string, status?: string }>): { messages: string[], first: Promise<unknown>, next: () => Promise<string | undefined>, ended: Promise<{ code: number, details: string }> } {
  const messages: string[] = []
  const first = new Promise(resolve => { stream.once('data', resolve) })
  stream.on('data', (message: { text?: string, status?: string }) => { messages.push(message.text ?? message.status ?? '') })
  // The next message, or undefined when the stream ends first.
  const next = (): Promise<string | undefined> => new Promise(resolve => {
    const onData = (message: { text?: string, status?: string }): void => { stream.off('end', onEnd); resolve(message.text ?? message.status) }
    const onEnd = (): void => { stream.off('data', onData); resolve(undefined) }
    stream.once('data', onData).once('end', onEnd)
  })
  const ended = new Promise<{ code: number, details: string }>(resolve => {
    stream.on('status', (status: grpc.StatusObject) => { resolve({ code: status.code, details: status.details }) })
    stream.on('error', () => {}) // the status carries it
  })
  return { messages, first, next, ended }
}

const check = async (served: Served, service = ''): Promise<string | undefined> => (await unary(served.health.check.bind(served.health), { service })).status

describe('@graceful/grpc', () => {
  it('the health service says SERVING while running, follows the readiness checks and startup, and NOT_SERVING from the signal; a watch hears it, then ends as draining begins', async () => {
    let healthy = true
    const g = createGraceful({ signals: [], exit: false, logger: false, preStopDelay: 300, startup: 'manual', checkMaxAge: 0, checks: { db: () => healthy } })
    const served = await serve(g)
    expect(await check(served)).toBe('NOT_SERVING')
    g.ready()
    expect(await check(served)).toBe('SERVING')
    healthy = false
    expect(await check(served)).toBe('NOT_SERVING')
    healthy = true
    expect(await check(served)).toBe('SERVING')
    const watch = collect(served.health.watch({ service: '' }))
    await watch.first
    const shutdown = g.shutdown()
    // Heard from the signal on, without any check asking: a watcher is told, during the lame duck.
    expect(await watch.next()).toBe('NOT_SERVING')
    expect(g.state).toBe('stopping')
    expect(await check(served)).toBe('NOT_SERVING')
    const ended = await watch.ended
    expect(watch.messages).toEqual(['SERVING', 'NOT_SERVING'])
    expect(ended).toEqual({ code: grpc.status.UNAVAILABLE, details: 'server shutting down' })
    expect(g.state).toBe('draining')
    const report = await shutdown
    expect(report.work!.sources).toMatchObject([{ name: 'grpc', stopAt: 'draining', status: 'ok', runningAtStop: 0 }])
    expect(report.exitCode).toBe(0)
  })

  it('calls in flight at the signal complete, new calls during the lame duck are served, and nothing is reset before the deadline', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false, preStopDelay: 400, drainTimeout: 5_000 })
    const served = await serve(g)
    const held = unary(served.demo.wait.bind(served.demo), { ms: -1 })
    const stream = collect(served.demo.ticks({ count: 8, ms: 100 }))
    await served.arrived(1)
    expect(g.inFlight).toBe(2)
    const shutdown = g.shutdown()
    await untilPhase(g, 'stopping')
    expect(await unary(served.demo.wait.bind(served.demo), { ms: 0 })).toEqual({ text: 'at once' })
    await untilPhase(g, 'draining')
    served.held[0]!()
    expect(await held).toEqual({ text: 'released' })
    expect(await stream.ended).toEqual({ code: grpc.status.OK, details: 'OK' })
    expect(stream.messages).toHaveLength(8)
    const report = await shutdown
    expect(report.work).toEqual({ sources: [{ name: 'grpc', stopAt: 'draining', status: 'ok', durationMs: expect.any(Number) as number, runningAtStop: 2 }], forced: [] })
    expect(report.exitCode).toBe(0)
  })

  it('at the deadline the calls still open end with UNAVAILABLE, not CANCELLED, and each is named in the report', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false, drainTimeout: 400 })
    const served = await serve(g)
    const held = unary(served.demo.wait.bind(served.demo), { ms: -1 }).then(() => undefined, (err: unknown) => err as grpc.ServiceError)
    const stream = collect(served.demo.ticks({ count: 1_000, ms: 50 }))
    await served.arrived(1)
    const report = await g.shutdown()
    const cut = await held
    expect({ code: cut?.code, details: cut?.details }).toEqual({ code: grpc.status.UNAVAILABLE, details: 'server shutting down' })
    expect(await stream.ended).toEqual({ code: grpc.status.UNAVAILABLE, details: 'server shutting down' })
    expect(stream.messages.length).toBeGreaterThan(2)
    expect(report.work!.forced.map(work => [work.source, work.name]).sort()).toEqual([['grpc', '/demo.Demo/Ticks'], ['grpc', '/demo.Demo/Wait']])
    expect(report.work!.sources).toMatchObject([{ name: 'grpc', status: 'forced', runningAtStop: 2 }])
    expect(report.exitCode).toBe(1)
  })

  it('refuses a server created without its interceptor, and a second attach', () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const grpcShutdown = gracefulGrpc(g)
    expect(isGracefulError(thrown(() => grpcShutdown.attach(new grpc.Server())), 'GRACEFUL_ERR_MISSING_INTERCEPTOR')).toBe(true)
    const server = new grpc.Server({ interceptors: [grpcShutdown.interceptor] })
    grpcShutdown.attach(server)
    expect(isGracefulError(thrown(() => grpcShutdown.attach(server)), 'GRACEFUL_ERR_CALLED_TWICE')).toBe(true)
  })
})

describe('examples/grpc.mjs', () => {
  it('HTTP and gRPC in one process drain under one deadline at SIGTERM: both fail readiness, serve the lame duck, complete what is in flight, exit 0', async () => {
    const app = new ExampleProcess('examples/grpc.mjs', { PORT: '0', GRPC_PORT: '0', GRACEFUL_PRE_STOP_DELAY: '600ms' })
    const { port, grpcPort } = await app.until(line => line.msg === 'listening') as unknown as { port: number, grpcPort: number }
    const address = `127.0.0.1:${grpcPort}`
    const client = new demo.Demo(address, grpc.credentials.createInsecure()) as unknown as Served['demo']
    const health = new Health(address, grpc.credentials.createInsecure()) as unknown as Served['health']
    const http = new Client(`http://127.0.0.1:${port}`)
    cleanups.push(async () => { client.close(); health.close(); await http.close() })
    expect((await unary(health.check.bind(health), { service: '' })).status).toBe('SERVING')

    const slowHttp = http.request({ method: 'GET', path: '/?ms=1500' }).then(async response => ({ status: response.statusCode, body: await response.body.text() }))
    const slowGrpc = unary(client.wait.bind(client), { ms: 1_500 })
    const stream = collect(client.ticks({ count: 5, ms: 300 }))
    // Both under way before the signal.
    await stream.first
    app.child.kill('SIGTERM')
    await app.until(shutdownStarted)

    // On connections of their own: the client's first is busy with the slow request.
    const probe = new Client(`http://127.0.0.1:${port}`)
    const fresh = new Client(`http://127.0.0.1:${port}`)
    cleanups.push(async () => { await probe.close(); await fresh.close() })
    const readiness = await probe.request({ method: 'GET', path: '/healthz' })
    expect(readiness.statusCode).toBe(503)
    await readiness.body.dump()
    const duringLameDuck = await fresh.request({ method: 'GET', path: '/?ms=10' })
    expect({ status: duringLameDuck.statusCode, body: await duringLameDuck.body.text() }).toEqual({ status: 200, body: 'waited 10 ms\n' })
    expect((await unary(health.check.bind(health), { service: '' })).status).toBe('NOT_SERVING')
    expect(await unary(client.wait.bind(client), { ms: 10 })).toEqual({ text: 'waited 10 ms' })

    expect(await slowHttp).toEqual({ status: 200, body: 'waited 1500 ms\n' })
    expect(await slowGrpc).toEqual({ text: 'waited 1500 ms' })
    expect(await stream.ended).toEqual({ code: grpc.status.OK, details: 'OK' })
    expect(stream.messages).toEqual(['tick 0', 'tick 1', 'tick 2', 'tick 3', 'tick 4'])
    const { code, signal } = await app.exited
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    const report = app.report!
    expect(report.requests.forced).toEqual([])
    expect(report.work!.sources).toMatchObject([{ name: 'grpc', status: 'ok', runningAtStop: 2 }])
  })
})
