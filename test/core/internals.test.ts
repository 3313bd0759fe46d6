// Every Node internal graceful reads (packages/core/src/internals.ts), one test each, over real sockets: run on every
// Node line we support, so that a change in Node fails here instead of losing requests.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, Server as HttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect as connectHttp2, createServer as createHttp2Server, type Http2Session, type ServerHttp2Stream } from 'node:http2'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { connect as connectTls } from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import {
  activeResponse,
  isDetachedFromHttp,
  isQueued,
  loopNow,
  openStreams,
  parentSocket,
  quietFor,
  receivingSockets,
  serverOf
} from '../../packages/core/dist/internals.js'
import { onServerListening } from '../../packages/core/dist/preload/listen-channel.js'
import { selfSignedCertificate } from '../helpers/index.js'
import { openSocket, rawGet, readUntil } from '../helpers/sockets.js'
import { root } from '../helpers/packages.js'

const execFileAsync = promisify(execFile)

const cleanup: Array<() => void> = []
afterEach(() => {
  for (const step of cleanup.splice(0).reverse()) step()
})

/** A node:http server whose requests wait until released; resolves with it, its port, and its accepted sockets. */
async function holding (): Promise<{ server: Server, port: number, sockets: Socket[], held: ServerResponse[] }> {
  const held: ServerResponse[] = []
  const sockets: Socket[] = []
  const server = createServer((req, res) => {
    if (req.url === '/hold') held.push(res)
    else res.end('ok')
  })
  server.on('connection', socket => sockets.push(socket))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanup.push(() => { server.closeAllConnections(); server.close() })
  return { server, port: (server.address() as AddressInfo).port, sockets, held }
}

const client = (port: number): Promise<Socket> => openSocket(port, { encoding: 'latin1', opened: socket => cleanup.push(() => socket.destroy()) })

/** Resolves once the server side of a connection has read more than `bytes` bytes. */
function serverRead (socket: Socket, bytes: number): Promise<void> {
  return new Promise(resolve => {
    const check = (): void => {
      if (socket.bytesRead <= bytes) return
      socket.off('data', check)
      resolve()
    }
    socket.on('data', check)
    check()
  })
}


describe('Node internals graceful reads', () => {
  it('socket._httpMessage: the response Node is writing, none once it finished', async () => {
    const { port, sockets, held } = await holding()
    const socket = await client(port)
    socket.write(rawGet('/hold'))
    // Node's own 'data' listener came first: it has parsed the request and called the handler by now.
    await serverRead(sockets[0]!, 0)
    expect(held).toHaveLength(1)
    expect(activeResponse(sockets[0]!)).toBe(held[0])
    const answered = readUntil(socket, /\r\n\r\n/)
    held[0]!.end('done')
    await answered
    expect(activeResponse(sockets[0]!)).toBeUndefined()
  })

  it('response.socket: null for a response queued behind another (pipelined) as its request is handled, the socket for the one being written', async () => {
    const { port, sockets, held } = await holding()
    const socket = await client(port)
    // Both requests in one write: Node queues the second response behind the first, which is held.
    socket.write(rawGet('/hold') + rawGet('/hold'))
    await serverRead(sockets[0]!, rawGet('/hold').length)
    expect(held).toHaveLength(2)
    expect(held[0]!.socket).toBe(sockets[0])
    expect(isQueued(held[0]!)).toBe(false)
    expect(isQueued(held[1]!)).toBe(true)
    const answered = readUntil(socket, /done[\s\S]*done/)
    held[0]!.end('done')
    held[1]!.end('done')
    await answered
  })

  it('socket.parser: null once Node has handed an upgraded socket over', async () => {
    const { server, port, sockets } = await holding()
    const upgraded = new Promise<Socket>(resolve => server.on('upgrade', (_req: IncomingMessage, socket: Socket) => resolve(socket)))
    const socket = await client(port)
    socket.write(rawGet('/'))
    await readUntil(socket, /ok$/)
    expect(isDetachedFromHttp(sockets[0]!)).toBe(false)
    socket.write('GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: demo\r\nConnection: Upgrade\r\n\r\n')
    expect(isDetachedFromHttp(await upgraded)).toBe(true)
  })

  it('socket.server: the server that accepted the socket', async () => {
    const { server, port, sockets } = await holding()
    await client(port)
    while (sockets.length === 0) await once(server, 'connection')
    expect(serverOf(sockets[0]!)).toBe(server)
  })

  it('tlsSocket._parent: the TCP socket under a TLS socket, and socket.server on the TLS socket', async () => {
    const tls = selfSignedCertificate()
    cleanup.push(tls.dispose)
    const server = createHttpsServer({ key: readFileSync(tls.key), cert: readFileSync(tls.cert) }, (_req, res) => res.end('ok'))
    const tcp = new Promise<Socket>(resolve => server.once('connection', resolve))
    const secure = new Promise<Socket>(resolve => server.once('secureConnection', resolve))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    cleanup.push(() => { server.closeAllConnections(); server.close() })
    const socket = connectTls({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false })
    cleanup.push(() => socket.destroy())
    const tlsSocket = await secure
    expect(parentSocket(tlsSocket)).toBe(await tcp)
    expect(serverOf(tlsSocket)).toBe(server)
  })

  it('server[kConnections].active(): a socket in the middle of a request head, or never used; not an idle one', async () => {
    const { server, port, sockets } = await holding()
    const idle = await client(port)
    const partial = await client(port)
    await client(port) // never sends a byte
    while (sockets.length < 3) await once(server, 'connection')
    idle.write(rawGet('/'))
    partial.write(rawGet('/'))
    await readUntil(idle, /ok$/)
    await readUntil(partial, /ok$/)
    const before = sockets[1]!.bytesRead
    partial.write('GET / HTTP/1.1\r\nHost: loc')
    await serverRead(sockets[1]!, before)
    const receiving = receivingSockets(server)
    expect(receiving).toBeDefined()
    expect(receiving!.has(sockets[0]!)).toBe(false)
    expect(receiving!.has(sockets[1]!)).toBe(true)
    expect(receiving!.has(sockets[2]!)).toBe(true)
  })

  it.each([
    { timer: 'how long an idle keep-alive socket has been quiet', keepAliveTimeout: 30_000 },
    { timer: 'unknown without a keep-alive timer', keepAliveTimeout: 0 }
  ])('socket[kTimeout]._idleStart: $timer', async ({ keepAliveTimeout }) => {
    const { server, port, sockets } = await holding()
    server.keepAliveTimeout = keepAliveTimeout
    const socket = await client(port)
    socket.write(rawGet('/'))
    await readUntil(socket, /ok$/)
    // The scenario: quiet for a while.
    await new Promise(resolve => setTimeout(resolve, 250))
    const quiet = quietFor(sockets[0]!, loopNow())
    if (keepAliveTimeout === 0) {
      expect(quiet).toBeUndefined()
    } else {
      expect(quiet).toBeGreaterThanOrEqual(200)
      expect(quiet).toBeLessThan(60_000)
    }
  })

  it('session[kState].streams: the open streams of an HTTP/2 session', async () => {
    const server = createHttp2Server()
    let session: Http2Session | undefined
    const opened = new Promise<ServerHttp2Stream>(resolve => {
      server.on('stream', (stream) => {
        session = stream.session
        stream.respond({ ':status': 200 })
        stream.write('started')
        resolve(stream)
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    cleanup.push(() => { server.close() })
    const http2 = connectHttp2(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    cleanup.push(() => http2.destroy())
    const request = http2.request({ ':path': '/' })
    request.resume()
    const stream = await opened
    expect([...openStreams(session!)]).toEqual([stream])
    stream.end()
    await once(request, 'close')
    if (!stream.closed) await once(stream, 'close')
    expect([...openStreams(session!)]).toEqual([])
  })
})

// The one mechanism through which the preload (@graceful/core/register) sees the servers an application starts:
// packages/core/src/preload/listen-channel.ts. A documented channel, tested here on every line all the same.
describe('the listen channel the preload reads (tracing:net.server.listen:asyncEnd)', () => {
  const kinds: Array<[string, () => NetServer]> = [
    ['http.createServer()', () => createServer()],
    ['new Server() from an ESM named import (how Nitro creates its server)', () => new HttpServer()],
    ['https.createServer()', () => createHttpsServer({ key: readFileSync(certificate().key), cert: readFileSync(certificate().cert) })],
    ['http2.createServer()', () => createHttp2Server()],
    ['net.createServer() (the preload leaves it alone, the channel reports it)', () => createNetServer()]
  ]
  let tls: ReturnType<typeof selfSignedCertificate> | undefined
  const certificate = (): ReturnType<typeof selfSignedCertificate> => {
    if (tls === undefined) {
      tls = selfSignedCertificate()
      cleanup.push(() => { tls?.dispose(); tls = undefined })
    }
    return tls
  }

  /** Listens `server` where `where` says, recording what the channel reported meanwhile. */
  async function listenRecorded (server: NetServer, where: number | string): Promise<Array<{ server: NetServer, bound: boolean, listeningEmitted: boolean }>> {
    const seen: Array<{ server: NetServer, bound: boolean, listeningEmitted: boolean }> = []
    let listeningEmitted = false
    server.on('listening', () => { listeningEmitted = true })
    const stop = onServerListening(reported => { seen.push({ server: reported, bound: reported.address() !== null, listeningEmitted }) })
    cleanup.push(stop)
    cleanup.push(() => { server.close() })
    if (typeof where === 'string') server.listen(where)
    else server.listen(where, '127.0.0.1')
    await once(server, 'listening')
    stop()
    return seen
  }

  it.each(kinds)('%s: reported once as it starts listening, bound already, before its listening event', async (_kind, make) => {
    const server = make()
    expect(await listenRecorded(server, 0)).toEqual([{ server, bound: true, listeningEmitted: false }])
  })

  it('a server on a Unix socket is reported too', async () => {
    const server = createServer()
    expect(await listenRecorded(server, join(tmpdir(), `graceful-listen-${process.pid}.sock`))).toEqual([{ server, bound: true, listeningEmitted: false }])
  })

  it('a cluster worker\'s server is reported in the worker, once the primary has handed it the listener', async () => {
    const channel = pathToFileURL(join(root, 'packages/core/dist/preload/listen-channel.js')).href
    const script = `
      const cluster = require('node:cluster')
      if (cluster.isPrimary) {
        const worker = cluster.fork()
        worker.on('message', (message) => { console.log(JSON.stringify(message)); worker.kill() })
      } else {
        import(${JSON.stringify(channel)}).then(({ onServerListening }) => {
          onServerListening((server) => { process.send({ bound: server.address() !== null }) })
          require('node:http').createServer().listen(0, '127.0.0.1')
        })
      }`
    // A file: cluster.fork() starts the worker from the primary's script.
    const dir = mkdtempSync(join(tmpdir(), 'graceful-cluster-'))
    cleanup.push(() => { rmSync(dir, { recursive: true, force: true }) })
    writeFileSync(join(dir, 'cluster.cjs'), script)
    const { stdout } = await execFileAsync(process.execPath, [join(dir, 'cluster.cjs')], { timeout: 20_000 })
    expect(stdout.trim()).toBe('{"bound":true}')
  })

  it('a listen that fails is not reported, and nothing is once the subscription is stopped', async () => {
    const first = createServer()
    first.listen(0, '127.0.0.1')
    await once(first, 'listening')
    cleanup.push(() => { first.close() })
    const seen: NetServer[] = []
    const stop = onServerListening(server => { seen.push(server) })
    cleanup.push(stop)
    const taken = createServer()
    taken.listen((first.address() as AddressInfo).port, '127.0.0.1')
    expect(((await once(taken, 'error')) as [NodeJS.ErrnoException])[0].code).toBe('EADDRINUSE')
    stop()
    const later = createServer()
    later.listen(0, '127.0.0.1')
    await once(later, 'listening')
    cleanup.push(() => { later.close() })
    expect(seen).toEqual([])
  })
})
