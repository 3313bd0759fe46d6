// The flush tier: telemetry exporters and log transports, after the hooks and the report, so that the spans and lines
// of the whole shutdown, the report's own included, leave the process before it exits.
import { checkedStep, runHooks, type Hook, type HookResult } from './hooks.js'

export class Flushes {
  readonly #steps: Hook[] = []
  #state: 'waiting' | 'running' | 'done' = 'waiting'

  get steps (): readonly Hook[] {
    return this.#steps
  }

  /** True while the steps run: the process must not exit under them. */
  get running (): boolean {
    return this.#state === 'running'
  }

  add (name: unknown, fn: unknown, options: unknown, defaultTimeout: number): void {
    this.#steps.push(checkedStep('onFlush', name, fn, options, defaultTimeout, this.#steps, this.#state === 'waiting' ? undefined : 'stopped'))
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
