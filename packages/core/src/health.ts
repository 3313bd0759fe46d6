import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Phase } from './report.js'

export interface HealthResponse {
  statusCode: number
  headers: Record<string, string>
  body: string
}

/** True when `url` is `path`, with or without a query string. Cheap: this runs on every request. */
export function matchesPath (url: string, path: string): boolean {
  return url === path ||
    (url.length > path.length && url.charCodeAt(path.length) === 63 /* ? */ && url.startsWith(path))
}

/**
 * Readiness fails from the first moment of shutdown, so the load balancer stops routing here while the lame duck
 * still serves; liveness stays 200 until exit, so the kubelet never restarts a pod that is draining on purpose.
 */
export function healthResponse (kind: 'readiness' | 'liveness', phase: Phase, retryAfterSeconds: number): HealthResponse {
  const ok = kind === 'liveness' || phase === 'running'
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store'
  }
  if (!ok) headers['retry-after'] = String(retryAfterSeconds)
  return {
    statusCode: ok ? 200 : 503,
    headers,
    body: JSON.stringify({ status: ok ? 'ok' : 'shutting down', phase })
  }
}

/** Answers a health request on plain node:http; GET and HEAD only (others get 405 with `Allow`). */
export function sendHealth (req: IncomingMessage, res: ServerResponse, response: HealthResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'cache-control': 'no-store', 'content-length': '0' })
    res.end()
    return
  }
  res.writeHead(response.statusCode, { ...response.headers, 'content-length': String(Buffer.byteLength(response.body)) })
  res.end(req.method === 'HEAD' ? undefined : response.body)
}
