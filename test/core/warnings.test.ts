// Start-up warnings: each in a child process with the environment that triggers it, once per process, silenceable.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createGraceful, isGracefulError } from '@graceful/core'
import { KNOWN_VARIABLES, misspeltVariables } from '../../packages/core/dist/options/environment.js'
import { childEnv, Fixture, recordingLogger, thrown, type FixtureConfig } from '../helpers/index.js'

const quiet = { signals: [], exit: false } as const

/** Starts the fixture, waits until it listens (every warning is out by then), and ends it. */
async function warningsOf (config: FixtureConfig): Promise<{ names: string[], app: Fixture }> {
  const app = new Fixture(config)
  await app.ready()
  app.child.kill('SIGKILL')
  await app.exited
  return { names: app.warnings(), app }
}

const kubernetes = { KUBERNETES_SERVICE_HOST: '10.96.0.1' }
const pnpmStart = { npm_lifecycle_event: 'start', npm_execpath: '/usr/local/lib/node_modules/pnpm/bin/pnpm.cjs' }
// The pid-namespace trick needs privileges a CI container may not have: the test says so rather than pass empty.
const unshare = ['unshare', '--pid', '--fork', '--kill-child']
const canUnshare = spawnSync(unshare[0]!, [...unshare.slice(1), 'true']).status === 0
// Privileges, not an install: a container without them skips this one test, and says so.
if (!canUnshare) console.warn('warnings.test.ts: the PID 1 test is skipped: `unshare --pid --fork` is not permitted here')

describe('container warnings', () => {
  it('none in a plain environment', async () => {
    const { names } = await warningsOf({ framework: 'node' })
    expect(names).toEqual([])
  })

  it.skipIf(!canUnshare)('PID 1 without an init: warned once, however many instances', async () => {
    const { names, app } = await warningsOf({ framework: 'node', instances: 2, servers: 2, wrapper: unshare })
    expect(names).toEqual(['pid1'])
    expect(app.events.find(e => e['warning'] === 'pid1')!.msg).toMatch(/PID 1 without an init.*--init/)
    expect((await warningsOf({ framework: 'node', wrapper: unshare, env: { GRACEFUL_SILENCE_WARNINGS: 'pid1' } })).names).toEqual([])
  })

  it('started through a package manager\'s run script in a container: warned once, naming the command', async () => {
    const { names, app } = await warningsOf({
      framework: 'express',
      options: { preStopDelay: 5_000 },
      env: { ...pnpmStart, ...kubernetes }
    })
    expect(names).toEqual(['run-script'])
    expect(app.events.find(e => e['warning'] === 'run-script')!.msg).toMatch(/"pnpm run start".*CMD \["node"/)
  })

  it.each(['npx', 'exec'])('a process npm started for `npm %s` (npm_lifecycle_event=npx) in a container is not taken for a run script', async (command) => {
    // What npm sets for `npx vitest` or `npm exec graceful-check`: the lifecycle event is "npx" either way.
    const npx = { npm_lifecycle_event: 'npx', npm_execpath: `/usr/lib/node_modules/npm/bin/${command === 'npx' ? 'npx' : 'npm'}-cli.js`, container: 'podman' }
    expect((await warningsOf({ framework: 'node', env: npx })).names).toEqual([])
    expect((await warningsOf({ framework: 'node', env: { ...npx, npm_lifecycle_event: 'start' } })).names).toEqual(['run-script'])
  })

  it('Kubernetes with preStopDelay set to 0: warned once per process; not with a lame duck, nor with the default one', async () => {
    const { names } = await warningsOf({ framework: 'node', instances: 2, servers: 2, env: kubernetes, options: { preStopDelay: 0 } })
    expect(names).toEqual(['kubernetes-prestop'])
    expect((await warningsOf({ framework: 'fastify', options: { preStopDelay: 3_000 }, env: kubernetes })).names).toEqual([])
    expect((await warningsOf({ framework: 'fastify', env: kubernetes })).names).toEqual([])
  })

  it('on Kubernetes, with no preStopDelay given, the lame duck is adaptive: at least 3 s, over after 1 s without fresh traffic, at most 10 s', async () => {
    const app = new Fixture({ framework: 'node', env: kubernetes })
    await app.ready()
    app.kill('SIGTERM')
    expect((await app.exited).code).toBe(0)
    const stopping = app.report().phases.stopping
    expect(stopping).toBeGreaterThanOrEqual(2_990)
    expect(stopping).toBeLessThan(10_000)
    expect(app.events.some(event => event.msg === 'graceful: lame duck ended early, no new traffic')).toBe(true)
  })

  it('are silenced by the option, by name or all at once, and by GRACEFUL_SILENCE_WARNINGS', async () => {
    const env = { ...pnpmStart, ...kubernetes }
    const zero = { preStopDelay: 0 }
    expect((await warningsOf({ framework: 'node', env, options: { ...zero, silenceWarnings: ['kubernetes-prestop'] } })).names).toEqual(['run-script'])
    expect((await warningsOf({ framework: 'node', env, options: { ...zero, silenceWarnings: true } })).names).toEqual([])
    expect((await warningsOf({ framework: 'node', env: { ...env, GRACEFUL_SILENCE_WARNINGS: 'run-script, kubernetes-prestop' }, options: zero })).names).toEqual([])
    expect((await warningsOf({ framework: 'node', env: { ...env, GRACEFUL_SILENCE_WARNINGS: 'all' }, options: zero })).names).toEqual([])
  })

  it('in a cluster, the primary warns about the process and the first worker about the configuration, each once', async () => {
    const app = new Fixture({ framework: 'node', cluster: { workers: 2 }, env: { ...pnpmStart, ...kubernetes }, options: { preStopDelay: 0 } })
    await app.waitFor(() => app.eventsNamed('ready').length >= 2, 'both workers ready')
    app.child.kill('SIGKILL')
    await app.exited
    expect(app.warnings().sort()).toEqual(['kubernetes-prestop', 'run-script'])
    // The run script is the primary's fact; the lame duck is the workers' configuration, told by worker 1 alone.
    expect(app.events.find(e => e['warning'] === 'run-script')!['worker']).toBeUndefined()
    expect(app.events.find(e => e['warning'] === 'kubernetes-prestop')!['worker']).toBe(1)
  })

  it('nothing is logged at import time', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', 'await import("@graceful/core"); await import("@graceful/express")'], {
      env: childEnv({ ...pnpmStart, ...kubernetes }),
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    const [code] = await once(child, 'exit') as [number | null]
    expect(code).toBe(0)
    expect(output).toBe('')
  })

  it('rejects an unknown warning name', () => {
    const caught = thrown(() => createGraceful({ ...quiet, logger: false, silenceWarnings: ['pid-1'] as never }))
    expect(isGracefulError(caught, 'GRACEFUL_ERR_INVALID_OPTION')).toBe(true)
    expect((caught as Error).message).toMatch(/pid1, run-script, kubernetes-prestop, budget, attach, shadowed-route, units, ineffective-option, competing-listener, shell-parent, unknown-variable/)
  })
})

// A shell-form CMD: `/bin/sh -c "node server.js"` as the container's main process. The shells run "$@" and then
// `exit`, so that even a shell that replaces itself with its last command (bash) stays node's parent, as dash does.
const shellRuns = ['sh', '-c', '"$@"; exit $?', 'sh']
// The shell is read from /proc, which has to be the new PID namespace's own, as a container's is.
const unshareProc = [...unshare, '--mount-proc']
const canMountProc = canUnshare && spawnSync(unshareProc[0]!, [...unshareProc.slice(1), 'true']).status === 0
if (!canMountProc) console.warn('warnings.test.ts: the shell-parent tests in a PID namespace are skipped: `unshare --pid --fork --mount-proc` is not permitted here')

describe('a shell that will not hand the stop signal to node', () => {
  it.skipIf(!canMountProc)('a shell as PID 1 above node is named, with its command line; node itself is not PID 1', async () => {
    const { names, app } = await warningsOf({ framework: 'node', instances: 2, wrapper: [...unshareProc, ...shellRuns] })
    expect(names).toEqual(['shell-parent'])
    const warning = app.events.find(e => e['warning'] === 'shell-parent')!
    expect(warning).toMatchObject({ shell: 'sh', role: 'pid1' })
    expect(warning['command']).toMatch(/^sh -c "\$@"; exit \$\? sh .*node/)
    expect(warning.msg).toMatch(/started by a shell \(sh -c .*\) that is PID 1: .*CMD \["node", "server.js"\]/)
  })

  it.skipIf(!canMountProc)('a shell that is the container\'s main process behind an init is named', async () => {
    // PID 1 stands for tini: a process that forwards the stop signal to its child, here the shell above node.
    const { names, app } = await warningsOf({ framework: 'express', env: { container: 'podman' }, wrapper: [...unshareProc, ...shellRuns, ...shellRuns] })
    expect(names).toEqual(['shell-parent'])
    expect(app.events.find(e => e['warning'] === 'shell-parent')).toMatchObject({ role: 'main' })
    expect(app.events.find(e => e['warning'] === 'shell-parent')!.msg).toMatch(/the container's main process/)
  })

  it.skipIf(!canMountProc)('is silenced by name', async () => {
    expect((await warningsOf({ framework: 'node', wrapper: [...unshareProc, ...shellRuns], env: { GRACEFUL_SILENCE_WARNINGS: 'shell-parent' } })).names).toEqual([])
  })

  it.skipIf(!canMountProc)('under a package manager\'s run script, only run-script is named: the shell above node is its own', async () => {
    const npmStart = { npm_lifecycle_event: 'start', npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js', container: 'podman' }
    expect((await warningsOf({ framework: 'node', env: npmStart, wrapper: [...unshareProc, ...shellRuns, ...shellRuns] })).names).toEqual(['run-script'])
  })

  it('a shell that is neither PID 1 nor a child of it (a terminal, a script, a test runner) is not named, in a container or not', async () => {
    expect((await warningsOf({ framework: 'node', wrapper: shellRuns })).names).toEqual([])
    expect((await warningsOf({ framework: 'node', wrapper: shellRuns, env: { container: 'podman' } })).names).toEqual([])
  })
})

describe('a misspelt GRACEFUL_* variable', () => {
  it.each([
    ['GRACEFUL_DRAIN_TIMOUT', '5s', 'GRACEFUL_DRAIN_TIMEOUT'],
    ['GRACEFUL_PRESTOP_DELAY', '5s', 'GRACEFUL_PRE_STOP_DELAY'],
    ['graceful_hook_timeout', '2s', 'GRACEFUL_HOOK_TIMEOUT'],
    ['GRACEFUL_SILENCE_WARNING', 'pid1', 'GRACEFUL_SILENCE_WARNINGS']
  ])('%s is named with the closest known variable, and the service starts', async (variable, value, suggestion) => {
    const { names, app } = await warningsOf({ framework: 'node', env: { [variable]: value } })
    expect(names).toEqual(['unknown-variable'])
    const warning = app.events.find(e => e['warning'] === 'unknown-variable')!
    expect(warning['variables']).toEqual([{ variable, suggestion }])
    expect(warning.msg).toBe(`graceful: ${variable} is not a variable graceful reads (did you mean ${suggestion}?): it changes nothing ` +
      '(silence with silenceWarnings: [\'unknown-variable\'] or GRACEFUL_SILENCE_WARNINGS=unknown-variable)')
  })

  it('known variables, names far from every known one (the application\'s own) and other prefixes are not named', async () => {
    const env = { GRACEFUL_DRAIN_TIMEOUT: '5s', GRACEFUL_SILENCE_WARNINGS: 'budget', GRACEFUL_PG_DIR: '/tmp/pg', MY_GRACEFUL_DRAIN_TIMOUT: '5s' }
    expect((await warningsOf({ framework: 'node', env })).names).toEqual([])
  })

  it('is silenced by name', async () => {
    expect((await warningsOf({ framework: 'node', env: { GRACEFUL_DRAIN_TIMOUT: '5s', GRACEFUL_SILENCE_WARNINGS: 'unknown-variable' } })).names).toEqual([])
  })

  it('one edit away from a known variable, the known one is suggested; a known one is never named', () => {
    const letter = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ_'.split(''))
    fc.assert(fc.property(fc.constantFrom(...KNOWN_VARIABLES), fc.nat(), letter, fc.constantFrom('replace', 'delete', 'insert'), (known, at, char, edit) => {
      // Edits after the prefix: a name that no longer starts with GRACEFUL_ is not one of ours to judge.
      const index = 'GRACEFUL_'.length + at % (known.length - 'GRACEFUL_'.length)
      const misspelt = edit === 'insert'
        ? known.slice(0, index) + char + known.slice(index)
        : known.slice(0, index) + (edit === 'replace' ? char : '') + known.slice(index + 1)
      const found = misspeltVariables({ [misspelt]: '1', [known]: '1' })
      expect(found).toEqual(KNOWN_VARIABLES.includes(misspelt) ? [] : [{ variable: misspelt, suggestion: known }])
    }))
  })
})

describe('shutdown budget', () => {
  it('warns once, when a hook registered later makes the shutdown longer than gracePeriod', () => {
    const { logger, lines } = recordingLogger()
    const g = createGraceful({ ...quiet, logger, gracePeriod: 10_000, preStopDelay: 3_000, drainTimeout: 5_000 })
    try {
      g.onShutdown('cache', () => undefined, { timeout: 1_000 })
      expect(lines.filter(line => line.obj['warning'] === 'budget')).toHaveLength(0)
      g.onShutdown('db', () => undefined, { timeout: 2_000 })
      g.onShutdown('metrics', () => undefined)
      const warnings = lines.filter(line => line.obj['warning'] === 'budget')
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatchObject({
        level: 'warn',
        obj: { gracePeriod: 10_000, budget: 11_000, preStopDelay: 3_000, drainTimeout: 5_000, hookTimeouts: 3_000 }
      })
      expect(warnings[0]!.msg).toMatch(/11000 ms.*grace period is 10000 ms/)
    } finally {
      g.dispose()
    }
  })

  it('counts the application\'s close (the Fastify plugin\'s) with hookTimeout, and is silent when everything fits', () => {
    const { logger, lines } = recordingLogger()
    const fits = createGraceful({ ...quiet, logger, gracePeriod: 30_000, preStopDelay: 5_000, drainTimeout: 10_000 })
    fits.onShutdown('db', () => undefined)
    fits.dispose()
    expect(lines).toHaveLength(0)
    const g = createGraceful({ ...quiet, logger, gracePeriod: 15_000, preStopDelay: 5_000, drainTimeout: 10_000, close: () => undefined })
    g.dispose()
    expect(lines.filter(line => line.obj['warning'] === 'budget')).toMatchObject([{ obj: { closeTimeout: 5_000, budget: 20_000 } }])
  })

  it('takes the grace period from TERMINATION_GRACE_PERIOD_SECONDS, which the manifest sets', async () => {
    const { names, app } = await warningsOf({
      framework: 'fastify',
      options: { preStopDelay: 2_000, drainTimeout: 3_000 },
      hooks: [{ name: 'db', timeout: 1_000 }],
      env: { TERMINATION_GRACE_PERIOD_SECONDS: '10' }
    })
    expect(names).toEqual(['budget'])
    // Fastify's close counts too: 2 000 + 3 000 + 5 000 (close) fits in 10 s; the db hook's 1 000 does not.
    expect(app.events.find(e => e['warning'] === 'budget')).toMatchObject({ gracePeriod: 10_000, budget: 11_000 })
    expect((await warningsOf({ framework: 'node', options: { drainTimeout: 3_000 }, env: { TERMINATION_GRACE_PERIOD_SECONDS: '30' } })).names).toEqual([])
  })

  it('rejects a grace period in the environment that is not a number of seconds', () => {
    const saved = process.env['TERMINATION_GRACE_PERIOD_SECONDS']
    process.env['TERMINATION_GRACE_PERIOD_SECONDS'] = '30s'
    try {
      const caught = thrown(() => createGraceful({ ...quiet, logger: false }))
      expect(isGracefulError(caught, 'GRACEFUL_ERR_INVALID_ENV')).toBe(true)
      expect((caught as Error).message).toMatch(/TERMINATION_GRACE_PERIOD_SECONDS.*"30s"/)
    } finally {
      if (saved === undefined) Reflect.deleteProperty(process.env, 'TERMINATION_GRACE_PERIOD_SECONDS')
      else process.env['TERMINATION_GRACE_PERIOD_SECONDS'] = saved
    }
  })
})

describe('configuration warnings', () => {
  it('a duration that is almost surely seconds written as milliseconds is named, once, for options and hook timeouts', () => {
    const { logger, lines } = recordingLogger()
    const g = createGraceful({ ...quiet, logger, drainTimeout: 10, preStopDelay: 5 })
    g.onShutdown('db', () => undefined, { timeout: 2 })
    g.onShutdown('cache', () => undefined, { timeout: 2_000 })
    const units = lines.filter(line => line.obj['warning'] === 'units')
    expect(units.map(line => line.obj['option'] ?? line.obj['hook'])).toEqual(['preStopDelay', 'drainTimeout', 'db'])
    expect(units[1]!.msg).toMatch(/drainTimeout is 10 ms: durations are in milliseconds.*10_000/)
    g.dispose()
  })

  it('options that do nothing in the combination given are named', () => {
    const { logger, lines } = recordingLogger()
    createGraceful({ ...quiet, logger, preStopDelay: 5_000, preStopMinimumDelay: 2_000 }).dispose()
    createGraceful({ ...quiet, logger, preStopQuietWindow: 1_000 }).dispose()
    const ineffective = lines.filter(line => line.obj['warning'] === 'ineffective-option').map(line => line.obj['option'])
    expect(ineffective).toEqual(['preStopMinimumDelay', 'preStopQuietWindow'])
    createGraceful({ ...quiet, logger, preStopDelay: 5_000, preStopMinimumDelay: 2_000, preStopQuietWindow: 1_000 }).dispose()
    expect(lines.filter(line => line.obj['warning'] === 'ineffective-option')).toHaveLength(2)
  })

  it('silencing on gracefulCluster() a warning only workers give is named as doing nothing', async () => {
    const app = new Fixture({ framework: 'node', cluster: { workers: 1, options: { silenceWarnings: ['budget'] } } })
    await app.waitFor(event => event['warning'] === 'ineffective-option', 'the ineffective-option warning')
    expect(app.events.find(event => event['warning'] === 'ineffective-option')!.msg).toMatch(/silenceWarnings budget does nothing on gracefulCluster\(\)/)
    app.child.kill('SIGKILL')
    await app.exited
  })
})

describe('a competing signal listener', () => {
  it('is named at start-up, and runs once the shutdown is over instead of at the signal', async () => {
    const app = new Fixture({ framework: 'node', script: 'own-sigterm-listener.mjs' })
    await app.ready()
    expect(app.warnings()).toEqual(['competing-listener'])
    expect(app.events.find(event => event['warning'] === 'competing-listener')!.msg)
      .toMatch(/another SIGTERM listener is installed \(a listener added before graceful \(an anonymous function\)\): .* graceful runs it once its own shutdown is over/)
    app.kill('SIGTERM')
    expect((await app.exited).code).toBe(0)
    const reported = app.events.findIndex(event => event.msg === 'graceful: shutdown complete')
    expect(app.events.findIndex(event => event.event === 'own-handler')).toBeGreaterThan(reported)
    const alone = new Fixture({ framework: 'node' })
    await alone.ready()
    alone.kill('SIGTERM')
    await alone.exited
    expect(alone.warnings()).toEqual([])
  })
})

describe('configuration from the environment', () => {
  function withEnv<T> (env: Record<string, string>, fn: () => T): T {
    const saved = Object.fromEntries(Object.keys(env).map(name => [name, process.env[name]]))
    Object.assign(process.env, env)
    try {
      return fn()
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) Reflect.deleteProperty(process.env, name)
        else process.env[name] = value
      }
    }
  }

  it('GRACEFUL_* variables win over the options, with their unit, and the start-up log says so', async () => {
    const { logger, lines } = recordingLogger()
    const g = withEnv({ GRACEFUL_PRE_STOP_DELAY: '300ms', GRACEFUL_DRAIN_TIMEOUT: '1.5s', GRACEFUL_READINESS_PATH: '/ready' },
      () => createGraceful({ ...quiet, logger, preStopDelay: 0, drainTimeout: 10_000 }))
    expect(g.readinessPath).toBe('/ready')
    expect(lines.some(line => /configured from the environment: preStopDelay from GRACEFUL_PRE_STOP_DELAY=300ms, drainTimeout from GRACEFUL_DRAIN_TIMEOUT=1.5s/.test(line.msg ?? ''))).toBe(true)
    const report = await g.shutdown()
    // The lame duck lasted the environment's 300 ms, not the option's 0.
    expect(report.phases.stopping).toBeGreaterThanOrEqual(290)
  })

  it.each(['', '  '])('a variable set to %j is ignored, as if unset: the option given in code stands', (blank) => {
    const { logger, lines } = recordingLogger()
    const env = { GRACEFUL_DRAIN_TIMEOUT: blank, GRACEFUL_READINESS_PATH: blank, TERMINATION_GRACE_PERIOD_SECONDS: blank }
    const g = withEnv(env, () => createGraceful({ ...quiet, logger, readinessPath: '/ready', drainTimeout: 100_000, gracePeriod: 1_000 }))
    g.dispose()
    expect(g.readinessPath).toBe('/ready')
    expect(lines.map(line => line.msg)).not.toContainEqual(expect.stringMatching(/configured from the environment/))
    // The code's drainTimeout (100 s) against the code's grace period (1 s): the budget warning says the option stood.
    expect(lines.find(line => line.obj['warning'] === 'budget')).toMatchObject({ obj: { drainTimeout: 100_000, gracePeriod: 1_000 } })
  })

  it.each([{ GRACEFUL_PRE_STOP_DELAY: '5' }, { GRACEFUL_DRAIN_TIMEOUT: 'ten seconds' }, { GRACEFUL_LIVENESS_PATH: 'livez' }])('a duration without its unit, or a bad path, is refused with GRACEFUL_ERR_INVALID_ENV naming the variable: %o', (env) => {
    const caught = withEnv(env, () => thrown(() => createGraceful({ ...quiet, logger: false })))
    expect(isGracefulError(caught, 'GRACEFUL_ERR_INVALID_ENV'), String(caught)).toBe(true)
    expect((caught as Error).message).toContain(Object.keys(env)[0])
  })
})
