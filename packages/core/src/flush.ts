// The flush tier: telemetry exporters and log transports, flushed after the hooks and after the report is logged, so
// that the spans and log lines of the whole shutdown (the report's own line included) leave the process before it
// exits.
import { GracefulError } from './errors.js'
import { runHooks, type Hook, type HookOptions, type HookResult, type ShutdownHook } from './hooks.js'
import { describe, notAnObject, validateDuration } from './validate.js'

export class Flushes {
  readonly #steps: Hook[] = []
  #state: 'waiting' | 'running' | 'done' = 'waiting'

  /** The steps registered so far, for the budget check. */
  get steps (): readonly Hook[] {
    return this.#steps
  }

  /** True while the steps run: the process must not exit under them. */
  get running (): boolean {
    return this.#state === 'running'
  }

  add (name: unknown, fn: unknown, options: unknown, defaultTimeout: number): void {
    if (typeof name !== 'string' || name.length === 0) {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT', `onFlush(name, fn) expects a non-empty name; received ${describe(name)}.`)
    }
    if (typeof fn !== 'function') {
      throw new GracefulError('GRACEFUL_ERR_INVALID_ARGUMENT', `onFlush("${name}", fn) expects fn to be a function; received ${describe(fn)}.`)
    }
    if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
      throw notAnObject(`onFlush("${name}")`, options)
    }
    const given = (options as HookOptions | undefined)?.timeout
    const timeout = given === undefined ? defaultTimeout : validateDuration(given, `onFlush("${name}").timeout`)
    if (this.#state !== 'waiting') {
      throw new GracefulError('GRACEFUL_ERR_HOOK_TOO_LATE',
        `onFlush("${name}") was called after the flush steps were started; register them at start-up.`)
    }
    if (this.#steps.some(step => step.name === name)) {
      throw new GracefulError('GRACEFUL_ERR_DUPLICATE_HOOK',
        `a flush step named "${name}" is already registered; names identify flush steps in the report.`)
    }
    this.#steps.push({ name, fn: fn as ShutdownHook, timeout })
  }

  /** Runs the steps once, last registered first (a log transport registered first flushes last), each bounded. */
  async run (): Promise<HookResult[]> {
    this.#state = 'running'
    try {
      return await runHooks([...this.#steps].reverse())
    } finally {
      this.#state = 'done'
    }
  }
}
