import type { Pool, PoolClient } from 'pg'

/**
 * Checks a client out of `pool` for `use`; closes its connection the moment `signal` aborts (the drain deadline),
 * unless `use` has called `committing()`, right before sending its COMMIT.
 */
export declare function withConnection<T> (pool: Pool, signal: AbortSignal, use: (client: PoolClient, committing: () => void) => Promise<T>): Promise<T>
/** BEGIN, `work(client)`, COMMIT, on a connection the deadline closes: nothing commits after the deadline. */
export declare function transaction<T> (pool: Pool, signal: AbortSignal, work: (client: PoolClient) => Promise<T>): Promise<T>
/** What lets a statement cut at the deadline run on in PostgreSQL, as sentences for the application's logger. */
export declare function deadlineWarnings (pool: Pool, drainTimeout: number): Promise<string[]>
