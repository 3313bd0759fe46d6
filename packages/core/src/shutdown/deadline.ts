// The drain's deadline: what is still open is destroyed and named, with what each handler did about it, so that the
// report and the hooks can tell a write that may have committed from one that did not.
import type { IncomingMessage } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http2'
import type { Server as NetServer } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Connections } from '../connections/connections.js'
import { http1Responses } from '../connections/http1-sockets.js'
import { http2Requests } from '../connections/http2.js'
import type { ProbeKind } from '../serving/probe-routes.js'
import type { DrainOutcome, ForcedRequest } from '../report/report.js'

export class Deadline {
  readonly #cut: Array<{ request: ForcedRequest, ended: () => boolean }> = []
  readonly #match: (url: string) => ProbeKind
  readonly #since: number

  constructor (match: (url: string) => ProbeKind, since: number) {
    this.#match = match
    this.#since = since
  }

  /** Destroys what is still open and names its requests; socketless ones are only named (they cannot be cut). */
  async cut (connections: Connections, closing: Iterable<NetServer>, outcome: DrainOutcome): Promise<void> {
    // Sockets graceful never saw (connected before attach) still hold their listener: Node counts and ends them.
    let open = 0
    for (const server of closing) open += await connectionsOf(server)
    outcome.untracked = Math.max(0, open - connections.all.size)
    const now = performance.now()
    for (const connection of [...connections.all]) {
      outcome.forced++
      if (connection.session === undefined) {
        const age = connection.followedAt === 0 ? 0 : Math.round(now - connection.followedAt)
        for (const response of http1Responses(connection)) {
          this.#named(outcome, { ...describeHttp1(response.req), ageMs: age }, () => response.writableEnded)
        }
      } else {
        for (const headers of http2Requests(connection, this.#match)) {
          outcome.forcedRequests.push({ ...describeHttp2(headers), ageMs: Math.round(now - this.#since) })
        }
      }
      connection.destroy('forced')
      // Gone now, not at its 'close' event: the report (and `openSockets` when shutdown() resolves) must not count it.
      connections.release(connection)
    }
    for (const request of connections.socketless) {
      this.#named(outcome, { method: request.method, path: pathOf(request.path), ageMs: Math.round(now - request.since) }, () => request.ended)
    }
    if (outcome.untracked > 0) {
      outcome.forced += outcome.untracked
      for (const server of closing) (server as NetServer & { closeAllConnections?: () => void }).closeAllConnections?.()
    }
  }

  // The requests cut whose handlers have not ended their responses: their work may still commit after their clients
  // were told it failed.
  stillRunning (): ForcedRequest[] {
    const running: ForcedRequest[] = []
    for (const { request, ended } of this.#cut) {
      if (request.handler === 'running' && ended()) request.handler = 'ended-after-cut'
      if (request.handler === 'running') running.push(request)
    }
    return running
  }

  #named (outcome: DrainOutcome, request: ForcedRequest, ended: () => boolean): void {
    request.handler = ended() ? 'ended' : 'running'
    outcome.forcedRequests.push(request)
    this.#cut.push({ request, ended })
  }
}

function connectionsOf (server: NetServer): Promise<number> {
  return new Promise(resolve => {
    server.getConnections((err, count) => { resolve(err === null ? count : 0) })
  })
}

function describeHttp1 (request: IncomingMessage): { method: string, path: string } {
  // Express rewrites req.url while routing through mounted routers; originalUrl is what the client asked for.
  return { method: request.method ?? 'unknown', path: pathOf((request as IncomingMessage & { originalUrl?: string }).originalUrl ?? request.url ?? '') }
}

function describeHttp2 (headers: IncomingHttpHeaders | undefined): { method: string, path: string } {
  if (headers === undefined) return { method: 'unknown', path: 'unknown (stream opened before it could be seen)' }
  return { method: headers[':method'] ?? 'unknown', path: pathOf(headers[':path'] ?? '') }
}

function pathOf (url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}
