// Options given → an instance's settings: validated at once, defaults, Kubernetes' adaptive lame duck, the environment.
import { environmentOptions, gracePeriodFromEnv } from './environment.js'
import { gracefulError } from '../errors.js'
import { fallbackLogger, type GracefulLogger } from '../report/logger.js'
import type { GracefulOptions } from './options.js'
import type { ReadinessCheck } from '../serving/readiness.js'
import type { SignalExitCode } from '../report/report.js'
import {
  describe,
  invalid,
  validateBoolean,
  validateDuration,
  validateFunction,
  validateLogger,
  validateOptions,
  validatePath,
  validateSignals,
  validateSilence,
  type Validator
} from './validate.js'
import type { WarningName } from '../process/warnings.js'

export interface ResolvedOptions {
  signals: readonly NodeJS.Signals[]
  readinessPath: string
  livenessPath: string
  preStopDelay: number
  drainTimeout: number
  hookTimeout: number
  idleSocketGrace: number
  newSocketGrace: number
  exit: boolean
  signalExitCode: SignalExitCode
  logger: GracefulLogger | false
  close: ((reason: string) => unknown) | undefined
  checks: Readonly<Record<string, ReadinessCheck>>
  checkTimeout: number
  checkMaxAge: number
  exposeCheckErrors: boolean
  startup: 'auto' | 'manual'
  preStopQuietWindow: number
  preStopMinimumDelay: number
  gracePeriod: number | undefined
  silenceWarnings: boolean | readonly WarningName[]
  onCrash: 'exit' | 'drain'
  crashDrainTimeout: number
  fromEnvironment: ReadonlyArray<{ option: string, variable: string, value: string }>
}

function validateChecks (value: unknown, name: string): Readonly<Record<string, ReadinessCheck>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(name, 'an object of named check functions, such as { db: () => pool.query(\'select 1\') }', value)
  }
  const checks: Record<string, ReadinessCheck> = {}
  for (const [key, check] of Object.entries(value)) {
    if (typeof check !== 'function') throw invalid(`${name}.${key}`, 'a function', check)
    checks[key] = check as ReadinessCheck
  }
  return Object.freeze(checks)
}

function validateStartup (value: unknown, name: string): 'auto' | 'manual' {
  if (value !== 'auto' && value !== 'manual') throw invalid(name, '"auto" or "manual"', value)
  return value
}

function validateOnCrash (value: unknown, name: string): 'exit' | 'drain' {
  if (value !== 'exit' && value !== 'drain') throw invalid(name, '"exit" (Node\'s own behaviour) or "drain"', value)
  return value
}

function validateSignalExitCode (value: unknown, name: string): SignalExitCode {
  if (value !== 'zero' && value !== 'conventional') {
    throw invalid(name, '"zero" (exit 0 after a clean signal-initiated shutdown) or "conventional" (128 + the signal\'s number)', value)
  }
  return value
}

const validators: { readonly [K in keyof GracefulOptions]-?: Validator<GracefulOptions[K]> } = {
  signals: validateSignals,
  readinessPath: validatePath,
  livenessPath: validatePath,
  preStopDelay: validateDuration,
  drainTimeout: validateDuration,
  hookTimeout: validateDuration,
  idleSocketGrace: validateDuration,
  newSocketGrace: validateDuration,
  exit: validateBoolean,
  signalExitCode: validateSignalExitCode,
  logger: validateLogger,
  close: validateFunction,
  checks: validateChecks,
  checkTimeout: validateDuration,
  checkMaxAge: validateDuration,
  exposeCheckErrors: validateBoolean,
  startup: validateStartup,
  preStopQuietWindow: validateDuration,
  preStopMinimumDelay: validateDuration,
  gracePeriod: validateDuration,
  silenceWarnings: validateSilence,
  onCrash: validateOnCrash,
  crashDrainTimeout: validateDuration
}

const defaults: Omit<ResolvedOptions, 'logger' | 'close' | 'gracePeriod' | 'fromEnvironment'> = {
  signals: Object.freeze(['SIGTERM', 'SIGINT'] as const),
  readinessPath: '/healthz',
  livenessPath: '/livez',
  preStopDelay: 0,
  drainTimeout: 10_000,
  hookTimeout: 5_000,
  idleSocketGrace: 100,
  newSocketGrace: 1_000,
  exit: true,
  signalExitCode: 'zero',
  checks: Object.freeze({}),
  checkTimeout: 1_000,
  checkMaxAge: 1_000,
  exposeCheckErrors: false,
  startup: 'auto',
  preStopQuietWindow: 0,
  preStopMinimumDelay: 0,
  silenceWarnings: false,
  onCrash: 'exit',
  crashDrainTimeout: 3_000
}

/** Validates eagerly: a typo or a wrong unit fails at start-up with a hint, not during a shutdown nobody watches. */
export function resolveOptions (input: unknown): ResolvedOptions {
  const given = validateOptions<GracefulOptions>(input, validators, '')
  const fromEnvironment = environmentOptions(given)
  const options: ResolvedOptions = {
    ...defaults,
    ...(inTestWorker() ? TEST_WORKER_DEFAULTS : {}),
    ...(onKubernetes() && given.preStopDelay === undefined
      ? { ...KUBERNETES_LAME_DUCK, preStopDelay: Math.max(KUBERNETES_LAME_DUCK.preStopDelay, given.preStopMinimumDelay ?? 0) }
      : {}),
    ...given as Omit<ResolvedOptions, 'logger' | 'close' | 'gracePeriod' | 'fromEnvironment'>,
    logger: given.logger ?? fallbackLogger,
    close: given.close,
    gracePeriod: given.gracePeriod ?? gracePeriodFromEnv(),
    fromEnvironment
  }
  if (options.readinessPath === options.livenessPath) {
    throw gracefulError('GRACEFUL_ERR_CONFLICTING_OPTIONS', 'livenessPath', `a path other than readinessPath (${options.readinessPath})`, describe(options.livenessPath))
  }
  if (options.preStopMinimumDelay > options.preStopDelay) {
    throw gracefulError('GRACEFUL_ERR_CONFLICTING_OPTIONS', 'preStopMinimumDelay', `at most preStopDelay (${options.preStopDelay})`, describe(options.preStopMinimumDelay))
  }
  return options
}

// On Kubernetes, endpoints are removed as SIGTERM is sent and balancers learn it seconds later: a zero lame duck
// refuses traffic still routed here (docs/kubernetes.md). Unless `preStopDelay` is set, it is adaptive there.
const KUBERNETES_LAME_DUCK = { preStopDelay: 10_000, preStopMinimumDelay: 3_000, preStopQuietWindow: 1_000 }

function onKubernetes (): boolean {
  return process.env['KUBERNETES_SERVICE_HOST'] !== undefined && process.env['KUBERNETES_SERVICE_HOST'] !== ''
}

const TEST_WORKER_DEFAULTS = { signals: Object.freeze([]) as readonly NodeJS.Signals[], exit: false }

/** In a Vitest worker (a global not inherited by the processes a test starts: those keep the usual defaults). */
function inTestWorker (): boolean {
  return typeof (globalThis as { __vitest_worker__?: unknown }).__vitest_worker__ === 'object'
}
