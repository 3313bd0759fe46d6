import { BALANCERS, DEFAULT_PROPAGATION, type BalancerModel } from './balancer.js'
import { CheckError } from './errors.js'
import { OPTION_ROWS, rowOf, type OptionKey } from './option-table.js'
import type { AcceptedPorts, BalancerName, CheckOptions, Progress, RequestSpec } from './types.js'

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
  balancer: BalancerName
  balancerModel: BalancerModel
  /** The range each cycle draws its propagation delay from (ms). */
  propagation: { min: number, max: number }
  load: {
    keepAlive: number
    newConnection: number
    idleSockets: number
    slow: number
    slowMs: number
    pipelining: number
    splitPipelines: boolean
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

export const SIGNALS: ReadonlySet<string> = new Set(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGKILL'])

function checkWhole (value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new CheckError('CHECK_ERR_USAGE', `${name} takes a whole number from ${min} to ${max}; got ${String(value)}`)
  }
  return value
}

/** A whole-number option checked against its row's bounds, its row's default when not given. */
function whole (key: OptionKey, value: unknown): number {
  const row = rowOf(key)
  return checkWhole(value ?? row.initial, key.replace(/^load\./, ''), row.min ?? 0, row.max ?? Number.MAX_SAFE_INTEGER)
}

/** The names checkShutdown() knows, from the option table: its fields, and those of `load`. */
const names = OPTION_ROWS.flatMap(row => [row.key, ...(row.alsoKeys?.split(', ') ?? [])]).filter((key): key is string => key !== undefined)
const KNOWN = new Set(['load', ...names.filter(key => !key.startsWith('load.'))])
const KNOWN_LOAD = new Set(names.filter(key => key.startsWith('load.')).map(key => key.slice('load.'.length)))

function propagationRange (value: CheckOptions['propagation']): { min: number, max: number } {
  const row = rowOf('propagation')
  const range = value === undefined ? DEFAULT_PROPAGATION : typeof value === 'number' ? { min: value, max: value } : value
  const min = checkWhole(range.min, 'propagation', row.min!, row.max!)
  const max = checkWhole(range.max, 'propagation', row.min!, row.max!)
  if (min > max) throw new CheckError('CHECK_ERR_USAGE', `propagation takes a range from low to high; got ${min}-${max}`)
  return { min, max }
}
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
  let port = options.port === undefined ? undefined : whole('port', options.port)
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
    keepAlive: whole('load.keepAlive', load.keepAlive),
    newConnection: whole('load.newConnection', load.newConnection),
    idleSockets: whole('load.idleSockets', load.idleSockets),
    slow: whole('load.slow', load.slow),
    slowMs: whole('load.slowMs', load.slowMs),
    pipelining: whole('load.pipelining', load.pipelining),
    splitPipelines: load.splitPipelines ?? false,
    pauseMs: whole('load.pauseMs', load.pauseMs),
    longPauseMs: whole('load.longPauseMs', load.longPauseMs)
  }
  const balancer = options.balancer ?? 'kube-proxy'
  if (!Object.hasOwn(BALANCERS, balancer)) {
    const near = closest(balancer, Object.keys(BALANCERS))
    throw new CheckError('CHECK_ERR_USAGE', `balancer takes one of ${Object.keys(BALANCERS).join(', ')}; got "${balancer}"${near === undefined ? '' : `: did you mean "${near}"?`}`)
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
    pid: options.pid === undefined ? undefined : whole('pid', options.pid),
    ready: options.ready ?? requests.find(spec => spec.method === 'GET')?.path ?? '/',
    readyGiven: options.ready !== undefined,
    requests,
    slowRequests: load.slowPaths === undefined ? requests : load.slowPaths.map(spec => typeof spec === 'string' ? parseRequest(spec) : spec),
    signal,
    signalAfter: options.signalAfter === undefined ? undefined : whole('signalAfter', options.signalAfter),
    seed: options.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : whole('seed', options.seed),
    cycles: whole('cycles', options.cycles),
    startTimeout: whole('startTimeout', options.startTimeout),
    timeout: whole('timeout', options.timeout),
    requestTimeout: whole('requestTimeout', options.requestTimeout),
    probeInterval: whole('probeInterval', options.probeInterval),
    idleGrace: whole('idleGrace', options.idleGrace),
    maxLost: whole('maxLost', options.maxLost),
    balancer,
    balancerModel: BALANCERS[balancer],
    propagation: propagationRange(options.propagation),
    load: counts,
    acceptedPorts: options.acceptedPorts,
    acceptedFromOutput: options.acceptedFromOutput ?? false,
    onOutput: options.onOutput,
    onProgress: options.onProgress,
    abortSignal: options.abortSignal,
    lb: options.lb,
    rounds: whole('rounds', options.rounds),
    haproxy: options.haproxy,
    redispatch: options.redispatch ?? false
  }
}
