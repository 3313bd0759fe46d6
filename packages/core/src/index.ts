export { createGraceful, Graceful } from './lifecycle.js'
export { gracefulCluster, type ClusterReport, type GracefulCluster, type GracefulClusterOptions } from './cluster.js'
export { GracefulError, isGracefulError, type GracefulErrorCode } from './errors.js'
export { endEventStream, type EventStreamEnd, type EventStreamTarget } from './event-stream.js'
export type { GracefulOptions } from './options.js'
export { createFallbackLogger, type GracefulLogger, type LogStream } from './logger.js'
export { renderReport } from './render.js'
export type { HookOptions, HookResult, ShutdownHook } from './hooks.js'
export type { HealthResponse } from './health.js'
export type { CheckResult, ReadinessCheck } from './probes.js'
export type { WarningName } from './warnings.js'
export type { ForcedRequest } from './connections.js'
export type { HeldAtDeadline, Phase, ShutdownReport, SignalExitCode } from './report.js'
export {
  channels,
  type GracefulEventName,
  type GracefulEvents,
  type GracefulListener,
  type HookEndEvent,
  type HookStartEvent,
  type PhaseEvent,
  type ShutdownEndEvent,
  type ShutdownStartEvent
} from './events.js'
export type { WebSocketLike, WebSocketServerLike } from './web-sockets.js'
