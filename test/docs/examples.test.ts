// The examples and the demo cannot rot: each runs here for real, with a real SIGTERM.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { connect as connectHttp2 } from 'node:http2'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Client } from 'undici'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { selfSignedCertificate } from '../helpers/index.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const children = new Set<ReturnType<typeof spawn>>()
afterEach(() => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
})

// `listening on http://127.0.0.1:3000` (the examples' own line), Fastify's `Server listening at http://…:3000`, or a
// JSON line `{"msg":"listening","port":3000}`.
const listening = /listening (?:on|at) http:\/\/[^\s"]+:(\d+)|"msg":"listening","port":(\d+)/

function start (script: string, args: string[] = [], env: Record<string, string> = {}): { child: ReturnType<typeof spawn>, output: string[], port: Promise<number>, exited: Promise<unknown[]> } {
  const child = spawn(process.execPath, [script, ...args], { cwd: root, env: { ...process.env, PORT: '0', METRICS_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const output: string[] = []
  const exited = once(child, 'exit')
  const port = new Promise<number>((resolve, reject) => {
    const onLine = (line: string): void => {
      output.push(line)
      const match = listening.exec(line)
      if (match !== null) resolve(Number(match[1] ?? match[2]))
    }
    createInterface({ input: child.stdout }).on('line', onLine)
    createInterface({ input: child.stderr }).on('line', onLine)
    void exited.then(() => { reject(new Error(`exited before listening: ${output.join('\n')}`)) })
  })
  // The demo never listens itself: only callers that await the port care about that rejection.
  port.catch(() => undefined)
  return { child, output, port, exited }
}

describe('examples', () => {
  it.each(['examples/express.mjs', 'examples/express.cjs', 'examples/fastify.mjs', 'examples/node-http.mjs', 'examples/koa.mjs', 'examples/hono.mjs'])('%s serves, drains on SIGTERM and exits 0', async (script) => {
    const app = start(script)
    const client = new Client(`http://127.0.0.1:${await app.port}`)
    try {
      expect((await client.request({ method: 'GET', path: '/healthz' })).statusCode).toBe(200)
      const response = client.request({ method: 'GET', path: '/?ms=300' })
      // Sent on the open keep-alive connection just before the signal: in flight or on the wire, it is answered.
      await new Promise(resolve => setImmediate(resolve))
      app.child.kill('SIGTERM')
      const res = await response
      expect(await res.body.text()).toBe('hello\n')
      const [code] = await app.exited
      expect(code).toBe(0)
      const report = app.output.find(line => line.includes('graceful: shutdown complete'))
      expect(report).toBeDefined()
      // The database stand-in closed, as the last step.
      expect(JSON.parse(report!)).toMatchObject({ exitCode: 0, hooks: [...(script.includes('fastify') ? [{ name: 'close', status: 'ok' }] : []), { name: 'db', status: 'ok' }] })
    } finally {
      await client.destroy()
    }
  })

  // TypeScript with decorators: `pnpm run build` compiles the example (examples/nestjs/tsconfig.json) to its dist/.
  const nestjs = ['examples/nestjs/main.ts', 'examples/nestjs/app.module.ts']
  const built = (source: string): string => source.replace(/^examples\/nestjs\//, 'examples/nestjs/dist/').replace(/\.ts$/, '.js')
  it.each(['express', 'fastify'])('examples/nestjs on the %s adapter: the terminus check feeds readiness, the request in flight completes, Nest closes after the drain, exit 0', async (adapter) => {
    for (const source of nestjs) expect(existsSync(join(root, built(source))), `${source} is built`).toBe(true)
    const app = start(built(nestjs[0]!), [], { ADAPTER: adapter })
    const client = new Client(`http://127.0.0.1:${await app.port}`)
    try {
      const ready = await client.request({ method: 'GET', path: '/healthz' })
      expect(ready.statusCode).toBe(200)
      expect(JSON.parse(await ready.body.text())).toMatchObject({ checks: { database: { status: 'ok' } } })
      const response = client.request({ method: 'GET', path: '/?ms=300' })
      // Sent on the open keep-alive connection just before the signal: in flight or on the wire, it is answered.
      await new Promise(resolve => setImmediate(resolve))
      app.child.kill('SIGTERM')
      const res = await response
      expect(res.headers['connection']).toBe('close')
      expect(await res.body.text()).toBe('hello\n')
      const [code] = await app.exited
      expect(code).toBe(0)
    } finally {
      await client.destroy()
    }
    const report = app.output.find(line => line.includes('graceful: shutdown complete'))
    expect(JSON.parse(report!)).toMatchObject({ exitCode: 0, hooks: [{ name: 'close', status: 'ok' }] })
    // The pool closed in Nest's onApplicationShutdown, inside app.close(): after the drain, before the report.
    const closed = app.output.findIndex(line => line.includes('database pool closed'))
    expect(closed).toBeGreaterThan(app.output.findIndex(line => line.includes('graceful: shutdown started')))
  })

  it('examples/metrics.mjs: a scrape during the drain shows the phase and the request still in flight', async () => {
    const app = start('examples/metrics.mjs')
    const port = await app.port
    const { metricsPort } = JSON.parse(app.output.find(line => line.includes('"listening"'))!) as { metricsPort: number }
    const client = new Client(`http://127.0.0.1:${port}`)
    const scraper = new Client(`http://127.0.0.1:${metricsPort}`)
    const scrape = async (): Promise<string> => await (await scraper.request({ method: 'GET', path: '/metrics' })).body.text()
    try {
      expect(await scrape()).toMatch(/^graceful_shutdown_phase\{phase="running"\} 1$/m)
      // Its headers have arrived: the request is in flight until its body ends, 2 s later.
      const response = await client.request({ method: 'GET', path: '/?ms=2000' })
      expect(await scrape()).toMatch(/^graceful_in_flight_requests 1$/m)
      app.child.kill('SIGTERM')
      await new Promise<void>(resolve => {
        const check = (): void => { if (app.output.some(line => line.includes('graceful: shutdown started'))) resolve() }
        app.child.stderr!.on('data', () => { setImmediate(check) })
        check()
      })
      // Draining begins one poll of the event loop after the signal: a scrape may still find the phase before it.
      let during = await scrape()
      for (let scrapes = 1; scrapes < 20 && /^graceful_shutdown_phase\{phase="stopping"\} 1$/m.test(during); scrapes++) during = await scrape()
      expect(during).toMatch(/^graceful_shutdown_phase\{phase="draining"\} 1$/m)
      expect(during).toMatch(/^graceful_in_flight_requests 1$/m)
      expect(during).toMatch(/^graceful_open_sockets 1$/m)
      expect(await response.body.text()).toBe('hello\n')
      const [code] = await app.exited
      expect(code).toBe(0)
    } finally {
      await Promise.all([client.destroy(), scraper.destroy()])
    }
  })

  it.each(['express', 'fastify'])('the demo (%s) loses no request with graceful, and finds what the hand-written handler and no handler lose', async (framework) => {
    // A short propagation delay, drawn from 300 to 700 ms, and a lame duck of 1 s that outlasts it: the demo's own
    // defaults (1 to 3 s, and 5 s) take longer to the same effect.
    const demo = start('examples/demo.mjs', [...(framework === 'fastify' ? ['--fastify'] : []), '--load-before-signal', '500', '--pre-stop-delay', '1000', '--propagation', '300-700'])
    const [code] = await demo.exited
    expect(code, demo.output.join('\n')).toBe(0)
    const result = demo.output.find(line => line.startsWith('RESULT '))
    expect(result).toBeDefined()
    const [graceful, close, none] = JSON.parse(result!.slice('RESULT '.length)) as Array<{ variant: string, ok: boolean, sent: number, answered: number, lost: number, lostNotIdempotent: number, html: string, lostKinds: string[], findings: string[], exit: { code: number | null, signal: string | null }, connectionClose: number }>
    expect(graceful).toMatchObject({ variant: `${framework} + graceful`, ok: true, lost: 0, exit: { code: 0 } })
    expect(graceful!.answered).toBe(graceful!.sent)
    // The lame duck at work: responses told the clients to go while the listener still served.
    expect(graceful!.connectionClose).toBeGreaterThan(0)
    // The hand-written close fails the verdict: Express's keep-alive and never-used sockets keep it running; Fastify
    // answers 503 while it closes.
    expect(close).toMatchObject({ ok: false })
    expect(close!.lost + close!.findings.filter(kind => kind !== 'exit-code').length).toBeGreaterThan(0)
    // No handler: the process dies with requests in flight.
    expect(none).toMatchObject({ ok: false, exit: { signal: 'SIGTERM' } })
    expect(none!.lostKinds).toContain('exited-in-flight')
    // The load sends orders: a POST lost is named as not idempotent.
    expect(none!.lostNotIdempotent).toBeGreaterThan(0)
    // Each variant drawn to a page of its own, and the demo says where.
    for (const variant of [graceful!, close!, none!]) {
      expect(readFileSync(variant.html, 'utf8')).toMatch(/^<!doctype html>[\s\S]*<svg /)
      expect(demo.output).toContainEqual(expect.stringMatching(new RegExp(`^ +${variant.variant.replace(/[().+]/g, '\\$&')}: artifacts/demo/[a-z-]+\\.html$`)))
    }
    // Not a terminal: the three reports and the table, without colour.
    expect(demo.output).toContainEqual(expect.stringMatching(new RegExp(`^ +${framework} \\+ graceful +${framework}, \\w+\\.close\\(\\) +${framework}, no handler$`)))
    expect(demo.output).toContainEqual(expect.stringMatching(new RegExp(`^lost +0 +${close!.lost} +${none!.lost}$`)))
    expect(demo.output.some(line => line.includes('\x1b['))).toBe(false)
  }, 90_000)

  it('the demo draws graceful-check\'s live view on a terminal', async () => {
    // util-linux `script` gives the demo a pseudo-terminal, as a person's terminal would, of a terminal's size
    // (log-update draws only what fits in the window's rows).
    const command = `stty rows 40 cols 120; '${process.execPath}' examples/demo.mjs --clients 4 --load-before-signal 400 --pre-stop-delay 600 --propagation 200-400`
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] })
    children.add(child)
    let screen = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { screen += chunk })
    const [code] = await once(child, 'close') as [number | null]
    expect(code, screen).toBe(0)
    // Redrawn in place (log-update): the cursor goes back up over the block of status lines, which holds a progress bar.
    expect(screen).toMatch(new RegExp(`${String.fromCharCode(27)}\\[\\d*A`))
    expect(screen).toContain('█')
    expect(screen).toMatch(/readiness not ready \(503\)/)
    expect(screen).toMatch(/signalled \+\d+ ms/)
    const result = /RESULT (\[.*\])/.exec(screen.replace(/\r?\n/g, ''))
    expect(result).not.toBeNull()
    expect(JSON.parse(result![1]!)).toMatchObject([{ variant: 'express + graceful', lost: 0, ok: true }, { ok: false }, { ok: false }])
  }, 90_000)
})

describe('long-lived examples', () => {
  it.each(['examples/long-lived-express.mjs', 'examples/long-lived-fastify.mjs'])('%s: the event stream, the long poll (Express) and the WebSocket end when draining begins, and the process exits 0', async (script) => {
    const app = start(script)
    const port = await app.port
    const events = new Client(`http://127.0.0.1:${port}`)
    const poll = new Client(`http://127.0.0.1:${port}`)
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
    const greeting = once(ws, 'message')
    const closed = once(ws, 'close')
    try {
      const stream = await events.request({ method: 'GET', path: '/events' })
      expect(String((await greeting)[0])).toBe('hello')
      // The poll goes out on a connection already open: in flight or on the wire at the signal, it is answered.
      expect((await (await poll.request({ method: 'GET', path: '/livez' })).body.text())).toMatch(/ok/)
      const polled = script.includes('express') ? poll.request({ method: 'GET', path: '/poll' }) : undefined
      app.child.kill('SIGTERM')
      expect(await stream.body.text()).toMatch(/retry: 2000\nevent: shutdown\ndata: reconnect\n\n$/)
      expect((await closed)[0]).toBe(1001)
      if (polled !== undefined) expect((await polled).statusCode).toBe(204)
      const [code] = await app.exited
      expect(code).toBe(0)
    } finally {
      ws.terminate()
      await Promise.all([events.destroy(), poll.destroy()])
    }
  })

  it('examples/http2.mjs: a session is sent GOAWAY, its open stream completes, and the process exits 0', async () => {
    const tls = selfSignedCertificate()
    const app = start('examples/http2.mjs', [], { TLS_KEY: tls.key, TLS_CERT: tls.cert })
    const session = connectHttp2(`https://127.0.0.1:${await app.port}`, { rejectUnauthorized: false })
    try {
      const goaway = once(session, 'goaway')
      const stream = session.request({ ':path': '/?ms=500' })
      stream.setEncoding('utf8')
      let body = ''
      stream.on('data', (chunk: string) => { body += chunk })
      const ended = once(stream, 'end')
      await once(stream, 'response')
      app.child.kill('SIGTERM')
      await goaway
      await ended
      expect(body).toBe('hello over HTTP/2.0\n')
      const [code] = await app.exited
      expect(code).toBe(0)
      const report = app.output.find(line => line.includes('graceful: shutdown complete'))
      expect(JSON.parse(report!)).toMatchObject({ sockets: { http2Sessions: 1, forced: 0 }, requests: { completedDuringDrain: 1 } })
    } finally {
      session.destroy()
      tls.dispose()
    }
  })
})
