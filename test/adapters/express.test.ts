// The Express glue where sockets do not matter, tested the Express ecosystem's way (supertest); sockets and signals
// are in contract.test.ts and the other suites.
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import express from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { testOptions } from '@graceful/core/testing'
import { graceful } from '@graceful/express'
import { recordingLogger } from '../helpers/index.js'

// Express 4, installed under another name: its types are Express 5's, near enough for what these tests call.
const express4 = createRequire(import.meta.url)('express4') as typeof express

describe.each([['express 5', express], ['express 4', express4]] as const)('%s', (_name, createApp) => {
  it('app.use(graceful) without calling it answers every request 500 with a message that says to call it', async () => {
    const app = createApp()
    // The mistake being tested (TypeScript cannot refuse it: see test/packaging/types.test-d.ts).
    app.use(graceful as never)
    app.get('/', (_req, res) => { res.send('app') })
    const response = await request(app).get('/')
    expect(response.status).toBe(500)
    expect(response.text).toMatch(/graceful is a factory: call it/)
  })

  it.each(['/healthz', '/HEALTHZ', '/healthz/', '/Healthz/?probe=1', '/LIVEZ'])('answers every variant of a probe path that Express would route to the same route, ahead of the app: %s', async (path) => {
    const app = createApp()
    const shutdown = graceful({ ...testOptions })
    app.use(shutdown)
    app.use((_req, res) => { res.status(404).send('the app') })
    const response = await request(app).get(path)
    expect(response.status, path).toBe(200)
    expect(response.body, path).toMatchObject({ status: 'ok' })
  })

  it('leaves a path Express would not route to a probe\'s route to the app', async () => {
    const app = createApp()
    const shutdown = graceful({ ...testOptions })
    app.use(shutdown)
    app.use((_req, res) => { res.status(404).send('the app') })
    expect((await request(app).get('/healthzz')).text).toBe('the app')
    expect((await request(app).get('/healthz/more')).text).toBe('the app')
  })

  it('follows the app\'s own routing settings: with strict and case-sensitive routing only the exact path is a probe', async () => {
    const app = createApp()
    app.set('strict routing', true)
    app.set('case sensitive routing', true)
    const shutdown = graceful({ ...testOptions })
    app.use(shutdown)
    app.use((_req, res) => { res.status(404).send('the app') })
    expect((await request(app).get('/healthz')).status).toBe(200)
    expect((await request(app).get('/healthz/')).text).toBe('the app')
    expect((await request(app).get('/HEALTHZ')).text).toBe('the app')
  })

  it('warns once when a route the app declared sits on a probe path, which graceful answers first', async () => {
    const app = createApp()
    const { logger, lines } = recordingLogger()
    const shutdown = graceful({ ...testOptions, logger })
    app.use(shutdown)
    app.get('/healthz', (_req, res) => { res.send('my own health check') })
    expect((await request(app).get('/healthz')).body).toMatchObject({ status: 'ok' })
    await request(app).get('/healthz')
    const warnings = lines.filter(line => line.obj['warning'] === 'shadowed-route')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.msg).toMatch(/the app's route \/healthz is never reached/)
  })

  it('warns once when the middleware finds a server that was never attached', async () => {
    const app = createApp()
    const { logger, lines } = recordingLogger()
    app.use(graceful({ ...testOptions, logger }))
    app.get('/', (_req, res) => { res.send('ok') })
    const server = createServer(app)
    await request(server).get('/')
    await request(server).get('/')
    expect(lines.filter(line => line.obj['warning'] === 'attach')).toHaveLength(1)
  })

  it.each([
    { through: 'the middleware', withMiddleware: true },
    { through: 'attach() alone', withMiddleware: false }
  ])('req.shutdownSignal is there through $through', async ({ withMiddleware }) => {
    const app = createApp()
    const shutdown = graceful({ ...testOptions })
    if (withMiddleware) app.use(shutdown)
    app.get('/signal', (req, res) => { res.json({ aborted: req.shutdownSignal.aborted }) })
    const server = createServer(app)
    if (!withMiddleware) shutdown.attach(server)
    expect((await request(server).get('/signal')).body).toEqual({ aborted: false })
    expect((await request(server).get('/livez')).status).toBe(200)
  })
})
