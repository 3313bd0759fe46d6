// The examples and the demo cannot rot: each runs here for real, with a real SIGTERM.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Client } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const children = new Set<ReturnType<typeof spawn>>()
afterEach(() => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
})

function start (script: string, args: string[] = []): { child: ReturnType<typeof spawn>, output: string[], port: Promise<number>, exited: Promise<unknown[]> } {
  const child = spawn(process.execPath, [script, ...args], { cwd: root, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const output: string[] = []
  const exited = once(child, 'exit')
  const port = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', line => {
      output.push(line)
      if (line.includes('"listening"')) resolve((JSON.parse(line) as { port: number }).port)
    })
    createInterface({ input: child.stderr }).on('line', line => output.push(line))
    void exited.then(() => { reject(new Error(`exited before listening: ${output.join('\n')}`)) })
  })
  // The demo never listens itself: only callers that await the port care about that rejection.
  port.catch(() => undefined)
  return { child, output, port, exited }
}

describe('examples', () => {
  it.each(['examples/express.mjs', 'examples/fastify.mjs', 'examples/node-http.mjs'])('%s serves, drains on SIGTERM and exits 0', async (script) => {
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
      expect(app.output.some(line => line.includes('graceful: shutdown complete'))).toBe(true)
    } finally {
      await client.destroy()
    }
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
      const during = await scrape()
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

  it.each(['express', 'fastify'])('the demo (%s) loses no request with graceful and loses some without', async (framework) => {
    const demo = start('examples/demo.mjs', [...(framework === 'fastify' ? ['--fastify'] : []), '--clients', '16', '--load-before-signal', '600'])
    const [code] = await demo.exited
    expect(code).toBe(0)
    const result = demo.output.find(line => line.startsWith('RESULT '))
    expect(result).toBeDefined()
    const [graceful, bare] = JSON.parse(result!.slice('RESULT '.length)) as Array<{ variant: string, ok: number, lost: number, rejected: number, code: number | string }>
    expect(graceful).toMatchObject({ variant: 'graceful', lost: 0, rejected: 0, code: 0 })
    expect(graceful!.ok).toBeGreaterThan(0)
    expect(bare!.lost + bare!.rejected).toBeGreaterThan(0)
  }, 60_000)
})
