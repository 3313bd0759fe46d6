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
   * Readiness route: 200 while running, 503 with `Retry-After` once shutting down; point the readiness probe here.
   * @default '/healthz'
   */
  readinessPath?: string
  /**
   * Liveness route: 200 until the process exits, so that the kubelet never restarts a draining pod.
   * @default '/livez'
   */
  livenessPath?: string
  /**
   * Lame duck in milliseconds: after the signal, keep serving (with `Connection: close`) this long, so that load
   * balancers see readiness fail and stop routing here first: about probe period × failure threshold, plus propagation.
   * @default 0; on Kubernetes (`KUBERNETES_SERVICE_HOST`) adaptive: 3_000 to 10_000, over after 1_000 of quiet
   * @example createGraceful({ preStopDelay: 5_000 }) // or GRACEFUL_PRE_STOP_DELAY=5s in the environment
   */
  preStopDelay?: number
  /**
   * Deadline in milliseconds for in-flight requests once the listener closes; sockets open then are destroyed (exit 1).
   * @default 10_000
   * @example createGraceful({ drainTimeout: 20_000 }) // the slowest request, plus a margin
   */
  drainTimeout?: number
  /**
   * Bound in milliseconds for each `onShutdown` hook without its own, and the framework's close; then the next runs.
   * @default 5_000
   */
  hookTimeout?: number
  /**
   * While draining, an idle keep-alive socket closes once quiet this many milliseconds: the client's next request may
   * be on the wire, and deserves an answer, not a reset; one that received bytes since is busy till the deadline.
   * @default 100
   */
  idleSocketGrace?: number
  /**
   * While draining, a socket that never sent a byte closes this many milliseconds after connecting (a preconnect).
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
   * Exit code after a clean shutdown a signal started: `'zero'`, 0 (Kubernetes shows 143 as "Error"), or
   * `'conventional'`, 128 + the signal's number, for supervisors that expect it. `shutdown()` exits 0; failures, 1.
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
   * Closes the application after the drain and before the hooks, bounded by `hookTimeout`, reported as the hook
   * `close`; it receives the shutdown's reason (`'SIGTERM'`…). The Fastify plugin passes `fastify.close()`.
   * @default undefined (nothing to close)
   * @example createGraceful({ close: (signal) => app.close(signal) }) // NestJS
   */
  close?: (reason: string) => unknown
  /**
   * Readiness checks, run when readiness is probed: 503 while one throws, rejects, resolves `false` or times out. Never
   * run by liveness (an outage must not restart every pod), nor once the shutdown has begun.
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
   * How long in milliseconds a readiness result is reused; probes during a run share it (0: only the run in flight).
   * @default 1_000
   */
  checkMaxAge?: number
  /**
   * Put a failing check's message in the readiness body (it can leak host names or credentials); logs have it anyway.
   * @default false
   */
  exposeCheckErrors?: boolean
  /**
   * `'manual'`: readiness is 503 (`starting`) until `ready()`, so that no traffic comes before caches are warm;
   * `'auto'`: ready once it listens.
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
   * With `preStopQuietWindow`: the lame duck lasts at least this many milliseconds, the time the load balancer needs to
   * notice failing readiness (before that, quiet may be little traffic). At most `preStopDelay`.
   * @default 0
   */
  preStopMinimumDelay?: number
  /**
   * Milliseconds between SIGTERM and SIGKILL (`terminationGracePeriodSeconds` × 1000, less a preStop sleep): warns at
   * start-up when the lame duck, the drain and the close, hook, flush and work hand-back timeouts do not fit in it.
   * @default the env variable `TERMINATION_GRACE_PERIOD_SECONDS` × 1000 when set, else no check
   */
  gracePeriod?: number
  /**
   * Silences warnings: `true`, or a list of `WarningName`s (`'pid1'`, `'budget'`…: docs/reference/api.md lists them).
   * `GRACEFUL_SILENCE_WARNINGS` (`all`, or names separated by commas) does the same.
   * @default false
   */
  silenceWarnings?: boolean | readonly WarningName[]
  /**
   * On an uncaught exception or unhandled rejection: `'exit'` does what Node does (ends at once, cutting requests);
   * `'drain'` fails readiness, drains without a lame duck within `crashDrainTimeout`, runs the hooks, names the error
   * in the report (`crash`) and exits 1, on a state that may be corrupt (docs/faq.md). The app's listeners still run.
   * @default 'exit'
   */
  onCrash?: 'exit' | 'drain'
  /**
   * With `onCrash: 'drain'`: the drain deadline after a crash, in milliseconds (short: the process state is unknown).
   * @default 3_000
   */
  crashDrainTimeout?: number
}
