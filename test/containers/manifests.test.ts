// The deployment files under examples/ hold what docs/kubernetes.md and docs/docker.md rely on. The Deployment is
// checked against the app it runs, started here with the manifest's own environment and sent a real SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'

const root = fileURLToPath(new URL('../..', import.meta.url))
const children = new Set<ChildProcess>()
afterEach(() => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
})

interface Probe { httpGet: { path: string, port: string | number }, periodSeconds: number, failureThreshold: number }
interface Container {
  name: string
  ports: Array<{ name: string, containerPort: number }>
  env: Array<{ name: string, value: string }>
  startupProbe: Probe
  readinessProbe: Probe
  livenessProbe: Probe
  lifecycle: { preStop: { sleep?: { seconds: number }, exec?: { command: string[] } } }
}
interface Deployment {
  kind: 'Deployment'
  spec: {
    strategy: { rollingUpdate: { maxUnavailable: number } }
    template: { spec: { terminationGracePeriodSeconds: number, containers: Container[] } }
  }
}

function deployment (): { deployment: Deployment, container: Container } {
  const documents = parseAllDocuments(readFileSync(`${root}examples/kubernetes/deployment.yaml`, 'utf8'))
  for (const document of documents) expect(document.errors).toEqual([])
  const found = documents.map(document => document.toJS() as { kind: string }).find(object => object.kind === 'Deployment')
  expect(found).toBeDefined()
  const deploymentObject = found as Deployment
  const [container] = deploymentObject.spec.template.spec.containers
  expect(container).toBeDefined()
  return { deployment: deploymentObject, container: container! }
}

/** The first code block of `lang` in a doc page. */
function block (file: string, lang: string): string {
  const match = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```', 'm').exec(readFileSync(`${root}${file}`, 'utf8'))
  expect(match, `a ${lang} block in ${file}`).not.toBeNull()
  return match![1]!
}

interface Listening { port: number, preStopDelay: number, drainTimeout: number, hookTimeouts: Record<string, number> }

/** examples/docker/server.mjs with the container's environment, on a free port of 127.0.0.1. */
async function startApp (container: Container, override: Record<string, string> = {}): Promise<{ child: ChildProcess, listening: Listening, output: string[], logged: (text: string) => Promise<void> }> {
  const env = { ...Object.fromEntries(container.env.map(({ name, value }) => [name, value])), ...override }
  const child = spawn(process.execPath, ['examples/docker/server.mjs'], {
    cwd: root,
    env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  children.add(child)
  const output: string[] = []
  const waiters: Array<{ text: string, resolve: () => void }> = []
  const onLine = (line: string): void => {
    output.push(line)
    for (const waiter of waiters.filter(w => line.includes(w.text))) waiter.resolve()
  }
  createInterface({ input: child.stderr }).on('line', onLine)
  createInterface({ input: child.stdout }).on('line', onLine)
  const exited = once(child, 'exit').then(([code]) => { throw new Error(`exited (${String(code)}): ${output.join('\n')}`) })
  exited.catch(() => undefined)
  // Resolves when a line holding `text` has been logged (already or later); rejects if the app exits first.
  const logged = async (text: string): Promise<void> => {
    if (output.some(line => line.includes(text))) return
    await Promise.race([new Promise<void>(resolve => { waiters.push({ text, resolve }) }), exited])
  }
  await logged('"listening"')
  const listening = JSON.parse(output.find(line => line.includes('"listening"'))!) as Listening
  return { child, listening, output, logged }
}

async function status (port: number, path: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${port}${path}`)
  await res.body.dump()
  return res.statusCode
}

describe('examples/kubernetes/deployment.yaml', () => {
  it('points its probes at graceful\'s routes: readiness turns 503 at SIGTERM, liveness and startup stay 200', async () => {
    const { container } = deployment()
    expect(container.readinessProbe.httpGet.port).toBe(container.ports[0]!.name)
    const app = await startApp(container)
    const probes = {
      readiness: container.readinessProbe.httpGet.path,
      liveness: container.livenessProbe.httpGet.path,
      startup: container.startupProbe.httpGet.path
    }
    for (const path of Object.values(probes)) expect(await status(app.listening.port, path)).toBe(200)

    const exited = once(app.child, 'exit')
    app.child.kill('SIGTERM')
    await app.logged('graceful: shutdown started')
    // The lame duck (PRE_STOP_DELAY from the manifest) is on: the pod leaves the endpoints, the kubelet leaves it be.
    expect(await status(app.listening.port, probes.readiness)).toBe(503)
    expect(await status(app.listening.port, probes.liveness)).toBe(200)
    expect(await status(app.listening.port, probes.startup)).toBe(200)
    // A second signal ends it at once, as the kubelet's SIGKILL would.
    app.child.kill('SIGTERM')
    await exited
  })

  it('gives the pod a grace period that covers the preStop sleep, the lame duck, the drain and the hooks the app reports', async () => {
    const { deployment: manifest, container } = deployment()
    const { listening } = await startApp(container)
    const sleep = container.lifecycle.preStop.sleep?.seconds
    expect(sleep).toBeGreaterThan(0)
    const needed = sleep! * 1_000 + listening.preStopDelay + listening.drainTimeout +
      Object.values(listening.hookTimeouts).reduce((sum, timeout) => sum + timeout, 0)
    expect(listening.preStopDelay).toBe(Number(container.env.find(e => e.name === 'PRE_STOP_DELAY')?.value))
    expect(manifest.spec.template.spec.terminationGracePeriodSeconds * 1_000).toBeGreaterThanOrEqual(needed)
  })

  it('hands the app what is left of the grace period after the preStop sleep, and the app finds that its shutdown fits', async () => {
    const { deployment: manifest, container } = deployment()
    const left = manifest.spec.template.spec.terminationGracePeriodSeconds - container.lifecycle.preStop.sleep!.seconds
    expect(container.env.find(e => e.name === 'TERMINATION_GRACE_PERIOD_SECONDS')?.value).toBe(String(left))
    // The app logs its budget warning, when it has one, before it listens.
    const fits = await startApp(container)
    expect(fits.output.filter(line => line.includes('"warning":"budget"'))).toEqual([])
    // The same app with 5 s less would be killed half-way, and says so.
    const tooShort = await startApp(container, { TERMINATION_GRACE_PERIOD_SECONDS: String(left - 5) })
    expect(tooShort.output.some(line => line.includes('"warning":"budget"'))).toBe(true)
  })

  it('is what docs/kubernetes.md shows: every field of the guide\'s excerpt is in the manifest, with the same value', () => {
    const excerpt = parseAllDocuments(block('docs/kubernetes.md', 'yaml'))[0]!.toJS() as object
    expect(Object.keys(excerpt)).toEqual(['spec'])
    expect(deployment().deployment).toMatchObject(excerpt)
  })

  it('keeps the lame duck longer than the readiness probe takes to see the 503, and replaces pods before removing them', async () => {
    const { deployment: manifest, container } = deployment()
    const { listening } = await startApp(container)
    const { periodSeconds, failureThreshold } = container.readinessProbe
    expect(listening.preStopDelay).toBeGreaterThanOrEqual(periodSeconds * failureThreshold * 1_000)
    expect(manifest.spec.strategy.rollingUpdate.maxUnavailable).toBe(0)
  })
})

describe('examples/docker/Dockerfile', () => {
  // Instructions with their arguments, continuation lines joined, comments left out.
  const dockerfile = readFileSync(`${root}examples/docker/Dockerfile`, 'utf8')
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter(line => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .map(line => {
      const [keyword = '', ...rest] = line.trim().split(/\s+/)
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') }
    })
  const last = (keyword: string): string | undefined => instructions.findLast(i => i.keyword === keyword)?.args

  it('is what docs/docker.md shows, comments left out', () => {
    const withoutComments = dockerfile.split('\n').filter(line => line.trim() !== '' && !line.startsWith('#')).join('\n')
    expect(block('docs/docker.md', 'dockerfile').trimEnd()).toBe(withoutComments.trimEnd())
  })

  it('stops with SIGTERM, runs node itself in exec form under tini, and starts the server it copies', () => {
    expect(last('STOPSIGNAL')).toBe('SIGTERM')
    const cmd = JSON.parse(last('CMD') ?? 'null') as unknown
    const entrypoint = JSON.parse(last('ENTRYPOINT') ?? 'null') as unknown
    expect(Array.isArray(cmd)).toBe(true)
    expect(Array.isArray(entrypoint)).toBe(true)
    const [program, script] = cmd as string[]
    expect(program).toBe('node')
    expect((entrypoint as string[])[0]).toMatch(/(^|\/)tini$/)
    expect([...(entrypoint as string[]), ...(cmd as string[])].join(' ')).not.toMatch(/\b(npm|pnpm|yarn)\b/)
    expect(instructions.some(i => i.keyword === 'COPY' && i.args.split(/\s+/).includes(script!))).toBe(true)
    expect(existsSync(`${root}examples/docker/${script!}`)).toBe(true)
  })
})
