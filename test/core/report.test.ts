// The report as an operator sees it: the JSON line graceful's own logger writes to stderr of a real process, the
// readable summary on a terminal, and the exit code policy, with real signals.
import { Client } from 'undici'
import { describe, expect, it } from 'vitest'
import { Fixture, type FixtureConfig } from '../helpers/index.js'

async function get (port: number, path: string): Promise<{ status: number, body: string }> {
  const client = new Client(`http://127.0.0.1:${port}`)
  try {
    const res = await client.request({ method: 'GET', path })
    return { status: res.statusCode, body: await res.body.text() }
  } finally {
    await client.destroy()
  }
}

describe('the report line', () => {
  it('a clean shutdown: reason, phases, the drained request and sockets, each hook, exit code 0', async () => {
    const app = new Fixture({ framework: 'node', fallbackLogger: true, keepAliveTimeout: 60_000, hooks: [{ name: 'db' }, { name: 'cache' }] })
    const port = await app.ready()
    const idle = new Client(`http://127.0.0.1:${port}`)
    try {
      const warm = await idle.request({ method: 'GET', path: '/work' })
      expect(await warm.body.text()).toBe('ok')
      const response = get(port, '/slow?ms=300')
      await app.started('/slow')
      app.kill('SIGTERM')
      expect(await response).toEqual({ status: 200, body: 'slow done' })
      expect((await app.exited).code).toBe(0)
    } finally {
      await idle.destroy()
    }
    await app.closed
    const report = app.loggedReport()
    expect(report).toMatchObject({
      level: 30,
      name: 'graceful',
      reason: 'SIGTERM',
      exitCode: 0,
      requests: { servedWhileStopping: 0, inFlightAtDrain: 1, completedDuringDrain: 1, forced: [] },
      sockets: { openAtDrain: 2, closedIdle: 1, closedAfterResponse: 1, forced: 0 }
    })
    expect(report.hooks.map(hook => [hook.name, hook.status])).toEqual([['cache', 'ok'], ['db', 'ok']])
    for (const hook of report.hooks) expect(hook.durationMs).toBeGreaterThanOrEqual(0)
    // The drain waited for the slow request: it lasted until the response ended.
    const finished = app.eventsNamed('finished')[0]!.t
    const started = app.loggedLines().find(line => line['msg'] === 'graceful: shutdown started')!['time'] as number
    expect(report.phases.draining).toBeGreaterThan(0)
    expect(started + report.phases.stopping + report.phases.draining).toBeGreaterThanOrEqual(finished - 5)
    const { stopping, draining, cleanup } = report.phases
    expect(report.durationMs).toBeGreaterThanOrEqual(Math.floor(stopping + draining + cleanup) - 1)
    expect(report.atDeadline).toBeUndefined()
    // One line, and it is the last thing graceful logged.
    expect(app.loggedLines().filter(line => line['msg'] === 'graceful: shutdown complete')).toHaveLength(1)
  })

  it('a forced drain: each cut request (method, path without its query, age) and what still held the process', async () => {
    const app = new Fixture({ framework: 'node', fallbackLogger: true, options: { drainTimeout: 400 } })
    const port = await app.ready()
    const hung = get(port, '/hang?token=secret').catch((err: unknown) => err)
    await app.started('/hang')
    app.kill('SIGTERM')
    expect(await hung).toBeInstanceOf(Error)
    expect((await app.exited).code).toBe(1)
    await app.closed
    const report = app.loggedReport()
    expect(report).toMatchObject({ level: 40, reason: 'SIGTERM', exitCode: 1, sockets: { openAtDrain: 1, forced: 1 } })
    expect(report.requests.forced).toHaveLength(1)
    expect(report.requests.forced[0]).toMatchObject({ method: 'GET', path: '/hang' })
    expect(report.requests.forced[0]!.ageMs).toBeGreaterThanOrEqual(390)
    expect(report.atDeadline).toMatchObject({ inFlight: 1, openSockets: 1 })
    // The socket held by the hung request is among the active resources that kept the process alive.
    expect(report.atDeadline!.activeResources['TCPSocketWrap']).toBeGreaterThanOrEqual(1)
  })

  it('a second signal says what it abandons: phase, requests, sockets and the active resources holding the process', async () => {
    const app = new Fixture({ framework: 'node', fallbackLogger: true, phases: true, options: { drainTimeout: 30_000 } })
    const port = await app.ready()
    const hung = get(port, '/hang').catch((err: unknown) => err)
    await app.started('/hang')
    app.kill('SIGTERM')
    await app.waitFor(event => event.event === 'phase' && event['phase'] === 'draining', 'draining')
    app.kill('SIGTERM')
    expect((await app.exited).code).toBe(1)
    await hung
    await app.closed
    const abandoned = app.loggedLines().find(line => line['msg'] === 'graceful: second SIGTERM during draining, exiting now')
    expect(abandoned).toMatchObject({ level: 50, phase: 'draining', inFlight: 1, sockets: 1 })
    expect((abandoned!['activeResources'] as Record<string, number>)['TCPSocketWrap']).toBeGreaterThanOrEqual(1)
  })

  it('failing hooks: each with its status and error, the others still run, exit code 1', async () => {
    const app = new Fixture({
      framework: 'node',
      fallbackLogger: true,
      hooks: [{ name: 'pool' }, { name: 'cache', behavior: 'throw' }, { name: 'queue', behavior: 'hang', timeout: 200 }]
    })
    await app.ready()
    app.kill('SIGTERM')
    expect((await app.exited).code).toBe(1)
    await app.closed
    const report = app.loggedReport()
    expect(report.exitCode).toBe(1)
    expect(report.hooks).toMatchObject([
      { name: 'queue', status: 'timed-out', error: 'hook "queue" did not finish within 200 ms' },
      { name: 'cache', status: 'failed', error: 'cache broke' },
      { name: 'pool', status: 'ok' }
    ])
    expect(report.hooks[0]!.durationMs).toBeGreaterThanOrEqual(190)
    expect(report.hooks[2]).not.toHaveProperty('error')
  })
})

describe('on a terminal', () => {
  it('the fallback logger writes a readable summary instead of JSON when stderr is a TTY', async () => {
    const app = new Fixture({ framework: 'node', fallbackLogger: true, hooks: [{ name: 'db' }] }, { tty: true })
    await app.ready()
    const pid = app.events.find(e => e.event === 'ready')!['pid'] as number
    try {
      process.kill(pid, 'SIGTERM')
      // `script -e` exits with the app's own code.
      expect((await app.exited).code).toBe(0)
    } finally {
      try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
    }
    await app.closed
    const output = app.lines.join('\n')
    expect(output).toMatch(/^graceful: shutdown complete in [\d.]+ m?s \(SIGTERM\), exit code 0\r?$/m)
    expect(output).toMatch(/^ {2}hooks {5}db ok in [\d.]+ ms\r?$/m)
    expect(output).toMatch(/^graceful: shutdown started {2}reason=SIGTERM /m)
    expect(output).not.toContain('"msg"')
  })
})

describe('exit code policy', () => {
  async function exitCodeOf (config: Omit<FixtureConfig, 'framework'>, signal: NodeJS.Signals | 'shutdown()', path?: string): Promise<number | null> {
    const app = new Fixture({ framework: 'node', ...config })
    const port = await app.ready()
    const pending = path === undefined ? undefined : get(port, path).catch((err: unknown) => err)
    if (path !== undefined) await app.started(path.split('?')[0]!)
    if (signal === 'shutdown()') await get(port, '/shutdown')
    else app.kill(signal)
    await pending
    const exit = await app.exited
    await app.closed
    expect(app.report().exitCode).toBe(exit.code)
    return exit.code
  }
  const conventional = { options: { signalExitCode: 'conventional' } }

  it('by default a clean SIGTERM exits 0', async () => {
    expect(await exitCodeOf({}, 'SIGTERM', '/slow?ms=200')).toBe(0)
  })

  it('conventional: a clean SIGTERM exits 143 and a clean SIGINT 130', async () => {
    const [term, int] = await Promise.all([
      exitCodeOf(conventional, 'SIGTERM', '/slow?ms=200'),
      exitCodeOf(conventional, 'SIGINT', '/slow?ms=200')
    ])
    expect(term).toBe(143)
    expect(int).toBe(130)
  })

  it('conventional: a shutdown started by shutdown() exits 0', async () => {
    expect(await exitCodeOf(conventional, 'shutdown()')).toBe(0)
  })

  it('conventional: a forced drain or a failed hook exits 1 all the same', async () => {
    const [forced, failed] = await Promise.all([
      exitCodeOf({ options: { signalExitCode: 'conventional', drainTimeout: 300 } }, 'SIGTERM', '/hang'),
      exitCodeOf({ ...conventional, hooks: [{ name: 'db', behavior: 'throw' }] }, 'SIGTERM')
    ])
    expect(forced).toBe(1)
    expect(failed).toBe(1)
  })

  it('several instances: a failure in one outranks the 143 of another', async () => {
    const app = new Fixture({
      framework: 'node',
      servers: 2,
      instances: 2,
      instanceOptions: [{ signalExitCode: 'conventional' }, { drainTimeout: 300 }]
    })
    const ports = [await app.ready(0), await app.ready(1)]
    const hung = get(ports[1]!, '/hang').catch((err: unknown) => err)
    await app.started('/hang')
    app.kill('SIGTERM')
    await hung
    expect((await app.exited).code).toBe(1)
    await app.closed
    expect(app.reports().map(report => report.exitCode).sort()).toEqual([1, 143])
  })
})
