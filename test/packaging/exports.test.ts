// The public surface of each package, locked: a change here is a change of contract.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type * as Check from '@graceful/check'
import type * as Core from '@graceful/core'
import type * as Express from '@graceful/express'
import type * as Fastify from '@graceful/fastify'
import type * as Prometheus from '@graceful/prometheus'
import type * as Grpc from '@graceful/grpc'
import type * as Bullmq from '@graceful/bullmq'
import { publishedPackages, root } from '../helpers/packages.js'
import { difference, documented, sourceSurface } from './surface.js'

const require = createRequire(import.meta.url)

describe('public surface', () => {
  it('@graceful/core exports', async () => {
    expect(Object.keys(await import('@graceful/core')).sort()).toMatchInlineSnapshot(`
      [
        "Graceful",
        "GracefulError",
        "channels",
        "createFallbackLogger",
        "createGraceful",
        "endEventStream",
        "gracefulCluster",
        "gracefulError",
        "isGracefulError",
        "renderReport",
      ]
    `)
  })

  it('@graceful/express exports', async () => {
    expect(Object.keys(await import('@graceful/express')).sort()).toMatchInlineSnapshot(`
      [
        "GracefulError",
        "endEventStream",
        "graceful",
        "isGracefulError",
      ]
    `)
  })

  it('@graceful/fastify exports', async () => {
    expect(Object.keys(await import('@graceful/fastify')).sort()).toMatchInlineSnapshot(`
      [
        "GracefulError",
        "default",
        "endEventStream",
        "gracefulPlugin",
        "isGracefulError",
      ]
    `)
  })

  it('@graceful/prometheus exports', async () => {
    expect(Object.keys(await import('@graceful/prometheus')).sort()).toMatchInlineSnapshot(`
      [
        "gracefulMetrics",
      ]
    `)
  })

  it('@graceful/grpc exports', async () => {
    expect(Object.keys(await import('@graceful/grpc')).sort()).toMatchInlineSnapshot(`
      [
        "gracefulGrpc",
      ]
    `)
  })

  it('@graceful/bullmq exports', async () => {
    expect(Object.keys(await import('@graceful/bullmq')).sort()).toMatchInlineSnapshot(`
      [
        "bullmqWorkSource",
      ]
    `)
  })

  it('@graceful/check exports', async () => {
    expect(Object.keys(await import('@graceful/check')).sort()).toMatchInlineSnapshot(`
      [
        "CheckError",
        "SCHEMA_VERSION",
        "checkShutdown",
        "findHaproxy",
        "formatHtml",
        "formatJunit",
        "formatMarkdown",
        "formatText",
        "haproxyCheck",
        "isCheckError",
        "reportSchema",
      ]
    `)
  })

  it('@graceful/core/testing exports', async () => {
    expect(Object.keys(await import('@graceful/core/testing')).sort()).toMatchInlineSnapshot(`
      [
        "createTestGraceful",
        "simulateSignal",
        "testOptions",
        "untilPhase",
      ]
    `)
    const names = Object.keys(await import('@graceful/core/testing'))
    const reference = readFileSync(join(root, 'docs/reference/api.md'), 'utf8')
    const section = reference.slice(reference.indexOf('## @graceful/core/testing'), reference.indexOf('## @graceful/express'))
    for (const name of names) expect(section, `a row for ${name}`).toMatch(new RegExp(`^\\| \`${name}`, 'm'))
  })

  it('@graceful/core/register exports nothing: it is a preload, loaded for what it does', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'packages/core/package.json'), 'utf8')) as { exports: Record<string, unknown> }
    expect(manifest.exports['./register']).toEqual({ types: './dist/register.d.ts', default: './dist/bundle/register.js' })
    expect(readFileSync(join(root, 'packages/core/dist/register.d.ts'), 'utf8')).toMatch(/^export \{\};/m)
    expect(readFileSync(join(root, 'docs/reference/api.md'), 'utf8')).toContain('## @graceful/core/register')
  })

  it('the diagnostics channel names', async () => {
    const { channels } = await import('@graceful/core')
    expect(channels).toMatchInlineSnapshot(`
      {
        "hookEnd": "graceful:hook:end",
        "hookStart": "graceful:hook:start",
        "phase": "graceful:phase",
        "shutdownEnd": "graceful:shutdown:end",
        "shutdownStart": "graceful:shutdown:start",
        "workEnd": "graceful:work:end",
        "workStop": "graceful:work:stop",
      }
    `)
    expect(Object.isFrozen(channels)).toBe(true)
  })

  it('the Express middleware carries its controls', async () => {
    const { graceful } = await import('@graceful/express')
    const shutdown = graceful({ signals: [], exit: false, logger: false })
    expect(typeof shutdown).toBe('function')
    expect(shutdown.length).toBe(3)
    expect(typeof shutdown.attach).toBe('function')
    expect(typeof shutdown.onShutdown).toBe('function')
    expect(typeof shutdown.trackWebSockets).toBe('function')
    expect(typeof shutdown.shutdown).toBe('function')
    expect(typeof shutdown.on).toBe('function')
    expect(shutdown.on('phase', () => {}).off('phase', () => {})).toBe(shutdown)
    expect(shutdown.openSockets).toBe(0)
    expect(shutdown.state).toBe('running')
    expect(shutdown.signal).toBeInstanceOf(AbortSignal)
    expect(shutdown.graceful.state).toBe('running')
  })

  it('each package loads from CommonJS through require (Node ≥ 20.19)', () => {
    const core = require('@graceful/core') as typeof Core
    const express = require('@graceful/express') as typeof Express
    const fastify = require('@graceful/fastify') as typeof Fastify
    const prometheus = require('@graceful/prometheus') as typeof Prometheus
    const check = require('@graceful/check') as typeof Check
    const grpc = require('@graceful/grpc') as typeof Grpc
    const bullmq = require('@graceful/bullmq') as typeof Bullmq
    expect(typeof core.createGraceful).toBe('function')
    expect(typeof express.graceful).toBe('function')
    expect(typeof fastify.gracefulPlugin).toBe('function')
    expect(typeof prometheus.gracefulMetrics).toBe('function')
    expect(typeof check.checkShutdown).toBe('function')
    expect(typeof grpc.gracefulGrpc).toBe('function')
    expect(typeof bullmq.bullmqWorkSource).toBe('function')
    // The same module instance as the ESM import: one error class, one registry.
    expect(express.GracefulError).toBe(core.GracefulError)
  })
})

// docs/reference/api.md cannot drift from the code: a new export, option or member needs its row there.
describe('the API reference', () => {
  const surface = sourceSurface()

  it.each([...surface.exports.keys()])('docs/reference/api.md has a row for every export of %s, and none for a name it lacks', (name) => {
    expect(difference(documented(name), surface.exports.get(name)!), `the table under "## ${name}" in docs/reference/api.md`).toEqual({ missing: [], stale: [] })
  })

  it.each([
    ['Options (`GracefulOptions`)', 'options'],
    ['Graceful', 'graceful'],
    ['GracefulMiddleware', 'middleware'],
    ['ShutdownReport', 'report']
  ] as const)('docs/reference/api.md has a row for every entry of "%s"', (title, key) => {
    expect(difference(documented(title), surface[key]), `the table under "## ${title}" in docs/reference/api.md`).toEqual({ missing: [], stale: [] })
  })
})

// Every package under packages/ that is not private is published: it needs what npm shows and what the law asks.
describe.each(publishedPackages().map(pkg => [pkg.manifest.name, pkg] as const))('%s as published', (name, pkg) => {
  it('has a manifest fit for publishing', () => {
    const manifest = pkg.manifest
    expect(manifest.description?.length).toBeGreaterThan(20)
    expect(manifest.keywords?.length).toBeGreaterThan(2)
    expect(manifest.keywords).toContain('graceful-shutdown')
    expect(manifest.license).toBe('MIT')
    expect(manifest.repository).toEqual({ type: 'git', url: 'git+https://github.com/graceful-js/graceful.git', directory: pkg.dir })
    expect(manifest.homepage).toBe(`https://github.com/graceful-js/graceful/tree/main/${pkg.dir}#readme`)
    expect(manifest.bugs?.url).toBe('https://github.com/graceful-js/graceful/issues')
    expect(manifest.files).toEqual(name === '@graceful/core' ? ['dist/bundle', 'dist/**/*.d.ts', 'dist/**/*.d.ts.map'] : ['dist', '!dist/.tsbuildinfo'])
    expect(manifest.engines).toEqual({ node: '>=20.19' })
    // The preload is the one module that acts when it is loaded: a bundler must keep `import '@graceful/core/register'`.
    expect(manifest.sideEffects).toEqual(name === '@graceful/core' ? ['./dist/bundle/register.js'] : false)
    expect(manifest.publishConfig).toEqual({ access: 'public' })
    // The core is published as one bundle (packages/core/bundle.mjs); its types stay tsc's.
    expect(manifest.exports?.['.']).toEqual({ types: './dist/index.d.ts', default: name === '@graceful/core' ? './dist/bundle/index.js' : './dist/index.js' })
    // The licence travels with the package, and it is the repository's.
    expect(readFileSync(join(root, pkg.dir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'))
  })

  it('has a README that shows how to install and use it and links to the docs', () => {
    const readme = readFileSync(join(root, pkg.dir, 'README.md'), 'utf8')
    expect(readme).toMatch(new RegExp(`^# ${name.replace('/', '\\/')}\\n`))
    expect(readme).toContain(`npm install ${name}`)
    expect(readme).toContain('## Usage')
    expect(readme).toContain('## Options')
    // npmjs.com shows the README without the repository around it: links must be absolute.
    expect(readme).toContain('https://github.com/graceful-js/graceful/blob/main/docs/reference/api.md')
    expect(readme).not.toMatch(/\]\((?!https:\/\/|#)/)
  })
})
