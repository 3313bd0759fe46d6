// What readiness and liveness answer: readiness checks, their cache and coalescing, and the start-up gate.
import { performance } from 'node:perf_hooks'
import type { Phase } from '../report/report.js'
import { bounded, TIMED_OUT } from '../shutdown/timeout.js'

/** A probe's answer: status, headers and body. */
export interface HealthResponse {
  statusCode: number
  headers: Record<string, string>
  body: string
}

/**
 * A readiness check: resolves (or returns) when the dependency is usable; throws, rejects or returns `false` when it
 * is not. Receives a signal that aborts when the check's timeout passes, so it can cancel its query.
 */
export type ReadinessCheck = (signal: AbortSignal) => unknown

/** One check's outcome, as the readiness body shows it. */
export interface CheckResult {
  status: 'ok' | 'failed' | 'timed-out'
  durationMs: number
  /** The error's message: in the body only with `exposeCheckErrors`, always in the log. */
  error?: string
}

interface Checked {
  ok: boolean
  checks: Record<string, CheckResult>
}

export interface ReadinessOptions {
  readinessPath: string
  livenessPath: string
  checks: Readonly<Record<string, ReadinessCheck>>
  checkTimeout: number
  checkMaxAge: number
  exposeCheckErrors: boolean
  startup: 'auto' | 'manual'
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const

/** Readiness runs the checks at most once per `checkMaxAge`, and probes during a run share it: one query per window. */
export class Readiness {
  readonly #options: ReadinessOptions
  readonly #names: readonly string[]
  readonly #onChange: (name: string, result: CheckResult) => void
  #started: boolean
  #last: Checked | undefined
  #lastAt = 0
  #running: Promise<Checked> | undefined

  constructor (options: ReadinessOptions, onChange: (name: string, result: CheckResult) => void) {
    this.#options = options
    this.#names = Object.keys(options.checks)
    this.#started = options.startup === 'auto'
    this.#onChange = onChange
  }

  get started (): boolean {
    return this.#started
  }

  ready (): void {
    this.#started = true
  }

  /** Synchronous unless the checks have to run (not for liveness, a shutdown, starting, no checks, a fresh result). */
  answer (kind: 'readiness' | 'liveness', phase: Phase, retryAfterSeconds: number): HealthResponse | Promise<HealthResponse> {
    if (kind === 'liveness') return respond(200, { status: 'ok', phase })
    if (phase !== 'running') return respond(503, { status: 'shutting down', phase }, retryAfterSeconds)
    if (!this.#started) return respond(503, { status: 'starting', phase }, this.#retrySeconds())
    if (this.#names.length === 0) return respond(200, { status: 'ok', phase })
    const fresh = this.#last !== undefined && performance.now() - this.#lastAt < this.#options.checkMaxAge
    if (fresh && this.#last !== undefined) return this.#format(this.#last, phase)
    this.#running ??= this.#run()
    return this.#running.then(checked => this.#format(checked, phase))
  }

  #format (checked: Checked, phase: Phase): HealthResponse {
    let checks = checked.checks
    if (!this.#options.exposeCheckErrors) {
      checks = {}
      for (const [name, result] of Object.entries(checked.checks)) {
        checks[name] = { status: result.status, durationMs: result.durationMs }
      }
    }
    return checked.ok
      ? respond(200, { status: 'ok', phase, checks })
      : respond(503, { status: 'failing', phase, checks }, this.#retrySeconds())
  }

  #retrySeconds (): number {
    return Math.max(1, Math.ceil(this.#options.checkMaxAge / 1000))
  }

  async #run (): Promise<Checked> {
    try {
      const results = await Promise.all(this.#names.map(name => this.#check(name)))
      const checked: Checked = { ok: true, checks: {} }
      this.#names.forEach((name, index) => {
        const result = results[index]!
        if (result.status !== 'ok') checked.ok = false
        const previous = this.#last?.checks[name]?.status
        if (previous === undefined ? result.status !== 'ok' : previous !== result.status) this.#onChange(name, result)
        checked.checks[name] = result
      })
      this.#last = checked
      this.#lastAt = performance.now()
      return checked
    } finally {
      this.#running = undefined
    }
  }

  async #check (name: string): Promise<CheckResult> {
    const check = this.#options.checks[name]!
    const started = performance.now()
    const timeout = this.#options.checkTimeout
    try {
      const outcome = await bounded(check, timeout, () => new Error(`check "${name}" did not finish within ${timeout} ms`))
      const durationMs = round(performance.now() - started)
      if (outcome === TIMED_OUT) return { status: 'timed-out', durationMs, error: `did not finish within ${timeout} ms` }
      if (outcome === false) return { status: 'failed', durationMs, error: 'returned false' }
      return { status: 'ok', durationMs }
    } catch (err) {
      return { status: 'failed', durationMs: round(performance.now() - started), error: err instanceof Error ? err.message : String(err) }
    }
  }
}

function respond (statusCode: number, body: object, retryAfterSeconds?: number): HealthResponse {
  const headers: Record<string, string> = { ...JSON_HEADERS }
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds)
  return { statusCode, headers, body: JSON.stringify(body) }
}

function round (ms: number): number {
  return Math.round(ms * 10) / 10
}
