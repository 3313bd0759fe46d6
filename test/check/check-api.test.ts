// checkShutdown() as a library. The way a user checks their own service in their own suite is
// examples/check.test.mjs, which vitest.config.ts includes; here, what the library promises around it.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkShutdown, isCheckError, SCHEMA_VERSION } from '@graceful/check'
import config from '../../vitest.config.js'
import { BALANCERS } from '../../packages/check/src/balancer.js'
import { classify } from '../../packages/check/src/classify.js'
import { cutInside } from '../../packages/check/src/wire.js'
import { random } from '../../packages/check/src/random.js'
import { freePorts } from '../../packages/check/src/service.js'
import { root } from '../helpers/packages.js'

describe('checkShutdown()', () => {
  it('examples/check.test.mjs, a user\'s own test of a service, is one of the suites this repository runs', () => {
    const example = 'examples/check.test.mjs'
    expect(existsSync(join(root, example))).toBe(true)
    const include = (config as { test: { include: string[] } }).test.include
    expect(include).toContain('examples/*.test.mjs')
  })

  it('resolves to a report of the current schema, with the exit of the service it started', async () => {
    const report = await checkShutdown({
      command: ['node', 'examples/bare-express.mjs'],
      signalAfter: 300,
      load: { keepAlive: 4, newConnection: 1, idleSockets: 0, slow: 0, pipelining: 0 }
    })
    expect(report.schemaVersion).toBe(SCHEMA_VERSION)
    expect(report.ok).toBe(false)
    expect(report.cycles[0]!.exit.signal).toBe('SIGTERM')
    expect(report.lost.length).toBe(report.totals.lost)
  })

  it('rejects a misspelt option at once, with a hint', async () => {
    const error: unknown = await checkShutdown({ command: ['node', 'server.js'], singalAfter: 10 } as never).catch((err: unknown) => err)
    expect(isCheckError(error, 'CHECK_ERR_USAGE')).toBe(true)
    expect((error as Error).message).toBe('unknown option "singalAfter": did you mean "signalAfter"?')
  })

  it('has a row in docs/reference/errors.md for every error code', () => {
    const codes = [...readFileSync(`${root}packages/check/src/errors.ts`, 'utf8').matchAll(/'(CHECK_ERR_\w+)'/g)].map(match => match[1]!)
    const errors = readFileSync(`${root}docs/reference/errors.md`, 'utf8')
    expect(codes.length).toBeGreaterThan(3)
    for (const code of codes) expect(errors, code).toContain(`| \`${code}\` |`)
  })
})

describe('the ports graceful-check gives the instances of a rollout', () => {
  it('are all different, however many are asked for at once', async () => {
    // Chosen one after the other, the kernel hands out a port it has just handed out again (it is free again): among
    // 1 000 such picks some repeat, and two instances given one port had one fail to listen while HAProxy's check of
    // it reached the other.
    const ports = await freePorts('127.0.0.1', 1_000)
    expect(ports).toHaveLength(1_000)
    expect(new Set(ports).size).toBe(1_000)
    for (const port of ports) expect(port).toBeGreaterThan(0)
  })

  // Linux: elsewhere the range cannot be read, and the kernel chooses.
  const range = '/proc/sys/net/ipv4/ip_local_port_range'
  it.skipIf(!existsSync(range))('lie below the kernel\'s ephemeral range, from which every outgoing connection takes its local port', async () => {
    // A port chosen in that range and released can be taken by any connect() before the service listens on it.
    const low = Number(readFileSync(range, 'utf8').trim().split(/\s+/)[0])
    const ports = await freePorts('127.0.0.1', 200)
    expect(ports.filter(port => port >= low)).toEqual([])
    expect(new Set(ports).size).toBe(200)
  })
})

describe('how a failure is classified', () => {
  // A new connection reset before any answer, 2 ms before the listener refused, the service alive: what a request
  // meets in the accept queue as the listener closes.
  const reset = {
    method: 'GET', path: '/', connection: 'fresh', localPort: 40_000, sentAt: 1_000, failedAt: 1_001, what: 'no-response',
    error: 'ECONNRESET', status: null, idleMs: 0, finFirst: false, behindClose: false, routed: false, serviceAlive: true
  } as const
  const facts = { signalAt: 400, listenerRefusedAt: 1_003, exitAt: 1_300, killedAt: undefined, idleGrace: 100, accepted: undefined, balancer: BALANCERS['kube-proxy'] }

  it('a readiness probe that got no answer is named, and is not a lost request: no user sent it', () => {
    const probe = classify({ ...reset, client: 'prober' }, facts)
    expect(probe).toMatchObject({ client: 'prober', kind: 'probe-failed', lost: false })
    expect(probe.cause).toMatch(/not a user's/)
    // The same reset on a client's request is a loss.
    expect(classify({ ...reset, client: 'new-connection' }, facts)).toMatchObject({ kind: 'reset-fresh-connection', lost: true })
  })
})

describe('what a balancer re-sends', () => {
  const kinds = ['refused', 'no-response', 'mid-response', 'status', 'timeout'] as const
  const observed = fc.record({
    client: fc.constantFrom('keep-alive', 'new-connection', 'slow', 'pipelined'),
    method: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'POST', 'PATCH'),
    path: fc.constant('/'),
    connection: fc.constantFrom('fresh', 'reused'),
    localPort: fc.constantFrom(40_000, null),
    sentAt: fc.integer({ min: 0, max: 3_000 }),
    what: fc.constantFrom(...kinds),
    error: fc.constantFrom('ECONNRESET', 'ECONNREFUSED', 'closed'),
    status: fc.constantFrom(null, 503),
    idleMs: fc.integer({ min: 0, max: 500 }),
    finFirst: fc.boolean(),
    behindClose: fc.boolean(),
    routed: fc.boolean(),
    serviceAlive: fc.boolean()
  }).map(o => ({ ...o, failedAt: o.sentAt + 5 }))
  const facts = (balancer: keyof typeof BALANCERS) => ({ signalAt: 400, listenerRefusedAt: 1_003, exitAt: 2_500, killedAt: undefined, idleGrace: 100, accepted: undefined, balancer: BALANCERS[balancer] })

  it.each(Object.keys(BALANCERS) as Array<keyof typeof BALANCERS>)('%s never re-sends a non-idempotent request once a byte of it went out, and loses nothing the plain Service would not', (balancer) => {
    fc.assert(fc.property(observed, o => {
      const failure = classify(o, facts(balancer))
      const plain = classify(o, facts('kube-proxy'))
      if (failure.kind === 'retried-elsewhere') {
        // Re-sent: either no byte went out (a refusal), or the method is idempotent and no answer had begun.
        expect(o.what === 'refused' || (failure.idempotent && o.what === 'no-response')).toBe(true)
        expect(plain.lost).toBe(true)
      } else {
        expect(failure).toEqual(plain)
      }
      if (!failure.idempotent && o.what !== 'refused') expect(failure.kind).not.toBe('retried-elsewhere')
    }), { numRuns: 500 })
  })

  it('a split pipelined batch is cut inside one of its requests, never between two (--split-pipelines)', () => {
    fc.assert(fc.property(fc.array(fc.string({ minLength: 2, maxLength: 80 }), { minLength: 1, maxLength: 4 }), fc.integer(), (texts, seed) => {
      const cut = cutInside(texts, random(seed))
      const boundaries = texts.map((_, i) => texts.slice(0, i + 1).join('').length)
      expect(cut).toBeGreaterThan(0)
      expect(cut).toBeLessThan(texts.join('').length)
      expect(boundaries).not.toContain(cut)
    }), { numRuns: 500 })
  })

  it('a refusal while the balancer routes here is lost behind kube-proxy and Caddy, re-sent by nginx and HAProxy with redispatch, whatever the method', () => {
    const refused = { client: 'new-connection', method: 'POST', path: '/orders', connection: 'fresh', localPort: null, sentAt: 1_010, failedAt: 1_011, what: 'refused',
      error: 'ECONNREFUSED', status: null, idleMs: 0, finFirst: false, behindClose: false, routed: true, serviceAlive: true } as const
    // (Without a balancer no request is sent as routed: the clients stop at the first refusal.)
    const models = ['kube-proxy', 'nginx', 'haproxy-redispatch', 'caddy'] as const
    expect(Object.fromEntries(models.map(name => [name, classify(refused, facts(name)).kind]))).toEqual({
      'kube-proxy': 'routed-to-closed-listener', 'nginx': 'retried-elsewhere', 'haproxy-redispatch': 'retried-elsewhere', 'caddy': 'routed-to-closed-listener'
    })
  })
})
