// The preload on the servers applications do not create themselves, built for real: Next.js `output: 'standalone'`
// and Nitro's node-server preset (React Router's server on the lines that run it), each built in a temp folder from
// test/fixtures/apps/, shipped the way docs/preload.md says (the traced bundle copied out, the preload copied in), and
// judged by graceful-check next to the same bundle without the preload.
//
// Building takes seconds and the result does not depend on the Node line, so these run where GRACEFUL_APP_BUILDS
// names them: .ci/run sets it on the machine's Node line (React Router: on the first line that has Node 22.22+).
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root } from '../helpers/packages.js'
import { expectNothingLost, expectRequestsLost, judge, PRELOAD_ENV, type Verdict } from './preload-check.js'

const run = promisify(execFile)
const builds = new Set((process.env['GRACEFUL_APP_BUILDS'] ?? '').split(',').map(name => name.trim()).filter(name => name !== ''))

function buildsHere (app: string): boolean {
  if (builds.has(app)) return true
  console.warn(`preload tests on a ${app} build skipped: they build the app, which CI does on one Node line only; ` +
    `GRACEFUL_APP_BUILDS=${app} runs them (.ci/run sets it)`)
  return false
}

/**
 * A copy of the fixture app in a temp folder inside the repository, so that it resolves the framework from the
 * repository's node_modules as an app of a pnpm workspace does; removed at the end.
 */
function appFolder (fixture: string): string {
  mkdirSync(join(root, '.tmp'), { recursive: true })
  const folder = mkdtempSync(join(root, '.tmp', `${fixture}-`))
  cpSync(join(root, 'test/fixtures/apps', fixture), folder, { recursive: true })
  return folder
}

/** Where a bundle runs: a temp folder outside the repository, where nothing but what was shipped can be resolved. */
function runFolder (name: string): string {
  return mkdtempSync(join(tmpdir(), `graceful-${name}-`))
}

/** docs/preload.md's copy step: the preload is one folder with no dependency; -L copies it out of pnpm's symlinks. */
async function copyPreload (destination: string): Promise<void> {
  mkdirSync(join(destination, 'node_modules/@graceful'), { recursive: true })
  await run('cp', ['-rL', 'node_modules/@graceful/core', join(destination, 'node_modules/@graceful/')], { cwd: root })
}

const startupLines = (verdict: Verdict): Array<Record<string, unknown>> => verdict.output.flatMap(line => {
  try {
    return [JSON.parse(line) as Record<string, unknown>]
  } catch {
    return []
  }
})

describe.runIf(buildsHere('next'))('Next.js, output: \'standalone\'', () => {
  const folders: string[] = []
  let server: string
  // Both runs: eight clients that open a connection per request besides the default load, so that a listener closed
  // while the balancer still routes here is always met (with two, Next.js without the preload lost nothing in one
  // run of four: no new connection happened to fall in that window).
  const load = { newConnection: 8 }

  beforeAll(async () => {
    const app = appFolder('next')
    folders.push(app)
    await run(process.execPath, [join(root, 'node_modules/next/dist/bin/next'), 'build'], {
      cwd: app, env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' }, timeout: 240_000
    })
    // The Dockerfile's runner stage: .next/standalone (its symlinks as they are), .next/static next to server.js.
    const standalone = join(app, '.next/standalone')
    await copyPreload(standalone)
    const shipped = runFolder('next')
    folders.push(shipped)
    cpSync(standalone, shipped, { recursive: true, verbatimSymlinks: true })
    // In a workspace, Next traces from the workspace's root: server.js sits at the app's path below it.
    server = join(shipped, relative(root, app))
    cpSync(join(app, '.next/static'), join(server, '.next/static'), { recursive: true })
  }, 300_000)

  afterAll(() => {
    for (const folder of folders) rmSync(folder, { recursive: true, force: true })
  })

  it('with NODE_OPTIONS=--require @graceful/core/register loses no request under load: probes flip, exit 0', async () => {
    const verdict = await judge({
      command: [process.execPath, 'server.js'],
      cwd: server,
      env: { ...PRELOAD_ENV, NODE_OPTIONS: '--require @graceful/core/register', HOSTNAME: '127.0.0.1' },
      ready: '/healthz',
      paths: ['GET /slow'],
      load
    })
    expectNothingLost(verdict)
    const lines = startupLines(verdict)
    // Next's own SIGTERM handler stayed off, and the app's route on the readiness path is named.
    expect(lines).toContainEqual(expect.objectContaining({ preload: true, set: expect.objectContaining({ NEXT_MANUAL_SIG_HANDLE: 'true' }) as unknown }))
    expect(lines).toContainEqual(expect.objectContaining({ warning: 'shadowed-route', path: '/healthz' }))
  }, 60_000)

  it('without the preload, in the same harness, loses requests', async () => {
    // Next.js closes its listener at the signal and exits once every connection has closed, which keep-alive
    // clients never let happen: graceful-check kills it at its timeout.
    expectRequestsLost(await judge({
      command: [process.execPath, 'server.js'],
      cwd: server,
      env: { NODE_OPTIONS: '', HOSTNAME: '127.0.0.1' },
      ready: '/healthz',
      paths: ['GET /slow'],
      load,
      timeout: 6_000
    }))
  }, 60_000)
})

describe.runIf(buildsHere('nitro'))('Nitro, node-server preset', () => {
  const folders: string[] = []
  let shipped: string

  beforeAll(async () => {
    const app = appFolder('nitro')
    folders.push(app)
    await run(process.execPath, [join(root, 'node_modules/nitropack/dist/cli/index.mjs'), 'build'], { cwd: app, timeout: 240_000 })
    // The Dockerfile's runner stage: .output, and the preload in node_modules of the folder node starts in.
    shipped = runFolder('nitro')
    folders.push(shipped)
    cpSync(join(app, '.output'), join(shipped, '.output'), { recursive: true, verbatimSymlinks: true })
    await copyPreload(shipped)
  }, 300_000)

  afterAll(() => {
    for (const folder of folders) rmSync(folder, { recursive: true, force: true })
  })

  it('with NODE_OPTIONS=--import @graceful/core/register loses no request under load: probes flip, exit 0', async () => {
    const verdict = await judge({
      command: [process.execPath, '.output/server/index.mjs'],
      cwd: shipped,
      env: { ...PRELOAD_ENV, NODE_OPTIONS: '--import @graceful/core/register', HOST: '127.0.0.1' },
      ready: '/healthz',
      paths: ['GET /slow']
    })
    expectNothingLost(verdict)
    expect(startupLines(verdict)).toContainEqual(expect.objectContaining({ preload: true, set: expect.objectContaining({ NITRO_SHUTDOWN_DISABLED: 'true' }) as unknown }))
  }, 60_000)

  it('without the preload, in the same harness, loses requests', async () => {
    // Nitro's own handler closes the listener at once and exits within half a second: requests pipelined behind its
    // Connection: close are lost in every run.
    expectRequestsLost(await judge({
      command: [process.execPath, '.output/server/index.mjs'],
      cwd: shipped,
      env: { NODE_OPTIONS: '', HOST: '127.0.0.1' },
      ready: '/slow',
      paths: ['GET /slow']
    }))
  }, 60_000)
})

// React Router 8 runs on Node 22.22+ only: .ci/run names it on the first line that has it.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
const reactRouterRuns = major > 22 || (major === 22 && minor >= 22)
describe.runIf(buildsHere('react-router'))('React Router, server-side rendering', () => {
  const folders: string[] = []
  let app: string

  beforeAll(async () => {
    if (!reactRouterRuns) throw new Error(`GRACEFUL_APP_BUILDS names react-router, which needs Node 22.22+; this is ${process.version}`)
    // Not a traced bundle: the image keeps its node_modules (npm ci --omit=dev), @graceful/core among them. So the
    // app runs where it was built, in the repository, whose node_modules stand for the image's.
    app = appFolder('react-router')
    folders.push(app)
    await run(process.execPath, [join(root, 'node_modules/@react-router/dev/bin.cjs'), 'build'], { cwd: app, timeout: 240_000 })
  }, 300_000)

  afterAll(() => {
    for (const folder of folders) rmSync(folder, { recursive: true, force: true })
  })

  it('its custom Node.js server (Express) with --import @graceful/core/register loses no request under load: probes flip, exit 0', async () => {
    expectNothingLost(await judge({
      command: [process.execPath, '--import', '@graceful/core/register', 'server.js'],
      cwd: app,
      env: PRELOAD_ENV,
      ready: '/healthz',
      paths: ['GET /slow']
    }))
  }, 60_000)

  it('its custom Node.js server without the preload, in the same harness, loses requests', async () => {
    expectRequestsLost(await judge({ command: [process.execPath, 'server.js'], cwd: app, ready: '/slow', paths: ['GET /slow'] }))
  }, 60_000)
})
