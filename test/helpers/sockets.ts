// The client side of the tests, written once: raw sockets to speak HTTP/1.1 byte by byte, one-off requests that add no
// keep-alive connection, and the summary of a response on a keep-alive client. Loopback only.
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { Client, type Dispatcher } from 'undici'

/** The origin of a service listening on 127.0.0.1:`port`. */
export const origin = (port: number): string => `http://127.0.0.1:${port}`

/** A complete HTTP/1.1 GET request for `path`, as raw text. */
export const rawGet = (path = '/'): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`

/**
 * A raw TCP connection to 127.0.0.1:`port`, resolved once connected. `opened` is told of the socket as soon as it
 * exists (a test's cleanup list); `encoding` makes its 'data' strings.
 */
export async function openSocket (port: number, { encoding, opened }: { encoding?: BufferEncoding, opened?: (socket: Socket) => void } = {}): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  opened?.(socket)
  await once(socket, 'connect')
  if (encoding !== undefined) socket.setEncoding(encoding)
  return socket
}

/** Reads from `socket` until `pattern` has arrived, and resolves with all that was read; rejects if the socket closes first. */
export function readUntil (socket: Socket, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = ''
    const onData = (chunk: string | Buffer): void => {
      data += typeof chunk === 'string' ? chunk : chunk.toString('latin1')
      if (pattern.test(data)) { done(); resolve(data) }
    }
    const onClose = (): void => { done(); reject(new Error(`closed before ${String(pattern)}; got ${JSON.stringify(data)}`)) }
    const done = (): void => { socket.off('data', onData); socket.off('close', onClose) }
    socket.on('data', onData)
    socket.on('close', onClose)
  })
}

/** The next complete response on a raw socket (its head, and a body of Content-Length or chunked); rejects when the socket closes first. */
export function nextResponse (socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = ''
    const onData = (chunk: string | Buffer): void => {
      data += typeof chunk === 'string' ? chunk : chunk.toString('latin1')
      const head = data.indexOf('\r\n\r\n')
      if (head === -1) return
      const length = /content-length: *(\d+)/i.exec(data.slice(0, head))
      if (length === null ? data.endsWith('\r\n0\r\n\r\n') : data.length >= head + 4 + Number(length[1])) {
        done()
        resolve(data)
      }
    }
    const onClose = (): void => { done(); reject(new Error(`closed before a response; got ${JSON.stringify(data)}`)) }
    const onError = (err: Error): void => { done(); reject(err) }
    const done = (): void => {
      socket.off('data', onData)
      socket.off('close', onClose)
      socket.off('error', onError)
    }
    // A socket the server closed before this was asked: its 'close' has gone by, so say so now instead of waiting.
    if (socket.destroyed) {
      reject(new Error('the socket was closed before the request was sent'))
      return
    }
    socket.on('data', onData)
    socket.on('close', onClose)
    socket.on('error', onError)
  })
}

/** Writes raw HTTP/1.1 `text` and resolves with the first complete response (see nextResponse). */
export function exchange (socket: Socket, text: string): Promise<string> {
  const response = nextResponse(socket)
  socket.write(text)
  return response
}

/** One request on a connection of its own, closed after: a load balancer's or kubelet's probe. */
export async function fetchOnce (origin: string, path: string, init: { method?: string, headers?: Record<string, string> } = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string }> {
  const client = new Client(origin, { pipelining: 0 })
  try {
    const res = await client.request({ method: init.method ?? 'GET', path, headers: { connection: 'close', ...init.headers } })
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
  } finally {
    await client.destroy()
  }
}

/** A response on a keep-alive client as the tests compare it: its status, its Connection header and its whole body. */
export async function responseOf (res: Dispatcher.ResponseData): Promise<{ status: number, connection: unknown, body: string }> {
  return { status: res.statusCode, connection: res.headers['connection'], body: await res.body.text() }
}

/**
 * Resolves when the socket closes, whether it was closed or reset: `events.once(socket, 'close')` rejects on an
 * 'error' that comes first (a reset, which a socket cut at a deadline may get), and that rejection is unhandled until
 * the test gets round to awaiting it.
 */
export function closeOf (socket: { once: (event: 'close', listener: () => void) => unknown, on: (event: 'error', listener: () => void) => unknown }): Promise<void> {
  socket.on('error', () => {})
  return new Promise(resolve => { socket.once('close', () => { resolve() }) })
}
