// The probe routes, answered inside each attached server's `emit`: where a request passes graceful while serving.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import type { Server as NetServer, Socket } from 'node:net'
import { isHttp2Server } from '../connections/connections.js'
import { isQueued } from '../internals.js'
import type { HealthResponse } from './readiness.js'
import { kLatestResponse, kProbeResponse, kStreamHeaders } from '../symbols.js'

/** What a URL is to graceful: not a probe (0), the readiness route (1) or the liveness route (2). */
export type ProbeKind = 0 | 1 | 2
export const NOT_A_PROBE = 0
export const READINESS = 1
export const LIVENESS = 2

/** How the application's router matches paths, so that no variant of a probe path reaches it (Express: `/HEALTHZ`). */
export interface ProbeRouting {
  caseSensitive: boolean
  /** `/healthz/` is not `/healthz`. */
  strict: boolean
}


// The probe check every request pays: the common case (`/`, `/api/...`) fails on a length or a character compare, and
// nothing allocates. A query string is ignored; routing decides whether case and a trailing slash matter.
export function probeMatcher (readinessPath: string, livenessPath: string, routing: ProbeRouting): (url: string) => ProbeKind {
  const readiness = routing.caseSensitive ? readinessPath : readinessPath.toLowerCase()
  const liveness = routing.caseSensitive ? livenessPath : livenessPath.toLowerCase()
  const { caseSensitive, strict } = routing
  return url => matchesPath(url, readiness, caseSensitive, strict)
    ? READINESS
    : matchesPath(url, liveness, caseSensitive, strict) ? LIVENESS : NOT_A_PROBE
}

/** `url` is `path`, optionally followed by a query string (and, unless strict, one trailing slash before it). */
export function matchesPath (url: string, path: string, caseSensitive = true, strict = true): boolean {
  const length = path.length
  if (url.length < length) return false
  if (url.length > length) {
    const next = url.charCodeAt(length)
    if (next !== 63 /* ? */ && (strict || next !== 47 /* / */ || length === 1 ||
      (url.length > length + 1 && url.charCodeAt(length + 1) !== 63))) return false
  }
  if (caseSensitive) return url.startsWith(path)
  // ASCII case folding in place: a lower-cased copy would allocate on every request. `path` is lower case already.
  for (let index = 0; index < length; index++) {
    let code = url.charCodeAt(index)
    if (code >= 65 && code <= 90) code += 32
    if (code !== path.charCodeAt(index)) return false
  }
  return true
}

export function sendHealth (req: IncomingMessage, res: ServerResponse, response: HealthResponse): void {
  res.writeHead(response.statusCode, { ...response.headers, 'content-length': String(Buffer.byteLength(response.body)) })
  res.end(req.method === 'HEAD' ? undefined : response.body)
}

export const METHOD_NOT_ALLOWED: HealthResponse = { statusCode: 405, headers: { allow: 'GET, HEAD', 'cache-control': 'no-store' }, body: '' }

/** Sees the requests that reach the application once a shutdown has begun (never while the service runs). */
export interface RequestObserver {
  /** An HTTP/1.1 request (or an HTTP/2 one through the compatibility API), not a probe. False declines it. */
  request: (req: IncomingMessage, res: ServerResponse) => boolean
  /** A probe: it holds its socket like any request, and is told like one, but it is not application work. */
  probe: (req: IncomingMessage, res: ServerResponse) => boolean
  stream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void
}

interface Wrapped {
  own: NetServer['emit']
  patched: NetServer['emit']
  active: boolean
}


// The application never sees a probe, so no authentication, body parser or rate limit can fail one. A prepended
// listener would not do: every listener of an event runs, so the application would answer too.
export class ProbeRoutes {
  /** The probe check: replaced when an adapter learns how its application's router matches paths. */
  match: (url: string) => ProbeKind
  #observer: RequestObserver | undefined = undefined
  readonly #health: (kind: ProbeKind) => HealthResponse | Promise<HealthResponse>
  readonly #onError: (err: unknown) => void
  readonly #wrapped = new Map<NetServer, Wrapped>()

  constructor (
    match: (url: string) => ProbeKind,
    health: (kind: ProbeKind) => HealthResponse | Promise<HealthResponse>,
    onError: (err: unknown) => void
  ) {
    this.match = match
    this.#health = health
    this.#onError = onError
  }

  /** The shutdown begins: from now on every request passes `observer` before the application. */
  observe (observer: RequestObserver): void {
    this.#observer = observer
  }

  get observer (): RequestObserver | undefined {
    return this.#observer
  }

  health (kind: ProbeKind): HealthResponse | Promise<HealthResponse> {
    return this.#health(kind)
  }

  probe (req: IncomingMessage, res: ServerResponse, kind: ProbeKind): void {
    ;(res as ServerResponse & { [kProbeResponse]?: boolean })[kProbeResponse] = true
    const observer = this.#observer
    if (observer !== undefined && !observer.probe(req, res)) return
    this.#answer(req, res, kind)
  }

  #answer (req: IncomingMessage, res: ServerResponse, kind: ProbeKind): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendHealth(req, res, METHOD_NOT_ALLOWED)
      return
    }
    const response = this.#health(kind)
    if (!(response instanceof Promise)) {
      sendHealth(req, res, response)
      return
    }
    response.then(answer => { sendHealth(req, res, answer) }, (err: unknown) => {
      this.#onError(err)
      sendHealth(req, res, { statusCode: 500, headers: { 'cache-control': 'no-store' }, body: '' })
    })
  }

  install (server: NetServer): void {
    const existing = this.#wrapped.get(server)
    if (existing !== undefined) {
      existing.active = true
      return
    }
    // Read, not called: it is applied below with the server as `this`.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const own = server.emit
    const entry: Wrapped = { own, patched: own, active: true }
    entry.patched = isHttp2Server(server) ? this.#http2Emit(own, entry) : this.#http1Emit(own, entry)
    this.#wrapped.set(server, entry)
    server.emit = entry.patched
  }

  /** Takes the probes off every server. One wrapped since by another instance stays in the chain, passing all through. */
  uninstall (): void {
    for (const [server, entry] of this.#wrapped) {
      entry.active = false
      if (server.emit !== entry.patched) continue
      if (entry.own === (Object.getPrototypeOf(server) as NetServer).emit) Reflect.deleteProperty(server, 'emit')
      else server.emit = entry.own
      this.#wrapped.delete(server)
    }
  }

  #http1Emit (emit: NetServer['emit'], entry: Wrapped): NetServer['emit'] {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const routes = this
    return function (this: NetServer, event: string | symbol, req?: unknown, res?: unknown): boolean {
      if (event === 'request' && entry.active) {
        const kind = routes.match((req as IncomingMessage).url!)
        if (kind !== NOT_A_PROBE) {
          routes.probe(req as IncomingMessage, res as ServerResponse, kind)
          return true
        }
        // Only a response queued behind another (pipelined) is stored: the one being written is `socket._httpMessage`,
        // and storing it would keep it and its request alive on every idle keep-alive socket.
        if (isQueued(res as ServerResponse)) {
          ;((req as IncomingMessage).socket as Socket & { [kLatestResponse]?: unknown })[kLatestResponse] = res
        }
        const observer = routes.#observer
        if (observer !== undefined && !observer.request(req as IncomingMessage, res as ServerResponse)) return true
        return (emit as (this: NetServer, ...args: unknown[]) => boolean).call(this, event, req, res)
      }
      // A request with `Expect: 100-continue` goes to 'checkContinue' listeners instead, when there are any.
      if (event === 'checkContinue' && entry.active) {
        const observer = routes.#observer
        if (observer !== undefined && !observer.request(req as IncomingMessage, res as ServerResponse)) return true
      }
      // eslint-disable-next-line prefer-rest-params
      return Reflect.apply(emit, this, arguments) as boolean
    } as NetServer['emit']
  }

  #http2Emit (emit: NetServer['emit'], entry: Wrapped): NetServer['emit'] {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const routes = this
    return function (this: NetServer, event: string | symbol, first?: unknown, second?: unknown): boolean {
      if (entry.active) {
        if (event === 'stream') {
          // The one store per HTTP/2 request: its headers, should the report have to name it.
          ;(first as ServerHttp2Stream & { [kStreamHeaders]?: IncomingHttpHeaders })[kStreamHeaders] = second as IncomingHttpHeaders
          routes.#observer?.stream(first as ServerHttp2Stream, second as IncomingHttpHeaders)
        } else if (event === 'request') {
          // HTTP/2 through the compatibility API, or HTTP/1.1 with allowHTTP1.
          const kind = routes.match((first as IncomingMessage).url!)
          if (kind !== NOT_A_PROBE) {
            routes.probe(first as IncomingMessage, second as ServerResponse, kind)
            return true
          }
          // The compatibility API's socket is a proxy that refuses writes; HTTP/2 needs no newest response anyway.
          if ((first as IncomingMessage).httpVersionMajor !== 2 && isQueued(second as ServerResponse)) {
            ;((first as IncomingMessage).socket as Socket & { [kLatestResponse]?: unknown })[kLatestResponse] = second
          }
          const observer = routes.#observer
          if (observer !== undefined && !observer.request(first as IncomingMessage, second as ServerResponse)) return true
        }
      }
      // eslint-disable-next-line prefer-rest-params
      return Reflect.apply(emit, this, arguments) as boolean
    } as NetServer['emit']
  }
}
