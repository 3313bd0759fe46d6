// The drain's socket rules, one by one, in-process over real sockets (`signals: []`, `exit: false`).
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import {
  connect as connectHttp2,
  constants as http2Constants,
  createSecureServer as createHttp2SecureServer,
  createServer as createHttp2Server,
  type Http2ServerResponse,
  type ServerHttp2Stream
} from 'node:http2'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { Client } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { createGraceful, type Graceful, type GracefulOptions } from '@graceful/core'
import { selfSignedCertificate } from '../helpers/index.js'
import { closeOf, openSocket, rawGet, readUntil } from '../helpers/sockets.js'

const cleanup: Array<() => void> = []
afterEach(() => {
  for (const step of cleanup.splice(0)) step()
})

async function listen (server: Server): Promise<number> {
  cleanup.push(() => { server.closeAllConnections() })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

const open = (port: number): Promise<Socket> => openSocket(port, { encoding: 'latin1', opened: socket => cleanup.push(() => socket.destroy()) })

function setup (options: GracefulOptions = {}, attach = true): { g: Graceful, server: Server } {
  const g = createGraceful({ signals: [], exit: false, logger: false, ...options })
  const server = createServer((req, res) => {
    if (g.handle(req, res)) return
    res.end('ok')
  })
  if (attach) g.attach(server)
  return { g, server }
}

const GET = rawGet()

/** Resolves when draining begins: one poll of the event loop after the signal or `shutdown()`, without a lame duck. */
function drainingOf (g: Graceful): Promise<void> {
  return new Promise(resolve => { g.on('phase', ({ phase }) => { if (phase === 'draining') resolve() }) })
}

describe('drain', () => {
  it('a request already on the wire when draining begins on a long-idle socket is served, not reset', async () => {
    // idleSocketGrace 0: every idle socket counts as long idle, so only the rule "never close in the same tick" saves it.
    const { g, server } = setup({ idleSocketGrace: 0 })
    const port = await listen(server)
    const socket = await open(port)
    socket.write(GET)
    await readUntil(socket, /\r\n\r\nok$/)
    const answer = readUntil(socket, /\r\n\r\nok$/)
    // Written as draining begins: in the server's receive buffer, not yet read by Node, when the drain starts.
    g.on('phase', ({ phase }) => { if (phase === 'draining') socket.write(GET) })
    const report = g.shutdown()
    const response = await answer
    expect(response).toMatch(/^HTTP\/1\.1 200/)
    expect(response).toMatch(/connection: close/i)
    expect((await report).exitCode).toBe(0)
  })

  it('a request whose headers are still arriving when the quiet window ends is waited for and served', async () => {
    const { g, server } = setup({ idleSocketGrace: 0 })
    const port = await listen(server)
    const slow = await open(port)
    const quiet = await open(port)
    slow.write(GET)
    await readUntil(slow, /\r\n\r\nok$/)
    slow.write('GET / HTTP/1.1\r\nHost: local') // half of the next request's headers
    // A round trip on another socket, written after those bytes: once it is answered, the server has read them.
    quiet.write(GET)
    await readUntil(quiet, /\r\n\r\nok$/)
    const quietClosed = closeOf(quiet)
    const report = g.shutdown()
    // Both sockets' quiet windows end in the same timer phase: once the quiet one is closed, the slow one was spared.
    await quietClosed
    expect(slow.destroyed).toBe(false)
    const answer = readUntil(slow, /\r\n\r\nok$/)
    slow.write('host\r\n\r\n')
    expect(await answer).toMatch(/connection: close/i)
    expect((await report).sockets).toMatchObject({ closedIdle: 1, forced: 0 })
  })

  it.each([
    { how: 'it may end itself on signal', endsOnSignal: true },
    { how: 'or is forced at the deadline', endsOnSignal: false }
  ])('an upgraded socket (WebSocket) is not taken for an unused one: $how', async ({ endsOnSignal }) => {
    const { g, server } = setup({ newSocketGrace: 0, drainTimeout: 300 })
    server.on('upgrade', (_req, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: demo\r\nConnection: Upgrade\r\n\r\n')
      if (endsOnSignal) g.signal.addEventListener('abort', () => socket.end())
    })
    const port = await listen(server)
    const client = await open(port)
    const switched = readUntil(client, /101 Switching Protocols[\s\S]*\r\n\r\n/)
    client.write('GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: demo\r\nConnection: Upgrade\r\n\r\n')
    await switched
    client.on('end', () => client.end())
    const report = await g.shutdown()
    if (endsOnSignal) {
      expect(report.sockets).toMatchObject({ forced: 0, closedIdle: 0, closedAfterResponse: 1 })
      expect(report.exitCode).toBe(0)
    } else {
      expect(report.sockets).toMatchObject({ forced: 1, closedIdle: 0 })
      expect(report.phases.draining).toBeGreaterThanOrEqual(290)
      expect(report.exitCode).toBe(1)
    }
  })

  it('after a lame duck, a keep-alive socket idle since the signal is closed as draining begins: the lame duck was its quiet window', async () => {
    // keepAliveTimeout 0: Node keeps no idle timer, so only the rule "idle since the signal" can know it was quiet.
    const { g, server } = setup({ preStopDelay: 1_500, idleSocketGrace: 1_200 })
    server.keepAliveTimeout = 0
    const port = await listen(server)
    const socket = await open(port)
    socket.write(GET)
    await readUntil(socket, /\r\n\r\nok$/)
    const closed = closeOf(socket).then(() => performance.now())
    let drainingAt = 0
    g.on('phase', ({ phase }) => { if (phase === 'draining') drainingAt = performance.now() })
    const report = await g.shutdown()
    // Without the rule it would wait the whole window (1.2 s) from the drain's start.
    expect(await closed - drainingAt).toBeLessThan(800)
    expect(report.sockets).toMatchObject({ closedIdle: 1, forced: 0 })
  })

  it('after a lame duck shorter than the quiet window, a keep-alive socket idle since the signal waits only the rest of its window', async () => {
    // The lame duck (1.5 s) is quiet time: the window (2 s) ends 0.5 s into the drain, not 2 s into it.
    const { g, server } = setup({ preStopDelay: 1_500, idleSocketGrace: 2_000 })
    server.keepAliveTimeout = 0
    const port = await listen(server)
    const socket = await open(port)
    socket.write(GET)
    await readUntil(socket, /\r\n\r\nok$/)
    const closed = closeOf(socket).then(() => performance.now())
    let drainingAt = 0
    g.on('phase', ({ phase }) => { if (phase === 'draining') drainingAt = performance.now() })
    const report = await g.shutdown()
    expect(await closed - drainingAt).toBeLessThan(1_400)
    expect(report.sockets).toMatchObject({ closedIdle: 1, forced: 0 })
  })

  it('without a lame duck, a socket whose quiet time Node knows (its keep-alive timer) is closed at once if quiet long enough', async () => {
    const { g, server } = setup({ idleSocketGrace: 1_500 })
    server.keepAliveTimeout = 30_000
    const port = await listen(server)
    const socket = await open(port)
    socket.write(GET)
    await readUntil(socket, /\r\n\r\nok$/)
    // The scenario, not a synchronisation: the socket has been quiet for longer than the window when the signal comes.
    await new Promise(resolve => setTimeout(resolve, 1_600))
    const closed = closeOf(socket).then(() => performance.now())
    const started = performance.now()
    const report = await g.shutdown()
    expect(await closed - started).toBeLessThan(1_000)
    expect(report.sockets).toMatchObject({ closedIdle: 1, forced: 0 })
  })

  // Node runs its own close handling of a destroyed socket in the event loop's close phase. Without hooks the shutdown is
  // over before that phase (an exit then skips it); with hooks it waits one turn for their unhandled rejections.
  it.each([
    { hooks: 'without hooks', withHook: false },
    { hooks: 'with a hook', withHook: true }
  ])('the drain is over when it destroys the last idle socket, not at its close event; the hooks\' turn comes only when there are hooks: $hooks', async ({ withHook }) => {
    const { g, server } = setup({ idleSocketGrace: 0 })
    const order: string[] = []
    const accepted = once(server, 'connection') as Promise<[Socket]>
    if (withHook) g.onShutdown('flush', () => { order.push('hook') })
    const port = await listen(server)
    const socket = await open(port)
    const [serverSide] = await accepted
    socket.write(GET)
    await readUntil(socket, /\r\n\r\nok$/)
    const closeEvent = new Promise<void>(resolve => { serverSide.once('close', () => { order.push('close event'); resolve() }) })
    g.on('phase', ({ phase }) => { if (phase === 'cleanup' || phase === 'stopped') order.push(phase) })
    const report = await g.shutdown()
    await closeEvent
    expect(order).toEqual(withHook ? ['cleanup', 'hook', 'close event', 'stopped'] : ['cleanup', 'stopped', 'close event'])
    // Counted once, although its close event came after it was released.
    expect(report.sockets).toMatchObject({ closedIdle: 1, forced: 0 })
    expect(g.openSockets).toBe(0)
  })

  it('without a lame duck, a socket whose quiet time is unknown waits the whole idleSocketGrace from the drain\'s start', async () => {
    const { g, server } = setup({ idleSocketGrace: 600 })
    server.keepAliveTimeout = 0
    const port = await listen(server)
    const socket = await open(port)
    socket.write(GET)
    await readUntil(socket, /\r\n\r\nok$/)
    await new Promise(resolve => setTimeout(resolve, 700))
    const closed = closeOf(socket).then(() => performance.now())
    const started = performance.now()
    const report = await g.shutdown()
    expect(await closed - started).toBeGreaterThanOrEqual(590)
    expect(report.sockets).toMatchObject({ closedIdle: 1, forced: 0 })
  })

  it('a probe on a keep-alive connection during the shutdown is told Connection: close, so a polling balancer cannot hold the drain', async () => {
    const { g, server } = setup({ preStopDelay: 300, idleSocketGrace: 5_000, drainTimeout: 5_000 })
    const port = await listen(server)
    const socket = await open(port)
    const probe = rawGet('/healthz')
    socket.write(probe)
    await readUntil(socket, /"status":"ok"/)
    const closed = closeOf(socket)
    const report = g.shutdown()
    const answer = readUntil(socket, /"status":"shutting down"[^}]*}/)
    socket.write(probe)
    const response = await answer
    expect(response).toMatch(/^HTTP\/1\.1 503/)
    expect(response).toMatch(/connection: close/i)
    await closed
    const done = await report
    expect(done.exitCode).toBe(0)
    expect(done.phases.draining).toBeLessThan(2_500)
  })

  it('a socket opened before the server was attached is found when it is (Node\'s own list of connections) and closed like any other', async () => {
    const { g, server } = setup({ drainTimeout: 5_000, newSocketGrace: 100 }, false)
    const port = await listen(server)
    const early = await open(port) // connected before graceful knew the server
    const adopted = await open(port)
    adopted.write(GET) // the middleware path: the first request attaches the server
    await readUntil(adopted, /\r\n\r\nok$/)
    const earlyClosed = closeOf(early)
    const report = await g.shutdown()
    await earlyClosed
    expect(report.sockets).toMatchObject({ openAtDrain: 2, closedIdle: 2, forced: 0, untracked: 0 })
    expect(report.exitCode).toBe(0)
  })

  it('HTTP/2: a stream the client sends as draining begins is refused, never handled, and the open one completes', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const handled: string[] = []
    let open: Http2ServerResponse | undefined
    const server = createHttp2Server((req, res) => {
      handled.push(req.url)
      if (g.handle(req, res)) return
      res.writeHead(200)
      res.write('started ')
      open = res
    })
    g.attach(server)
    cleanup.push(() => { server.close() })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const client = connectHttp2(`http://127.0.0.1:${port}`)
    cleanup.push(() => { client.destroy() })
    const first = client.request({ ':path': '/first' })
    first.setEncoding('utf8')
    let body = ''
    first.on('data', (chunk: string) => { body += chunk })
    await once(first, 'response')
    // Draining begins one poll of the event loop after the call: then GOAWAY names the first stream as the last one
    // processed, while the second is already on its way.
    const draining = drainingOf(g)
    const report = g.shutdown()
    await draining
    const second = client.request({ ':path': '/second' })
    const secondError = new Promise<unknown>(resolve => second.on('error', resolve))
    await new Promise(resolve => second.on('close', resolve))
    expect(await secondError).toMatchObject({ code: 'ERR_HTTP2_STREAM_ERROR' })
    // REFUSED_STREAM: the server guarantees it did nothing with it, so any client may retry it elsewhere.
    expect(second.rstCode).toBe(http2Constants.NGHTTP2_REFUSED_STREAM)
    expect(g.inFlight).toBe(1)
    open!.end('done')
    await once(first, 'end')
    expect(body).toBe('started done')
    expect(handled).toEqual(['/first'])
    const outcome = await report
    expect(outcome.exitCode).toBe(0)
    expect(outcome.requests).toMatchObject({ inFlightAtDrain: 1, completedDuringDrain: 1 })
    expect(outcome.sockets).toMatchObject({ openAtDrain: 1, http2Sessions: 1, closedAfterResponse: 1, forced: 0 })
  })

  it('HTTP/2 stream API: attach adds no request listener (so no compatibility objects), and streams count as in flight', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const server = createHttp2Server()
    g.attach(server)
    expect(server.listenerCount('request')).toBe(0)
    let open: ServerHttp2Stream | undefined
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 })
      stream.write('started ')
      open = stream
    })
    cleanup.push(() => { server.close() })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const client = connectHttp2(`http://127.0.0.1:${port}`)
    cleanup.push(() => { client.destroy() })
    const stream = client.request({ ':path': '/' })
    stream.setEncoding('utf8')
    let body = ''
    stream.on('data', (chunk: string) => { body += chunk })
    await once(stream, 'response')
    expect(g.inFlight).toBe(1)
    const draining = drainingOf(g)
    const report = g.shutdown()
    await draining
    open!.end('done')
    await once(stream, 'end')
    expect(body).toBe('started done')
    expect((await report).requests).toMatchObject({ inFlightAtDrain: 1, completedDuringDrain: 1 })
  })

  it('HTTP/2 with allowHTTP1: a request listener added after attach still has its HTTP/1.1 requests told to close', async () => {
    const tls = selfSignedCertificate()
    cleanup.push(tls.dispose)
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const server = createHttp2SecureServer({ key: readFileSync(tls.key), cert: readFileSync(tls.cert), allowHTTP1: true })
    g.attach(server)
    let pending: ServerResponse | undefined
    const arrived = new Promise<void>(resolve => {
      server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
        pending = res
        resolve()
      })
    })
    cleanup.push(() => { server.close() })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    // undici offers only http/1.1 in its TLS handshake: the server falls back to HTTP/1.1.
    const client = new Client(`https://127.0.0.1:${port}`, { connect: { rejectUnauthorized: false } })
    cleanup.push(() => { void client.destroy() })
    const response = client.request({ method: 'GET', path: '/' })
    await arrived
    expect(g.inFlight).toBe(1)
    const draining = drainingOf(g)
    const report = g.shutdown()
    await draining
    pending!.end('ok')
    const res = await response
    expect(res.headers['connection']).toBe('close')
    expect(await res.body.text()).toBe('ok')
    expect((await report).requests).toMatchObject({ inFlightAtDrain: 1, completedDuringDrain: 1 })
  })

  it('HTTP/2: streams on sessions opened during the lame duck are served, counted, and hold an adaptive lame duck', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false, preStopDelay: 20_000, preStopQuietWindow: 300 })
    const server = createHttp2Server((req, res) => {
      if (g.handle(req, res)) return
      // Which phase served it: a session accepted as the lame duck ends has its stream served by the drain.
      res.setHeader('x-phase', g.state)
      res.end('ok')
    })
    g.attach(server)
    cleanup.push(() => { server.close() })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const started = performance.now()
    const report = g.shutdown()
    // A load balancer that still routes here: a fresh session per request, for 900 ms (at most 500 requests, at most
    // one every 5 ms: unpaced, a fast Node line ran through all 500 before the quiet window's end).
    let last = 0
    let served = 0
    for (let i = 0; i < 500 && performance.now() - started < 900; i++) {
      const pause = last + 5 - performance.now()
      if (last > 0 && pause > 0) await new Promise(resolve => setTimeout(resolve, pause))
      const session = connectHttp2(`http://127.0.0.1:${port}`)
      session.on('error', () => {}) // a refused connection: its stream fails too, and ends the loop below
      try {
        const sent = performance.now()
        const stream = session.request({ ':path': '/' })
        stream.resume()
        const [headers] = await once(stream, 'response') as [Record<string, unknown>]
        await once(stream, 'end')
        if (headers[':status'] === 200 && headers['x-phase'] === 'stopping') {
          served++
          last = sent
        }
      } catch {
        break // the lame duck ended (a starved machine left a gap longer than the window): the listener is closed
      } finally {
        session.destroy()
      }
    }
    const outcome = await report
    // Past the quiet window: only the fresh streams kept the lame duck going that long.
    expect(last - started).toBeGreaterThan(350)
    expect(outcome.phases.stopping).toBeGreaterThanOrEqual(last - started + 290)
    expect(outcome.requests.servedWhileStopping).toBe(served)
  })
})
