import { CheckError } from './errors.js'
import type { AcceptedPorts, CheckOptions, Progress, RequestSpec } from './types.js'

/** The options with every default filled in. */
export interface Settings {
  command: string[] | undefined
  cwd: string | undefined
  env: Record<string, string>
  host: string
  port: number | undefined
  pid: number | undefined
  ready: string
  /** Whether `ready` was given, rather than defaulted to the first path. */
  readyGiven: boolean
  requests: RequestSpec[]
  slowRequests: RequestSpec[]
  signal: NodeJS.Signals
  signalAfter: number | undefined
  seed: number
  cycles: number
  startTimeout: number
  timeout: number
  requestTimeout: number
  probeInterval: number
  idleGrace: number
  maxLost: number
  load: {
    keepAlive: number
    newConnection: number
    idleSockets: number
    slow: number
    slowMs: number
    pipelining: number
    splitPipelines: boolean
    balancer: boolean
    pauseMs: number
    longPauseMs: number
  }
  acceptedPorts: AcceptedPorts | undefined
  acceptedFromOutput: boolean
  onOutput: ((line: string, stream: 'stdout' | 'stderr') => void) | undefined
  onProgress: ((progress: Progress) => void) | undefined
  abortSignal: AbortSignal | undefined
  lb: 'haproxy' | undefined
  rounds: number
  haproxy: string | undefined
  redispatch: boolean
}

const SPEC = /^(?:([A-Za-z]+)\s+)?(\/\S*)(?:\s+([\s\S]+))?$/

/** `GET /`, `/health`, `POST /orders {"id":1}`: a method (GET when left out), a path from `/`, and a body. */
export function parseRequest (text: string): RequestSpec {
  const match = SPEC.exec(text.trim())
  if (match === null) throw new CheckError('CHECK_ERR_USAGE', `--path takes "[METHOD] /path [body]", like "POST /orders {\\"id\\":1}"; got "${text}"`)
  const spec: RequestSpec = { method: (match[1] ?? 'GET').toUpperCase(), path: match[2]! }
  if (match[3] !== undefined) spec.body = match[3]
  return spec
}

const SIGNALS = new Set(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGKILL'])

function whole (value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new CheckError('CHECK_ERR_USAGE', `${name} takes a whole number from ${min} to ${max}; got ${String(value)}`)
  }
  return value
}

const KNOWN = new Set(['command', 'cwd', 'env', 'port', 'url', 'pid', 'ready', 'paths', 'signal', 'signalAfter', 'seed', 'cycles',
  'startTimeout', 'timeout', 'requestTimeout', 'probeInterval', 'idleGrace', 'maxLost', 'load', 'acceptedPorts',
  'acceptedFromOutput', 'onOutput', 'onProgress', 'abortSignal', 'lb', 'rounds', 'haproxy', 'redispatch'])
const KNOWN_LOAD = new Set(['keepAlive', 'newConnection', 'idleSockets', 'slow', 'slowMs', 'slowPaths', 'pipelining', 'splitPipelines', 'balancer', 'pauseMs', 'longPauseMs'])

/** The closest name within two edits, for "did you mean". */
export function closest (name: string, names: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of names) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

function editDistance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

function unknown (object: object, known: Set<string>, where: string): void {
  for (const key of Object.keys(object)) {
    if (known.has(key)) continue
    const near = closest(key, known)
    throw new CheckError('CHECK_ERR_USAGE', `unknown ${where} "${key}"${near === undefined ? '' : `: did you mean "${near}"?`}`)
  }
}

/** Validates the options at once, with a message that says what was expected, and fills in the defaults. */
export function settle (options: CheckOptions): Settings {
  if (typeof (options as unknown) !== 'object' || (options as unknown) === null) throw new CheckError('CHECK_ERR_USAGE', 'checkShutdown() takes an options object')
  unknown(options, KNOWN, 'option')
  unknown(options.load ?? {}, KNOWN_LOAD, 'load option')
  const command = options.command === undefined ? undefined : [...options.command]
  if (command !== undefined && (command.length === 0 || command.some(part => typeof part !== 'string' || part === ''))) {
    throw new CheckError('CHECK_ERR_USAGE', 'command takes the program and its arguments, like ["node", "server.js"]')
  }
  if (options.lb !== undefined && (options.lb as string) !== 'haproxy') throw new CheckError('CHECK_ERR_USAGE', `lb takes "haproxy"; got "${options.lb as string}"`)
  if (options.lb !== undefined && command === undefined) throw new CheckError('CHECK_ERR_USAGE', 'lb needs a command: it starts the instances itself')
  if (command === undefined && options.url === undefined) throw new CheckError('CHECK_ERR_USAGE', 'give a command to start the service, or the url of one already running')
  if (command !== undefined && options.url !== undefined) throw new CheckError('CHECK_ERR_USAGE', 'give a command or a url, not both')
  let host = '127.0.0.1'
  let port = options.port === undefined ? undefined : whole(options.port, 'port', 1, 65_535)
  if (options.url !== undefined) {
    let url: URL
    try {
      url = new URL(options.url)
    } catch {
      throw new CheckError('CHECK_ERR_USAGE', `url takes an http:// URL like http://127.0.0.1:3000; got "${options.url}"`)
    }
    if (url.protocol !== 'http:') throw new CheckError('CHECK_ERR_USAGE', `url must be http:// (HTTP/1.1 in clear); got ${url.protocol}`)
    host = url.hostname.replace(/^\[|\]$/g, '')
    port ??= url.port === '' ? 80 : Number(url.port)
  }
  const load = options.load ?? {}
  const requests = (options.paths ?? ['GET /']).map(spec => typeof spec === 'string' ? parseRequest(spec) : spec)
  if (requests.length === 0) throw new CheckError('CHECK_ERR_USAGE', 'paths needs at least one request')
  const signal = options.signal ?? 'SIGTERM'
  if (!SIGNALS.has(signal)) {
    const near = closest(signal, SIGNALS)
    throw new CheckError('CHECK_ERR_USAGE', `signal takes one of ${[...SIGNALS].join(', ')}; got "${signal}"${near === undefined ? '' : `: did you mean "${near}"?`}`)
  }
  const counts = {
    keepAlive: whole(load.keepAlive ?? 8, 'keep-alive clients', 0, 256),
    newConnection: whole(load.newConnection ?? 2, 'new-connection clients', 0, 256),
    idleSockets: whole(load.idleSockets ?? 2, 'idle sockets', 0, 256),
    slow: whole(load.slow ?? 2, 'slow clients', 0, 256),
    slowMs: whole(load.slowMs ?? 300, 'slowMs', 1, 60_000),
    pipelining: whole(load.pipelining ?? 2, 'pipelining clients', 0, 256),
    splitPipelines: load.splitPipelines ?? false,
    balancer: load.balancer ?? true,
    pauseMs: whole(load.pauseMs ?? 0, 'pauseMs', 0, 60_000),
    longPauseMs: whole(load.longPauseMs ?? 0, 'longPauseMs', 0, 60_000)
  }
  if (counts.keepAlive + counts.newConnection + counts.slow + counts.pipelining === 0) {
    throw new CheckError('CHECK_ERR_USAGE', 'no load: at least one keep-alive, new-connection, slow or pipelining client is needed')
  }
  return {
    command,
    cwd: options.cwd,
    env: options.env ?? {},
    host,
    port,
    pid: options.pid === undefined ? undefined : whole(options.pid, 'pid', 1, 2 ** 31),
    ready: options.ready ?? requests.find(spec => spec.method === 'GET')?.path ?? '/',
    readyGiven: options.ready !== undefined,
    requests,
    slowRequests: load.slowPaths === undefined ? requests : load.slowPaths.map(spec => typeof spec === 'string' ? parseRequest(spec) : spec),
    signal,
    signalAfter: options.signalAfter === undefined ? undefined : whole(options.signalAfter, 'signalAfter', 0, 3_600_000),
    seed: options.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : whole(options.seed, 'seed', 0, 2 ** 32 - 1),
    cycles: whole(options.cycles ?? 1, 'cycles', 1, 10_000),
    startTimeout: whole(options.startTimeout ?? 15_000, 'startTimeout', 1, 3_600_000),
    timeout: whole(options.timeout ?? 30_000, 'timeout', 1, 3_600_000),
    requestTimeout: whole(options.requestTimeout ?? 10_000, 'requestTimeout', 1, 3_600_000),
    probeInterval: whole(options.probeInterval ?? 100, 'probeInterval', 1, 60_000),
    idleGrace: whole(options.idleGrace ?? 100, 'idleGrace', 0, 3_600_000),
    maxLost: whole(options.maxLost ?? 0, 'maxLost', 0, Number.MAX_SAFE_INTEGER),
    load: counts,
    acceptedPorts: options.acceptedPorts,
    acceptedFromOutput: options.acceptedFromOutput ?? false,
    onOutput: options.onOutput,
    onProgress: options.onProgress,
    abortSignal: options.abortSignal,
    lb: options.lb,
    rounds: whole(options.rounds ?? 2, 'rounds', 1, 100),
    haproxy: options.haproxy,
    redispatch: options.redispatch ?? false
  }
}
