// graceful-check's balancer, over real services: a Kubernetes Service goes on routing new connections to an instance
// for the endpoint-propagation delay after its SIGTERM, whatever the instance answers. A service without a lame duck
// fails that, in every cycle; graceful as the docs configure it passes; the presets retry what their balancers retry;
// the seed printed replays the run.
import { describe, expect, it } from 'vitest'
import type { CheckReport } from '@graceful/check'
import { check, checkJson, validate } from './check-helpers.js'
import { reportSchema } from '@graceful/check'

// A drain done right, and no lame duck: at SIGTERM the listener closes, requests in flight finish, idle keep-alive
// sockets close, and the process exits when the last socket is gone.
const noLameDuck = [
  "const http = require('node:http')",
  "const server = http.createServer((req, res) => { req.resume(); req.on('end', () => setTimeout(() => res.end('ok'), 20)) })",
  "server.listen(Number(process.env.PORT), '127.0.0.1')",
  "process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); setTimeout(() => server.closeAllConnections(), 500).unref() })"
].join('\n')

// A service that, at SIGTERM, resets every connection (a request in flight on one is cut) and closes its listener.
const resetsAtSignal = [
  "const http = require('node:http')",
  "const server = http.createServer((req, res) => { req.resume(); req.on('end', () => setTimeout(() => res.end('ok'), 150)) })",
  "server.listen(Number(process.env.PORT), '127.0.0.1')",
  "process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); setTimeout(() => process.exit(0), 800) })"
].join('\n')

const orders = ['--path', 'GET /', '--path', 'POST /orders {"id":1}']
const smallLoad = ['--keep-alive', '3', '--new-connection', '2', '--slow', '1', '--pipelining', '1', '--idle-sockets', '0']

describe('the default balancer, a Kubernetes Service, fails a service that stops taking connections at the signal', () => {
  it.each([
    ['a drain without a lame duck (the listener closes at SIGTERM)', ['--', process.execPath, '-e', noLameDuck], {}],
    ['bare Express whose application closes its listener at SIGTERM (server.close())', ['--', 'node', 'examples/bare-express.mjs'], { ON_SIGTERM: 'close' }]
  ])('%s: in every one of three seeded cycles, connections refused while the balancer still routes here are lost', async (_, command, env) => {
    const { code, report } = await checkJson(['--seed', '31', '--cycles', '3', '--signal-after', '200', '--timeout', '4000', ...orders, ...smallLoad, ...command], env)
    expect(validate(reportSchema, report)).toEqual([])
    expect(code).toBe(1)
    expect(report.balancer).toEqual({ model: 'kube-proxy', propagation: { min: 1_000, max: 3_000 } })
    for (const cycle of report.cycles) {
      const routed = cycle.failures.filter(failure => failure.kind === 'routed-to-closed-listener')
      expect(routed.length, JSON.stringify(cycle.timeline)).toBeGreaterThan(0)
      // Each refused within the propagation delay drawn for its cycle, from the default range.
      expect(cycle.balancer.propagationMs).toBeGreaterThanOrEqual(1_000)
      expect(cycle.balancer.propagationMs).toBeLessThanOrEqual(3_000)
      for (const failure of routed) expect(failure.sentMs).toBeLessThanOrEqual(cycle.balancer.propagationMs!)
      // Refused up to the end of the window, not only at the signal: the balancer did not let go any earlier.
      expect(Math.max(...routed.map(failure => failure.sentMs))).toBeGreaterThan(cycle.balancer.propagationMs! - 400)
      expect(cycle.requests.lostNotIdempotent).toBe(cycle.failures.filter(failure => failure.lost && failure.method === 'POST').length)
    }
    // Three cycles, three draws.
    expect(new Set(report.cycles.map(cycle => cycle.balancer.propagationMs)).size).toBeGreaterThan(1)
  }, 60_000)

  it('graceful as docs/kubernetes.md configures it on Kubernetes (the adaptive lame duck, no preStopDelay given) loses nothing in two cycles', async () => {
    const { code, report } = await checkJson(['--seed', '31', '--cycles', '2', '--signal-after', '200', '--ready', '/healthz', ...orders, ...smallLoad,
      '--', 'node', 'examples/express.mjs'], { KUBERNETES_SERVICE_HOST: '10.96.0.1' })
    expect(report.lost).toEqual([])
    expect(code).toBe(0)
    for (const cycle of report.cycles) {
      // The lame duck outlasted the balancer: new connections came until it let go, and each was served.
      expect(cycle.servicePhases!.lameDuckMs).toBeGreaterThan(cycle.balancer.propagationMs!)
      expect(cycle.requests.byClient['new-connection'].completed).toBeGreaterThan(0)
      expect(cycle.exit.code).toBe(0)
    }
  }, 60_000)
})

/** The failures of a report with their method, kind and whether lost. */
const failuresOf = (report: CheckReport): Array<{ method: string, kind: string, lost: boolean }> =>
  report.cycles.flatMap(cycle => cycle.failures).filter(failure => failure.client !== 'prober').map(({ method, kind, lost }) => ({ method, kind, lost }))

describe('the balancer presets re-send what their balancers re-send, and never a POST that reached the instance', () => {
  const run = async (balancer: string): Promise<CheckReport> => {
    const { report } = await checkJson(['--seed', '7', '--balancer', balancer, '--propagation', '600', '--signal-after', '400', ...orders, ...smallLoad,
      '--', process.execPath, '-e', resetsAtSignal])
    expect(report.cycles[0]!.balancer).toEqual({ model: balancer, propagationMs: 600 })
    return report
  }

  it('nginx re-sends every refused request and every unanswered GET: only POSTs that reached the instance are lost', async () => {
    const failures = failuresOf(await run('nginx'))
    expect(failures.filter(failure => failure.kind === 'retried-elsewhere').length).toBeGreaterThan(0)
    expect(failures.filter(failure => failure.kind === 'routed-to-closed-listener')).toEqual([])
    // The POSTs in flight at the signal reached the instance: lost, and no balancer may send them again.
    expect(failures.some(failure => failure.lost && failure.method === 'POST')).toBe(true)
    for (const failure of failures.filter(candidate => candidate.lost)) expect(failure.method).toBe('POST')
  }, 30_000)

  it('HAProxy with redispatch re-sends refused connections, POSTs too, but not a request cut after it went out', async () => {
    const failures = failuresOf(await run('haproxy-redispatch'))
    expect(failures.filter(failure => failure.kind === 'routed-to-closed-listener')).toEqual([])
    expect(failures.some(failure => failure.kind === 'retried-elsewhere' && failure.method === 'POST')).toBe(true)
    expect(failures.some(failure => failure.lost && failure.method === 'GET')).toBe(true)
  }, 30_000)

  it.each(['kube-proxy', 'caddy'])('%s re-sends nothing: refusals while it routes here are lost', async (balancer) => {
    const failures = failuresOf(await run(balancer))
    expect(failures.filter(failure => failure.kind === 'retried-elsewhere')).toEqual([])
    expect(failures.some(failure => failure.kind === 'routed-to-closed-listener' && failure.lost)).toBe(true)
  }, 30_000)
})

describe('the seed a report prints replays the run', () => {
  // A service that exits at the signal: the cycles are short, and the moments drawn are what is compared.
  const exits = ['--', process.execPath, '-e', "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')"]
  const drawn = (text: string): Array<{ replay: string, signalAfter: number, propagation: number }> =>
    [...text.matchAll(/SIGTERM after (\d+) ms of load, kube-proxy routing here for ([\d,]+) ms after it \(replay: ([^)]+)\)/g)]
      .map(match => ({ signalAfter: Number(match[1]), propagation: Number(match[2]!.replace(/,/g, '')), replay: match[3]! }))

  it('each cycle of a text report names the --seed (and --cycles) that draws the same signal moment and propagation delay again', async () => {
    const first = await check(['--seed', '42', '--cycles', '2', '--propagation', '100-400', ...smallLoad, ...exits])
    const cycles = drawn(first.stdout)
    expect(cycles.map(cycle => cycle.replay), first.stdout).toEqual(['--seed 42', '--seed 42 --cycles 2'])
    // The second cycle, replayed from what its header says.
    const { report } = await checkJson([...cycles[1]!.replay.split(' '), '--propagation', '100-400', ...smallLoad, ...exits])
    expect(report.seed).toBe(42)
    expect(report.cycles[1]).toMatchObject({ signalAfterMs: cycles[1]!.signalAfter, balancer: { propagationMs: cycles[1]!.propagation } })
    expect(report.cycles[0]).toMatchObject({ signalAfterMs: cycles[0]!.signalAfter, balancer: { propagationMs: cycles[0]!.propagation } })
  }, 60_000)
})
