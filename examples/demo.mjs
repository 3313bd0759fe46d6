// `pnpm demo`: a service under keep-alive load receives SIGTERM, once with graceful and once without, and the
// requests each run lost are counted side by side. Traffic goes to 127.0.0.1 only; every run is bounded in time.
//
//   pnpm demo                      Express, no lame duck
//   pnpm demo --fastify            Fastify
//   pnpm demo --pre-stop-delay 2000
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { Client } from 'undici'

const { values } = parseArgs({
  options: {
    fastify: { type: 'boolean', default: false },
    'pre-stop-delay': { type: 'string', default: '0' },
    clients: { type: 'string', default: '32' },
    'load-before-signal': { type: 'string', default: '1500' }
  }
})
const framework = values.fastify ? 'fastify' : 'express'
const clientCount = Number(values.clients)
const loadBeforeSignal = Number(values['load-before-signal'])
const tty = process.stdout.isTTY === true
const here = new URL('.', import.meta.url)

async function run (variant) {
  const script = new URL(`${variant === 'graceful' ? '' : 'bare-'}${framework}.mjs`, here)
  const child = spawn(process.execPath, [script.pathname], {
    env: { ...process.env, PORT: '0', PRE_STOP_DELAY: values['pre-stop-delay'] },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines = []
  const exited = once(child, 'exit')
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', line => lines.push(line))
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${variant} app did not start: ${lines.join('\n')}`)), 10_000)
    createInterface({ input: child.stdout }).on('line', line => {
      if (line.includes('"listening"')) {
        clearTimeout(timer)
        resolve(JSON.parse(line).port)
      }
    })
  })

  const counts = { ok: 0, lost: 0, rejected: 0, refused: 0 }
  const lostKinds = new Map()
  let inFlight = 0
  let stopping = false
  let signalledAt = 0
  const deadline = Date.now() + loadBeforeSignal + 20_000
  const clients = Array.from({ length: clientCount }, () => new Client(`http://127.0.0.1:${port}`, { keepAliveTimeout: 60_000 }))
  const worker = async (client, index) => {
    for (let i = 0; Date.now() < deadline; i++) {
      inFlight++
      try {
        const res = await client.request({ method: 'GET', path: `/?ms=${5 + ((index * 7 + i * 13) % 150)}` })
        await res.body.text()
        if (res.statusCode === 200) counts.ok++
        else counts.rejected++
      } catch (err) {
        // Refused at connect: nothing was sent, any client or load balancer retries elsewhere. Anything else
        // (reset, hang-up) hit a request that had been written: the client cannot know whether it ran.
        if (err.code === 'ECONNREFUSED') counts.refused++
        else {
          counts.lost++
          const kind = err.code ?? err.name
          lostKinds.set(kind, (lostKinds.get(kind) ?? 0) + 1)
        }
        if (stopping) return
      } finally {
        inFlight--
      }
    }
  }
  const progress = setInterval(() => {
    const line = `${variant.padEnd(9)} ${stopping ? 'after SIGTERM ' : 'under load    '} ok ${String(counts.ok).padStart(6)}  ` +
      `lost ${String(counts.lost).padStart(4)}  non-200 ${String(counts.rejected).padStart(4)}  in flight ${String(inFlight).padStart(3)}`
    if (tty) process.stdout.write(`\r${line}`)
    else console.log(line)
  }, tty ? 100 : 500)
  const workers = Promise.all(clients.map(worker))
  setTimeout(() => {
    stopping = true
    signalledAt = Date.now()
    child.kill('SIGTERM')
  }, loadBeforeSignal)
  const [exitCode, exitSignal] = await exited
  const code = exitCode ?? `killed by ${exitSignal}`
  const exitMs = Date.now() - signalledAt
  await workers
  clearInterval(progress)
  if (tty) process.stdout.write('\n')
  await Promise.all(clients.map(client => client.destroy()))
  const report = lines.map(line => { try { return JSON.parse(line) } catch { return undefined } })
    .find(entry => entry?.msg === 'graceful: shutdown complete')
  return { variant, code, exitMs, counts, lostKinds, report }
}

console.log(`graceful demo: ${framework}, ${clientCount} keep-alive clients, SIGTERM after ${loadBeforeSignal} ms of load, ` +
  `preStopDelay ${values['pre-stop-delay']} ms\n`)
const results = []
for (const variant of ['graceful', 'bare']) results.push(await run(variant))

const graceful = results[0]
if (graceful.report !== undefined) {
  const r = graceful.report
  console.log('\nThe graceful run\'s report:')
  console.log(`  phases: stopping ${r.phases.stopping} ms, draining ${r.phases.draining} ms, cleanup ${r.phases.cleanup} ms`)
  console.log(`  requests: ${r.requests.inFlightAtDrain} in flight at drain, ${r.requests.completedDuringDrain} completed, ${r.requests.forced.length} forced`)
  console.log(`  sockets: ${r.sockets.openAtDrain} open at drain, ${r.sockets.closedAfterResponse} closed after their response, ` +
    `${r.sockets.closedIdle} closed idle, ${r.sockets.forced} forced`)
  console.log(`  hooks: ${r.hooks.map(h => `${h.name} ${h.status}`).join(', ')}`)
}
console.log('\n| run | requests served | requests lost | non-200 | refused before sending | exit code | SIGTERM → exit |')
console.log('|---|---:|---:|---:|---:|---:|---:|')
for (const r of results) {
  const kinds = [...r.lostKinds].map(([kind, n]) => `${kind} ×${n}`).join(', ')
  console.log(`| ${r.variant === 'graceful' ? `${framework} + graceful` : `bare ${framework}`} | ${r.counts.ok} | ` +
    `${r.counts.lost}${kinds ? ` (${kinds})` : ''} | ${r.counts.rejected} | ${r.counts.refused} | ${r.code} | ${r.exitMs} ms |`)
}
console.log('\n"Lost" means a request that was written on an open connection and never got its response. "Refused"')
console.log('connections sent nothing; every client and load balancer retries them on another instance.')
console.log(`RESULT ${JSON.stringify(results.map(r => ({ variant: r.variant, ok: r.counts.ok, lost: r.counts.lost, rejected: r.counts.rejected, code: r.code })))}`)
