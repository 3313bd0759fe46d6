// The work-source recipes of docs/beyond-http.md, each in a child process that receives a real SIGTERM: a croner
// schedule (examples/cron.mjs) and an async-iterator consumer (examples/consumer.mjs). Each has a lame duck, so that
// a source still taking work after the signal would be caught taking it.
import { describe, expect, it } from 'vitest'
import { ExampleProcess, shutdownStarted } from '../helpers/example-process.js'

describe('examples/cron.mjs (croner)', () => {
  it('a run in progress at SIGTERM finishes, no run starts after it, and the process exits 0', async () => {
    const app = new ExampleProcess('examples/cron.mjs', { RUN_MS: '700', GRACEFUL_PRE_STOP_DELAY: '2s' })
    const started = await app.until(line => line.msg === 'run started')
    app.child.kill('SIGTERM')
    const signalled = await app.until(shutdownStarted)
    const { code, signal } = await app.exited
    const runs = app.lines.filter(line => line.msg === 'run started')
    // The run under way at the signal is the last one: one tick a second would start two more in the lame duck.
    expect(runs.map(line => line['startedAt'])).toEqual([started['startedAt']])
    expect(app.lines.filter(line => line.msg === 'run done').map(line => line['startedAt'])).toEqual([started['startedAt']])
    const done = app.lines.findIndex(line => line.msg === 'run done')
    expect(done).toBeGreaterThan(app.lines.indexOf(signalled))
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    expect(app.report!.work!.sources).toMatchObject([{ name: 'report', stopAt: 'signal', status: 'ok', runningAtStop: 1 }])
  })

  it('a run still going at the drain deadline is named in the report, and the process exits 1', async () => {
    const app = new ExampleProcess('examples/cron.mjs', { RUN_MS: '20000', GRACEFUL_DRAIN_TIMEOUT: '300ms' })
    await app.until(line => line.msg === 'run started')
    app.child.kill('SIGTERM')
    const { code } = await app.exited
    expect(code).toBe(1)
    expect(app.report!.work!.forced).toMatchObject([{ source: 'report', name: 'report' }])
  })
})

describe('examples/consumer.mjs (an async iterator)', () => {
  it('the message being handled at SIGTERM finishes, none is taken after it, and the process exits 0', async () => {
    const app = new ExampleProcess('examples/consumer.mjs', { GRACEFUL_PRE_STOP_DELAY: '1s' }, { stdin: true })
    const stdin = app.child.stdin!
    await app.until(line => line.msg === 'consuming')
    stdin.write('{"id":"first","ms":800}\n')
    await app.until(line => line.msg === 'handling' && line.id === 'first')
    app.child.kill('SIGTERM')
    await app.until(shutdownStarted)
    // Sent during the lame duck: a consumer still iterating would take it.
    stdin.write('{"id":"second","ms":10}\n')
    const { code, signal } = await app.exited
    expect(app.lines.filter(line => line.msg === 'handling').map(line => line.id)).toEqual(['first'])
    expect(app.lines.filter(line => line.msg === 'handled').map(line => line.id)).toEqual(['first'])
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    expect(app.report!.work!.sources).toMatchObject([{ name: 'messages', status: 'ok', runningAtStop: 1 }])
  })
})
