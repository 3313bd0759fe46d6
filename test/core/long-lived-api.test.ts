// The API for long-lived work, in-process: endEventStream, the per-request shutdown signal, trackWebSockets.
import { once } from 'node:events'
import { createServer, IncomingMessage, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { connect } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { Client } from 'undici'
import WebSocket, { WebSocketServer } from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { createGraceful, endEventStream, isGracefulError, renderReport, type EventStreamEnd, type GracefulErrorCode } from '@graceful/core'
import { graceful } from '@graceful/express'
import { gracefulPlugin } from '@graceful/fastify'
import { thrown } from '../helpers/index.js'

// Express 4 has no types of its own here; its API is the same for what this file uses.
const express4 = createRequire(import.meta.url)('express4') as typeof express

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function listen (server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanup.push(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as { port: number }
  return `http://127.0.0.1:${port}`
}

async function text (origin: string, path: string): Promise<string> {
  const client = new Client(origin)
  try {
    const res = await client.request({ method: 'GET', path })
    return await res.body.text()
  } finally {
    await client.close()
  }
}

describe('endEventStream', () => {
  it('ends a live stream with retry, id, event and one data line per line, and leaves an ended one alone', async () => {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: first\n\n')
      endEventStream(res, { retry: 4000, id: '42', event: 'shutdown', data: 'a\r\nb\nc' })
      endEventStream(res) // a second call, on an ended stream: nothing more is written
    })
    const origin = await listen(server)
    expect(await text(origin, '/')).toBe('data: first\n\nretry: 4000\nid: 42\nevent: shutdown\ndata: a\ndata: b\ndata: c\n\n')
  })

  it('without options sends only retry: 1000, which dispatches no event', async () => {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      endEventStream(res)
    })
    expect(await text(await listen(server), '/')).toBe('retry: 1000\n\n')
  })

  const sink = { end: () => undefined }

  it.each<[unknown, RegExp, GracefulErrorCode]>([
    [{ retry: -1 }, /`retry` must be/, 'GRACEFUL_ERR_INVALID_DURATION'],
    [{ event: 'a\nb' }, /`event` must be a string without line breaks/, 'GRACEFUL_ERR_INVALID_OPTION'],
    [{ id: 'x\r' }, /`id` must be/, 'GRACEFUL_ERR_INVALID_OPTION'],
    [{ data: 42 }, /`data` must be a string/, 'GRACEFUL_ERR_INVALID_OPTION'],
    [{ retryy: 10 }, /Did you mean `retry`\?/, 'GRACEFUL_ERR_UNKNOWN_OPTION'],
    ['soon', /endEventStream\(\) options must be an object/, 'GRACEFUL_ERR_OPTIONS_NOT_OBJECT']
  ])('rejects what would corrupt the stream, and unknown options with a hint: %o', (options, message, code) => {
    const error = thrown(() => { endEventStream(sink, options as EventStreamEnd) })
    expect(isGracefulError(error, code), String(error)).toBe(true)
    expect((error as Error).message).toMatch(message)
  })

  it('rejects what is not a stream', () => {
    expect(isGracefulError(thrown(() => { endEventStream({} as typeof sink) }), 'GRACEFUL_ERR_NOT_A_STREAM')).toBe(true)
  })
})

describe('the per-request shutdown signal', () => {
  it.each([['express 5', express], ['express 4', express4]] as const)('%s: req.shutdownSignal is the instance signal, defined once on the app, never on node:http', async (_name, create) => {
    const shutdown = graceful({ signals: [], exit: false, logger: false })
    const app = create()
    app.use(shutdown)
    app.get('/', (req, res) => {
      res.send(String(req.shutdownSignal === shutdown.signal) + ' ' + String(req.shutdownSignal.aborted))
    })
    const origin = await listen(shutdown.attach(createServer(app)))
    expect(await text(origin, '/')).toBe('true false')
    expect(Object.hasOwn(IncomingMessage.prototype, 'shutdownSignal')).toBe(false)
    expect(Object.hasOwn(app.request, 'shutdownSignal')).toBe(true)
  })

  it('the middleware on a plain node:http server leaves IncomingMessage.prototype alone', async () => {
    const shutdown = graceful({ signals: [], exit: false, logger: false })
    const server = createServer((req, res) => { shutdown(req, res, () => res.end('next')) })
    expect(await text(await listen(shutdown.attach(server)), '/')).toBe('next')
    expect(Object.hasOwn(IncomingMessage.prototype, 'shutdownSignal')).toBe(false)
  })

  it('fastify: request.shutdownSignal is the instance signal, a getter on the request prototype', async () => {
    const fastify = Fastify()
    cleanup.push(() => fastify.close())
    await fastify.register(gracefulPlugin, { signals: [], exit: false, logger: false })
    fastify.get('/', (request) => `${String(request.shutdownSignal === fastify.graceful.signal)} ${String(request.shutdownSignal.aborted)}`)
    expect((await fastify.inject('/')).body).toBe('true false')
  })
})

describe('trackWebSockets', () => {
  it('closes with 1001 the WebSockets open before it was called, and one whose upgrade arrives while draining', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const server = createServer()
    g.attach(server)
    const wss = new WebSocketServer({ server })
    cleanup.push(() => { wss.close() })
    const origin = await listen(server)
    const url = origin.replace('http', 'ws')
    const early = new WebSocket(url)
    cleanup.push(() => { early.terminate() })
    await once(wss, 'connection')
    g.trackWebSockets(wss) // after the first WebSocket: found through wss.clients
    const earlyClosed = once(early, 'close')
    // Connected before the drain, upgraded after it began: accepted while going away, so closed at once.
    const { port } = new URL(origin)
    const socket = connect(Number(port), '127.0.0.1')
    await once(socket, 'connect')
    const draining = new Promise<void>(resolve => { g.on('phase', ({ phase }) => { if (phase === 'draining') resolve() }) })
    const report = g.shutdown()
    await draining
    const late = new WebSocket(url, { createConnection: () => socket })
    cleanup.push(() => { late.terminate() })
    const [lateCode] = await once(late, 'close') as [number]
    const [earlyCode] = await earlyClosed as [number]
    expect([earlyCode, lateCode]).toEqual([1001, 1001])
    const outcome = await report
    expect(outcome.exitCode).toBe(0)
    expect(outcome.sockets).toMatchObject({ webSockets: 0, forced: 0 })
  })

  it.each([undefined, {}, { on: () => undefined, clients: 3 }])('refuses what is not a WebSocket server: %o', (value) => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    expect(isGracefulError(thrown(() => g.trackWebSockets(value as never)), 'GRACEFUL_ERR_NOT_A_WEBSOCKET_SERVER')).toBe(true)
  })
})

describe('the readable report', () => {
  it('names the WebSockets and HTTP/2 sessions among the sockets open at drain, when there are any', () => {
    const report = {
      reason: 'SIGTERM',
      exitCode: 0 as const,
      durationMs: 120,
      phases: { stopping: 0, draining: 119, cleanup: 1 },
      requests: { servedWhileStopping: 0, inFlightAtDrain: 1, completedDuringDrain: 1, forced: [], declinedPipelined: 0 },
      sockets: { openAtDrain: 4, webSockets: 2, http2Sessions: 1, closedIdle: 1, closedAfterResponse: 3, forced: 0, untracked: 0 },
      hooks: []
    }
    expect(renderReport(report)).toContain('4 open at drain (2 WebSockets, 1 HTTP/2 session): 1 closed idle')
    expect(renderReport({ ...report, sockets: { ...report.sockets, webSockets: 0, http2Sessions: 0 } }))
      .toContain('4 open at drain: 1 closed idle')
  })
})
