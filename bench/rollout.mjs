// `pnpm rollout`: a rolling restart behind HAProxy, in the order Kubernetes runs one, under steady keep-alive load
// through the proxy; prints how many requests each variant lost. test/rollout.test.ts runs the same harness.
//
// HAProxy health-checks /healthz on every backend slot and learns about a shutdown only from that probe. A new
// instance is started on a spare slot; the moment HAProxy sees it UP, the old one gets SIGTERM. All traffic stays on
// 127.0.0.1; every process is one this script started, ended by its PID.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'

const fixture = fileURLToPath(new URL('../test/fixtures/app.mjs', import.meta.url))
const children = new Set()
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })

/** Health-check timing: HAProxy marks a server DOWN after `fall` failed checks `inter` ms apart. */
export const check = { inter: 200, fall: 3, rise: 2 }

/** The HAProxy binary, or undefined when it is not installed (Debian puts it in /usr/sbin). */
export function findHaproxy () {
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

async function freePort () {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
}

function haproxyConfig ({ socket, frontPort, ports, redispatch }) {
  return `global
  stats socket ${socket} mode 600 level admin
  maxconn 4096
  log stdout format raw local0

defaults
  mode http
  # A line per request that failed, was retried or redispatched: status, termination state (who ended it, in which
  # phase: see HAProxy's "Session state at disconnection"), retries, server.
  log global
  option dontlog-normal
  log-format "%ST %tsc %rc %s"
  # Keep-alive on both sides (HAProxy's default, said out loud); idle server connections are shared between clients.
  option http-keep-alive
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
  # A check that a busy machine answers late is not a failed one; a 503 from /healthz fails it at once.
  timeout check 1s
  # HAProxy's defaults: a refused connect is tried 3 more times on the same server, and not sent elsewhere.
  retries 3
${redispatch ? '  option redispatch\n' : ''}
frontend web
  bind 127.0.0.1:${frontPort}
  default_backend app

backend app
  balance roundrobin
  http-reuse safe
  option httpchk
  http-check send meth GET uri /healthz
  default-server check inter ${check.inter}ms fall ${check.fall} rise ${check.rise}
${ports.map((port, index) => `  server i${index} 127.0.0.1:${port}`).join('\n')}
`
}

/** `show stat` on the admin socket: server name → status ('UP', 'DOWN', 'UP 1/2', ...) in the backend. */
async function serverStates (socketPath) {
  const socket = connect(socketPath)
  let data = ''
  socket.setEncoding('utf8').on('data', chunk => { data += chunk })
  socket.end('show stat\n')
  await once(socket, 'close')
  const [header, ...rows] = data.trim().split('\n')
  const columns = header.replace(/^# /, '').split(',')
  const states = new Map()
  for (const row of rows) {
    const fields = row.split(',')
    const record = Object.fromEntries(columns.map((name, i) => [name, fields[i]]))
    if (record.pxname === 'app' && /^i\d+$/.test(record.svname)) states.set(record.svname, record.status)
  }
  return states
}

// HAProxy has no event to wait for: its state is read on its admin socket, as a controller would.
async function waitForServers (socketPath, predicate, what, timeout = 15_000) {
  const deadline = performance.now() + timeout
  let states
  for (;;) {
    try {
      states = await serverStates(socketPath)
      if (predicate(states)) return states
    } catch {
      // the admin socket is not open yet
    }
    if (performance.now() > deadline) throw new Error(`HAProxy: timed out waiting for ${what}; servers: ${JSON.stringify([...states ?? []])}`)
    await delay(20)
  }
}

function startInstance ({ framework, bare, preStopDelay, options, port, index }) {
  const config = { framework, port, bare, options: { ...options, preStopDelay } }
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, GRACEFUL_FIXTURE: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  children.add(child)
  const output = []
  const instance = { index, name: `i${index}`, child, output, terminatedAt: undefined, exit: undefined }
  instance.exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child)
    instance.exit = { code, signal, at: performance.now() }
    return instance.exit
  })
  instance.ready = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', line => {
      output.push(line)
      if (line.includes('"event":"ready"')) resolve()
    })
    void instance.exited.then(exit => { reject(new Error(`instance ${index} exited (${JSON.stringify(exit)}) before listening: ${output.join('\n')}`)) })
  })
  child.stderr.setEncoding('utf8').on('data', chunk => output.push(chunk))
  return instance
}

// Clients through HAProxy until stopped or `maxRequests` have been sent: `connections` keep-alive clients sending
// mostly fast requests and every `slowEvery`-th a slow one, and `freshClients` that open a new connection for each
// request, as new visitors do. A request that does not come back 200 "ok" counts as failed, with its reason.
function startLoad (origin, { connections, freshClients, slowEvery, fastMs, slowMs, maxRequests, requestTimeout }) {
  // Clients let go of an idle connection before HAProxy does (30 s), as they should, or they race its close.
  const keepAlive = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 10_000 })
  const fresh = new Pool(origin, { connections: Math.max(freshClients, 1), pipelining: 1 })
  const kinds = Object.fromEntries(['fast', 'slow', 'new connection'].map(kind => [kind, { sent: 0, ok: 0, failed: 0, maxMs: 0 }]))
  const failures = {}
  let sent = 0
  let stopped = false
  async function send (pool, kind, ms, reset) {
    const counts = kinds[kind]
    counts.sent++
    const begun = performance.now()
    let reason
    try {
      const res = await pool.request({ method: 'GET', path: `/work?ms=${ms}`, reset, signal: AbortSignal.timeout(requestTimeout) })
      const body = await res.body.text()
      if (res.statusCode !== 200 || body !== 'ok') reason = `HTTP ${res.statusCode}`
    } catch (err) {
      reason = err.code ?? err.name
    }
    counts.maxMs = Math.max(counts.maxMs, performance.now() - begun)
    if (reason === undefined) {
      counts.ok++
    } else {
      counts.failed++
      failures[reason] = (failures[reason] ?? 0) + 1
    }
  }
  async function keepAliveClient () {
    while (!stopped && sent < maxRequests) {
      const slow = sent++ % slowEvery === 0
      await send(keepAlive, slow ? 'slow' : 'fast', slow ? slowMs : fastMs, false)
    }
  }
  async function freshClient () {
    while (!stopped && sent++ < maxRequests) await send(fresh, 'new connection', fastMs, true)
  }
  const clients = [...Array.from({ length: connections }, keepAliveClient), ...Array.from({ length: freshClients }, freshClient)]
  const done = Promise.all(clients).then(async () => {
    await Promise.all([keepAlive.close(), fresh.close()])
    return { kinds, failures }
  })
  return { stop: () => { stopped = true }, done }
}

/**
 * One full rollout: `slots` instances behind HAProxy, each replaced `rounds` times, new before old.
 * Resolves to the request counts; rejects when the harness itself cannot proceed (HAProxy missing, a timeout).
 */
export async function rollout ({
  framework,
  bare = false,
  preStopDelay = bare ? 0 : 2_000,
  options = {},
  rounds = 2,
  slots = 2,
  connections = 12,
  freshClients = 4,
  slowEvery = 10,
  fastMs = 5,
  slowMs = 400,
  maxRequests = 100_000,
  redispatch = false,
  haproxy = findHaproxy(),
  log = () => {}
}) {
  if (haproxy === undefined) throw new Error('HAProxy is not installed (apt-get install -y haproxy)')
  const dir = mkdtempSync(join(tmpdir(), 'graceful-rollout-'))
  const socket = join(dir, 'admin.sock')
  const instances = []
  let proxy
  let load
  try {
    // One server line per instance the rollout will start: a new pod gets a new address, and HAProxy knows the
    // addresses in advance, so it learns only from the health check whether anything answers there.
    const ports = []
    for (let i = 0; i < slots * (rounds + 1) + 1; i++) ports.push(await freePort())
    const frontPort = ports.pop()
    writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig({ socket, frontPort, ports, redispatch }))
    proxy = spawn(haproxy, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(proxy)
    const proxyOutput = []
    const proxyLog = {}
    createInterface({ input: proxy.stdout }).on('line', line => {
      const entry = /^(-1|\d{3}) (\S{4}) (\+?\d+) (\S+)$/.exec(line)
      if (entry === null) proxyOutput.push(line)
      else {
        const key = `${entry[1]} ${entry[2]}${Number(entry[3]) > 0 ? ` after ${entry[3]} retries` : ''}`
        proxyLog[key] = (proxyLog[key] ?? 0) + 1
      }
    })
    proxy.stderr.setEncoding('utf8').on('data', chunk => proxyOutput.push(chunk))
    const proxyExited = once(proxy, 'exit').then(([code]) => {
      children.delete(proxy)
      throw new Error(`HAProxy exited (${code}): ${proxyOutput.join('\n')}`)
    })
    proxyExited.catch(() => {})
    const start = index => {
      const instance = startInstance({ framework, bare, preStopDelay, options, port: ports[index], index })
      instances.push(instance)
      return instance
    }
    const live = Array.from({ length: slots }, (_, slot) => start(slot))
    await Promise.race([Promise.all(live.map(instance => instance.ready)), proxyExited])
    await Promise.race([proxyExited, waitForServers(socket, states => [...states].every(([name, status]) =>
      Number(name.slice(1)) < slots ? status === 'UP' : status.startsWith('DOWN')), 'the first instances UP, the spare slots DOWN')])
    log(`${framework} ${bare ? 'bare' : 'graceful'}: ${slots} instances UP behind HAProxy on port ${frontPort}`)

    const begun = performance.now()
    load = startLoad(`http://127.0.0.1:${frontPort}`, { connections, freshClients, slowEvery, fastMs, slowMs, maxRequests, requestTimeout: 15_000 })
    const retired = []
    for (let round = 1; round <= rounds; round++) {
      for (let slot = 0; slot < slots; slot++) {
        const next = start(round * slots + slot)
        await next.ready
        await waitForServers(socket, states => states.get(next.name) === 'UP', `${next.name} UP`)
        // Kubernetes sends SIGTERM to the old pod once the new one is ready; nothing tells HAProxy.
        const old = live[slot]
        old.terminatedAt = performance.now()
        old.child.kill('SIGTERM')
        retired.push(old)
        live[slot] = next
        log(`  round ${round}, slot ${slot}: ${next.name} UP, SIGTERM to ${old.name}`)
      }
    }
    // The load runs on until HAProxy has let go of the last old instances and they have exited (bounded: a bare
    // server can hold on to HAProxy's idle connections for a long time).
    await waitForServers(socket, states => retired.every(old => states.get(old.name)?.startsWith('DOWN')), 'the old instances DOWN')
    await Promise.race([Promise.all(retired.map(old => old.exited)), delay(preStopDelay + 2_000)])
    load.stop()
    const { kinds, failures } = await load.done
    const duration = performance.now() - begun
    proxy.kill('SIGKILL')
    // Without HAProxy's connections, a bare server that was still waiting for them closes; give it a moment.
    await Promise.race([Promise.all(retired.map(old => old.exited)), delay(2_000)])
    const sum = key => Object.values(kinds).reduce((total, counts) => total + counts[key], 0)
    return {
      framework,
      variant: bare ? 'bare' : 'graceful',
      preStopDelay,
      options,
      redispatch,
      replacements: retired.length,
      durationMs: Math.round(duration),
      sent: sum('sent'),
      ok: sum('ok'),
      failed: sum('failed'),
      kinds,
      failures,
      proxyLog,
      exits: retired.map(old => old.exit === undefined
        ? { name: old.name, code: null, signal: null, exitedMs: null }
        : { name: old.name, code: old.exit.code, signal: old.exit.signal, exitedMs: Math.round(old.exit.at - old.terminatedAt) })
    }
  } finally {
    load?.stop()
    if (proxy !== undefined && children.has(proxy)) proxy.kill('SIGKILL')
    for (const instance of instances) if (children.has(instance.child)) instance.child.kill('SIGKILL')
    await Promise.all(instances.map(instance => instance.exited))
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The results as a Markdown table. */
export function formatTable (results) {
  const lines = [
    '| framework | variant | preStopDelay | replacements | requests | failed | failed: fast / slow / new connection | failures | HAProxy\'s log: status, termination state | longest request | old instances exited after SIGTERM |',
    '|---|---|---:|---:|---:|---:|---|---|---|---:|---|'
  ]
  for (const r of results) {
    const kinds = Object.values(r.kinds)
    const failures = Object.entries(r.failures).map(([reason, count]) => `${reason} × ${count}`).join(', ') || '—'
    const proxyLog = Object.entries(r.proxyLog).map(([entry, count]) => `${entry} × ${count}`).join(', ') || '—'
    const exits = r.exits.map(e => e.code === null ? 'killed' : `${e.exitedMs} ms`).join(', ')
    const adaptive = r.options.preStopQuietWindow > 0
      ? `, ends after ${r.options.preStopQuietWindow} ms quiet, not before ${r.options.preStopMinimumDelay ?? 0} ms`
      : ''
    lines.push(`| ${r.framework} | ${r.variant}${adaptive}${r.redispatch ? ', redispatch' : ''} | ${r.preStopDelay} ms | ${r.replacements} | ${r.sent} | **${r.failed}** | ` +
      `${kinds.map(k => k.failed).join(' / ')} | ${failures} | ${proxyLog} | ${Math.round(Math.max(...kinds.map(k => k.maxMs)))} ms | ${exits} |`)
  }
  return lines.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const value = (name, fallback) => args.includes(name) ? args[args.indexOf(name) + 1] : fallback
  const frameworks = value('--framework', 'express,fastify').split(',')
  const rounds = Number(value('--rounds', 2))
  const haproxy = findHaproxy()
  if (haproxy === undefined) {
    console.error('HAProxy is not installed: apt-get install -y haproxy (Debian/Ubuntu), brew install haproxy (macOS).')
    process.exit(1)
  }
  const variants = [
    { bare: false },
    // The adaptive lame duck: 5 s at most, over as soon as no new connection has brought a request for 300 ms, once
    // HAProxy has had the time to see the 503 (3 checks, 200 ms apart).
    { bare: false, preStopDelay: 5_000, options: { preStopMinimumDelay: 1_000, preStopQuietWindow: 300 } },
    { bare: false, preStopDelay: 0 },
    { bare: true },
    { bare: true, redispatch: true }
  ]
  const results = []
  for (const framework of frameworks) {
    for (const variant of variants) {
      results.push(await rollout({ framework, rounds, haproxy, ...variant, log: line => console.error(line) }))
    }
  }
  console.log(`\nHAProxy health check every ${check.inter} ms, DOWN after ${check.fall} failures; ${rounds} rounds over 2 instances.\n`)
  console.log(formatTable(results))
}
