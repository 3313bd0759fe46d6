// Node cluster: SIGTERM to the primary drains every worker; the primary exits when they are done or at its deadline.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Client } from 'undici'
import { describe, expect, it } from 'vitest'
import { gracefulCluster, isGracefulError } from '@graceful/core'
import { childEnv, Fixture, thrown, type FixtureEvent } from '../helpers/index.js'
import { fetchOnce, origin, responseOf } from '../helpers/sockets.js'

/** Starts a cluster fixture and resolves with its shared port and its workers' PIDs once every worker listens. */
async function startCluster (app: Fixture, workers: number): Promise<{ port: number, pids: number[] }> {
  await app.waitFor(() => app.eventsNamed('ready').length >= workers, `${workers} workers ready`)
  const ready = app.eventsNamed('ready')
  const ports = new Set(ready.map(event => event['port']))
  expect(ports.size).toBe(1)
  return { port: ready[0]!['port'] as number, pids: ready.map(event => event['pid'] as number) }
}

function clusterReport (app: Fixture): FixtureEvent & { exitCode: number, workers: Array<{ exitCode: number | null, signal: string | null, forced: boolean }> } {
  const report = app.events.find(event => event.msg === 'graceful: cluster shutdown complete')
  if (report === undefined) throw new Error(`no cluster report; events: ${JSON.stringify(app.events)}`)
  return report as FixtureEvent & { exitCode: number, workers: Array<{ exitCode: number | null, signal: string | null, forced: boolean }> }
}

describe.each(['node', 'express', 'fastify'] as const)('%s cluster', (framework) => {
  it('SIGTERM to the primary: every worker drains, keep-alive clients lose no request, the primary exits 0', async () => {
    // The Kubernetes order of events: a balancer that polls readiness stops routing once it sees 503, during the
    // workers' lame duck; requests in flight then, including a slow one that spans the drain, complete.
    const app = new Fixture({ framework, cluster: { workers: 2 }, options: { preStopDelay: 800, drainTimeout: 15_000 } })
    const { port } = await startCluster(app, 2)
    const clients = Array.from({ length: 8 }, () => new Client(origin(port), { pipelining: 1, keepAliveTimeout: 60_000 }))
    const failures: string[] = []
    let completed = 0
    let told = 0
    let routing = true
    let signalled: (() => void) | undefined
    const signal = new Promise<void>(resolve => { signalled = resolve })
    const client = async (dispatcher: Client, index: number): Promise<void> => {
      // Bounded: a client stops once the balancer stops routing, or after 2 000 requests.
      for (let i = 0; i < 2_000 && routing; i++) {
        try {
          const res = await dispatcher.request({ method: 'GET', path: `/work?ms=${(index + i) % 10}` })
          const body = await res.body.text()
          if (res.statusCode !== 200 || body !== 'ok') failures.push(`status ${res.statusCode} body ${body}`)
          else completed++
          if (res.headers['connection'] === 'close') told++
          if (completed >= 200) signalled?.()
        } catch (err) {
          failures.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`)
          return
        }
      }
    }
    const balancer = async (): Promise<void> => {
      await signal
      app.kill('SIGTERM')
      // Probes on fresh connections, back to back and bounded, until readiness fails.
      for (let i = 0; i < 2_000; i++) {
        if ((await fetchOnce(origin(port), '/healthz')).status === 503) break
      }
      routing = false
    }
    const slowClient = new Client(origin(port))
    let slow: Promise<{ status: number, connection: unknown, body: string }> | undefined
    try {
      const load = clients.map(client)
      await signal
      // Still running at the end of the lame duck: it is in flight when the listener closes.
      slow = slowClient.request({ method: 'GET', path: '/slow?ms=1500' })
        .then(responseOf)
      await Promise.all([...load, balancer()])
      expect(await slow).toEqual({ status: 200, connection: 'close', body: 'slow done' })
    } finally {
      await Promise.all([...clients, slowClient].map(dispatcher => dispatcher.destroy()))
    }
    const exit = await app.exited
    expect(failures).toEqual([])
    expect(completed).toBeGreaterThanOrEqual(200)
    // Keep-alive clients were told to go while the workers were stopping.
    expect(told).toBeGreaterThan(0)
    expect(exit.code).toBe(0)
    // Each worker drained and reported; the primary reported once, with both workers clean.
    const reports = app.reports()
    expect(reports).toHaveLength(2)
    expect(new Set(reports.map(report => (report as unknown as FixtureEvent)['pid'])).size).toBe(2)
    for (const report of reports) {
      expect(report.exitCode).toBe(0)
      expect(report.sockets.forced).toBe(0)
      expect(report.phases.stopping).toBeGreaterThanOrEqual(790)
    }
    expect(reports.reduce((sum, report) => sum + report.requests.inFlightAtDrain, 0)).toBeGreaterThanOrEqual(1)
    const report = clusterReport(app)
    expect(report.exitCode).toBe(0)
    expect(report.workers).toHaveLength(2)
    expect(report.workers.every(w => w.exitCode === 0 && !w.forced)).toBe(true)
    // No worker was re-forked: the primary's signal told the exit handler the shutdown had begun.
    expect(app.eventsNamed('ready')).toHaveLength(2)
  })
})

describe('cluster deadlines and signals', () => {
  it('a worker that hangs is killed at shutdownTimeout and the primary exits 1, while the other drains cleanly', async () => {
    const app = new Fixture({
      framework: 'node',
      cluster: { workers: 2, options: { shutdownTimeout: 1_500 } },
      options: { drainTimeout: 60_000 }
    })
    const { port } = await startCluster(app, 2)
    const client = new Client(origin(port))
    try {
      const hung = client.request({ method: 'GET', path: '/hang' }).catch((err: unknown) => err)
      await app.started('/hang')
      const signalled = app.kill('SIGTERM')
      expect(await hung).toBeInstanceOf(Error)
      const exit = await app.exited
      expect(exit.code).toBe(1)
      expect(exit.at - signalled).toBeGreaterThanOrEqual(1_400)
      expect(exit.at - signalled).toBeLessThan(6_000)
    } finally {
      await client.destroy()
    }
    const report = clusterReport(app)
    expect(report.exitCode).toBe(1)
    expect(report.workers.filter(w => w.forced)).toHaveLength(1)
    expect(report.workers.filter(w => !w.forced && w.exitCode === 0)).toHaveLength(1)
  })

  it('Ctrl-C reaches the primary and every worker at once: the workers still drain (the primary\'s request is not a second signal)', async () => {
    const app = new Fixture({ framework: 'node', cluster: { workers: 2 } })
    const { port, pids } = await startCluster(app, 2)
    const client = new Client(origin(port))
    try {
      const slow = client.request({ method: 'GET', path: '/slow?ms=700' }).then(async res => ({ status: res.statusCode, body: await res.body.text() }))
      await app.started('/slow')
      // As a terminal delivers SIGINT to the whole process group.
      for (const pid of pids) process.kill(pid, 'SIGINT')
      app.kill('SIGINT')
      expect(await slow).toEqual({ status: 200, body: 'slow done' })
      expect((await app.exited).code).toBe(0)
    } finally {
      await client.destroy()
    }
    expect(app.reports().map(report => report.exitCode)).toEqual([0, 0])
    expect(clusterReport(app).exitCode).toBe(0)
  })

  it('a second SIGTERM to the primary kills the workers and exits 1 at once', async () => {
    const app = new Fixture({ framework: 'node', cluster: { workers: 2 }, options: { drainTimeout: 60_000 } })
    const { port } = await startCluster(app, 2)
    const client = new Client(origin(port))
    try {
      const hung = client.request({ method: 'GET', path: '/hang' }).catch((err: unknown) => err)
      await app.started('/hang')
      app.kill('SIGTERM')
      await app.waitFor(e => e.msg === 'graceful: cluster shutdown started', 'cluster shutdown started')
      const second = app.kill('SIGTERM')
      const exit = await app.exited
      expect(exit.code).toBe(1)
      expect(exit.at - second).toBeLessThan(3_000)
      expect(await hung).toBeInstanceOf(Error)
    } finally {
      await client.destroy()
    }
    expect(app.events.find(e => e.msg === 'graceful: second SIGTERM in the cluster primary, killing the workers and exiting now')).toBeDefined()
  })

  it('a SIGTERM while the workers are still starting: each is told again once it listens, and exits 0 well before shutdownTimeout', async () => {
    // The primary's message reaches a worker that has not created its graceful instance yet: nothing listens to it.
    const app = new Fixture({ framework: 'node', cluster: { workers: 2, options: { shutdownTimeout: 20_000 } } })
    await app.waitFor(e => e.event === 'primary', 'primary forked its workers')
    const signalled = app.kill('SIGTERM')
    const exit = await app.exited
    expect(exit.code).toBe(0)
    expect(exit.at - signalled).toBeLessThan(10_000)
    const report = clusterReport(app)
    expect(report.workers).toHaveLength(2)
    expect(report.workers.filter(w => !w.forced && w.exitCode === 0)).toHaveLength(2)
    expect(app.reports().map(r => r.exitCode)).toEqual([0, 0])
  })

  it('a worker that died just before the shutdown, its death not yet read by the primary: no EPIPE crash, the others drain and the report names it', async () => {
    const app = new Fixture({ framework: 'node', cluster: { workers: 2, deadWorkerAtShutdown: true } })
    const exit = await app.exited
    await app.closed
    const report = clusterReport(app)
    expect(report.workers).toHaveLength(2)
    expect(report.workers.filter(w => w.signal === 'SIGKILL' && w.exitCode === null && !w.forced)).toHaveLength(1)
    expect(report.workers.filter(w => w.exitCode === 0)).toHaveLength(1)
    expect(report.exitCode).toBe(1)
    expect(exit.code).toBe(1)
  })

  it('a worker gone before Node answered its listen: Node\'s answer into the closed channel does not crash the primary, the others drain', async () => {
    // As when a worker told to shut down while it was starting exits before that answer comes. Without the primary's
    // handling the crash shows in most runs, not all: Node sometimes drops the dead worker's handle before answering.
    const app = new Fixture({ framework: 'node', cluster: { workers: 2, workerDiesListening: true } })
    const exit = await app.exited
    await app.closed
    expect(app.stderr.join('')).not.toMatch(/EPIPE|Unhandled 'error'/)
    const report = clusterReport(app)
    expect(report.workers).toHaveLength(2)
    expect(report.workers.filter(w => w.signal === 'SIGKILL' && !w.forced), JSON.stringify(report) + app.stderr.join('')).toHaveLength(1)
    expect(report.workers.filter(w => w.exitCode === 0), JSON.stringify(report) + app.stderr.join('')).toHaveLength(1)
    expect(exit.code).toBe(1)
  })

  it('gracefulCluster() is for the primary, once, with validated options', () => {
    const unknown = thrown(() => gracefulCluster({ shutdownTimeut: 5 } as never))
    expect(isGracefulError(unknown, 'GRACEFUL_ERR_UNKNOWN_OPTION')).toBe(true)
    expect((unknown as Error).message).toMatch(/unknown option `shutdownTimeut` for gracefulCluster\(\)\. Did you mean `shutdownTimeout`\?/)
    expect(isGracefulError(thrown(() => gracefulCluster({ shutdownTimeout: -1 })), 'GRACEFUL_ERR_INVALID_DURATION')).toBe(true)
    const primary = gracefulCluster({ signals: [], exit: false, logger: false })
    expect(primary.state).toBe('running')
    expect(primary.signal.aborted).toBe(false)
    expect(isGracefulError(thrown(() => gracefulCluster({ signals: [], exit: false })), 'GRACEFUL_ERR_CALLED_TWICE')).toBe(true)
  })
})

describe('the cluster example', () => {
  it('examples/cluster.mjs serves from its workers, and SIGTERM to the primary answers the request in flight and exits 0', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url))
    const child = spawn(process.execPath, ['examples/cluster.mjs'], {
      cwd: root,
      // A lame duck, as in production: a connection the primary accepts at the signal still reaches a listening worker.
      env: childEnv({ PORT: '0', WORKERS: '2', GRACEFUL_PRE_STOP_DELAY: '300ms' }),
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const lines: string[] = []
    const exited = once(child, 'exit')
    let listening = 0
    let port = 0
    const ready = new Promise<void>((resolve, reject) => {
      const onLine = (line: string): void => {
        lines.push(line)
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line)
        if (match !== null) port = Number(match[1])
        if (match !== null && ++listening === 2) resolve()
      }
      createInterface({ input: child.stdout }).on('line', onLine)
      createInterface({ input: child.stderr }).on('line', onLine)
      void exited.then(() => { reject(new Error(`exited before listening: ${lines.join('\n')}`)) })
    })
    try {
      await ready
      const dispatcher = new Client(origin(port))
      try {
        const response = dispatcher.request({ method: 'GET', path: '/?ms=400' })
          .then(async res => ({ status: res.statusCode, body: await res.body.text() }))
        expect((await fetchOnce(origin(port), '/healthz')).status).toBe(200)
        child.kill('SIGTERM')
        expect(await response).toMatchObject({ status: 200, body: expect.stringMatching(/^hello from worker \d\n$/) as string })
      } finally {
        await dispatcher.destroy()
      }
      const [code] = await exited as [number | null]
      expect(code).toBe(0)
      expect(lines.some(line => line.includes('graceful: cluster shutdown complete'))).toBe(true)
    } finally {
      child.kill('SIGKILL')
    }
  })
})
