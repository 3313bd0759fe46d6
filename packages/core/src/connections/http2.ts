// HTTP/2 once a shutdown has begun: GOAWAY, and the streams read from the session (never counted while serving).
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import type { Connection } from './connection.js'
import { openStreams } from '../internals.js'
import { NOT_A_PROBE, type ProbeKind } from '../serving/probe-routes.js'
import { kStreamHeaders } from '../symbols.js'

/** GOAWAY: open streams finish, new ones are refused (retried elsewhere); Node closes the session after the last. */
export function goAway (connection: Connection, match: (url: string) => ProbeKind): void {
  const session = connection.session
  if (session === undefined || session.closed || session.destroyed) return
  if (http2InFlight(connection, match) === 0) connection.endedIdle()
  session.close()
}

/** Calls `completed` as each stream open on the session now (not a probe's) closes: the drain's count. */
export function followStreams (connection: Connection, match: (url: string) => ProbeKind, completed: () => void): void {
  if (connection.session === undefined) return
  for (const stream of openStreams(connection.session)) if (!isProbe(stream, match)) stream.once('close', completed)
}

export function http2InFlight (connection: Connection, match: (url: string) => ProbeKind): number {
  let count = 0
  if (connection.session !== undefined) for (const stream of openStreams(connection.session)) if (!isProbe(stream, match)) count++
  return count
}

export function http2Requests (connection: Connection, match: (url: string) => ProbeKind): Array<IncomingHttpHeaders | undefined> {
  const requests: Array<IncomingHttpHeaders | undefined> = []
  if (connection.session !== undefined) {
    for (const stream of openStreams(connection.session)) if (!isProbe(stream, match)) requests.push(headersOf(stream))
  }
  return requests
}

function isProbe (stream: ServerHttp2Stream, match: (url: string) => ProbeKind): boolean {
  const path = headersOf(stream)?.[':path']
  return path !== undefined && match(path) !== NOT_A_PROBE
}

function headersOf (stream: ServerHttp2Stream): IncomingHttpHeaders | undefined {
  return (stream as ServerHttp2Stream & { [kStreamHeaders]?: IncomingHttpHeaders })[kStreamHeaders]
}
