// Cleanup hooks: registered by the application, run after the drain one after the other, each bounded.
import { performance } from 'node:perf_hooks'
import { gracefulError } from '../errors.js'
import { describe, notAnObject, validateDuration } from '../options/validate.js'
import type { ForcedRequest } from '../report/report.js'
import { bounded, TIMED_OUT } from './timeout.js'

/** A cleanup step (close a pool, flush logs): its signal aborts at its timeout; the context says what was cut. */
export type ShutdownHook = (signal: AbortSignal, shutdown: ShutdownContext) => unknown

/** What a cleanup step knows of the shutdown it runs in. */
export interface ShutdownContext {
  /** The signal's name (`SIGTERM`, …), `shutdown()`, or the application's own close that started it. */
  reason: string
  /** The drain deadline cut something: requests (their sockets destroyed) or work. */
  forced: boolean
  /** Requests cut whose handlers had not ended when this step began: their work may still commit. End it, not wait. */
  running: readonly ForcedRequest[]
  /** The instance's `deadlineSignal`: aborted when the drain deadline cut something. */
  deadline: AbortSignal
}

export interface HookOptions {
  /**
   * Bound for this hook in milliseconds; past it the hook is reported as timed out, its signal aborts, the next starts.
   * @default the instance's `hookTimeout` (5 000 ms unless set)
   */
  timeout?: number
}

export interface HookResult {
  name: string
  status: 'ok' | 'failed' | 'timed-out'
  durationMs: number
  /** The error's message, when the hook threw, rejected or timed out. */
  error?: string
}

export interface Hook {
  name: string
  fn: ShutdownHook
  timeout: number
}

/** The context of steps run outside a shutdown's cleanup (the flush tier after a report): nothing was cut. */
function noContext (): ShutdownContext {
  return { reason: '', forced: false, running: [], deadline: new AbortController().signal }
}

export interface HookObserver {
  start: (hook: Hook) => void
  end: (result: HookResult) => void
}

/** Runs the hooks one after the other, in the order given; none can stop or hold up the ones after it. */
export async function runHooks (hooks: readonly Hook[], observer?: HookObserver, context: () => ShutdownContext = noContext): Promise<HookResult[]> {
  const results: HookResult[] = []
  for (const hook of hooks) {
    observer?.start(hook)
    const result = await runHook(hook, context())
    results.push(result)
    observer?.end(result)
  }
  return results
}

async function runHook (hook: Hook, context: ShutdownContext): Promise<HookResult> {
  const started = performance.now()
  try {
    const outcome = await bounded(signal => hook.fn(signal, context), hook.timeout,
      () => gracefulError('GRACEFUL_ERR_HOOK_TIMEOUT', 'hook', hook.name, hook.timeout))
    if (outcome === TIMED_OUT) {
      return { name: hook.name, status: 'timed-out', durationMs: elapsed(started), error: `hook "${hook.name}" did not finish within ${hook.timeout} ms` }
    }
    return { name: hook.name, status: 'ok', durationMs: elapsed(started) }
  } catch (err) {
    return { name: hook.name, status: 'failed', durationMs: elapsed(started), error: err instanceof Error ? err.message : String(err) }
  }
}

function elapsed (since: number): number {
  return Math.round((performance.now() - since) * 10) / 10
}

// Checks a step as it is registered: a mistake is a GracefulError now, never a crash during the shutdown.
export function checkedStep (kind: 'onShutdown' | 'onFlush', name: unknown, fn: unknown, options: unknown,
  defaultTimeout: number, registered: readonly Hook[], late: string | undefined): Hook {
  if (typeof name !== 'string' || name.length === 0) {
    throw gracefulError('GRACEFUL_ERR_INVALID_NAME', `${kind}(name, fn)`, describe(name))
  }
  if (typeof fn !== 'function') {
    throw gracefulError('GRACEFUL_ERR_NOT_A_FUNCTION', `${kind}("${name}", fn)`, 'fn', describe(fn))
  }
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw notAnObject(`${kind}("${name}")`, options)
  }
  const given = (options as HookOptions | undefined)?.timeout
  const timeout = given === undefined ? defaultTimeout : validateDuration(given, `${kind}("${name}").timeout`)
  const noun = kind === 'onShutdown' ? 'hook' : 'flush step'
  if (late !== undefined) {
    throw gracefulError('GRACEFUL_ERR_HOOK_TOO_LATE', kind, name, late, noun)
  }
  if (registered.some(step => step.name === name)) {
    throw gracefulError('GRACEFUL_ERR_DUPLICATE_HOOK', noun, name, noun)
  }
  return { name, fn: fn as ShutdownHook, timeout }
}
