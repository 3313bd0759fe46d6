// Which instance owns a server, when both the preload and the application's own code attach graceful to it: the
// application's instance wins, since it carries the hooks, checks and options that the preload cannot know.
import type { Server as NetServer } from 'node:net'
import { kAttachedBy } from '../symbols.js'


interface Claim {
  readonly instance: object
  /** Set for the preload's instance: lets go of the server, for the application's own instance to take over. */
  readonly release?: () => void
}

function claimOf (server: NetServer): Claim | undefined {
  return (server as unknown as Record<symbol, Claim | undefined>)[kAttachedBy]
}

/** A preload's instance holding `server` steps aside; an application's own keeps its claim (two may share a server). */
export function claimServer (server: NetServer, instance: object): void {
  const claim = claimOf(server)
  if (claim?.instance === instance) return
  if (claim === undefined || claim.release !== undefined) {
    ;(server as unknown as Record<symbol, Claim>)[kAttachedBy] = { instance }
    claim?.release?.()
  }
}

/** The preload's claim, made before its instance attaches: `release` is called when the application attaches too. */
export function claimForPreload (server: NetServer, instance: object, release: () => void): void {
  ;(server as unknown as Record<symbol, Claim>)[kAttachedBy] = { instance, release }
}

export function attachedByApplication (server: NetServer): boolean {
  const claim = claimOf(server)
  return claim !== undefined && claim.release === undefined
}
