// Testing a Fastify app with graceful through inject() (vitest; runs in this repository's suite).
import Fastify from 'fastify'
import { expect, test } from 'vitest'
import { testOptions } from '@graceful/core/testing'
import { gracefulPlugin } from '@graceful/fastify'

async function build () {
  const fastify = Fastify()
  // No signals, no exit, no log: the test drives the shutdown. A short lame duck, to look at it.
  await fastify.register(gracefulPlugin, { ...testOptions, preStopDelay: 200 })
  fastify.get('/orders', async () => ({ orders: [] }))
  return fastify
}

test('readiness says 503 once the shutdown has begun, while liveness stays 200', async () => {
  const fastify = await build()
  expect((await fastify.inject('/healthz')).statusCode).toBe(200)
  const shutdown = fastify.graceful.shutdown()
  expect((await fastify.inject('/healthz')).statusCode).toBe(503)
  expect((await fastify.inject('/livez')).statusCode).toBe(200)
  expect((await shutdown).exitCode).toBe(0)
})

test('closing the app in a teardown runs the same drain and hooks', async () => {
  const fastify = await build()
  const closed = []
  fastify.graceful.onShutdown('db', () => { closed.push('db') })
  expect((await fastify.inject('/orders')).json()).toEqual({ orders: [] })
  await fastify.close()
  expect(fastify.graceful.state).toBe('stopped')
  expect(closed).toEqual(['db'])
})
