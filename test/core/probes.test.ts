// Readiness and liveness probes: checks, their timeout and cache, startup gating, and probes ahead of the application.
import diagnostics from 'node:diagnostics_channel'
import { once } from 'node:events'
import { connect } from 'node:net'
import Fastify from 'fastify'
import express from 'express'
import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { createGraceful, type Graceful, type GracefulOptions } from '@graceful/core'
import { graceful } from '@graceful/express'
import { gracefulPlugin } from '@graceful/fastify'
import { Fixture, recordingLogger, serveInProcess } from '../helpers/index.js'
import { fetchOnce, closeOf } from '../helpers/sockets.js'

const quiet = { signals: [], exit: false, logger: false } as const

const instances: Graceful[] = []
afterEach(() => {
  for (const g of instances.splice(0)) g.dispose()
})

function instance (options: GracefulOptions = {}): Graceful {
  const g = createGraceful({ ...quiet, ...options })
  instances.push(g)
  return g
}

/** A check the test settles by hand, counting its runs. */
function gate (): { check: () => Promise<void>, runs: () => number, open: () => void, started: Promise<void> } {
  let runs = 0
  let release: (() => void) | undefined
  let started: (() => void) | undefined
  return {
    check: () => {
      runs++
      started?.()
      return new Promise<void>(resolve => { release = resolve })
    },
    runs: () => runs,
    open: () => { release?.() },
    started: new Promise<void>(resolve => { started = resolve })
  }
}

/**
 * Resolves once `count` requests to `server` have been handed to it by Node's HTTP parser: Node publishes each on the
 * `http.server.request.start` channel just before it emits 'request', in the same turn, so by the time this resolves
 * the last of them has reached graceful (probes never reach the application, so it cannot count them).
 */
function requestsArriving (server: Server, count: number): Promise<void> {
  const name = 'http.server.request.start'
  let seen = 0
  return new Promise(resolve => {
    const onStart = (message: unknown): void => {
      if ((message as { server?: unknown }).server !== server || ++seen < count) return
      diagnostics.unsubscribe(name, onStart)
      resolve()
    }
    diagnostics.subscribe(name, onStart)
  })
}

describe('readiness checks', () => {
  it('answer 200 with each check\'s status when they pass, and 503 with Retry-After when one fails', async () => {
    let healthy = true
    const g = instance({
      checkMaxAge: 0,
      checks: {
        db: () => { if (!healthy) throw new Error('connect ECONNREFUSED 10.0.0.7:5432 (user=admin)') },
        cache: () => 'PONG'
      }
    })
    const { origin } = await serveInProcess(g)
    const ok = await fetchOnce(origin, '/healthz')
    expect(ok.status).toBe(200)
    expect(ok.headers['cache-control']).toBe('no-store')
    expect(ok.headers['retry-after']).toBeUndefined()
    const okBody = JSON.parse(ok.body) as { status: string, checks: Record<string, { status: string, durationMs: number }> }
    expect(okBody).toMatchObject({ status: 'ok', phase: 'running', checks: { db: { status: 'ok' }, cache: { status: 'ok' } } })
    expect(typeof okBody.checks['db']!.durationMs).toBe('number')

    healthy = false
    const failing = await fetchOnce(origin, '/healthz')
    expect(failing.status).toBe(503)
    expect(failing.headers['retry-after']).toMatch(/^\d+$/)
    expect(failing.headers['cache-control']).toBe('no-store')
    expect(JSON.parse(failing.body)).toEqual({
      status: 'failing',
      phase: 'running',
      checks: { db: { status: 'failed', durationMs: expect.any(Number) as number }, cache: { status: 'ok', durationMs: expect.any(Number) as number } }
    })
    // The message names a host and a user: hidden unless the application opts in.
    expect(failing.body).not.toMatch(/ECONNREFUSED|admin/)
  })

  it('show check error messages only with exposeCheckErrors, and log each change of status once', async () => {
    const { logger, lines } = recordingLogger()
    const g = instance({
      logger,
      checkMaxAge: 0,
      exposeCheckErrors: true,
      checks: { db: () => { throw new Error('pool exhausted') }, flag: () => false }
    })
    const { origin } = await serveInProcess(g)
    for (let i = 0; i < 3; i++) {
      const failing = await fetchOnce(origin, '/healthz')
      expect(failing.status).toBe(503)
      expect(JSON.parse(failing.body)).toMatchObject({
        checks: { db: { status: 'failed', error: 'pool exhausted' }, flag: { status: 'failed', error: 'returned false' } }
      })
    }
    const logged = lines.filter(line => line.msg?.startsWith('graceful: readiness check') === true)
    expect(logged.map(line => line.obj['check']).sort()).toEqual(['db', 'flag'])
    expect(logged.find(line => line.obj['check'] === 'db')).toMatchObject({ level: 'warn', obj: { error: 'pool exhausted' } })
  })

  it('a check that hangs is cut at checkTimeout, reported as timed-out, and its signal aborts', async () => {
    let aborted: unknown
    const g = instance({
      checkTimeout: 150,
      checks: { slow: (signal) => new Promise(() => { signal.addEventListener('abort', () => { aborted = signal.reason }) }) }
    })
    const { origin } = await serveInProcess(g)
    const started = performance.now()
    const response = await fetchOnce(origin, '/healthz')
    const took = performance.now() - started
    expect(response.status).toBe(503)
    expect(JSON.parse(response.body)).toMatchObject({ status: 'failing', checks: { slow: { status: 'timed-out' } } })
    expect(took).toBeGreaterThanOrEqual(140)
    expect(took).toBeLessThan(3_000)
    expect(aborted).toBeInstanceOf(Error)
  })

  it('reuse a result for checkMaxAge: probes in that window do not run the checks again', async () => {
    let runs = 0
    const g = instance({ checkMaxAge: 60_000, checks: { db: () => { runs++ } } })
    const { origin } = await serveInProcess(g)
    for (let i = 0; i < 5; i++) expect((await fetchOnce(origin, '/healthz')).status).toBe(200)
    expect(runs).toBe(1)
    const fresh = instance({ checkMaxAge: 0, checks: { db: () => { runs++ } } })
    const other = await serveInProcess(fresh)
    for (let i = 0; i < 3; i++) expect((await fetchOnce(other.origin, '/healthz')).status).toBe(200)
    expect(runs).toBe(4)
  })

  it('a storm of concurrent probes shares one run of the checks, even with no cache', async () => {
    const db = gate()
    const g = instance({ checkMaxAge: 0, checkTimeout: 20_000, checks: { db: db.check } })
    const { origin, server } = await serveInProcess(g)
    const arrived = requestsArriving(server, 40)
    const probes = Array.from({ length: 40 }, () => fetchOnce(origin, '/healthz'))
    // Every probe has reached graceful and waits on the one run; then the check may finish.
    await arrived
    expect(db.runs()).toBe(1)
    db.open()
    const responses = await Promise.all(probes)
    expect(responses.map(response => response.status)).toEqual(Array.from({ length: 40 }, () => 200))
    expect(db.runs()).toBe(1)
  })

  it('liveness never runs the checks: a failing dependency must not get the pod restarted', async () => {
    let runs = 0
    const g = instance({ checks: { db: () => { runs++; throw new Error('down') } } })
    const { origin } = await serveInProcess(g)
    expect((await fetchOnce(origin, '/livez')).status).toBe(200)
    expect(runs).toBe(0)
  })

  it('do not run once shutdown has begun: readiness is 503 then anyway', async () => {
    let runs = 0
    const g = instance({ preStopDelay: 300, checks: { db: () => { runs++ } } })
    const { origin } = await serveInProcess(g)
    const done = g.shutdown()
    const response = await fetchOnce(origin, '/healthz')
    expect(response.status).toBe(503)
    expect(JSON.parse(response.body)).toEqual({ status: 'shutting down', phase: 'stopping' })
    expect(runs).toBe(0)
    await done
  })
})

describe('HEAD and GET', () => {
  it('HEAD gets the status and headers of GET without a body, for 200 and for 503', async () => {
    const g = instance({ preStopDelay: 300, checks: { db: () => true } })
    const { origin } = await serveInProcess(g)
    const head = await fetchOnce(origin, '/healthz', { method: 'HEAD' })
    expect(head).toMatchObject({ status: 200, body: '' })
    expect(head.headers['content-type']).toMatch(/application\/json/)
    const done = g.shutdown()
    const stopping = await fetchOnce(origin, '/healthz', { method: 'HEAD' })
    expect(stopping).toMatchObject({ status: 503, body: '' })
    expect(stopping.headers['retry-after']).toMatch(/^\d+$/)
    expect(stopping.headers['cache-control']).toBe('no-store')
    const post = await fetchOnce(origin, '/livez', { method: 'POST' })
    expect(post.status).toBe(405)
    await done
  })
})

describe('startup gating', () => {
  it('with startup "manual", readiness is 503 "starting" until ready(), while liveness is 200 throughout', async () => {
    const g = instance({ startup: 'manual' })
    const { origin } = await serveInProcess(g)
    expect(g.started).toBe(false)
    const starting = await fetchOnce(origin, '/healthz')
    expect(starting.status).toBe(503)
    expect(starting.headers['retry-after']).toMatch(/^\d+$/)
    expect(JSON.parse(starting.body)).toEqual({ status: 'starting', phase: 'running' })
    expect((await fetchOnce(origin, '/livez')).status).toBe(200)
    expect(g.ready()).toBe(g)
    expect(g.started).toBe(true)
    expect((await fetchOnce(origin, '/healthz')).status).toBe(200)
  })

  it('the Express middleware and the Fastify decorator carry ready()', async () => {
    const middleware = graceful({ ...quiet, startup: 'manual' })
    instances.push(middleware.graceful)
    expect(middleware.graceful.started).toBe(false)
    expect(middleware.ready()).toBe(middleware)
    expect(middleware.graceful.started).toBe(true)
    const fastify = Fastify()
    try {
      await fastify.register(gracefulPlugin, { ...quiet, startup: 'manual' })
      expect((await fastify.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503)
      fastify.graceful.ready()
      expect((await fastify.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    } finally {
      await fastify.close()
    }
  })
})

describe('probes are not application work', () => {
  it('a probe waiting on its checks is not in flight, and the drain does not count it', async () => {
    const db = gate()
    const g = instance({ checkTimeout: 20_000, checks: { db: db.check } })
    const { origin, server } = await serveInProcess(g, (_req, res) => { setTimeout(() => res.end('ok'), 200) })
    const probe = fetchOnce(origin, '/healthz')
    await db.started
    expect(g.inFlight).toBe(0)
    const work = fetchOnce(origin, '/work')
    await once(server, 'request')
    expect(g.inFlight).toBe(1)
    db.open()
    expect((await probe).status).toBe(200)
    expect((await work).status).toBe(200)
    expect(g.inFlight).toBe(0)
  })

  it('probes during the lame duck are not counted as served, and a keep-alive probe socket is closed as idle', async () => {
    const g = instance({ preStopDelay: 400, drainTimeout: 20_000 })
    const { port } = await serveInProcess(g)
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    try {
      socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n')
      await once(socket, 'data')
      const closed = closeOf(socket)
      const done = g.shutdown()
      const origin = `http://127.0.0.1:${port}`
      expect((await fetchOnce(origin, '/healthz')).status).toBe(503)
      expect((await fetchOnce(origin, '/work')).status).toBe(200)
      const report = await done
      await closed
      expect(report.requests.servedWhileStopping).toBe(1)
      expect(report.sockets.forced).toBe(0)
      expect(report.sockets.closedIdle).toBe(1)
      expect(report.durationMs).toBeLessThan(5_000)
    } finally {
      socket.destroy()
    }
  })
})

describe('probes bypass the application', () => {
  it('node:http: an attached server answers probes before its request handler runs', async () => {
    const g = instance()
    let handled = 0
    const { origin } = await serveInProcess(g, (_req, res) => { handled++; res.writeHead(401).end() })
    expect((await fetchOnce(origin, '/healthz')).status).toBe(200)
    expect((await fetchOnce(origin, '/livez')).status).toBe(200)
    expect((await fetchOnce(origin, '/private')).status).toBe(401)
    expect(handled).toBe(1)
  })

  it('Express: probes pass an authentication middleware mounted before graceful, once the server is attached', async () => {
    const shutdown = graceful(quiet)
    instances.push(shutdown.graceful)
    const app = express()
    app.use((req, res, next) => { if (req.headers.authorization === undefined) res.status(401).end(); else next() })
    app.use(shutdown)
    app.get('/private', (_req, res) => { res.send('secret') })
    const { origin } = await serveInProcess(shutdown, app)
    expect((await fetchOnce(origin, '/healthz')).status).toBe(200)
    expect((await fetchOnce(origin, '/private')).status).toBe(401)
    expect((await fetchOnce(origin, '/private', { headers: { authorization: 'x' } })).body).toBe('secret')
  })

  it('Express on a server never attached: the middleware answers the first probe, tracks it as a probe, and adopts the server', async () => {
    const db = gate()
    const shutdown = graceful({ ...quiet, checkTimeout: 20_000, checkMaxAge: 0, checks: { db: db.check } })
    instances.push(shutdown.graceful)
    const app = express()
    const seen: string[] = []
    app.use((req, _res, next) => { seen.push(req.url); next() })
    app.use(shutdown)
    app.get('/work', (_req, res) => { res.send('ok') })
    const { origin } = await serveInProcess({ attach: () => undefined }, app)
    const probe = fetchOnce(origin, '/healthz')
    await db.started
    expect(shutdown.inFlight).toBe(0)
    db.open()
    expect((await probe).status).toBe(200)
    // Adopted: the next probe is answered ahead of Express (its first middleware never sees it).
    expect((await fetchOnce(origin, '/livez')).status).toBe(200)
    expect((await fetchOnce(origin, '/work')).body).toBe('ok')
    expect(seen).toEqual(['/healthz', '/work'])
  })

  it('Fastify: probes on the real socket skip onRequest hooks', async () => {
    const fastify = Fastify()
    try {
      await fastify.register(gracefulPlugin, quiet)
      let hooked = 0
      fastify.addHook('onRequest', async (_request, reply) => { hooked++; return reply.code(401).send() })
      await fastify.listen({ port: 0, host: '127.0.0.1' })
      const origin = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`
      expect((await fetchOnce(origin, '/healthz')).status).toBe(200)
      expect((await fetchOnce(origin, '/livez', { method: 'HEAD' })).status).toBe(200)
      expect((await fetchOnce(origin, '/other')).status).toBe(401)
      expect(hooked).toBe(1)
    } finally {
      await fastify.close()
    }
  })

  it('dispose() gives the server its own emit back', () => {
    const g = createGraceful(quiet)
    const server = createServer()
    const own: unknown = Reflect.get(server, 'emit')
    g.attach(server)
    expect(Reflect.get(server, 'emit')).not.toBe(own)
    g.dispose()
    expect(Reflect.get(server, 'emit')).toBe(own)
    expect(Object.hasOwn(server, 'emit')).toBe(false)
  })

  it('two instances on one server: disposing either leaves the other answering its probes, and a disposed one answers none', async () => {
    const first = instance()
    const second = instance({ readinessPath: '/ready', livenessPath: '/alive' })
    const { server, origin } = await serveInProcess(first, (req, res) => { res.end(`app ${req.url ?? ''}`) })
    second.attach(server)
    expect((await fetchOnce(origin, '/healthz')).body).toMatch(/"status":"ok"/)
    expect((await fetchOnce(origin, '/ready')).body).toMatch(/"status":"ok"/)
    first.dispose()
    expect((await fetchOnce(origin, '/healthz')).body).toBe('app /healthz')
    expect((await fetchOnce(origin, '/ready')).body).toMatch(/"status":"ok"/)
    second.dispose()
    expect((await fetchOnce(origin, '/healthz')).body).toBe('app /healthz')
    expect((await fetchOnce(origin, '/ready')).body).toBe('app /ready')
  })

  it.each(['node', 'express', 'fastify'] as const)('%s in a child process: probes answer 200 behind an app that refuses everything else, 503 after SIGTERM', async (framework) => {
    const app = new Fixture({ framework, auth: true, options: { preStopDelay: 600 } })
    const port = await app.ready()
    const origin = `http://127.0.0.1:${port}`
    expect((await fetchOnce(origin, '/healthz')).status).toBe(200)
    expect((await fetchOnce(origin, '/work')).status).toBe(401)
    app.kill('SIGTERM')
    await app.shutdownStarted()
    expect((await fetchOnce(origin, '/healthz')).status).toBe(503)
    expect((await fetchOnce(origin, '/livez')).status).toBe(200)
    expect((await app.exited).code).toBe(0)
    // The probes were neither served work nor in flight.
    expect(app.report().requests.servedWhileStopping).toBe(0)
  })
})

describe('probe options', () => {
  it.each([
    ['checks that are not an object', { checks: [] }, /`checks` must be an object of named check functions/],
    ['a check that is not a function', { checks: { db: 'select 1' } }, /`checks\.db` must be a function; received "select 1"/],
    ['a negative checkTimeout', { checkTimeout: -1 }, /`checkTimeout` must be/],
    ['a checkMaxAge in seconds as a string', { checkMaxAge: '1s' }, /`checkMaxAge` must be/],
    ['exposeCheckErrors as a string', { exposeCheckErrors: 'yes' }, /`exposeCheckErrors` must be true or false/],
    ['an unknown startup mode', { startup: 'later' }, /`startup` must be "auto" or "manual"; received "later"/],
    ['a typo in startup', { startUp: 'manual' }, /Did you mean `startup`\?/]
  ])('rejects %s', (_name, options, message) => {
    expect(() => createGraceful({ ...quiet, ...options } as never)).toThrow(message)
  })
})
