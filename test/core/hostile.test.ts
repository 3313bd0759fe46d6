// Hostile input, property-based (fast-check): any option value either works or fails at once with a GracefulError;
// the health routes answer odd methods, huge headers and any query string without a crash and without leaking check
// errors; options objects cannot reach Object.prototype.
import { createServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { once } from 'node:events'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { thrown } from '../helpers/index.js'
import { createGraceful, isGracefulError, type Graceful, type GracefulOptions } from '@graceful/core'
import { graceful } from '@graceful/express'

// Never on the process: no signals, no exit, no log lines.
const quiet = { signals: [], exit: false, logger: false } as const

const cleanup: Array<() => void> = []
afterEach(() => {
  for (const step of cleanup.splice(0)) step()
})

// Every option the core knows, read from its own "unknown option" message, so that a new option is covered here too.
const OPTION_NAMES = (() => {
  const message = (thrown(() => createGraceful({ zzz: 1 } as GracefulOptions)) as Error).message
  return /Known options: ([^.]+)\./.exec(message)![1]!.split(', ')
})()

/** Creates an instance, or returns what it threw; an instance is exercised a little and let go. */
function attempt (options: unknown): unknown {
  let instance: Graceful | undefined
  const error = thrown(() => { instance = createGraceful(options as GracefulOptions) })
  if (instance !== undefined) {
    // A value that passed validation must not fail later, at the first probe or on release.
    void instance.healthFor(instance.readinessPath)
    void instance.healthFor(instance.livenessPath)
    instance.dispose()
  }
  return error
}

/** The codes an option's value can be refused with: one per kind of mistake. */
const OPTION_CODES = ['GRACEFUL_ERR_INVALID_OPTION', 'GRACEFUL_ERR_INVALID_DURATION', 'GRACEFUL_ERR_INVALID_PATH',
  'GRACEFUL_ERR_INVALID_SIGNAL', 'GRACEFUL_ERR_CONFLICTING_OPTIONS']

function expectInvalidOption (error: unknown, name: string): void {
  expect(isGracefulError(error) && OPTION_CODES.includes(error.code), String(error)).toBe(true)
  expect((error as Error).message).toContain(name)
  expect((error as Error).message.length).toBeLessThan(2_000)
}

class Thing { value = 1 }

/** Values of every JavaScript kind, odd ones included. */
const anyValue = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true }),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 2 ** 31, -1, 1e308, '', ' ', '/', '/a b', '/x?y', 'SIGKILL',
    Symbol('s'), () => 1, () => Promise.resolve(1), Thing, new Error('x'), Object.create(null) as object, [], [[]],
    ['SIGTERM', 'SIGTERM'])
)

describe('option validation, property-based', () => {
  it('any value for any option is accepted or refused at once with a GracefulError naming the option', () => {
    fc.assert(fc.property(fc.constantFrom(...OPTION_NAMES), anyValue, (name, value) => {
      const error = attempt({ ...quiet, [name]: value })
      if (error !== undefined) expectInvalidOption(error, name)
    }), { numRuns: 2_000 })
  })

  it('a value of the wrong kind is always refused', () => {
    const durations = ['preStopDelay', 'drainTimeout', 'hookTimeout', 'idleSocketGrace', 'newSocketGrace', 'checkTimeout',
      'checkMaxAge', 'preStopQuietWindow', 'preStopMinimumDelay', 'gracePeriod']
    fc.assert(fc.property(
      fc.constantFrom(...durations),
      fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer()), fc.object(), fc.bigInt(),
        fc.double({ noNaN: false }).filter(n => Number.isNaN(n) || n < 0 || n > 2_147_483_647 || !Number.isFinite(n))),
      (name, value) => { expectInvalidOption(attempt({ ...quiet, [name]: value }), name) }
    ), { numRuns: 1_000 })
    fc.assert(fc.property(
      fc.constantFrom('readinessPath', 'livenessPath'),
      fc.oneof(fc.string().filter(s => !/^\/[^\s?#]*$/.test(s)), fc.integer(), fc.constant(null)),
      (name, value) => { expectInvalidOption(attempt({ ...quiet, [name]: value }), name) }
    ), { numRuns: 500 })
    fc.assert(fc.property(
      fc.constantFrom('exit', 'exposeCheckErrors'),
      fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object()),
      (name, value) => { expectInvalidOption(attempt({ ...quiet, [name]: value }), name) }
    ), { numRuns: 300 })
  })

  it('valid values are accepted', () => {
    const duration = fc.oneof(fc.integer({ min: 0, max: 2_147_483_647 }), fc.double({ min: 0, max: 2_147_483_647, noNaN: true }))
    const path = fc.stringMatching(/^\/[a-zA-Z0-9/_.~-]{0,30}$/)
    fc.assert(fc.property(
      fc.record({
        preStopDelay: duration,
        drainTimeout: duration,
        hookTimeout: duration,
        idleSocketGrace: duration,
        newSocketGrace: duration,
        readinessPath: path,
        livenessPath: path,
        exposeCheckErrors: fc.boolean(),
        signalExitCode: fc.constantFrom('zero', 'conventional'),
        signals: fc.uniqueArray(fc.constantFrom('SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2'), { maxLength: 4 })
      }, { requiredKeys: [] }).filter(options => options.readinessPath === undefined || options.livenessPath === undefined ||
        options.readinessPath !== options.livenessPath).filter(options => (options.readinessPath ?? '/healthz') !==
        (options.livenessPath ?? '/livez')),
      (options) => { expect(attempt({ ...quiet, ...options })).toBeUndefined() }
    ), { numRuns: 500 })
  })

  it('unknown option names are refused with the list of known ones', () => {
    fc.assert(fc.property(fc.string().filter(key => !OPTION_NAMES.includes(key)), anyValue, (key, value) => {
      const options: Record<string, unknown> = { ...quiet }
      Object.defineProperty(options, key, { value, enumerable: true })
      const error = attempt(options)
      expect(isGracefulError(error, 'GRACEFUL_ERR_UNKNOWN_OPTION')).toBe(true)
      expect((error as Error).message).toMatch(/unknown option .*Known options: signals,/)
    }), { numRuns: 500 })
  })

  it('options with __proto__, constructor or prototype keys change nothing global, through the core, Express and JSON', () => {
    const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype')
    const payload = fc.dictionary(fc.constantFrom('polluted', 'drainTimeout', 'toString', 'readinessPath', 'exit'), anyValue,
      { minKeys: 1 })
    fc.assert(fc.property(hostileKey, payload, fc.boolean(), (key, inner, viaJson) => {
      const options = viaJson
        ? JSON.parse(`{${JSON.stringify(key)}: ${(JSON.stringify(inner, (_k, v: unknown) => typeof v === 'bigint' ? String(v) : v) as string | undefined) ?? 'null'}}`) as Record<string, unknown>
        : Object.defineProperty({}, key, { value: inner, enumerable: true })
      for (const create of [createGraceful, graceful] as Array<(options: unknown) => unknown>) {
        const error = thrown(() => create(options))
        expect(isGracefulError(error, 'GRACEFUL_ERR_UNKNOWN_OPTION'), String(error)).toBe(true)
        expect((error as Error).message).toContain(`unknown option \`${key}\``)
      }
      expect(Object.getOwnPropertyNames(Object.prototype).filter(name => !PROTOTYPE_NAMES.has(name))).toEqual([])
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
      // A fresh instance still has every default.
      const fresh = createGraceful({ ...quiet })
      expect([fresh.readinessPath, fresh.livenessPath, fresh.exit]).toEqual(['/healthz', '/livez', false])
      fresh.dispose()
    }), { numRuns: 300 })
  })

  it('options inherited through the prototype chain are ignored, not applied', () => {
    fc.assert(fc.property(fc.constantFrom(...OPTION_NAMES), anyValue, (name, value) => {
      const options = Object.assign(Object.create({ [name]: value }) as object, quiet)
      expect(attempt(options)).toBeUndefined()
    }), { numRuns: 300 })
  })
})

const PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype))

async function listen (g: Graceful): Promise<{ port: number, server: Server }> {
  const server = createServer((req, res) => {
    if (g.handle(req, res)) return
    res.writeHead(404, { 'content-length': '9' }).end('not found')
  })
  g.attach(server)
  cleanup.push(() => { server.closeAllConnections(); server.close() })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: (server.address() as { port: number }).port, server }
}

/** Sends raw bytes on a fresh connection and resolves with everything the server wrote before closing. */
async function raw (port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  cleanup.push(() => socket.destroy())
  socket.setEncoding('latin1')
  let data = ''
  socket.on('data', (chunk: string) => { data += chunk })
  socket.on('error', () => undefined)
  await once(socket, 'connect')
  socket.end(request)
  await once(socket, 'close')
  return data
}

const token = fc.stringMatching(/^[A-Za-z!#$%&'*+.^_`|~-]{1,20}$/)
const queryString = fc.string({ unit: fc.constantFrom(...'abcXYZ019=&%+-._~!$\'()*,;:@/?'.split('')), maxLength: 200 })

describe('health routes, property-based, over real sockets', () => {
  it('any method, any query string and large headers get 200, 405 or the app\'s own answer, never an error', async () => {
    const g = createGraceful({ ...quiet })
    const { port } = await listen(g)
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('/healthz', '/livez'),
      fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'get'), token),
      fc.option(queryString, { nil: undefined }),
      fc.integer({ min: 0, max: 12_000 }),
      async (path, method, query, padding) => {
        const target = query === undefined ? path : `${path}?${query}`
        const response = await raw(port, `${method} ${target} HTTP/1.1\r\nHost: localhost\r\nX-Padding: ${'p'.repeat(padding)}\r\n` +
          'Connection: close\r\n\r\n')
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1])
        if (method === 'GET' || method === 'HEAD') {
          expect(status).toBe(200)
          if (method === 'GET') expect(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 'ok' })
        } else if (/^[A-Z]+$/.test(method) && ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND'].includes(method)) {
          expect(status).toBe(405)
          expect(response).toMatch(/allow: GET, HEAD/i)
        } else {
          // A method Node's parser does not know is refused by Node itself (400), before any handler.
          expect([400, 405]).toContain(status)
        }
      }
    ), { numRuns: 150 })
    // The server is still up and still serving.
    expect(await raw(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/)
    g.dispose()
  })

  it('headers past Node\'s limit get Node\'s 431, and the next probe is answered', async () => {
    const g = createGraceful({ ...quiet })
    const { port } = await listen(g)
    const response = await raw(port, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: ${'p'.repeat(40_000)}\r\n\r\n`)
    expect(response).toMatch(/^HTTP\/1\.1 431/)
    expect(await raw(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/)
    g.dispose()
  })

  it('a failing check\'s error never appears in the readiness answer, unless exposeCheckErrors is set', async () => {
    await fc.assert(fc.asyncProperty(
      fc.stringMatching(/^[A-Za-z0-9]{12,24}$/),
      fc.constantFrom('throw', 'reject', 'reject-string'),
      fc.boolean(),
      async (secret, how, expose) => {
        const marker = `secret-${secret}`
        const g = createGraceful({
          ...quiet,
          exposeCheckErrors: expose,
          checkMaxAge: 0,
          checks: {
            db: () => {
              if (how === 'throw') throw new Error(`password=${marker}`)
              // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
              return Promise.reject(how === 'reject' ? new Error(`password=${marker}`) : `password=${marker}`)
            }
          }
        })
        try {
          const { port } = await listen(g)
          const response = await raw(port, 'GET /healthz?verbose=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
          expect(response).toMatch(/^HTTP\/1\.1 503/)
          expect(response.includes(marker)).toBe(expose)
        } finally {
          g.dispose()
          for (const step of cleanup.splice(0)) step()
        }
      }
    ), { numRuns: 40 })
  })
})
