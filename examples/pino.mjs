// graceful logging through pino, the logs flushed last: the report is logged, then the flush tier flushes pino, then
// the process exits, so the last lines (the report's included) are in the log, whether pino writes through a
// transport (a worker thread) or straight to a file with pino.destination().
//
//   LOG_FILE=app.log node examples/pino.mjs                      pino.destination (asynchronous writes)
//   LOG_FILE=app.log PINO_TRANSPORT=1 node examples/pino.mjs     the pino/file transport
import { createServer } from 'node:http'
import pino from 'pino'
import { createGraceful } from '@graceful/core'

const destination = process.env.LOG_FILE ?? '/dev/stdout'
const logger = process.env.PINO_TRANSPORT === '1'
  ? pino(pino.transport({ target: 'pino/file', options: { destination } }))
  : pino(pino.destination({ dest: destination, sync: false }))

const g = createGraceful({ logger, drainTimeout: 10_000 }) // the report goes to pino too
// The last tier: after the hooks and after the report is logged; the process exits once pino has flushed.
g.onFlush('logs', () => new Promise((resolve, reject) => {
  logger.flush(err => err ? reject(err) : resolve())
}))

const server = createServer((req, res) => {
  logger.info({ url: req.url }, 'request')
  res.writeHead(200, { 'content-type': 'text/plain' }).flushHeaders() // its headers leave at once, its body later
  setTimeout(() => {
    res.end('ok\n')
    logger.info({ url: req.url }, 'response sent')
  }, Number(new URL(req.url, 'http://localhost').searchParams.get('ms') ?? 0))
})
g.attach(server)
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: server.address().port }))
})
