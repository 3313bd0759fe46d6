// Every symbol graceful stores on objects it does not own (sockets, responses, streams, handlers, the process), in one
// registry as Fastify keeps its own. `Symbol.for` ones are shared by every installed copy of the package, on purpose:
// the process has one signal registry, one set of warnings said, one owner per server.

/**
 * The newest response queued on an HTTP/1 socket behind the one being written (pipelined), stored on the socket by the
 * probe routes as its request passes. Node keeps pipelined responses in a queue only it sees; when the shutdown
 * begins, the newest must say `Connection: close`, and no other. A response Node writes at once is not stored: it is
 * `socket._httpMessage`, and a stored one would stay alive with its request on every idle keep-alive socket.
 */
export const kLatestResponse: unique symbol = Symbol('graceful.latest-response')

/** Marks a response as a probe's: it occupies its socket like any response, but it is not application work. */
export const kProbeResponse: unique symbol = Symbol('graceful.probe-response')

/** The request headers of an HTTP/2 stream, kept for the report should the stream be cut at the deadline. */
export const kStreamHeaders: unique symbol = Symbol('graceful.stream-headers')

/** The `writeHead` a response had (the application's wrapper, on-headers) before graceful told it to close. */
export const kOwnWriteHead: unique symbol = Symbol('graceful.own-write-head')

/** A listener of the application's deferred until the shutdown is over (competing-listeners.ts). */
export const kDeferred: unique symbol = Symbol('graceful.deferred-listener')

/** Marks a signal handler of graceful's own registry (any installed copy): never deferred. */
export const kOwnHandler: unique symbol = Symbol.for('graceful.signal-handler')

/** The brand of a `GracefulError`, recognised across installed copies as undici's errors are. */
export const kGracefulError: unique symbol = Symbol.for('graceful.error')

/** Who added each signal listener, noted by the preload before the application runs. */
export const kListenerOrigins: unique symbol = Symbol.for('graceful.listener-origins.v1')

/** The process's one signal registry. */
export const kRegistry: unique symbol = Symbol.for('graceful.signal-registry.v1')

/** The start-up warnings said once per process. */
export const kWarned: unique symbol = Symbol.for('graceful.warned.v1')

/** The cluster primary's one coordinator. */
export const kPrimary: unique symbol = Symbol.for('graceful.cluster-primary.v1')

/** Which instance attached a server (the preload steps aside for the application's own). */
export const kAttachedBy: unique symbol = Symbol.for('graceful.attached-by.v1')
