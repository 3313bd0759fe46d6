// The public surface of @graceful/core: re-exports only.
import type { Graceful } from './graceful.js'
import type * as events from './report/events.js'

export { createGraceful, Graceful } from './graceful.js'
export { gracefulCluster, type ClusterReport, type GracefulCluster, type GracefulClusterOptions } from './process/cluster.js'
export { GracefulError, gracefulError, isGracefulError, type GracefulErrorCode } from './errors.js'
export { endEventStream, type EventStreamEnd, type EventStreamTarget } from './connections/event-stream.js'
export type { GracefulOptions } from './options/options.js'
export { createFallbackLogger, type GracefulLogger, type LogStream } from './report/logger.js'
export { renderReport } from './report/render.js'
export type { HookOptions, HookResult, ShutdownContext, ShutdownHook } from './shutdown/hooks.js'
export type { CheckResult, HealthResponse, ReadinessCheck } from './serving/readiness.js'
export type { WarningName } from './process/warnings.js'
export type { ForcedRequest, HeldAtDeadline, Phase, ShutdownReport, SignalExitCode } from './report/report.js'
export { channels, type GracefulEventName } from './report/events.js'
export type { WebSocketLike, WebSocketServerLike } from './connections/web-sockets.js'
export type { ForcedWork, RunningWork, WorkReport, WorkSource, WorkSourceResult, WorkStopAt, WorkStopContext } from './shutdown/work.js'

/** Every lifecycle event of a `Graceful` instance, by the name `on()` takes. */
export type GracefulEvents = events.GracefulEvents<Graceful>
/** A listener of the lifecycle event `E`. */
export type GracefulListener<E extends events.GracefulEventName> = events.GracefulListener<E, Graceful>
/** Fired once, when the shutdown begins (before the lame duck). */
export type ShutdownStartEvent = events.ShutdownStartEvent<Graceful>
/** Fired when the instance enters a phase: `stopping`, `draining`, `cleanup`, then `stopped`. */
export type PhaseEvent = events.PhaseEvent<Graceful>
/** Fired before a cleanup step runs (the application's own `close`, then each `onShutdown` hook). */
export type HookStartEvent = events.HookStartEvent<Graceful>
/** Fired when a cleanup step ended: finished, threw or rejected, or timed out. */
export type HookEndEvent = events.HookEndEvent<Graceful>
/** Fired when a work source is told to stop taking work (at the signal, or when draining begins). */
export type WorkStopEvent = events.WorkStopEvent<Graceful>
/** Fired when a work source's work has ended, or the drain deadline cut it, or its stop failed. */
export type WorkEndEvent = events.WorkEndEvent<Graceful>
/** Fired once, when the shutdown is over and its report is logged (before the process exits). */
export type ShutdownEndEvent = events.ShutdownEndEvent<Graceful>
