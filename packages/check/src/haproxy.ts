import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Observed } from './classify.js'
import { KINDS } from './classify.js'
import type { Target } from './clients.js'
import { startLoad } from './cycle.js'
import { cycleReport } from './cycle-report.js'
import { CheckError } from './errors.js'
import type { Settings } from './options.js'
import { Recorder } from './recorder.js'
import { freePorts, startService, type Exit, type Service } from './service.js'
import type { CycleReport, FailedRequest, FailureKind, Finding } from './types.js'

/** HAProxy's health check: a server is DOWN after `fall` failed checks `inter` ms apart, UP after `rise` good ones. */
export const haproxyCheck: { readonly inter: 200, readonly fall: 3, readonly rise: 2 } = { inter: 200, fall: 3, rise: 2 }

/** The HAProxy binary, or undefined when it is not installed (Debian puts it in /usr/sbin). */
export function findHaproxy (): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin']
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, 'haproxy'), constants.X_OK)
      return join(dir, 'haproxy')
    } catch {
      // not in this directory
    }
  }
  return undefined
}

function haproxyConfig (socket: string, frontPort: number, ports: number[], redispatch: boolean): string {
  return `global
  stats socket ${socket} mode 600 level admin
  maxconn 4096
  log stdout format raw local0

defaults
  mode http
  # A line per request that failed, was retried or redispatched: status, termination state (who ended it, in which
  # phase: HAProxy's "Session state at disconnection"), retries, server, and the request's id from graceful-check.
  log global
  option dontlog-normal
  log-format "%ST %tsc %rc %s %hr"
  # Keep-alive on both sides (HAProxy's default, said out loud); idle server connections are shared between clients.
  option http-keep-alive
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
  # A check that a busy machine answers late is not a failed one; a 503 from the readiness path fails it at once.
  timeout check 1s
  # HAProxy's defaults: a refused connect is tried 3 more times on the same server, and not sent elsewhere.
  retries 3
${redispatch ? '  option redispatch\n' : ''}
frontend web
  bind 127.0.0.1:${frontPort}
  capture request header x-check-id len 12
  default_backend app

backend app
  balance roundrobin
  http-reuse safe
  option httpchk
  http-check send meth GET uri READY_PATH
  default-server check inter ${haproxyCheck.inter}ms fall ${haproxyCheck.fall} rise ${haproxyCheck.rise}
${ports.map((port, index) => `  server i${index} 127.0.0.1:${port}`).join('\n')}
`
}

/** `show stat` on the admin socket: server name → status ('UP', 'DOWN', 'UP 1/2', ...) in the backend. */
async function serverStates (socketPath: string): Promise<Map<string, string>> {
  const socket = connect(socketPath)
  let data = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => { data += chunk })
  socket.end('show stat\n')
  await once(socket, 'close')
  const [header = '', ...rows] = data.trim().split('\n')
  const columns = header.replace(/^# /, '').split(',')
  const states = new Map<string, string>()
  for (const row of rows) {
    const fields = row.split(',')
    const record = Object.fromEntries(columns.map((name, i) => [name, fields[i] ?? '']))
    if (record.pxname === 'app' && /^i\d+$/.test(record.svname ?? '')) states.set(record.svname!, record.status ?? '')
  }
  return states
}

// HAProxy has no event to wait for: its state is read on its admin socket every 20 ms, as a controller would.
async function waitForServers (socketPath: string, predicate: (states: Map<string, string>) => boolean, what: string, timeout: number): Promise<void> {
  const deadline = performance.now() + timeout
  let states = new Map<string, string>()
  for (;;) {
    try {
      states = await serverStates(socketPath)
      if (predicate(states)) return
    } catch {
      // the admin socket is not open yet
    }
    if (performance.now() > deadline) throw new CheckError('CHECK_ERR_HAPROXY', `HAProxy: timed out waiting for ${what}; servers: ${JSON.stringify([...states])}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

interface Instance {
  name: string
  port: number
  service: Service
  signalledAt: number | undefined
  exit: (Exit & { at: number }) | undefined
}

/** A kind from HAProxy's termination state for a 5xx it answered: who ended the exchange, and when. */
function kindFromProxy (state: string, instance: Instance | undefined, failedAt: number): FailureKind {
  // S: the server side ended it; C in the second place: while connecting (refused, after the retries).
  if (state.startsWith('SC')) return 'routed-to-closed-listener'
  if (state.startsWith('SH') || state.startsWith('SD')) {
    return instance?.exit !== undefined && instance.exit.at <= failedAt + 50 ? 'exited-in-flight' : 'reset-reused-connection'
  }
  return 'server-error'
}

/**
 * A rolling replacement behind HAProxy in Kubernetes' order: `rounds` times for each of two instances, a new one is
 * started on a new port, and once HAProxy's own health check sees it UP, the old one gets the signal. Nothing else
 * tells HAProxy. The load goes through HAProxy the whole time.
 */
export async function checkRolloutCycle (settings: Settings, cycle = 0): Promise<CycleReport> {
  const haproxy = settings.haproxy ?? findHaproxy()
  if (haproxy === undefined) throw new CheckError('CHECK_ERR_HAPROXY', 'HAProxy is not installed: apt-get install -y haproxy (Debian, Ubuntu), brew install haproxy (macOS)')
  const slots = 2
  const dir = mkdtempSync(join(tmpdir(), 'graceful-check-'))
  const socket = join(dir, 'admin.sock')
  const instances: Instance[] = []
  let proxy: ChildProcess | undefined
  const proxyLog: Record<string, number> = {}
  const byId = new Map<string, { status: number, state: string, server: string }>()
  let clients: Array<Promise<void>> = []
  // The clients reach HAProxy itself, the real balancer: nothing of it is simulated.
  const recorder = new Recorder(() => undefined, true, () => {})
  try {
    const ports = await freePorts(settings.host, slots * (settings.rounds + 1) + 1)
    const frontPort = ports.pop()!
    writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig(socket, frontPort, ports, settings.redispatch).replace('READY_PATH', settings.ready))
    const started = spawn(haproxy, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] })
    proxy = started
    const proxyOutput: string[] = []
    createInterface({ input: started.stdout }).on('line', (line: string) => {
      const entry = /^(-1|\d{3}) (\S{4}) (\+?\d+) (\S+) \{?([^}]*)\}?$/.exec(line)
      if (entry === null) {
        proxyOutput.push(line)
        return
      }
      const key = `${entry[1]} ${entry[2]}${Number(entry[3]) > 0 ? ` after ${Number(entry[3])} retries` : ''}`
      proxyLog[key] = (proxyLog[key] ?? 0) + 1
      if (entry[5] !== '') byId.set(entry[5]!, { status: Number(entry[1]), state: entry[2]!, server: entry[4]! })
    })
    started.stderr.setEncoding('utf8').on('data', (chunk: string) => proxyOutput.push(chunk))
    const proxyExited = once(started, 'exit').then(([code]) => {
      throw new CheckError('CHECK_ERR_HAPROXY', `HAProxy exited (${String(code)}): ${proxyOutput.join('\n')}`)
    })
    proxyExited.catch(() => {})
    const start = async (index: number): Promise<Instance> => {
      const service = await startService({ ...settings, port: ports[index], pid: undefined, acceptedFromOutput: false })
      const instance: Instance = { name: `i${index}`, port: ports[index]!, service, signalledAt: undefined, exit: undefined }
      instances.push(instance)
      void service.exited.then(exit => {
        instance.exit = { ...exit, at: performance.now() }
        if (recorder.signalAt !== undefined) recorder.note(`${instance.name} exited (${exit.code !== null ? `code ${exit.code}` : `killed by ${exit.signal ?? '?'}`})`)
      })
      return instance
    }
    const live = await Promise.race([Promise.all(Array.from({ length: slots }, async (_, slot) => await start(slot))), proxyExited])
    await Promise.race([proxyExited, waitForServers(socket, states => [...states].every(([name, status]) =>
      Number(name.slice(1)) < slots ? status === 'UP' : status.startsWith('DOWN')), 'the first instances UP, the spare slots DOWN', settings.startTimeout)])
    const target: Target = { host: settings.host, port: frontPort, requests: settings.requests, requestTimeout: settings.requestTimeout }
    clients = startLoad(settings, recorder, target, settings.seed)
    await new Promise(resolve => setTimeout(resolve, settings.signalAfter ?? 500))
    const retired: Instance[] = []
    for (let round = 1; round <= settings.rounds; round++) {
      for (let slot = 0; slot < slots; slot++) {
        const next = await start(round * slots + slot)
        await waitForServers(socket, states => states.get(next.name) === 'UP', `${next.name} UP`, settings.startTimeout)
        // Kubernetes signals the old pod once the new one is ready; nothing tells HAProxy.
        const old = live[slot]!
        const now = performance.now()
        recorder.signalAt ??= now
        recorder.note(`${next.name} UP; ${settings.signal} to ${old.name}`, now)
        old.signalledAt = now
        old.service.signal(settings.signal)
        retired.push(old)
        live[slot] = next
      }
    }
    // The load runs on until HAProxy has let go of the old instances and they have exited, or the timeout.
    let boundTimer: NodeJS.Timeout | undefined
    const bound = new Promise(resolve => { boundTimer = setTimeout(resolve, settings.timeout) })
    await Promise.race([waitForServers(socket, states => retired.every(old => states.get(old.name)?.startsWith('DOWN') === true), 'the old instances DOWN', settings.timeout), bound])
    await Promise.race([Promise.all(retired.map(async old => await old.service.exited)), bound])
    clearTimeout(boundTimer)
    recorder.stop()
    await Promise.all(clients)
    const findings: Finding[] = []
    for (const old of retired) {
      if (old.exit === undefined) {
        findings.push({ kind: 'did-not-exit', fails: true, cause: `${old.name} was still running ${settings.timeout} ms after the signal`, fix: 'bound the shutdown below the grace period' })
      } else if (old.exit.code !== 0) {
        // Its last words say why (an error at start, a crash): the output is read to its end first (a little while at
        // most: a process it left behind may hold the pipe).
        await Promise.race([old.service.outputDone, new Promise(resolve => setTimeout(resolve, 500).unref())])
        const last = old.service.output.slice(-5).join(' | ')
        findings.push({
          kind: 'exit-code',
          fails: false,
          cause: `${old.name} exited with ${old.exit.code !== null ? `code ${old.exit.code}` : old.exit.signal ?? '?'}${last === '' ? '' : `; its last output: ${last}`}`,
          fix: 'a clean shutdown exits 0'
        })
      }
    }
    const signalAt = recorder.signalAt ?? performance.now()
    const ms = (at: number | undefined): number | null => at === undefined ? null : Math.round(at - signalAt)
    const lastExit = retired.map(old => old.exit?.at).filter((at): at is number => at !== undefined).sort((a, b) => a - b).at(-1)
    recorder.exitAt = lastExit
    const refine = (failure: FailedRequest, observed: Observed): FailedRequest => {
      if (failure.kind !== 'server-error' || observed.id === undefined) return failure
      const logged = byId.get(String(observed.id))
      if (logged === undefined) return failure
      const kind = kindFromProxy(logged.state, instances.find(instance => instance.name === logged.server), observed.failedAt)
      return { ...failure, kind, lost: KINDS[kind].lost, cause: `${KINDS[kind].cause} (HAProxy: ${logged.status} ${logged.state} on ${logged.server})`, fix: KINDS[kind].fix, error: `HAProxy ${logged.state}` }
    }
    return cycleReport(settings, recorder, {
      cycle,
      seed: settings.seed,
      balancer: 'none',
      propagationMs: null,
      output: [],
      url: `http://${settings.host}:${frontPort}`,
      signalAfter: settings.signalAfter ?? 500,
      exit: retired.at(-1)?.exit,
      killedAfterTimeout: retired.some(old => old.exit === undefined),
      findings,
      idle: [],
      accepted: undefined,
      instances: instances.map(instance => ({
        name: instance.name,
        port: instance.port,
        signalledMs: ms(instance.signalledAt),
        exitMs: ms(instance.exit?.at),
        code: instance.exit?.code ?? null,
        signal: instance.exit?.signal ?? null
      })),
      proxyLog,
      refine
    })
  } finally {
    recorder.stop()
    await Promise.all(clients)
    proxy?.kill('SIGKILL')
    for (const instance of instances) instance.service.kill()
    await Promise.all(instances.map(async instance => await instance.service.exited))
    rmSync(dir, { recursive: true, force: true })
  }
}
