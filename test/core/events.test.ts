// Lifecycle events (node:diagnostics_channel and the instance's own listeners), the live gauges, and the readable
// rendering of the report: in-process, real sockets, no signals, no exit.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { Client } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import {
  channels,
  createFallbackLogger,
  createGraceful,
  isGracefulError,
  renderReport,
  type Graceful,
  type GracefulEvents,
  type GracefulLogger,
  type ShutdownReport
} from '@graceful/core'
import { holdingServer, thrown } from '../helpers/index.js'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup()
})


function silent (): GracefulLogger & { warnings: string[] } {
  const warnings: string[] = []
  return { warnings, info: () => {}, warn: (_obj, msg) => { warnings.push(msg ?? '') }, error: () => {} }
}

type Seen = Array<[string, Record<string, unknown>]>

function summary (seen: Seen): string[] {
  return seen.map(([name, event]) => {
    if (name === 'phase') return `phase ${String(event['previous'])}→${String(event['phase'])}`
    if (name === 'hook:start' || name === 'hook:end') return `${name} ${String(event['name'])}`
    return name
  })
}

const expectedOrder = [
  'shutdown:start',
  'phase running→stopping',
  'phase stopping→draining',
  'phase draining→cleanup',
  'hook:start cache',
  'hook:end cache',
  'hook:start db',
  'hook:end db',
  'phase cleanup→stopped',
  'shutdown:end'
]

async function shutdownWithTraffic (g: Graceful): Promise<ShutdownReport> {
  g.onShutdown('db', () => {})
  g.onShutdown('cache', () => { throw new Error('cache broke') })
  const { port, arrived, release } = await holdingServer(g)
  const client = new Client(`http://127.0.0.1:${port}`)
  cleanups.push(() => { void client.destroy() })
  const response = client.request({ method: 'GET', path: '/' })
  await arrived(1)
  g.on('phase', event => { if (event.phase === 'draining') release() })
  const report = g.shutdown()
  expect(await (await response).body.text()).toBe('done')
  return await report
}

describe('diagnostics_channel', () => {
  it('subscribers receive every event of a shutdown in order, each naming its instance', async () => {
    const seen: Seen = []
    const names = Object.entries(channels) as Array<[string, string]>
    expect(names.map(([, name]) => name)).toEqual([
      'graceful:shutdown:start', 'graceful:phase', 'graceful:hook:start', 'graceful:hook:end', 'graceful:work:stop',
      'graceful:work:end', 'graceful:shutdown:end'
    ])
    for (const [, name] of names) {
      const subscriber = (message: unknown): void => { seen.push([name.slice('graceful:'.length), message as Record<string, unknown>]) }
      subscribe(name, subscriber)
      cleanups.push(() => unsubscribe(name, subscriber))
    }
    const g = createGraceful({ signals: [], exit: false, logger: false })
    // Another instance in the same process publishes on the same channels: `graceful` tells them apart.
    const other = createGraceful({ signals: [], exit: false, logger: false })
    const report = await shutdownWithTraffic(g)
    await other.shutdown()

    const mine = seen.filter(([, event]) => event['graceful'] === g)
    expect(summary(mine)).toEqual(expectedOrder)
    expect(seen.filter(([, event]) => event['graceful'] === other)).toHaveLength(6)
    expect(mine[0]![1]).toMatchObject({ reason: 'shutdown()' })
    // The draining phase begins with the request still in flight on its socket.
    expect(mine[2]![1]).toMatchObject({ phase: 'draining', inFlight: 1, openSockets: 1 })
    expect(mine[3]![1]['previousDurationMs']).toBe(report.phases.draining)
    expect(mine[4]![1]).toMatchObject({ name: 'cache', timeoutMs: 5_000 })
    expect(mine[5]![1]).toMatchObject({ name: 'cache', result: { status: 'failed', error: 'cache broke' } })
    expect(mine[9]![1]['report']).toBe(report)
  })
})

describe('listener API', () => {
  it('g.on() receives the same events in the same order, with typed payloads; off() stops them', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const seen: Seen = []
    const names: Array<keyof GracefulEvents> = ['shutdown:start', 'phase', 'hook:start', 'hook:end', 'shutdown:end']
    for (const name of names) g.on(name, (event: GracefulEvents[typeof name]) => { seen.push([name, event as unknown as Record<string, unknown>]) })
    const removed = (): void => { throw new Error('removed listeners are not called') }
    g.on('phase', removed).off('phase', removed)
    let ended: ShutdownReport | undefined
    g.on('shutdown:end', event => { ended = event.report })

    const report = await shutdownWithTraffic(g)
    expect(summary(seen)).toEqual(expectedOrder)
    expect(seen.every(([, event]) => event['graceful'] === g)).toBe(true)
    expect(ended).toBe(report)
  })

  it('a listener that throws is logged and the shutdown goes on to a clean report', async () => {
    const logger = silent()
    const g = createGraceful({ signals: [], exit: false, logger })
    g.on('phase', () => { throw new Error('listener bug') })
    const phases: string[] = []
    g.on('phase', event => { phases.push(event.phase) })
    const report = await g.shutdown()
    expect(report.exitCode).toBe(0)
    expect(phases).toEqual(['stopping', 'draining', 'cleanup', 'stopped'])
    expect(logger.warnings.filter(msg => msg.includes('listener threw'))).toHaveLength(4)
  })

  it('an async listener that rejects is logged like one that throws: no unhandled rejection ends the process', async () => {
    const logger = silent()
    const g = createGraceful({ signals: [], exit: false, logger })
    // What an `async` listener returns, which the listener type (returning void) lets through in JavaScript.
    const rejecting = async (): Promise<void> => { await Promise.resolve(); throw new Error('async listener bug') }
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the misuse under test
    g.on('phase', rejecting)
    const report = await g.shutdown()
    expect(report.exitCode).toBe(0)
    // The last one rejects after the report: give it the turn it needs.
    await new Promise(resolve => setImmediate(resolve))
    expect(logger.warnings.filter(msg => msg.includes('listener threw'))).toHaveLength(4)
  })

  it('on() refuses an unknown event name or a listener that is not a function', () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    expect(isGracefulError(thrown(() => g.on('stopped' as 'phase', () => {})), 'GRACEFUL_ERR_UNKNOWN_EVENT')).toBe(true)
    expect(isGracefulError(thrown(() => g.on('phase', 'fn' as unknown as () => void)), 'GRACEFUL_ERR_NOT_A_FUNCTION')).toBe(true)
  })
})

describe('live gauges', () => {
  it('inFlight and openSockets follow real sockets and requests at any time', async () => {
    const g = createGraceful({ signals: [], exit: false, logger: false })
    const { port, arrived, release } = await holdingServer(g)
    expect([g.inFlight, g.openSockets]).toEqual([0, 0])
    const quiet: Socket = connect(port, '127.0.0.1')
    cleanups.push(() => quiet.destroy())
    await once(quiet, 'connect')
    const clients = [new Client(`http://127.0.0.1:${port}`), new Client(`http://127.0.0.1:${port}`)]
    cleanups.push(() => { for (const client of clients) void client.destroy() })
    const responses = clients.map(async client => await client.request({ method: 'GET', path: '/' }))
    await arrived(2)
    expect([g.inFlight, g.openSockets]).toEqual([2, 3])
    release()
    for (const response of await Promise.all(responses)) await response.body.text()
    expect(g.inFlight).toBe(0)
    quiet.destroy()
    await once(quiet, 'close')
    await g.shutdown()
    expect([g.inFlight, g.openSockets]).toEqual([0, 0])
  })
})

describe('readable rendering', () => {
  const report: ShutdownReport = {
    reason: 'SIGTERM',
    exitCode: 1,
    durationMs: 10_512.4,
    phases: { stopping: 5_000.2, draining: 5_010.7, cleanup: 501.5 },
    requests: { servedWhileStopping: 3, inFlightAtDrain: 2, completedDuringDrain: 1, forced: [{ method: 'POST', path: '/upload', ageMs: 12_003 }], declinedPipelined: 0 },
    sockets: { openAtDrain: 4, webSockets: 0, http2Sessions: 0, closedIdle: 2, closedAfterResponse: 1, forced: 1, untracked: 0 },
    atDeadline: { inFlight: 1, openSockets: 1, activeResources: { TCPSocketWrap: 1, Timeout: 2 } },
    hooks: [
      { name: 'close', status: 'ok', durationMs: 1.2 },
      { name: 'queue', status: 'timed-out', durationMs: 500.1, error: 'hook "queue" did not finish within 500 ms' },
      { name: 'db', status: 'failed', durationMs: 0.3, error: 'pool broke' }
    ]
  }

  it('renders the report as a compact summary that says what was forced, what held the process and which hooks failed', () => {
    expect(renderReport(report)).toBe([
      'graceful: shutdown complete in 10.51 s (SIGTERM), exit code 1',
      '  phases    stopping 5.00 s · draining 5.01 s · cleanup 501.5 ms',
      '  requests  2 in flight at drain, 1 completed, 1 forced, 3 served during the lame duck',
      '  sockets   4 open at drain: 2 closed idle, 1 after their response, 1 forced',
      '  forced    POST /upload (running for 12.00 s)',
      '  deadline  1 request in flight, 1 socket open; active resources: TCPSocketWrap ×1, Timeout ×2',
      '  hooks     close ok in 1.2 ms',
      '            queue TIMED OUT in 500.1 ms: hook "queue" did not finish within 500 ms',
      '            db FAILED in 0.3 ms: pool broke'
    ].join('\n'))
  })

  it('the fallback logger writes that summary to a TTY and one JSON line elsewhere', () => {
    const written: string[] = []
    let isTTY = true
    const logger = createFallbackLogger(() => ({ isTTY, write: (text: string) => written.push(text) }))
    logger.warn(report, 'graceful: shutdown complete')
    logger.info({ reason: 'SIGTERM', inFlight: 2 }, 'graceful: shutdown started')
    isTTY = false
    logger.warn(report, 'graceful: shutdown complete')
    expect(written[0]).toBe(renderReport(report) + '\n')
    expect(written[1]).toBe('graceful: shutdown started  reason=SIGTERM inFlight=2\n')
    expect(written[2]!.endsWith('\n')).toBe(true)
    expect(written[2]!.slice(0, -1)).not.toContain('\n')
    expect(JSON.parse(written[2]!)).toMatchObject({ level: 40, name: 'graceful', msg: 'graceful: shutdown complete', ...report })
  })
})
