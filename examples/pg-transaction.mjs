// Writes that the drain deadline ends instead of leaving ambiguous, for node-postgres (pg.Pool): a transaction cut at
// the deadline is rolled back, never committed after its client was told it failed (docs/reliability.md, "Writes and
// the deadline"). Copy this file; pass each request's deadline signal (req.deadlineSignal, request.deadlineSignal,
// or graceful.deadlineSignal on node:http, Koa, Hono and NestJS):
//
//   const order = await transaction(pool, req.deadlineSignal, async (client) => {
//     const { rows } = await client.query('INSERT INTO orders (id) VALUES ($1) RETURNING *', [id])
//     return rows[0]
//   })

/**
 * Checks a client out of `pool` for `use(client, committing)` and gives it back after. If `signal` aborts first (the
 * drain deadline), the client is released with an error at that moment: node-postgres closes its connection (at once,
 * even in the middle of a statement), PostgreSQL rolls back the transaction it had open, and every later query on it
 * fails without being sent, a COMMIT too. `use` calls `committing()` right before it sends its COMMIT: from then on
 * the deadline leaves the connection alone, since closing it could no longer stop the COMMIT, only hide its outcome.
 */
export async function withConnection (pool, signal, use) {
  signal.throwIfAborted()
  const client = await pool.connect()
  let released = false
  const release = (err) => {
    if (released) return
    released = true
    client.release(err)
  }
  let closedAtDeadline = false
  const cut = () => {
    closedAtDeadline = true
    release(signal.reason)
  }
  signal.addEventListener('abort', cut, { once: true })
  const committing = () => { signal.removeEventListener('abort', cut) }
  try {
    // The deadline may have passed while the pool had no free client: nothing was sent yet.
    signal.throwIfAborted()
    return await use(client, committing)
  } catch (err) {
    // Cut, the query fails with "Connection terminated" or "Client was closed": the deadline is the cause.
    throw closedAtDeadline ? signal.reason : err
  } finally {
    signal.removeEventListener('abort', cut)
    release()
  }
}

/**
 * BEGIN, `work(client)`, COMMIT, on a connection the deadline closes (withConnection): rolled back when `work` throws,
 * and by PostgreSQL itself when the deadline cuts it before its COMMIT. A COMMIT already sent when the deadline comes
 * is let finish, and its outcome returned: the one race no server can close (its client was cut before the answer),
 * which graceful's report names (`handler: 'ended'` or `'ended-after-cut'`).
 */
export function transaction (pool, signal, work) {
  return withConnection(pool, signal, async (client, committing) => {
    await client.query('BEGIN')
    try {
      const result = await work(client)
      committing()
      await client.query('COMMIT')
      return result
    } catch (err) {
      // Cut by the deadline, the connection is closed already and PostgreSQL rolls the transaction back itself.
      if (!signal.aborted) await client.query('ROLLBACK')
      throw err
    }
  })
}

/**
 * What lets a statement cut at the deadline run on in PostgreSQL after the connection closed (and hold its locks there,
 * where the next instance's writes wait for them): read once at start-up, as the pool's sessions see it, and returned
 * as a warning for the application's logger when nothing bounds it. PostgreSQL notices a closed connection in the
 * middle of a statement only when `client_connection_check_interval` is set (PostgreSQL 14+, on Linux among others);
 * otherwise `statement_timeout` (and `transaction_timeout`, PostgreSQL 17) end it, if no longer than `drainTimeout`.
 */
export async function deadlineWarnings (pool, drainTimeout) {
  const { rows } = await pool.query(`SELECT name, setting::bigint AS ms FROM pg_settings
    WHERE name IN ('statement_timeout', 'transaction_timeout', 'client_connection_check_interval')`)
  const ms = Object.fromEntries(rows.map(row => [row.name, Number(row.ms)]))
  if (ms.client_connection_check_interval > 0) return []
  const bounds = ['statement_timeout', 'transaction_timeout'].filter(name => ms[name] > 0 && ms[name] <= drainTimeout)
  if (bounds.length > 0) return []
  const set = ['statement_timeout', 'transaction_timeout'].filter(name => name in ms)
    .map(name => `${name} ${ms[name] === 0 ? '0 (none)' : `${ms[name]} ms`}`).join(', ')
  return [`a statement cut at the drain deadline (${drainTimeout} ms) runs on in PostgreSQL until it ends, holding ` +
    `its locks (${set}, client_connection_check_interval 0): set statement_timeout to at most ${drainTimeout} ms, ` +
    'or client_connection_check_interval so that PostgreSQL stops it when its connection closes']
}
