// The options of an instance, as the application gives them: what each means and its default (the JSDoc is the
// reference, as ky's types are). How they are resolved is resolve-options.ts; the environment's part, environment.ts.
import type { GracefulLogger } from '../report/logger.js'
import type { ReadinessCheck } from '../serving/readiness.js'
import type { SignalExitCode } from '../report/report.js'
import type { WarningName } from '../process/warnings.js'

export interface GracefulOptions {
  /**
   * Signals that start the shutdown. A second one, in any phase, exits at once. An empty list leaves signals alone
   * (then only `shutdown()` starts it). Inside a Vitest worker the default is `[]`: an instance a test creates does
   * not react to the signals the runner sends its workers, unless the test asks for them.
   * @default ['SIGTERM', 'SIGINT'] (`[]` inside a Vitest worker)
   * @example
   * ```ts
   * createGraceful({ signals: ['SIGTERM'] }) // leave Ctrl-C's SIGINT to Node
   * ```
   */
  signals?: readonly NodeJS.Signals[]
  /**
   * Readiness route: 200 while running, 503 with `Retry-After` from the moment shutdown begins.
   * Point the Kubernetes readiness probe (or the load balancer's health check) here.
   * @default '/healthz'
   */
  readinessPath?: string
  /**
   * Liveness route: 200 until the process exits, so a draining pod is never restarted by the kubelet.
   * @default '/livez'
   */
  livenessPath?: string
  /**
   * Lame-duck delay in milliseconds: after the signal, keep accepting and serving (with `Connection: close`) for this
   * long, so that load balancers see the failing readiness probe and stop routing here before the listener closes.
   * Set it to about probe period × failure threshold, plus the endpoint propagation time.
   * @default 0; on Kubernetes (`KUBERNETES_SERVICE_HOST` set) an adaptive lame duck: 10_000 at most, with
   * `preStopMinimumDelay` 3_000 and `preStopQuietWindow` 1_000 (docs/kubernetes.md)
   * @example
   * ```ts
   * createGraceful({ preStopDelay: 5_000 }) // or GRACEFUL_PRE_STOP_DELAY=5s in the environment
   * ```
   */
  preStopDelay?: number
  /**
   * Deadline in milliseconds for in-flight requests once the listener is closed. Sockets still open then are
   * destroyed and named in the report (the exit code becomes 1).
   * @default 10_000
   * @example
   * ```ts
   * createGraceful({ drainTimeout: 20_000 }) // the slowest request, plus a margin
   * ```
   */
  drainTimeout?: number
  /**
   * Default bound in milliseconds for each `onShutdown` hook (and for the framework's own close), when the hook gives
   * none of its own. A hook still running then is reported as timed out and the next hook starts.
   * @default 5_000
   */
  hookTimeout?: number
  /**
   * While draining, a keep-alive socket with nothing in flight is closed once it has been quiet for this many
   * milliseconds since its last response: a socket that turned idle a moment ago may have the client's next request
   * on the wire, and that request deserves an answer (with `Connection: close`), not a reset. A socket that has
   * received bytes since (a request arriving slowly, an upgraded socket) is busy: only `drainTimeout` ends it.
   * @default 100
   */
  idleSocketGrace?: number
  /**
   * While draining, a socket that has not sent a single byte (TLS handshakes aside) is closed once it is this many
   * milliseconds old, counted from its connection, so that a browser's preconnect cannot hold the drain.
   * @default 1_000
   */
  newSocketGrace?: number
  /**
   * Exit the process when the shutdown is over: code 0 when clean, 1 when anything was forced or failed.
   * `false` for embedding and tests: the shutdown runs and reports, and the process is left alone. Inside a Vitest
   * worker the default is `false`, so that a test's `shutdown()` cannot end the runner's worker.
   * @default true (`false` inside a Vitest worker)
   */
  exit?: boolean
  /**
   * The exit code after a clean shutdown that a signal started. `'zero'`: 0, which Kubernetes shows as "Completed"
   * (it shows 143 as "Error"). `'conventional'`: 128 + the signal's number, 143 for SIGTERM and 130 for SIGINT, as if
   * the signal had killed the process, for supervisors that expect it. A shutdown started by `shutdown()` exits 0
   * either way, and one where anything was forced or failed exits 1 either way.
   * @default 'zero'
   */
  signalExitCode?: SignalExitCode
  /**
   * Where the report and warnings go: any pino-compatible logger. `false` silences graceful.
   * @default a logger that writes one JSON line per entry to stderr
   * @example
   * ```ts
   * createGraceful({ logger: pino() }) // fastify.log with the Fastify plugin
   * ```
   */
  logger?: GracefulLogger | false
  /**
   * Closes the application after the drain and before the `onShutdown` hooks, bounded by `hookTimeout` and reported
   * as the hook `close`. The Fastify plugin passes `fastify.close()` here, so `onClose` hooks run after the drain.
   * It receives the shutdown's reason (`'SIGTERM'`, `'shutdown()'`…), for frameworks that hand it to their own
   * hooks (NestJS: `close: (signal) => app.close(signal)`).
   * @default undefined (nothing to close)
   * @example
   * ```ts
   * createGraceful({ close: (signal) => app.close(signal) }) // NestJS
   * ```
   */
  close?: (reason: string) => unknown
  /**
   * Readiness checks: each runs when the readiness route is probed, and readiness is 503 while any of them throws,
   * rejects, resolves `false` or times out: `checks: { db: () => pool.query('select 1') }`. A check receives an
   * `AbortSignal` that aborts at its timeout. Liveness never runs them (a database outage must not get every pod
   * restarted). Checks do not run once shutdown has begun: readiness is 503 then anyway.
   * @default {} (no checks)
   * @example
   * ```ts
   * createGraceful({ checks: { db: () => pool.query('select 1'), cache: () => redis.ping() } })
   * ```
   */
  checks?: Readonly<Record<string, ReadinessCheck>>
  /**
   * Bound in milliseconds for each readiness check; one still running then counts as failed (`timed-out`).
   * @default 1_000
   */
  checkTimeout?: number
  /**
   * How long in milliseconds a readiness result is reused: probes within this window get the last result without
   * running the checks again, and probes that arrive while the checks run share that one run, so a probe storm
   * cannot overload a dependency. 0 still shares the run in flight.
   * @default 1_000
   */
  checkMaxAge?: number
  /**
   * Put a failing check's error message in the readiness body. Off by default: messages can leak internals (host
   * names, credentials in connection strings). Failures are logged either way, once each time a check's status changes.
   * @default false
   */
  exposeCheckErrors?: boolean
  /**
   * `'manual'`: readiness is 503 (`"status": "starting"`) until `ready()` is called, so that a pod gets no traffic
   * before its caches are warm or its connections open. `'auto'`: ready as soon as it listens.
   * @default 'auto'
   */
  startup?: 'auto' | 'manual'
  /**
   * Adaptive lame duck: when above 0, the lame duck ends before `preStopDelay` (which stays its maximum) once no
   * request has arrived on a connection opened after the signal for this many milliseconds, and `preStopMinimumDelay`
   * has passed: the load balancer has evidently let go. Probes do not count as traffic. 0 keeps the fixed delay.
   * @default 0 (off: the lame duck lasts `preStopDelay`)
   */
  preStopQuietWindow?: number
  /**
   * With `preStopQuietWindow`: the lame duck never ends before this many milliseconds, however quiet. Set it to the
   * time your load balancer needs to notice the failing readiness probe (probe period × failure threshold, plus
   * endpoint propagation); before that, quiet can just mean little traffic. At most `preStopDelay`.
   * @default 0
   */
  preStopMinimumDelay?: number
  /**
   * The time in milliseconds the platform grants between SIGTERM and SIGKILL (Kubernetes'
   * `terminationGracePeriodSeconds` × 1000, less any preStop hook sleep). When set, graceful warns at start-up if
   * `preStopDelay + drainTimeout` plus the hooks' and flush steps' timeouts (the app's close, and 1 s when a work
   * source can hand work back, too) do not fit in it.
   * @default the env variable `TERMINATION_GRACE_PERIOD_SECONDS` × 1000 when set, else no check
   */
  gracePeriod?: number
  /**
   * Silences warnings: `true` for all, or a list of `WarningName`s, such as `'pid1'` (running as PID 1 without an
   * init), `'run-script'` (started through npm/pnpm/yarn run in a container), `'shell-parent'` (a shell above node
   * that will not hand it the stop signal), `'kubernetes-prestop'` (Kubernetes with `preStopDelay` 0), `'budget'`
   * (the shutdown does not fit in `gracePeriod`), `'unknown-variable'` (a misspelt `GRACEFUL_*` variable); every
   * name is in docs/reference/api.md. The env variable `GRACEFUL_SILENCE_WARNINGS` (`all`, or names separated by
   * commas) does the same.
   * @default false
   */
  silenceWarnings?: boolean | readonly WarningName[]
  /**
   * What an uncaught exception or unhandled rejection does. `'exit'`: what Node does by itself, the process ends at
   * once, cutting every request in flight. `'drain'`: readiness fails at once, no lame duck, the drain runs bounded by
   * `crashDrainTimeout`, the hooks run, the error is logged and named in the report (`crash`), and the process exits
   * 1, whatever `exit` says. The state after a crash may be corrupt: the requests in flight finish on it (docs/faq.md).
   * graceful installs its crash listeners only when asked; the application's own listeners still run.
   * @default 'exit'
   */
  onCrash?: 'exit' | 'drain'
  /**
   * With `onCrash: 'drain'`: the drain's deadline after a crash, in milliseconds (shorter than `drainTimeout`: the
   * process is in an unknown state).
   * @default 3_000
   */
  crashDrainTimeout?: number
}
