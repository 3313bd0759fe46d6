// The drain deadline cancels, as Go's request context does (issue 26): `deadlineSignal` aborts the moment the deadline
// cuts what is still running, before the sockets are destroyed; the hooks learn what was cut and whose handler is
// still running; the report says what each cut handler did. Real sockets in this process.
import express from 'express'
import Fastify from 'fastify'
import { Client } from 'undici'
import { describe, expect, it } from 'vitest'
import { isGracefulError, type ShutdownContext } from '@graceful/core'
import { createTestGraceful } from '@graceful/core/testing'
import { graceful } from '@graceful/express'
import { gracefulPlugin } from '@graceful/fastify'
import { serveInProcess } from '../helpers/index.js'

/** A handler that waits for the deadline, then goes on: its `finish()` ends its response when the test says. */
function slowHandler (deadlineSignal: () => AbortSignal): {
  handler: (req: unknown, res: { end: (body: string) => void }) => void
  arrived: Promise<void>
  cut: Promise<{ reason: unknown, socketOpen: boolean }>
  finish: () => void
} {
  let arrive: () => void = () => {}
  let cutSeen: (seen: { reason: unknown, socketOpen: boolean }) => void = () => {}
  let finish: () => void = () => {}
  return {
    arrived: new Promise<void>(resolve => { arrive = resolve }),
    cut: new Promise(resolve => { cutSeen = resolve }),
    finish: () => { finish() },
    handler: (req, res) => {
      const signal = deadlineSignal()
      expect(signal.aborted).toBe(false)
      signal.addEventListener('abort', () => {
        cutSeen({ reason: signal.reason, socketOpen: !(req as { socket: { destroyed: boolean } }).socket.destroyed })
      })
      finish = () => { res.end('committed') }
      arrive()
    }
  }
}

describe('deadlineSignal', () => {
  it('aborts at the drain deadline, before the socket is destroyed; the hook sees the cut handler running; the report says it ended after the cut', async () => {
    const g = createTestGraceful({ drainTimeout: 300 })
    const slow = slowHandler(() => g.deadlineSignal)
    const contexts: ShutdownContext[] = []
    g.onShutdown('db', (_signal, shutdown) => {
      contexts.push({ ...shutdown, running: shutdown.running.map(request => ({ ...request })) })
      // The pool's own end: it waits for the handler's transaction, which ends now.
      slow.finish()
    })
    const { port } = await serveInProcess(g, slow.handler)
    const client = new Client(`http://127.0.0.1:${port}`)
    try {
      const response = client.request({ method: 'POST', path: '/orders?id=1' }).catch((err: unknown) => err)
      await slow.arrived
      const report = g.shutdown()
      const { reason, socketOpen } = await slow.cut
      expect(isGracefulError(reason, 'GRACEFUL_ERR_DRAIN_DEADLINE')).toBe(true)
      expect(socketOpen).toBe(true)
      expect(await response).toBeInstanceOf(Error)
      const done = await report
      expect(contexts).toEqual([expect.objectContaining({
        reason: 'shutdown()',
        forced: true,
        running: [expect.objectContaining({ method: 'POST', path: '/orders', handler: 'running' })]
      })])
      expect(contexts[0]!.deadline.aborted).toBe(true)
      expect(done.requests.forced).toEqual([expect.objectContaining({ method: 'POST', path: '/orders', handler: 'ended-after-cut' })])
      expect(done.exitCode).toBe(1)
    } finally {
      await client.destroy()
    }
  })

  it('a handler that never ends is named running; one that had ended its response before the cut, ended', async () => {
    const g = createTestGraceful({ drainTimeout: 300 })
    let arrivals = 0
    let bothArrived: () => void = () => {}
    const arrived = new Promise<void>(resolve => { bothArrived = resolve })
    const { port } = await serveInProcess(g, (req, res) => {
      // One handler ends its response but its body cannot leave (the client reads nothing); the other never ends.
      if (req.url === '/ended') res.end(Buffer.alloc(64 * 1024 * 1024))
      if (++arrivals === 2) bothArrived()
    })
    const clients = [new Client(`http://127.0.0.1:${port}`), new Client(`http://127.0.0.1:${port}`)]
    try {
      // Neither body is read: the ended response cannot finish either.
      for (const [index, path] of ['/never', '/ended'].entries()) {
        clients[index]!.request({ method: 'GET', path }).catch(() => {})
      }
      await arrived
      const report = await g.shutdown()
      expect(report.requests.forced.map(request => [request.path, request.handler]).sort()).toEqual([['/ended', 'ended'], ['/never', 'running']])
    } finally {
      await Promise.all(clients.map(client => client.destroy()))
    }
  })

  it('is never aborted by a drain that ends in time, and the hooks hear that nothing was cut', async () => {
    const g = createTestGraceful({ drainTimeout: 5_000 })
    const contexts: ShutdownContext[] = []
    g.onShutdown('db', (_signal, shutdown) => { contexts.push(shutdown) })
    const { origin } = await serveInProcess(g)
    const client = new Client(origin)
    try {
      await (await client.request({ method: 'GET', path: '/' })).body.text()
      await g.shutdown()
    } finally {
      await client.destroy()
    }
    expect(g.deadlineSignal.aborted).toBe(false)
    expect(contexts).toEqual([expect.objectContaining({ forced: false, running: [] })])
  })

  it('is req.deadlineSignal on Express and request.deadlineSignal on Fastify', async () => {
    const shutdown = graceful({ signals: [], exit: false, logger: false })
    const app = express()
    app.use(shutdown)
    let seen: AbortSignal | undefined
    app.get('/', (req, res) => {
      seen = req.deadlineSignal
      res.end('ok')
    })
    const { origin } = await serveInProcess(shutdown, app)
    const client = new Client(origin)
    try {
      await (await client.request({ method: 'GET', path: '/' })).body.text()
    } finally {
      await client.destroy()
    }
    expect(seen).toBe(shutdown.graceful.deadlineSignal)

    const fastify = Fastify()
    await fastify.register(gracefulPlugin, { signals: [], exit: false, logger: false })
    let fromFastify: AbortSignal | undefined
    fastify.get('/', (request, reply) => {
      fromFastify = request.deadlineSignal
      void reply.send('ok')
    })
    await fastify.inject('/')
    expect(fromFastify).toBe(fastify.graceful.deadlineSignal)
    await fastify.close()
  })

  it('an inject() request cut at the deadline is named, its handler running until it ends', async () => {
    const fastify = Fastify()
    await fastify.register(gracefulPlugin, { signals: [], exit: false, logger: false, drainTimeout: 200 })
    let release: () => void = () => {}
    let arrived: () => void = () => {}
    const arrival = new Promise<void>(resolve => { arrived = resolve })
    fastify.get('/slow', async () => {
      arrived()
      await new Promise<void>(resolve => { release = resolve })
      return 'late'
    })
    const injected = fastify.inject('/slow')
    await arrival
    const running: string[][] = []
    fastify.graceful.onShutdown('db', (_signal, shutdown) => {
      running.push(shutdown.running.map(request => `${request.method} ${request.path} ${request.handler}`))
      release()
    })
    const report = await fastify.graceful.shutdown()
    expect(running).toEqual([['GET /slow (inject) running']])
    expect((await injected).body).toBe('late')
    expect(report.requests.forced).toEqual([expect.objectContaining({ path: '/slow (inject)' })])
    await fastify.close()
  })
})
