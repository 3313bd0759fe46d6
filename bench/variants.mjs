// The benchmark's variants (each one a server of bench/server.mjs), shared by the measuring (run.mjs) and the
// rendering of its saved figures (render.mjs, targets.mjs, chart.mjs).

/** Per framework: [variant, name, name in the chart], the bare framework first (the reference of every ratio). */
export const allGroups = {
  'node:http': [
    ['node-bare', 'node:http (bare, server.close())', 'bare, server.close()'],
    ['node-bare-aa', 'node:http, bare again (A/A control)'],
    ['node-graceful', 'node:http + @graceful/core', '@graceful/core']
  ],
  Express: [
    ['express-bare', 'Express 5 (bare, server.close())', 'bare, server.close()'],
    ['express-bare-aa', 'Express 5, bare again (A/A control)'],
    ['express-graceful', 'Express + @graceful/express', '@graceful/express'],
    ['express-graceful-attach', 'Express + @graceful/express, attach() alone', '@graceful/express, attach() alone'],
    ['express-terminus', 'Express + @godaddy/terminus', '@godaddy/terminus'],
    ['express-http-terminator', 'Express + http-terminator', 'http-terminator']
  ],
  Fastify: [
    ['fastify-bare', 'Fastify 5 (bare, fastify.close())', 'bare, fastify.close()'],
    ['fastify-bare-aa', 'Fastify 5, bare again (A/A control)'],
    ['fastify-graceful', 'Fastify + @graceful/fastify', '@graceful/fastify'],
    ['fastify-graceful-shutdown', 'Fastify + fastify-graceful-shutdown', 'fastify-graceful-shutdown'],
    ['fastify-close-with-grace', 'Fastify + close-with-grace', 'close-with-grace']
  ]
}

export const routes = [['/', 'hello world'], ['/json', '1 KiB JSON']]

// Sockets left idle this long before the signal: long enough to be really idle, as keep-alive sockets mostly are.
export const IDLE_BEFORE_SIGNAL = 250

/** graceful's variants: the ones judged against the targets. */
export const isGraceful = (variant) => variant.endsWith('-graceful') || variant.endsWith('-graceful-attach')

/** The A/A control: throughput's yardstick, not a peer (its shutdown is the bare one's and is not measured). */
export const isControl = (variant) => variant.endsWith('-aa')

/** A record keyed by Node version, oldest line first. */
export const byVersion = (record) => Object.entries(record ?? {}).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
