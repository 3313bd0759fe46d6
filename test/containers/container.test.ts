// examples/docker/Dockerfile in a real container runtime (podman, rootful, with runc), stopped under load with
// `podman stop`, as `docker stop` and the kubelet stop a container: the documented set-up drains and exits 0, and each
// broken set-up docs/docker.md describes fails the way the page says, and draws the warning it says.
//
// Runs where .ci/run sets PODMAN_BASE_IMAGE: on the machine's Node line only (building images is slow and the image
// holds the machine's node, so other lines would test nothing new), after .ci/podman.sh has built the base image
// that stands in for node:20-slim (no image registry is reachable from CI). Elsewhere it skips, saying why.
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Client } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePorts } from '../../packages/check/src/service.js'
import { CLIENTS, PRE_STOP_DELAY, REQUEST_MS, setUps, STOP_TIMEOUT, type SetUp } from './container-setups.js'
import { pack, publishedPackages, root, run } from '../helpers/packages.js'

const baseImage = process.env['PODMAN_BASE_IMAGE']
if (baseImage === undefined) {
  console.warn('container.test.ts is skipped: PODMAN_BASE_IMAGE is not set (.ci/run sets it on the machine\'s Node line, ' +
    'once .ci/podman.sh has built the base image: `eval "$(bash .ci/podman.sh start)"`)')
}

// crun fails on this host's hybrid cgroup layout; and the sandbox forbids raising limits above its own.
const PODMAN = ['--runtime', 'runc']
const LIMITS = ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=1000:1000']
const tag = `${process.pid}`
const image = `localhost/graceful-test-shop-api:${tag}`
const made: { images: string[], containers: Set<string>, context: string } = { images: [], containers: new Set(), context: '' }

async function podman (args: string[], timeout = 120_000): Promise<string> {
  const { stdout } = await run('podman', [...PODMAN, ...args], { timeout, maxBuffer: 16 * 1024 * 1024 })
  return stdout
}

beforeAll(async () => {
  if (baseImage === undefined) return
  // The build context a user has: examples/docker as committed, plus the two tarballs the guide has them copy in.
  made.context = mkdtempSync(join(tmpdir(), 'graceful-container-'))
  for (const file of ['Dockerfile', 'package.json', 'package-lock.json', 'server.mjs']) {
    copyFileSync(join(root, 'examples/docker', file), join(made.context, file))
  }
  for (const pkg of publishedPackages().filter(pkg => ['@graceful/core', '@graceful/express'].includes(pkg.manifest.name))) {
    renameSync(await pack(pkg, made.context), join(made.context, `${pkg.manifest.name.replace('@graceful/', 'graceful-')}.tgz`))
  }
  // FROM node:20-slim, replaced by the base image built from Debian and this machine's node: no registry here.
  const started = performance.now()
  await podman(['build', ...LIMITS, '--from', baseImage, '--tag', image, made.context], 300_000)
  made.images.push(image)
  console.log(`container.test.ts: the example image built in ${Math.round(performance.now() - started)} ms`)
}, 320_000)

afterAll(async () => {
  for (const name of made.containers) await podman(['rm', '--force', name]).catch(() => undefined)
  for (const name of made.images.reverse()) await podman(['rmi', '--force', name]).catch(() => undefined)
  if (made.context !== '') rmSync(made.context, { recursive: true, force: true })
}, 60_000)

/** The set-up's image: the documented one, or one built on it with the set-up's last lines. */
async function imageFor (setUp: SetUp, index: number): Promise<string> {
  if (setUp.lines.length === 0) return image
  const derived = `localhost/graceful-test-setup-${index}:${tag}`
  const context = join(made.context, `setup-${index}`)
  rmSync(context, { recursive: true, force: true })
  mkdirSync(context, { recursive: true })
  writeFileSync(join(context, 'Dockerfile'), [`FROM ${image}`, ...setUp.lines, ''].join('\n'))
  await podman(['build', ...LIMITS, '--pull=never', '--tag', derived, context])
  made.images.push(derived)
  return derived
}

/** The container's output, line by line (stdout and stderr), and a wait for a line. */
function follow (child: ChildProcess): { lines: string[], waitFor: (text: string) => Promise<void> } {
  const lines: string[] = []
  const waiters: Array<{ text: string, resolve: () => void }> = []
  const onLine = (line: string): void => {
    lines.push(line)
    for (const waiter of waiters.filter(w => line.includes(w.text))) waiter.resolve()
  }
  createInterface({ input: child.stdout! }).on('line', onLine)
  createInterface({ input: child.stderr! }).on('line', onLine)
  const exited = new Promise<never>((_resolve, reject) => {
    child.once('exit', code => { reject(new Error(`the container exited (${String(code)}) first:\n${lines.join('\n')}`)) })
  })
  exited.catch(() => undefined)
  return {
    lines,
    waitFor: async (text) => {
      if (lines.some(line => line.includes(text))) return
      await Promise.race([new Promise<void>(resolve => { waiters.push({ text, resolve }) }), exited])
    }
  }
}

interface Load { served: number, lost: string[], refused: number, flowing: Promise<void>, stop: () => Promise<void> }

/**
 * Keep-alive clients on 127.0.0.1, through podman's port publishing, each sending one slow request after another
 * until told to stop, or until a connection is refused (the listener is closed: nothing behind a balancer would come
 * here then). A request that was sent and got no response is lost.
 */
function load (port: number, clients = CLIENTS): Load {
  let flowing = (): void => {}
  const result: Load = { served: 0, lost: [], refused: 0, flowing: new Promise(resolve => { flowing = resolve }), stop: async () => {} }
  let stopping = false
  const loops = Array.from({ length: clients }, async () => {
    const client = new Client(`http://127.0.0.1:${port}`, { connectTimeout: 2_000, headersTimeout: 15_000, bodyTimeout: 15_000 })
    try {
      while (!stopping) {
        try {
          const { statusCode, body } = await client.request({ method: 'GET', path: `/?ms=${REQUEST_MS}` })
          await body.text()
          if (statusCode === 200) {
            // Two responses per connection: every client is in its request loop on a kept-alive connection.
            if (++result.served === clients * 2) flowing()
          } else result.lost.push(`status ${statusCode}`)
        } catch (err) {
          const code = (err as { code?: string }).code ?? String(err)
          if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT') {
            result.refused++
            return
          }
          result.lost.push(code)
        }
      }
    } finally {
      await client.destroy()
    }
  })
  result.stop = async () => {
    stopping = true
    await Promise.all(loops)
  }
  return result
}

describe.skipIf(baseImage === undefined)('examples/docker/Dockerfile in podman, stopped under load', () => {
  it.each(setUps.map((setUp, index) => ({ ...setUp, index })))('$name', async (setUp) => {
    const name = `graceful-test-${setUp.index}-${tag}`
    const [port] = await freePorts('127.0.0.1', 1) as [number]
    const child = spawn('podman', [...PODMAN, 'run', '--rm', '--name', name, ...LIMITS, '--publish', `127.0.0.1:${port}:3000`,
      '--env', `PRE_STOP_DELAY=${PRE_STOP_DELAY}`, '--env', 'DRAIN_TIMEOUT=3000', await imageFor(setUp, setUp.index)], { stdio: ['ignore', 'pipe', 'pipe'] })
    made.containers.add(name)
    const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
    const output = follow(child)
    await output.waitFor('"msg":"listening"')
    const traffic = load(port)
    try {
      // Traffic flowing on every connection before the stop, so that requests are in flight when the signal lands.
      await traffic.flowing
      const stopStarted = performance.now()
      await podman(['stop', '--time', String(STOP_TIMEOUT), name], 60_000)
      const stopMs = performance.now() - stopStarted
      const exitCode = await exited
      await traffic.stop()
      const warnings = output.lines.flatMap(line => /"warning":"([a-z0-9-]+)"/.exec(line)?.[1] ?? [])
      const complete = output.lines.some(line => line.includes('"msg":"graceful: shutdown complete"'))
      const measured = { exitCode, stopMs: Math.round(stopMs), warnings, complete, lost: traffic.lost.length, served: traffic.served }
      console.log(`container.test.ts: ${setUp.name}: ${JSON.stringify(measured)}`)
      expect(exitCode).toBe(setUp.exitCode)
      expect(warnings).toEqual(setUp.warnings)
      expect(complete).toBe(setUp.drains)
      if (setUp.drains) expect(traffic.lost).toEqual([])
      else expect(traffic.lost.length).toBeGreaterThan(0)
      if (setUp.killedAtTimeout) {
        expect(stopMs).toBeGreaterThanOrEqual(STOP_TIMEOUT * 1000 - 100)
      } else {
        // Well inside the timeout: a fast exit is no proof of a drain (see exitCode and complete above).
        expect(stopMs).toBeLessThan(STOP_TIMEOUT * 1000 - 1_000)
      }
    } finally {
      await traffic.stop()
      if (child.exitCode === null) await podman(['rm', '--force', name]).catch(() => undefined)
      made.containers.delete(name)
    }
  }, 90_000)
})
