import { connect, type Socket } from 'node:net'

/** What became of one request written on a raw connection. */
export type Exchange =
  /** `close`: the response said `Connection: close`; `persistent`: the connection may carry another request. */
  | { answered: true, status: number, close: boolean, persistent: boolean }
  | {
    answered: false
    /** The socket's error code, `closed` for a plain close, `timeout`. */
    error: string
    /** Some bytes of this request's response had arrived. */
    responseStarted: boolean
    /** The server's FIN had reached the client before the request was written: the server never read it. */
    finFirst: boolean
  }

interface Pending {
  head: boolean
  started: boolean
  /** The server's FIN had arrived before this request was written. */
  afterFin: boolean
  resolve: (exchange: Exchange) => void
}

/**
 * One HTTP/1.1 connection on a plain socket, for the clients undici cannot play: pipelining, requests written in
 * parts over time, a connection that never sends, and exact knowledge of the local port, of the FIN and of which
 * bytes came back. Responses are read by Content-Length, chunked coding, or up to the close.
 */
export class RawConnection {
  readonly socket: Socket
  localPort: number | undefined
  connected = false
  /** The server's FIN has arrived: a client writes nothing more here. */
  ended = false
  closed = false
  closedWith: string | undefined
  /** Requests written on this connection so far. */
  requests = 0
  lastAnsweredAt: number
  readonly closedPromise: Promise<void>
  #buffer: Buffer = Buffer.alloc(0)
  #pending: Pending[] = []
  #bodyLeft = -1
  #chunked = false
  #untilClose = false
  #status = 0
  #close = false
  #persistent = true

  constructor (host: string, port: number, readonly onBytes?: () => void) {
    this.socket = connect({ host, port })
    this.socket.setNoDelay(true)
    this.lastAnsweredAt = performance.now()
    this.socket.on('connect', () => {
      this.connected = true
      this.localPort = this.socket.localPort
      this.lastAnsweredAt = performance.now()
    })
    this.socket.on('data', (chunk: Buffer) => {
      this.onBytes?.()
      const first = this.#pending[0]
      if (first !== undefined) first.started = true
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
      this.#parse()
    })
    this.socket.on('end', () => {
      this.ended = true
      if (this.#untilClose && this.#pending[0] !== undefined) this.#answer()
      // A half-closed socket is of no further use to a client; closing ours too lets the server's side go.
      this.socket.end()
    })
    this.socket.on('error', (err: NodeJS.ErrnoException) => { this.closedWith ??= err.code ?? 'error' })
    this.closedPromise = new Promise(resolve => {
      this.socket.on('close', () => {
        this.closed = true
        this.#failAll(this.closedWith ?? 'closed')
        resolve()
      })
    })
  }

  /** Resolves true once connected, false when the connection failed first (refused, reset in the handshake). */
  async opened (): Promise<boolean> {
    if (this.connected) return true
    if (this.closed) return false
    return await new Promise(resolve => {
      this.socket.once('connect', () => { resolve(true) })
      this.socket.once('close', () => { resolve(false) })
    })
  }

  /** True while a new request may be written here. */
  get usable (): boolean {
    return this.connected && !this.ended && !this.closed && this.closedWith === undefined
  }

  /**
   * Writes `parts` one after the other, `gapMs` apart, carrying `count` requests (`heads` says which are HEAD), and
   * resolves with what became of each.
   */
  async exchange (parts: Array<string | Buffer>, count: number, gapMs = 0, heads: boolean[] = []): Promise<Exchange[]> {
    this.requests += count
    const outcomes = Array.from({ length: count }, async (_, i) => await new Promise<Exchange>(resolve => {
      this.#pending.push({ head: heads[i] ?? false, started: false, afterFin: this.ended, resolve })
    }))
    for (let i = 0; i < parts.length; i++) {
      if (i > 0 && gapMs > 0) await new Promise(resolve => setTimeout(resolve, gapMs))
      if (this.closed || this.socket.destroyed) break
      this.socket.write(parts[i]!)
    }
    return await Promise.all(outcomes)
  }

  destroy (): void {
    this.socket.destroy()
  }

  #failAll (error: string): void {
    const pending = this.#pending
    this.#pending = []
    for (const entry of pending) {
      entry.resolve({ answered: false, error, responseStarted: entry.started, finFirst: entry.afterFin })
    }
  }

  #answer (): void {
    const entry = this.#pending.shift()
    this.#bodyLeft = -1
    this.#chunked = false
    this.#untilClose = false
    this.lastAnsweredAt = performance.now()
    if (!this.#persistent) this.ended = true
    entry?.resolve({ answered: true, status: this.#status, close: this.#close, persistent: this.#persistent })
    if (this.#pending[0] !== undefined && this.#buffer.length > 0) this.#pending[0].started = true
  }

  #parse (): void {
    for (;;) {
      const entry = this.#pending[0]
      if (entry === undefined) return
      if (this.#bodyLeft === -1 && !this.#chunked && !this.#untilClose) {
        const end = this.#buffer.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = this.#buffer.subarray(0, end).toString('latin1')
        this.#buffer = this.#buffer.subarray(end + 4)
        const status = Number(head.slice(9, 12))
        if (status >= 100 && status < 200) continue
        this.#status = status
        this.#close = /\r\nconnection:[^\r]*\bclose\b/i.test(head)
        // An HTTP/1.0 server closes after each response unless it says keep-alive.
        this.#persistent = !this.#close && (!head.startsWith('HTTP/1.0') || /\r\nconnection:[^\r]*keep-alive/i.test(head))
        const length = /\r\ncontent-length: *(\d+)/i.exec(head)
        if (entry.head || status === 204 || status === 304) this.#bodyLeft = 0
        else if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) this.#chunked = true
        else if (length !== null) this.#bodyLeft = Number(length[1])
        else this.#untilClose = true
      }
      if (this.#untilClose) {
        this.#buffer = Buffer.alloc(0)
        return
      }
      if (this.#chunked) {
        if (!this.#skipChunks()) return
        this.#answer()
        continue
      }
      if (this.#buffer.length < this.#bodyLeft) return
      this.#buffer = this.#buffer.subarray(this.#bodyLeft)
      this.#answer()
    }
  }

  /** Consumes whole chunks; true once the last chunk and the trailers have been read. */
  #skipChunks (): boolean {
    for (;;) {
      const line = this.#buffer.indexOf('\r\n')
      if (line === -1) return false
      const size = Number.parseInt(this.#buffer.subarray(0, line).toString('latin1'), 16)
      if (size === 0) {
        const end = this.#buffer.indexOf('\r\n\r\n', line - 2 < 0 ? 0 : line - 2)
        if (end === -1) return false
        this.#buffer = this.#buffer.subarray(end + 4)
        return true
      }
      if (this.#buffer.length < line + 2 + size + 2) return false
      this.#buffer = this.#buffer.subarray(line + 2 + size + 2)
    }
  }
}
