// The adaptive lame duck over real sockets: it ends once no request has come on a fresh connection for the quiet
// window, never before the minimum, never after preStopDelay.
import { once } from 'node:events'
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { createGraceful, isGracefulError, type Graceful, type GracefulOptions } from '@graceful/core'
import { untilPhase } from '@graceful/core/testing'
import { holdingServer, recordingLogger, serveInProcess, thrown } from '../helpers/index.js'
import { fetchOnce, nextResponse, openSocket, rawGet } from '../helpers/sockets.js'

const quiet = { signals: [], exit: false, logger: false } as const

const instances: Graceful[] = []
afterEach(() => {
  for (const g of instances.splice(0)) g.dispose()
})

function instance (options: GracefulOptions): Graceful {
  const g = createGraceful({ ...quiet, ...options })
  instances.push(g)
  return g
}

// Unpaced, a fast Node line (24, 26) sent the loop's 2 000 requests in under a second, so the traffic ended long
// before the time the test asked for; at this pace the 2 000 span 10 s, longer than any traffic below.
const FRESH_TRAFFIC_INTERVAL = 5

/**
 * Requests on fresh connections, one every `FRESH_TRAFFIC_INTERVAL` ms (or back to back when slower), for `ms` from
 * now, as a load balancer that still routes here would send them. Stops at the first refused connection. Resolves
 * with the `performance.now()` time at which the last request that was answered had been sent (the server saw it
 * later).
 */
async function freshTraffic (origin: string, ms: number, path = '/work'): Promise<number> {
  const until = performance.now() + ms
  let last = 0
  for (let i = 0; i < 2_000 && performance.now() < until; i++) {
    const sent = performance.now()
    try {
      const response = await fetchOnce(origin, path)
      if (response.status === 200) last = sent
    } catch {
      break
    }
    const pause = sent + FRESH_TRAFFIC_INTERVAL - performance.now()
    if (pause > 0) await delay(pause)
  }
  return last
}

describe('adaptive lame duck', () => {
  it('ends after the quiet window, well before preStopDelay, when no new traffic comes', async () => {
    const { logger, lines } = recordingLogger()
    const g = instance({ logger, preStopDelay: 20_000, preStopQuietWindow: 300 })
    await serveInProcess(g)
    const report = await g.shutdown()
    expect(report.phases.stopping).toBeGreaterThanOrEqual(295)
    expect(report.phases.stopping).toBeLessThan(3_000)
    expect(lines.find(line => line.msg === 'graceful: lame duck ended early, no new traffic')).toBeDefined()
  })

  it('keeps going while requests arrive on fresh connections, and ends a quiet window after the last one', async () => {
    // The window is wide enough that a CPU-starved test process cannot open a quiet gap in the traffic by itself.
    const g = instance({ preStopDelay: 20_000, preStopQuietWindow: 800 })
    const { origin } = await serveInProcess(g)
    const started = performance.now()
    const done = g.shutdown()
    const last = await freshTraffic(origin, 2_000)
    const report = await done
    expect(last - started).toBeGreaterThan(1_200)
    expect(report.phases.stopping).toBeGreaterThanOrEqual(last - started + 790)
    expect(report.phases.stopping).toBeLessThan(last - started + 3_000)
    expect(report.requests.servedWhileStopping).toBeGreaterThan(3)
  })

  it('probes on fresh connections are not traffic: a health-checking load balancer does not hold the lame duck', async () => {
    const g = instance({ preStopDelay: 20_000, preStopQuietWindow: 300 })
    const { origin } = await serveInProcess(g)
    const started = performance.now()
    const done = g.shutdown()
    // Readiness and liveness probes back to back on fresh connections, for as long as the lame duck lasts.
    let probes = 0
    const probing = (async () => {
      for (let i = 0; i < 2_000 && g.state === 'stopping'; i++) {
        await fetchOnce(origin, i % 2 === 0 ? '/healthz' : '/livez').then(() => { probes++ }, () => undefined)
      }
    })()
    const report = await done
    await probing
    expect(probes).toBeGreaterThan(3)
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(report.phases.stopping).toBeGreaterThanOrEqual(295)
    expect(report.phases.stopping).toBeLessThan(3_000)
  })

  it('a request on a connection opened before the signal is a client finishing, not the balancer routing here', async () => {
    // Quiet window 1.5 s, minimum 1 s: with no fresh traffic the lame duck ends at 1.5 s. A request on an old
    // connection at about 0.8 s would push the end past 2.3 s if it counted as the balancer still routing here.
    const g = instance({ preStopDelay: 20_000, preStopQuietWindow: 1_500, preStopMinimumDelay: 1_000 })
    const { port } = await serveInProcess(g)
    const socket = connect(port, '127.0.0.1')
    try {
      await once(socket, 'connect')
      socket.setEncoding('latin1')
      const request = rawGet('/work')
      const first = nextResponse(socket)
      socket.write(request)
      await first
      const done = g.shutdown()
      // The scenario's clock, not a synchronisation: the client finishes its work a while into the lame duck.
      await new Promise(resolve => setTimeout(resolve, 800))
      const last = nextResponse(socket)
      socket.write(request)
      expect(await last).toMatch(/connection: close/i)
      const report = await done
      expect(report.requests.servedWhileStopping).toBe(1)
      expect(report.phases.stopping).toBeGreaterThanOrEqual(1_450)
      expect(report.phases.stopping).toBeLessThan(2_100)
    } finally {
      socket.destroy()
    }
  })

  it('never ends before preStopMinimumDelay, however quiet', async () => {
    const g = instance({ preStopDelay: 20_000, preStopQuietWindow: 50, preStopMinimumDelay: 900 })
    await serveInProcess(g)
    const report = await g.shutdown()
    expect(report.phases.stopping).toBeGreaterThanOrEqual(895)
    expect(report.phases.stopping).toBeLessThan(4_000)
  })

  it('never lasts longer than preStopDelay, however busy', async () => {
    const { logger, lines } = recordingLogger()
    const g = instance({ logger, preStopDelay: 1_500, preStopQuietWindow: 1_000 })
    const { origin } = await serveInProcess(g)
    const done = g.shutdown()
    // Traffic well past the maximum; it ends itself at the first refused connection, once the listener closes.
    await freshTraffic(origin, 4_000)
    const report = await done
    expect(report.phases.stopping).toBeGreaterThanOrEqual(1_495)
    expect(report.phases.stopping).toBeLessThan(2_500)
    expect(lines.find(line => line.msg?.startsWith('graceful: lame duck ended early') === true)).toBeUndefined()
  })

  it('without preStopQuietWindow the lame duck is the fixed preStopDelay', async () => {
    const g = instance({ preStopDelay: 600 })
    await serveInProcess(g)
    const report = await g.shutdown()
    expect(report.phases.stopping).toBeGreaterThanOrEqual(595)
  })

  it('rejects a minimum above the maximum', () => {
    const caught = thrown(() => createGraceful({ ...quiet, preStopDelay: 1_000, preStopMinimumDelay: 2_000 }))
    expect(isGracefulError(caught, 'GRACEFUL_ERR_CONFLICTING_OPTIONS')).toBe(true)
    expect((caught as Error).message).toMatch(/`preStopMinimumDelay` must be at most preStopDelay \(1000\)/)
    expect(() => createGraceful({ ...quiet, preStopQuietWindow: -1 })).toThrow(/`preStopQuietWindow`/)
  })
})

describe('the lame duck settles', () => {
  it('in its last 100 ms responses keep their connection, so that no client told to go reconnects as the listener closes; draining tells them', async () => {
    // A client told `Connection: close` reconnects at once; behind no balancer (or one still routing here) that is
    // this instance, and a connection still in the kernel's accept queue when the listener closes is reset. So the
    // last moments of the lame duck tell nobody; draining tells them, after the listener has closed (a reconnect is
    // then refused, which a client can always retry).
    const g = instance({ preStopDelay: 1_000, preStopQuietWindow: 0 })
    const { port, arrived, release } = await holdingServer(g)
    const socket = await openSocket(port, { encoding: 'latin1' })
    try {
      socket.write(rawGet('/first'))
      await arrived(1)
      // Released 950 ms into the lame duck: a timer of this process set in the same turn as the lame duck's own, so
      // however late the process runs, it fires after the settling begins (900 ms) and before draining (1 000 ms).
      g.on('phase', ({ phase }) => {
        if (phase === 'stopping') setTimeout(() => { release(1) }, 950)
      })
      const done = g.shutdown()
      const first = await nextResponse(socket)
      expect(first).toMatch(/^HTTP\/1\.1 200 /)
      expect(first).not.toMatch(/connection: close/i)
      socket.write(rawGet('/second'))
      await arrived(1)
      await untilPhase(g, 'draining')
      release(1)
      const second = await nextResponse(socket)
      expect(second).toMatch(/^HTTP\/1\.1 200 /)
      expect(second).toMatch(/connection: close/i)
      const report = await done
      expect(report.exitCode).toBe(0)
    } finally {
      socket.destroy()
    }
  })
})
