import type { IncomingMessage, ServerResponse } from 'node:http'

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
