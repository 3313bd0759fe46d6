// How the preload sees the servers the application starts: the one place that does, for every Node line we support.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { Server as NetServer } from 'node:net'

/**
 * Published by `net.Server#listen` once the listener is bound, for every kind of server (http, https, http2 and plain
 * net are all net.Servers) and every way of creating one: `http.createServer()`, `new Server()` from an ESM named
 * import (Nitro's, which a patch of `http.createServer` never sees), a cluster worker's listen. A documented channel
 * (node:diagnostics_channel, "NET"), on Node 20.16+, 22.3+, 24 and 26; test/internals.test.ts runs on each line.
 * Connections are accepted on a later turn of the event loop, so a server attached here is attached before its first
 * connection. Nothing is published for a listen that fails.
 */
const LISTENING = 'tracing:net.server.listen:asyncEnd'

/** Calls `listener` with each server as it starts listening, from now on. Returns the function that stops it. */
export function onServerListening (listener: (server: NetServer) => void): () => void {
  const onMessage = (message: unknown): void => {
    listener((message as { server: NetServer }).server)
  }
  subscribe(LISTENING, onMessage)
  return () => { unsubscribe(LISTENING, onMessage) }
}
