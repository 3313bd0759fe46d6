/** The subset of a pino-compatible logger that graceful writes to (`fastify.log` and pino fit). */
export interface GracefulLogger {
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

function writeLine (level: number, obj: object, msg?: string): void {
  process.stderr.write(JSON.stringify({ level, time: Date.now(), name: 'graceful', ...obj, msg }) + '\n')
}

/** The fallback logger: one JSON line per entry on stderr, pino's level numbers, synchronous on files and pipes. */
export const jsonLogger: GracefulLogger = {
  info: (obj, msg) => { writeLine(30, obj, msg) },
  warn: (obj, msg) => { writeLine(40, obj, msg) },
  error: (obj, msg) => { writeLine(50, obj, msg) }
}
