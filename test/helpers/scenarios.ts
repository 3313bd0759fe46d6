// The contract's core scenarios, for a fixture started by `fixture(config)`: the frameworks that run on the core
// (test/adapters/frameworks.test.ts) and other runtimes (test/packaging/runtimes.test.ts) run the same ones, as http-terminator's
// createTests(factory) does. Real sockets and a real SIGTERM each time.
import { Client } from 'undici'
import { expect, it, type TestContext } from 'vitest'
import { type Fixture, type FixtureConfig } from './index.js'
import { underLoad } from './load.js'
import { closeOf, exchange, fetchOnce, openSocket, origin, rawGet, responseOf } from './sockets.js'

export interface ScenarioOptions {
  /** A NestJS app: its lifecycle hooks and its @nestjs/terminus indicator are checked too. */
  nest?: boolean
  /** Why this runtime or framework cannot run the scenarios, if it cannot: each test then skips, saying so. */
  unsupported?: () => string | undefined
}

/** Registers the core scenarios in the current describe block. */
export function coreScenarios (fixture: (config?: Omit<FixtureConfig, 'framework'>) => Fixture, { nest = false, unsupported = () => undefined }: ScenarioOptions = {}): void {
  const skipIfUnsupported = (context: TestContext): void => {
    const reason = unsupported()
    if (reason === undefined) return
    console.warn(`skipped: ${reason}`)
    context.skip(reason)
  }

  it('16 keep-alive clients under load at SIGTERM: every request written gets its response, each client is told to go, exit 0', async (context) => {
    skipIfUnsupported(context)
    // A quiet window wide enough that a CPU-starved test process cannot open a gap between two requests of a client.
    const app = fixture({ options: { drainTimeout: 15_000, idleSocketGrace: 500 } })
    const outcome = await underLoad(app, await app.ready())
    const exit = await app.exited
    expect(outcome.failures).toEqual([])
    expect(outcome.refused).toBe(16)
    expect(outcome.told.filter(Boolean)).toHaveLength(16)
    expect(exit.code).toBe(0)
    expect(app.report().sockets.forced).toBe(0)
  })

  it('in-flight requests complete with Connection: close, an idle keep-alive socket is closed, hooks run after the drain, exit 0', async (context) => {
    skipIfUnsupported(context)
    const app = fixture({ hooks: [{ name: 'pool' }], keepAliveTimeout: 60_000 })
    const port = await app.ready()
    const clients = Array.from({ length: 4 }, () => new Client(origin(port)))
    const idle = await openSocket(port)
    try {
      expect(await exchange(idle, rawGet('/work'))).toMatch(/^HTTP\/1\.1 200[\s\S]*keep-alive/i)
      const idleClosed = closeOf(idle)
      const responses = clients.map(async client => {
        return await responseOf(await client.request({ method: 'GET', path: '/slow?ms=600' }))
      })
      await app.started('/slow', 4)
      const signalled = app.kill('SIGTERM')
      for (const response of await Promise.all(responses)) {
        expect(response).toEqual({ status: 200, connection: 'close', body: 'slow done' })
      }
      await idleClosed
      const exit = await app.exited
      expect(exit.code).toBe(0)
      // keepAliveTimeout is 60 s: only the drain closing the idle socket lets the process leave this early.
      expect(exit.at - signalled).toBeLessThan(5_000)
    } finally {
      idle.destroy()
      await Promise.all(clients.map(client => client.destroy()))
    }
    const report = app.report()
    expect(report.requests.inFlightAtDrain).toBe(4)
    expect(report.requests.completedDuringDrain).toBe(4)
    expect(report.sockets).toMatchObject({ closedIdle: 1, closedAfterResponse: 4, forced: 0 })
    const lastFinished = Math.max(...app.eventsNamed('finished').map(event => event.t))
    const pool = app.eventsNamed('hook')
    expect(pool.map(hook => hook['name'])).toEqual(['pool'])
    expect(pool[0]!.t).toBeGreaterThanOrEqual(lastFinished)
    if (nest) {
      // app.close() is graceful's `close`: Nest's lifecycle hooks run after the last response and before graceful's
      // own hooks. A direct app.close() passes them no signal.
      const nest = app.eventsNamed('nest')
      expect(nest.map(event => [event['hook'], event['signal']])).toEqual([
        ['onModuleDestroy', undefined],
        ['beforeApplicationShutdown', undefined],
        ['onApplicationShutdown', undefined]
      ])
      for (const event of nest) {
        expect(event.t).toBeGreaterThanOrEqual(lastFinished)
        expect(event.t).toBeLessThanOrEqual(pool[0]!.t)
      }
      expect(report.hooks.map(hook => [hook.name, hook.status])).toEqual([['close', 'ok'], ['pool', 'ok']])
    }
  })

  it('during the lame duck a new request is served with Connection: close, /healthz is 503 and /livez 200', async (context) => {
    skipIfUnsupported(context)
    const app = fixture({ options: { preStopDelay: 1_500 } })
    const port = await app.ready()
    expect((await fetchOnce(origin(port), '/healthz')).status).toBe(200)
    if (nest) {
      // A @nestjs/terminus indicator feeds readiness: it is 503 while the indicator is down.
      expect(JSON.parse((await fetchOnce(origin(port), '/healthz')).body)).toMatchObject({ checks: { database: { status: 'ok' } } })
      expect((await fetchOnce(origin(port), '/database/down', { method: 'POST' })).status).toBe(201)
      const failing = await fetchOnce(origin(port), '/healthz')
      expect(failing.status).toBe(503)
      expect(JSON.parse(failing.body)).toMatchObject({ status: 'failing', checks: { database: { status: 'failed' } } })
    }
    app.kill('SIGTERM')
    await app.shutdownStarted()
    const work = await fetchOnce(origin(port), '/work', { headers: { connection: 'keep-alive' } })
    expect(work).toMatchObject({ status: 200, body: 'ok' })
    expect(work.headers['connection']).toBe('close')
    const ready = await fetchOnce(origin(port), '/healthz')
    expect(ready.status).toBe(503)
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'shutting down', phase: 'stopping' })
    expect((await fetchOnce(origin(port), '/livez')).status).toBe(200)
    const exit = await app.exited
    expect(exit.code).toBe(0)
    expect(app.report().requests.servedWhileStopping).toBe(1)
    expect(app.report().phases.stopping).toBeGreaterThanOrEqual(1_400)
  })
}
