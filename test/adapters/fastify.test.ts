// The Fastify glue itself; sockets do not matter here, so inject() stands in for a client.
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { gracefulPlugin, isGracefulError } from '@graceful/fastify'

const quiet = { exit: false, logger: false } as const

describe('@graceful/fastify', () => {
  it('decorates the instance and serves the health routes for GET and HEAD', async () => {
    const fastify = Fastify()
    await fastify.register(gracefulPlugin, { ...quiet, signals: [], readinessPath: '/ready' })
    try {
      expect(fastify.graceful.state).toBe('running')
      const ready = await fastify.inject({ method: 'GET', url: '/ready?from=probe' })
      expect(ready.statusCode).toBe(200)
      expect(ready.headers['cache-control']).toBe('no-store')
      expect(ready.json()).toEqual({ status: 'ok', phase: 'running' })
      const head = await fastify.inject({ method: 'HEAD', url: '/livez' })
      expect(head.statusCode).toBe(200)
      expect(head.body).toBe('')
      expect((await fastify.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(404)
    } finally {
      await fastify.close()
    }
  })

  it.each(['POST', 'PUT', 'DELETE'] as const)('answers another method on a probe path through inject() as on a socket: 405 with Allow, never the application: %s', async (method) => {
    const fastify = Fastify()
    await fastify.register(gracefulPlugin, { ...quiet, signals: [] })
    try {
      const response = await fastify.inject({ method, url: '/healthz' })
      expect(response.statusCode).toBe(405)
      expect(response.headers['allow']).toBe('GET, HEAD')
      expect(response.headers['cache-control']).toBe('no-store')
    } finally {
      await fastify.close()
    }
  })

  it('answers readiness 503 with Retry-After once shutdown has begun, while liveness stays 200', async () => {
    const fastify = Fastify()
    await fastify.register(gracefulPlugin, { ...quiet, signals: [], preStopDelay: 300 })
    const done = fastify.graceful.shutdown()
    const ready = await fastify.inject({ method: 'GET', url: '/healthz' })
    expect(ready.statusCode).toBe(503)
    expect(ready.headers['retry-after']).toBe('11')
    expect(ready.json()).toEqual({ status: 'shutting down', phase: 'stopping' })
    expect((await fastify.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200)
    const report = await done
    expect(report.hooks[0]).toMatchObject({ name: 'close', status: 'ok' })
  })

  it('rejects invalid options with a GracefulError at register time', async () => {
    const fastify = Fastify()
    let caught: unknown
    try {
      await fastify.register(gracefulPlugin, { ...quiet, signals: [], drainTimeout: -1 })
    } catch (err) {
      caught = err
    } finally {
      await fastify.close().catch(() => undefined)
    }
    expect(isGracefulError(caught, 'GRACEFUL_ERR_INVALID_DURATION')).toBe(true)
  })

  it('ignores Fastify\'s own register options such as prefix', async () => {
    const fastify = Fastify()
    await fastify.register(gracefulPlugin, { ...quiet, signals: [], prefix: '/api' } as never)
    try {
      expect((await fastify.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    } finally {
      await fastify.close()
    }
  })

  it('stops listening for signals when the app is closed directly', async () => {
    const before = process.listenerCount('SIGUSR2')
    const fastify = Fastify()
    await fastify.register(gracefulPlugin, { ...quiet, signals: ['SIGUSR2'] })
    await fastify.ready()
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1)
    await fastify.close()
    expect(process.listenerCount('SIGUSR2')).toBe(before)
  })
})
