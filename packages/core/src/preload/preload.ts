// The preload (`node --import @graceful/core/register app.js`): graceful for servers the application does not create
// (Next.js standalone, Nitro, a NestJS main.ts nobody may change), configured by the GRACEFUL_* environment only.
import { Server as HttpServer } from 'node:http'
import { Server as HttpsServer } from 'node:https'
import type { AddressInfo, Server as NetServer } from 'node:net'
import { isMainThread } from 'node:worker_threads'
import { isHttp2Server } from '../connections/connections.js'
import { gracefulError } from '../errors.js'
import { Graceful } from '../graceful.js'
import { recordListenerOrigins } from '../process/competing-listeners.js'
import { onServerListening } from './listen-channel.js'
import { fallbackLogger, type GracefulLogger } from '../report/logger.js'
import { applicationRoutes, takeOverSignals } from './preload-frameworks.js'
import { attachedByApplication, claimForPreload } from '../serving/server-claims.js'

/** The opt-out per server, and the preload's one variable of its own: no option of an instance matches it. */
export const IGNORE_PORTS_VARIABLE = 'GRACEFUL_IGNORE_PORTS'

// A net.Server of a database proxy or a raw TCP service has no probes to answer and no requests to drain.
function servesHttp (server: NetServer): boolean {
  return server instanceof HttpServer || server instanceof HttpsServer || isHttp2Server(server)
}

/** `GRACEFUL_IGNORE_PORTS=9464,9229`: read at the first listen, so a process that serves no HTTP is never refused. */
export function ignoredPorts (raw: string | undefined): ReadonlySet<number> {
  const ports = new Set<number>()
  if (raw === undefined || raw.trim() === '') return ports
  for (const entry of raw.split(',')) {
    const port = Number(entry.trim())
    if (!/^\s*\d+\s*$/.test(entry) || port < 1 || port > 65_535) {
      throw gracefulError('GRACEFUL_ERR_INVALID_ENV', IGNORE_PORTS_VARIABLE, 'a list of ports separated by commas, such as "9464,9229"', JSON.stringify(raw))
    }
    ports.add(port)
  }
  return ports
}

function describeAddress (address: string | AddressInfo | null): string {
  if (address === null) return 'an unknown address'
  if (typeof address === 'string') return address
  return `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
}

// One instance per server: each follows its application's routing, and the application's own can take it over. A
// process that serves no HTTP (a build, a worker thread: NODE_OPTIONS reaches them too) gets no listener, no line.
export function startPreload (): void {
  if (!isMainThread) return
  recordListenerOrigins()
  const switched = takeOverSignals()
  let ignored: ReadonlySet<number> | undefined
  let announced = false
  onServerListening(server => {
    if (!servesHttp(server)) return
    ignored ??= ignoredPorts(process.env[IGNORE_PORTS_VARIABLE])
    const address = server.address()
    const where = describeAddress(address)
    if (!announced) {
      announced = true
      fallbackLogger.info({ preload: true, set: Object.fromEntries(switched.map(entry => [entry.variable, entry.value])) },
        'graceful: the preload attaches graceful to every HTTP server this process listens with' + (switched.length === 0
          ? ''
          : `; it set ${switched.map(entry => `${entry.variable}=${entry.value} (${entry.framework})`).join(' and ')} ` +
            'so that their own SIGTERM and SIGINT handlers stay off'))
    }
    if (attachedByApplication(server)) {
      fallbackLogger.info({ preload: true, server: where },
        `graceful: the application attached its own graceful to the server on ${where}; the preload leaves it alone`)
      return
    }
    if (typeof address === 'object' && address !== null && ignored.has(address.port)) {
      fallbackLogger.info({ preload: true, server: where, variable: IGNORE_PORTS_VARIABLE },
        `graceful: the server on ${where} is left alone (${IGNORE_PORTS_VARIABLE})`)
      return
    }
    attach(server, where)
  })
}

function attach (server: NetServer, where: string): void {
  const routes = applicationRoutes(server)
  // Every line of this server's instance names the server: a process with two servers logs two reports.
  const logger: GracefulLogger = {
    info: (obj, msg) => { fallbackLogger.info({ server: where, ...obj }, msg) },
    warn: (obj, msg) => { fallbackLogger.warn({ server: where, ...obj }, msg) },
    error: (obj, msg) => { fallbackLogger.error({ server: where, ...obj }, msg) }
  }
  const instance = new Graceful({ logger }, routes?.routing)
  claimForPreload(server, instance, () => {
    instance.dispose()
    fallbackLogger.info({ preload: true, server: where },
      `graceful: the application attached its own graceful to the server on ${where}; the preload steps aside`)
  })
  instance.attach(server)
  fallbackLogger.info({ preload: true, server: where, ...(routes === undefined ? {} : { framework: routes.framework }) },
    `graceful: attached to the HTTP server on ${where} (preload): ${instance.readinessPath} and ${instance.livenessPath} ` +
    'are answered ahead of the application, SIGTERM and SIGINT drain it')
  for (const path of routes?.paths ?? []) {
    if (!instance.isProbePath(path)) continue
    instance.warnUsage('shadowed-route', path, { path },
      `graceful: the application's route ${path} is never reached: graceful answers it ahead of ${routes!.framework} ` +
      `(readinessPath ${instance.readinessPath}, livenessPath ${instance.livenessPath}); move the route, or give ` +
      'graceful other paths (GRACEFUL_READINESS_PATH, GRACEFUL_LIVENESS_PATH)')
  }
}
