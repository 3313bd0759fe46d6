// Writes and the drain deadline (issue 26), against a real PostgreSQL: a service in a child process whose every POST
// runs a transaction of 50–300 ms (one in eight of 2 s) gets a real SIGTERM under load, with a drain deadline shorter
// than some of them.
// Afterwards each client's outcome is compared with the table: a write is committed and answered 2xx, or rolled back
// and failed to its client. With the recipe (examples/pg-transaction.mjs, examples/drizzle-transaction.mjs) no row is
// committed for a request whose client saw an error, except the race no server can close (a COMMIT that went out
// before the deadline, its answer cut), and only for a request the report names as such. Without it, the same load
// shows the writes that commit after their clients were told they failed.
import pg from 'pg'
import { Client } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ExampleProcess, type Line } from '../helpers/example-process.js'
import { available } from '../helpers/index.js'
import { admin, postgresUnreachable } from '../helpers/postgres.js'
import { deadlineWarnings } from '../../examples/pg-transaction.mjs'

const runs = available('PostgreSQL', await postgresUnreachable())
const database = `graceful_writes_${process.pid}_${Date.now()}`
const CLIENTS = 24
/** Answers before the SIGTERM: every client has had a few, and each has one in flight when the signal comes. */
const ANSWERS_BEFORE_SIGNAL = 48
const DRAIN_TIMEOUT = 100
/** The transactions' lengths, drawn from the seed: some longer than the drain deadline. */
const SHORTEST = 50
const LONGEST = 300
/**
 * One transaction in eight lasts 2 s: a machine so starved that the app handles its SIGTERM only after every
 * transaction of 300 ms or less has ended would otherwise leave the deadline nothing to cut.
 */
const LONG = 2_000
const LONG_SHARE = 1 / 8

/** mulberry32: the same lengths for the same seed. */
function random (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

type Outcome = { kind: 'answered' } | { kind: 'failed', error: string } | { kind: 'refused' }

/** Keep-alive clients post orders, each with an id of its own, until the listener refuses them; SIGTERM after a few. */
async function load (origin: string, tag: string, seed: number, signal: () => void): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>()
  let answered = 0
  const worker = async (index: number): Promise<void> => {
    // One sequence per client, so that each client's lengths do not depend on the order in which answers arrive.
    const next = random(seed * 1_000 + index)
    const client = new Client(origin, { keepAliveTimeout: 60_000 })
    try {
      for (let i = 0; i < 200; i++) {
        const id = `${tag}-${index}-${i}`
        const ms = next() < LONG_SHARE ? LONG : SHORTEST + Math.floor(next() * (LONGEST - SHORTEST + 1))
        try {
          const res = await client.request({ method: 'POST', path: `/orders/${id}?ms=${ms}` })
          const body = await res.body.text()
          if (res.statusCode !== 201 || !body.includes(id)) {
            outcomes.set(id, { kind: 'failed', error: `${res.statusCode} ${body}` })
            return
          }
          outcomes.set(id, { kind: 'answered' })
          if (++answered === ANSWERS_BEFORE_SIGNAL) signal()
        } catch (err) {
          const code = (err as { code?: string }).code
          outcomes.set(id, code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'failed', error: `${code ?? ''} ${(err as Error).message}` })
          return
        }
      }
    } finally {
      await client.destroy()
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, (_, index) => worker(index)))
  return outcomes
}

interface Verdict {
  /** Committed, and its client saw an error. */
  ambiguous: string[]
  /**
   * Of those, the race no server can close: the report names the request as possibly committed (its handler ended its
   * response, before or after the cut) and its COMMIT went out before the deadline.
   */
  excused: string[]
  /** Committed, though the report names its handler as still running. */
  committedRunning: string[]
  /** Failed to its client and not committed. */
  rolledBack: string[]
  /** Answered 2xx and not committed (never allowed). */
  answeredNotCommitted: string[]
  counts: Record<string, number>
}

function judge (outcomes: Map<string, Outcome>, committed: Set<string>, lines: Line[], forced: Array<{ path: string, handler?: string }>): Verdict {
  // The app's own stdout, in the order things happened in that process: a COMMIT before the `deadline` line was
  // written before the deadline signal aborted.
  const stdout = lines.filter(line => line.stream === 'stdout')
  const deadline = stdout.findIndex(line => line.msg === 'deadline')
  const sentBefore = new Set(stdout.slice(0, deadline === -1 ? undefined : deadline).filter(line => line.msg === 'commit sent').map(line => line.id))
  const named = new Map(forced.map(request => [request.path, request.handler]))
  const failed = [...outcomes].filter(([, outcome]) => outcome.kind === 'failed').map(([id]) => id)
  const ambiguous = failed.filter(id => committed.has(id))
  const excused = ambiguous.filter(id => ['ended', 'ended-after-cut'].includes(named.get(`/orders/${id}`) ?? '') && sentBefore.has(id))
  const answered = [...outcomes].filter(([, outcome]) => outcome.kind === 'answered').map(([id]) => id)
  return {
    ambiguous,
    excused,
    committedRunning: [...named].filter(([path, handler]) => handler === 'running' && committed.has(path.slice('/orders/'.length))).map(([path]) => path),
    rolledBack: failed.filter(id => !committed.has(id)),
    answeredNotCommitted: answered.filter(id => !committed.has(id)),
    counts: {
      sent: [...outcomes.values()].filter(outcome => outcome.kind !== 'refused').length,
      answered: answered.length,
      failed: failed.length,
      refused: [...outcomes.values()].filter(outcome => outcome.kind === 'refused').length,
      cut: forced.length
    }
  }
}

const cases = [
  { name: 'Express with the pg recipe', framework: 'express', recipe: 'examples/pg-transaction.mjs', seed: 2601 },
  { name: 'Fastify with the pg recipe', framework: 'fastify', recipe: 'examples/pg-transaction.mjs', seed: 2602 },
  { name: 'Express with the Drizzle recipe', framework: 'express', recipe: 'examples/drizzle-transaction.mjs', seed: 2603 },
  { name: 'Express with a plain pool', framework: 'express', recipe: '', seed: 2604 },
  { name: 'Fastify with a plain pool', framework: 'fastify', recipe: '', seed: 2605 }
]

describe.runIf(runs)('writes cut by the drain deadline, on a real PostgreSQL', () => {
  // One database for the file, dropped after the last test (with the sessions a failed run may have left).
  beforeAll(async () => {
    await admin(client => client.query(`CREATE DATABASE ${database}`))
    await admin(client => client.query('CREATE TABLE orders (id text PRIMARY KEY)'), database)
  })
  afterAll(async () => {
    await admin(client => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  })

  async function run (framework: string, recipe: string, seed: number, tag: string): Promise<{ verdict: Verdict, app: ExampleProcess }> {
    const app = new ExampleProcess('test/fixtures/orders.mjs', {
      FRAMEWORK: framework, RECIPE: recipe, DRAIN_TIMEOUT: String(DRAIN_TIMEOUT), PGDATABASE: database
    })
    const { port } = await app.until(line => line.msg === 'listening', 'listening') as Line & { port: number }
    const outcomes = await load(`http://127.0.0.1:${port}`, tag, seed, () => { app.child.kill('SIGTERM') })
    const { code } = await app.exited
    const report = app.report
    expect(report, 'the report').toBeDefined()
    expect(code).toBe(1)
    const rows = await admin(client => client.query<{ id: string }>('SELECT id FROM orders WHERE id LIKE $1', [`${tag}-%`]), database)
    const verdict = judge(outcomes, new Set(rows.rows.map(row => row.id)), app.lines, report!.requests.forced)
    console.log(`writes (${framework}, ${recipe === '' ? 'a plain pool' : recipe}, seed ${seed}): ${JSON.stringify({
      ...verdict.counts, rolledBack: verdict.rolledBack.length, ambiguous: verdict.ambiguous.length,
      excused: verdict.excused, handlers: report!.requests.forced.map(request => request.handler)
    })}`)
    return { verdict, app }
  }

  it.each(cases.filter(entry => entry.recipe !== ''))('$name: no write commits after its client was told it failed, but the race the report names', async ({ framework, recipe, seed }) => {
    const { verdict, app } = await run(framework, recipe, seed, `r${seed}`)
    // The deadline cut transactions: otherwise this run proved nothing.
    expect(verdict.counts['cut']).toBeGreaterThan(0)
    expect(verdict.answeredNotCommitted).toEqual([])
    expect(verdict.ambiguous.filter(id => !verdict.excused.includes(id))).toEqual([])
    // A request the report names as running was rolled back: the recipe let no COMMIT out after the deadline.
    expect(verdict.committedRunning).toEqual([])
    expect(verdict.rolledBack.length).toBeGreaterThan(0)
    expect(app.lines.find(line => line.msg === 'db hook')).toMatchObject({ forced: true })
  }, 60_000)

  it.each(cases.filter(entry => entry.recipe === ''))('$name: writes commit after their clients were told they failed', async ({ framework, seed }) => {
    const { verdict } = await run(framework, '', seed, `p${seed}`)
    expect(verdict.counts['cut']).toBeGreaterThan(0)
    expect(verdict.answeredNotCommitted).toEqual([])
    expect(verdict.ambiguous.filter(id => !verdict.excused.includes(id)).length).toBeGreaterThan(0)
  }, 60_000)

  /** The fixture with the pg recipe and one order in flight, signalled once `ready` says the order is where wanted. */
  async function oneOrder (id: string, ms: number, ready: (line: Line) => boolean, env: Record<string, string> = {}): Promise<{
    app: ExampleProcess, response: Promise<unknown>, signalledAt: number
  }> {
    const app = new ExampleProcess('test/fixtures/orders.mjs', {
      FRAMEWORK: 'express', RECIPE: 'examples/pg-transaction.mjs', DRAIN_TIMEOUT: String(DRAIN_TIMEOUT), PGDATABASE: database, ...env
    })
    const { port } = await app.until(line => line.msg === 'listening', 'listening') as Line & { port: number }
    const client = new Client(`http://127.0.0.1:${port}`)
    const response = client.request({ method: 'POST', path: `/orders/${id}?ms=${ms}` }).then(res => res.body.text()).catch((err: unknown) => err)
    void response.finally(() => client.destroy())
    await app.until(ready, 'the order in flight')
    app.child.kill('SIGTERM')
    return { app, response, signalledAt: performance.now() }
  }

  /** The sessions of `name` PostgreSQL still has, waited for (on its own clock) until none are or `seconds` pass. */
  async function sessionsOf (name: string, seconds: number): Promise<number> {
    return admin(async client => {
      const count = async (pause: number): Promise<number> => Number((await client.query<{ n: string }>(
        'SELECT pg_sleep($2), (SELECT count(*) FROM pg_stat_activity WHERE application_name = $1) AS n', [name, pause])).rows[0]!.n)
      let left = await count(0)
      for (let waited = 0; left > 0 && waited < seconds; waited += 0.05) left = await count(0.05)
      return left
    })
  }

  it.each([
    { interval: '100ms', ended: true },
    { interval: '0', ended: false }
  ])('a transaction cut in a long statement has its connection closed at the deadline; PostgreSQL ends the statement then only with client_connection_check_interval $interval', async ({ interval, ended }) => {
    const name = `graceful-writes-${process.pid}-${interval}`
    const id = `long-${interval}`
    const { app, response, signalledAt } = await oneOrder(id, 10_000, line => line.msg === 'writing' && line.id === id, {
      PGAPPNAME: name, PGOPTIONS: `-c client_connection_check_interval=${interval}`
    })
    const { code } = await app.exited
    // The hook's pool.end() waited for no cut transaction: the process did not wait for the 10 s statement.
    expect(performance.now() - signalledAt).toBeLessThan(3_000)
    expect(code).toBe(1)
    expect(await response).toBeInstanceOf(Error)
    expect(app.lines.filter(line => line.msg === 'written')).toEqual([])
    expect(app.report?.requests.forced).toEqual([expect.objectContaining({ path: `/orders/${id}`, handler: 'running' })])
    // PostgreSQL's side: with the interval the statement is stopped and its session gone within a second or two;
    // without it the statement runs on after its client is gone (and holds its locks) until it ends by itself.
    expect(await sessionsOf(name, ended ? 2 : 1)).toBe(ended ? 0 : 1)
    await admin(client => client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]))
    const rows = await admin(client => client.query('SELECT 1 FROM orders WHERE id = $1', [id]), database)
    expect(rows.rowCount).toBe(0)
  }, 30_000)

  it('a COMMIT already on its way at the deadline is let finish: the handler learns it committed, and the report names it ended after the cut', async () => {
    const id = 'slow-commit'
    // A COMMIT that takes a second: a deferred constraint trigger sleeps in it, so the deadline comes while it runs.
    await admin(async client => {
      await client.query(`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$`)
      await client.query(`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON orders DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.id = '${id}') EXECUTE FUNCTION slow_commit()`)
    }, database)
    const { app, response } = await oneOrder(id, 10, line => line.msg === 'commit sent' && line.id === id)
    await app.exited
    expect(await response).toBeInstanceOf(Error)
    const stdout = app.lines.filter(line => line.stream === 'stdout').map(line => `${line.msg ?? ''} ${line.id ?? ''}`.trim())
    expect(stdout.slice(stdout.indexOf(`commit sent ${id}`))).toEqual([`commit sent ${id}`, 'deadline', 'db hook', `written ${id}`])
    expect(app.report?.requests.forced).toEqual([expect.objectContaining({ path: `/orders/${id}`, handler: 'ended-after-cut' })])
    const rows = await admin(client => client.query('SELECT 1 FROM orders WHERE id = $1', [id]), database)
    expect(rows.rowCount).toBe(1)
  }, 30_000)
})

describe.runIf(runs)('deadlineWarnings (examples/pg-transaction.mjs)', () => {
  it.each([
    { settings: 'statement_timeout=0', warns: true },
    { settings: 'statement_timeout=5000', warns: true },
    { settings: 'statement_timeout=100', warns: false },
    { settings: 'statement_timeout=0 -c client_connection_check_interval=1000', warns: false }
  ])('with $settings and a drain deadline of 150 ms: warns $warns', async ({ settings, warns }) => {
    const pool = new pg.Pool({ options: `-c ${settings}`, max: 1 })
    try {
      const warnings = await deadlineWarnings(pool, 150)
      expect(warnings).toHaveLength(warns ? 1 : 0)
      if (warns) expect(warnings[0]).toContain(`statement_timeout ${settings.startsWith('statement_timeout=0') ? '0 (none)' : '5000 ms'}`)
    } finally {
      await pool.end()
    }
  })
})
