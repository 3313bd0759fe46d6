// The fallback logger: one JSON line per entry on stderr, or the readable report on a terminal.
import type { ShutdownReport } from './report.js'
import { renderEntry, renderReport } from './render.js'

/** The subset of a pino-compatible logger that graceful writes to (`fastify.log` and pino fit). */
export interface GracefulLogger {
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

/** Where the fallback logger writes: `process.stderr`, or a stand-in with the same two members. */
export interface LogStream {
  write: (text: string) => unknown
  isTTY?: boolean
}

const LEVELS = { info: 30, warn: 40, error: 50 } as const

/** Readable lines on a terminal, JSON lines (pino's levels) elsewhere; decided at each write, nothing at import. */
export function createFallbackLogger (stream: () => LogStream = () => process.stderr): GracefulLogger {
  const write = (level: keyof typeof LEVELS, obj: object, msg?: string): void => {
    const target = stream()
    if (target.isTTY === true) {
      target.write((isReport(obj) ? renderReport(obj) : renderEntry(level, obj, msg)) + '\n')
      return
    }
    target.write(JSON.stringify({ level: LEVELS[level], time: Date.now(), name: 'graceful', ...obj, msg }) + '\n')
  }
  return {
    info: (obj, msg) => { write('info', obj, msg) },
    warn: (obj, msg) => { write('warn', obj, msg) },
    error: (obj, msg) => { write('error', obj, msg) }
  }
}

function isReport (obj: object): obj is ShutdownReport {
  return 'phases' in obj && 'hooks' in obj && 'exitCode' in obj
}

/** The default `logger`: JSON lines on stderr, or readable lines when stderr is a terminal. */
export const fallbackLogger: GracefulLogger = createFallbackLogger()

/** One instance's log: never throws (a broken logger must not break the shutdown it reports on), silent when off. */
export class InstanceLog {
  readonly #logger: GracefulLogger | false

  constructor (logger: GracefulLogger | false) {
    this.#logger = logger
  }

  info (obj: object, msg: string): void { this.#write('info', obj, msg) }
  warn (obj: object, msg: string): void { this.#write('warn', obj, msg) }
  error (obj: object, msg: string): void { this.#write('error', obj, msg) }

  #write (level: keyof typeof LEVELS, obj: object, msg: string): void {
    if (this.#logger === false) return
    try {
      this.#logger[level](obj, msg)
    } catch {
      // Nothing to do: the logger is the only place this could be said.
    }
  }
}
