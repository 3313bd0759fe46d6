// Start-up warnings: facts of the process or the configuration that will lose requests or time at shutdown.
import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
import { misspeltVariables } from '../options/environment.js'
import { shellParent } from './shell-parent.js'
import { kWarned } from '../symbols.js'

/** The start-up warnings, by the name that silences each. */
export const WARNING_NAMES = ['pid1', 'run-script', 'kubernetes-prestop', 'budget', 'attach', 'shadowed-route', 'units', 'ineffective-option', 'competing-listener', 'shell-parent', 'unknown-variable'] as const
export type WarningName = typeof WARNING_NAMES[number]

type Warn = (obj: object, msg: string) => void

interface WarningOptions {
  /** Absent for a cluster primary, which has no lame duck of its own. */
  preStopDelay?: number
  drainTimeout?: number
  hookTimeout?: number
  close?: unknown
  gracePeriod?: number | undefined
  silenceWarnings: boolean | readonly WarningName[]
}


function warnedSet (): Set<WarningName> {
  const holder = globalThis as Record<symbol, Set<WarningName> | undefined>
  const warned = holder[kWarned] ?? new Set<WarningName>()
  holder[kWarned] = warned
  return warned
}

function silenced (options: WarningOptions, name: WarningName): boolean {
  const option = options.silenceWarnings
  if (option === true || (Array.isArray(option) && option.includes(name))) return true
  const env = process.env['GRACEFUL_SILENCE_WARNINGS']
  if (env === undefined || env === '') return false
  const names = env.split(',').map(entry => entry.trim())
  return names.includes('all') || names.includes('1') || names.includes('true') || names.includes(name)
}

/** Docker, Podman or Kubernetes (read per instance, never at import). */
function inContainer (): boolean {
  return process.env['KUBERNETES_SERVICE_HOST'] !== undefined || process.env['container'] !== undefined ||
    existsSync('/.dockerenv') || existsSync('/run/.containerenv')
}

function runScript (): string | undefined {
  const event = process.env['npm_lifecycle_event']
  // npx and `npm exec` set it too, to "npx": they run the command and are no run script (nor main process) here.
  if (event === undefined || event === '' || event === 'npx') return undefined
  const execPath = process.env['npm_execpath'] ?? ''
  const manager = /pnpm/.test(execPath) ? 'pnpm' : /yarn/.test(execPath) ? 'yarn' : 'npm'
  return `${manager} run ${event}`
}

// How the process was started, once per process: facts a library cannot fix that lose requests in production.
export function containerWarnings (options: WarningOptions, warn: Warn): void {
  const warned = warnedSet()
  const once = (name: WarningName, obj: object, msg: string): void => {
    if (warned.has(name) || silenced(options, name)) return
    warned.add(name)
    warn({ warning: name, ...obj }, `${msg} (silence with silenceWarnings: ['${name}'] or GRACEFUL_SILENCE_WARNINGS=${name})`)
  }
  // In a cluster the process facts are the primary's and the configuration is shared: the first worker speaks for all.
  const worker = cluster.isWorker
  if (worker && cluster.worker?.id !== 1) return
  if (process.pid === 1 && !worker) {
    once('pid1', { pid: 1 },
      'graceful: running as PID 1 without an init: the kernel gives PID 1 no default signal handling and nothing reaps ' +
      'zombie processes; run the container with an init (docker run --init, tini, dumb-init, or shareProcessNamespace)')
  }
  const script = runScript()
  if (script !== undefined && !worker && inContainer()) {
    once('run-script', { script },
      `graceful: started through "${script}" in a container: the package manager stays the main process and may not ` +
      'forward SIGTERM, or may exit before the drain ends; start node directly (CMD ["node", "server.js"])')
  }
  // Under a run script the shell above node is the package manager's own, and `run-script` names the cause.
  const shell = worker || script !== undefined || silenced(options, 'shell-parent') ? undefined : shellParent(inContainer)
  if (shell !== undefined) {
    once('shell-parent', { shell: shell.shell, command: shell.command, role: shell.role },
      `graceful: started by a shell (${shell.command}) that is ${shell.role === 'pid1' ? 'PID 1' : 'the container\'s main process'}: ` +
      'the stop signal goes to the shell, which does not hand it to node, so node is killed without draining ' +
      '(a shell-form CMD); use the exec form (CMD ["node", "server.js"]) or end the script with exec node server.js')
  }
  // An instance reads the GRACEFUL_* variables (a cluster primary, without preStopDelay, does not).
  const misspelt = options.preStopDelay === undefined ? [] : misspeltVariables()
  if (misspelt.length > 0) {
    once('unknown-variable', { variables: misspelt },
      `graceful: ${misspelt.map(({ variable, suggestion }) => `${variable} is not a variable graceful reads (did you mean ${suggestion}?)`).join('; ')}: ` +
      'it changes nothing')
  }
  if (process.env['KUBERNETES_SERVICE_HOST'] !== undefined && options.preStopDelay === 0) {
    once('kubernetes-prestop', { preStopDelay: 0 },
      'graceful: running in Kubernetes with preStopDelay 0: endpoints are removed at the same time as SIGTERM is sent, ' +
      'so load balancers keep routing here for a few seconds after the listener closes; set preStopDelay (or a preStop ' +
      'sleep hook, then silence this)')
  }
}

// Warns when the worst-case shutdown would not fit in the grace period (SIGKILL would cut it); true once it has warned
// or never can. `last`: the flush steps and the work sources' hand-back bound.
export function budgetWarning (options: WarningOptions, hooks: ReadonlyArray<{ timeout: number }>, warn: Warn,
  last: { flushes: ReadonlyArray<{ timeout: number }>, forceTimeout: number } = { flushes: [], forceTimeout: 0 }): boolean {
  const gracePeriod = options.gracePeriod
  if (gracePeriod === undefined || silenced(options, 'budget')) return true
  const closeTimeout = options.close === undefined ? 0 : options.hookTimeout ?? 0
  let hookTimeouts = 0
  for (const hook of hooks) hookTimeouts += hook.timeout
  let flushTimeouts = 0
  for (const step of last.flushes) flushTimeouts += step.timeout
  const budget = (options.preStopDelay ?? 0) + (options.drainTimeout ?? 0) + last.forceTimeout + closeTimeout +
    hookTimeouts + flushTimeouts
  if (budget <= gracePeriod) return false
  warn({
    warning: 'budget',
    gracePeriod,
    budget,
    preStopDelay: options.preStopDelay,
    drainTimeout: options.drainTimeout,
    closeTimeout,
    hookTimeouts,
    ...(flushTimeouts > 0 ? { flushTimeouts } : {}),
    ...(last.forceTimeout > 0 ? { workForceTimeout: last.forceTimeout } : {})
  }, `graceful: the shutdown can take ${budget} ms (preStopDelay + drainTimeout + close, hook and flush timeouts` +
    `${last.forceTimeout > 0 ? ' + the work sources\' hand-back' : ''}) but the ` +
    `grace period is ${gracePeriod} ms: the platform would kill the process before it ends; raise ` +
    'terminationGracePeriodSeconds or lower the timeouts (silence with silenceWarnings: [\'budget\'])')
  return true
}

/** Warnings about how one instance is used (a server never attached, a shadowed route): once per subject. */
export function usageWarnings (options: WarningOptions, warn: Warn): (name: WarningName, subject: string, obj: object, msg: string) => void {
  const warned = new Set<string>()
  return (name, subject, obj, msg) => {
    const key = `${name}:${subject}`
    if (warned.has(key) || silenced(options, name)) return
    warned.add(key)
    warn({ warning: name, ...obj }, `${msg} (silence with silenceWarnings: ['${name}'] or GRACEFUL_SILENCE_WARNINGS=${name})`)
  }
}

/** Durations that are seconds or more in any real deployment: below 100 ms, almost surely seconds written as ms. */
export const SECONDS_SCALE = ['preStopDelay', 'drainTimeout', 'hookTimeout', 'preStopQuietWindow', 'preStopMinimumDelay',
  'gracePeriod', 'crashDrainTimeout'] as const

export function unitsMistake (name: string, value: number | undefined): string | undefined {
  if (value === undefined || value <= 0 || value >= 100) return undefined
  return `graceful: ${name} is ${value} ms: durations are in milliseconds, so this is almost surely meant as ` +
    `${value} s (${value * 1000}); write ${value}_000, or ignore this if ${value} ms is meant`
}

export function ineffectiveOptions (options: { preStopDelay: number, preStopQuietWindow: number, preStopMinimumDelay: number }): Array<[string, string]> {
  const found: Array<[string, string]> = []
  if (options.preStopMinimumDelay > 0 && options.preStopQuietWindow === 0) {
    found.push(['preStopMinimumDelay', 'graceful: preStopMinimumDelay does nothing without preStopQuietWindow: the lame duck is the fixed preStopDelay'])
  }
  if (options.preStopQuietWindow > 0 && options.preStopDelay === 0) {
    found.push(['preStopQuietWindow', 'graceful: preStopQuietWindow does nothing with preStopDelay 0: there is no lame duck to end early'])
  }
  return found
}

export function configurationWarnings (
  options: { fromEnvironment: ReadonlyArray<{ option: string }> } & Record<typeof SECONDS_SCALE[number], number | undefined> & Parameters<typeof ineffectiveOptions>[0],
  warn: (name: WarningName, subject: string, obj: object, msg: string) => void
): void {
  const fromEnvironment = new Set(options.fromEnvironment.map(entry => entry.option))
  for (const name of SECONDS_SCALE) {
    // A variable carries its unit: what it says is what was meant.
    const mistake = fromEnvironment.has(name) ? undefined : unitsMistake(name, options[name])
    if (mistake !== undefined) warn('units', name, { option: name, value: options[name] }, mistake)
  }
  for (const [name, message] of ineffectiveOptions(options)) warn('ineffective-option', name, { option: name }, message)
}
