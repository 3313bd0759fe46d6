// The paths a Fastify user takes that the docs' setup does not show: the app's own close(), inject(), the plugin
// registered in the wrong place or the wrong way. Sockets where sockets matter; inject() where they do not.
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Client } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { untilPhase } from '@graceful/core/testing'
import { gracefulPlugin, isGracefulError } from '@graceful/fastify'
import { Fixture, thrown } from '../helpers/index.js'

const apps: FastifyInstance[] = []
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close().catch(() => {})
})

/** A Fastify app with graceful whose /hold requests wait for `release()`, listening on 127.0.0.1. */
async function holdingApp (options: Record<string, unknown> = {}): Promise<{
  app: FastifyInstance
  origin: string
  arrived: Promise<void>
  release: () => void
  events: string[]
}> {
  const app = Fastify()
  apps.push(app)
  const events: string[] = []
  await app.register(gracefulPlugin, { logger: false, ...options })
  app.graceful.on('phase', ({ phase }) => events.push(phase))
  app.graceful.onShutdown('db', () => { events.push('onShutdown') })
  app.addHook('onClose', (_instance, next) => {
    events.push('onClose')
    next()
  })
  let release: () => void = () => {}
  let arrived: () => void = () => {}
  const arrival = new Promise<void>(resolve => { arrived = resolve })
  app.get('/hold', async () => {
    events.push('request')
    arrived()
    await new Promise<void>(resolve => { release = resolve })
    events.push('response')
    return 'held'
  })
  app.get('/', (_request, reply) => { void reply.send('ok') })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, arrived: arrival, release: () => { release() }, events }
}

describe('fastify.close() called directly', () => {
  it('runs the same drain: the in-flight request ends with Connection: close, idle keep-alive sockets close, then onClose, then the hooks', async () => {
    const { app, origin, arrived, release, events } = await holdingApp({ signals: [], exit: false })
    app.server.keepAliveTimeout = 60_000
    const idle = new Client(origin)
    const busy = new Client(origin)
    try {
      // An idle keep-alive connection, and a request in flight on another.
      await (await idle.request({ method: 'GET', path: '/' })).body.text()
      const held = busy.request({ method: 'GET', path: '/hold' })
      await arrived
      const started = performance.now()
      const closed = app.close()
      await untilPhase(app.graceful, 'draining')
      release()
      const response = await held
      expect(response.headers['connection']).toBe('close')
      expect(await response.body.text()).toBe('held')
      await closed
      // Bare Fastify would wait for the idle keep-alive socket until keepAliveTimeout (a minute here).
      expect(performance.now() - started).toBeLessThan(10_000)
      expect(app.graceful.state).toBe('stopped')
      expect(events).toEqual(['request', 'stopping', 'draining', 'response', 'cleanup', 'onClose', 'onShutdown', 'stopped'])
    } finally {
      await idle.destroy()
      await busy.destroy()
    }
  })

  it('during the lame duck every request is served with 200 and Connection: close, never 503; close() resolves after the hooks', async () => {
    const { app, origin, events } = await holdingApp({ signals: [], exit: false, preStopDelay: 3_000 })
    const closed = app.close()
    await untilPhase(app.graceful, 'stopping')
    // Fastify marks itself closing the moment its own close() starts, and answers 503 from then on: graceful holds
    // that close back until the drain is over. Fresh connections, as a balancer still routing here opens them.
    for (let i = 0; i < 3; i++) {
      const client = new Client(origin)
      try {
        const res = await client.request({ method: 'GET', path: '/' })
        expect([res.statusCode, res.headers['connection'], await res.body.text()]).toEqual([200, 'close', 'ok'])
      } finally {
        await client.destroy()
      }
    }
    expect(app.graceful.state).toBe('stopping')
    await closed
    expect(events).toEqual(['stopping', 'draining', 'cleanup', 'onClose', 'onShutdown', 'stopped'])
  })

  it('the callback form joins the same way: called once, with no error, after the hooks', async () => {
    const { app, events } = await holdingApp({ signals: [], exit: false })
    const returned = await new Promise<unknown>((resolve) => {
      const instance = app.close((err?: Error) => {
        events.push(`callback ${String(err)}`)
        resolve(instance)
      })
    })
    expect(returned).toBe(app)
    expect(events).toEqual(['stopping', 'draining', 'cleanup', 'onClose', 'onShutdown', 'stopped', 'callback undefined'])
  })

  it('leaves the process alone: a direct close is the application\'s, not a signal', async () => {
    const app = new Fixture({ framework: 'fastify', script: 'fastify-closes-itself.mjs', options: { exit: true } })
    await app.ready()
    const exit = await app.exited
    expect(app.eventsNamed('closed-directly')).toHaveLength(1)
    expect(app.report()).toMatchObject({ reason: 'fastify.close()', exitCode: 0 })
    // The fixture exits by itself with 7 once close() resolved: graceful did not exit it.
    expect(exit.code).toBe(7)
  })
})

describe('inject()', () => {
  it('an injected request counts in flight, and the drain and the hooks wait for it', async () => {
    const app = Fastify()
    apps.push(app)
    const events: string[] = []
    await app.register(gracefulPlugin, { signals: [], exit: false, logger: false })
    app.graceful.onShutdown('db', () => { events.push('onShutdown') })
    let release: () => void = () => {}
    let arrived: () => void = () => {}
    const arrival = new Promise<void>(resolve => { arrived = resolve })
    app.get('/hold', async () => {
      arrived()
      await new Promise<void>(resolve => { release = resolve })
      events.push('response')
      return 'held'
    })
    const injected = app.inject({ method: 'GET', url: '/hold' })
    await arrival
    expect(app.graceful.inFlight).toBe(1)
    const draining = new Promise<void>(resolve => { app.graceful.on('phase', ({ phase }) => { if (phase === 'draining') resolve() }) })
    const report = app.graceful.shutdown()
    await draining
    await new Promise(resolve => setImmediate(resolve))
    expect(events).toEqual([])
    release()
    expect((await injected).body).toBe('held')
    const done = await report
    expect(events).toEqual(['response', 'onShutdown'])
    expect(done.requests).toMatchObject({ inFlightAtDrain: 1, completedDuringDrain: 1, forced: [] })
    expect(done.exitCode).toBe(0)
  })

  it('the chain form and the callback form are followed too', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(gracefulPlugin, { signals: [], exit: false, logger: false })
    const seen: number[] = []
    app.get('/count', (_request, reply) => {
      seen.push(app.graceful.inFlight)
      void reply.send('ok')
    })
    expect((await app.inject().get('/count').end()).body).toBe('ok')
    await new Promise<void>((resolve, reject) => {
      app.inject({ method: 'GET', url: '/count' }, (err) => { if (err == null) resolve(); else reject(err) })
    })
    expect(seen).toEqual([1, 1])
    expect(app.graceful.inFlight).toBe(0)
  })
})

describe('registration mistakes', () => {
  it.each([
    { where: 'a prefixed', prefix: '/api' },
    { where: 'an encapsulated', prefix: undefined }
  ])('registered inside $where plugin: a GracefulError that says where to register it', async ({ prefix }) => {
    const app = Fastify()
    apps.push(app)
    void app.register((child, _options, next) => {
      void child.register(gracefulPlugin, { signals: [], exit: false, logger: false })
      next()
    }, prefix === undefined ? {} : { prefix })
    const error = await app.ready().then(() => undefined, (err: unknown) => err)
    expect(isGracefulError(error, 'GRACEFUL_ERR_NOT_AT_ROOT')).toBe(true)
    expect((error as Error).message).toMatch(/register it on the root instance/)
    expect(app.hasDecorator('graceful')).toBe(false)
  })

  it('registered from a plugin wrapped in fastify-plugin, it is at the root and works', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(fp(async (instance) => { await instance.register(gracefulPlugin, { signals: [], exit: false, logger: false }) }))
    expect(app.graceful.state).toBe('running')
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })

  it('registered twice, or called instead of registered: a GracefulError that says what to do', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(gracefulPlugin, { signals: [], exit: false, logger: false })
    const twice = await app.register(gracefulPlugin, { signals: [], exit: false, logger: false }).then(() => undefined, (err: unknown) => err)
    expect(isGracefulError(twice, 'GRACEFUL_ERR_ALREADY_REGISTERED')).toBe(true)
    const called = thrown(() => (gracefulPlugin as unknown as (options: object) => unknown)({ preStopDelay: 1_000 }))
    expect(isGracefulError(called, 'GRACEFUL_ERR_NOT_CALLED')).toBe(true)
    expect((called as Error).message).toMatch(/fastify\.register\(gracefulPlugin, options\)/)
  })
})

describe('a signal after a direct close began', () => {
  it('is joined: one sequence, and the shutdown still completes', async () => {
    const { app, origin, arrived, release } = await holdingApp({ signals: [], exit: false })
    const client = new Client(origin)
    try {
      const held = client.request({ method: 'GET', path: '/hold' })
      await arrived
      const closed = app.close()
      await untilPhase(app.graceful, 'stopping')
      const report = app.graceful.shutdown()
      release()
      await (await held).body.text()
      await closed
      expect((await report).reason).toBe('fastify.close()')
    } finally {
      await client.destroy()
    }
  })
})
