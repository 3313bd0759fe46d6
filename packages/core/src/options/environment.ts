// The `GRACEFUL_*` variables operators tune per deployment, and near-misses of them; read per instance, not at import.
import { gracefulError } from '../errors.js'
import type { GracefulOptions } from './options.js'
import { closest, describe, MAX_DELAY } from './validate.js'

type EnvironmentOption = 'preStopDelay' | 'drainTimeout' | 'hookTimeout' | 'preStopQuietWindow' | 'preStopMinimumDelay' | 'readinessPath' | 'livenessPath'

/** Each variable, when set, wins over the code's option (the manifest has the last word); the start-up log says so. */
export const ENVIRONMENT: ReadonlyArray<{ option: EnvironmentOption, variable: string }> = [
  { option: 'preStopDelay', variable: 'GRACEFUL_PRE_STOP_DELAY' },
  { option: 'drainTimeout', variable: 'GRACEFUL_DRAIN_TIMEOUT' },
  { option: 'hookTimeout', variable: 'GRACEFUL_HOOK_TIMEOUT' },
  { option: 'preStopQuietWindow', variable: 'GRACEFUL_PRE_STOP_QUIET_WINDOW' },
  { option: 'preStopMinimumDelay', variable: 'GRACEFUL_PRE_STOP_MINIMUM_DELAY' },
  { option: 'readinessPath', variable: 'GRACEFUL_READINESS_PATH' },
  { option: 'livenessPath', variable: 'GRACEFUL_LIVENESS_PATH' }
]

const PREFIX = 'GRACEFUL_'
export const KNOWN_VARIABLES: readonly string[] = [...ENVIRONMENT.map(entry => entry.variable), 'GRACEFUL_SILENCE_WARNINGS']

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000 }

/** A blank value (`value: ""`, a template that rendered nothing) is "not set": the code's option stands. */
function valueOf (variable: string): string | undefined {
  const raw = process.env[variable]
  return raw === undefined || raw.trim() === '' ? undefined : raw
}

/** Reads the variables into `given` (they win). A duration needs a unit: a bare `5` is the very mistake to prevent. */
export function environmentOptions (given: Partial<GracefulOptions>): Array<{ option: string, variable: string, value: string }> {
  const set: Array<{ option: string, variable: string, value: string }> = []
  for (const { option, variable } of ENVIRONMENT) {
    const raw = valueOf(variable)
    if (raw === undefined) continue
    if (option === 'readinessPath' || option === 'livenessPath') {
      given[option] = path(variable, raw)
    } else {
      given[option] = duration(variable, raw)
    }
    set.push({ option, variable, value: raw })
  }
  return set
}

function duration (variable: string, raw: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*$/.exec(raw)
  const ms = match === null ? Number.NaN : Number(match[1]) * UNITS[match[2]!]!
  if (!Number.isFinite(ms) || ms > MAX_DELAY) {
    throw gracefulError('GRACEFUL_ERR_INVALID_ENV', variable, 'a duration with its unit, such as "5s", "500ms" or "1m"', describe(raw))
  }
  return ms
}

function path (variable: string, raw: string): string {
  const value = raw.trim()
  if (!/^\/[^\s?#]*$/.test(value)) {
    throw gracefulError('GRACEFUL_ERR_INVALID_ENV', variable, 'a path that starts with "/" and holds no spaces, "?" or "#"', describe(value))
  }
  return value
}

/** The downward API cannot pass `terminationGracePeriodSeconds` to the container: the manifest repeats it here. */
export function gracePeriodFromEnv (): number | undefined {
  const raw = valueOf('TERMINATION_GRACE_PERIOD_SECONDS')
  if (raw === undefined) return undefined
  const seconds = Number(raw)
  if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || seconds * 1000 > MAX_DELAY) {
    throw gracefulError('GRACEFUL_ERR_INVALID_ENV', 'TERMINATION_GRACE_PERIOD_SECONDS', 'a number of seconds such as "30"', describe(raw))
  }
  return seconds * 1000
}

// Variables close to one graceful reads (`GRACEFUL_DRAIN_TIMOUT`), with the name meant: named, not thrown, since a
// manifest shared by several versions may carry one an older version does not know. Far names are the application's.
export function misspeltVariables (env: NodeJS.ProcessEnv = process.env): Array<{ variable: string, suggestion: string }> {
  const known = KNOWN_VARIABLES.map(name => name.slice(PREFIX.length))
  const found: Array<{ variable: string, suggestion: string }> = []
  for (const variable of Object.keys(env)) {
    if (!variable.toUpperCase().startsWith(PREFIX) || KNOWN_VARIABLES.includes(variable)) continue
    // Compared without the prefix they share: it would make every name look close to every other.
    const suggestion = closest(variable.slice(PREFIX.length), known)
    if (suggestion !== undefined) found.push({ variable, suggestion: PREFIX + suggestion })
  }
  return found
}
