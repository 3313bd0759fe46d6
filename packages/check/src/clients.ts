import type { Socket } from 'node:net'
import { buildConnector, Client } from 'undici'
import { RawConnection, type Exchange } from './connection.js'
import type { Random } from './random.js'
import { processAlive, type Recorder } from './recorder.js'
import type { ClientKind, RequestSpec } from './types.js'
import { contentType, cutInside, errorCode, isRefused, isTimeout, requestText } from './wire.js'

export interface Target {
  host: string
  port: number
  requests: RequestSpec[]
  requestTimeout: number
}

/** A new connection's opening failed: refused (or reset in its handshake), which no byte of a request crossed. */
function refusedAt (recorder: Recorder, client: ClientKind, spec: RequestSpec, sentAt: number, error: string, routed: boolean): void {
  recorder.fail({
    client, method: spec.method, path: spec.path, connection: 'fresh', localPort: null, sentAt, what: 'refused', error,
    status: null, idleMs: 0, finFirst: false, behindClose: false, routed
  })
}

/** Records what became of a request on a raw connection; true when it was answered in full. */
function settle (recorder: Recorder, client: ClientKind, spec: RequestSpec, connection: RawConnection, exchange: Exchange,
  context: { sentAt: number, fresh: boolean, idleMs: number, behindClose: boolean, routed: boolean, id: number }): boolean {
  if (exchange.answered) {
    if (exchange.status >= 500) {
      recorder.fail({
        client, method: spec.method, path: spec.path, connection: context.fresh ? 'fresh' : 'reused', localPort: connection.localPort ?? null,
        sentAt: context.sentAt, what: 'status', error: null, status: exchange.status, idleMs: context.idleMs, finFirst: false,
        behindClose: false, routed: context.routed, id: context.id
      })
      return false
    }
    recorder.answer(client, exchange.status, exchange.close, context.sentAt)
    return true
  }
  recorder.fail({
    client, method: spec.method, path: spec.path, connection: context.fresh ? 'fresh' : 'reused', localPort: connection.localPort ?? null,
    sentAt: context.sentAt, what: exchange.error === 'timeout' ? 'timeout' : exchange.responseStarted ? 'mid-response' : 'no-response',
    error: exchange.error, status: null, idleMs: context.idleMs, finFirst: exchange.finFirst, behindClose: context.behindClose, routed: context.routed,
    id: context.id
  })
  return false
}

/** Opens a raw connection; undefined (and the refusal recorded) when it could not be opened. */
async function open (recorder: Recorder, target: Target, client: ClientKind, spec: RequestSpec): Promise<RawConnection | undefined> {
  const sentAt = recorder.sent(client)
  const routed = !recorder.direct && recorder.routesNewConnections
  const connection = new RawConnection(target.host, target.port)
  if (await connection.opened()) {
    // Counted again when its request is written.
    recorder.byClient[client].sent--
    return connection
  }
  refusedAt(recorder, client, spec, sentAt, connection.closedWith ?? 'closed', routed)
  return undefined
}

/** A bound on one exchange: a request with no full answer by then has timed out. */
function withTimeout (connection: RawConnection, ms: number): () => void {
  const timer = setTimeout(() => {
    connection.closedWith ??= 'timeout'
    connection.destroy()
  }, ms)
  return () => { clearTimeout(timer) }
}

/** Whether a client goes on: the load is on, and its connection is open or the balancer still sends new ones here. */
function going (recorder: Recorder, connection: RawConnection | undefined): boolean {
  if (recorder.stopped) return false
  return (connection !== undefined && connection.usable) || recorder.routesNewConnections
}

/**
 * A keep-alive client: undici, one connection, the next request when the last one is answered. The connector is
 * wrapped to know which socket a request went on, and its local port.
 */
export async function keepAliveClient (recorder: Recorder, target: Target, rng: Random, pauses: { pauseMs: number, longPauseMs: number }): Promise<void> {
  const connector = buildConnector({})
  // The local port is read when the socket connects: a socket already reset has none to tell.
  const tracker: { socket: Socket | undefined, connects: number, localPort: number | null } = { socket: undefined, connects: 0, localPort: null }
  const client = new Client(`http://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`, {
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 60_000,
    connect: (options, callback) => {
      connector(options, (err, socket) => {
        // undici's types say null, but a failed connect hands on undefined.
        const connected = socket as Socket | null | undefined
        if (connected !== null && connected !== undefined) {
          tracker.socket = connected
          tracker.localPort = connected.localPort ?? null
          tracker.connects++
        }
        // undici's callback takes (null, socket) or (err, null): handed on as it came.
        ;(callback as (e: Error | null, s: unknown) => void)(err, socket)
      })
    }
  })
  let lastDoneAt = performance.now()
  // The last answer said `Connection: close`: undici closes that socket, perhaps a moment after the answer is read.
  let toldClose = false
  try {
    while (!recorder.stopped) {
      const spec = target.requests[rng.int(0, target.requests.length - 1)]!
      const open = !toldClose && tracker.socket !== undefined && !tracker.socket.destroyed && tracker.socket.readyState === 'open'
      // Its connection closed (or told to close): a new one goes here only while the balancer still routes here.
      if (!open && !recorder.routesNewConnections) break
      const connectsBefore = tracker.connects
      const idleMs = open ? performance.now() - lastDoneAt : 0
      const routed = !recorder.direct && recorder.routesNewConnections
      const sentAt = recorder.sent('keep-alive')
      const id = recorder.ids++
      let stage: 'head' | 'body' = 'head'
      let told = false
      toldClose = false
      try {
        const res = await client.request({
          method: spec.method,
          path: spec.path,
          headers: spec.body === undefined
            ? { 'user-agent': 'graceful-check', 'x-check-id': String(id) }
            : { 'user-agent': 'graceful-check', 'x-check-id': String(id), 'content-type': contentType(spec.body) },
          ...(spec.body === undefined ? {} : { body: spec.body }),
          headersTimeout: target.requestTimeout,
          bodyTimeout: target.requestTimeout
        })
        stage = 'body'
        await res.body.arrayBuffer()
        const connection = res.headers.connection
        told = typeof connection === 'string' && /\bclose\b/i.test(connection)
        toldClose = told
        const fresh = !open || tracker.connects > connectsBefore
        if (res.statusCode >= 500) {
          recorder.fail({
            client: 'keep-alive', method: spec.method, path: spec.path, connection: fresh ? 'fresh' : 'reused', localPort: tracker.localPort,
            sentAt, what: 'status', error: null, status: res.statusCode, idleMs, finFirst: false, behindClose: false, routed, id
          })
        } else {
          recorder.answer('keep-alive', res.statusCode, told, sentAt)
        }
      } catch (err) {
        const code = errorCode(err)
        const fresh = !open || tracker.connects > connectsBefore
        if (isRefused(err)) {
          refusedAt(recorder, 'keep-alive', spec, sentAt, code, routed)
          // The listener is closed: nothing more to learn here, unless a balancer still sends traffic this way.
          if (recorder.direct) return
          await recorder.pause(20)
        } else {
          recorder.fail({
            client: 'keep-alive', method: spec.method, path: spec.path, connection: fresh ? 'fresh' : 'reused',
            localPort: tracker.localPort, sentAt, what: isTimeout(code) ? 'timeout' : stage === 'body' ? 'mid-response' : 'no-response',
            error: code, status: null, idleMs: fresh ? 0 : idleMs, finFirst: false, behindClose: false, routed, id
          })
        }
      }
      lastDoneAt = performance.now()
      const pause = pauses.longPauseMs > 0 && rng.chance(0.1) ? pauses.longPauseMs : pauses.pauseMs > 0 ? rng.int(0, pauses.pauseMs) : 0
      await recorder.pause(pause)
    }
  } finally {
    await client.destroy().catch(() => {})
  }
}

/** A client that opens a new connection for every request. */
export async function newConnectionClient (recorder: Recorder, target: Target, rng: Random): Promise<void> {
  while (going(recorder, undefined)) {
    const spec = target.requests[rng.int(0, target.requests.length - 1)]!
    const routed = !recorder.direct && recorder.routesNewConnections
    const connection = await open(recorder, target, 'new-connection', spec)
    if (connection === undefined) {
      if (recorder.direct) return
      await recorder.pause(20)
      continue
    }
    try {
      const sentAt = recorder.sent('new-connection')
      const id = recorder.ids++
      const done = withTimeout(connection, target.requestTimeout)
      const [exchange] = await connection.exchange([requestText(spec, target.host, id)], 1)
      done()
      settle(recorder, 'new-connection', spec, connection, exchange!, { sentAt, fresh: true, idleMs: 0, behindClose: false, routed, id })
    } finally {
      connection.destroy()
    }
  }
}

/**
 * A client whose requests take a while to arrive: each written in three parts over `slowMs`, on a keep-alive
 * connection, so that a request is on its way in when the signal lands.
 */
export async function slowClient (recorder: Recorder, target: Target, rng: Random, slowMs: number): Promise<void> {
  let connection: RawConnection | undefined
  try {
    while (going(recorder, connection)) {
      const spec = target.requests[rng.int(0, target.requests.length - 1)]!
      const routed = !recorder.direct && recorder.routesNewConnections
      let fresh = false
      if (connection === undefined || !connection.usable) {
        connection?.destroy()
        connection = await open(recorder, target, 'slow', spec)
        if (connection === undefined) {
          if (recorder.direct) return
          await recorder.pause(20)
          continue
        }
        fresh = true
      }
      const id = recorder.ids++
      const text = requestText(spec, target.host, id)
      const cuts = [Math.floor(text.length / 3), Math.floor(2 * text.length / 3)]
      const idleMs = fresh ? 0 : performance.now() - connection.lastAnsweredAt
      const sentAt = recorder.sent('slow')
      const done = withTimeout(connection, target.requestTimeout + slowMs)
      const [exchange] = await connection.exchange([text.slice(0, cuts[0]), text.slice(cuts[0], cuts[1]), text.slice(cuts[1])], 1, Math.round(slowMs / 2))
      done()
      const answered = settle(recorder, 'slow', spec, connection, exchange!, { sentAt, fresh, idleMs, behindClose: false, routed, id })
      if (!answered || (exchange!.answered && !exchange!.persistent)) {
        connection.destroy()
        connection = undefined
      }
    }
  } finally {
    connection?.destroy()
  }
}

/**
 * A pipelining client: batches of 2 to 4 requests written at once (or, with `split`, sometimes in two parts cut
 * inside a request), the next batch once every response of the last one is in, as RFC 9112 §9.3.2 asks.
 */
export async function pipeliningClient (recorder: Recorder, target: Target, rng: Random, split: boolean): Promise<void> {
  let connection: RawConnection | undefined
  try {
    while (going(recorder, connection)) {
      const routed = !recorder.direct && recorder.routesNewConnections
      let fresh = false
      if (connection === undefined || !connection.usable) {
        connection?.destroy()
        connection = await open(recorder, target, 'pipelined', target.requests[0]!)
        if (connection === undefined) {
          if (recorder.direct) return
          await recorder.pause(20)
          continue
        }
        fresh = true
      }
      // A new connection carries one request first: the server may be HTTP/1.0, which a client must not pipeline to
      // until a response shows the connection persists (RFC 9112 §9.3.2).
      const count = fresh ? 1 : rng.int(2, 4)
      const specs = Array.from({ length: count }, () => target.requests[rng.int(0, target.requests.length - 1)]!)
      const ids = specs.map(() => recorder.ids++)
      const texts = specs.map((spec, i) => requestText(spec, target.host, ids[i]!))
      const text = texts.join('')
      const cut = split && rng.chance(0.3) ? cutInside(texts, rng) : text.length
      const parts = cut === text.length ? [text] : [text.slice(0, cut), text.slice(cut)]
      const idleMs = fresh ? 0 : performance.now() - connection.lastAnsweredAt
      const sentAt = performance.now()
      for (let i = 0; i < count; i++) recorder.sent('pipelined')
      const done = withTimeout(connection, target.requestTimeout)
      const exchanges = await connection.exchange(parts, count, rng.int(1, 15), specs.map(spec => spec.method === 'HEAD'))
      done()
      let told = false
      let broken = false
      for (const [i, exchange] of exchanges.entries()) {
        const answered = settle(recorder, 'pipelined', specs[i]!, connection, exchange, {
          sentAt, fresh, idleMs: i === 0 ? idleMs : 0, behindClose: told, routed, id: ids[i]!
        })
        if (exchange.answered && !exchange.persistent) told = true
        if (!answered) broken = true
      }
      if (told || broken) {
        connection.destroy()
        connection = undefined
      }
    }
  } finally {
    connection?.destroy()
  }
}

/** A socket that connects and never sends a byte, as a browser's preconnect does: when, and by whom, it closed. */
export async function idleSocket (recorder: Recorder, target: Target): Promise<{ opened: boolean, closedAt: number | undefined, serviceAlive: boolean }> {
  const connection = new RawConnection(target.host, target.port)
  if (!await connection.opened()) return { opened: false, closedAt: undefined, serviceAlive: true }
  await Promise.race([connection.closedPromise, recorder.whenStopped])
  const closed = connection.closed || connection.ended
  const result = { opened: true, closedAt: closed ? performance.now() : undefined, serviceAlive: recorder.exitAt === undefined && processAlive(recorder.pid()) }
  connection.destroy()
  return result
}
