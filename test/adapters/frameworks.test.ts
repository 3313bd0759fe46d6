// NestJS (on Express and on Fastify), Koa and Hono on the core, with no adapter of their own: the contract's core
// scenarios over real sockets and a real SIGTERM, and each framework's bare setup losing requests in the same harness.
// The app is test/fixtures/frameworks.mjs; the recipes the docs show are run by test/docs/examples.test.ts.
import { describe, expect, it } from 'vitest'
import { Fixture, type FixtureConfig, frameworksOnCore } from '../helpers/index.js'
import { underLoad } from '../helpers/load.js'
import { coreScenarios } from '../helpers/scenarios.js'

describe.each(frameworksOnCore)('%s on the core', (framework) => {
  const fixture = (config: Omit<FixtureConfig, 'framework'> = {}): Fixture => new Fixture({ framework, ...config })

  coreScenarios(fixture, { nest: framework.startsWith('nest-') })

  it('the bare setup, in the same harness, loses requests', async () => {
    // NestJS on Express serves its keep-alive clients without ever telling them to go, so it is still serving when
    // the grace period ends and SIGKILL cuts what is in flight; on Fastify, Nest answers 503 and the re-raised signal
    // resets the rest; Koa dies on the spot; Hono's process.exit(0) drops what is in flight.
    const app = fixture({ bare: true })
    const outcome = await underLoad(app, await app.ready(), { gracePeriod: 4_000 })
    await app.exited
    expect(outcome.completed).toBeGreaterThan(0)
    expect(outcome.failures.length, 'requests written that got no full response').toBeGreaterThan(0)
  })
})
