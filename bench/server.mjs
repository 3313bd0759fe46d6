// One server per benchmark variant (BENCH_VARIANT), configured as each library's README recommends.
// Routes: / (hello world), /json (1 KiB of JSON), /slow?ms= (prints "started" when it arrives), /mem (heap after GC).
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'

// BENCH_SERVICE_STARTUP=1: what a service does before its server exists (a logger's stream, a database pool, a
// WebSocket server): it constructs EventEmitters. V8 fills the inline caches of EventEmitter's constructor only once
// that has run a few times, so a bare hello world, which constructs almost none first, serves with those caches
// having seen two shapes (the request and the response); after a few more shapes they are megamorphic, and every
// request costs about 2 % more (bare node:http on Node 20). Loading an ES module package of a few files is enough to
// get there (on Node 20 the loader reads each file through a FileHandle, an EventEmitter). bench/ir.mjs counts both
// states, so that this switch is not taken for a library's cost.
if (process.env.BENCH_SERVICE_STARTUP === '1') {
  const { EventEmitter } = await import('node:events')
  for (let i = 0; i < 30; i++) new EventEmitter()
}

// A name ending in -aa is the same server again: the A/A control, measured as a variant of its own.
const variant = process.env.BENCH_VARIANT.replace(/-aa$/, '')
const payload = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`key${String(i).padStart(2, '0')}`, 'v'.repeat(30)]))
const emit = (event) => process.stdout.write(JSON.stringify({ ...event, t: performance.timeOrigin + performance.now() }) + '\n')
const heap = () => {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}
const ready = (server) => emit({ event: 'ready', port: server.address().port })
// BENCH_PRE_STOP: a lame duck for graceful's variants, so that the drain after it can be timed from its start.
const preStopDelay = Number(process.env.BENCH_PRE_STOP ?? 0)
/** Reports the moment draining begins, for the "lame duck end → exit" column. */
const onDraining = (instance) => {
  instance.on('phase', ({ phase }) => { if (phase === 'draining') emit({ event: 'draining' }) })
}

async function express () {
  const { default: express } = await import('express')
  const app = express()
  let shutdown
  if (variant === 'express-graceful' || variant === 'express-graceful-attach') {
    const { graceful } = await import('@graceful/express')
    shutdown = graceful({ drainTimeout: 10_000, preStopDelay })
    onDraining(shutdown)
    // The attach-only mode: no middleware; attach() answers the probes ahead of Express and follows the sockets.
    if (variant === 'express-graceful') app.use(shutdown)
  } else if (variant === 'express-noop') {
    // What any middleware costs in Express, to tell graceful's own cost from the router's (bench/ir.mjs).
    app.use((req, res, next) => { next() })
  }
  app.get('/', (req, res) => { res.send('hello world') })
  app.get('/json', (req, res) => { res.json(payload) })
  app.get('/slow', (req, res) => {
    emit({ event: 'started' })
    setTimeout(() => res.send('slow'), Number(req.query.ms ?? 200))
  })
  app.get('/mem', (req, res) => { res.json({ heapUsed: heap() }) })
  app.get('/cpu', (req, res) => { res.json(process.cpuUsage()) })
  // Every library is set up before the first connection can arrive.
  const server = createServer(app)
  server.keepAliveTimeout = 30_000
  if (variant === 'express-graceful' || variant === 'express-graceful-attach') {
    shutdown.attach(server)
  } else if (variant === 'express-terminus') {
    const { createTerminus } = await import('@godaddy/terminus')
    createTerminus(server, { signals: ['SIGTERM'], healthChecks: { '/healthz': async () => {} }, timeout: 10_000 })
  } else if (variant === 'express-http-terminator') {
    const { createHttpTerminator } = await import('http-terminator')
    const terminator = createHttpTerminator({ server, gracefulTerminationTimeout: 10_000 })
    process.once('SIGTERM', () => { terminator.terminate().then(() => process.exit(0), () => process.exit(1)) })
  } else {
    // Bare: Node's own server.close(), as most services ship it.
    process.once('SIGTERM', () => { server.close(() => process.exit(0)) })
  }
  server.listen(0, '127.0.0.1', () => ready(server))
}

async function fastify () {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: false, forceCloseConnections: 'idle' })
  if (variant === 'fastify-graceful') {
    const { gracefulPlugin } = await import('@graceful/fastify')
    await app.register(gracefulPlugin, { drainTimeout: 10_000, logger: false, preStopDelay })
    onDraining(app.graceful)
  } else if (variant === 'fastify-graceful-shutdown') {
    const { default: gracefulShutdown } = await import('fastify-graceful-shutdown')
    await app.register(gracefulShutdown, { timeout: 10_000 })
  }
  app.get('/', async () => 'hello world')
  app.get('/json', async () => payload)
  app.get('/slow', async (request) => {
    emit({ event: 'started' })
    await new Promise(resolve => setTimeout(resolve, Number(request.query.ms ?? 200)))
    return 'slow'
  })
  app.get('/mem', async () => ({ heapUsed: heap() }))
  app.get('/cpu', async () => process.cpuUsage())
  if (variant === 'fastify-close-with-grace') {
    const { default: closeWithGrace } = await import('close-with-grace')
    closeWithGrace({ delay: 10_000 }, async () => { await app.close() })
  } else if (variant === 'fastify-bare') {
    // Fastify's own close, as its documentation shows.
    process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  app.server.keepAliveTimeout = 30_000
  ready(app.server)
}

async function node () {
  let g
  if (variant === 'node-graceful') {
    // BENCH_CORE: another build of the core, for comparing a change's cost per request (bench/ir.mjs).
    const { createGraceful } = await import(process.env.BENCH_CORE ?? '@graceful/core')
    g = createGraceful({ drainTimeout: 10_000, preStopDelay })
    onDraining(g)
  }
  const json = JSON.stringify(payload)
  // attach() alone answers the probes ahead of this handler: it needs no call of its own.
  const server = createServer((req, res) => {
    if (req.url === '/') res.end('hello world')
    else if (req.url === '/json') res.setHeader('content-type', 'application/json').end(json)
    else if (req.url === '/cpu') res.end(JSON.stringify(process.cpuUsage()))
    else if (req.url === '/mem') res.end(JSON.stringify({ heapUsed: heap() }))
    else {
      emit({ event: 'started' })
      setTimeout(() => res.end('slow'), 200)
    }
  })
  server.keepAliveTimeout = 30_000
  if (g !== undefined) g.attach(server)
  else process.once('SIGTERM', () => { server.close(() => process.exit(0)) })
  server.listen(0, '127.0.0.1', () => ready(server))
}

await (variant.startsWith('express') ? express() : variant.startsWith('node') ? node() : fastify())
