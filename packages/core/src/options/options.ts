// The options as the application gives them; this JSDoc is their reference (as ky's types are).
import type { GracefulLogger } from '../report/logger.js'
import type { ReadinessCheck } from '../serving/readiness.js'
import type { SignalExitCode } from '../report/report.js'
import type { WarningName } from '../process/warnings.js'

export interface GracefulOptions {
  /**
   * Signals that start the shutdown; a second one, in any phase, exits at once. `[]` leaves signals alone (only
   * `shutdown()` starts it), and is the default in a Vitest worker, so that a test ignores the runner's signals.
   * @default ['SIGTERM', 'SIGINT'] (`[]` inside a Vitest worker)
   * @example createGraceful({ signals: ['SIGTERM'] }) // leave Ctrl-C's SIGINT to Node
   */
  signals?: readonly NodeJS.Signals[]
  /**
   * Readiness route: 200 while running, 503 with `Retry-After` from the start of the shutdown. Point the Kubernetes
   * readiness probe (or the load balancer's health check) here.
   * @default '/healthz'
   */
  readinessPath?: string
  /**
   * Liveness route: 200 until the process exits, so that the kubelet never restarts a draining pod.
   * @default '/livez'
   */
  livenessPath?: string
  /**
   * Lame duck in milliseconds: after the signal, keep accepting and serving (with `Connection: close`) this long, so
   * that load balancers see readiness fail and stop routing here before the listener closes. About probe period ×
   * failure threshold, plus the endpoint propagation time.
   * @default 0; on Kubernetes (`KUBERNETES_SERVICE_HOST` set) adaptive: 10_000 at most, with `preStopMinimumDelay`
   * 3_000 and `preStopQuietWindow` 1_000 (docs/kubernetes.md)
   * @example createGraceful({ preStopDelay: 5_000 }) // or GRACEFUL_PRE_STOP_DELAY=5s in the environment
   */
  preStopDelay?: number
  /**
   * Deadline in milliseconds for in-flight requests once the listener is closed; sockets still open then are
   * destroyed and named in the report (the exit code becomes 1).
   * @default 10_000
   * @example createGraceful({ drainTimeout: 20_000 }) // the slowest request, plus a margin
   */
  drainTimeout?: number
  /**
   * Bound in milliseconds for each `onShutdown` hook that gives none of its own, and for the framework's close; a
   * hook still running then is reported as timed out and the next one starts.
   * @default 5_000
   */
  hookTimeout?: number
  /**
   * While draining, a keep-alive socket with nothing in flight closes once quiet this many milliseconds after its
   * last response: the client's next request may be on the wire already, and deserves an answer, not a reset. A
   * socket that received bytes since (a request arriving slowly, an upgrade) is busy: only `drainTimeout` ends it.
   * @default 100
   */
  idleSocketGrace?: number
  /**
   * While draining, a socket that has not sent a byte (TLS handshake aside) closes once it is this many milliseconds
   * old, so that a browser's preconnect cannot hold the drain.
   * @default 1_000
   */
  newSocketGrace?: number
  /**
   * Exit when the shutdown is over: 0 when clean, 1 when anything was forced or failed. `false` (embedding, tests)
   * leaves the process alone; it is the default in a Vitest worker, so that `shutdown()` cannot end the worker.
   * @default true (`false` inside a Vitest worker)
   */
  exit?: boolean
  /**
   * Exit code after a clean shutdown that a signal started: `'zero'` (Kubernetes shows 0 as "Completed", 143 as
   * "Error"), or `'conventional'`, 128 + the signal's number (143 for SIGTERM, 130 for SIGINT), for supervisors that
   * expect it. `shutdown()` exits 0, and a shutdown where anything was forced or failed exits 1, either way.
   * @default 'zero'
   */
  signalExitCode?: SignalExitCode
  /**
   * Where the report and warnings go: any pino-compatible logger; `false` silences graceful.
   * @default a logger that writes one JSON line per entry to stderr
   * @example createGraceful({ logger: pino() }) // fastify.log with the Fastify plugin
   */
  logger?: GracefulLogger | false
  /**
   * Closes the application after the drain and before the `onShutdown` hooks, bounded by `hookTimeout`, reported as
   * the hook `close` (the Fastify plugin passes `fastify.close()`: `onClose` hooks run after the drain). It receives
   * the shutdown's reason (`'SIGTERM'`, `'shutdown()'`…), for frameworks that hand it to their own hooks.
   * @default undefined (nothing to close)
   * @example createGraceful({ close: (signal) => app.close(signal) }) // NestJS
   */
  close?: (reason: string) => unknown
  /**
   * Readiness checks, run when readiness is probed: 503 while any throws, rejects, resolves `false` or times out (its
   * `AbortSignal` aborts then). Liveness never runs them (a database outage must not get every pod restarted), and
   * none runs once the shutdown has begun.
   * @default {} (no checks)
   * @example createGraceful({ checks: { db: () => pool.query('select 1'), cache: () => redis.ping() } })
   */
  checks?: Readonly<Record<string, ReadinessCheck>>
  /**
   * Bound in milliseconds for each readiness check; one still running then counts as failed (`timed-out`).
   * @default 1_000
   */
  checkTimeout?: number
  /**
   * How long in milliseconds a readiness result is reused; probes that arrive while the checks run share that run, so
   * that a probe storm cannot overload a dependency. 0 still shares the run in flight.
   * @default 1_000
   */
  checkMaxAge?: number
  /**
   * Put a failing check's error message in the readiness body (messages can leak host names or credentials). Failures
   * are logged either way, each time a check's status changes.
   * @default false
   */
  exposeCheckErrors?: boolean
  /**
   * `'manual'`: readiness is 503 (`"status": "starting"`) until `ready()` is called, so that a pod gets no traffic
   * before its caches are warm; `'auto'`: ready as soon as it listens.
   * @default 'auto'
   */
  startup?: 'auto' | 'manual'
  /**
   * Adaptive lame duck: it ends before `preStopDelay` once no request (probes aside) has come on a connection opened
   * after the signal for this many milliseconds, and `preStopMinimumDelay` has passed. 0 keeps the fixed delay.
   * @default 0 (off: the lame duck lasts `preStopDelay`)
   */
  preStopQuietWindow?: number
  /**
   * With `preStopQuietWindow`: the lame duck lasts at least this many milliseconds, however quiet: the time the load
   * balancer needs to notice failing readiness (before that, quiet may just be little traffic). At most `preStopDelay`.
   * @default 0
   */
  preStopMinimumDelay?: number
  /**
   * Milliseconds the platform grants between SIGTERM and SIGKILL (`terminationGracePeriodSeconds` × 1000, less any
   * preStop sleep): graceful warns at start-up when `preStopDelay + drainTimeout`, the close, hook and flush timeouts
   * (and 1 s when a work source can hand work back) do not fit in it.
   * @default the env variable `TERMINATION_GRACE_PERIOD_SECONDS` × 1000 when set, else no check
   */
  gracePeriod?: number
  /**
   * Silences warnings: `true` for all, or a list of `WarningName`s such as `'pid1'`, `'run-script'`, `'shell-parent'`,
   * `'kubernetes-prestop'`, `'budget'`, `'unknown-variable'` (each explained in docs/reference/api.md). The env
   * variable `GRACEFUL_SILENCE_WARNINGS` (`all`, or names separated by commas) does the same.
   * @default false
   */
  silenceWarnings?: boolean | readonly WarningName[]
  /**
   * On an uncaught exception or unhandled rejection: `'exit'` does what Node does (the process ends at once, cutting
   * every request in flight); `'drain'` fails readiness, drains without a lame duck within `crashDrainTimeout`, runs
   * the hooks, names the error in the report (`crash`) and exits 1 whatever `exit` says, on a state that may be
   * corrupt (docs/faq.md). The application's own crash listeners still run.
   * @default 'exit'
   */
  onCrash?: 'exit' | 'drain'
  /**
   * With `onCrash: 'drain'`: the drain deadline after a crash, in milliseconds (short: the process state is unknown).
   * @default 3_000
   */
  crashDrainTimeout?: number
}
