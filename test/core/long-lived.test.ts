// Long-lived connections at shutdown, over real sockets to a child process that receives a real SIGTERM: server-sent
// event streams, WebSockets, HTTP/2 sessions and pipelined HTTP/1.1 requests.
import { once } from 'node:events'
import { connect as connectHttp2, constants as http2Constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2'
import { connect, type Socket } from 'node:net'
import { Client, Pool } from 'undici'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Fixture, now, selfSignedCertificate, type FixtureConfig } from '../helpers/index.js'
import { closeOf, fetchOnce, openSocket, origin, responseOf } from '../helpers/sockets.js'

interface ServerSentEvent { event: string, data: string, retry?: number }

/** Reads a text/event-stream body as EventSource does: fields per block, a blank line dispatches, `retry:` is kept. */
function parseEventStream (text: string): ServerSentEvent[] {
  const events: ServerSentEvent[] = []
  let data: string[] = []
  let event = ''
  let retry: number | undefined
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data.length > 0) events.push({ event: event === '' ? 'message' : event, data: data.join('\n'), ...(retry === undefined ? {} : { retry }) })
      data = []
      event = ''
      retry = undefined
      continue
    }
    const colon = line.indexOf(':')
    const name = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (name === 'data') data.push(value)
    else if (name === 'event') event = value
    else if (name === 'retry' && /^\d+$/.test(value)) retry = Number(value)
  }
  return events
}

const frameworks = ['node', 'express', 'fastify'] as const

describe.each(frameworks)('%s', (framework) => {
  it('server-sent event streams end when draining begins, with a last event and retry, long before the deadline', async () => {
    const app = new Fixture({ framework, options: { drainTimeout: 10_000 } })
    const port = await app.ready()
    const pool = new Pool(origin(port), { connections: 12 })
    try {
      const streams = Array.from({ length: 12 }, async () => {
        const res = await pool.request({ method: 'GET', path: '/events' })
        const type = res.headers['content-type']
        const events = parseEventStream(await res.body.text())
        return { status: res.statusCode, type, events, endedAt: now() }
      })
      await app.started('/events', 12)
      const signalled = app.kill('SIGTERM')
      for (const stream of await Promise.all(streams)) {
        expect(stream).toMatchObject({ status: 200, type: 'text/event-stream' })
        expect(stream.events).toEqual([
          { event: 'message', data: 'hello' },
          { event: 'shutdown', data: 'bye\nfor now', retry: 2500 }
        ])
        expect(stream.endedAt - signalled).toBeLessThan(3_000)
      }
      const exit = await app.exited
      expect(exit.code).toBe(0)
      expect(exit.at - signalled).toBeLessThan(3_000)
    } finally {
      await pool.destroy()
    }
    expect(app.report().requests).toMatchObject({ inFlightAtDrain: 12, completedDuringDrain: 12, forced: [] })
    // Twelve streams listen to the one shutdown signal: that is what it is for, not a leak to warn about.
    expect(app.stderr.join('')).not.toMatch(/MaxListenersExceeded/)
  })

  it('a WebSocket is closed with 1001 Going Away when draining begins; meanwhile it is no request and readiness tells the truth', async () => {
    const app = new Fixture({ framework, webSockets: true, options: { preStopDelay: 1_500, drainTimeout: 10_000 } })
    const port = await app.ready()
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
    try {
      const greeting = once(ws, 'message')
      const closed = once(ws, 'close')
      expect(String((await greeting)[0])).toBe('hello')
      expect((await fetchOnce(origin(port), '/healthz')).status).toBe(200)
      const signalled = app.kill('SIGTERM')
      await app.shutdownStarted()
      // The lame duck: readiness fails at once, while the WebSocket stays open until draining.
      expect((await fetchOnce(origin(port), '/healthz')).status).toBe(503)
      expect(ws.readyState).toBe(WebSocket.OPEN)
      const [code, reason] = await closed as [number, Buffer]
      expect(code).toBe(1001)
      expect(reason.toString()).toBe('server shutting down')
      expect(now() - signalled).toBeGreaterThanOrEqual(1_400)
      const exit = await app.exited
      expect(exit.code).toBe(0)
      expect(exit.at - signalled).toBeLessThan(5_000)
    } finally {
      ws.terminate()
    }
    expect(app.report().sockets).toMatchObject({ webSockets: 1, forced: 0 })
    expect(app.report().requests.inFlightAtDrain).toBe(0)
  })

  it('a WebSocket client that never answers the close is destroyed at the deadline and reported', async () => {
    const app = new Fixture({ framework, webSockets: true, options: { drainTimeout: 800 } })
    const port = await app.ready()
    const socket = await openSocket(port)
    try {
      let data = Buffer.alloc(0)
      socket.on('data', (chunk: Buffer) => { data = Buffer.concat([data, chunk]) })
      const closed = closeOf(socket)
      // A WebSocket handshake by hand, and then silence: no close frame ever goes back.
      socket.write('GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
      await app.waitFor(e => e.event === 'ws-open', 'the WebSocket open')
      const signalled = app.kill('SIGTERM')
      await closed
      const exit = await app.exited
      expect(exit.code).toBe(1)
      expect(exit.at - signalled).toBeGreaterThanOrEqual(700)
      expect(data.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /)
      // The server's close frame: FIN + opcode 8, 22 bytes of payload, status 1001, then the reason.
      expect(data.includes(Buffer.concat([Buffer.from([0x88, 22, 0x03, 0xe9]), Buffer.from('server shutting down')]))).toBe(true)
    } finally {
      socket.destroy()
    }
    expect(app.report().sockets).toMatchObject({ webSockets: 1, forced: 1 })
    expect(app.report().exitCode).toBe(1)
  })
})

/** A raw connection to the fixture app opened during its lame duck (2 s), with what it has received so far. */
async function lameDuckConnection (framework: FixtureConfig['framework'], halfOpen = false): Promise<{
  app: Fixture
  socket: Socket
  /** Everything received so far. */
  data: () => string
  /** The heads and bodies of the responses received so far, each after its `HTTP/1.1 `. */
  responses: () => string[]
  /** Resolves once what was received matches `pattern`. */
  received: (pattern: RegExp) => Promise<void>
}> {
  const app = new Fixture({ framework, options: { preStopDelay: 2_000 } })
  const port = await app.ready()
  app.kill('SIGTERM')
  await app.shutdownStarted()
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: halfOpen })
  await once(socket, 'connect')
  socket.setEncoding('latin1')
  let data = ''
  const waiting: Array<{ pattern: RegExp, resolve: () => void }> = []
  socket.on('data', (chunk: string) => {
    data += chunk
    for (const wait of waiting.filter(entry => entry.pattern.test(data))) {
      waiting.splice(waiting.indexOf(wait), 1)
      wait.resolve()
    }
  })
  return {
    app,
    socket,
    data: () => data,
    responses: () => data.split('HTTP/1.1 ').slice(1),
    received: async pattern => {
      if (pattern.test(data)) return
      await new Promise<void>(resolve => { waiting.push({ pattern, resolve }) })
    }
  }
}

describe.each(['node', 'express', 'express4', 'fastify'] as const)('%s: pipelining', (framework) => {
  it('a request pipelined behind a response that already said Connection: close is not handed to the application (RFC 9112 §9.6), and is counted', async () => {
    // The first response is told to close during the lame duck and sends its headers at once (a stream); the second
    // request arrives only after those headers. A compliant client has stopped reading after that response: the
    // application must not process the second request, whose answer nobody would read.
    const { app, socket, data, responses, received } = await lameDuckConnection(framework)
    try {
      const closed = closeOf(socket)
      socket.write('GET /stream?ms=300 HTTP/1.1\r\nHost: localhost\r\n\r\n')
      await received(/stream started/)
      expect(data()).toMatch(/connection: close/i)
      socket.write('GET /work HTTP/1.1\r\nHost: localhost\r\n\r\n')
      await closed
      expect(responses()).toHaveLength(1)
      expect(responses()[0]).toMatch(/^200 /)
      expect(responses()[0]).toMatch(/stream done/)
      expect((await app.exited).code).toBe(0)
    } finally {
      socket.destroy()
    }
    expect(app.eventsNamed('started').map(event => event['path'])).toEqual(['/stream'])
    expect(app.report().requests.declinedPipelined).toBe(1)
  })

  it('a pipelined batch cut inside its second request: the first response keeps the connection open, the second says close, both are answered', async () => {
    // The first response is written while the second request is still arriving. Saying `Connection: close` on it
    // would end the connection under a request the client has half sent; the close waits for that request's answer.
    const { app, socket, responses, received } = await lameDuckConnection(framework)
    try {
      const closed = closeOf(socket)
      const second = 'GET /work HTTP/1.1\r\nHost: localhost\r\n\r\n'
      socket.write(`GET /work?ms=50 HTTP/1.1\r\nHost: localhost\r\n\r\n${second.slice(0, 7)}`)
      await received(/\r\n\r\n(2\r\n)?ok/)
      socket.write(second.slice(7))
      await closed
      expect(responses()).toHaveLength(2)
      expect(responses()[0]).toMatch(/^200 /)
      expect(responses()[0]).not.toMatch(/connection: close/i)
      expect(responses()[1]).toMatch(/^200 /)
      expect(responses()[1]).toMatch(/connection: close/i)
    } finally {
      socket.destroy()
    }
    expect((await app.exited).code).toBe(0)
    expect(app.report().requests.declinedPipelined).toBe(0)
  })

  it('a request that reaches a pipelining client\'s connection after its close response and FIN is still read and declined (a staged close, RFC 9112 §9.6), not met by a reset', async () => {
    // A client that pipelines may have written its next request before the FIN reached it: here written after the
    // FIN, so that it surely arrives after the server ended its side. With Node's own close (FIN, then destroyed at
    // once) the kernel resets it, and the server never hears of it; graceful goes on reading until the client closes.
    const { app, socket, responses } = await lameDuckConnection(framework, true)
    try {
      let reset = false
      socket.on('error', () => { reset = true })
      const closed = new Promise<void>(resolve => { socket.once('close', () => { resolve() }) })
      const ended = once(socket, 'end')
      // Two requests in one write: the connection pipelines, and the second response says close.
      socket.write('GET /work HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(2))
      await ended
      expect(responses().map(head => /connection: close/i.test(head))).toEqual([false, true])
      socket.end('GET /work?late HTTP/1.1\r\nHost: localhost\r\n\r\n')
      await closed
      expect(reset).toBe(false)
      expect(responses()).toHaveLength(2)
    } finally {
      socket.destroy()
    }
    expect((await app.exited).code).toBe(0)
    expect(app.report().requests.declinedPipelined).toBe(1)
  })
})

/** One request on an HTTP/2 session: status and body. */
async function h2get (session: ClientHttp2Session, path: string): Promise<{ status: number, body: string }> {
  const stream = session.request({ ':path': path })
  stream.setEncoding('utf8')
  let body = ''
  stream.on('data', (chunk: string) => { body += chunk })
  const [headers] = await once(stream, 'response') as [Record<string, unknown>]
  await once(stream, 'end')
  return { status: Number(headers[':status']), body }
}

/**
 * How a new stream on `session` ends: the error code when the client refuses to open it, `status N` when it is
 * answered. A session that has received GOAWAY refuses at once, without sending anything: up to Node 22 request()
 * throws; from Node 24 it returns the stream and destroys it with the error on the next tick (see nodejs/node#63412).
 */
async function newStream (session: ClientHttp2Session, path: string): Promise<string> {
  let stream: ClientHttp2Stream
  try {
    stream = session.request({ ':path': path })
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error'
  }
  return await new Promise(resolve => {
    stream.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? 'error') })
    stream.once('response', (headers: Record<string, unknown>) => { resolve(`status ${String(headers[':status'])}`) })
  })
}

describe('HTTP/2', () => {
  let tls: ReturnType<typeof selfSignedCertificate> | undefined
  beforeAll(() => { tls = selfSignedCertificate() })
  afterAll(() => { tls?.dispose() })

  const cases: Array<{ name: string, framework: 'node' | 'fastify', secure: boolean, allowHTTP1: boolean }> = [
    { name: 'node, TLS', framework: 'node', secure: true, allowHTTP1: false },
    { name: 'node, TLS with allowHTTP1', framework: 'node', secure: true, allowHTTP1: true },
    { name: 'node, cleartext (h2c)', framework: 'node', secure: false, allowHTTP1: false },
    { name: 'fastify, TLS with allowHTTP1', framework: 'fastify', secure: true, allowHTTP1: true }
  ]

  it.each(cases)('$name: sessions get GOAWAY, the open stream completes, new streams go elsewhere, idle sessions close', async ({ framework, secure, allowHTTP1 }) => {
    const config: FixtureConfig = { framework, http2: { allowHTTP1 }, keepAliveTimeout: 60_000, options: { drainTimeout: 10_000 } }
    if (secure) config.tls = { key: tls!.key, cert: tls!.cert }
    const app = new Fixture(config)
    const port = await app.ready()
    const url = `${secure ? 'https' : 'http'}://127.0.0.1:${port}`
    const busy = connectHttp2(url, { rejectUnauthorized: false })
    const idle = connectHttp2(url, { rejectUnauthorized: false })
    // HTTP/1.1 on the same server (allowHTTP1): undici offers only http/1.1 in its TLS handshake.
    const http1 = allowHTTP1 ? new Client(url, { connect: { rejectUnauthorized: false } }) : undefined
    try {
      expect(await h2get(idle, '/healthz')).toMatchObject({ status: 200 })
      const goaway = once(busy, 'goaway')
      const idleClosed = closeOf(idle)
      const response = h2get(busy, '/slow?ms=800')
      const http1Response = http1?.request({ method: 'GET', path: '/slow?ms=800' })
      // Awaited below; a failed assertion before then must not leave their rejections (clients destroyed) unhandled.
      response.catch(() => undefined)
      http1Response?.catch(() => undefined)
      await app.started('/slow', allowHTTP1 ? 2 : 1)
      const signalled = app.kill('SIGTERM')
      const [code] = await goaway as [number]
      expect(code).toBe(http2Constants.NGHTTP2_NO_ERROR)
      // After GOAWAY the client opens no new stream on this session, and a new session with this instance is refused
      // (or, accepted in the moment before the listener closed, sent GOAWAY before any stream): the next request
      // goes to another instance.
      expect(await newStream(busy, '/work')).toBe('ERR_HTTP2_GOAWAY_SESSION')
      const next = connectHttp2(url, { rejectUnauthorized: false })
      const refused = await new Promise<string>(resolve => {
        next.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? 'error') })
        next.once('goaway', (goawayCode: number, lastStreamID: number) => { resolve(`GOAWAY ${goawayCode} ${lastStreamID}`) })
      })
      next.destroy()
      expect(['ECONNREFUSED', 'GOAWAY 0 0']).toContain(refused)
      expect(await response).toEqual({ status: 200, body: 'slow done' })
      if (http1Response !== undefined) {
        const res = await http1Response
        expect(await responseOf(res))
          .toEqual({ status: 200, connection: 'close', body: 'slow done' })
      }
      await idleClosed
      const exit = await app.exited
      expect(exit.code).toBe(0)
      expect(exit.at - signalled).toBeLessThan(4_000)
    } finally {
      busy.destroy()
      idle.destroy()
      await http1?.destroy()
    }
    const report = app.report()
    expect(report.requests).toMatchObject({ inFlightAtDrain: allowHTTP1 ? 2 : 1, completedDuringDrain: allowHTTP1 ? 2 : 1, forced: [] })
    expect(report.sockets).toMatchObject({ http2Sessions: 2, forced: 0 })
    expect(report.sockets.closedIdle).toBeGreaterThanOrEqual(1)
  })

  it('a stream still open at the deadline is cut with its session, named in the report, and the exit code is 1', async () => {
    const app = new Fixture({ framework: 'node', http2: {}, tls: { key: tls!.key, cert: tls!.cert }, options: { drainTimeout: 800 } })
    const port = await app.ready()
    const session = connectHttp2(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
    session.on('error', () => {})
    try {
      const stream = session.request({ ':path': '/hang?token=secret' })
      stream.on('error', () => {})
      const streamClosed = once(stream, 'close')
      await app.started('/hang')
      const signalled = app.kill('SIGTERM')
      await streamClosed
      const exit = await app.exited
      expect(exit.code).toBe(1)
      expect(exit.at - signalled).toBeGreaterThanOrEqual(700)
      expect(stream.rstCode).not.toBe(http2Constants.NGHTTP2_NO_ERROR)
    } finally {
      session.destroy()
    }
    const report = app.report()
    expect(report.sockets).toMatchObject({ http2Sessions: 1, forced: 1 })
    expect(report.requests.forced).toEqual([expect.objectContaining({ method: 'GET', path: '/hang' })])
  })
})
