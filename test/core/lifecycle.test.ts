// In-process behaviour of one instance: no signals (`signals: []`), no exit (`exit: false`), real sockets.
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { thrown } from '../helpers/index.js'
import { Client } from 'undici'
import { createGraceful, isGracefulError, type Graceful, type GracefulLogger } from '@graceful/core'

const servers: Server[] = []
afterEach(() => {
  for (const server of servers.splice(0)) server.closeAllConnections()
})

function records (): { logger: GracefulLogger, lines: Array<{ level: string, obj: object, msg?: string | undefined }> } {
  const lines: Array<{ level: string, obj: object, msg?: string | undefined }> = []
  return {
    lines,
    logger: {
      info: (obj, msg) => { lines.push({ level: 'info', obj, msg }) },
      warn: (obj, msg) => { lines.push({ level: 'warn', obj, msg }) },
      error: (obj, msg) => { lines.push({ level: 'error', obj, msg }) }
    }
  }
}

async function serve (g: Graceful, handler = (_url: string, end: (body: string) => void): void => { end('ok') }): Promise<{ server: Server, origin: string }> {
  const server = createServer((req, res) => {
    if (g.handle(req, res)) return
    handler(req.url ?? '/', body => res.end(body))
  })
  servers.push(server)
  g.attach(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { server, origin: `http://127.0.0.1:${address.port}` }
}

describe('lifecycle', () => {
  it('shutdown() twice returns the same promise and one report', async () => {
    const { logger, lines } = records()
    const g = createGraceful({ signals: [], exit: false, logger })
    await serve(g)
    const first = g.shutdown()
    const second = g.shutdown()
    expect(second).toBe(first)
    const report = await first
    expect(report.reason).toBe('shutdown()')
    expect(report.exitCode).toBe(0)
    expect(g.state).toBe('stopped')
    expect(lines.filter(line => line.msg === 'graceful: shutdown complete')).toHaveLength(1)
  })

  it('moves through stopping, draining, cleanup and stopped, and aborts its signal when draining begins', async () => {
    const seen: string[] = []
    const g = createGraceful({ signals: [], exit: false, logger: false, preStopDelay: 200 })
    await serve(g)
    g.signal.addEventListener('abort', () => { seen.push(`abort during ${g.state}`) })
    g.onShutdown('observe', () => { seen.push(`hook during ${g.state}`) })
    const done = g.shutdown()
    seen.push(g.state)
    const report = await done
    seen.push(g.state)
    expect(seen).toEqual(['stopping', 'abort during draining', 'hook during cleanup', 'stopped'])
    expect(g.signal.aborted).toBe(true)
    expect(report.phases.stopping).toBeGreaterThanOrEqual(190)
  })

  it('a signal first read after draining began is aborted already, with the shutdown\'s reason', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    await g.shutdown()
    expect(g.signal.aborted).toBe(true)
    expect(isGracefulError(g.signal.reason, 'GRACEFUL_ERR_SHUTTING_DOWN')).toBe(true)
    expect(g.signal).toBe(g.signal)
  })

  it('refuses a hook once the hooks have started', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    await g.shutdown()
    const caught = thrown(() => g.onShutdown('late', () => undefined))
    expect(isGracefulError(caught, 'GRACEFUL_ERR_HOOK_TOO_LATE')).toBe(true)
  })

  it('aborts a timed-out hook\'s signal so that it can stop its own work', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    let aborted: unknown
    g.onShutdown('slow', signal => new Promise(resolve => {
      signal.addEventListener('abort', () => {
        aborted = signal.reason
        resolve(undefined)
      })
    }), { timeout: 50 })
    const report = await g.shutdown()
    expect(report.hooks).toMatchObject([{ name: 'slow', status: 'timed-out' }])
    expect(isGracefulError(aborted, 'GRACEFUL_ERR_HOOK_TIMEOUT')).toBe(true)
  })

  it('runs the application close first, then the hooks last-registered-first, and reports a rejection', async () => {
    const order: string[] = []
    const g = createGraceful({
      signals: [],
      exit: false,
      logger: false,
      close: () => { order.push('close') }
    })
    g.onShutdown('a', () => { order.push('a') })
    g.onShutdown('b', () => { order.push('b'); return Promise.reject(new Error('b failed')) })
    g.onShutdown('c', () => { order.push('c') })
    const report = await g.shutdown()
    expect(order).toEqual(['close', 'c', 'b', 'a'])
    expect(report.hooks.map(hook => `${hook.name}:${hook.status}`)).toEqual(['close:ok', 'c:ok', 'b:failed', 'a:ok'])
    expect(report.exitCode).toBe(1)
  })

  it('a logger that throws does not break the shutdown', async () => {
    const broken = { info: () => { throw new Error('disk full') }, warn: () => { throw new Error('disk full') }, error: () => { throw new Error('disk full') } }
    const g = createGraceful({ signals: [], exit: false, logger: broken })
    expect((await g.shutdown()).exitCode).toBe(0)
  })

  it('a server that starts listening after the drain began is closed again', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const server = createServer((_req, res) => res.end('ok'))
    servers.push(server)
    g.attach(server)
    await g.shutdown()
    server.listen(0, '127.0.0.1')
    await once(server, 'close')
    expect(server.listening).toBe(false)
  })

  it('counts in-flight requests as they arrive and end', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    let release: (() => void) | undefined
    const arrived = new Promise<void>(resolve => {
      void serve(g, (_url, end) => {
        release = () => { end('ok') }
        resolve()
      }).then(({ origin }) => {
        const client = new Client(origin)
        void client.request({ method: 'GET', path: '/' }).then(async res => await res.body.text()).finally(() => client.close())
      })
    })
    await arrived
    expect(g.inFlight).toBe(1)
    release?.()
    const report = await g.shutdown()
    expect(g.inFlight).toBe(0)
    expect(report.exitCode).toBe(0)
  })
})

describe('dispose', () => {
  it.each([
    { entry: 'attach only', throughHandle: false },
    { entry: 'handle(), as the middleware calls it', throughHandle: true }
  ])('lets go of the server for good ($entry): later requests neither re-attach it nor are followed', async ({ throughHandle }) => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    let release: (() => void) | undefined
    const server = createServer((req, res) => {
      if (throughHandle && g.handle(req, res)) return
      release = () => res.end('ok')
    })
    servers.push(server)
    g.attach(server)
    g.dispose()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    const client = new Client(`http://127.0.0.1:${address.port}`)
    try {
      const response = client.request({ method: 'GET', path: '/' })
      // Settled by the client's destruction when an expectation fails first.
      response.catch(() => undefined)
      await once(server, 'request')
      expect(g.inFlight).toBe(0)
      expect(Object.hasOwn(server, 'emit')).toBe(false)
      release?.()
      await (await response).body.text()
      if (throughHandle) {
        // The probe routes still answer through handle(), as the middleware serves them.
        const probe = await client.request({ method: 'GET', path: '/livez' })
        expect(probe.statusCode).toBe(200)
        await probe.body.text()
        expect(Object.hasOwn(server, 'emit')).toBe(false)
      }
    } finally {
      release?.()
      await client.destroy()
    }
  })
})

describe('health routes', () => {
  it('serve readiness and liveness for GET and HEAD, with a query string, and 405 for other methods', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const { origin } = await serve(g)
    const client = new Client(origin)
    try {
      const ready = await client.request({ method: 'GET', path: '/healthz?probe=kubelet' })
      expect(ready.statusCode).toBe(200)
      expect(ready.headers['cache-control']).toBe('no-store')
      expect(JSON.parse(await ready.body.text())).toEqual({ status: 'ok', phase: 'running' })
      const head = await client.request({ method: 'HEAD', path: '/livez' })
      expect(head.statusCode).toBe(200)
      expect(await head.body.text()).toBe('')
      const post = await client.request({ method: 'POST', path: '/healthz' })
      expect(post.statusCode).toBe(405)
      expect(post.headers['allow']).toBe('GET, HEAD')
      await post.body.text()
      const other = await client.request({ method: 'GET', path: '/healthzz' })
      expect(await other.body.text()).toBe('ok')
    } finally {
      await client.close()
    }
  })
})

describe('signal registry', () => {
  it('serves any number of instances with one listener per signal, and lets go of it when they are disposed', () => {
    const before = process.listenerCount('SIGTERM')
    const beforeHup = process.listenerCount('SIGHUP')
    const instances = Array.from({ length: 12 }, () => createGraceful({ exit: false, logger: false, signals: ['SIGTERM', 'SIGHUP'] }))
    expect(process.listenerCount('SIGTERM')).toBe(before + 1)
    expect(process.listenerCount('SIGHUP')).toBe(beforeHup + 1)
    for (const g of instances) g.dispose()
    expect(process.listenerCount('SIGTERM')).toBe(before)
    expect(process.listenerCount('SIGHUP')).toBe(beforeHup)
  })

  it('twelve instances shutting down at once add one exit listener in all, and no MaxListeners warning', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => { warnings.push(warning.name) }
    process.on('warning', onWarning)
    try {
      const before = process.listenerCount('exit')
      const instances = Array.from({ length: 12 }, () => createGraceful({ signals: [], exit: false, logger: false, preStopDelay: 50 }))
      const reports = instances.map(g => g.shutdown())
      expect(process.listenerCount('exit')).toBe(before + 1)
      await Promise.all(reports)
      expect(process.listenerCount('exit')).toBe(before)
      // A warning is emitted on the next tick.
      await new Promise(resolve => setImmediate(resolve))
      expect(warnings).not.toContain('MaxListenersExceededWarning')
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('inside a Vitest worker, an instance given no signals or exit listens to none and leaves the process alone', () => {
    const before = process.listenerCount('SIGTERM')
    const g = createGraceful({ logger: false })
    expect(g.signals).toEqual([])
    expect(g.exit).toBe(false)
    expect(process.listenerCount('SIGTERM')).toBe(before)
    // Asked for, they are there.
    const asked = createGraceful({ logger: false, signals: ['SIGTERM'], exit: false })
    expect(process.listenerCount('SIGTERM')).toBe(before + 1)
    asked.dispose()
    g.dispose()
  })
})
