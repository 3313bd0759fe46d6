// Whole-process behaviour beyond the per-framework contract: several servers and instances, TLS, no attach.
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Fixture } from '../helpers/index.js'
import { responseOf } from '../helpers/sockets.js'

async function slow (port: number, ms: number, options: Client.Options = {}, protocol = 'http'): Promise<{ status: number, connection: unknown, body: string }> {
  const client = new Client(`${protocol}://127.0.0.1:${port}`, options)
  try {
    return await responseOf(await client.request({ method: 'GET', path: `/slow?ms=${ms}` }))
  } finally {
    await client.destroy()
  }
}

describe('several servers and instances in one process', () => {
  it('one instance drains two servers and reports once', async () => {
    const app = new Fixture({ framework: 'node', servers: 2 })
    const ports = [await app.ready(0), await app.ready(1)]
    const responses = ports.map(async port => await slow(port, 400))
    await app.started('/slow', 2)
    app.kill('SIGTERM')
    for (const response of await Promise.all(responses)) expect(response).toMatchObject({ status: 200, connection: 'close' })
    expect((await app.exited).code).toBe(0)
    expect(app.reports()).toHaveLength(1)
    expect(app.report().requests.inFlightAtDrain).toBe(2)
  })

  it('two instances both drain before the process exits: the first to finish does not end the other', async () => {
    const app = new Fixture({ framework: 'node', servers: 2, instances: 2 })
    const ports = [await app.ready(0), await app.ready(1)]
    const quick = slow(ports[0]!, 100)
    const long = slow(ports[1]!, 900)
    await app.started('/slow', 2)
    app.kill('SIGTERM')
    expect(await quick).toMatchObject({ status: 200, body: 'slow done' })
    expect(await long).toMatchObject({ status: 200, body: 'slow done' })
    const exit = await app.exited
    expect(exit.code).toBe(0)
    expect(app.reports()).toHaveLength(2)
    const lastFinished = Math.max(...app.eventsNamed('finished').map(e => e.t))
    expect(app.eventsNamed('exit')[0]!.t).toBeGreaterThanOrEqual(lastFinished)
  })

  it('an instance without signals that is draining holds the exit of an instance that finished first', async () => {
    // Instance 0 has no signals and is shut down by the app itself; instance 1 takes SIGTERM and has nothing to drain.
    const app = new Fixture({ framework: 'node', servers: 2, instances: 2, instanceOptions: [{ signals: [] }, {}] })
    const ports = [await app.ready(0), await app.ready(1)]
    const long = slow(ports[0]!, 800)
    await app.started('/slow')
    const client = new Client(`http://127.0.0.1:${ports[0]!}`)
    try {
      const res = await client.request({ method: 'GET', path: '/shutdown', headers: { connection: 'close' } })
      expect(await res.body.text()).toBe('shutting down')
    } finally {
      await client.destroy()
    }
    app.kill('SIGTERM')
    expect(await long).toMatchObject({ status: 200, body: 'slow done' })
    expect((await app.exited).code).toBe(0)
    expect(app.reports().map(report => report.reason).sort()).toEqual(['SIGTERM', 'shutdown()'])
    expect(app.eventsNamed('exit')[0]!.t).toBeGreaterThanOrEqual(app.eventsNamed('finished')[0]!.t)
  })

  it('the exit code is the worst of the instances: one forced drain makes it 1', async () => {
    const app = new Fixture({ framework: 'node', servers: 2, instances: 2, options: { drainTimeout: 500 } })
    const ports = [await app.ready(0), await app.ready(1)]
    const client = new Client(`http://127.0.0.1:${ports[1]!}`)
    try {
      const hung = client.request({ method: 'GET', path: '/hang' }).catch((err: unknown) => err)
      await app.started('/hang')
      app.kill('SIGTERM')
      expect(await hung).toBeInstanceOf(Error)
      expect((await app.exited).code).toBe(1)
    } finally {
      await client.destroy()
    }
    expect(app.reports().map(report => report.exitCode).sort()).toEqual([0, 1])
  })
})

describe('https', () => {
  let dir = ''
  let tls = { key: '', cert: '' }
  beforeAll(() => {
    // A self-signed certificate made for this run.
    dir = mkdtempSync(join(tmpdir(), 'graceful-tls-'))
    tls = { key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem') }
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', tls.key, '-out', tls.cert,
      '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
  })
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  it.each(['node', 'express', 'fastify'] as const)('%s: TLS keep-alive sockets drain like plain ones: in-flight told, idle closed, prompt exit', async (framework) => {
    const app = new Fixture({ framework, tls, keepAliveTimeout: 60_000 })
    const port = await app.ready()
    const options = { connect: { rejectUnauthorized: false } }
    const idle = new Client(`https://127.0.0.1:${port}`, options)
    try {
      const warm = await idle.request({ method: 'GET', path: '/work' })
      expect(await warm.body.text()).toBe('ok')
      const response = slow(port, 400, options, 'https')
      await app.started('/slow')
      const signalled = app.kill('SIGTERM')
      expect(await response).toMatchObject({ status: 200, connection: 'close', body: 'slow done' })
      const exit = await app.exited
      expect(exit.code).toBe(0)
      // The idle TLS socket would hold the process for keepAliveTimeout (60 s) if it were not closed.
      expect(exit.at - signalled).toBeLessThan(3_000)
      expect(app.report().sockets).toMatchObject({ closedIdle: 1, forced: 0 })
    } finally {
      await idle.destroy()
    }
  })

  it('a TLS client that never finishes its handshake does not hold the drain', async () => {
    const app = new Fixture({ framework: 'node', tls, options: { drainTimeout: 30_000 } })
    const port = await app.ready()
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    try {
      const signalled = app.kill('SIGTERM')
      const exit = await app.exited
      expect(exit.code).toBe(0)
      expect(exit.at - signalled).toBeLessThan(5_000)
    } finally {
      socket.destroy()
    }
  })
})

describe('express without attach', () => {
  it('the middleware adopts the server on its first request, so that request and its socket still drain', async () => {
    const app = new Fixture({ framework: 'express', attach: false, keepAliveTimeout: 60_000 })
    const port = await app.ready()
    const response = slow(port, 400)
    await app.started('/slow')
    const signalled = app.kill('SIGTERM')
    expect(await response).toMatchObject({ status: 200, connection: 'close' })
    const exit = await app.exited
    expect(exit.code).toBe(0)
    expect(exit.at - signalled).toBeLessThan(3_000)
    expect(app.report().requests.inFlightAtDrain).toBe(1)
  })
})

describe('exit: false', () => {
  it('runs the whole shutdown on a signal and leaves the exit to the process itself', async () => {
    const app = new Fixture({ framework: 'node', options: { exit: false }, hooks: [{ name: 'flush' }] })
    const port = await app.ready()
    const response = slow(port, 300)
    await app.started('/slow')
    app.kill('SIGTERM')
    expect(await response).toMatchObject({ status: 200 })
    const exit = await app.exited
    // Nothing is left to keep the event loop alive: the process ends by itself, with Node's own code.
    expect(exit.code).toBe(0)
    expect(app.report().hooks).toMatchObject([{ name: 'flush', status: 'ok' }])
  })
})

describe('fastify on localhost', () => {
  it('drains the second server Fastify opens for ::1 as well as the first', async () => {
    const app = new Fixture({ framework: 'fastify', script: 'fastify-localhost.mjs', keepAliveTimeout: 60_000 })
    const port = await app.ready()
    const ready = app.events.find(e => e.event === 'ready')!
    expect((ready['addresses'] as Array<{ address: string }>).map(a => a.address).sort()).toEqual(['127.0.0.1', '::1'])
    const v4 = new Client(`http://127.0.0.1:${port}`)
    const v6 = new Client(`http://[::1]:${port}`)
    try {
      const responses = [v4, v6].map(async client => {
        return await responseOf(await client.request({ method: 'GET', path: '/slow?ms=400' }))
      })
      await app.started('/slow', 2)
      const signalled = app.kill('SIGTERM')
      for (const response of await Promise.all(responses)) {
        expect(response).toEqual({ status: 200, connection: 'close', body: 'slow done' })
      }
      const exit = await app.exited
      expect(exit.code).toBe(0)
      expect(exit.at - signalled).toBeLessThan(3_000)
    } finally {
      await Promise.all([v4.destroy(), v6.destroy()])
    }
    expect(app.report().requests.inFlightAtDrain).toBe(2)
  })
})
