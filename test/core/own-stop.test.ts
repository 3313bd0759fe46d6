// The application's own stop joins the sequence: each framework with graceful AND the shutdown its own documentation
// shows (a SIGTERM handler that closes the server and exits, close-with-grace, NestJS's enableShutdownHooks()), over
// real sockets and a real SIGTERM. Before graceful took these over, the listener closed at the signal (refused
// connections for the whole lame duck) and Fastify answered 503. The fixtures are test/fixtures/own-stop/*.mjs.
import { Client } from 'undici'
import { describe, expect, it } from 'vitest'
import { Fixture, type FixtureConfig } from '../helpers/index.js'
import { fetchOnce, responseOf } from '../helpers/sockets.js'

const usualWays: Array<[FixtureConfig['framework'], string, RegExp]> = [
  ['node', 'node.mjs', /own-stop[\\/]node\.mjs/],
  ['express', 'express.mjs', /own-stop[\\/]express\.mjs/],
  ['fastify', 'fastify.mjs', /^close-with-grace$/],
  ['koa', 'koa.mjs', /own-stop[\\/]koa\.mjs/],
  ['hono', 'hono.mjs', /own-stop[\\/]hono\.mjs/],
  ['nest-express', 'nest.mjs', /^NestJS's enableShutdownHooks\(\)$/],
  ['nest-fastify', 'nest.mjs', /^NestJS's enableShutdownHooks\(\)$/]
]

const request = async (client: Client, path: string): Promise<{ status: number, connection: unknown, body: string }> =>
  await responseOf(await client.request({ method: 'GET', path }))

describe.each(usualWays)('%s, closing itself on SIGTERM the way its documentation shows, next to graceful', (framework, script, origin) => {
  const fixture = (preStopDelay: string): Fixture =>
    new Fixture({ framework, script: `own-stop/${script}`, env: { GRACEFUL_PRE_STOP_DELAY: preStopDelay } })

  it('loses nothing during the lame duck: no 503, no refused connection, the request in flight answered, exit 0', async () => {
    const app = fixture('3s')
    const port = await app.ready()
    const origin = `http://127.0.0.1:${port}`
    const client = new Client(origin)
    try {
      const inFlight = request(client, '/work?ms=800')
      await app.started('/work')
      app.kill('SIGTERM')
      await app.shutdownStarted()
      // Fresh connections, as a balancer that has not yet heard of the shutdown opens them: five in a row take a few
      // milliseconds of the three-second lame duck.
      const fresh = []
      for (let i = 0; i < 5; i++) fresh.push(await fetchOnce(origin, '/work'))
      expect(fresh.map(res => [res.status, res.body, res.headers['connection']])).toEqual(Array(5).fill([200, 'ok', 'close']))
      expect(await inFlight).toEqual({ status: 200, connection: 'close', body: 'ok' })
    } finally {
      await client.destroy()
    }
    expect((await app.exited).code).toBe(0)
    expect(app.report()).toMatchObject({ exitCode: 0, sockets: { forced: 0 } })
    // The application's own stop ran once graceful's shutdown was over, not at the signal.
    const stopped = app.events.find(event => event.event === 'phase' && event['phase'] === 'stopped')!
    const ownStop = app.eventsNamed('own-stop')
    expect(ownStop.length).toBeGreaterThan(0)
    for (const event of ownStop) expect(event.t).toBeGreaterThanOrEqual(stopped.t)
  })

  it('names the competing SIGTERM listener at start-up, before any signal', async () => {
    const app = fixture('0ms')
    await app.ready()
    const warning = app.events.find(event => event['warning'] === 'competing-listener')
    expect(warning, JSON.stringify(app.events)).toBeDefined()
    expect(warning!['listener']).toMatch(origin)
    expect(app.events.indexOf(warning!)).toBeLessThan(app.events.findIndex(event => event.event === 'ready'))
    app.kill('SIGTERM')
    expect((await app.exited).code).toBe(0)
  })

  it('a response in flight at SIGTERM whose handler writes Connection: keep-alive says close, and the client opens a new connection', async () => {
    // A lame duck long enough that the client's next connection is served, not refused, on a busy machine too.
    const app = fixture('5s')
    const port = await app.ready()
    const client = new Client(`http://127.0.0.1:${port}`)
    try {
      const told = request(client, '/keep-alive?ms=300')
      await app.started('/keep-alive')
      app.kill('SIGTERM')
      expect(await told).toEqual({ status: 200, connection: 'close', body: 'ok' })
      // Told to close, the client does not send its next request on a connection about to be closed under it.
      expect(await request(client, '/keep-alive')).toEqual({ status: 200, connection: 'close', body: 'ok' })
    } finally {
      await client.destroy()
      // What the exit looks like is the first test's: this one need not wait out the lame duck.
      app.kill('SIGKILL')
    }
  })
})

describe('node:http writeHead with a flat list of headers', () => {
  it('a Connection: keep-alive in the list is replaced by close while shutting down', async () => {
    const app = new Fixture({ framework: 'node', script: 'own-stop/node.mjs', env: { GRACEFUL_PRE_STOP_DELAY: '0ms' } })
    const port = await app.ready()
    const client = new Client(`http://127.0.0.1:${port}`)
    try {
      const told = request(client, '/keep-alive-list?ms=400')
      await app.started('/keep-alive-list')
      app.kill('SIGTERM')
      expect(await told).toEqual({ status: 200, connection: 'close', body: 'ok' })
    } finally {
      await client.destroy()
    }
    expect((await app.exited).code).toBe(0)
  })
})

describe('an application that exits itself after graceful', () => {
  it('cannot hide a forced drain: its process.exit(0) after the report still exits 1', async () => {
    const app = new Fixture({ framework: 'node', script: 'own-stop/node.mjs', env: { GRACEFUL_PRE_STOP_DELAY: '0ms', GRACEFUL_DRAIN_TIMEOUT: '200ms' } })
    const port = await app.ready()
    const client = new Client(`http://127.0.0.1:${port}`)
    try {
      const cut = request(client, '/work?ms=5000').catch((err: unknown) => err)
      await app.started('/work')
      app.kill('SIGTERM')
      expect(await cut).toBeInstanceOf(Error)
    } finally {
      await client.destroy()
    }
    expect((await app.exited).code).toBe(1)
    expect(app.report()).toMatchObject({ exitCode: 1, sockets: { forced: 1 } })
    // The application's own handler did run, and called process.exit(0) itself ('exit' listeners hear that code).
    expect(app.eventsNamed('own-stop')).toHaveLength(1)
    expect(app.eventsNamed('exit')).toEqual([expect.objectContaining({ code: 0 })])
  })
})
