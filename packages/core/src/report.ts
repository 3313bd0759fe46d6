import type { ForcedRequest } from './connections.js'
import type { HookResult } from './hooks.js'

/** Where an instance is in the shutdown sequence (docs: how it works). */
export type Phase = 'running' | 'stopping' | 'draining' | 'cleanup' | 'stopped'

/** What a shutdown did, logged as one structured line when it ends and returned by `shutdown()`. */
export interface ShutdownReport {
  /** The signal that started it (`SIGTERM`, `SIGINT`, …) or `shutdown()`. */
  reason: string
  /** 0 when clean; 1 when a socket had to be destroyed at the deadline or a hook failed or timed out. */
  exitCode: 0 | 1
  /** From the start of shutdown to the end of the last hook, in milliseconds. */
  durationMs: number
  /** How long each phase lasted, in milliseconds. */
  phases: { stopping: number, draining: number, cleanup: number }
  requests: {
    /** Requests that arrived during the lame duck (all served, with `Connection: close`). */
    servedWhileStopping: number
    /** Requests in flight when the listener closed. */
    inFlightAtDrain: number
    /** Responses that ended during the drain. */
    completedDuringDrain: number
    /** Requests cut at the drain deadline. */
    forced: ForcedRequest[]
  }
  sockets: {
    /** Sockets open when the listener closed. */
    openAtDrain: number
    /** Closed by graceful because they were quiet: idle keep-alive, or never sent a request. */
    closedIdle: number
    /** Closed after their last response (which carried `Connection: close`), or by the client. */
    closedAfterResponse: number
    /** Destroyed at the drain deadline. */
    forced: number
  }
  /** Each cleanup step in the order it ran, the application's own close first. */
  hooks: HookResult[]
  /** Set only when the shutdown itself failed unexpectedly (a bug): what went wrong. */
  error?: string
}
