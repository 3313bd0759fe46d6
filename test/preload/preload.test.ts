// The preload (`node --import @graceful/core/register`, docs/preload.md) on services with nothing of graceful in their
// code, on every Node line: real child processes and real SIGTERMs, the load judged by graceful-check next to the same
// service without the preload. The apps that need a build (Next.js, Nitro, React Router) are in preload-builds.test.ts.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import fc from 'fast-check'
import { Client } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { ignoredPorts } from '../../packages/core/dist/preload/preload.js'
import { freePorts } from '../../packages/check/src/service.js'
import { root } from '../helpers/packages.js'
import { expectNothingLost, expectRequestsLost, judge, PRELOAD_ENV } from './preload-check.js'

const IMPORT = ['--import', '@graceful/core/register']
const REQUIRE = ['--require', '@graceful/core/register']
const NO_GRACEFUL = 'test/fixtures/no-graceful.cjs'

const children = new Set<ChildProcess>()
const clients = new Set<Client>()
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
  await Promise.all([...clients].map(client => client.destroy()))
  clients.clear()
  clientsByPort.clear()
})

interface Service {
  child: ChildProcess
  /** Every line on stdout and stderr, JSON parsed where it is JSON. */
  lines: Array<Record<string, unknown>>
  exited: Promise<[number | null, NodeJS.Signals | null]>
  /** Resolves with the first line (seen or to come) that matches. */
  line: (match: (line: Record<string, unknown>) => boolean, what: string) => Promise<Record<string, unknown>>
}

function start (args: string[], env: Record<string, string> = {}): Service {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...PRELOAD_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<{ match: (line: Record<string, unknown>) => boolean, resolve: (line: Record<string, unknown>) => void }> = []
  const onLine = (text: string): void => {
    let line: Record<string, unknown>
    try {
      line = JSON.parse(text) as Record<string, unknown>
    } catch {
      line = { text }
    }
    lines.push(line)
    for (const waiter of waiters.splice(0)) {
      if (waiter.match(line)) waiter.resolve(line)
      else waiters.push(waiter)
    }
  }
  createInterface({ input: child.stdout }).on('line', onLine)
  createInterface({ input: child.stderr }).on('line', onLine)
  // 'close', not 'exit': the child's stdout and stderr have ended too, so every line it wrote has been read.
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>
  const line = (match: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> => {
    const seen = lines.find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return Promise.race([
      new Promise<Record<string, unknown>>(resolve => { waiters.push({ match, resolve }) }),
      exited.then(exit => { throw new Error(`exited (${JSON.stringify(exit)}) before ${what}: ${JSON.stringify(lines)}`) })
    ])
  }
  return { child, lines, exited, line }
}

async function listening (service: Service, server: string): Promise<number> {
  const line = await service.line(entry => entry['event'] === 'listening' && entry['server'] === server, `${server} listening`)
  return line['port'] as number
}

/** One keep-alive client per port, as a balancer keeps its connections. */
const clientsByPort = new Map<number, Client>()
function client (port: number): Client {
  let created = clientsByPort.get(port)
  if (created === undefined) {
    created = new Client(`http://127.0.0.1:${port}`)
    clientsByPort.set(port, created)
    clients.add(created)
  }
  return created
}

async function get (port: number, path: string): Promise<{ status: number, body: string, connection: string | undefined }> {
  const response = await client(port).request({ method: 'GET', path })
  return { status: response.statusCode, body: await response.body.text(), connection: response.headers['connection'] as string | undefined }
}

const reports = (service: Service): Array<Record<string, unknown>> => service.lines.filter(line => line['msg'] === 'graceful: shutdown complete')

describe('the preload on an application with no graceful in its code', () => {
  it.each([
    ['an Express app from ESM (examples/bare-express.mjs), with --import', [...IMPORT, 'examples/bare-express.mjs'], {}],
    ['an Express app from CommonJS, with --require', [...REQUIRE, NO_GRACEFUL], {}],
    ['an Express app from CommonJS, with --import through NODE_OPTIONS', [NO_GRACEFUL], { NODE_OPTIONS: '--import @graceful/core/register' }],
    ['the NestJS example (examples/nestjs/dist/bare.js), with --import', [...IMPORT, 'examples/nestjs/dist/bare.js'], {}]
  ])('%s loses no request under load: probes flip, exit 0', async (_name, args, env) => {
    expectNothingLost(await judge({ command: [process.execPath, ...args], cwd: root, env: { ...PRELOAD_ENV, ...env }, ready: '/healthz', paths: ['GET /', 'GET /?ms=300'] }))
  })

  it.each([
    ['examples/bare-express.mjs'],
    [NO_GRACEFUL],
    ['examples/nestjs/dist/bare.js']
  ])('%s without the preload, in the same harness, loses requests', async (script) => {
    expectRequestsLost(await judge({ command: [process.execPath, script], cwd: root, paths: ['GET /', 'GET /?ms=300'] }))
  })

  it('drains every HTTP server of the process (an app and a metrics server), each named in its report, and leaves a raw TCP server alone', async () => {
    const service = start([...REQUIRE, NO_GRACEFUL], { PORT: '0', METRICS_PORT: '0', TCP_PORT: '0' })
    const [app, metrics, tcp] = [await listening(service, 'app'), await listening(service, 'metrics'), await listening(service, 'tcp')]
    // graceful's lines go to stderr, the app's to stdout: two pipes, read in either order, so each is waited for.
    for (const port of [app, metrics]) {
      await service.line(line => String(line['msg']).startsWith('graceful: attached to the HTTP server') && line['server'] === `127.0.0.1:${port}`, `attached to ${port}`)
    }
    for (const port of [app, metrics]) expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: '{"status":"ok","phase":"running"}' })

    // In flight on each server when the signal comes (or on the wire, which the lame duck serves as well): both are
    // answered, each telling its client to go.
    const inFlight = [get(app, '/?ms=600'), get(metrics, '/metrics?ms=600')]
    service.child.kill('SIGTERM')
    await service.line(line => line['msg'] === 'graceful: shutdown started', 'the shutdown')
    for (const port of [app, metrics]) expect((await get(port, '/healthz')).status).toBe(503)
    expect(await Promise.all(inFlight)).toEqual([
      { status: 200, body: 'hello\n', connection: 'close' },
      { status: 200, body: 'requests_total 1\n', connection: 'close' }
    ])
    expect(await service.exited).toEqual([0, null])
    expect(reports(service).map(report => [report['server'], report['exitCode']]).sort()).toEqual([[`127.0.0.1:${app}`, 0], [`127.0.0.1:${metrics}`, 0]].sort())
    const attached = service.lines.filter(line => String(line['msg']).startsWith('graceful: attached to the HTTP server')).map(line => line['server'])
    expect(attached.sort()).toEqual([`127.0.0.1:${app}`, `127.0.0.1:${metrics}`].sort())
    expect(JSON.stringify(service.lines)).not.toContain(`127.0.0.1:${tcp}`)
  })

  it('leaves a server on a port GRACEFUL_IGNORE_PORTS lists to the application: its probes reach the app, and only the other drains', async () => {
    const [metrics] = await freePorts('127.0.0.1', 1)
    const service = start([...REQUIRE, NO_GRACEFUL], { PORT: '0', METRICS_PORT: String(metrics), GRACEFUL_IGNORE_PORTS: ` 9, ${metrics}` })
    const app = await listening(service, 'app')
    await listening(service, 'metrics')
    await service.line(line => line['server'] === `127.0.0.1:${metrics}` && line['msg'] === `graceful: the server on 127.0.0.1:${metrics} is left alone (GRACEFUL_IGNORE_PORTS)`, 'left alone')
    expect(await get(metrics!, '/healthz')).toMatchObject({ status: 404, body: 'not found\n' })
    service.child.kill('SIGTERM')
    await service.line(line => line['msg'] === 'graceful: shutdown started', 'the shutdown')
    expect((await get(app, '/healthz')).status).toBe(503)
    expect(await get(metrics!, '/healthz')).toMatchObject({ status: 404, body: 'not found\n' })
    expect(await service.exited).toEqual([0, null])
    expect(reports(service).map(report => report['server'])).toEqual([`127.0.0.1:${app}`])
  })

  it('names the application\'s own route on a probe path, and answers every variant of that path that Express would route to it', async () => {
    const service = start([...REQUIRE, NO_GRACEFUL], { PORT: '0', OWN_HEALTHZ: '1' })
    const app = await listening(service, 'app')
    // The warning goes to stderr, the app's line to stdout: two pipes, read in either order.
    const warning = await service.line(entry => entry['warning'] === 'shadowed-route', 'the shadowed-route warning')
    expect(warning).toMatchObject({ path: '/healthz', server: `127.0.0.1:${app}` })
    // Express routes /HEALTHZ and /healthz/ to the app's /healthz: none of them reaches it while graceful answers.
    for (const path of ['/healthz', '/HEALTHZ', '/healthz/']) expect(await get(app, path), path).toMatchObject({ status: 200, body: '{"status":"ok","phase":"running"}' })
  })

  it.each([
    ['sets both switches when the environment has neither, and says so', {}, { NEXT_MANUAL_SIG_HANDLE: 'true', NITRO_SHUTDOWN_DISABLED: 'true' }, ['NEXT_MANUAL_SIG_HANDLE', 'NITRO_SHUTDOWN_DISABLED']],
    ['keeps a switch the user set, whatever its value', { NITRO_SHUTDOWN_DISABLED: '' }, { NEXT_MANUAL_SIG_HANDLE: 'true', NITRO_SHUTDOWN_DISABLED: '' }, ['NEXT_MANUAL_SIG_HANDLE']]
  ])('takes SIGTERM over from Next.js and Nitro through their documented switches: %s', async (_name, env, seen, said) => {
    const service = start([...REQUIRE, NO_GRACEFUL], { PORT: '0', ...env })
    expect(await service.line(line => line['event'] === 'switches', 'the switches')).toEqual({ event: 'switches', ...seen })
    await listening(service, 'app')
    const announced = await service.line(line => line['preload'] === true && 'set' in line, 'the switches announced')
    expect(Object.keys(announced['set'] as object)).toEqual(said)
    for (const variable of said) expect(announced['msg']).toContain(`${variable}=true`)
  })

  it.each([
    ['before it listens (examples/node-http.mjs)', 'examples/node-http.mjs', 'the preload leaves it alone'],
    ['on its first request, as the Express middleware alone does', 'test/fixtures/own-graceful.mjs', 'the preload steps aside']
  ])('steps aside for the application\'s own graceful when it attaches the server %s: one shutdown, the application\'s', async (_name, script, said) => {
    const service = start([...IMPORT, script], { PORT: '0' })
    const line = await service.line(entry => /listening on http:\/\/127\.0\.0\.1:(\d+)/.test(String(entry['text'])), 'listening')
    const port = Number(/:(\d+)$/.exec(String(line['text']))![1])
    expect((await get(port, '/healthz')).status).toBe(200)
    expect(await get(port, '/')).toMatchObject({ status: 200, body: 'hello\n' })
    await service.line(entry => entry['preload'] === true && String(entry['msg']).includes(said), said)
    service.child.kill('SIGTERM')
    expect(await service.exited).toEqual([0, null])
    // One report, the application's own, with its hook: the preload's instance took no part.
    expect(reports(service)).toEqual([expect.objectContaining({ exitCode: 0, hooks: [expect.objectContaining({ name: 'db', status: 'ok' })] })])
  })

  it('does nothing in a process that serves no HTTP: no signal listener, no line written', async () => {
    const script = 'const server = require("node:net").createServer().listen(0, () => { console.log(JSON.stringify({ listeners: process.listenerCount("SIGTERM") })); server.close() })'
    const service = start([...REQUIRE, '-e', script])
    expect(await service.exited).toEqual([0, null])
    expect(service.lines).toEqual([{ listeners: 0 }])
  })

  it('leaves a worker thread\'s server alone: signals reach the main thread only', async () => {
    const script = `
      const { Worker } = require('node:worker_threads')
      new Worker(\`
        const server = require('node:http').createServer((req, res) => res.writeHead(404).end('not found'))
        server.listen(0, '127.0.0.1', () => {
          fetch('http://127.0.0.1:' + server.address().port + '/healthz').then(async (response) => {
            console.log(JSON.stringify({ status: response.status }))
            server.close()
          })
        })\`, { eval: true })`
    const service = start([...REQUIRE, '-e', script])
    expect(await service.exited).toEqual([0, null])
    expect(service.lines).toEqual([{ status: 404 }])
  })

  it('refuses a malformed GRACEFUL_IGNORE_PORTS when the first HTTP server listens, naming the variable', async () => {
    const service = start([...REQUIRE, NO_GRACEFUL], { PORT: '0', GRACEFUL_IGNORE_PORTS: '9464;9229' })
    const [code] = await service.exited
    expect(code).toBe(1)
    expect(JSON.stringify(service.lines)).toContain('GRACEFUL_ERR_INVALID_ENV')
    expect(JSON.stringify(service.lines)).toContain('GRACEFUL_IGNORE_PORTS (env)')
  })
})

describe('GRACEFUL_IGNORE_PORTS', () => {
  it('is read as the set of ports it lists, separated by commas, spaces allowed', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 65_535 }), fc.constantFrom('', ' '))), (entries) => {
      const raw = entries.map(([port, space]) => `${space}${port}${space}`).join(',')
      expect([...ignoredPorts(raw)].sort()).toEqual([...new Set(entries.map(([port]) => port))].sort())
    }))
  })

  it.each(['9464;9229', 'metrics', '0', '65536', '9464,', '-1', '1e3'])('refuses %j with GRACEFUL_ERR_INVALID_ENV', (raw) => {
    expect(() => ignoredPorts(raw)).toThrow(expect.objectContaining({ code: 'GRACEFUL_ERR_INVALID_ENV' }))
  })
})
