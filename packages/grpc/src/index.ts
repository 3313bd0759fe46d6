// @grpc/grpc-js servers in graceful's shutdown: the standard health service (grpc.health.v1) that follows readiness
// and says NOT_SERVING from the signal, calls served through the lame duck, GOAWAY when draining begins, and at the
// drain deadline the calls still open ended with UNAVAILABLE (which clients and proxies retry), not CANCELLED.
import { createRequire } from 'node:module'
import { ServerInterceptingCall, status, type Server, type ServerInterceptor } from '@grpc/grpc-js'
import { gracefulError, type Graceful, type RunningWork } from '@graceful/core'
import type * as HealthModule from 'grpc-health-check'
import type { HealthImplementation, ServingStatus } from 'grpc-health-check'

export interface GracefulGrpcOptions {
  /**
   * The work source's name, in the report and the events; give each server its own when a process serves several.
   * @default 'grpc'
   */
  name?: string
  /**
   * Service names the health service answers for, besides `''` (the whole server, what a Kubernetes gRPC probe asks
   * by default), such as `'helloworld.Greeter'`. Each follows the same readiness.
   * @default []
   */
  services?: readonly string[]
  /**
   * After ending the open calls with UNAVAILABLE at the drain deadline, how long in milliseconds their trailers get to
   * leave before `forceShutdown()` destroys the sessions left.
   * @default 500
   */
  forceGrace?: number
}

/** What `gracefulGrpc()` returns: the interceptor to create the server with, and `attach` to call on it. */
export interface GracefulGrpc {
  /**
   * Follows every call (to count and name it, and to end it with UNAVAILABLE at the deadline) and answers the health
   * service from readiness: `new grpc.Server({ interceptors: [grpcShutdown.interceptor] })`.
   */
  readonly interceptor: ServerInterceptor
  /**
   * Adds the health service to the server and registers the server as a work source of the instance (stopped when
   * draining begins). Call it once, before `bindAsync`; the server must have been created with `interceptor`.
   */
  attach: (server: Server) => Server
  /** Calls being served now, health checks aside. */
  readonly inFlight: number
}

/** How the deadline ends a call: a status that clients and proxies retry, where `forceShutdown()` says CANCELLED. */
const SHUTTING_DOWN = { code: status.UNAVAILABLE, details: 'server shutting down' }
const HEALTH = '/grpc.health.v1.Health/'
const WATCH = `${HEALTH}Watch`

interface Call {
  path: string
  /** `Date.now()` for a call that began during the shutdown; earlier ones count their age from the signal. */
  startedAt: number | undefined
  end: () => void
}

/**
 * Puts an @grpc/grpc-js server in graceful's shutdown. `graceful` is the core instance: `createGraceful()`'s result,
 * `fastify.graceful`, or the Express middleware (its `graceful` member is used).
 */
export function gracefulGrpc (graceful: Graceful | { readonly graceful: Graceful }, options: GracefulGrpcOptions = {}): GracefulGrpc {
  const instance = 'graceful' in graceful ? graceful.graceful : graceful
  const name = options.name ?? 'grpc'
  const services = ['', ...options.services ?? []]
  const forceGrace = options.forceGrace ?? 500
  const calls = new Set<Call>()
  const watches = new Set<Call>()
  let health: HealthImplementation | undefined
  let shuttingDown = false
  let attached: Server | undefined

  let current: ServingStatus = 'SERVING'
  // Only a change is set: the health service tells its watchers of every status it is given, changed or not.
  const setStatus = (serving: ServingStatus): void => {
    if (serving === current) return
    current = serving
    for (const service of services) health?.setStatus(service, serving)
  }
  // Asked when a health call arrives, as the HTTP readiness route asks: checks cached and coalesced by the core.
  const refresh = async (): Promise<void> => {
    let serving: ServingStatus = 'NOT_SERVING'
    try {
      const answer = await instance.healthFor(instance.readinessPath)
      if (answer?.statusCode === 200) serving = 'SERVING'
    } catch {
      // A readiness that cannot be read is not ready.
    }
    setStatus(serving)
  }

  const interceptor: ServerInterceptor = (method, next) => {
    const path = method.path
    if (path.startsWith(HEALTH)) {
      const watch: Call = { path, startedAt: undefined, end: () => {} }
      const intercepted = new ServerInterceptingCall(next, {
        start: go => {
          go({
            // The answer follows readiness as it is now, before the health service reads its status.
            onReceiveMessage: (message, pass) => { void refresh().then(() => { pass(message) }) },
            onCancel: () => { watches.delete(watch) }
          })
        },
        sendStatus: (ended, pass) => { watches.delete(watch); pass(ended) }
      })
      if (path === WATCH) {
        watch.end = () => { intercepted.sendStatus(SHUTTING_DOWN) }
        watches.add(watch)
      }
      return intercepted
    }
    // Nothing is read per call while the server runs but the set it joins: a clock only once the shutdown began.
    const call: Call = { path, startedAt: shuttingDown ? Date.now() : undefined, end: () => {} }
    const intercepted = new ServerInterceptingCall(next, {
      start: go => { go({ onCancel: () => { calls.delete(call) } }) },
      sendStatus: (ended, pass) => { calls.delete(call); pass(ended) }
    })
    call.end = () => { intercepted.sendStatus(SHUTTING_DOWN) }
    calls.add(call)
    return intercepted
  }

  const attach = (server: Server): Server => {
    if (attached !== undefined) {
      throw gracefulError('GRACEFUL_ERR_CALLED_TWICE', `gracefulGrpc("${name}").attach(server)`, '', 'create one gracefulGrpc() per server')
    }
    // grpc-js keeps the interceptors it was created with in this field (1.10 to 1.14); where it is missing, nothing
    // is checked. Without the interceptor no call would be counted, and the deadline would end them with CANCELLED.
    const interceptors = (server as unknown as { interceptors?: unknown }).interceptors
    if (Array.isArray(interceptors) && !interceptors.includes(interceptor)) {
      throw gracefulError('GRACEFUL_ERR_MISSING_INTERCEPTOR', `gracefulGrpc("${name}").attach(server)`, 'grpcShutdown.interceptor')
    }
    attached = server
    // Loaded when attached, not when imported: the health module reads its .proto file as it loads.
    const { HealthImplementation: Health } = createRequire(import.meta.url)('grpc-health-check') as typeof HealthModule
    health = new Health(Object.fromEntries(services.map(service => [service, 'SERVING'])))
    health.addToServer(server)
    instance.on('shutdown:start', () => {
      shuttingDown = true
      // Watchers hear it at once; checks see readiness fail from now on anyway.
      setStatus('NOT_SERVING')
    })
    let stopped: Promise<void> | undefined
    instance.addWorkSource(name, {
      stopAt: 'draining',
      stop: () => {
        // A health watch is no work: it would hold the drain for as long as its client listens.
        for (const watch of watches) watch.end()
        // GOAWAY on every session, the listener closed; the calls under way go on.
        stopped = new Promise(resolve => { server.tryShutdown(() => { resolve() }) })
        return stopped
      },
      running: (): RunningWork[] => [...calls].map(call => ({ name: call.path, ...(call.startedAt === undefined ? {} : { startedAt: call.startedAt }) })),
      force: async () => {
        for (const call of [...calls]) call.end()
        // The trailers leave on the sessions' next write: the sessions close by themselves once they have.
        let timer: NodeJS.Timeout | undefined
        await Promise.race([stopped, new Promise(resolve => { timer = setTimeout(resolve, forceGrace) })])
        clearTimeout(timer)
        server.forceShutdown()
      }
    })
    return server
  }

  return {
    interceptor,
    attach,
    get inFlight () { return calls.size }
  }
}
