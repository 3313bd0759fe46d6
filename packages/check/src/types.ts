/** The version of the report's shape: a field is only ever added within a version (docs/check.md says what 2 changed). */
export const SCHEMA_VERSION = 2

/**
 * What sits in front of the service, simulated: each keeps routing new connections here for the endpoint-propagation
 * delay after the signal, and differs in what it re-sends to another instance (docs/check.md, "The balancer").
 */
export type BalancerName = 'kube-proxy' | 'nginx' | 'haproxy-redispatch' | 'caddy' | 'none'

/** A request the load sends: `GET /` or `POST /orders` with a body. */
export interface RequestSpec {
  method: string
  path: string
  /** Sent with `content-type: application/json` when it parses as JSON, `text/plain` otherwise. */
  body?: string
}

/** How much of each kind of load runs; 0 turns a kind off. */
export interface LoadOptions {
  /** Keep-alive clients (undici), each sending the paths in a loop on its connection. @default 8 */
  keepAlive?: number
  /** Clients that open a new connection for every request. @default 2 */
  newConnection?: number
  /** Sockets that connect and never send a byte (a browser's preconnect). @default 2 */
  idleSockets?: number
  /** Clients whose requests take a while to arrive: the head (and body) written in parts over `slowMs`. @default 2 */
  slow?: number
  /** How long a slow client takes to write one request. @default 300 (ms) */
  slowMs?: number
  /** The requests of the slow clients (uploads, say). @default the paths */
  slowPaths?: Array<RequestSpec | string>
  /** Clients that pipeline batches of 2 to 4 requests on raw sockets. @default 2 */
  pipelining?: number
  /** Whether a pipelined batch may be written in two parts, split inside a request. @default false */
  splitPipelines?: boolean
  /**
   * Pauses between a keep-alive client's requests: 0 to `pauseMs`, and one in ten `longPauseMs`, so that sockets turn
   * idle under the clients. @default 0 (ms, no pauses)
   */
  pauseMs?: number
  /** @default 0 (ms): no long pauses */
  longPauseMs?: number
}

/** Server-side evidence of which connections the service accepted, by the client's local port. */
export type AcceptedPorts = () => Iterable<number>

export interface CheckOptions {
  /** The service to start: `['node', 'server.js']`. Exclusive with `url`. */
  command?: readonly string[]
  /** Working directory of the command. @default process.cwd() */
  cwd?: string
  /** More environment variables for the command (`PORT` is set for it). */
  env?: Record<string, string>
  /** The port the service listens on. @default a free port, given to the command as `PORT` */
  port?: number
  /** An already running service (with `pid` to signal it). Exclusive with `command`. */
  url?: string
  /** The process to signal when the service was not started here. */
  pid?: number
  /** The readiness path, probed on fresh connections. @default the first path, until it answers 2xx */
  ready?: string
  /** The requests of the load. @default [{ method: 'GET', path: '/' }] */
  paths?: Array<RequestSpec | string>
  /** The signal to send. @default 'SIGTERM' */
  signal?: NodeJS.Signals
  /** When to send the signal, after the load started. @default drawn from the seed between 300 and 900 (ms) */
  signalAfter?: number
  /** The seed of every random choice. @default a random one, in the report */
  seed?: number
  /** How many start–load–signal–exit cycles. @default 1 */
  cycles?: number
  /** How long to wait for the service to become ready. @default 15_000 (ms) */
  startTimeout?: number
  /** How long after the signal the service may take to exit before it is killed. @default 30_000 (ms) */
  timeout?: number
  /** A request without a full answer after this long has timed out. @default 10_000 (ms) */
  requestTimeout?: number
  /** How often the readiness prober opens a connection. @default 100 (ms) */
  probeInterval?: number
  /**
   * A request written on a keep-alive connection quiet for at least this long that is closed without an answer met
   * the race every keep-alive client meets at the server's idle timeout; it is counted, not lost. @default 100 (ms)
   */
  idleGrace?: number
  /**
   * What sits in front of the service. Every balancer goes on routing new connections here for `propagation` ms after
   * the signal, whatever readiness and the responses say, and a connection refused or reset meanwhile is lost, unless
   * this balancer re-sends it elsewhere. `none`: the clients connect directly and stop at the first refusal, which is
   * then safe to retry. @default 'kube-proxy'
   */
  balancer?: BalancerName
  /**
   * How long after the signal the balancer goes on routing new connections here (endpoint propagation): a number, or
   * a range that each cycle draws its own delay from, by the seed. @default { min: 1_000, max: 3_000 } (ms)
   */
  propagation?: number | { min: number, max: number }
  /** Lost requests allowed before the verdict fails. @default 0 */
  maxLost?: number
  /** The kinds of load and their sizes. */
  load?: LoadOptions
  /** Server-side evidence: the client ports the service accepted (see `evidence` in docs/check.md). */
  acceptedPorts?: AcceptedPorts
  /** Read `graceful-check accepted <port>` lines from the service's output as the accepted ports. @default false */
  acceptedFromOutput?: boolean
  /** Each line the service writes, as it comes. */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void
  /** Called often while a cycle runs, with what is known so far (for a live view). */
  onProgress?: (progress: Progress) => void
  /** Stops the run early (the service is killed, the report says so). */
  abortSignal?: AbortSignal
  /**
   * Put a real HAProxy in front of two instances of `command` and replace each of them `rounds` times in Kubernetes'
   * order (the new one ready, then the old one signalled); the load goes through HAProxy.
   */
  lb?: 'haproxy'
  /** With `lb`: how many times each instance is replaced. @default 2 */
  rounds?: number
  /** With `lb`: the HAProxy binary. @default found on PATH, /usr/sbin or /usr/local/sbin */
  haproxy?: string
  /** With `lb`: HAProxy's `option redispatch`, which sends the last retry of a refused connection to another server. @default false */
  redispatch?: boolean
}

/** What a live view draws while a cycle runs. */
export interface Progress {
  cycle: number
  cycles: number
  stage: 'starting' | 'load' | 'signalled' | 'exited'
  /** ms since the load started. */
  elapsedMs: number
  signalAfterMs: number
  /** ms since the signal, when sent. */
  sinceSignalMs: number | null
  sent: number
  completed: number
  failed: number
  lost: number
  readiness: string
  /** ms the balancer still routes new connections here; 0 once it let go; null without a balancer or before the signal. */
  routingLeftMs: number | null
  exit: string | null
}

export type ClientKind = 'keep-alive' | 'new-connection' | 'slow' | 'pipelined' | 'prober'
export type RequestPhase = 'before-signal' | 'lame-duck' | 'drain' | 'after-exit'

/** What a failed request met. */
export type FailureKind =
  | 'refused'
  | 'routed-to-closed-listener'
  | 'never-accepted'
  | 'reset-fresh-connection'
  | 'reset-reused-connection'
  | 'idle-closed'
  | 'pipelined-behind-close'
  | 'closed-mid-response'
  | 'exited-in-flight'
  | 'killed-in-flight'
  | 'server-error'
  | 'timed-out'
  | 'probe-failed'
  | 'retried-elsewhere'

/** One request that did not get a full answer, or got a 5xx. */
export interface FailedRequest {
  client: ClientKind
  method: string
  path: string
  /** GET, HEAD, OPTIONS, PUT, DELETE: a client may send it again without harm. */
  idempotent: boolean
  /** `fresh`: the first request on its connection; `reused`: a keep-alive connection that had answered before. */
  connection: 'fresh' | 'reused'
  /** The client's local port, to match with the service's own record of the connections it accepted. */
  localPort: number | null
  /** ms from the signal to when the request went out (negative before the signal). */
  sentMs: number
  /** ms from the signal to when it failed. */
  failedMs: number
  phase: RequestPhase
  kind: FailureKind
  /** The status of a 5xx answer. */
  status: number | null
  /** The error the client saw: `ECONNRESET`, `UND_ERR_SOCKET`, `closed`… */
  error: string | null
  /** Counted against the verdict. */
  lost: boolean
  /** Why it happened, in one line. */
  cause: string
  /** What to change, in one line. */
  fix: string
}

/** A moment of the cycle, for the timeline. ms from the signal. */
export interface TimelineEvent {
  atMs: number
  what: string
}

export interface ClientCounts { sent: number, completed: number, failed: number, lost: number }

/** Something about the service as a whole (not one request) that a person must act on. */
export interface Finding {
  kind: 'signal-not-delivered' | 'did-not-exit' | 'exited-before-signal' | 'exit-code' | 'readiness-never-failed'
  /** Whether it fails the verdict by itself. */
  fails: boolean
  cause: string
  fix: string
}

export interface CycleReport {
  cycle: number
  /** This cycle's own seed, derived from the report's `seed` (which is the one to give `--seed` to replay). */
  seed: number
  /** Where the service was reached, and after how many ms of load the signal went. */
  url: string
  signalAfterMs: number
  /** ms from the signal, null when not seen. */
  times: {
    readinessFailedMs: number | null
    listenerRefusedMs: number | null
    lastResponseMs: number | null
    exitMs: number | null
    /** When the balancer stopped routing new connections here: the signal + the propagation delay. */
    routingEndedMs: number | null
  }
  /** The balancer simulated in this cycle, and its propagation delay (null without one). */
  balancer: { model: BalancerName, propagationMs: number | null }
  /**
   * The shutdown's phases as the service itself reported them (graceful's `shutdown complete` line), ms from the
   * signal; null when the service wrote no such report.
   */
  servicePhases: { lameDuckMs: number, drainMs: number, hooksMs: number } | null
  /**
   * Every request of the cycle, in the order sent: its client, when it was sent and when it was answered or failed (ms
   * from the signal), and the index of its entry in `failures` (null: answered).
   */
  marks: RequestMark[]
  exit: { code: number | null, signal: string | null, killedAfterTimeout: boolean }
  /** Requests by outcome; `answered` counts every full response, 2xx or not. */
  requests: {
    sent: number
    answered: number
    failed: number
    lost: number
    /** Failed but not lost: refused before sending, never accepted, idle race, re-sent elsewhere by the balancer. */
    excused: number
    /** Lost requests whose method is not idempotent (POST, PATCH…): no client or balancer may safely send them again. */
    lostNotIdempotent: number
    byClient: Record<ClientKind, ClientCounts>
  }
  /** Responses that carried `Connection: close`, by phase. */
  connectionClose: Record<RequestPhase, number>
  /** Non-5xx answers that were not 2xx, by status. */
  statuses: Record<string, number>
  idleSockets: { opened: number, closedByServiceMs: number[], openAtExit: number }
  probes: { sent: number, changes: TimelineEvent[] }
  timeline: TimelineEvent[]
  failures: FailedRequest[]
  findings: Finding[]
  /** With a load balancer (`lb`): each instance, when it was signalled and when it exited, ms from the first signal. */
  instances: Array<{ name: string, port: number, signalledMs: number | null, exitMs: number | null, code: number | null, signal: string | null }>
  /** With a load balancer: its log of the requests it failed or retried, "status termination-state" → count. */
  proxyLog: Record<string, number>
}

/** `[client, sentMs, doneMs, failure]`: one request, `failure` the index of its entry in the cycle's `failures`, or null. */
export type RequestMark = [client: ClientKind, sentMs: number, doneMs: number, failure: number | null]

export interface Distribution {
  min: number
  median: number
  max: number
}

export interface CheckReport {
  schemaVersion: typeof SCHEMA_VERSION
  tool: { name: 'graceful-check', version: string }
  /** True when no more than `maxLost` requests were lost and no finding fails. */
  ok: boolean
  maxLost: number
  /** Every choice drawn at random replays from it: `--seed` with this value (and `--cycles` up to the cycle). */
  seed: number
  signal: string
  target: { command: string[] | null, url: string, pid: number | null }
  /** The balancer simulated, and the range its propagation delay was drawn from. */
  balancer: { model: BalancerName, propagation: { min: number, max: number } }
  /** The lost requests of every cycle. */
  lost: FailedRequest[]
  totals: { sent: number, answered: number, failed: number, lost: number, excused: number, lostNotIdempotent: number }
  /** Lost requests and exit times over the cycles (one cycle: min = median = max). */
  distribution: { lost: Distribution, exitMs: Distribution | null }
  /** Each kind of loss once, with its count, cause and fix: what to read first. */
  causes: Array<{ kind: FailureKind, count: number, lost: boolean, cause: string, fix: string }>
  findings: Finding[]
  cycles: CycleReport[]
}
