// The public surface of each package, locked: a change here is a change of contract.
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import type * as Core from '@graceful/core'
import type * as Express from '@graceful/express'
import type * as Fastify from '@graceful/fastify'
import type * as Prometheus from '@graceful/prometheus'

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
        "isGracefulError",
        "renderReport",
      ]
    `)
  })

  it('@graceful/express exports', async () => {
    expect(Object.keys(await import('@graceful/express')).sort()).toMatchInlineSnapshot(`
      [
        "GracefulError",
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

  it('the diagnostics channel names', async () => {
    const { channels } = await import('@graceful/core')
    expect(channels).toMatchInlineSnapshot(`
      {
        "hookEnd": "graceful:hook:end",
        "hookStart": "graceful:hook:start",
        "phase": "graceful:phase",
        "shutdownEnd": "graceful:shutdown:end",
        "shutdownStart": "graceful:shutdown:start",
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
    expect(typeof core.createGraceful).toBe('function')
    expect(typeof express.graceful).toBe('function')
    expect(typeof fastify.gracefulPlugin).toBe('function')
    expect(typeof prometheus.gracefulMetrics).toBe('function')
    // The same module instance as the ESM import: one error class, one registry.
    expect(express.GracefulError).toBe(core.GracefulError)
  })
})
