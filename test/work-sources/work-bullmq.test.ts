// examples/bullmq.mjs (a BullMQ worker with @graceful/bullmq) against a real Redis, in a child process that receives a
// real SIGTERM, checked from the queue's side. .ci/run starts a throwaway Redis and sets REDIS_URL.
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { bullmqWorkSource } from '@graceful/bullmq'
import { ExampleProcess, shutdownStarted } from '../helpers/example-process.js'
import { available } from '../helpers/index.js'

const url = process.env['REDIS_URL']

/** Why the test cannot run here, or undefined when Redis answers. */
async function unreachable (): Promise<string | undefined> {
  if (url === undefined) return 'REDIS_URL is not set; .ci/run starts a Redis (eval "$(bash .ci/redis.sh start)")'
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  try {
    await client.connect()
    await client.ping()
    return undefined
  } catch (err) {
    return `no Redis reachable at ${url} (${(err as Error).message}); .ci/run starts one (bash .ci/redis.sh start)`
  } finally {
    client.disconnect()
  }
}

const runs = available('Redis', await unreachable())

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function connection (): { host: string, port: number } {
  const { hostname, port } = new URL(url!)
  return { host: hostname, port: Number(port) }
}

describe.runIf(runs)('bullmqWorkSource on a real Redis', () => {
  it('a job added as the worker stops, while it waits for one, is not taken', async () => {
    // Without the adapter's guard, BullMQ's fetch loop takes such a job (every try here on an idle machine, once the
    // wait is seen; on a starved one the close can disconnect the wait first, hence ten tries, a few ms each).
    // Redis's MONITOR tells when the worker's blocking wait for a job has reached the server.
    const watcher = new Redis(url!)
    const monitor = await watcher.monitor()
    cleanups.push(async () => {
      monitor.disconnect()
      await watcher.quit()
    })
    for (let attempt = 0; attempt < 10; attempt++) {
      const name = `graceful-race-${process.pid}-${Date.now()}-${attempt}`
      const queue = new Queue(name, { connection: connection() })
      const taken: string[] = []
      const blocked = new Promise<void>(resolve => {
        const onCommand = (_time: string, args: string[]): void => {
          if (args[0]?.toLowerCase() !== 'bzpopmin' || args[1]?.includes(name) !== true) return
          monitor.off('monitor', onCommand)
          resolve()
        }
        monitor.on('monitor', onCommand)
      })
      const worker = new Worker(name, job => { taken.push(job.id!); return Promise.resolve() }, { connection: connection() })
      cleanups.push(async () => {
        await worker.close()
        await queue.obliterate({ force: true })
        await queue.close()
      })
      await blocked
      const controller = new AbortController()
      const stopped = bullmqWorkSource(worker).stop({ deadline: controller.signal, reason: 'SIGTERM' })
      const job = await queue.add('late', {})
      await stopped
      expect(taken).toEqual([])
      expect(await queue.getJobState(job.id!)).toBe('waiting')
    }
  })
})

describe.runIf(runs)('examples/bullmq.mjs on a real Redis', () => {
  it('at SIGTERM the jobs in flight finish, none is taken after it, the one cut at the deadline is back in wait at once and runs exactly once on the next worker; exit 1, not 137', async () => {
    const name = `graceful-test-${process.pid}-${Date.now()}`
    const queue = new Queue(name, { connection: connection() })
    const redis = new Redis(url!)
    cleanups.push(async () => {
      await queue.obliterate({ force: true })
      await queue.close()
      await redis.quit()
    })

    const app = new ExampleProcess('examples/bullmq.mjs', { REDIS_URL: url!, QUEUE: name, GRACEFUL_PRE_STOP_DELAY: '1s', GRACEFUL_DRAIN_TIMEOUT: '3s' })
    await app.until(line => line.msg === 'ready')

    const short = await queue.add('send', { ms: 1_500 })
    const long = await queue.add('send', { ms: 60_000 })
    await app.until(line => line.msg === 'job started' && line.id === long.id)
    await app.until(line => line.msg === 'job started' && line.id === short.id)

    app.child.kill('SIGTERM')
    await app.until(shutdownStarted)
    // Added during the lame duck, with two of four slots free: a worker still taking jobs would take it.
    const after = await queue.add('send', { ms: 10 })
    const { code, signal } = await app.exited

    // Read from Redis as soon as the process is gone: nothing but the worker's own hand-back can have moved them.
    expect(await queue.getJobState(long.id!)).toBe('waiting')
    expect(await queue.getJobState(after.id!)).toBe('waiting')
    expect(await queue.getJobState(short.id!)).toBe('completed')
    const handedBack = (await queue.getJob(long.id!))!
    expect({ stalledCounter: handedBack.stalledCounter, attemptsMade: handedBack.attemptsMade }).toEqual({ stalledCounter: 0, attemptsMade: 0 })
    expect(await redis.lrange(`${name}:sent`, 0, -1)).toEqual([short.id])
    expect(app.lines.filter(line => line.msg === 'job started').map(line => line.id).sort()).toEqual([short.id, long.id].sort())

    expect(signal).toBeNull()
    expect(code).toBe(1)
    const report = app.report!
    expect(report.work!.sources).toMatchObject([{ name, stopAt: 'signal', status: 'forced', runningAtStop: 2 }])
    expect(report.work!.forced).toEqual([{ source: name, id: long.id, name: 'send', ageMs: expect.any(Number) as number }])
    expect(report.work!.forced[0]!.ageMs).toBeGreaterThanOrEqual(3_500)

    // The next worker takes the handed-back job at once and runs it once, with the one that waited.
    const ran: string[] = []
    let done: () => void = () => {}
    const both = new Promise<void>(resolve => { done = resolve })
    const next = new Worker(name, async job => {
      ran.push(job.id!)
      await redis.rpush(`${name}:sent`, job.id!)
      if (ran.length === 2) done()
    }, { connection: connection() })
    cleanups.push(() => next.close())
    await both
    await next.close()
    expect(ran.sort()).toEqual([long.id, after.id].sort())
    expect((await redis.lrange(`${name}:sent`, 0, -1)).sort()).toEqual([short.id, long.id, after.id].sort())
  })
})
