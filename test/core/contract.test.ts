// One contract, run against node:http, Express 5, Express 4 and Fastify: real sockets, child processes, real signals.
import { Client } from 'undici'
import { describe, expect, it } from 'vitest'
import { Fixture, frameworks } from '../helpers/index.js'
import { underLoad } from '../helpers/load.js'
import { closeOf, exchange, fetchOnce, openSocket, origin, rawGet, responseOf } from '../helpers/sockets.js'

describe.each(frameworks)('%s', (framework) => {
  it('32 keep-alive clients under load at SIGTERM: every request written gets a full response, each client is told to go', async () => {
    // The quiet window is widened from 100 to 500 ms: on a shared two-core CI machine this test process can be starved
    // of CPU for longer than 100 ms between two requests of a client, which is the accepted race of the design, not
    // the behaviour under test. The drain tests cover the default window.
    const app = new Fixture({ framework, options: { drainTimeout: 15_000, idleSocketGrace: 500 } })
    const port = await app.ready()
    // SIGTERM after 400 responses; no SIGKILL after it: the drain deadline (15 s) bounds the run.
    const outcome = await underLoad(app, port, { clients: 32, before: 400, gracePeriod: false })
    const exit = await app.exited
    expect(outcome.failures).toEqual([])
    // Refused at connect: the listener had closed and no byte of the request was written. Every client and load
    // balancer retries that elsewhere.
    expect(outcome.refused).toBe(32)
    // Each client's last response before the refusal told it to go.
    expect(outcome.told.filter(Boolean)).toHaveLength(32)
    expect(exit.code).toBe(0)
    const report = app.report()
    expect(report.sockets.forced).toBe(0)
    expect(report.requests.forced).toEqual([])
    expect(report.sockets.openAtDrain).toBeGreaterThanOrEqual(32)
  })

  it('in-flight responses at SIGTERM complete and carry Connection: close', async () => {
    const app = new Fixture({ framework })
    const port = await app.ready()
    const clients = Array.from({ length: 8 }, () => new Client(origin(port)))
    try {
      const responses = clients.map(async client => {
        return await responseOf(await client.request({ method: 'GET', path: '/slow?ms=600' }))
      })
      await app.started('/slow', 8)
      app.kill('SIGTERM')
      for (const response of await Promise.all(responses)) {
        expect(response).toEqual({ status: 200, connection: 'close', body: 'slow done' })
      }
    } finally {
      await Promise.all(clients.map(client => client.destroy()))
    }
    expect((await app.exited).code).toBe(0)
    expect(app.report().requests.inFlightAtDrain).toBe(8)
    expect(app.report().requests.completedDuringDrain).toBe(8)
    expect(app.report().sockets.closedAfterResponse).toBe(8)
  })

  it('an idle keep-alive client does not delay exit', async () => {
    const app = new Fixture({ framework, keepAliveTimeout: 60_000 })
    const port = await app.ready()
    const socket = await openSocket(port)
    try {
      expect(await exchange(socket, rawGet('/work'))).toMatch(/^HTTP\/1\.1 200[\s\S]*keep-alive/i)
      const closed = closeOf(socket)
      const signalled = app.kill('SIGTERM')
      const exit = await app.exited
      await closed
      expect(exit.code).toBe(0)
      // keepAliveTimeout is 60 s: only graceful closing the idle socket lets the process leave this early.
      expect(exit.at - signalled).toBeLessThan(3_000)
      expect(app.report().sockets.closedIdle).toBe(1)
    } finally {
      socket.destroy()
    }
  })

  it('a socket that never sent a byte does not delay exit', async () => {
    const app = new Fixture({ framework, options: { drainTimeout: 30_000 } })
    const port = await app.ready()
    const socket = await openSocket(port)
    try {
      const closed = closeOf(socket)
      const signalled = app.kill('SIGTERM')
      const exit = await app.exited
      await closed
      expect(exit.code).toBe(0)
      // Node would hold it until headersTimeout (60 s); the drain deadline is 30 s.
      expect(exit.at - signalled).toBeLessThan(5_000)
      expect(app.report().sockets).toMatchObject({ closedIdle: 1, forced: 0 })
    } finally {
      socket.destroy()
    }
  })

  it('during the lame duck new connections are served, /healthz is 503 and /livez 200', async () => {
    const app = new Fixture({ framework, options: { preStopDelay: 1_500 } })
    const port = await app.ready()
    expect((await fetchOnce(origin(port), '/healthz')).status).toBe(200)
    app.kill('SIGTERM')
    await app.shutdownStarted()
    const work = await fetchOnce(origin(port), '/work')
    expect(work.status).toBe(200)
    expect(work.body).toBe('ok')
    const ready = await fetchOnce(origin(port), '/healthz')
    expect(ready.status).toBe(503)
    expect(ready.headers['retry-after']).toMatch(/^\d+$/)
    expect(ready.headers['cache-control']).toBe('no-store')
    expect(JSON.parse(ready.body)).toMatchObject({ phase: 'stopping' })
    const live = await fetchOnce(origin(port), '/livez')
    expect(live.status).toBe(200)
    const exit = await app.exited
    expect(exit.code).toBe(0)
    const report = app.report()
    // The /work request; the probes are not application work and are not counted.
    expect(report.requests.servedWhileStopping).toBe(1)
    expect(report.phases.stopping).toBeGreaterThanOrEqual(1_400)
  })

  it('a keep-alive request sent on a socket that turned idle a moment before the drain is answered, not reset', async () => {
    // The client's next request goes out 300 ms after the app said draining began, long after its event loop has
    // polled again (so only the quiet window can save it), and well inside a window widened so that a starved runner
    // cannot decide it. Timed from the draining line, not from the signal: a starved app may start draining late.
    const app = new Fixture({ framework, phases: true, options: { idleSocketGrace: 5_000, drainTimeout: 10_000 } })
    const port = await app.ready()
    const idle = await openSocket(port)
    try {
      await exchange(idle, rawGet('/work'))
      app.kill('SIGTERM')
      await app.waitFor(event => event.event === 'phase' && event.phase === 'draining', 'draining')
      await new Promise(resolve => setTimeout(resolve, 300))
      const late = await exchange(idle, rawGet('/work'))
      expect(late).toMatch(/^HTTP\/1\.1 200/)
      expect(late).toMatch(/connection: close/i)
      expect((await app.exited).code).toBe(0)
    } finally {
      idle.destroy()
    }
  })

  it('a connection queued while the event loop was held is accepted and answered before the listener closes, not reset', async () => {
    // The fixture stops its event loop at the signal until released (a long task would do the same), and has no lame
    // duck: the listener is to close as soon as the event loop runs again. The kernel completes this connection's
    // handshake meanwhile and queues it, with its request, for an accept that only a poll of the event loop makes.
    const app = new Fixture({ framework, holdAtSignal: true })
    const port = await app.ready()
    app.kill('SIGTERM')
    await app.waitFor(event => event.event === 'holding', 'the process held at the signal')
    const queued = await openSocket(port)
    try {
      const answer = exchange(queued, rawGet('/work'))
      app.release()
      const response = await answer
      expect(response).toMatch(/^HTTP\/1\.1 200/)
      expect(response).toMatch(/connection: close/i)
      expect((await app.exited).code).toBe(0)
    } finally {
      queued.destroy()
    }
  })

  it('a keep-alive socket whose response headers left before the signal is closed once its response ends', async () => {
    // The case of fastify#7044: the response cannot carry Connection: close any more, so the socket would stay
    // open until keepAliveTimeout (60 s here) after the response ends.
    const app = new Fixture({ framework, keepAliveTimeout: 60_000 })
    const port = await app.ready()
    const socket = await openSocket(port)
    try {
      let data = ''
      socket.on('data', (chunk: Buffer) => { data += chunk.toString() })
      socket.write('GET /stream?ms=400 HTTP/1.1\r\nHost: localhost\r\n\r\n')
      await app.started('/stream')
      const closed = closeOf(socket)
      const signalled = app.kill('SIGTERM')
      const exit = await app.exited
      await closed
      expect(data).toMatch(/^HTTP\/1\.1 200/)
      expect(data).toMatch(/keep-alive/i)
      expect(data).toMatch(/stream done/)
      expect(exit.code).toBe(0)
      expect(exit.at - signalled).toBeLessThan(3_000)
    } finally {
      socket.destroy()
    }
  })

  it('pipelined requests in flight at SIGTERM all get their responses, and only the last says Connection: close', async () => {
    const app = new Fixture({ framework })
    const port = await app.ready()
    const socket = await openSocket(port)
    try {
      let data = ''
      socket.setEncoding('latin1')
      socket.on('data', (chunk: string) => { data += chunk })
      const closed = closeOf(socket)
      const request = (ms: number): string => `GET /slow?ms=${ms} HTTP/1.1\r\nHost: localhost\r\n\r\n`
      socket.write(request(300) + request(200) + request(100))
      await app.started('/slow', 3)
      app.kill('SIGTERM')
      await closed
      const heads = data.split('HTTP/1.1 ').slice(1)
      expect(heads).toHaveLength(3)
      expect(heads.map(head => /connection: close/i.test(head))).toEqual([false, false, true])
      expect(data.match(/slow done/g)).toHaveLength(3)
      expect((await app.exited).code).toBe(0)
    } finally {
      socket.destroy()
    }
  })

  it('the process exits right after the last in-flight response ends, not at a later tick', async () => {
    const app = new Fixture({ framework, countTurns: true })
    const port = await app.ready()
    const client = new Client(origin(port))
    try {
      const response = client.request({ method: 'GET', path: '/slow?ms=500' })
      await app.started('/slow')
      app.kill('SIGTERM')
      const res = await response
      expect(await res.body.text()).toBe('slow done')
      expect((await app.exited).code).toBe(0)
    } finally {
      await client.destroy()
    }
    // Counted inside the child in event-loop turns, not milliseconds, so that a starved machine cannot fail it: from
    // the response's end to the exit takes a few turns; a drain that polls or waits on a timer spins through
    // thousands while its period passes.
    expect(app.eventsNamed('exit')[0]!['turnsAfterFinish']).toBeLessThan(100)
  })

  it('a hanging request is cut at drainTimeout, reported by method, path and age, and the exit code is 1', async () => {
    const app = new Fixture({ framework, options: { drainTimeout: 800 } })
    const port = await app.ready()
    const client = new Client(origin(port))
    try {
      const response = client.request({ method: 'GET', path: '/hang?token=secret' }).catch((err: unknown) => err)
      await app.started('/hang')
      const signalled = app.kill('SIGTERM')
      const exit = await app.exited
      expect(await response).toBeInstanceOf(Error)
      expect(exit.code).toBe(1)
      expect(exit.at - signalled).toBeGreaterThanOrEqual(700)
      expect(exit.at - signalled).toBeLessThan(5_000)
    } finally {
      await client.destroy()
    }
    const report = app.report()
    expect(report.exitCode).toBe(1)
    expect(report.sockets.forced).toBe(1)
    expect(report.requests.forced).toHaveLength(1)
    expect(report.requests.forced[0]).toMatchObject({ method: 'GET', path: '/hang' })
    expect(report.requests.forced[0]!.ageMs).toBeGreaterThanOrEqual(700)
  })

  it('a second signal exits at once', async () => {
    const app = new Fixture({ framework, options: { drainTimeout: 60_000 } })
    const port = await app.ready()
    const client = new Client(origin(port))
    try {
      const response = client.request({ method: 'GET', path: '/hang' }).catch((err: unknown) => err)
      await app.started('/hang')
      app.kill('SIGTERM')
      await app.shutdownStarted()
      const second = app.kill('SIGINT')
      const exit = await app.exited
      expect(await response).toBeInstanceOf(Error)
      expect(exit.code).toBe(1)
      expect(exit.at - second).toBeLessThan(2_000)
      expect(app.events.some(e => typeof e.msg === 'string' && e.msg.includes('second SIGINT'))).toBe(true)
    } finally {
      await client.destroy()
    }
  })

  it('cleanup hooks run after the last response, last registered first; a throwing and a hanging hook are bounded and reported', async () => {
    const app = new Fixture({
      framework,
      hooks: [
        { name: 'pool' },
        { name: 'thrower', behavior: 'throw' },
        { name: 'hanger', behavior: 'hang', timeout: 300 },
        { name: 'metrics' }
      ]
    })
    const port = await app.ready()
    const client = new Client(origin(port))
    try {
      const response = client.request({ method: 'GET', path: '/slow?ms=400' })
      await app.started('/slow')
      const signalled = app.kill('SIGTERM')
      expect(await (await response).body.text()).toBe('slow done')
      const exit = await app.exited
      expect(exit.code).toBe(1)
      expect(exit.at - signalled).toBeLessThan(5_000)
    } finally {
      await client.destroy()
    }
    const hooks = app.eventsNamed('hook')
    expect(hooks.map(h => h['name'])).toEqual(['metrics', 'hanger', 'thrower', 'pool'])
    const finished = app.eventsNamed('finished')[0]!
    for (const hook of hooks) expect(hook.t).toBeGreaterThanOrEqual(finished.t)
    const report = app.report()
    const byName = Object.fromEntries(report.hooks.map(hook => [hook.name, hook]))
    expect(byName['metrics']!.status).toBe('ok')
    expect(byName['hanger']).toMatchObject({ status: 'timed-out' })
    expect(byName['hanger']!.durationMs).toBeGreaterThanOrEqual(290)
    expect(byName['thrower']).toMatchObject({ status: 'failed', error: 'thrower broke' })
    expect(byName['pool']!.status).toBe('ok')
    if (framework === 'fastify') {
      // Fastify's own close (and its onClose hooks) runs first in the cleanup, after the drain.
      expect(report.hooks[0]!.name).toBe('close')
      const onClose = app.eventsNamed('fastify-onClose')[0]!
      expect(onClose.t).toBeGreaterThanOrEqual(finished.t)
      expect(onClose.t).toBeLessThanOrEqual(hooks[0]!.t)
    }
  })

  it('a signal before any request exits at once and clean', async () => {
    const app = new Fixture({ framework })
    await app.ready()
    const signalled = app.kill('SIGTERM')
    const exit = await app.exited
    expect(exit.code).toBe(0)
    expect(exit.at - signalled).toBeLessThan(2_000)
    expect(app.report()).toMatchObject({ reason: 'SIGTERM', exitCode: 0 })
  })

  it('a signal before listen exits clean', async () => {
    const app = new Fixture({ framework, listen: false })
    await app.ready()
    app.kill('SIGTERM')
    const exit = await app.exited
    expect(exit.code).toBe(0)
    expect(app.report().exitCode).toBe(0)
  })
})
