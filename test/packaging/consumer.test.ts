// A project outside this repository installs the packed tarballs, as it would from npm, and uses them from ESM, from
// CommonJS through require (Node ≥ 20.19) and from TypeScript with moduleResolution node16, nodenext and bundler.
// Offline: the tarballs come from `pnpm pack`, and express, fastify and the types are linked from this workspace.
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pack, publishedPackages, root, run } from '../helpers/packages.js'

let project = ''

/** The workspace's own copy of a package (as installed for `from`, a folder of the repository), linked, not fetched. */
function linked (name: string, from = '.'): string {
  const local = join(root, from, 'node_modules', name)
  return `link:${realpathSync(existsSync(local) ? local : join(root, 'node_modules', name))}`
}

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'graceful-consumer-'))
  const tarballs: Record<string, string> = {}
  const dependencies: Record<string, string> = {}
  const peers: Record<string, string> = {}
  for (const pkg of publishedPackages()) {
    tarballs[pkg.manifest.name] = `file:${await pack(pkg, project)}`
    // What each package needs comes from the workspace: its dependencies where it has them installed, its peers
    // (express, fastify, prom-client) as the consumer's own dependencies, as an application provides them.
    for (const name of Object.keys(pkg.manifest.dependencies ?? {})) if (!name.startsWith('@graceful/')) dependencies[name] = linked(name, pkg.dir)
    for (const name of Object.keys(pkg.manifest.peerDependencies ?? {})) peers[name] = linked(name, pkg.dir)
  }
  // A second installed copy of the core, as two packages of an application can each bring their own: a folder of its
  // own (linked, so Node loads it as a separate module), under another name.
  const copy = join(project, 'vendor', 'core-copy')
  cpSync(join(root, 'packages/core/dist'), join(copy, 'dist'), { recursive: true })
  const manifest = JSON.parse(readFileSync(join(root, 'packages/core/package.json'), 'utf8')) as Record<string, unknown>
  writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...manifest, name: 'core-copy' }, null, 2))
  writeFileSync(join(project, 'package.json'), JSON.stringify({
    name: 'consumer',
    private: true,
    type: 'module',
    dependencies: {
      ...tarballs,
      ...peers,
      'core-copy': 'link:./vendor/core-copy',
      '@types/express': linked('@types/express'),
      '@types/node': linked('@types/node')
    }
  }, null, 2))
  writeFileSync(join(project, 'pnpm-workspace.yaml'), [
    'overrides:',
    // The packed packages depend on each other by version; here the versions are the tarballs next to them.
    ...Object.entries({ ...tarballs, ...dependencies }).map(([name, spec]) => `  "${name}": "${spec}"`),
    // Linked packages have no version pnpm can check a peer range against, and nothing is fetched.
    'strictPeerDependencies: false',
    'autoInstallPeers: false',
    ''
  ].join('\n'))
  writeFiles()
  await run('pnpm', ['install', '--offline', '--ignore-scripts', '--reporter', 'silent'], { cwd: project })
}, 60_000)

afterAll(() => {
  if (project !== '') rmSync(project, { recursive: true, force: true })
})

function writeFiles (): void {
  const files: Record<string, string> = {
    // ESM: both adapters serve their health routes on real sockets and drain when asked.
    'esm.mjs': `
import { once } from 'node:events'
import express from 'express'
import Fastify from 'fastify'
import { createGraceful, isGracefulError } from '@graceful/core'
import { graceful } from '@graceful/express'
import { gracefulPlugin } from '@graceful/fastify'
import { gracefulMetrics } from '@graceful/prometheus'
import { gracefulGrpc } from '@graceful/grpc'
import { bullmqWorkSource } from '@graceful/bullmq'
import { Server as GrpcServer } from '@grpc/grpc-js'
import { Registry } from 'prom-client'

const options = { signals: [], exit: false, logger: false }
const shutdown = graceful(options)
const registry = new Registry()
gracefulMetrics(shutdown, { registry })
const app = express()
app.use(shutdown)
app.get('/', (req, res) => res.send('hello'))
const server = shutdown.attach(app.listen(0, '127.0.0.1'))
await once(server, 'listening')
const expressHealth = (await fetch(\`http://127.0.0.1:\${server.address().port}/healthz\`)).status
const expressReport = await shutdown.shutdown()
const phase = (await registry.getSingleMetric('graceful_shutdown_phase').get()).values.find(v => v.value === 1).labels.phase

const fastify = Fastify()
await fastify.register(gracefulPlugin, options)
await fastify.listen({ port: 0, host: '127.0.0.1' })
const fastifyHealth = (await fetch(\`http://127.0.0.1:\${fastify.server.address().port}/healthz\`)).status
const fastifyReport = await fastify.graceful.shutdown()

// The gRPC package loads its health service (a dependency of its own) and drains the server as a work source.
const withGrpc = createGraceful(options)
const grpcShutdown = gracefulGrpc(withGrpc)
grpcShutdown.attach(new GrpcServer({ interceptors: [grpcShutdown.interceptor] }))
const grpcSources = (await withGrpc.shutdown()).work.sources.map(source => [source.name, source.status])

let code
try { createGraceful({ drainTimout: 1 }) } catch (err) { code = isGracefulError(err, 'GRACEFUL_ERR_UNKNOWN_OPTION') ? err.code : 'wrong error' }
console.log(JSON.stringify({ expressHealth, expressExit: expressReport.exitCode, phase, fastifyHealth, fastifyExit: fastifyReport.exitCode, hooks: fastifyReport.hooks.map(h => h.name), grpcSources, bullmq: typeof bullmqWorkSource, code }))
`,
    // Two installed copies of the core: an error thrown by one is recognised by the other, by instanceof too.
    'copies.mjs': `
import { GracefulError, isGracefulError } from '@graceful/core'
import { createGraceful as createWithCopy, GracefulError as CopyError } from 'core-copy'
let error
try { createWithCopy({ drainTimout: 1 }) } catch (err) { error = err }
console.log(JSON.stringify({
  twoClasses: GracefulError !== CopyError,
  fromCopy: error instanceof CopyError,
  instanceOfOurs: error instanceof GracefulError,
  recognised: isGracefulError(error, 'GRACEFUL_ERR_UNKNOWN_OPTION'),
  plainErrorIsNot: !(new Error('x') instanceof GracefulError)
}))
`,
    // CommonJS: require() of the ESM packages, and one instance of the core behind both adapters.
    'cjs.cjs': `
const { createServer } = require('node:http')
const core = require('@graceful/core')
const { graceful, GracefulError } = require('@graceful/express')
const { gracefulPlugin } = require('@graceful/fastify')

const g = core.createGraceful({ signals: [], exit: false, logger: false })
const server = createServer((req, res) => { if (!g.handle(req, res)) res.end('hello') })
g.attach(server)
server.listen(0, '127.0.0.1', async () => {
  const health = (await fetch(\`http://127.0.0.1:\${server.address().port}/livez\`)).status
  const report = await g.shutdown()
  console.log(JSON.stringify({
    health,
    exit: report.exitCode,
    middleware: typeof graceful(),
    plugin: typeof gracefulPlugin,
    sameErrorClass: GracefulError === core.GracefulError
  }))
})
`,
    // TypeScript: the public types, as an application uses them. Type-checked, not run.
    'app.ts': `
import { createServer } from 'node:http'
import express from 'express'
import Fastify from 'fastify'
import { createGraceful, type GracefulOptions, type Phase, type ShutdownReport, isGracefulError } from '@graceful/core'
import { graceful, type GracefulMiddleware } from '@graceful/express'
import { gracefulPlugin, type GracefulPluginOptions } from '@graceful/fastify'

const options: GracefulOptions = { preStopDelay: 5_000, drainTimeout: 20_000, signals: ['SIGTERM'] }
const shutdown: GracefulMiddleware = graceful(options)
const app = express()
app.use(shutdown)
const server = shutdown.attach(app.listen(3000))
server.keepAliveTimeout = 65_000
shutdown.onShutdown('db', async (signal: AbortSignal) => { signal.throwIfAborted() }, { timeout: 2_000 })

const fastify = Fastify({ logger: true })
const pluginOptions: GracefulPluginOptions = { preStopDelay: 5_000 }
await fastify.register(gracefulPlugin, pluginOptions)
fastify.graceful.onShutdown('db', () => undefined)
const phase: Phase = fastify.graceful.state

const g = createGraceful()
g.attach(createServer())
const report: ShutdownReport = await g.shutdown()
const code: number = report.exitCode
try { createGraceful() } catch (err) { if (isGracefulError(err, 'GRACEFUL_ERR_INVALID_OPTION')) console.log(err.code) }
// @ts-expect-error a misspelt option is a type error too
createGraceful({ drainTimout: 1 })
// @ts-expect-error the plugin closes through fastify.close(): no close option
const noClose: GracefulPluginOptions = { close: () => undefined }
console.log(phase, code, noClose)
export {}
`,
    'require.cts': `
import core = require('@graceful/core')
import express = require('@graceful/express')
const g: core.Graceful = core.createGraceful({ exit: false })
const middleware: express.GracefulMiddleware = express.graceful()
console.log(g.state, middleware.state)
`
  }
  // skipLibCheck off: the packages' own .d.ts files are checked too, as a consumer with a strict setup would.
  const compilerOptions = { strict: true, noEmit: true, skipLibCheck: false, types: ['node'], target: 'ES2022', lib: ['ES2023'], exactOptionalPropertyTypes: true }
  const configs: Record<string, object> = {
    'tsconfig.node16.json': { compilerOptions: { ...compilerOptions, module: 'node16', moduleResolution: 'node16' }, files: ['app.ts'] },
    // Our declarations were checked once above; the other two only resolve differently.
    'tsconfig.bundler.json': { compilerOptions: { ...compilerOptions, skipLibCheck: true, module: 'preserve', moduleResolution: 'bundler' }, files: ['app.ts'] },
    'tsconfig.nodenext.json': { compilerOptions: { ...compilerOptions, skipLibCheck: true, module: 'nodenext', moduleResolution: 'nodenext' }, files: ['app.ts', 'require.cts'] }
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(project, name), text.trimStart())
  for (const [name, config] of Object.entries(configs)) writeFileSync(join(project, name), JSON.stringify(config, null, 2))
}

async function node (script: string): Promise<unknown> {
  const { stdout } = await run(process.execPath, [script], { cwd: project, timeout: 20_000 })
  return JSON.parse(stdout.trim().split('\n').at(-1)!)
}

async function tsc (config: string): Promise<string> {
  try {
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', config], { cwd: project, timeout: 80_000 })
    return 'ok'
  } catch (err) {
    return (err as { stdout?: string }).stdout ?? String(err)
  }
}

describe('a project that installs the packed tarballs', () => {
  it('imports them from ESM, drains real Express and Fastify servers and a gRPC server, and exports the metrics', async () => {
    expect(await node('esm.mjs')).toEqual({
      expressHealth: 200,
      expressExit: 0,
      phase: 'stopped',
      fastifyHealth: 200,
      fastifyExit: 0,
      hooks: ['close'],
      grpcSources: [['grpc', 'ok']],
      bullmq: 'function',
      code: 'GRACEFUL_ERR_UNKNOWN_OPTION'
    })
  })

  it('recognises a GracefulError thrown by another installed copy of the core, with instanceof and isGracefulError', async () => {
    expect(await node('copies.mjs')).toEqual({ twoClasses: true, fromCopy: true, instanceOfOurs: true, recognised: true, plainErrorIsNot: true })
  })

  it('requires them from CommonJS, with one core behind both adapters', async () => {
    expect(await node('cjs.cjs')).toEqual({ health: 200, exit: 0, middleware: 'function', plugin: 'function', sameErrorClass: true })
  })

  // tsc takes its time on two busy cores: a generous bound.
  it.each(['node16', 'bundler', 'nodenext'])('type-checks against their declarations with moduleResolution %s', async (resolution) => {
    expect(await tsc(`tsconfig.${resolution}.json`)).toBe('ok')
  }, 90_000)
})

// docs/getting-started.md tells how to install the packages before they are on the registry: its commands run here as
// written. The second runs offline, so it passes only if nothing it installs has to come from the registry.
describe('the install the getting-started guide shows', () => {
  const guide = readFileSync(join(root, 'docs/getting-started.md'), 'utf8')
  const block = /### Install\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(guide)?.[1] ?? ''
  const commands = block.split('\n').filter(line => line.trim() !== '' && !line.startsWith('#'))
  let service = ''

  afterAll(() => {
    if (service !== '') rmSync(service, { recursive: true, force: true })
  })

  it('packs the tarballs in the repository, installs them in a service offline, and the service drains with them', async () => {
    expect(commands).toHaveLength(2)
    const [pack, install] = commands as [string, string]
    await run('sh', ['-c', pack], { cwd: root, timeout: 120_000 })
    service = mkdtempSync(join(tmpdir(), 'graceful-service-'))
    writeFileSync(join(service, 'package.json'), JSON.stringify({ name: 'service', private: true, type: 'module' }))
    await run('sh', ['-c', install], { cwd: service, timeout: 60_000, env: { ...process.env, GRACEFUL: root, npm_config_offline: 'true' } })
    const manifest = JSON.parse(readFileSync(join(service, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@graceful/core', '@graceful/express'])
    writeFileSync(join(service, 'service.mjs'), `
import { once } from 'node:events'
import { createServer } from 'node:http'
import { createGraceful } from '@graceful/core'
import { graceful } from '@graceful/express'

const g = createGraceful({ signals: [], exit: false, logger: false })
const server = createServer((req, res) => res.end('hello'))
g.attach(server)
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const health = (await fetch(\`http://127.0.0.1:\${server.address().port}/healthz\`)).status
const report = await g.shutdown()
console.log(JSON.stringify({ health, exit: report.exitCode, middleware: typeof graceful() }))
`)
    const { stdout } = await run(process.execPath, ['service.mjs'], { cwd: service, timeout: 20_000 })
    expect(JSON.parse(stdout.trim())).toEqual({ health: 200, exit: 0, middleware: 'function' })
  }, 200_000)
})
