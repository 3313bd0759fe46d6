// Types for bench/rollout.mjs, which test/rollout.test.ts imports.
export interface RolloutOptions {
  framework: 'express' | 'fastify'
  /** The framework without graceful, closing on SIGTERM as its documentation shows. */
  bare?: boolean
  /** @default 2_000 with graceful, 0 bare (ms) */
  preStopDelay?: number
  /** More graceful options for the instances (the adaptive lame duck's, say). @default {} */
  options?: Record<string, unknown>
  /** Times each instance is replaced. @default 2 */
  rounds?: number
  /** Instances behind HAProxy. @default 2 */
  slots?: number
  /** Keep-alive clients. @default 12 */
  connections?: number
  /** Clients that open a new connection for each request. @default 4 */
  freshClients?: number
  /** Every n-th keep-alive request is a slow one. @default 10 */
  slowEvery?: number
  /** @default 5 (ms) */
  fastMs?: number
  /** @default 400 (ms) */
  slowMs?: number
  /** @default 100_000 */
  maxRequests?: number
  /** `option redispatch` in HAProxy's configuration. @default false */
  redispatch?: boolean
  /** Path of the HAProxy binary. @default findHaproxy() */
  haproxy?: string | undefined
  log?: (line: string) => void
}

export interface KindCounts {
  sent: number
  ok: number
  failed: number
  maxMs: number
}

export interface RolloutResult {
  framework: string
  variant: 'graceful' | 'bare'
  preStopDelay: number
  options: Record<string, unknown>
  redispatch: boolean
  replacements: number
  durationMs: number
  sent: number
  ok: number
  failed: number
  kinds: Record<'fast' | 'slow' | 'new connection', KindCounts>
  failures: Record<string, number>
  /** HAProxy's log of the requests that failed or were retried: "status termination-state [after n retries]" → count. */
  proxyLog: Record<string, number>
  /** The replaced instances: exit code and ms from SIGTERM to exit (null when it had to be killed). */
  exits: Array<{ name: string, code: number | null, signal: string | null, exitedMs: number | null }>
}

export const check: { inter: number, fall: number, rise: number }
export function findHaproxy (): string | undefined
export function rollout (options: RolloutOptions): Promise<RolloutResult>
export function formatTable (results: RolloutResult[]): string
