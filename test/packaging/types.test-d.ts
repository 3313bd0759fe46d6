// Mistakes the types refuse, checked by the type check (`pnpm typecheck`): each line below must not compile.
import express from 'express'
import Fastify from 'fastify'
import { graceful } from '@graceful/express'
import { gracefulPlugin } from '@graceful/fastify'

const app = express()
// app.use(graceful), uncalled, cannot be refused here: Express's types take any function of up to four parameters as
// an error handler whose first parameter is `any`. It fails at run time with GRACEFUL_ERR_NOT_CALLED instead.
app.use(graceful())

const fastify = Fastify()
// @ts-expect-error gracefulPlugin is the plugin itself, not a factory: fastify.register(gracefulPlugin, options).
void fastify.register(gracefulPlugin({ preStopDelay: 1_000 }))
void fastify.register(gracefulPlugin, { preStopDelay: 1_000 })
// @ts-expect-error durations are numbers of milliseconds.
graceful({ drainTimeout: '10s' })
