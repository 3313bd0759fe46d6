export { checkShutdown } from './check.js'
export { CheckError, isCheckError, type CheckErrorCode } from './errors.js'
export { findHaproxy, haproxyCheck } from './haproxy.js'
export { formatHtml } from './html.js'
export { formatJunit } from './junit.js'
export { formatMarkdown, formatText } from './render.js'
export { reportSchema } from './schema.js'
export {
  SCHEMA_VERSION,
  type AcceptedPorts,
  type BalancerName,
  type CheckOptions,
  type CheckReport,
  type ClientCounts,
  type ClientKind,
  type CycleReport,
  type Distribution,
  type FailedRequest,
  type FailureKind,
  type Finding,
  type LoadOptions,
  type RequestPhase,
  type Progress,
  type RequestMark,
  type RequestSpec,
  type TimelineEvent
} from './types.js'
