// Writes that the drain deadline ends instead of leaving ambiguous, for Drizzle ORM on node-postgres: the transaction
// of examples/pg-transaction.mjs, with a Drizzle database on its connection, so that a transaction cut at the deadline
// is rolled back, never committed after its client was told it failed.
//
//   const order = await drizzleTransaction(pool, req.deadlineSignal, async (tx) => {
//     const [row] = await tx.insert(orders).values({ id }).returning()
//     return row
//   }, { schema })
import { drizzle } from 'drizzle-orm/node-postgres'
import { transaction } from './pg-transaction.mjs'

/**
 * `work(tx)` in one transaction that `signal` ends when it aborts (the drain deadline): `tx` is a Drizzle database on
 * the transaction's connection, so every query it makes is part of it; throw to roll back. `config` is what
 * `drizzle()` takes besides the client (`schema`, `casing`, `logger`). Drizzle's own `db.transaction()` on a pool gives
 * its connection back itself, so the deadline could not close it, nor hold back its COMMIT.
 */
export function drizzleTransaction (pool, signal, work, config = {}) {
  return transaction(pool, signal, client => work(drizzle({ ...config, client })))
}
