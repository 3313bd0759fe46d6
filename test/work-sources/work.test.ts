// Work sources and the flush tier of the core, in-process: no signals, no exit, real sockets where the HTTP drain is
// part of the behaviour. The real consumers (BullMQ on Redis, croner, an async iterator) are in test/work-sources/work-*.test.ts.
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { Client } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createGraceful,
  isGracefulError,
  renderReport,
  type Graceful,
  type GracefulLogger,
  type RunningWork,
  type WorkSource,
  type WorkStopContext,
  type GracefulErrorCode
} from '@graceful/core'
import { untilPhase } from '@graceful/core/testing'
import { thrown } from '../helpers/index.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Line { level: string, obj: Record<string, unknown>, msg: string | undefined }

function recorder (): { logger: GracefulLogger, lines: Line[] } {
  const lines: Line[] = []
  // Serialised when written, as a real logger does: a later change to the object is not in the line.
  const push = (level: string) => (obj: object, msg?: string): void => { lines.push({ level, obj: JSON.parse(JSON.stringify(obj)) as Record<string, unknown>, msg }) }
  return { lines, logger: { info: push('info'), warn: push('warn'), error: push('error') } }
}

/**
 * A consumer as a queue worker is one: jobs it runs until each is finished by the test, stopping on request. `stop`
 * resolves once its jobs have ended; `force` hands the ones left back (recorded in `handedBack`).
 */
class Consumer implements WorkSource {
  readonly jobs = new Map<string, { name: string, startedAt: number, finish: () => void, aborted?: unknown }>()
  readonly calls: string[] = []
  readonly handedBack: string[] = []
  context: WorkStopContext | undefined
  /** `Date.now()` when its deadline aborted. */
  abortedAt = 0
  stopAt: 'signal' | 'draining'
  #idle: (() => void) | undefined

  constructor (stopAt: 'signal' | 'draining' = 'signal') {
    this.stopAt = stopAt
  }

  take (id: string, name = 'job'): void {
    this.jobs.set(id, { name, startedAt: Date.now(), finish: () => { this.jobs.delete(id); if (this.jobs.size === 0) this.#idle?.() } })
  }

  finish (id: string): void {
    this.jobs.get(id)?.finish()
  }

  stop (context: WorkStopContext): Promise<void> {
    this.calls.push('stop')
    this.context = context
    context.deadline.addEventListener('abort', () => {
      this.calls.push('deadline')
      this.abortedAt = Date.now()
      for (const job of this.jobs.values()) job.aborted = context.deadline.reason
    })
    if (this.jobs.size === 0) return Promise.resolve()
    return new Promise(resolve => { this.#idle = resolve })
  }

  running (): Iterable<RunningWork> {
    return [...this.jobs].map(([id, job]) => ({ id, name: job.name, startedAt: job.startedAt }))
  }

  force (): void {
    this.calls.push('force')
    for (const id of [...this.jobs.keys()]) {
      this.handedBack.push(id)
      this.finish(id)
    }
  }
}

async function serve (g: Graceful, handler: (end: (body: string) => void) => void): Promise<string> {
  const server: Server = createServer((req, res) => { handler(body => res.end(body)) })
  cleanups.push(() => { server.closeAllConnections(); server.close() })
  g.attach(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

describe('addWorkSource', () => {
  it.each([
    ['an empty name', '', { stop: () => {} }, 'GRACEFUL_ERR_INVALID_NAME'],
    ['no source', 'mail', undefined, 'GRACEFUL_ERR_INVALID_WORK_SOURCE'],
    ['a source without stop', 'mail', { running: () => [] }, 'GRACEFUL_ERR_NOT_A_FUNCTION'],
    ['an unknown stopAt', 'mail', { stop: () => {}, stopAt: 'draining-begins' }, 'GRACEFUL_ERR_INVALID_WORK_SOURCE'],
    ['a running that is not a function', 'mail', { stop: () => {}, running: [] }, 'GRACEFUL_ERR_NOT_A_FUNCTION'],
    ['a force that is not a function', 'mail', { stop: () => {}, force: true }, 'GRACEFUL_ERR_NOT_A_FUNCTION']
  ])('refuses %s at once, with a code', (_what, name, source, code) => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const err = thrown(() => g.addWorkSource(name, source as WorkSource))
    expect(isGracefulError(err, code as GracefulErrorCode), String(err)).toBe(true)
  })

  it('refuses a second source of the same name, and one added after the drain', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    g.addWorkSource('mail', { stop: () => {} })
    expect(isGracefulError(thrown(() => g.addWorkSource('mail', { stop: () => {} })), 'GRACEFUL_ERR_DUPLICATE_WORK_SOURCE')).toBe(true)
    await g.shutdown()
    expect(isGracefulError(thrown(() => g.addWorkSource('late', { stop: () => {} })), 'GRACEFUL_ERR_WORK_SOURCE_TOO_LATE')).toBe(true)
  })
})

describe('work sources in the shutdown', () => {
  it("a consumer stops at the signal, during the lame duck; a 'draining' source stops when draining begins", async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false, preStopDelay: 300 })
    const seen: string[] = []
    g.addWorkSource('queue', { stop: () => { seen.push(`queue stopped during ${g.state}`) } })
    g.addWorkSource('grpc', { stopAt: 'draining', stop: () => { seen.push(`grpc stopped during ${g.state}`) } })
    const report = await g.shutdown()
    expect(seen).toEqual(['queue stopped during stopping', 'grpc stopped during draining'])
    expect(report.work!.sources.map(source => [source.name, source.stopAt, source.status])).toEqual([
      ['queue', 'signal', 'ok'], ['grpc', 'draining', 'ok']
    ])
    expect(report.exitCode).toBe(0)
  })

  it('draining lasts until the work taken before the signal has ended, with no socket open, and it is counted in flight meanwhile', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false, drainTimeout: 10_000 })
    const consumer = new Consumer()
    consumer.take('42', 'send-email')
    g.addWorkSource('mail', consumer)
    expect(g.inFlight).toBe(1)
    expect(g.workInFlight).toBe(1)
    const phases: Array<{ phase: string, inFlight: number, workInFlight: number }> = []
    g.on('phase', ({ phase, inFlight, workInFlight }) => { phases.push({ phase, inFlight, workInFlight }) })
    const shutdown = g.shutdown()
    await untilPhase(g, 'draining')
    // Nothing else holds the drain: it is the job's to end.
    setTimeout(() => { consumer.finish('42') }, 200)
    const report = await shutdown
    expect(phases.slice(0, 2)).toEqual([
      { phase: 'stopping', inFlight: 1, workInFlight: 1 },
      { phase: 'draining', inFlight: 1, workInFlight: 1 }
    ])
    expect(phases[2]).toEqual({ phase: 'cleanup', inFlight: 0, workInFlight: 0 })
    expect(report.phases.draining).toBeGreaterThanOrEqual(150)
    expect(report.work).toEqual({
      sources: [{ name: 'mail', stopAt: 'signal', status: 'ok', durationMs: expect.any(Number) as number, runningAtStop: 1 }],
      forced: []
    })
    expect(report.exitCode).toBe(0)
  })

  it('at the drain deadline the work is named (source, id, name, age), its deadline aborts, force hands it back, and the exit code is 1', async () => {
    const { logger, lines } = recorder()
    const g = createGraceful({ signals: [], exit: false, logger, drainTimeout: 300 })
    const consumer = new Consumer()
    consumer.take('7', 'resize-image')
    g.addWorkSource('images', consumer)
    const started = Date.now()
    const report = await g.shutdown()
    expect(consumer.calls).toEqual(['stop', 'deadline', 'force'])
    expect(consumer.handedBack).toEqual(['7'])
    const reason = consumer.context!.deadline.reason as unknown
    expect(isGracefulError(reason, 'GRACEFUL_ERR_DRAIN_DEADLINE')).toBe(true)
    expect(report.work!.sources).toMatchObject([{ name: 'images', status: 'forced', runningAtStop: 1 }])
    expect(report.work!.forced).toEqual([{ source: 'images', id: '7', name: 'resize-image', ageMs: expect.any(Number) as number }])
    expect(report.work!.forced[0]!.ageMs).toBeGreaterThanOrEqual(250)
    expect(report.work!.forced[0]!.ageMs).toBeLessThanOrEqual(Date.now() - started + 50)
    expect(report.exitCode).toBe(1)
    const complete = lines.find(line => line.msg === 'graceful: shutdown complete')!
    expect(complete.level).toBe('warn')
    expect(complete.obj['work']).toEqual(report.work)
    expect(renderReport(report)).toMatch(/cut {7}images 7 resize-image \(running for \d+ ms\)/)
  })

  it('the sockets and the work share one deadline: a request and a job cut together, the request destroyed as the job is aborted', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false, drainTimeout: 400 })
    const consumer = new Consumer()
    consumer.take('1')
    g.addWorkSource('queue', consumer)
    let arrived: () => void = () => {}
    const inHandler = new Promise<void>(resolve => { arrived = resolve })
    const origin = await serve(g, () => { arrived() })
    const client = new Client(origin)
    cleanups.push(() => client.destroy())
    const response = client.request({ method: 'GET', path: '/hang' }).catch((err: unknown) => ({ failedAt: Date.now(), err }))
    await inHandler
    const report = await g.shutdown()
    const failure = await response as { failedAt: number }
    expect(report.requests.forced).toMatchObject([{ method: 'GET', path: '/hang' }])
    expect(report.work!.forced).toMatchObject([{ source: 'queue', id: '1' }])
    expect(consumer.abortedAt).toBeGreaterThan(0)
    expect(Math.abs(failure.failedAt - consumer.abortedAt)).toBeLessThan(200)
    expect(report.exitCode).toBe(1)
  })

  it("a source whose stop rejects is reported failed with its message and the others still drain", async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    g.addWorkSource('broken', { stop: () => Promise.reject(new Error('redis gone')) })
    g.addWorkSource('sync-throw', { stop: () => { throw new Error('no') } })
    const consumer = new Consumer()
    consumer.take('3')
    g.addWorkSource('fine', consumer)
    setTimeout(() => { consumer.finish('3') }, 50)
    const report = await g.shutdown()
    expect(report.work!.sources.map(source => [source.name, source.status, source.error])).toEqual([
      ['broken', 'failed', 'redis gone'], ['sync-throw', 'failed', 'no'], ['fine', 'ok', undefined]
    ])
    expect(report.exitCode).toBe(1)
  })

  it('a force that never ends is bounded: the shutdown goes on about a second after the deadline', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false, drainTimeout: 100 })
    g.addWorkSource('stuck', { stop: () => new Promise(() => {}), running: () => [{ id: 'x' }], force: () => new Promise(() => {}) })
    const started = performance.now()
    const report = await g.shutdown()
    const took = performance.now() - started
    expect(took).toBeGreaterThanOrEqual(1_050)
    expect(took).toBeLessThan(5_000)
    expect(report.work!.forced).toMatchObject([{ source: 'stuck', id: 'x' }])
  })

  it('a source added during the lame duck stops at once and the drain waits for it', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false, preStopDelay: 200 })
    const shutdown = g.shutdown()
    await untilPhase(g, 'stopping')
    const consumer = new Consumer()
    consumer.take('late-job')
    g.addWorkSource('late', consumer)
    expect(consumer.calls).toEqual([])
    await Promise.resolve()
    await Promise.resolve()
    expect(consumer.calls).toEqual(['stop'])
    await untilPhase(g, 'draining')
    setTimeout(() => { consumer.finish('late-job') }, 100)
    const report = await shutdown
    expect(report.work!.sources).toMatchObject([{ name: 'late', status: 'ok', runningAtStop: 1 }])
  })

  it('work:stop and work:end events carry each source, its outcome and what was cut', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false, drainTimeout: 150 })
    const consumer = new Consumer()
    consumer.take('9', 'import')
    g.addWorkSource('imports', consumer)
    const seen: unknown[] = []
    g.on('work:stop', ({ name, stopAt, running }) => { seen.push({ stop: name, stopAt, running }) })
    g.on('work:end', ({ name, result, forced }) => { seen.push({ end: name, status: result.status, forced: forced.map(work => work.id) }) })
    await g.shutdown()
    expect(seen).toEqual([{ stop: 'imports', stopAt: 'signal', running: 1 }, { end: 'imports', status: 'forced', forced: ['9'] }])
  })
})

describe('the flush tier', () => {
  it('runs after the hooks and after the report is logged, last registered first, and shutdown() resolves after it', async () => {
    const { logger, lines } = recorder()
    const order: string[] = []
    const g = createGraceful({ signals: [], exit: false, logger })
    const logged = (): boolean => lines.some(line => line.msg === 'graceful: shutdown complete')
    g.onFlush('logs', () => { order.push(`logs in ${g.state}, report logged: ${logged()}`) })
    g.onFlush('traces', async () => {
      order.push(`traces in ${g.state}, report logged: ${logged()}`)
      await new Promise(resolve => setTimeout(resolve, 50))
      order.push(`traces done, busy: ${g.busy}`)
    })
    g.onShutdown('db', () => { order.push('hook db') })
    g.on('shutdown:end', () => { order.push('shutdown:end') })
    const report = await g.shutdown()
    order.push('resolved')
    expect(order).toEqual(['hook db', 'shutdown:end', 'traces in stopped, report logged: true', 'traces done, busy: true',
      'logs in stopped, report logged: true', 'resolved'])
    expect(report.flush!.map(step => [step.name, step.status])).toEqual([['traces', 'ok'], ['logs', 'ok']])
    expect(g.busy).toBe(false)
    // Written before the flush: the logged report cannot hold it.
    expect(lines.find(line => line.msg === 'graceful: shutdown complete')!.obj['flush']).toBeUndefined()
  })

  it('a flush step that fails or hangs is bounded, logged, and leaves the exit code as the report said', async () => {
    const { logger, lines } = recorder()
    const g = createGraceful({ signals: [], exit: false, logger })
    g.onFlush('hangs', () => new Promise(() => {}), { timeout: 100 })
    g.onFlush('throws', () => { throw new Error('collector unreachable') })
    const report = await g.shutdown()
    expect(report.flush!.map(step => [step.name, step.status])).toEqual([['throws', 'failed'], ['hangs', 'timed-out']])
    expect(report.exitCode).toBe(0)
    expect(lines.filter(line => line.level === 'warn').map(line => line.msg)).toEqual([
      'graceful: flush step "throws" failed: collector unreachable',
      'graceful: flush step "hangs" timed-out: hook "hangs" did not finish within 100 ms'
    ])
  })

  it.each([
    ['an empty name', () => createGraceful({ signals: [], exit: false, logger: false }).onFlush('', () => {}), 'GRACEFUL_ERR_INVALID_NAME'],
    ['a function that is not one', () => createGraceful({ signals: [], exit: false, logger: false }).onFlush('x', 'fn' as unknown as () => void), 'GRACEFUL_ERR_NOT_A_FUNCTION'],
    ['a negative timeout', () => createGraceful({ signals: [], exit: false, logger: false }).onFlush('x', () => {}, { timeout: -1 }), 'GRACEFUL_ERR_INVALID_DURATION'],
    ['a name twice', () => createGraceful({ signals: [], exit: false, logger: false }).onFlush('x', () => {}).onFlush('x', () => {}), 'GRACEFUL_ERR_DUPLICATE_HOOK']
  ])('onFlush refuses %s', (_what, call, code) => {
    expect(isGracefulError(thrown(call), code as GracefulErrorCode)).toBe(true)
  })
})

describe('the budget', () => {
  it('counts the flush steps and the work sources\' hand-back', () => {
    const { logger, lines } = recorder()
    const g = createGraceful({ signals: [], exit: false, logger, gracePeriod: 12_000, drainTimeout: 10_000 })
    g.onShutdown('db', () => {}, { timeout: 500 })
    g.addWorkSource('queue', { stop: () => {}, force: () => {} })
    expect(lines.filter(line => line.obj['warning'] === 'budget')).toEqual([])
    g.onFlush('traces', () => {}, { timeout: 1_000 })
    expect(lines.filter(line => line.obj['warning'] === 'budget').map(line => line.obj)).toEqual([{
      warning: 'budget', gracePeriod: 12_000, budget: 12_500, preStopDelay: 0, drainTimeout: 10_000, closeTimeout: 0,
      hookTimeouts: 500, flushTimeouts: 1_000, workForceTimeout: 1_000
    }])
  })
})
