// Every symbol graceful stores on objects it does not own, in one registry as Fastify keeps its own. `Symbol.for` ones
// are shared by every installed copy on purpose: one signal registry, one set of warnings, one owner per server.

/** On an HTTP/1 socket: the newest response queued behind the one being written (pipelined); see probe-routes.ts. */
export const kLatestResponse: unique symbol = Symbol('graceful.latest-response')

/** Marks a response as a probe's: it occupies its socket like any response, but it is not application work. */
export const kProbeResponse: unique symbol = Symbol('graceful.probe-response')

/** The request headers of an HTTP/2 stream, kept for the report should the stream be cut at the deadline. */
export const kStreamHeaders: unique symbol = Symbol('graceful.stream-headers')

/** The `writeHead` a response had (the application's wrapper, on-headers) before graceful told it to close. */
export const kOwnWriteHead: unique symbol = Symbol('graceful.own-write-head')

export const kDeferred: unique symbol = Symbol('graceful.deferred-listener')

/** Marks a signal handler of graceful's own registry (any installed copy): never deferred. */
export const kOwnHandler: unique symbol = Symbol.for('graceful.signal-handler')

export const kGracefulError: unique symbol = Symbol.for('graceful.error')

/** Who added each signal listener, noted by the preload before the application runs. */
export const kListenerOrigins: unique symbol = Symbol.for('graceful.listener-origins.v1')

export const kRegistry: unique symbol = Symbol.for('graceful.signal-registry.v1')

export const kWarned: unique symbol = Symbol.for('graceful.warned.v1')

export const kPrimary: unique symbol = Symbol.for('graceful.cluster-primary.v1')

/** Which instance attached a server (the preload steps aside for the application's own). */
export const kAttachedBy: unique symbol = Symbol.for('graceful.attached-by.v1')
