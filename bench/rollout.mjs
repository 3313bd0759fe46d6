// `pnpm rollout`: a rolling restart behind HAProxy, in the order Kubernetes runs one, under steady keep-alive load
// through the proxy; prints how many requests each variant lost. It is a configuration of graceful-check
// (`graceful-check --lb haproxy`), which test/check/rollout.test.ts runs the same way.
//
// HAProxy health-checks /healthz on every backend slot and learns about a shutdown only from that probe. A new
// instance is started on a spare slot; the moment HAProxy sees it UP, the old one gets SIGTERM. All traffic stays on
// 127.0.0.1; every process is one graceful-check started, ended by its process group.
import { fileURLToPath } from 'node:url'
import { checkShutdown } from '@graceful/check'

const fixture = fileURLToPath(new URL('../test/fixtures/app.mjs', import.meta.url))

/** Mostly fast requests, one in ten a slow one, as the rollout has always sent. */
const paths = [...Array.from({ length: 9 }, () => 'GET /work?ms=5'), 'GET /work?ms=400']

/**
 * One rollout of the fixture app (Express or Fastify, with graceful or bare) behind HAProxy: two instances, each
 * replaced `rounds` times. Resolves to graceful-check's report with the variant's settings.
 */
export async function rollout ({ framework, bare = false, preStopDelay = bare ? 0 : 2_000, options = {}, rounds = 2, redispatch = false, haproxy, kubernetes = false }) {
  // `kubernetes`: the instances see KUBERNETES_SERVICE_HOST and are given no preStopDelay: graceful's default there.
  const given = kubernetes ? options : { ...options, preStopDelay }
  const report = await checkShutdown({
    command: [process.execPath, fixture],
    env: {
      GRACEFUL_FIXTURE: JSON.stringify({ framework, port: 'env', bare, options: given }),
      ...(kubernetes ? { KUBERNETES_SERVICE_HOST: '10.96.0.1' } : {})
    },
    lb: 'haproxy',
    ...(haproxy === undefined ? {} : { haproxy }),
    rounds,
    redispatch,
    ready: '/healthz',
    paths,
    signalAfter: 500,
    // A bare server can hold on to HAProxy's idle keep-alive connections for as long as HAProxy keeps them.
    timeout: (kubernetes ? 10_000 : preStopDelay) + 5_000,
    load: { keepAlive: 12, newConnection: 4, idleSockets: 0, slow: 0, pipelining: 0 }
  })
  return { framework, variant: bare ? 'bare' : kubernetes ? 'graceful, Kubernetes default' : 'graceful', preStopDelay: kubernetes ? 'default' : preStopDelay, options, redispatch, report }
}

/** The results as a Markdown table. */
export function formatTable (results) {
  const lines = [
    '| framework | variant | preStopDelay | replacements | requests | lost | lost, by kind | HAProxy\'s log: status, termination state | old instances exited after SIGTERM |',
    '|---|---|---:|---:|---:|---:|---|---|---|'
  ]
  for (const { framework, variant, preStopDelay, options, redispatch, report } of results) {
    const [cycle] = report.cycles
    const kinds = report.causes.filter(cause => cause.lost).map(cause => `${cause.kind} × ${cause.count}`).join(', ') || '—'
    const proxyLog = Object.entries(cycle.proxyLog).map(([entry, count]) => `${entry} × ${count}`).join(', ') || '—'
    const retired = cycle.instances.filter(instance => instance.signalledMs !== null)
    const exits = retired.map(instance => instance.exitMs === null ? 'killed' : `${instance.exitMs - instance.signalledMs} ms`).join(', ')
    const adaptive = options.preStopQuietWindow > 0
      ? `, ends after ${options.preStopQuietWindow} ms quiet, not before ${options.preStopMinimumDelay ?? 0} ms`
      : ''
    lines.push(`| ${framework} | ${variant}${adaptive}${redispatch ? ', redispatch' : ''} | ${typeof preStopDelay === 'number' ? `${preStopDelay} ms` : 'adaptive, 3 s to 10 s'} | ${retired.length} | ${report.totals.sent} | ` +
      `**${report.totals.lost}** | ${kinds} | ${proxyLog} | ${exits} |`)
  }
  return lines.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const value = (name, fallback) => args.includes(name) ? args[args.indexOf(name) + 1] : fallback
  const frameworks = value('--framework', 'express,fastify').split(',')
  const rounds = Number(value('--rounds', 2))
  const variants = [
    { bare: false },
    // The adaptive lame duck: 5 s at most, over as soon as no new connection has brought a request for 300 ms, once
    // HAProxy has had the time to see the 503 (3 checks, 200 ms apart).
    { bare: false, preStopDelay: 5_000, options: { preStopMinimumDelay: 1_000, preStopQuietWindow: 300 } },
    { bare: false, preStopDelay: 0 },
    // On Kubernetes with no preStopDelay given: the adaptive default (at least 3 s, over after 1 s without fresh
    // traffic, at most 10 s).
    { bare: false, kubernetes: true },
    { bare: true },
    { bare: true, redispatch: true }
  ]
  const results = []
  for (const framework of frameworks) {
    for (const variant of variants) {
      const result = await rollout({ framework, rounds, ...variant })
      console.error(`${framework} ${result.variant}${variant.redispatch ? ' (redispatch)' : ''}: ${result.report.totals.lost} lost of ${result.report.totals.sent}`)
      results.push(result)
    }
  }
  console.log(`\nHAProxy health check every 200 ms, DOWN after 3 failures; ${rounds} rounds over 2 instances.\n`)
  console.log(formatTable(results))
}
