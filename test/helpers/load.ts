// The load generator: keep-alive clients that send requests back to back while a real SIGTERM stops the service, as
// the contract and the core scenarios run it. Loopback only.
import { Client } from 'undici'
import { expect } from 'vitest'
import type { Fixture } from './index.js'
import { origin } from './sockets.js'

export interface LoadOutcome {
  completed: number
  /** Requests written that got no full response, or a wrong one: what a client cannot retry safely. */
  failures: string[]
  /** Connections refused at connect: no byte of the request was written, so every client retries it elsewhere. */
  refused: number
  /** Per client: whether its last response before it stopped said Connection: close. */
  told: boolean[]
}

/**
 * Keep-alive clients send requests back to back; SIGTERM once `before` requests have completed, and SIGKILL when the
 * process is still there `gracePeriod` ms later, as Kubernetes does at terminationGracePeriodSeconds (never, when it is
 * false). Bounded: a client stops at its first error or after 2 000 requests.
 */
export async function underLoad (app: Fixture, port: number, { clients = 16, before = 300, gracePeriod = 5_000 }: { clients?: number, before?: number, gracePeriod?: number | false } = {}): Promise<LoadOutcome> {
  const pool = Array.from({ length: clients }, () => new Client(origin(port), { pipelining: 1, keepAliveTimeout: 60_000 }))
  const outcome: LoadOutcome = { completed: 0, failures: [], refused: 0, told: [] }
  let signalled = false
  const worker = async (client: Client, index: number): Promise<void> => {
    for (let i = 0; i < 2_000; i++) {
      try {
        const res = await client.request({ method: 'GET', path: `/work?ms=${(index + i) % 15}` })
        const body = await res.body.text()
        if (res.statusCode !== 200 || body !== 'ok') outcome.failures.push(`status ${res.statusCode} body ${body}`)
        else outcome.completed++
        outcome.told[index] = res.headers['connection'] === 'close'
        if (outcome.completed >= before && !signalled) {
          signalled = true
          app.kill('SIGTERM')
          if (gracePeriod !== false) {
            const deadline = setTimeout(() => app.kill('SIGKILL'), gracePeriod)
            void app.exited.then(() => { clearTimeout(deadline) })
          }
        }
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code === 'ECONNREFUSED') outcome.refused++
        else outcome.failures.push(`${code ?? ''} ${(err as Error).message}`)
        return
      }
    }
  }
  try {
    await Promise.all(pool.map(worker))
  } finally {
    await Promise.all(pool.map(client => client.destroy()))
  }
  expect(signalled).toBe(true)
  return outcome
}
