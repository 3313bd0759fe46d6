// The shutdown report: its shape (a public contract), how it is built from the phases, and the exit code it carries.
import { constants } from 'node:os'
import type { HookResult } from '../shutdown/hooks.js'
import type { WorkReport } from '../shutdown/work.js'

/** A request that was still running when the drain deadline destroyed its socket. */
export interface ForcedRequest {
  method: string
  /** The request's path, without the query string (it may carry secrets). */
  path: string
  /** How long it had been running, in ms (for a request older than the signal: since the signal, at least). */
  ageMs: number
  /**
   * What its handler did (absent for HTTP/2): `'ended'` its response before the cut (which did not reach the client
   * whole), `'ended-after-cut'`, or was still `'running'` when the report was written. Either way its work may have
   * committed while its client saw a failure, unless it honoured `deadlineSignal` (docs/reliability.md).
   */
  handler?: 'ended' | 'ended-after-cut' | 'running'
}

/** What the drain did: the figures of the report's `requests` and `sockets` (see `ShutdownReport`). */
export interface DrainOutcome {
  inFlightAtStart: number
  completed: number
  socketsAtStart: number
  closedIdle: number
  closedAfterResponse: number
  forced: number
  webSockets: number
  http2Sessions: number
  forcedRequests: ForcedRequest[]
  untracked: number
}

/** Where an instance is in the shutdown sequence (docs: how it works). */
export type Phase = 'running' | 'stopping' | 'draining' | 'cleanup' | 'stopped'

/** The exit code after a clean shutdown that a signal started (see `GracefulOptions.signalExitCode`). */
export type SignalExitCode = 'zero' | 'conventional'

/** What was still holding the process when the drain deadline passed, just before the sockets were destroyed. */
export interface HeldAtDeadline {
  /** Requests still in flight. */
  inFlight: number
  /** Sockets still open (their requests are in `requests.forced`). */
  openSockets: number
  /** `process.getActiveResourcesInfo()` counted by type (`TCPSocketWrap`, `TCPServerWrap`, `Timeout`, …). */
  activeResources: Record<string, number>
}

/** What a shutdown did, logged as one structured line when it ends and returned by `shutdown()`. */
export interface ShutdownReport {
  /** The signal that started it (`SIGTERM`, `SIGINT`, …) or `shutdown()`. */
  reason: string
  /** 1 when anything was forced, cut or failed, else 0 (or 128 + the signal's number): the process's exit code. */
  exitCode: number
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
    /** Requests cut at the drain deadline: method, path (no query string) and how long each had been running. */
    forced: ForcedRequest[]
    /** Requests pipelined behind a response that said `Connection: close`: declined (RFC 9112 §9.6) and retried. */
    declinedPipelined: number
  }
  sockets: {
    /** Sockets open when the listener closed. */
    openAtDrain: number
    /** Of those, WebSockets (from servers given to `trackWebSockets`), each asked to close with 1001. */
    webSockets: number
    /** Of those, HTTP/2 sessions, each sent GOAWAY. */
    http2Sessions: number
    /** Closed by graceful because they were quiet: idle keep-alive, or never sent a request. */
    closedIdle: number
    /** Closed after their last response (which carried `Connection: close`), or by the client. */
    closedAfterResponse: number
    /** Destroyed at the drain deadline (the untracked ones included). */
    forced: number
    /** Of those, sockets graceful never saw (connected before `attach()`): attach right after `listen()`. */
    untracked: number
  }
  /** Present only when the drain deadline passed: what was still holding the process then. */
  atDeadline?: HeldAtDeadline
  /** Each cleanup step in the order it ran, the application's own close first. */
  hooks: HookResult[]
  /** With work sources (`addWorkSource`): each source's outcome, and the work the drain deadline cut. */
  work?: WorkReport
  /** With flush steps (`onFlush`), each as it ran; only in what `shutdown()` resolves with (they run after the log). */
  flush?: HookResult[]
  /** Set only when the shutdown itself failed unexpectedly (a bug): what went wrong. */
  error?: string
  /** Set only when a crash started (or joined) the shutdown (`onCrash: 'drain'`): what crashed the process. */
  crash?: CrashReport
}

/** The crash behind a shutdown: an uncaught exception or an unhandled rejection. */
export interface CrashReport {
  kind: 'uncaughtException' | 'unhandledRejection'
  /** The error's message (or the rejection's value, as text). */
  message: string
  stack?: string
}

export function exitCodeFor (failed: boolean, reason: string, policy: SignalExitCode): number {
  if (failed) return 1
  if (policy === 'conventional') {
    const number = (constants.signals as Partial<Record<string, number>>)[reason]
    if (number !== undefined) return 128 + number
  }
  return 0
}

/** `process.getActiveResourcesInfo()` counted by type: what keeps the event loop, and so the process, alive. */
export function activeResources (): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1
  return counts
}

export interface PhaseTimes {
  stopping: number
  draining: number
  cleanup: number
  total: number
}

export function buildReport (
  reason: string,
  drain: DrainOutcome,
  hooks: HookResult[],
  requests: { servedWhileStopping: number, declined: number },
  times: PhaseTimes,
  exitCode: number,
  atDeadline?: HeldAtDeadline
): ShutdownReport {
  return {
    reason,
    exitCode,
    durationMs: round(times.total),
    phases: { stopping: round(times.stopping), draining: round(times.draining), cleanup: round(times.cleanup) },
    requests: {
      servedWhileStopping: requests.servedWhileStopping,
      inFlightAtDrain: drain.inFlightAtStart,
      completedDuringDrain: drain.completed,
      forced: drain.forcedRequests,
      declinedPipelined: requests.declined
    },
    sockets: {
      openAtDrain: drain.socketsAtStart,
      webSockets: drain.webSockets,
      http2Sessions: drain.http2Sessions,
      closedIdle: drain.closedIdle,
      closedAfterResponse: drain.closedAfterResponse,
      forced: drain.forced,
      untracked: drain.untracked
    },
    // Before the hooks in the logged line, next to the sockets it explains.
    ...(atDeadline === undefined ? {} : { atDeadline }),
    hooks
  }
}

export function round (ms: number): number {
  return Math.round(ms * 10) / 10
}
