// examples/postgres.mjs against a real PostgreSQL (no mock), checked from the database's side after a SIGTERM under
// load. The connection comes from the PG* variables (.ci/run starts a throwaway cluster on 127.0.0.1 and sets them).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Client as HttpClient } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { available } from '../helpers/index.js'
import { admin, postgresUnreachable } from '../helpers/postgres.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const database = `graceful_test_${process.pid}_${Date.now()}`
const appName = `graceful-example-${process.pid}`

const runs = available('PostgreSQL', await postgresUnreachable())

const children = new Set<ReturnType<typeof spawn>>()
const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
  for (const step of cleanup.splice(0).reverse()) await step()
})

interface Line { msg?: string, t?: number, [key: string]: unknown }

describe.runIf(runs)('examples/postgres.mjs on a real PostgreSQL', () => {
  it('under load at SIGTERM: every answered transaction is committed, none half-applied, the pool ends after the drain, no session is left', async () => {
    await admin(client => client.query(`CREATE DATABASE ${database}`))
    cleanup.push(() => admin(client => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)))

    const child = spawn(process.execPath, ['examples/postgres.mjs'], {
      cwd: root,
      env: { ...process.env, PORT: '0', PGDATABASE: database, APP_NAME: appName, GRACEFUL_PRE_STOP_DELAY: '200ms' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    children.add(child)
    const lines: Line[] = []
    const stderr: string[] = []
    const exited = once(child, 'exit')
    // Graceful's own log lines (the report among them) go to stderr, the example's to stdout.
    const port = new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', line => {
        const entry = JSON.parse(line) as Line
        lines.push(entry)
        if (entry.msg === 'listening') resolve(entry['port'] as number)
      })
      void exited.then(() => { reject(new Error(`exited before listening: ${stderr.join('\n')}`)) })
    })
    createInterface({ input: child.stderr }).on('line', line => {
      stderr.push(line)
      try { lines.push(JSON.parse(line) as Line) } catch { /* not JSON: kept in stderr */ }
    })
    const origin = `http://127.0.0.1:${await port}`

    // 12 keep-alive clients post transfers with unique ids until the listener refuses them; SIGTERM after 60 answers.
    const clients = Array.from({ length: 12 }, () => new HttpClient(origin, { keepAliveTimeout: 60_000 }))
    const answered = new Set<string>()
    const sent = new Set<string>()
    const failures: string[] = []
    let refused = 0
    let signalled = false
    const worker = async (client: HttpClient, index: number): Promise<void> => {
      for (let i = 0; i < 500; i++) {
        const id = `${index}-${i}`
        try {
          const res = await client.request({ method: 'POST', path: `/transfer?id=${id}&ms=${(index * 7 + i * 13) % 60}` })
          sent.add(id)
          const body = await res.body.json() as { id?: string, committed?: boolean }
          if (res.statusCode === 200 && body.committed === true && body.id === id) answered.add(id)
          else failures.push(`${id}: ${res.statusCode} ${JSON.stringify(body)}`)
        } catch (err) {
          if ((err as { code?: string }).code === 'ECONNREFUSED') {
            refused++
            return
          }
          sent.add(id)
          failures.push(`${id}: ${(err as Error).message}`)
          return
        }
        if (answered.size >= 60 && !signalled) {
          signalled = true
          child.kill('SIGTERM')
        }
      }
    }
    try {
      await Promise.all(clients.map(worker))
    } finally {
      await Promise.all(clients.map(client => client.destroy()))
    }
    const [code] = await exited as [number | null]

    expect(failures).toEqual([])
    expect(signalled).toBe(true)
    expect(refused).toBe(12)
    expect(code).toBe(0)

    // The database's view: every answered transfer committed both its rows, no transfer left one row only, and no
    // row belongs to a request that was never answered.
    const rows = await admin(client => client.query<{ request_id: string, steps: string }>(
      'SELECT request_id, count(*) AS steps FROM ledger GROUP BY request_id'), database)
    const committed = new Map(rows.rows.map(row => [row.request_id, Number(row.steps)]))
    expect([...committed.values()].filter(steps => steps !== 2)).toEqual([])
    expect([...committed.keys()].sort()).toEqual([...answered].sort())
    const balances = await admin(client => client.query<{ id: number, balance: string }>(
      'SELECT id, balance FROM accounts ORDER BY id'), database)
    expect(balances.rows.map(row => Number(row.balance))).toEqual([1_000_000 - answered.size, answered.size])

    // The pool ended in the hook, after the drain: nothing was in flight then, and every client was closed by it.
    const report = lines.find(line => line.msg === 'graceful: shutdown complete')
    expect(report).toMatchObject({ exitCode: 0, hooks: [{ name: 'db', status: 'ok' }] })
    const ending = lines.find(line => line.msg === 'pool ending')
    const ended = lines.find(line => line.msg === 'pool ended')
    expect(ending).toMatchObject({ inFlight: 0 })
    expect(ended).toMatchObject({ clients: 0 })
    expect(report).toMatchObject({ sockets: { forced: 0 }, requests: { forced: [] } })
    // Its statement_timeout is no longer than its drain deadline: nothing to warn about at start-up.
    expect(lines.filter(line => line.msg === 'warning')).toEqual([])

    // No session of the app is left. A backend ends a moment after its client's Terminate message: waited for with a
    // bound, on the database's own clock.
    const sessions = await admin(async client => {
      const count = async (pause: number): Promise<number> => Number((await client.query<{ n: string }>(
        'SELECT pg_sleep($2), (SELECT count(*) FROM pg_stat_activity WHERE application_name = $1) AS n',
        [appName, pause])).rows[0]!.n)
      let left = await count(0)
      for (let tries = 0; left > 0 && tries < 40; tries++) left = await count(0.05)
      return left
    })
    expect(sessions).toBe(0)
    console.log(`postgres: ${sent.size} transfers sent, ${answered.size} answered and committed (${committed.size} in the ` +
      `ledger, none half-applied), ${refused} clients refused after the listener closed, ${sessions} sessions left; ` +
      `report: ${JSON.stringify({ requests: report!['requests'], phases: report!['phases'] })}`)
  }, 60_000)
})
