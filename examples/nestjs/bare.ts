// The NestJS application of app.module.ts as most services ship it: nothing of graceful in the code. Run it with the
// preload, which attaches graceful from the outside (docs/preload.md): `pnpm run build`, then
// `node --import @graceful/core/register examples/nestjs/dist/bare.js`. Without the preload, SIGTERM ends it on the
// spot; with it, the requests in flight finish first. Nest's own close (onApplicationShutdown) is the application's
// to call, and nothing here calls it: main.ts shows the version that runs it after the drain.
import 'reflect-metadata'
import { NestFactory } from '@nestjs/core'
import { AppModule } from './app.module.js'

const app = await NestFactory.create(AppModule)
await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1')
console.log(`listening on ${await app.getUrl()}`)
