// The middleware's entry (`handle()`): an unattached server is attached on its first request; else one comparison.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Server as NetServer } from 'node:net'
import type { Connections } from '../connections/connections.js'
import { serverOf } from '../internals.js'
import { NOT_A_PROBE, type ProbeRoutes } from './probe-routes.js'
import type { WarningName } from '../process/warnings.js'

export class LateAttach {
  /** The server the last request came from, when it is attached: the next one from it is free. */
  #lastServer: NetServer | undefined
  /** Disposed: requests no longer attach their server, until `attach` is called again. */
  #detached = false
  readonly #connections: Connections
  readonly #routes: ProbeRoutes
  readonly #attach: (server: NetServer) => void
  readonly #warn: (name: WarningName, subject: string, obj: object, msg: string) => void

  constructor (connections: Connections, routes: ProbeRoutes, attach: (server: NetServer) => void,
    warn: (name: WarningName, subject: string, obj: object, msg: string) => void) {
    this.#connections = connections
    this.#routes = routes
    this.#attach = attach
    this.#warn = warn
  }

  handle (req: IncomingMessage, res: ServerResponse): boolean {
    const server = serverOf(req.socket)
    if (server === this.#lastServer && server !== undefined) return false
    return this.#unattached(req, res, server)
  }

  attached (): void {
    this.#detached = false
  }

  detached (): void {
    this.#detached = true
    this.#lastServer = undefined
  }

  #unattached (req: IncomingMessage, res: ServerResponse, server: NetServer | undefined): boolean {
    if (server !== undefined && !this.#detached && req.httpVersionMajor !== 2) {
      if (this.#connections.servers.has(server)) {
        this.#lastServer = server
        return false
      }
      // Its later requests pass the probe routes ahead of the application; this one and its socket are followed here.
      this.#attach(server)
      this.#connections.adopt(req.socket)
      this.#warn('attach', 'server', { address: server.address() },
        'graceful: a request arrived on a server that was never attached; it is attached now, but a TLS handshake ' +
        'that began before this moment is never seen: call attach(server) right after listen()')
    }
    const kind = this.#routes.match(req.url ?? '/')
    if (kind !== NOT_A_PROBE) {
      this.#routes.probe(req, res, kind)
      return true
    }
    const observer = this.#routes.observer
    return observer !== undefined && !this.#detached && !observer.request(req, res)
  }
}
