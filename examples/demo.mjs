// `pnpm demo`: graceful-check runs the same service three times under load and sends it SIGTERM: with graceful, with
// the handler most people write by hand (server.close() or fastify.close() on SIGTERM), and with none; then it prints
// the three outcomes side by side. The clients reach the service through graceful-check's model of a Kubernetes
// Service, which goes on routing new connections to it for the endpoint-propagation delay after SIGTERM (1 to 3 s,
// drawn from the seed), whatever it answers. The load mixes `GET /` and orders (`POST /orders` with a JSON body).
// All three runs share one seed: the same moment for the signal, the same propagation delay. Each writes its
// shutdown drawn on a time axis to artifacts/demo/. Traffic goes to 127.0.0.1 only; every run is bounded in time.
//
//   pnpm demo                          Express, a 5 s lame duck (what docs/kubernetes.md configures)
//   pnpm demo --fastify                Fastify
//   pnpm demo --pre-stop-delay 0       no lame duck: the listener closes at once, while the balancer still routes here
//   pnpm demo --balancer nginx         behind nginx, which re-sends what never reached the instance (not a POST it got)
//   pnpm demo --plain                  plain progress lines instead of the live view (the default when not a terminal)
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, styleText } from 'node:util'
import { formatText } from '@graceful/check'

const { values } = parseArgs({
  options: {
    fastify: { type: 'boolean', default: false },
    'pre-stop-delay': { type: 'string', default: '5000' },
    clients: { type: 'string', default: '8' },
    'load-before-signal': { type: 'string', default: '1500' },
    balancer: { type: 'string', default: 'kube-proxy' },
    propagation: { type: 'string' },
    seed: { type: 'string', default: String(Math.floor(Math.random() * 2 ** 31)) },
    plain: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (values.help) {
  console.log('usage: pnpm demo [--fastify] [--pre-stop-delay ms] [--clients n] [--load-before-signal ms] [--balancer model] [--propagation ms|min-max] [--seed n] [--plain]')
  process.exit(0)
}
const framework = values.fastify ? 'fastify' : 'express'
const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined
const paint = (format, text) => color ? styleText(format, text) : text
const cli = fileURLToPath(new URL('../packages/check/dist/cli.js', import.meta.url))
const example = (name) => fileURLToPath(new URL(name, import.meta.url))
const artifacts = fileURLToPath(new URL('../artifacts/demo/', import.meta.url))
mkdirSync(artifacts, { recursive: true })
const slug = (name) => name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()

const variants = [
  { name: `${framework} + graceful`, script: example(`${framework}.mjs`), env: { GRACEFUL_PRE_STOP_DELAY: `${values['pre-stop-delay']}ms` }, ready: '/healthz' },
  { name: `${framework}, ${framework === 'express' ? 'server' : 'fastify'}.close()`, script: example(`bare-${framework}.mjs`), env: { ON_SIGTERM: 'close' } },
  { name: `${framework}, no handler`, script: example(`bare-${framework}.mjs`), env: { ON_SIGTERM: 'none' } }
]

/** One run of graceful-check: its live view on this terminal (stderr), its report as JSON, its drawing in a file. */
async function check (variant) {
  variant.html = `${artifacts}${slug(variant.name)}.html`
  const args = [
    cli, '--json',
    '--html', variant.html,
    '--keep-alive', values.clients,
    '--signal-after', values['load-before-signal'],
    '--seed', values.seed,
    '--balancer', values.balancer,
    ...(values.propagation === undefined ? [] : ['--propagation', values.propagation]),
    '--path', 'GET /',
    '--path', 'POST /orders {"item":"book","quantity":1}',
    // Long enough for graceful's lame duck and drain; a service that holds on longer is killed, as a kubelet would.
    '--timeout', String(Number(values['pre-stop-delay']) + 6_000),
    ...(variant.ready === undefined ? [] : ['--ready', variant.ready]),
    '--', process.execPath, variant.script
  ]
  const env = { ...process.env, ...variant.env }
  if (values.plain) env.NO_COLOR = '1'
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', values.plain ? 'pipe' : 'inherit'] })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', chunk => { stdout += chunk })
  // --plain: graceful-check's progress lines, labelled, whatever stderr is.
  child.stderr?.setEncoding('utf8').on('data', chunk => { process.stderr.write(chunk.replace(/^graceful-check:/gm, `${variant.name}:`)) })
  const [code] = await once(child, 'close')
  if (code === 2) throw new Error(`graceful-check could not run ${variant.name}`)
  return JSON.parse(stdout)
}

console.log(`graceful demo: ${framework}, ${values.clients} keep-alive clients and the other kinds of load of graceful-check, GET / and ` +
  `POST /orders, behind ${values.balancer}; SIGTERM after ${values['load-before-signal']} ms; preStopDelay ${values['pre-stop-delay']} ms with graceful; ` +
  `seed ${values.seed}\n`)
const results = []
for (const variant of variants) {
  console.log(paint('bold', `── ${variant.name}`))
  const report = await check(variant)
  process.stdout.write(formatText(report, { color }) + '\n')
  results.push({ variant, report })
}

const kinds = (report) => report.causes.filter(cause => cause.lost).map(cause => `${cause.kind} ×${cause.count}`).join(', ')
const ms = (value) => value === null ? '—' : `${value} ms`
const rows = [
  ['', ...results.map(r => r.variant.name)],
  ['requests sent', ...results.map(r => String(r.report.totals.sent))],
  ['answered', ...results.map(r => String(r.report.totals.answered))],
  ['lost', ...results.map(r => String(r.report.totals.lost))],
  ['lost orders (POST, not idempotent)', ...results.map(r => String(r.report.totals.lostNotIdempotent))],
  ['re-sent elsewhere by the balancer', ...results.map(r => String(r.report.cycles[0].failures.filter(f => f.kind === 'retried-elsewhere').length))],
  ['balancer routes here after SIGTERM', ...results.map(r => ms(r.report.cycles[0].balancer.propagationMs))],
  ['Connection: close after SIGTERM', ...results.map(r => { const c = r.report.cycles[0].connectionClose; return String(c['lame-duck'] + c.drain) })],
  ['SIGTERM → readiness fails', ...results.map(r => ms(r.report.cycles[0].times.readinessFailedMs))],
  ['SIGTERM → listener refuses', ...results.map(r => ms(r.report.cycles[0].times.listenerRefusedMs))],
  ['SIGTERM → exit', ...results.map(r => ms(r.report.cycles[0].times.exitMs))],
  ['exit', ...results.map(r => { const e = r.report.cycles[0].exit; return e.killedAfterTimeout ? 'killed at the timeout' : e.code !== null ? `code ${e.code}` : `on ${e.signal}` })],
  ['verdict', ...results.map(r => r.report.ok ? 'PASS' : 'FAIL')]
]
const widths = rows[0].map((_, column) => Math.max(...rows.map(row => row[column].length)))
for (const [index, row] of rows.entries()) {
  const line = row.map((cell, column) => column === 0 ? cell.padEnd(widths[0]) : cell.padStart(widths[column])).join('   ')
  console.log(index === 0 ? paint('bold', line) : line)
}
for (const { variant, report } of results) if (report.totals.lost > 0) console.log(`${variant.name}, lost: ${kinds(report)}`)
console.log('\n"Lost": a request that went out and got no full answer, or a 5xx, counted for every client, graceful-check\'s own')
console.log('readiness prober included; or a connection refused while the balancer still routed new connections here, as a')
console.log('Kubernetes Service does for a second or more after SIGTERM, whatever readiness says. Each kind has its cause and')
console.log('its fix above. Check your own service the same way: npx @graceful/check -- node server.js (docs/check.md).')
console.log('\nThe shutdowns, drawn (open in a browser):')
for (const { variant } of results) console.log(`  ${variant.name}: ${relative(process.cwd(), variant.html)}`)
console.log(`RESULT ${JSON.stringify(results.map(({ variant, report }) => ({
  variant: variant.name,
  ok: report.ok,
  sent: report.totals.sent,
  answered: report.totals.answered,
  lost: report.totals.lost,
  lostNotIdempotent: report.totals.lostNotIdempotent,
  html: variant.html,
  lostKinds: report.causes.filter(cause => cause.lost).map(cause => cause.kind),
  findings: report.findings.map(finding => finding.kind),
  exit: report.cycles[0].exit,
  connectionClose: report.cycles[0].connectionClose['lame-duck'] + report.cycles[0].connectionClose.drain
})))}`)
