// The application's own server.close() on an attached server joins the shutdown (DESIGN: the application's own stop
// joins the sequence), over real sockets in this process: the listener stays open through the lame duck and closes
// when the drain begins; the callback fires once the shutdown is over, without an error, also after it.
import { once } from 'node:events'
import { Client } from 'undici'
import { describe, expect, it } from 'vitest'
import { createTestGraceful, untilPhase } from '@graceful/core/testing'
import { holdingServer, serveInProcess } from '../helpers/index.js'
import { fetchOnce } from '../helpers/sockets.js'

describe("an attached server's own server.close()", () => {
  it('during the lame duck leaves the listener open: fresh connections are served with Connection: close, the callback fires after the hooks', async () => {
    const g = createTestGraceful({ preStopDelay: 3_000 })
    const order: string[] = []
    g.onShutdown('pool', () => { order.push('hook') })
    const { server, origin } = await serveInProcess(g)
    const report = g.shutdown()
    const closed = new Promise<unknown[]>(resolve => { server.close((...args: unknown[]) => { order.push('callback'); resolve(args) }) })
    expect(g.state).toBe('stopping')
    expect(server.listening).toBe(true)
    for (let i = 0; i < 3; i++) {
      const res = await fetchOnce(origin, '/', { headers: { connection: 'keep-alive' } })
      expect([res.status, res.body, res.headers['connection']]).toEqual([200, 'ok', 'close'])
    }
    expect(await closed).toEqual([])
    expect(order).toEqual(['hook', 'callback'])
    expect((await report).exitCode).toBe(0)
    expect(server.listening).toBe(false)
  })

  it('outside a shutdown is the server\'s own close, and starts none: test tools close the servers they listen', async () => {
    const g = createTestGraceful()
    const { server } = await serveInProcess(g)
    const closed = new Promise<unknown[]>(resolve => { server.close((...args: unknown[]) => { resolve(args) }) })
    expect(server.listening).toBe(false)
    // Node calls back with no error once the server has closed.
    expect((await closed)[0]).toBeUndefined()
    expect(g.state).toBe('running')
  })

  it('during a shutdown, keeps the listener open until draining begins and waits for the drain', async () => {
    const g = createTestGraceful({ preStopDelay: 3_000, drainTimeout: 10_000 })
    const held = await holdingServer(g)
    const client = new Client(`http://127.0.0.1:${held.port}`)
    try {
      const response = client.request({ method: 'GET', path: '/' })
      await held.arrived(1)
      const report = g.shutdown()
      let called = false
      const server = held.server
      server.close(() => { called = true })
      expect(server.listening).toBe(true)
      expect((await fetchOnce(`http://127.0.0.1:${held.port}`, '/healthz')).status).toBe(503)
      await untilPhase(g, 'draining')
      expect(server.listening).toBe(false)
      expect(called).toBe(false)
      held.release()
      expect((await response).headers['connection']).toBe('close')
      await report
      await new Promise(resolve => setImmediate(resolve))
      expect(called).toBe(true)
    } finally {
      await client.destroy()
    }
  })

  it('after the shutdown, calls back at once without ERR_SERVER_NOT_RUNNING: graceful closed it', async () => {
    const g = createTestGraceful()
    const { server } = await serveInProcess(g)
    await g.shutdown()
    const args = await new Promise<unknown[]>(resolve => { server.close((...given: unknown[]) => { resolve(given) }) })
    expect(args).toEqual([])
  })

  it('on a server that never listened, is Node\'s own close and starts no shutdown', async () => {
    const g = createTestGraceful()
    const { createServer } = await import('node:http')
    const server = createServer()
    g.attach(server)
    const [err] = await new Promise<unknown[]>(resolve => { server.close((...given: unknown[]) => { resolve(given) }) })
    expect((err as NodeJS.ErrnoException).code).toBe('ERR_SERVER_NOT_RUNNING')
    expect(g.state).toBe('running')
  })

  it('is the server\'s own close again once the instance is disposed', async () => {
    const g = createTestGraceful()
    const { server } = await serveInProcess(g)
    g.dispose()
    server.close()
    await once(server, 'close')
    expect(g.state).toBe('running')
  })
})

describe('openSockets after a forced drain', () => {
  it('is 0 when shutdown() resolves: a socket destroyed at the deadline is closed at once', async () => {
    const g = createTestGraceful({ drainTimeout: 200 })
    const held = await holdingServer(g)
    const client = new Client(`http://127.0.0.1:${held.port}`)
    try {
      const response = client.request({ method: 'GET', path: '/' }).catch((err: unknown) => err)
      await held.arrived(1)
      expect(g.openSockets).toBe(1)
      const report = await g.shutdown()
      expect(report.sockets.forced).toBe(1)
      expect(g.openSockets).toBe(0)
      await response
    } finally {
      held.release()
      await client.destroy()
    }
  })
})

describe("a writeHead the application wrapped before the signal (on-headers: compression, morgan, sessions)", () => {
  it('still runs when the response is told to close', async () => {
    const g = createTestGraceful()
    let started: () => void = () => {}
    const arrived = new Promise<void>(resolve => { started = resolve })
    let finish: () => void = () => {}
    const { port } = await serveInProcess(g, (_req, res) => {
      // What on-headers does: wrap writeHead on the response, to act just before the head goes out.
      // eslint-disable-next-line @typescript-eslint/unbound-method
      const own = res.writeHead
      res.writeHead = function (this: typeof res, ...args: unknown[]) {
        this.setHeader('x-wrapped', 'yes')
        return Reflect.apply(own, this, args) as typeof res
      }
      finish = () => { res.end('ok') }
      started()
    })
    const client = new Client(`http://127.0.0.1:${port}`)
    try {
      const response = client.request({ method: 'GET', path: '/' })
      await arrived
      const report = g.shutdown()
      await untilPhase(g, 'draining')
      finish()
      const res = await response
      expect([res.headers['x-wrapped'], res.headers['connection'], await res.body.text()]).toEqual(['yes', 'close', 'ok'])
      await report
    } finally {
      await client.destroy()
    }
  })
})
