// Types for bench/rollout.mjs, which test/check/rollout.test.ts imports.
import type { CheckReport } from '@graceful/check'

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
  /** `option redispatch` in HAProxy's configuration. @default false */
  redispatch?: boolean
  /** Path of the HAProxy binary. @default found by graceful-check */
  haproxy?: string | undefined
  /** The instances see KUBERNETES_SERVICE_HOST and get no preStopDelay: graceful's default there. @default false */
  kubernetes?: boolean
}

export interface RolloutResult {
  framework: string
  variant: 'graceful' | 'graceful, Kubernetes default' | 'bare'
  preStopDelay: number | 'default'
  options: Record<string, unknown>
  redispatch: boolean
  report: CheckReport
}

export function rollout (options: RolloutOptions): Promise<RolloutResult>
export function formatTable (results: RolloutResult[]): string
