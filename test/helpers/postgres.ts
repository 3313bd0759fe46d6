// The real PostgreSQL the database tests run against: the PG* variables (.ci/run starts a throwaway cluster on
// 127.0.0.1 and sets them), and an admin connection for setting up and reading back.
import pg from 'pg'

/** Why the tests cannot run here, or undefined when PostgreSQL answers. */
export async function postgresUnreachable (): Promise<string | undefined> {
  const client = new pg.Client({ database: process.env['PGDATABASE'] ?? 'postgres', connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (err) {
    return `no PostgreSQL reachable at ${process.env['PGHOST'] ?? 'localhost'}:${process.env['PGPORT'] ?? '5432'} ` +
      `(${(err as Error).message}); .ci/run starts one (bash .ci/postgres.sh start)`
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Runs `fn` on a connection of its own to `db` (the PGDATABASE one unless given), closed after. */
export async function admin<T> (fn: (client: pg.Client) => Promise<T>, db = process.env['PGDATABASE'] ?? 'postgres'): Promise<T> {
  const client = new pg.Client({ database: db })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}
