// examples/bullmq.mjs (a BullMQ worker with @graceful/bullmq) against a real Redis, in a child process that receives a
// real SIGTERM, checked from the queue's side. .ci/run starts a throwaway Redis and sets REDIS_URL.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import type { ShutdownReport } from '@graceful/core'
import { available, childEnv } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
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

const children = new Set<ChildProcess>()
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Line { msg?: string, id?: string, [key: string]: unknown }

function connection (): { host: string, port: number } {
  const { hostname, port } = new URL(url!)
  return { host: hostname, port: Number(port) }
}

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

    const child = spawn(process.execPath, ['examples/bullmq.mjs'], {
      cwd: root,
      env: childEnv({ REDIS_URL: url!, QUEUE: name, GRACEFUL_PRE_STOP_DELAY: '1s', GRACEFUL_DRAIN_TIMEOUT: '3s' }),
      stdio: ['ignore', 'pipe', 'pipe']
    })
    children.add(child)
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    const lines: Line[] = []
    const graceful: Array<Record<string, unknown>> = []
    const waiters: Array<{ match: (line: Line) => boolean, resolve: () => void }> = []
    const until = (match: (line: Line) => boolean): Promise<void> => {
      if (lines.some(match)) return Promise.resolve()
      return new Promise(resolve => { waiters.push({ match, resolve }) })
    }
    createInterface({ input: child.stdout! }).on('line', text => {
      const line = JSON.parse(text) as Line
      lines.push(line)
      for (const waiter of waiters.filter(entry => entry.match(line))) waiter.resolve()
    })
    let started: () => void = () => {}
    const shutdownStarted = new Promise<void>(resolve => { started = resolve })
    createInterface({ input: child.stderr! }).on('line', text => {
      try { graceful.push(JSON.parse(text) as Record<string, unknown>) } catch { graceful.push({ text }) }
      if (graceful.at(-1)!['msg'] === 'graceful: shutdown started') started()
    })
    await until(line => line.msg === 'ready')

    const short = await queue.add('send', { ms: 1_500 })
    const long = await queue.add('send', { ms: 60_000 })
    await until(line => line.msg === 'job started' && line.id === long.id)
    await until(line => line.msg === 'job started' && line.id === short.id)

    child.kill('SIGTERM')
    await shutdownStarted
    // Added during the lame duck, with two of four slots free: a worker still taking jobs would take it.
    const after = await queue.add('send', { ms: 10 })
    const [code, signal] = await exited

    // Read from Redis as soon as the process is gone: nothing but the worker's own hand-back can have moved them.
    expect(await queue.getJobState(long.id!)).toBe('waiting')
    expect(await queue.getJobState(after.id!)).toBe('waiting')
    expect(await queue.getJobState(short.id!)).toBe('completed')
    expect((await queue.getJob(long.id!))!.stalledCounter).toBe(0)
    expect(await redis.lrange(`${name}:sent`, 0, -1)).toEqual([short.id])
    expect(lines.filter(line => line.msg === 'job started').map(line => line.id).sort()).toEqual([short.id, long.id].sort())

    expect(signal).toBeNull()
    expect(code).toBe(1)
    const report = graceful.find(entry => entry['msg'] === 'graceful: shutdown complete') as unknown as ShutdownReport
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
