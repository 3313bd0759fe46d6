// Testing an Express app with graceful through supertest (vitest; runs in this repository's suite).
import express from 'express'
import request from 'supertest'
import { expect, test } from 'vitest'
import { simulateSignal, testOptions, untilPhase } from '@graceful/core/testing'
import { graceful } from '@graceful/express'

function build () {
  // No signals, no exit, no log: the test drives the shutdown.
  const shutdown = graceful({ ...testOptions, preStopDelay: 200 })
  const app = express()
  app.use(shutdown)
  app.get('/orders', (req, res) => { res.json({ orders: [] }) })
  return { app, shutdown }
}

test('serves the app and answers the probes', async () => {
  const { app } = build()
  expect((await request(app).get('/orders')).body).toEqual({ orders: [] })
  expect((await request(app).get('/healthz')).status).toBe(200)
})

test('a SIGTERM turns readiness to 503 while requests are still served', async () => {
  const { app, shutdown } = build()
  const report = simulateSignal(shutdown.graceful, 'SIGTERM')
  await untilPhase(shutdown.graceful, 'stopping')
  expect((await request(app).get('/healthz')).status).toBe(503)
  expect((await request(app).get('/orders')).status).toBe(200)
  expect((await report).reason).toBe('SIGTERM')
})
