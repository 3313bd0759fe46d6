// A BullMQ worker shut down with graceful: at SIGTERM it takes no new job, the jobs in flight run to their end, and at
// the drain deadline the jobs still running are handed back to the queue at once, for the next worker.
//
//   eval "$(bash .ci/redis.sh start)" && node examples/bullmq.mjs      a throwaway Redis on 127.0.0.1
//
// Then add jobs to the `emails` queue ({ ms: 3000 } runs 3 s) and Ctrl-C (or `kill -TERM <pid>`).
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { Worker } from 'bullmq'
import { createGraceful } from '@graceful/core'
import { bullmqWorkSource } from '@graceful/bullmq'

const log = (entry) => console.log(JSON.stringify(entry))
const { hostname: host, port } = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const connection = { host, port: Number(port) }
const queue = process.env.QUEUE ?? 'emails'

const g = createGraceful({ drainTimeout: 20_000 })
const outbox = new Redis(connection)

// The third argument is BullMQ's own AbortSignal: at the drain deadline it aborts, and the job goes back to the queue.
const worker = new Worker(queue, async (job, token, signal) => {
  log({ msg: 'job started', id: job.id })
  await sleep(job.data.ms, undefined, { signal }) // the work: it ends early when the signal aborts
  signal.throwIfAborted() // checked before the side effect: a job handed back is never sent twice
  await outbox.rpush(`${queue}:sent`, job.id) // the side effect
  log({ msg: 'job done', id: job.id })
}, { connection, concurrency: 4 })
worker.on('ready', () => log({ msg: 'ready', pid: process.pid }))

g.addWorkSource(queue, bullmqWorkSource(worker))
// Registered first, so it runs last: after the drain, when no job can send any more.
g.onShutdown('outbox', () => outbox.quit())
