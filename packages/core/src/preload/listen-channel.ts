import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { Server as NetServer } from 'node:net'

// Published by `net.Server#listen` once bound (lib/net.js), for every server however made: a `new Server()` from an
// ESM import (Nitro), which a patch of `http.createServer` never sees, or in a cluster worker. Documented, and tested
// on each Node line. Connections come on a later turn: the server is attached before its first.
const LISTENING = 'tracing:net.server.listen:asyncEnd'

/** Calls `listener` with each server as it starts listening; returns the function that stops it. */
export function onServerListening (listener: (server: NetServer) => void): () => void {
  const onMessage = (message: unknown): void => {
    listener((message as { server: NetServer }).server)
  }
  subscribe(LISTENING, onMessage)
  return () => { unsubscribe(LISTENING, onMessage) }
}
