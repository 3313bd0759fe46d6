// A NestJS service on the framework-free core, on Express or (ADAPTER=fastify) on Fastify. Build it with
// `pnpm run build`, run it with `node examples/nestjs/dist/main.js`, then Ctrl-C.
import 'reflect-metadata'
import { NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { HealthCheckService } from '@nestjs/terminus'
import { createGraceful } from '@graceful/core'
import { AppModule, DatabaseHealthIndicator } from './app.module.js'

const adapter = process.env.ADAPTER === 'fastify' ? new FastifyAdapter() : new ExpressAdapter()
const app = await NestFactory.create(AppModule, adapter)
const health = app.get(HealthCheckService)
const database = app.get(DatabaseHealthIndicator)

const graceful = createGraceful({
  // The lame duck: GRACEFUL_PRE_STOP_DELAY (5s, say) in the environment, or on Kubernetes graceful's adaptive default.
  drainTimeout: 10_000,
  // Nest's own close, run after the drain: onModuleDestroy, beforeApplicationShutdown and onApplicationShutdown run
  // once no request is in flight.
  close: () => app.close(),
  // Your @nestjs/terminus indicators feed readiness: /healthz answers 503 while one is down.
  checks: { database: () => health.check([() => database.isHealthy()]) }
})
// graceful owns SIGTERM and SIGINT: no app.enableShutdownHooks() needed (kept, graceful runs it after its shutdown).
graceful.attach(app.getHttpServer())

await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1')
console.log(`listening on ${await app.getUrl()}`)
