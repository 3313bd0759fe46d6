// @graceful/prometheus: the metrics read on scrape follow real requests and sockets through a drain.
import { Client } from 'undici'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { createGraceful } from '@graceful/core'
import { gracefulMetrics } from '@graceful/prometheus'
import { holdingServer } from '../helpers/index.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** One scrape: every sample by name (and phase label), as Prometheus would read them. */
async function scrape (registry: Registry): Promise<Record<string, number>> {
  const samples: Record<string, number> = {}
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const value of metric.values) {
      const label = value.labels['phase'] ?? value.labels['source'] ?? value.labels['handler']
      samples[label === undefined ? metric.name : `${metric.name}{${String(label)}}`] = value.value
    }
  }
  return samples
}

function clients (port: number, count: number): Client[] {
  const list = Array.from({ length: count }, () => new Client(`http://127.0.0.1:${port}`))
  cleanups.push(async () => { await Promise.all(list.map(async client => { await client.destroy() })) })
  return list
}

describe('@graceful/prometheus', () => {
  it('in-flight, sockets, phase and drain duration move as requests arrive and drain', async () => {
    const registry = new Registry()
    const g = createGraceful({ signals: [], exit: false, logger: false })
    gracefulMetrics(g, { registry })
    const { port, arrived, release } = await holdingServer(g)
    expect(await scrape(registry)).toMatchObject({
      graceful_in_flight_requests: 0,
      graceful_open_sockets: 0,
      'graceful_shutdown_phase{running}': 1,
      'graceful_shutdown_phase{draining}': 0,
      graceful_drain_duration_seconds: 0,
      graceful_forced_closes_total: 0
    })

    const responses = clients(port, 2).map(async client => await client.request({ method: 'GET', path: '/' }))
    await arrived(2)
    expect(await scrape(registry)).toMatchObject({ graceful_in_flight_requests: 2, graceful_open_sockets: 2 })

    const draining = new Promise<void>(resolve => { g.on('phase', event => { if (event.phase === 'draining') resolve() }) })
    const report = g.shutdown()
    await draining
    expect(await scrape(registry)).toMatchObject({
      'graceful_shutdown_phase{running}': 0,
      'graceful_shutdown_phase{draining}': 1,
      graceful_in_flight_requests: 2
    })

    release(1)
    const [first] = await Promise.all([responses[0]!.then(async res => await res.body.text())])
    expect(first).toBe('done')
    const during = await scrape(registry)
    expect(during['graceful_in_flight_requests']).toBe(1)
    // Measured so far, on scrape.
    expect(during['graceful_drain_duration_seconds']).toBeGreaterThan(0)

    release()
    await (await responses[1]!).body.text()
    const { phases } = await report
    expect(await scrape(registry)).toMatchObject({
      graceful_in_flight_requests: 0,
      graceful_open_sockets: 0,
      'graceful_shutdown_phase{draining}': 0,
      'graceful_shutdown_phase{stopped}': 1,
      graceful_drain_duration_seconds: phases.draining / 1000,
      graceful_forced_closes_total: 0
    })
    expect(await registry.metrics()).toContain('# TYPE graceful_forced_closes_total counter')
  })

  it('counts the sockets destroyed at the drain deadline', async () => {
    const registry = new Registry()
    const g = createGraceful({ signals: [], exit: false, logger: false, drainTimeout: 200 })
    gracefulMetrics(g, { registry, prefix: 'api_' })
    const { port, arrived } = await holdingServer(g)
    const hung = clients(port, 1).map(async client => await client.request({ method: 'GET', path: '/' }).catch((err: unknown) => err))
    await arrived(1)
    const report = await g.shutdown()
    expect(await hung[0]).toBeInstanceOf(Error)
    expect(report.sockets.forced).toBe(1)
    expect(await scrape(registry)).toMatchObject({ api_forced_closes_total: 1, 'api_shutdown_phase{stopped}': 1 })
    // The held handler never ended its response: its work could still commit after its client was cut.
    expect(report.requests.forced).toEqual([expect.objectContaining({ handler: 'running' })])
    expect(await scrape(registry)).toMatchObject({ 'api_requests_cut_total{running}': 1 })
  })

  it('work in flight is a gauge of its own, not in the requests, and the work the deadline cut is counted by source', async () => {
    const registry = new Registry()
    const g = createGraceful({ signals: [], exit: false, logger: false, drainTimeout: 200 })
    gracefulMetrics(g, { registry })
    const jobs = new Set(['1', '2'])
    g.addWorkSource('queue', {
      stop: () => new Promise(() => {}),
      running: () => [...jobs].map(id => ({ id })),
      force: () => { jobs.clear() }
    })
    expect(await scrape(registry)).toMatchObject({ graceful_in_flight_requests: 0, graceful_work_in_flight: 2 })
    expect(g.inFlight).toBe(2)
    await g.shutdown()
    expect(await scrape(registry)).toMatchObject({ graceful_work_in_flight: 0, 'graceful_work_cut_total{queue}': 2 })
  })

  it('accepts the Express middleware and takes its metrics back with remove()', async () => {
    const { graceful } = await import('@graceful/express')
    const registry = new Registry()
    const shutdown = graceful({ signals: [], exit: false, logger: false })
    const metrics = gracefulMetrics(shutdown, { registry })
    expect(Object.keys(await scrape(registry))).toContain('graceful_in_flight_requests')
    metrics.remove()
    expect(await registry.getMetricsAsJSON()).toEqual([])
    // A second registration after remove() does not clash.
    gracefulMetrics(shutdown, { registry }).remove()
  })
})
