#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { checkShutdown, version } from './check.js'
import { CheckError, isCheckError } from './errors.js'
import { liveView } from './live.js'
import { closest, parseRequest } from './options.js'
import { formatMarkdown, formatText } from './render.js'
import type { CheckOptions, LoadOptions } from './types.js'

const HELP = `graceful-check: starts a service, loads it, sends it SIGTERM and names every lost request with its cause and its fix.

usage: graceful-check [options] -- <command…>
       graceful-check [options] --url http://127.0.0.1:3000 [--pid <pid>]

the service
  -- <command…>           the command that starts it; it gets the port as PORT (and in place of {port} in its arguments)
  -p, --port <n>          the port it listens on (default: a free port)
      --url <url>         a service already running (signalled only with --pid)
      --pid <pid>         the process to signal, with --url
      --ready <path>      its readiness path, e.g. /healthz (default: the first path)
      --start-timeout <ms>  how long it may take to be ready (default 15000)

the load (each kind on by default; 0 turns it off)
      --path <request>    "[METHOD] /path [body]", as often as needed (default "GET /")
      --keep-alive <n>    keep-alive clients, undici (default 8)
      --new-connection <n>  clients opening a new connection per request (default 2)
      --idle-sockets <n>  sockets that connect and never send a byte (default 2)
      --slow <n>          clients whose requests take --slow-ms to arrive (default 2)
      --slow-ms <ms>      (default 300)
      --slow-path <request>  the slow clients' requests, as often as needed (default: the --path ones)
      --pipelining <n>    clients pipelining batches of 2 to 4 requests (default 2)
      --split-pipelines   write some batches in two parts, cut inside a request
      --no-balancer       clients connect directly, not through a balancer that stops routing when readiness fails
      --pause <ms>        pauses of 0 to <ms> between a keep-alive client's requests (default 0)
      --long-pause <ms>   one pause in ten this long, so that sockets turn idle (default 0: none)

the signal
  -s, --signal <name>     the signal to send (default SIGTERM)
      --signal-after <ms> when, after the load starts (default: drawn from the seed, 300 to 900)
      --seed <n>          the seed of every random choice (default: random, printed)
  -n, --cycles <n>        repeat the whole cycle and report the distribution (default 1)
      --timeout <ms>      how long after the signal the service may take to exit before it is killed (default 30000)
      --request-timeout <ms>  (default 10000)
      --probe-interval <ms>   the readiness prober's period (default 100)
      --idle-grace <ms>   a reused connection quiet this long that is closed under a request met the idle race (default 100)
      --accepted-from-output  read "graceful-check accepted <port>" lines from the service as proof of the connections it accepted
      --lb haproxy        put HAProxy in front of two instances and replace them one by one, in Kubernetes' order

the verdict and the output
      --max-lost <n>      lost requests allowed (default 0)
      --json              print the report as JSON (schema version 1, docs/check.md)
      --markdown          print the report as Markdown (a CI job summary)
  -q, --quiet             no progress on stderr
  -h, --help              this text
  -V, --version           the version

exit codes: 0 nothing lost, 1 something lost (or the service did not stop), 2 bad usage or a service that does not start.
Progress goes to stderr, results to stdout; colour only on a terminal, never with NO_COLOR.`

const options = {
  port: { type: 'string', short: 'p' },
  url: { type: 'string' },
  pid: { type: 'string' },
  ready: { type: 'string' },
  'start-timeout': { type: 'string' },
  path: { type: 'string', multiple: true },
  'keep-alive': { type: 'string' },
  'new-connection': { type: 'string' },
  'idle-sockets': { type: 'string' },
  slow: { type: 'string' },
  'slow-ms': { type: 'string' },
  'slow-path': { type: 'string', multiple: true },
  pipelining: { type: 'string' },
  'split-pipelines': { type: 'boolean' },
  'no-balancer': { type: 'boolean' },
  pause: { type: 'string' },
  'long-pause': { type: 'string' },
  signal: { type: 'string', short: 's' },
  'signal-after': { type: 'string' },
  seed: { type: 'string' },
  cycles: { type: 'string', short: 'n' },
  timeout: { type: 'string' },
  'request-timeout': { type: 'string' },
  'probe-interval': { type: 'string' },
  'idle-grace': { type: 'string' },
  'accepted-from-output': { type: 'boolean' },
  lb: { type: 'string' },
  'max-lost': { type: 'string' },
  json: { type: 'boolean' },
  markdown: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' }
} as const

function usage (message: string): CheckError {
  return new CheckError('CHECK_ERR_USAGE', message)
}

function whole (value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value)) throw usage(`--${flag} takes a whole number; got "${value}"`)
  return Number(value)
}

/** The options for checkShutdown(), from the command line; throws a CheckError that says what was expected. */
export function parseCommandLine (argv: string[]): { check: CheckOptions, lb: string | undefined, json: boolean, markdown: boolean, quiet: boolean, help: boolean, version: boolean } {
  const separator = argv.indexOf('--')
  const own = separator === -1 ? argv : argv.slice(0, separator)
  const command = separator === -1 ? undefined : argv.slice(separator + 1)
  let values: ReturnType<typeof parseArgs<{ options: typeof options }>>['values']
  try {
    values = parseArgs({ args: own, options, strict: true, allowPositionals: false }).values
  } catch (err) {
    const e = err as { code?: string, message: string }
    const flag = /option '([^']+)'/.exec(e.message)?.[1] ?? /'(-[^']*)'/.exec(e.message)?.[1]
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag !== undefined) {
      const near = closest(flag.replace(/^-+/, ''), Object.keys(options))
      throw usage(`unknown option ${flag}${near === undefined ? '' : `: did you mean --${near}?`}`)
    }
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw usage(`unexpected "${/'([^']*)'/.exec(e.message)?.[1] ?? ''}": put the service's command after --, like graceful-check -- node server.js`)
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw usage(`${flag ?? 'an option'} needs a value${flag === undefined ? '' : `: ${flag} <value>`}`)
    }
    throw usage(e.message)
  }
  const load: LoadOptions = {}
  const counts: Array<[keyof LoadOptions, string]> = [['keepAlive', 'keep-alive'], ['newConnection', 'new-connection'], ['idleSockets', 'idle-sockets'],
    ['slow', 'slow'], ['slowMs', 'slow-ms'], ['pipelining', 'pipelining'], ['pauseMs', 'pause'], ['longPauseMs', 'long-pause']]
  for (const [key, flag] of counts) {
    const value = whole(values[flag as keyof typeof values] as string | undefined, flag)
    if (value !== undefined) (load as Record<string, number>)[key] = value
  }
  if (values['slow-path'] !== undefined) load.slowPaths = values['slow-path'].map(parseRequest)
  if (values['split-pipelines'] === true) load.splitPipelines = true
  if (values['no-balancer'] === true) load.balancer = false
  if (command !== undefined && command.length === 0) throw usage('nothing after --: give the command that starts the service, like -- node server.js')
  const help = values.help === true
  const showVersion = values.version === true
  if (!help && !showVersion && command === undefined && values.url === undefined) {
    throw usage('give the command that starts the service after --, like graceful-check -- node server.js (or --url for one already running)')
  }
  if (values.json === true && values.markdown === true) throw usage('--json and --markdown both print the report: choose one')
  if (values.lb !== undefined && values.lb !== 'haproxy') {
    throw usage(`--lb takes "haproxy"; got "${values.lb}"${closest(values.lb, ['haproxy']) === undefined ? '' : ': did you mean haproxy?'}`)
  }
  if (values.pid !== undefined && values.url === undefined) throw usage('--pid goes with --url: graceful-check signals a process it did not start only when told where it listens')
  const check: CheckOptions = { load }
  if (command !== undefined) check.command = command
  const set = <K extends keyof CheckOptions>(key: K, value: CheckOptions[K] | undefined): void => { if (value !== undefined) check[key] = value }
  set('port', whole(values.port, 'port'))
  set('url', values.url)
  set('pid', whole(values.pid, 'pid'))
  set('ready', values.ready)
  if (values.ready !== undefined && !values.ready.startsWith('/')) throw usage(`--ready takes a path from /, like /healthz; got "${values.ready}"`)
  set('startTimeout', whole(values['start-timeout'], 'start-timeout'))
  if (values.path !== undefined) check.paths = values.path.map(parseRequest)
  set('signal', values.signal?.toUpperCase().replace(/^(?!SIG)/, 'SIG') as NodeJS.Signals | undefined)
  set('signalAfter', whole(values['signal-after'], 'signal-after'))
  set('seed', whole(values.seed, 'seed'))
  set('cycles', whole(values.cycles, 'cycles'))
  set('timeout', whole(values.timeout, 'timeout'))
  set('requestTimeout', whole(values['request-timeout'], 'request-timeout'))
  set('probeInterval', whole(values['probe-interval'], 'probe-interval'))
  set('idleGrace', whole(values['idle-grace'], 'idle-grace'))
  set('maxLost', whole(values['max-lost'], 'max-lost'))
  if (values['accepted-from-output'] === true) check.acceptedFromOutput = true
  return { check, lb: values.lb, json: values.json === true, markdown: values.markdown === true, quiet: values.quiet === true, help, version: showVersion }
}

async function main (): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>
  try {
    parsed = parseCommandLine(process.argv.slice(2))
  } catch (err) {
    if (!isCheckError(err)) throw err
    process.stderr.write(`graceful-check: ${err.message}\n(graceful-check --help lists every option)\n`)
    return 2
  }
  if (parsed.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  if (parsed.version) {
    process.stdout.write(version() + '\n')
    return 0
  }
  const color = process.env.NO_COLOR === undefined || process.env.NO_COLOR === ''
  const view = parsed.quiet ? undefined : liveView({ stream: process.stderr, color: color && process.stderr.isTTY, live: process.stderr.isTTY })
  const controller = new AbortController()
  let interrupted = false
  const onInterrupt = (): void => {
    if (interrupted) {
      // A second Ctrl-C leaves at once: the service was already being ended by the first.
      process.removeListener('SIGINT', onInterrupt)
      process.kill(process.pid, 'SIGINT')
      return
    }
    interrupted = true
    process.stderr.write('\ngraceful-check: interrupted, ending the service (Ctrl-C again to leave at once)\n')
    controller.abort()
  }
  process.on('SIGINT', onInterrupt)
  try {
    const options: CheckOptions = { ...parsed.check, abortSignal: controller.signal, ...(view === undefined ? {} : { onProgress: view.update }) }
    if (parsed.lb === 'haproxy') options.lb = 'haproxy'
    const report = await checkShutdown(options)
    view?.done()
    if (parsed.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    else if (parsed.markdown) process.stdout.write(formatMarkdown(report))
    else process.stdout.write(formatText(report, { color: color && process.stdout.isTTY }))
    return report.ok ? 0 : 1
  } catch (err) {
    view?.done()
    if (!isCheckError(err)) throw err
    process.stderr.write(`graceful-check: ${err.message}\n`)
    return 2
  } finally {
    process.removeListener('SIGINT', onInterrupt)
  }
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`graceful-check: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 2
})
