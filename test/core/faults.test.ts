// Faults during a shutdown, in child processes with real signals: hooks that misbehave, handlers that throw, clients
// that never finish, signal storms, unhandled rejections. Each is bounded, reported, and ends with the right exit code.
// (Hooks that reject or hang, a hanging request and a second signal are in the contract suite.)
import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { Fixture } from '../helpers/index.js'
import { closeOf, exchange, openSocket, rawGet } from '../helpers/sockets.js'

const sockets = new Set<Socket>()

const open = (port: number): Promise<Socket> => openSocket(port, {
  encoding: 'latin1',
  opened: socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  }
})

async function withSockets (test: () => Promise<void>): Promise<void> {
  try {
    await test()
  } finally {
    for (const socket of sockets) socket.destroy()
  }
}

describe('faults in hooks', () => {
  it('a hook that throws synchronously is reported as failed, the other hooks still run, and the exit code is 1', async () => {
    const app = new Fixture({ framework: 'node', hooks: [{ name: 'pool' }, { name: 'broken', behavior: 'sync-throw' }] })
    await app.ready()
    app.kill('SIGTERM')
    expect((await app.exited).code).toBe(1)
    expect(app.eventsNamed('hook').map(hook => hook['name'])).toEqual(['broken', 'pool'])
    expect(app.report().hooks).toMatchObject([
      { name: 'broken', status: 'failed', error: 'broken broke at once' },
      { name: 'pool', status: 'ok' }
    ])
  })

  it('a hook that calls process.exit(0) itself is named in an error, and the exit code becomes 1', async () => {
    const app = new Fixture({ framework: 'express', hooks: [{ name: 'pool' }, { name: 'quitter', behavior: 'exit', code: 0 }] })
    await app.ready()
    const signalled = app.kill('SIGTERM')
    const exit = await app.exited
    expect(exit.code).toBe(1)
    expect(exit.at - signalled).toBeLessThan(5_000)
    // The hooks after it never ran, and no report came: the error says where the shutdown stopped.
    expect(app.eventsNamed('hook').map(hook => hook['name'])).toEqual(['quitter'])
    expect(app.reports()).toEqual([])
    const early = app.events.find(event => event.msg?.includes('exited during cleanup') === true)
    expect(early).toMatchObject({ phase: 'cleanup', hook: 'quitter', exitCode: 0 })
  })

  it('a hook that calls process.exit(3) keeps its own non-zero code', async () => {
    const app = new Fixture({ framework: 'node', hooks: [{ name: 'quitter', behavior: 'exit', code: 3 }] })
    await app.ready()
    app.kill('SIGTERM')
    expect((await app.exited).code).toBe(3)
    expect(app.events.some(event => event.msg?.includes('(hook "quitter")') === true)).toBe(true)
  })

  it('an unhandled rejection during the shutdown ends the process with 1 at once, and says in which phase', async () => {
    const app = new Fixture({ framework: 'express', hooks: [{ name: 'pool' }, { name: 'careless', behavior: 'unhandled' }] })
    await app.ready()
    const signalled = app.kill('SIGTERM')
    const exit = await app.exited
    // Node's own rule for an unhandled rejection (it throws): graceful neither swallows it nor hides it.
    expect(exit.code).toBe(1)
    expect(exit.at - signalled).toBeLessThan(5_000)
    expect(app.stderr.join('')).toContain('careless forgot a rejection')
    expect(app.events.find(event => event.msg?.includes('before the shutdown finished') === true))
      .toMatchObject({ phase: 'cleanup', exitCode: 1 })
    expect(app.reports()).toEqual([])
  })
})

describe('faults in requests and clients', () => {
  it.each(['express', 'fastify'] as const)('%s: a handler that throws during the drain gets its 500 with Connection: close, and the drain stays clean', async (framework) => {
    await withSockets(async () => {
      const app = new Fixture({ framework, phases: true })
      const port = await app.ready()
      const slow = await open(port)
      const failing = await open(port)
      const inFlight = exchange(slow, rawGet('/slow?ms=400'))
      await app.started('/slow')
      app.kill('SIGTERM')
      await app.waitFor(event => event.event === 'phase' && event['phase'] === 'draining', 'draining')
      const broken = await exchange(failing, rawGet('/throw'))
      expect(broken).toMatch(/^HTTP\/1\.1 500/)
      expect(broken).toMatch(/connection: close/i)
      expect(await inFlight).toMatch(/slow done/)
      expect((await app.exited).code).toBe(0)
      expect(app.report().sockets.forced).toBe(0)
    })
  })

  it('a slowloris client (headers a byte at a time, never finished) is cut at drainTimeout and reported', async () => {
    await withSockets(async () => {
      const app = new Fixture({ framework: 'express', options: { drainTimeout: 1_000 } })
      const port = await app.ready()
      const slowloris = await open(port)
      const headers = 'GET /work HTTP/1.1\r\nHost: localhost\r\nX-Padding: ' + 'a'.repeat(1_000)
      let sent = 0
      const drip = setInterval(() => { if (!slowloris.destroyed) slowloris.write(headers[sent++ % headers.length]!) }, 20)
      try {
        const closed = closeOf(slowloris)
        const signalled = app.kill('SIGTERM')
        const exit = await app.exited
        await closed
        expect(exit.code).toBe(1)
        // Busy (bytes keep coming) so not closed as quiet; bounded by the deadline all the same.
        expect(exit.at - signalled).toBeGreaterThanOrEqual(900)
        expect(exit.at - signalled).toBeLessThan(5_000)
        expect(app.report().sockets).toMatchObject({ forced: 1, closedIdle: 0 })
        // No request was ever complete: nothing to name.
        expect(app.report().requests.forced).toEqual([])
      } finally {
        clearInterval(drip)
      }
    })
  })

  it('a body upload that never ends is cut at drainTimeout and reported by method and path', async () => {
    await withSockets(async () => {
      const app = new Fixture({ framework: 'fastify', options: { drainTimeout: 1_000 } })
      const port = await app.ready()
      const uploader = await open(port)
      // Destroyed at the deadline with the drip's bytes still unread, the server's side may reset rather than close:
      // either is the cut this test expects.
      uploader.on('error', () => {})
      uploader.write('POST /upload?secret=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n')
      const drip = setInterval(() => { if (!uploader.destroyed) uploader.write('x'.repeat(100)) }, 20)
      try {
        // Fastify hands the request on only once the body is complete: its socket is busy from the first byte.
        // 'close', whether or not an 'error' (the reset) came first: events.once would reject on the error, before
        // this test awaits it.
        const closed = new Promise(resolve => uploader.once('close', resolve))
        const signalled = app.kill('SIGTERM')
        const exit = await app.exited
        await closed
        expect(exit.code).toBe(1)
        expect(exit.at - signalled).toBeGreaterThanOrEqual(900)
        expect(exit.at - signalled).toBeLessThan(5_000)
        expect(app.report().sockets.forced).toBe(1)
        expect(app.report().requests.forced).toMatchObject([{ method: 'POST', path: '/upload' }])
      } finally {
        clearInterval(drip)
      }
    })
  })

  it('a storm of signals exits once, with 1, right away, and starts one shutdown', async () => {
    await withSockets(async () => {
      const app = new Fixture({ framework: 'express', options: { drainTimeout: 30_000 } })
      const port = await app.ready()
      const socket = await open(port)
      const hanging = exchange(socket, rawGet('/hang')).catch((err: unknown) => err)
      await app.started('/hang')
      let last = 0
      for (let i = 0; i < 50; i++) last = app.kill(i % 2 === 0 ? 'SIGTERM' : 'SIGINT')
      const exit = await app.exited
      expect(exit.code).toBe(1)
      expect(exit.at - last).toBeLessThan(3_000)
      expect(await hanging).toBeInstanceOf(Error)
      expect(app.events.filter(event => event.msg === 'graceful: shutdown started')).toHaveLength(1)
      // Signals that arrive together may be merged by the kernel: at least one was the second.
      expect(app.events.filter(event => event.msg?.includes('exiting now') === true).length).toBeGreaterThanOrEqual(1)
      expect(app.stderr.join('')).not.toMatch(/MaxListeners|Error/)
    })
  })

  it('a request that reaches a quiet socket while the event loop is held past its quiet window is served, not reset', async () => {
    await withSockets(async () => {
      // The window is 1 s; a handler then holds the event loop for 2.5 s, past the window's end, while the client
      // writes its next request on the quiet socket. The request is in the kernel's buffer when the window's timer
      // runs: the socket must be read once more before it is judged quiet.
      const app = new Fixture({ framework: 'node', options: { idleSocketGrace: 1_000 } })
      const port = await app.ready()
      const quiet = await open(port)
      const blocker = await open(port)
      expect(await exchange(quiet, rawGet('/work'))).toMatch(/^HTTP\/1\.1 200/)
      app.kill('SIGTERM')
      await app.shutdownStarted()
      const blocked = exchange(blocker, rawGet('/block?ms=2500'))
      await app.started('/block')
      const late = await exchange(quiet, rawGet('/work'))
      expect(late).toMatch(/^HTTP\/1\.1 200/)
      expect(late).toMatch(/connection: close/i)
      expect(await blocked).toMatch(/unblocked/)
      expect((await app.exited).code).toBe(0)
    })
  })
})
