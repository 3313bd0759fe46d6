// Bun and Deno, measured: the contract's core scenarios run under each runtime's node:http (the fixture app, as
// node runs it, on real sockets with a real SIGTERM). What a runtime cannot run is skipped with the reason printed, and
// the reason itself is asserted, so that docs/runtimes.md cannot claim what no test shows.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { childEnv, Fixture, type FixtureConfig } from '../helpers/index.js'
import { fetchOnce } from '../helpers/sockets.js'
import { root } from '../helpers/packages.js'
import { coreScenarios } from '../helpers/scenarios.js'

const run = promisify(execFile)
const require = createRequire(import.meta.url)
const probeScript = fileURLToPath(new URL('../fixtures/runtime-probe.mjs', import.meta.url))

/** The binary the registry package installed (its postinstall puts the platform's binary there), or undefined. */
function binary (pkg: string, path: string): string | undefined {
  try {
    const file = join(dirname(require.resolve(`${pkg}/package.json`)), path)
    return existsSync(file) ? file : undefined
  } catch {
    return undefined
  }
}

interface Probe {
  /** The runtime's node:http Server is a node:net Server (what attach() checks). */
  netServer: boolean
  /** 'ok', or the error code attach() threw. */
  attach: string
  /** The server emits 'connection' for each socket: how graceful follows sockets. */
  connectionEvent: boolean
  /** The response in flight is on its socket (`socket._httpMessage`): how graceful finds it at the signal. */
  responseOnSocket: boolean
}

const runtimes = [
  {
    name: 'deno',
    bin: binary('deno', 'deno'),
    args: ['run', '--allow-all'],
    expected: { netServer: true, attach: 'ok', connectionEvent: true, responseOnSocket: true }
  },
  {
    name: 'bun',
    bin: binary('bun', 'bin/bun.exe'),
    args: [],
    // Bun's node:http Server emits 'connection' and keeps the response on its socket, but is not a node:net Server,
    // so attach() refuses it: nothing can be followed or drained.
    expected: { netServer: false, attach: 'GRACEFUL_ERR_NOT_A_SERVER', connectionEvent: true, responseOnSocket: true }
  }
]

describe.each(runtimes)('$name', ({ name, bin, args, expected }) => {
  let version = ''
  let probe: Probe | undefined
  beforeAll(async () => {
    if (bin === undefined) return
    version = (await run(bin, ['--version'], { timeout: 20_000 })).stdout.trim().split('\n')[0]!
    const { stdout } = await run(bin, [...args, probeScript], { env: childEnv(), timeout: 20_000 })
    probe = JSON.parse(stdout.trim().split('\n').at(-1)!) as Probe
  }, 30_000)

  const missing = `${name} is not installed (the ${name} package's postinstall did not run?)`

  it('gives graceful what the compatibility table says', (context) => {
    if (bin === undefined) {
      console.warn(`skipped: ${missing}`)
      context.skip(missing)
    }
    console.log(`${name} ${version}: ${JSON.stringify(probe)}`)
    expect(probe).toEqual(expected)
  })

  const fixture = (config: Omit<FixtureConfig, 'framework'> = {}): Fixture =>
    new Fixture({ framework: 'node', runtime: [bin!, ...args], ...config })
  coreScenarios(fixture, {
    unsupported: () => {
      if (bin === undefined) return missing
      if (probe?.attach !== 'ok') return `${name} ${version}: attach() throws ${probe?.attach} (its node:http Server is not a node:net Server)`
      return undefined
    }
  })
})

describe('the deno package\'s launcher', () => {
  const launcher = join(root, 'node_modules/.bin/deno')

  it('does not pass SIGTERM on: signal the deno binary itself', async (context) => {
    if (runtimes[0]!.bin === undefined || !existsSync(launcher)) {
      console.warn('skipped: deno is not installed')
      context.skip('deno is not installed')
    }
    const app = new Fixture({ framework: 'node', runtime: [launcher, 'run', '--allow-all'] })
    const port = await app.ready()
    const service = (await app.waitFor(event => event.event === 'ready', 'ready'))['pid'] as number
    try {
      // node_modules/.bin/deno runs the binary as a child process: the service is not the process signalled.
      expect(service).not.toBe(app.child.pid)
      app.kill('SIGTERM')
      await app.exited
      // The launcher is gone, the service has not even begun its shutdown.
      const ready = await fetchOnce(`http://127.0.0.1:${port}`, '/healthz')
      expect(ready.status).toBe(200)
      expect(JSON.parse(ready.body)).toMatchObject({ phase: 'running' })
    } finally {
      // The service this test started, ended by its PID.
      process.kill(service, 'SIGKILL')
    }
  })
})
