// How the preload sees the servers the application starts: the one place that does, for every Node line we support.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { Server as NetServer } from 'node:net'

/**
 * Published by `net.Server#listen` once the listener is bound (lib/net.js, setupListenHandle), for every server, since
 * http, https and http2 servers are net.Servers, and however it was made: `new Server()` from an ESM named import
 * (Nitro's), which a patch of `http.createServer` never sees, or in a cluster worker. Documented (diagnostics_channel,
 * "NET") and read on Node 20.19, 22, 24 and 26; test/internals.test.ts runs on each. Connections are accepted on a
 * later turn of the event loop: a server attached here is attached before its first connection.
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
