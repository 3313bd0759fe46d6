// An Express service whose requests run multi-statement PostgreSQL transactions, shut down with graceful: the pool
// ends in an onShutdown hook, after the last in-flight transaction has committed and its response has left. A
// transaction the drain deadline cuts is rolled back, never committed after its client was told it failed
// (examples/pg-transaction.mjs).
//
//   node examples/postgres.mjs                       with the usual PG* variables (PGHOST, PGPORT, PGUSER, ...)
//   eval "$(bash .ci/postgres.sh start)" && node examples/postgres.mjs     a throwaway cluster on 127.0.0.1
//
// Then `curl -X POST 'localhost:3000/transfer?id=a1'` and Ctrl-C (or `kill -TERM <pid>`).
import express from 'express'
import pg from 'pg'
import { graceful } from '@graceful/express'
import { deadlineWarnings, transaction } from './pg-transaction.mjs'

const port = Number(process.env.PORT ?? 3000)
const log = (entry) => console.log(JSON.stringify({ ...entry, t: performance.timeOrigin + performance.now() }))

const drainTimeout = 10_000
// PostgreSQL ends any statement after drainTimeout: one cut at the deadline (its connection closed, the statement left
// running on the server) holds its locks no longer than that.
const pool = new pg.Pool({ max: 10, application_name: process.env.APP_NAME ?? 'graceful-example', statement_timeout: drainTimeout })
const shutdown = graceful({ drainTimeout })

// Two accounts and a ledger: a transfer moves one unit and writes two ledger rows, in one transaction.
await pool.query(`
  CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, balance bigint NOT NULL);
  CREATE TABLE IF NOT EXISTS ledger (request_id text NOT NULL, step int NOT NULL, PRIMARY KEY (request_id, step));
  INSERT INTO accounts VALUES (1, 1000000), (2, 0) ON CONFLICT DO NOTHING;
`)

const app = express()
app.use(shutdown) // first: serves /healthz and /livez, tracks requests
app.post('/transfer', async (req, res) => {
  const id = String(req.query.id ?? '')
  // How long the transaction holds its locks, as a slow query would.
  const holdSeconds = Number(req.query.ms ?? 20) / 1000
  // req.deadlineSignal aborts at the drain deadline: a transfer still running then is rolled back, not committed.
  await transaction(pool, req.deadlineSignal, async (client) => {
    await client.query('INSERT INTO ledger (request_id, step) VALUES ($1, 1)', [id])
    await client.query('UPDATE accounts SET balance = balance - 1 WHERE id = 1')
    await client.query('SELECT pg_sleep($1)', [holdSeconds])
    await client.query('UPDATE accounts SET balance = balance + 1 WHERE id = 2')
    await client.query('INSERT INTO ledger (request_id, step) VALUES ($1, 2)', [id])
  })
  res.json({ id, committed: true })
})

// What would let a statement cut at the deadline run on in PostgreSQL, said once at start-up.
for (const warning of await deadlineWarnings(pool, drainTimeout)) log({ msg: 'warning', warning })

const server = shutdown.attach(app.listen(port, '127.0.0.1', () => {
  log({ msg: 'listening', port: server.address().port, pid: process.pid })
}))

// Registered first, so it runs last: after the drain and after any hook registered later.
// After a drain cut at its deadline, `running` names the requests whose handlers had not ended: their transactions
// closed their connections at the deadline, so pool.end() does not wait for them to commit.
shutdown.onShutdown('db', async (_signal, { running }) => {
  log({ msg: 'pool ending', inFlight: shutdown.inFlight, clients: pool.totalCount, cut: running.length })
  await pool.end()
  log({ msg: 'pool ended', clients: pool.totalCount })
}, { timeout: 5_000 })
