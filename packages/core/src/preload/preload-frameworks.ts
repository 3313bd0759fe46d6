// The one place in the core that knows frameworks: their switches to leave the signals alone, and their routes.
import { readFileSync } from 'node:fs'
import type { Server as NetServer } from 'node:net'
import { join } from 'node:path'
import type { ProbeRouting } from '../serving/probe-routes.js'

// The documented switches that turn the frameworks' own SIGTERM and SIGINT handlers off: left on, Next.js and Nitro
// close their listener at once and exit. Both read the variable when their server starts, after the preload.
export const SIGNAL_SWITCHES: ReadonlyArray<{ framework: string, variable: string, value: string }> = [
  { framework: 'Next.js', variable: 'NEXT_MANUAL_SIG_HANDLE', value: 'true' },
  { framework: 'Nitro', variable: 'NITRO_SHUTDOWN_DISABLED', value: 'true' }
]

/** Sets each switch the environment leaves unset (a value the user chose, even an empty one, is kept). */
export function takeOverSignals (env: NodeJS.ProcessEnv = process.env): Array<{ framework: string, variable: string, value: string }> {
  const set: Array<{ framework: string, variable: string, value: string }> = []
  for (const entry of SIGNAL_SWITCHES) {
    if (env[entry.variable] !== undefined) continue
    env[entry.variable] = entry.value
    set.push(entry)
  }
  return set
}

export interface ApplicationRoutes {
  framework: string
  /** How its router matches paths; undefined: exactly. */
  routing: ProbeRouting | undefined
  paths: string[]
}

/** An Express app (4 or 5), read as @graceful/express reads it. */
interface ExpressApp {
  request: object
  enabled: (setting: string) => boolean
  lazyrouter?: () => void
  _router?: { stack?: unknown[] }
  router?: { stack?: unknown[] }
}

function isExpressApp (value: unknown): value is ExpressApp {
  return typeof value === 'function' && typeof (value as Partial<ExpressApp>).enabled === 'function' &&
    typeof (value as Partial<ExpressApp>).request === 'object'
}

// Where the routes can be read as the server starts listening: an Express app (NestJS on Express too) is its request
// listener; a Next.js build has `.next/routes-manifest.json`. Nitro, Fastify and others keep theirs to themselves.
export function applicationRoutes (server: NetServer, cwd: string = process.cwd()): ApplicationRoutes | undefined {
  for (const listener of server.listeners('request')) {
    if (!isExpressApp(listener)) continue
    // Express 4 keeps its router in _router (and app.router throws there); Express 5 in the router getter.
    const router = typeof listener.lazyrouter === 'function' ? listener._router : listener.router
    const paths: string[] = []
    for (const layer of router?.stack ?? []) {
      const path = (layer as { route?: { path?: unknown } }).route?.path
      if (typeof path === 'string') paths.push(path)
    }
    const routing = { caseSensitive: listener.enabled('case sensitive routing'), strict: listener.enabled('strict routing') }
    return { framework: 'Express', routing, paths }
  }
  return nextRoutes(cwd)
}

function nextRoutes (cwd: string): ApplicationRoutes | undefined {
  let manifest: { basePath?: unknown, staticRoutes?: unknown }
  try {
    manifest = JSON.parse(readFileSync(join(cwd, '.next', 'routes-manifest.json'), 'utf8')) as typeof manifest
  } catch {
    return undefined
  }
  if (!Array.isArray(manifest.staticRoutes)) return undefined
  const basePath = typeof manifest.basePath === 'string' ? manifest.basePath : ''
  const paths: string[] = []
  for (const route of manifest.staticRoutes as unknown[]) {
    const page = (route as { page?: unknown }).page
    if (typeof page === 'string') paths.push(basePath + page)
  }
  return { framework: 'Next.js', routing: undefined, paths }
}
