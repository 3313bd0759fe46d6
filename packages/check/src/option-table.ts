import type { CheckOptions, LoadOptions } from './types.js'

/** Where checkShutdown() takes an option: a field, or a field of `load`. */
export type OptionKey = Exclude<keyof CheckOptions, 'load'> | `load.${keyof LoadOptions}`

/** How a value is read from the command line and checked. */
export type ValueKind = 'whole' | 'text' | 'path' | 'url' | 'request' | 'signal' | 'choice' | 'range' | 'switch' | 'api'

export type Section = 'the service' | 'the load' | 'the balancer' | 'the signal' | 'the verdict and the output'

/** One option, once: the help, the parser, the checks of checkShutdown(), "did you mean" and the docs table read it. */
export interface OptionRow {
  /** The long flag, without its dashes; none for what only checkShutdown() takes. */
  flag?: string
  short?: string
  /** The value's placeholder, `<n>`; none for a switch. */
  value?: string
  /** How the command line writes it, where not `--flag <value>`. */
  display?: string
  kind: ValueKind
  /** Given as often as needed. */
  multiple?: boolean
  /** Where checkShutdown() takes it; none for what only the command line has (the output). */
  key?: OptionKey
  /** Further fields of checkShutdown() that the docs name on this row. */
  alsoKeys?: string
  min?: number
  max?: number
  /** A whole number's default, for checkShutdown(). */
  initial?: number
  choices?: readonly string[]
  /** The default as the help and the docs say it. */
  shown: string
  section: Section
  /** One line: the help, and the docs unless `docs` says more. */
  help: string
  docs?: string
}

const HOUR = 3_600_000

const rows = [
  { display: '-- <command…>', kind: 'api', key: 'command', shown: '—', section: 'the service', help: 'the command that starts it; it gets the port as PORT (and in place of {port} in its arguments)', docs: 'the command that starts the service' },
  { kind: 'api', key: 'cwd', alsoKeys: 'env', shown: 'this process\'s', section: 'the service', help: 'its working directory, more environment variables' },
  { flag: 'port', short: 'p', value: '<n>', kind: 'whole', key: 'port', min: 1, max: 65_535, shown: 'a free port', section: 'the service', help: 'the port it listens on', docs: 'the port it listens on; it gets it as `PORT` and in place of `{port}`' },
  { flag: 'url', value: '<url>', kind: 'url', key: 'url', shown: '—', section: 'the service', help: 'a service already running (signalled only with --pid)', docs: 'a service already running, `http://host:port`' },
  { flag: 'pid', value: '<pid>', kind: 'whole', key: 'pid', min: 1, max: 2 ** 31, shown: '—', section: 'the service', help: 'the process to signal, with --url' },
  { flag: 'ready', value: '<path>', kind: 'path', key: 'ready', shown: 'the first `GET` path', section: 'the service', help: 'its readiness path, e.g. /healthz', docs: 'the readiness path, probed on fresh connections' },
  { flag: 'start-timeout', value: '<ms>', kind: 'whole', key: 'startTimeout', min: 1, max: HOUR, initial: 15_000, shown: '15 000', section: 'the service', help: 'how long it may take to answer 2xx there' },
  { flag: 'path', value: '<request>', kind: 'request', multiple: true, key: 'paths', shown: '`GET /`', section: 'the load', help: '"[METHOD] /path [body]", as often as needed', docs: '`[METHOD] /path [body]`: `\'POST /orders {"id":1}\'` (a body that parses as JSON is sent as JSON)' },
  { flag: 'keep-alive', value: '<n>', kind: 'whole', key: 'load.keepAlive', min: 0, max: 256, initial: 8, shown: '8', section: 'the load', help: 'keep-alive clients (undici)' },
  { flag: 'new-connection', value: '<n>', kind: 'whole', key: 'load.newConnection', min: 0, max: 256, initial: 2, shown: '2', section: 'the load', help: 'clients that open a new connection per request' },
  { flag: 'idle-sockets', value: '<n>', kind: 'whole', key: 'load.idleSockets', min: 0, max: 256, initial: 2, shown: '2', section: 'the load', help: 'sockets that connect and never send a byte' },
  { flag: 'slow', value: '<n>', kind: 'whole', key: 'load.slow', min: 0, max: 256, initial: 2, shown: '2', section: 'the load', help: 'clients whose requests take --slow-ms to arrive' },
  { flag: 'slow-ms', value: '<ms>', kind: 'whole', key: 'load.slowMs', min: 1, max: 60_000, initial: 300, shown: '300', section: 'the load', help: 'how long a slow request takes to write' },
  { flag: 'slow-path', value: '<request>', kind: 'request', multiple: true, key: 'load.slowPaths', shown: 'the paths', section: 'the load', help: 'the slow clients\' requests, as often as needed' },
  { flag: 'pipelining', value: '<n>', kind: 'whole', key: 'load.pipelining', min: 0, max: 256, initial: 2, shown: '2', section: 'the load', help: 'clients pipelining batches of 2 to 4 requests on raw sockets' },
  { flag: 'split-pipelines', kind: 'switch', key: 'load.splitPipelines', shown: 'off', section: 'the load', help: 'write some batches in two parts, cut inside a request' },
  { flag: 'pause', value: '<ms>', kind: 'whole', key: 'load.pauseMs', min: 0, max: 60_000, initial: 0, shown: '0', section: 'the load', help: 'pauses of 0 to <ms> between a keep-alive client\'s requests' },
  { flag: 'long-pause', value: '<ms>', kind: 'whole', key: 'load.longPauseMs', min: 0, max: 60_000, initial: 0, shown: '0', section: 'the load', help: 'one pause in ten this long, so that sockets turn idle' },
  { flag: 'balancer', value: '<model>', kind: 'choice', key: 'balancer', choices: ['kube-proxy', 'nginx', 'haproxy-redispatch', 'caddy', 'none'], shown: '`kube-proxy`', section: 'the balancer', help: 'what sits in front: kube-proxy, nginx, haproxy-redispatch, caddy, or none', docs: '[what sits in front](#the-balancer), simulated: `kube-proxy` (a Kubernetes Service), `nginx`, `haproxy-redispatch`, `caddy`, or `none` (clients connect directly)' },
  { flag: 'propagation', value: '<ms|min-max>', kind: 'range', key: 'propagation', min: 0, max: HOUR, shown: '1 000–3 000', section: 'the balancer', help: 'how long after the signal it still routes new connections here; a range is drawn from per cycle', docs: 'how long after the signal the balancer still routes new connections here: ms, or a range each cycle draws from by the seed' },
  { flag: 'lb', value: 'haproxy', kind: 'choice', key: 'lb', choices: ['haproxy'], shown: '—', section: 'the balancer', help: 'a real HAProxy in front of two instances, replaced one by one in Kubernetes\' order', docs: '[a rolling replacement behind a real HAProxy](#behind-haproxy)' },
  { kind: 'api', key: 'rounds', alsoKeys: 'redispatch, haproxy', min: 1, max: 100, initial: 2, shown: '2, false, found', section: 'the balancer', help: 'with `lb`: replacements per instance, HAProxy\'s `option redispatch`, its binary' },
  { flag: 'signal', short: 's', value: '<name>', kind: 'signal', key: 'signal', shown: '`SIGTERM`', section: 'the signal', help: 'the signal to send' },
  { flag: 'signal-after', value: '<ms>', kind: 'whole', key: 'signalAfter', min: 0, max: HOUR, shown: 'from the seed, 300–900', section: 'the signal', help: 'when, after the load starts' },
  { flag: 'seed', value: '<n>', kind: 'whole', key: 'seed', min: 0, max: 2 ** 32 - 1, shown: 'random, in the report', section: 'the signal', help: 'the seed of every random choice; the report prints it, and it replays the run' },
  { flag: 'cycles', short: 'n', value: '<n>', kind: 'whole', key: 'cycles', min: 1, max: 10_000, initial: 1, shown: '1', section: 'the signal', help: 'start–load–signal–exit cycles, with the distribution' },
  { flag: 'timeout', value: '<ms>', kind: 'whole', key: 'timeout', min: 1, max: HOUR, initial: 30_000, shown: '30 000', section: 'the signal', help: 'how long after the signal it may take to exit before it is killed' },
  { flag: 'request-timeout', value: '<ms>', kind: 'whole', key: 'requestTimeout', min: 1, max: HOUR, initial: 10_000, shown: '10 000', section: 'the signal', help: 'a request without a full answer by then has timed out' },
  { flag: 'probe-interval', value: '<ms>', kind: 'whole', key: 'probeInterval', min: 1, max: 60_000, initial: 100, shown: '100', section: 'the signal', help: 'the readiness prober\'s period' },
  { flag: 'idle-grace', value: '<ms>', kind: 'whole', key: 'idleGrace', min: 0, max: HOUR, initial: 100, shown: '100', section: 'the signal', help: 'a reused connection quiet this long that is closed under a request met the idle race', docs: 'see `idle-closed` below' },
  { flag: 'accepted-from-output', kind: 'switch', key: 'acceptedFromOutput', shown: 'off', section: 'the signal', help: 'read "graceful-check accepted <port>" lines from the service', docs: 'read the service\'s [evidence](#evidence-from-the-service) from its output' },
  { kind: 'api', key: 'acceptedPorts', shown: '—', section: 'the signal', help: 'the same evidence from a function' },
  { flag: 'max-lost', value: '<n>', kind: 'whole', key: 'maxLost', min: 0, max: Number.MAX_SAFE_INTEGER, initial: 0, shown: '0', section: 'the verdict and the output', help: 'lost requests allowed before the verdict fails' },
  { flag: 'json', kind: 'switch', shown: 'the text report', section: 'the verdict and the output', help: 'print the report as JSON (docs/check.md has its schema)', docs: 'print the report on stdout as JSON ([schema](#the-json-report))' },
  { flag: 'markdown', kind: 'switch', shown: 'the text report', section: 'the verdict and the output', help: 'print the report as Markdown (a CI job summary)' },
  { flag: 'html', value: '<file>', kind: 'text', shown: '—', section: 'the verdict and the output', help: 'also write the shutdown drawn on a time axis, one page with no network', docs: 'also write [the shutdown drawn](#the-html-page) to one self-contained page' },
  { flag: 'junit', value: '<file>', kind: 'text', shown: '—', section: 'the verdict and the output', help: 'also write a JUnit XML file: a test case per cycle, a failure per lost request', docs: 'also write [JUnit XML](#in-ci) for a CI system' },
  { flag: 'quiet', short: 'q', kind: 'switch', alsoKeys: 'onProgress', shown: 'progress on stderr', section: 'the verdict and the output', help: 'no progress on stderr', docs: 'no progress / a callback with it' },
  { flag: 'help', short: 'h', kind: 'switch', shown: '', section: 'the verdict and the output', help: 'this text' },
  { flag: 'version', short: 'V', kind: 'switch', shown: '', section: 'the verdict and the output', help: 'the version' },
  { kind: 'api', key: 'onOutput', alsoKeys: 'abortSignal', shown: '', section: 'the verdict and the output', help: 'each line the service writes; stop the run early' }
] as const satisfies readonly OptionRow[]

// Every field of checkShutdown()'s options has its row (or is named by one): this fails to compile otherwise.
type Named = Extract<(typeof rows)[number], { key: string }>['key'] | 'env' | 'redispatch' | 'haproxy' | 'abortSignal' | 'onProgress'
type Assert<T extends true> = T
type EveryOptionHasARow = Assert<[OptionKey] extends [Named] ? true : false>

/** Every option, in the order of the help and the docs. */
export const OPTION_ROWS: readonly OptionRow[] = rows satisfies (EveryOptionHasARow extends true ? readonly OptionRow[] : never)

export const SECTIONS: readonly Section[] = ['the service', 'the load', 'the balancer', 'the signal', 'the verdict and the output']

/** The row of a field of checkShutdown()'s options. */
export function rowOf (key: OptionKey): OptionRow {
  const row = OPTION_ROWS.find(candidate => candidate.key === key)
  if (row === undefined) throw new Error(`no option row for ${key}`)
  return row
}
