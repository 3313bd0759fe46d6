import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, it } from 'vitest'
import type { GracefulLogger, ShutdownReport } from '@graceful/core'

export const frameworks = ['node', 'express', 'express4', 'express-attach', 'fastify'] as const
export type Framework = typeof frameworks[number]
/** Frameworks that run on the core with no adapter of their own: test/fixtures/frameworks.mjs serves them. */
export const frameworksOnCore = ['nest-express', 'nest-fastify', 'koa', 'hono'] as const
export type FrameworkOnCore = typeof frameworksOnCore[number]

export interface FixtureConfig {
  framework: Framework | FrameworkOnCore
  /** A fixture of its own under test/fixtures (`own-stop/koa.mjs`), in place of the shared app.mjs or frameworks.mjs. */
  script?: string
  options?: Record<string, unknown>
  hooks?: Array<{
    name: string
    behavior?: 'ok' | 'throw' | 'hang' | 'sync-throw' | 'exit' | 'unhandled'
    timeout?: number
    /** The exit code of an 'exit' hook. */
    code?: number
  }>
  servers?: number
  instances?: number
  listen?: boolean
  keepAliveTimeout?: number
  tls?: { key: string, cert: string }
  attach?: boolean
  instanceOptions?: Array<Record<string, unknown>>
  /** Log through graceful's own fallback logger (to stderr) instead of the fixture's JSON lines on stdout. */
  fallbackLogger?: boolean
  /** The framework without graceful, closing on SIGTERM as its documentation shows (not for node). */
  bare?: boolean
  /** The port to listen on; 0, a free one, unless given. */
  port?: number
  /** Environment for the child, on top of the test's own (less the variables that start-up warnings read). */
  env?: Record<string, string>
  /** Options for node itself, such as `['--expose-gc']`. */
  nodeArgs?: string[]
  /** A command that runs the fixture, such as `['unshare', '--pid', '--fork']` (node and the fixture follow). */
  wrapper?: string[]
  /** The runtime in place of node, with its arguments before the fixture: `['/path/to/deno', 'run', '-A']`. */
  runtime?: string[]
  /** An authentication middleware in front of everything (and of graceful): 401 without `authorization`. */
  auth?: boolean
  /**
   * Node cluster (test/fixtures/cluster.mjs): a primary with `gracefulCluster(clusterOptions)` forking this many
   * workers running the app.
   * `deadWorkerAtShutdown`: once every worker listens, the primary SIGKILLs the last one and starts its shutdown
   * before it has heard of that death (the worker's IPC channel still looks connected). `workerDiesListening`: the
   * primary SIGKILLs the first worker whose request for the listening socket it reads, the moment it reads it, and
   * starts its shutdown, before Node has answered the request.
   */
  cluster?: { workers: number, options?: Record<string, unknown>, deadWorkerAtShutdown?: boolean, workerDiesListening?: boolean }
  /** A `ws` server on /ws (node, Express) or @fastify/websocket (Fastify); each WebSocket is greeted with "hello". */
  webSockets?: boolean
  /**
   * When the shutdown starts, the whole process stops (its event loop too) until `release()`: a connection opened
   * meanwhile waits in the listener's accept queue, as behind an event loop held by a long task.
   */
  holdAtSignal?: boolean
  /** A line `{ event: 'phase', phase }` for each phase the shutdown enters. */
  phases?: boolean
  /** Count event-loop turns from the end of a /slow response to the exit (the exit event's `turnsAfterFinish`). */
  countTurns?: boolean
  /** node:http2 instead of node:http (secure with `tls`, else cleartext); Fastify with `http2: true`. */
  http2?: { allowHTTP1?: boolean }
}

/**
 * What the start-up warnings look at: left out of every child unless a test sets them, so that a suite started
 * through `pnpm test`, in a container or on a Kubernetes runner sees the same output as anywhere else.
 */
const WARNING_ENV = ['npm_lifecycle_event', 'npm_execpath', 'KUBERNETES_SERVICE_HOST', 'GRACEFUL_SILENCE_WARNINGS',
  'TERMINATION_GRACE_PERIOD_SECONDS', 'container']

export function childEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const name of WARNING_ENV) Reflect.deleteProperty(env, name)
  return { ...env, ...extra }
}

export interface FixtureEvent {
  t: number
  event?: string
  msg?: string
  [key: string]: unknown
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  /** performance.timeOrigin-based time at which the test saw the exit. */
  at: number
}

const fixturePath = fileURLToPath(new URL('../fixtures/app.mjs', import.meta.url))
const frameworksFixturePath = fileURLToPath(new URL('../fixtures/frameworks.mjs', import.meta.url))
const clusterFixturePath = fileURLToPath(new URL('../fixtures/cluster.mjs', import.meta.url))
const running = new Set<ChildProcess>()

// Every child this file started is ended by its PID, even when a test fails half-way.
afterEach(() => {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
})

/** A fixture app in a child process: real sockets, real signals. */
export class Fixture {
  readonly events: FixtureEvent[] = []
  readonly stderr: string[] = []
  /** Every line the child wrote to stdout, JSON or not (under a terminal, stderr's lines arrive here too). */
  readonly lines: string[] = []
  readonly child: ChildProcess
  readonly exited: Promise<Exit>
  /** The child has exited and its stdout and stderr have ended: every line it wrote has been read. */
  readonly closed: Promise<void>
  #waiters: Array<{ match: (event: FixtureEvent) => boolean, resolve: (event: FixtureEvent) => void }> = []

  /**
   * `tty: true` runs the app under a pseudo-terminal (util-linux `script`), so that its stdout and stderr are TTYs;
   * both arrive on `lines`, and signals must go to the app's own PID (`ready` carries it), not to `script`.
   */
  constructor (config: FixtureConfig, { tty = false }: { tty?: boolean } = {}) {
    const env = childEnv({ ...config.env, GRACEFUL_FIXTURE: JSON.stringify(config) })
    const script = config.script !== undefined
      ? fileURLToPath(new URL(`../fixtures/${config.script}`, import.meta.url))
      : config.cluster !== undefined ? clusterFixturePath
        : (frameworksOnCore as readonly string[]).includes(config.framework) ? frameworksFixturePath : fixturePath
    const [command, ...args] = [...config.wrapper ?? [], ...config.runtime ?? [process.execPath], ...config.nodeArgs ?? [], script]
    this.child = tty
      ? spawn('script', ['-qec', `${shellQuote(process.execPath)} ${shellQuote(fixturePath)}`, '/dev/null'], {
        env, stdio: ['pipe', 'pipe', 'pipe']
      })
      : spawn(command, args, { env, stdio: [config.holdAtSignal === true ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
    running.add(this.child)
    createInterface({ input: this.child.stdout! }).on('line', line => { this.#onLine(line) })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.stderr.push(chunk) })
    this.closed = once(this.child, 'close').then(() => {}, () => {})
    this.exited = once(this.child, 'exit').then(([code, signal]) => {
      running.delete(this.child)
      return { code: code as number | null, signal: signal as NodeJS.Signals | null, at: now() }
    })
  }

  #onLine (line: string): void {
    this.lines.push(line)
    let event: FixtureEvent
    try {
      event = JSON.parse(line) as FixtureEvent
    } catch {
      return
    }
    this.events.push(event)
    this.#waiters = this.#waiters.filter(waiter => {
      if (!waiter.match(event)) return true
      waiter.resolve(event)
      return false
    })
  }

  /** Resolves with the first event (already seen or to come) that matches; rejects after `timeout` ms. */
  async waitFor (match: (event: FixtureEvent) => boolean, what: string, timeout = 10_000): Promise<FixtureEvent> {
    const seen = this.events.find(match)
    if (seen !== undefined) return seen
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        new Promise<FixtureEvent>(resolve => { this.#waiters.push({ match, resolve }) }),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events)}; stderr: ${this.stderr.join('')}`))
          }, timeout)
        }),
        this.exited.then(exit => {
          // Let the last lines arrive before deciding the event never came.
          return new Promise<FixtureEvent>((resolve, reject) => {
            setImmediate(() => {
              const late = this.events.find(match)
              if (late !== undefined) resolve(late)
              else reject(new Error(`fixture exited (${JSON.stringify(exit)}) before ${what}; events: ${JSON.stringify(this.events)}; stderr: ${this.stderr.join('')}`))
            })
          })
        })
      ])
    } finally {
      clearTimeout(timer)
    }
  }

  async ready (index = 0): Promise<number> {
    const event = await this.waitFor(e => e.event === 'ready' && e['index'] === index, `ready #${index}`)
    return event['port'] as number
  }

  async started (path: string, count = 1): Promise<void> {
    await this.waitFor(() => this.events.filter(e => e.event === 'started' && e['path'] === path).length >= count,
      `${count} × started ${path}`)
  }

  async shutdownStarted (): Promise<FixtureEvent> {
    return await this.waitFor(e => e.msg === 'graceful: shutdown started', 'shutdown started')
  }

  /** Lets a process held at the signal (`holdAtSignal`) go on. */
  release (): void {
    this.child.stdin!.end('go\n')
  }

  kill (signal: NodeJS.Signals = 'SIGTERM'): number {
    this.child.kill(signal)
    return now()
  }

  /** The report logged at the end of the shutdown (the instance's, or the n-th when there are several). */
  reports (): Report[] {
    return this.events.filter(e => e.msg === 'graceful: shutdown complete') as unknown as Report[]
  }

  report (): Report {
    const [report] = this.reports()
    if (report === undefined) throw new Error(`no report; events: ${JSON.stringify(this.events)}; stderr: ${this.stderr.join('')}`)
    return report
  }

  /** Resolves once stderr holds `text`; rejects after `timeout` ms or when the child exits first. */
  async stderrIncludes (text: string, timeout = 10_000): Promise<void> {
    const stderr = this.child.stderr!
    let onData: (() => void) | undefined
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        new Promise<void>(resolve => {
          onData = () => { if (this.stderr.join('').includes(text)) resolve() }
          stderr.on('data', onData)
          onData()
        }),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => { reject(new Error(`timed out waiting for ${text} on stderr: ${this.stderr.join('')}`)) }, timeout)
        }),
        this.closed.then(() => {
          if (!this.stderr.join('').includes(text)) throw new Error(`fixture ended before ${text} on stderr: ${this.stderr.join('')}`)
        })
      ])
    } finally {
      clearTimeout(timer)
      if (onData !== undefined) stderr.off('data', onData)
    }
  }

  /** The JSON lines graceful's fallback logger wrote to stderr. */
  loggedLines (): Array<Record<string, unknown>> {
    return this.stderr.join('').split('\n').filter(line => line.startsWith('{'))
      .map(line => JSON.parse(line) as Record<string, unknown>)
  }

  /** The report as graceful's fallback logger wrote it: one JSON line on stderr. */
  loggedReport (): Report & { level: number, time: number, name: string, msg: string } {
    const line = this.loggedLines().find(entry => entry['msg'] === 'graceful: shutdown complete')
    if (line === undefined) throw new Error(`no report on stderr: ${this.stderr.join('')}`)
    return line as unknown as Report & { level: number, time: number, name: string, msg: string }
  }

  /** The start-up warnings logged, by name. */
  warnings (): string[] {
    return this.events.filter(e => typeof e['warning'] === 'string').map(e => e['warning'] as string)
  }

  eventsNamed (name: string): FixtureEvent[] {
    return this.events.filter(e => e.event === name)
  }
}

/** The report as the child logs it: the core's own type, so that a change there shows up here. */
export type Report = ShutdownReport

/** The error `fn` throws, or undefined: for checking codes with isGracefulError. */
export function thrown (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

function shellQuote (text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}

export function now (): number {
  return performance.timeOrigin + performance.now()
}

const inProcessServers = new Set<Server>()
afterEach(() => {
  for (const server of inProcessServers) {
    server.closeAllConnections()
    server.close()
  }
  inProcessServers.clear()
})

/**
 * A node:http server in this process on 127.0.0.1, attached to `g`, closed after the test even when it fails.
 * `handler` answers what is not a probe; it never calls `g.handle`, so probes reach graceful only through `attach`.
 */
export async function serveInProcess (
  g: { attach: (server: Server) => unknown },
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.end('ok') }
): Promise<{ server: Server, origin: string, port: number }> {
  const server = createServer(handler)
  inProcessServers.add(server)
  g.attach(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return { server, origin: `http://127.0.0.1:${port}`, port }
}

/**
 * A server in this process whose requests wait in the handler until `release()` (the oldest `count`, or all);
 * `arrived(count)` resolves once `count` requests are waiting.
 */
export async function holdingServer (g: { attach: (server: Server) => unknown }): Promise<{
  server: Server
  port: number
  arrived: (count: number) => Promise<void>
  release: (count?: number) => void
}> {
  const held: Array<() => void> = []
  let waiting: { count: number, resolve: () => void } | undefined
  const { server, port } = await serveInProcess(g, (_req, res) => {
    held.push(() => res.end('done'))
    if (waiting !== undefined && held.length >= waiting.count) waiting.resolve()
  })
  return {
    server,
    port,
    arrived: async (count) => {
      if (held.length >= count) return
      await new Promise<void>(resolve => { waiting = { count, resolve } })
    },
    release: (count = held.length) => { for (const end of held.splice(0, count)) end() }
  }
}

/** A logger that keeps what it is given, for assertions. */
export function recordingLogger (): { logger: GracefulLogger, lines: Array<{ level: string, obj: Record<string, unknown>, msg?: string | undefined }> } {
  const lines: Array<{ level: string, obj: Record<string, unknown>, msg?: string | undefined }> = []
  const record = (level: string) => (obj: object, msg?: string): void => { lines.push({ level, obj: obj as Record<string, unknown>, msg }) }
  return { lines, logger: { info: record('info'), warn: record('warn'), error: record('error') } }
}

/** A self-signed certificate for localhost made for this run, in a temporary directory that `dispose()` removes. */
export function selfSignedCertificate (): { key: string, cert: string, dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'graceful-tls-'))
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
  return { key, cert, dispose: () => { rmSync(dir, { recursive: true, force: true }) } }
}

/**
 * Whether a suite that needs something from the machine (HAProxy, PostgreSQL) can run. Elsewhere a missing one skips
 * the suite, saying why; where CI promises it (`CI=true`, set by .ci/run, which installs both) a missing one is a
 * failing test, never a silent skip.
 */
export function available (what: string, missing: string | undefined): boolean {
  if (missing === undefined) return true
  if (process.env['CI'] === 'true') {
    describe(`${what} (required in CI)`, () => {
      it(`is there: .ci/run provides it`, () => { throw new Error(missing) })
    })
  } else {
    console.warn(`${what} tests skipped: ${missing}`)
  }
  return false
}

