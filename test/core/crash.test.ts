// Crashes: an uncaught exception or unhandled rejection while requests are in flight, in a real child process.
import { Client } from 'undici'
import { describe, expect, it } from 'vitest'
import { createGraceful } from '@graceful/core'
import { Fixture, type Framework } from '../helpers/index.js'
import { responseOf } from '../helpers/sockets.js'

/** Starts `/slow?ms=` on a keep-alive client, then crashes the service; resolves with how the slow request ended. */
async function crashUnderLoad (app: Fixture, port: number, kind: 'exception' | 'rejection'): Promise<{ status?: number, connection?: unknown, body?: string, error?: string }> {
  const busy = new Client(`http://127.0.0.1:${port}`)
  const crasher = new Client(`http://127.0.0.1:${port}`)
  try {
    const slow = busy.request({ method: 'GET', path: '/slow?ms=600' })
    await app.started('/slow')
    await (await crasher.request({ method: 'GET', path: `/crash?kind=${kind}` })).body.text()
    try {
      return await responseOf(await slow)
    } catch (err) {
      return { error: (err as { code?: string }).code ?? String(err) }
    }
  } finally {
    await busy.destroy()
    await crasher.destroy()
  }
}

describe.each(['node', 'express', 'fastify'] satisfies Framework[])('%s: onCrash', (framework) => {
  it.each(['exception', 'rejection'] as const)('"drain": after an uncaught %s the request in flight finishes, the hooks run, the report names the crash, exit 1', async (kind) => {
    const app = new Fixture({ framework, options: { onCrash: 'drain', crashDrainTimeout: 5_000, preStopDelay: 5_000 }, hooks: [{ name: 'db' }] })
    const port = await app.ready()
    const outcome = await crashUnderLoad(app, port, kind)
    expect(outcome).toMatchObject({ status: 200, connection: 'close', body: 'slow done' })
    const exit = await app.exited
    expect(exit.code).toBe(1)
    const report = app.report()
    expect(report.crash).toMatchObject({
      kind: kind === 'exception' ? 'uncaughtException' : 'unhandledRejection',
      message: kind === 'exception' ? 'crashed out of nowhere' : 'rejected out of nowhere'
    })
    expect(report.crash?.stack).toMatch(/crashed out of nowhere|rejected out of nowhere/)
    // No lame duck after a crash, whatever preStopDelay says.
    expect(report.phases.stopping).toBeLessThan(1_000)
    expect(report.hooks.map(hook => hook.name)).toContain('db')
  })
})

describe('onCrash: "exit" (the default)', () => {
  it('is Node\'s own behaviour: the process ends at once and the request in flight is cut', async () => {
    const app = new Fixture({ framework: 'node' })
    const port = await app.ready()
    const outcome = await crashUnderLoad(app, port, 'exception')
    expect(outcome.error).toBeDefined()
    const exit = await app.exited
    expect(exit.code).toBe(1)
    expect(app.eventsNamed('finished')).toHaveLength(0)
  })

  it('installs no crash listener: the application\'s own handling stays as it was', () => {
    const before = [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')]
    const g = createGraceful({ signals: [], exit: false, logger: false })
    expect([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')]).toEqual(before)
    const draining = createGraceful({ signals: [], exit: false, logger: false, onCrash: 'drain' })
    expect(process.listenerCount('uncaughtException')).toBe(before[0]! + 1)
    const another = createGraceful({ signals: [], exit: false, logger: false, onCrash: 'drain' })
    expect(process.listenerCount('uncaughtException')).toBe(before[0]! + 1)
    for (const instance of [g, draining, another]) instance.dispose()
    expect([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')]).toEqual(before)
  })
})
