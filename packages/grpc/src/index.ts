// @grpc/grpc-js servers in graceful's shutdown: grpc.health.v1 follows readiness, the lame duck serves calls, GOAWAY
// when draining begins, and the deadline ends calls with UNAVAILABLE (which clients retry), not CANCELLED.
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
   * Service names answered besides `''` (the whole server, a Kubernetes probe's default), e.g. `'helloworld.Greeter'`.
   * @default []
   */
  services?: readonly string[]
  /**
   * After the deadline's UNAVAILABLE, how long in milliseconds the trailers get before `forceShutdown()`.
   * @default 500
   */
  forceGrace?: number
}

/** What `gracefulGrpc()` returns: the interceptor to create the server with, and `attach` to call on it. */
export interface GracefulGrpc {
  /** Counts each call (to end it with UNAVAILABLE at the deadline): `new grpc.Server({ interceptors: [it] })`. */
  readonly interceptor: ServerInterceptor
  /** Adds the health service and registers the server as a work source: once, before `bindAsync`. */
  attach: (server: Server) => Server
  /** Calls being served now, health checks aside. */
  readonly inFlight: number
}

const SHUTTING_DOWN = { code: status.UNAVAILABLE, details: 'server shutting down' }
const HEALTH = '/grpc.health.v1.Health/'
const WATCH = `${HEALTH}Watch`

interface Call {
  path: string
  startedAt: number | undefined
  end: () => void
}

/** Puts an @grpc/grpc-js server in graceful's shutdown; `graceful`: the core instance, or the Express middleware. */
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
    // grpc-js keeps its interceptors here (1.10–1.14): without ours no call is counted and the deadline cancels them.
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
