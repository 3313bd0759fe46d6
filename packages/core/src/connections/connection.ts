// One connection's life; no other file writes its state. While serving it sees only accept and close; from the signal
// on, http1.ts and http2.ts report to it. States: open (serving) · new (no byte yet, or in its TLS handshake) · idle ·
// busy (a response followed) · closing (its newest response said close) · upgraded (left HTTP: its protocol or the
// deadline ends it) · session (HTTP/2: GOAWAY, then its last stream) · closed (`endedBy` says how).
import type { ServerResponse } from 'node:http'
import type { Http2Session } from 'node:http2'
import type { Socket } from 'node:net'
import type { ConnectionFacts } from './close-decision.js'
import { activeResponse, isDetachedFromHttp, quietFor } from '../internals.js'

export type ConnectionState = 'open' | 'new' | 'idle' | 'busy' | 'closing' | 'upgraded' | 'session' | 'closed'

/** How a connection ended, so that its close is counted in the right column of the report. */
export type EndedBy = 'peer-or-response' | 'idle' | 'forced'

export class Connection {
  /** When it was accepted (`performance.now()`); 0 when unknown (a socket first seen through a request). */
  readonly connectedAt: number
  #socket: Socket
  #handshaking: boolean
  #session: Http2Session | undefined = undefined
  #state: ConnectionState = 'open'
  #webSocket = false
  /** The response that is to say `Connection: close` when its head goes out: the newest graceful has seen. */
  #told: ServerResponse | undefined = undefined
  /** The response whose head went out with `Connection: close`: Node closes the socket after it. */
  #closing: ServerResponse | undefined = undefined
  /** `socket.bytesRead` when the shutdown began, for a connection idle then; -1 otherwise. */
  #readAtSignal = -1
  #finishedAt = 0
  /** When graceful first followed the request now in flight, for a cut request's age; 0 when none. */
  #followedAt = 0
  /** `socket.bytesRead` when its quiet window began: more since means a request is on its way in. */
  #readAtQuiet = 0
  #timer: NodeJS.Timeout | undefined = undefined
  #endedBy: EndedBy = 'peer-or-response'

  constructor (socket: Socket, connectedAt: number, handshaking: boolean) {
    this.#socket = socket
    this.connectedAt = connectedAt
    this.#handshaking = handshaking
  }

  get socket (): Socket { return this.#socket }
  get state (): ConnectionState { return this.#state }
  get session (): Http2Session | undefined { return this.#session }
  get handshaking (): boolean { return this.#handshaking }
  get webSocket (): boolean { return this.#webSocket }
  get told (): ServerResponse | undefined { return this.#told }
  get closing (): ServerResponse | undefined { return this.#closing }
  get followedAt (): number { return this.#followedAt }
  get endedBy (): EndedBy { return this.#endedBy }

  secured (tlsSocket: Socket): void {
    this.#socket = tlsSocket
    this.#handshaking = false
  }

  sessionStarted (session: Http2Session): void {
    this.#session = session
    this.#state = 'session'
  }

  upgradedToWebSocket (): void {
    this.#webSocket = true
    if (this.#state !== 'open' && this.#state !== 'closed') this.#state = 'upgraded'
  }

  /** The shutdown begins: its state is read from Node (`receiving`: mid-head, so busy). Returns its response. */
  signal (receiving: (socket: Socket) => boolean): ServerResponse | undefined {
    if (this.#state === 'session' || this.#state === 'closed') return undefined
    if (isDetachedFromHttp(this.#socket)) {
      this.#state = 'upgraded'
      return undefined
    }
    const active = activeResponse(this.#socket)
    if (active !== undefined) {
      this.#state = 'busy'
      return active
    }
    if (this.#handshaking || this.#socket.bytesRead === 0) {
      this.#state = 'new'
    } else if (receiving(this.#socket)) {
      this.#state = 'busy'
      return undefined
    } else {
      this.#state = 'idle'
    }
    this.#readAtSignal = this.#socket.bytesRead
    return undefined
  }

  /** Idle since the signal, with not a byte read since: its quiet time is the whole shutdown so far. */
  get quietSinceSignal (): boolean {
    return this.#state === 'idle' && this.#readAtSignal === this.#socket.bytesRead
  }

  follow (): void {
    if (this.#state !== 'closing') this.#state = 'busy'
    this.stopWaiting()
  }

  runningSince (now: number): void {
    this.#followedAt = now
  }

  /** `response` is the newest: it, and no earlier one, is to say `Connection: close`. Returns the one it replaces. */
  tell (response: ServerResponse): ServerResponse | undefined {
    const previous = this.#told
    this.#told = response
    return previous
  }

  headSaidClose (response: ServerResponse): void {
    this.#closing = response
    this.#state = 'closing'
  }

  /** A followed response finished. `next`: Node handed the socket to a pipelined response, followed from `now`. */
  finished (now: number, next: boolean): void {
    if (next) {
      this.#followedAt = now
      return
    }
    this.#finishedAt = now
    this.#followedAt = 0
    if (this.#state === 'busy') this.#state = 'idle'
  }

  get neverUsed (): boolean {
    return this.#handshaking || this.#socket.bytesRead === 0
  }

  facts (now: number, since: number, clock: number | undefined, receiving: boolean): ConnectionFacts {
    const socket = this.#socket
    return {
      session: this.#session !== undefined,
      upgraded: isDetachedFromHttp(socket),
      ending: socket.destroyed || socket.writableEnded,
      inFlight: activeResponse(socket) !== undefined,
      neverUsed: this.neverUsed,
      receiving,
      quietByNode: quietFor(socket, clock),
      idleSinceSignal: this.#readAtSignal === socket.bytesRead,
      msSinceSignal: now - since,
      msSinceFinished: this.#finishedAt > 0 ? now - this.#finishedAt : undefined,
      msSinceConnected: this.connectedAt === 0 ? undefined : now - this.connectedAt
    }
  }

  waitQuiet (ms: number, onQuiet: (connection: Connection) => void): void {
    this.stopWaiting()
    this.#readAtQuiet = this.#socket.bytesRead
    if (ms > 0) this.#timer = setTimeout(onQuiet, ms, this)
  }

  quietWindowOver (): void {
    this.#timer = undefined
  }

  get waiting (): boolean {
    return this.#timer !== undefined
  }

  /** Bytes read since its quiet window began (a TLS handshake's aside): a request is arriving, or it was upgraded. */
  get readSinceQuiet (): boolean {
    return !this.#handshaking && this.#socket.bytesRead !== this.#readAtQuiet
  }

  stopWaiting (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  destroy (endedBy: EndedBy): void {
    this.#endedBy = endedBy
    this.stopWaiting()
    this.#session?.destroy()
    this.#socket.destroy()
  }

  closed (): void {
    this.#state = 'closed'
    this.stopWaiting()
  }

  /** GOAWAY was sent with no stream open: its close is a quiet one. */
  endedIdle (): void {
    this.#endedBy = 'idle'
  }
}
