// The sabotage table: each entry removes one mechanism of the core, and the tests named for it must then fail. A
// test that still passes with its mechanism gone proves nothing about it. Run with `pnpm test:sabotage`; it prints
// the table that docs/reliability.md shows.
//
// Each sabotage is applied in a throwaway git worktree of HEAD (the committed code, never the working tree), built
// there, and the named tests run there; the worktree is removed at the end. Exit code 1 when a sabotage left its
// tests passing, or when a patch no longer applies (the code it targets moved: update this table).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))

/** One mechanism: the edit that removes it, and the tests that must notice. */
export const sabotages = [
  {
    mechanism: 'telling: the newest response says Connection: close',
    file: 'packages/core/src/connections/http1.ts',
    find: '  #tell (connection: Connection, response: ServerResponse): void {\n',
    replace: '  #tell (connection: Connection, response: ServerResponse): void {\n    if (Number.isFinite(0)) return\n',
    tests: [['test/core/contract.test.ts', 'in-flight responses at SIGTERM complete and carry Connection: close']]
  },
  {
    mechanism: 'the quiet window (idleSocketGrace) before an idle keep-alive socket is closed',
    file: 'packages/core/src/connections/close-decision.ts',
    find: '  return neverUsed ? times.newSocketGrace : times.idleSocketGrace\n',
    replace: '  return neverUsed ? times.newSocketGrace : 0\n',
    tests: [['test/core/close-decision.test.ts', 'closes a quiet keep-alive connection once it has been quiet for idleSocketGrace'], ['test/core/contract.test.ts', 'a keep-alive request sent on a socket that turned idle a moment before the drain is answered, not reset']]
  },
  {
    mechanism: 'the poll hop: never closed in the tick the drain starts',
    file: 'packages/core/src/shutdown/drain.ts',
    find: '    if (this.#quietNow.push(connection) === 1) afterNextPoll(this.#onQuietNow)',
    replace: '    this.#closeQuiet(connection)',
    tests: [['test/core/drain.test.ts', 'a request already on the wire when draining begins on a long-idle socket is served, not reset']]
  },
  {
    mechanism: 'one more poll before the listener closes: what the kernel queued while the event loop was busy is accepted',
    file: 'packages/core/src/shutdown/sequence.ts',
    find: '    await new Promise<void>(resolve => { afterNextPoll(resolve) })\n',
    replace: '',
    tests: [['test/core/contract.test.ts', 'a connection queued while the event loop was held is accepted and answered before the listener closes, not reset']]
  },
  {
    mechanism: "net.Server close semantics (http.Server's close resets idle sockets)",
    file: 'packages/core/src/shutdown/drain.ts',
    find: 'NetServer.prototype.close.call(server, () => {',
    replace: ";(server as NetServer & { closeIdleConnections?: () => void }).closeIdleConnections?.()\n    NetServer.prototype.close.call(server, () => {",
    tests: [['test/core/drain.test.ts', 'a request already on the wire when draining begins on a long-idle socket is served, not reset']]
  },
  {
    mechanism: 'the never-used socket rule (newSocketGrace)',
    file: 'packages/core/src/connections/close-decision.ts',
    find: '  if (facts.neverUsed) return after(freshWindow(true, times) - (facts.msSinceConnected ?? 0))\n',
    replace: '  if (facts.neverUsed) return NEVER\n',
    tests: [['test/core/close-decision.test.ts', 'never holds a connection that never sent a byte past newSocketGrace'], ['test/core/contract.test.ts', 'a socket that never sent a byte does not delay exit']]
  },
  {
    mechanism: "the second server of listen({ host: 'localhost' }) (::1) attached",
    file: 'packages/fastify/src/index.ts',
    find: '    for (const server of secondaryServers(fastify)) core.attach(server)\n',
    replace: '    if (secondaryServers.length < 0) core.attach(fastify.server)\n',
    tests: [['test/core/process.test.ts', 'drains the second server Fastify opens for ::1 as well as the first']]
  },
  {
    mechanism: 'hook bounds (each hook cut at its timeout)',
    file: 'packages/core/src/shutdown/hooks.ts',
    find: 'await bounded(signal => hook.fn(signal, context), hook.timeout,',
    replace: 'await bounded(signal => hook.fn(signal, context), 2_147_483_647,',
    tests: [['test/core/lifecycle.test.ts', "aborts a timed-out hook's signal so that it can stop its own work"]]
  },
  {
    mechanism: 'hooks last registered first',
    file: 'packages/core/src/shutdown/sequence.ts',
    find: 'steps.push(...[...this.#parts.hooks].reverse())',
    replace: 'steps.push(...this.#parts.hooks)',
    tests: [['test/core/lifecycle.test.ts', 'runs the application close first, then the hooks last-registered-first, and reports a rejection']]
  },
  {
    mechanism: 'HTTP/2 GOAWAY when draining begins',
    file: 'packages/core/src/connections/http2.ts',
    find: '  session.close()\n',
    replace: '',
    tests: [['test/core/long-lived.test.ts', 'sessions get GOAWAY, the open stream completes, new streams go elsewhere, idle sessions close']]
  },
  {
    mechanism: 'WebSockets closed with 1001 Going Away',
    file: 'packages/core/src/connections/web-sockets.ts',
    find: "    socket.close(GOING_AWAY, 'server shutting down')",
    replace: '    if (Number.isNaN(0)) socket.close(GOING_AWAY)',
    tests: [['test/core/long-lived.test.ts', 'a WebSocket is closed with 1001 Going Away when draining begins']]
  },
  {
    mechanism: 'probes answered ahead of the application',
    file: 'packages/core/src/serving/probe-routes.ts',
    find: '        const kind = routes.match((req as IncomingMessage).url!)\n',
    replace: '        const kind = routes.match((req as IncomingMessage).url!) === READINESS ? NOT_A_PROBE : NOT_A_PROBE\n',
    tests: [['test/core/probes.test.ts', 'Express: probes pass an authentication middleware mounted before graceful, once the server is attached']]
  },
  {
    mechanism: 'pipelined requests behind a started close declined (RFC 9112 §9.6)',
    file: 'packages/core/src/connections/http1.ts',
    find: '    if (closing !== undefined && closing !== res) {',
    replace: '    if (closing !== undefined && closing !== res && Number.isNaN(0)) {',
    tests: [['test/core/long-lived.test.ts', 'a request pipelined behind a response that already said Connection: close is not handed to the application']]
  },
  {
    mechanism: 'the close decided as the head goes out, not while the next pipelined request is arriving',
    file: 'packages/core/src/connections/close-decision.ts',
    find: 'head.statusCode !== 101 && !(head.requestComplete && head.receivingNext())',
    replace: 'head.statusCode !== 101',
    tests: [['test/core/long-lived.test.ts', 'a pipelined batch cut inside its second request']]
  },
  {
    mechanism: 'the staged close where the client may still send: reading goes on after the FIN (RFC 9112 §9.6)',
    file: 'packages/core/src/connections/http1.ts',
    find: 'if (connection !== undefined && telling.#maySend(connection)) lingeringClose(this)',
    replace: 'if (connection !== undefined && telling.#maySend(connection) && Number.isNaN(0)) lingeringClose(this)',
    tests: [['test/core/long-lived.test.ts', "a request that reaches a pipelining client's connection after its close response and FIN is still read and declined"]]
  },
  {
    mechanism: "the lame duck's last 100 ms tell no client to go (none reconnects as the listener closes)",
    file: 'packages/core/src/connections/close-decision.ts',
    find: 'head.newest && !head.settling && ',
    replace: 'head.newest && ',
    tests: [['test/core/lameduck.test.ts', 'in its last 100 ms responses keep their connection']]
  },
  {
    mechanism: 'only a queued (pipelined) response is stored on its socket: nothing kept alive on an idle socket',
    file: 'packages/core/src/serving/probe-routes.ts',
    find: '        if (isQueued(res as ServerResponse)) {',
    replace: '        if (isQueued(res as ServerResponse) || Number.isFinite(0)) {',
    tests: [['test/core/memory.test.ts', 'graceful keeps a small record per idle keep-alive socket']]
  },
  {
    mechanism: 'a socket idle since the signal counts the lame duck as quiet time',
    file: 'packages/core/src/connections/close-decision.ts',
    find: '  if (facts.idleSinceSignal) return facts.msSinceSignal\n',
    replace: '',
    tests: [['test/core/close-decision.test.ts', 'counts the quiet time from the whole shutdown so far'], ['test/core/drain.test.ts', 'after a lame duck shorter than the quiet window, a keep-alive socket idle since the signal waits only the rest of its window']]
  },
  {
    mechanism: "a socket in the middle of a request's head is not closed as quiet",
    file: 'packages/core/src/connections/close-decision.ts',
    find: '  if (facts.receiving) return NEVER\n',
    replace: '',
    tests: [['test/core/close-decision.test.ts', 'never closes a connection with request bytes received and unanswered'], ['test/core/drain.test.ts', 'a request whose headers are still arriving when the quiet window ends is waited for and served']]
  },
  {
    mechanism: 'a shell above node that will not hand it the stop signal is named (shell-parent)',
    file: 'packages/core/src/process/shell-parent.ts',
    find: "    if (!SHELLS.has(shell)) return undefined\n",
    replace: '    if (shell !== \'none\') return undefined\n',
    tests: [['test/core/warnings.test.ts', 'a shell as PID 1 above node is named'], ['test/core/warnings.test.ts', 'a shell that is the container\'s main process behind an init is named']]
  },
  {
    mechanism: 'a process npx started is no run script',
    file: 'packages/core/src/process/warnings.ts',
    find: "  if (event === undefined || event === '' || event === 'npx') return undefined\n",
    replace: "  if (event === undefined || event === '') return undefined\n",
    tests: [['test/core/warnings.test.ts', 'is not taken for a run script']]
  },
  {
    mechanism: 'a misspelt GRACEFUL_* variable is named with the closest known one',
    file: 'packages/core/src/options/environment.ts',
    find: '    if (suggestion !== undefined) found.push({ variable, suggestion: PREFIX + suggestion })\n',
    replace: '',
    tests: [['test/core/warnings.test.ts', 'is named with the closest known variable, and the service starts'], ['test/core/warnings.test.ts', 'one edit away from a known variable']]
  },
  {
    mechanism: 'a blank GRACEFUL_* variable counts as unset',
    file: 'packages/core/src/options/environment.ts',
    find: "  return raw === undefined || raw.trim() === '' ? undefined : raw\n",
    replace: "  return raw === undefined || raw === '' ? undefined : raw\n",
    tests: [['test/core/warnings.test.ts', 'is ignored, as if unset']]
  },
  {
    mechanism: 'the preload sees each server as it starts listening (net.server.listen channel)',
    file: 'packages/core/src/preload/listen-channel.ts',
    find: '  subscribe(LISTENING, onMessage)\n',
    replace: '',
    tests: [
      ['test/preload/preload.test.ts', 'an Express app from CommonJS, with --require loses no request under load'],
      ['test/core/internals.test.ts', 'reported once as it starts listening, bound already, before its listening event']
    ]
  },
  {
    mechanism: 'the preload attaches HTTP servers only (a raw TCP server is left alone)',
    file: 'packages/core/src/preload/preload.ts',
    find: '    if (!servesHttp(server)) return\n',
    replace: '',
    tests: [['test/preload/preload.test.ts', 'drains every HTTP server of the process']]
  },
  {
    mechanism: 'the preload switches Next.js\'s and Nitro\'s own signal handlers off',
    file: 'packages/core/src/preload/preload-frameworks.ts',
    find: '    env[entry.variable] = entry.value\n',
    replace: '',
    tests: [['test/preload/preload.test.ts', 'sets both switches when the environment has neither, and says so']]
  },
  {
    mechanism: 'the preload leaves the servers GRACEFUL_IGNORE_PORTS lists alone',
    file: 'packages/core/src/preload/preload.ts',
    find: 'ignored.has(address.port)',
    replace: 'ignored.has(-1)',
    tests: [['test/preload/preload.test.ts', 'leaves a server on a port GRACEFUL_IGNORE_PORTS lists to the application']]
  },
  {
    mechanism: 'the preload follows an Express app\'s routing for the probe paths',
    file: 'packages/core/src/preload/preload.ts',
    find: 'new Graceful({ logger }, routes?.routing)',
    replace: 'new Graceful({ logger })',
    tests: [['test/preload/preload.test.ts', 'answers every variant of that path that Express would route to it']]
  },
  {
    mechanism: 'the application\'s own instance takes its server over from the preload',
    file: 'packages/core/src/graceful.ts',
    find: '    claimServer(server, this)\n',
    replace: '',
    tests: [['test/preload/preload.test.ts', 'steps aside for the application\'s own graceful when it attaches the server on its first request']]
  },
  {
    mechanism: 'graceful-check: the balancer routes new connections here for the propagation delay after the signal, whatever the service answers',
    file: 'packages/check/src/recorder.ts',
    find: 'return this.direct || this.routingEndsAt === undefined || performance.now() < this.routingEndsAt',
    replace: 'return this.direct || this.signalAt === undefined',
    tests: [['test/check/check-balancer.test.ts', 'in every one of three seeded cycles, connections refused while the balancer still routes here are lost']]
  },
  {
    mechanism: 'graceful-check: after an early exit the load goes on until the balancer lets go',
    file: 'packages/check/src/cycle.ts',
    find: '    if (routingLeft > 0 && aborted?.aborted !== true && !service.groupAlive()) await recorder.pause(routingLeft)\n',
    replace: '',
    tests: [['test/check/check.test.ts', 'bare Express with no SIGTERM handler loses the requests in flight when the process dies']]
  },
  {
    mechanism: 'graceful-check: no balancer preset re-sends a non-idempotent request once a byte of it went out',
    file: 'packages/check/src/balancer.ts',
    find: 'return model.retriesUnansweredIdempotent && idempotent && !responseStarted',
    replace: 'return model.retriesUnansweredIdempotent && !responseStarted',
    tests: [['test/check/check-api.test.ts', 'never re-sends a non-idempotent request once a byte of it went out'], ['test/check/check-balancer.test.ts', 'nginx re-sends every refused request']]
  },
  {
    mechanism: 'graceful-check: the seed a report prints is the run\'s, which replays it',
    file: 'packages/check/src/render.ts',
    find: 'const replay = `--seed ${report.seed}',
    replace: 'const replay = `--seed ${cycle.seed}',
    tests: [['test/check/check-balancer.test.ts', 'each cycle of a text report names the --seed']]
  },
  {
    mechanism: 'graceful-check: a split pipelined batch is cut inside a request, never between two',
    file: 'packages/check/src/wire.ts',
    find: '  return before + rng.int(1, texts[which]!.length - 1)\n',
    replace: '  return rng.int(1, texts.join(\'\').length - 1) + 0 * before\n',
    tests: [['test/check/check-api.test.ts', 'a split pipelined batch is cut inside one of its requests, never between two']]
  },
  {
    mechanism: 'graceful-check: the docs\' options table is the option table\'s',
    file: 'packages/check/src/option-table.ts',
    find: "key: 'load.keepAlive', min: 0, max: 256, initial: 8, shown: '8'",
    replace: "key: 'load.keepAlive', min: 0, max: 256, initial: 8, shown: '16'",
    tests: [['test/docs/check-docs.test.ts', 'holds the options table that the option table generates']]
  },
  {
    mechanism: 'graceful-check --html: each lost request drawn as a mark that shows its cause',
    file: 'packages/check/src/html.ts',
    find: '  parts.push(...lostMarks)\n',
    replace: '',
    tests: [['test/check/check-outputs.test.ts', 'draws every request of every cycle as the report counts it']]
  },
  {
    mechanism: "the application's own signal listeners run once the shutdown is over, not at the signal",
    file: 'packages/core/src/process/competing-listeners.ts',
    find: '  #defer (signal: NodeJS.Signals, listener: Listener, origin: string | undefined): void {\n',
    replace: '  #defer (signal: NodeJS.Signals, listener: Listener, origin: string | undefined): void {\n    if (Number.isFinite(0)) return\n',
    tests: [
      ['test/core/own-stop.test.ts', 'loses nothing during the lame duck'],
      ['test/core/competing-listeners.test.ts', 'runs once the shutdown is over']
    ]
  },
  {
    mechanism: 'a signal raised again by a listener run after the shutdown (NestJS) ends the process with graceful\'s code',
    file: 'packages/core/src/process/signals.ts',
    find: '    if (this.#finishing) {\n      // Graceful',
    replace: '    if (this.#finishing && Number.isNaN(0)) {\n      // Graceful',
    tests: [['test/core/own-stop.test.ts', 'nest-express, closing itself on SIGTERM the way its documentation shows, next to graceful loses nothing']]
  },
  {
    mechanism: "an attached server's own close() during a shutdown leaves the listener to the drain",
    file: 'packages/core/src/serving/app-close.ts',
    find: "    if (state === 'stopping' || state === 'draining') return true\n",
    replace: '',
    tests: [['test/core/app-close.test.ts', 'during the lame duck leaves the listener open']]
  },
  {
    mechanism: "fastify.close() called by the application joins the sequence: no 503 during the lame duck",
    file: 'packages/fastify/src/index.ts',
    find: '  ;(fastify as unknown as { close: Close }).close = joinedClose\n',
    replace: '',
    tests: [['test/adapters/fastify-paths.test.ts', 'never 503']]
  },
  {
    mechanism: "Connection: close wins over a Connection header the application passes to writeHead",
    file: 'packages/core/src/connections/http1.ts',
    find: "        return this.writeHead(...(withoutConnection(args) as Parameters<ServerResponse['writeHead']>))\n",
    replace: "        return this.writeHead(...(args as Parameters<ServerResponse['writeHead']>))\n",
    tests: [
      ['test/core/own-stop.test.ts', 'a Connection: keep-alive in the list is replaced by close'],
      ['test/core/own-stop.test.ts', '^express, closing itself.*keep-alive says close'],
      ['test/core/own-stop.test.ts', '^hono, closing itself.*keep-alive says close']
    ]
  },
  {
    mechanism: 'a writeHead the application wrapped before the signal still runs on a told response',
    file: 'packages/core/src/connections/http1-sockets.ts',
    find: '  if (Object.hasOwn(told, \'writeHead\') && told[kOwnWriteHead] === undefined) told[kOwnWriteHead] = told.writeHead\n',
    replace: '',
    tests: [['test/core/app-close.test.ts', 'still runs when the response is told to close']]
  },
  {
    mechanism: 'a socket destroyed at the deadline is closed at once: openSockets is 0 when the report is out',
    file: 'packages/core/src/shutdown/deadline.ts',
    find: '      connections.release(connection)\n    }\n    for (const request of connections.socketless)',
    replace: '    }\n    for (const request of connections.socketless)',
    tests: [['test/core/app-close.test.ts', 'is 0 when shutdown\\(\\) resolves']]
  },
  {
    mechanism: 'work sources stop taking work at the signal, not after the lame duck',
    file: 'packages/core/src/shutdown/sequence.ts',
    find: "    this.#parts.work.stop('signal', reason)\n",
    replace: '',
    tests: [
      ['test/work-sources/work-recipes.test.ts', 'a run in progress at SIGTERM finishes, no run starts after it'],
      ['test/work-sources/work-recipes.test.ts', 'the message being handled at SIGTERM finishes, none is taken after it'],
      ['test/work-sources/work.test.ts', "a consumer stops at the signal, during the lame duck"]
    ]
  },
  {
    mechanism: 'the work the deadline cuts is named in the report',
    file: 'packages/core/src/shutdown/work.ts',
    find: '      this.#forced.push(...forced)\n',
    replace: '',
    tests: [
      ['test/work-sources/work.test.ts', 'at the drain deadline the work is named'],
      ['test/work-sources/work-recipes.test.ts', 'a run still going at the drain deadline is named in the report'],
      ['test/adapters/grpc.test.ts', 'at the deadline the calls still open end with UNAVAILABLE, not CANCELLED, and each is named in the report']
    ]
  },
  {
    mechanism: 'the work drains alongside the sockets: draining ends when both are done',
    file: 'packages/core/src/shutdown/sequence.ts',
    find: '}), this.#parts.work.drain(drainTimeout, () => { this.#parts.cut(reason) })])',
    replace: '}), Promise.resolve()])',
    tests: [['test/work-sources/work.test.ts', 'draining lasts until the work taken before the signal has ended']]
  },
  {
    mechanism: 'telemetry and logs flushed last, after the drain, the hooks and the report',
    file: 'packages/core/src/shutdown/lifecycle.ts',
    find: '    const report = await sequence.run(reason)\n    if (flushes.steps.length > 0) await this.#flush(report)\n',
    replace: '    const early = flushes.steps.length > 0 ? flushes.run() : undefined\n    const report = await sequence.run(reason)\n    if (early !== undefined) report.flush = await early\n',
    tests: [
      ['test/adapters/telemetry.test.ts', 'the spans of the requests served during the lame duck and the drain reach the collector'],
      ['test/work-sources/work.test.ts', 'runs after the hooks and after the report is logged, last registered first']
    ]
  },
  {
    mechanism: 'gRPC calls cut at the deadline end with UNAVAILABLE (retried), not CANCELLED',
    file: 'packages/grpc/src/index.ts',
    find: '        for (const call of [...calls]) call.end()\n',
    replace: '',
    tests: [['test/adapters/grpc.test.ts', 'at the deadline the calls still open end with UNAVAILABLE, not CANCELLED']]
  },
  {
    mechanism: 'the gRPC health service says NOT_SERVING from the signal, to watchers too',
    file: 'packages/grpc/src/index.ts',
    find: "      setStatus('NOT_SERVING')\n",
    replace: '',
    tests: [['test/adapters/grpc.test.ts', 'the health service says SERVING while running, follows the readiness checks and startup, and NOT_SERVING from the signal']]
  },
  {
    mechanism: 'BullMQ jobs cut at the deadline back in wait at once (needs Redis: REDIS_URL, bash .ci/redis.sh start)',
    file: 'packages/bullmq/src/index.ts',
    find: '          await job.moveToWait(job.token)\n',
    replace: '',
    tests: [['test/work-sources/work-bullmq.test.ts', 'the one cut at the deadline is back in wait at once']]
  },
  {
    mechanism: 'a BullMQ worker takes no job once stopped, even one that wakes its blocking wait (needs Redis: REDIS_URL)',
    file: 'packages/bullmq/src/index.ts',
    find: '      if (typeof fetching.moveToActive === \'function\') fetching.moveToActive = () => Promise.resolve(undefined)\n',
    replace: '',
    tests: [['test/work-sources/work-bullmq.test.ts', 'a job added as the worker stops, while it waits for one, is not taken']]
  },
  {
    mechanism: 'deadlineSignal aborts at the drain deadline, before the sockets are destroyed',
    file: 'packages/core/src/shutdown/sequence.ts',
    find: '      this.#parts.cut(reason)\n    }), this.#parts.work.drain',
    replace: '    }), this.#parts.work.drain',
    tests: [['test/core/deadline.test.ts', 'aborts at the drain deadline, before the socket is destroyed']]
  },
  {
    mechanism: 'a handler the deadline cut is followed: the report says whether it ended after the cut',
    file: 'packages/core/src/shutdown/deadline.ts',
    find: '      if (request.handler === \'running\' && ended()) request.handler = \'ended-after-cut\'\n',
    replace: '',
    tests: [['test/core/deadline.test.ts', 'aborts at the drain deadline, before the socket is destroyed']]
  },
  {
    mechanism: 'the pg recipe closes a transaction\'s connection at the drain deadline: nothing commits after it (needs PostgreSQL: the PG* variables, bash .ci/postgres.sh start)',
    file: 'examples/pg-transaction.mjs',
    find: "  signal.addEventListener('abort', cut, { once: true })\n",
    replace: '',
    tests: [
      ['test/core/writes.test.ts', 'Express with the pg recipe'],
      ['test/core/writes.test.ts', 'Fastify with the pg recipe'],
      ['test/core/writes.test.ts', 'Express with the Drizzle recipe'],
      ['test/core/writes.test.ts', 'a transaction cut in a long statement has its connection closed at the deadline']
    ]
  },
  {
    mechanism: 'the pg recipe lets a COMMIT already sent at the deadline finish: the handler learns its outcome (needs PostgreSQL)',
    file: 'examples/pg-transaction.mjs',
    find: '      committing()\n',
    replace: '',
    tests: [['test/core/writes.test.ts', 'a COMMIT already on its way at the deadline is let finish']]
  },
  {
    mechanism: 'docs/benchmarks.md: a target is missed when the rank test finds graceful slower beyond its margin',
    file: 'bench/targets.mjs',
    find: "  return { met: p >= SIGNIFICANCE, p: p < 0.001 ? '< 0.001' : p.toFixed(3) }\n",
    replace: "  return { met: true, p: p < 0.001 ? '< 0.001' : p.toFixed(3) }\n",
    tests: [
      ['test/docs/bench-docs.test.ts', 'miss a target when every run of graceful is slower than every run of the reference'],
      ['test/docs/bench-docs.test.ts', 'every run 20 % slower than the peer']
    ]
  },
  {
    mechanism: 'docs/benchmarks.md: graceful is judged against the fastest peer',
    file: 'bench/targets.mjs',
    find: '.reduce((best, peer) => best === undefined || peer.ms < best.ms ? peer : best, undefined)',
    replace: '.reduce((best, peer) => best === undefined || peer.ms > best.ms ? peer : best, undefined)',
    tests: [['test/docs/bench-docs.test.ts', 'compare graceful with the fastest peer']]
  }
]

function run (command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: '' }, maxBuffer: 64 * 1024 * 1024 })
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { only: { type: 'string' } } })
  const chosen = sabotages.filter(entry => values.only === undefined || entry.mechanism.includes(values.only))
  const work = mkdtempSync(join(tmpdir(), 'graceful-sabotage-'))
  const tree = join(work, 'tree')
  const rows = []
  let bad = 0
  try {
    if (run('git', ['worktree', 'add', '--detach', tree, 'HEAD'], root).status !== 0) throw new Error('git worktree add failed')
    const install = run('pnpm', ['install', '--offline', '--frozen-lockfile', '--reporter', 'silent'], tree)
    if (install.status !== 0) throw new Error(`pnpm install failed in the worktree:\n${install.output}`)
    for (const entry of chosen) {
      const path = join(tree, entry.file)
      const original = readFileSync(path, 'utf8')
      let verdict
      if (!original.includes(entry.find)) {
        verdict = 'PATCH DOES NOT APPLY'
        bad++
      } else {
        writeFileSync(path, original.replace(entry.find, entry.replace))
        // The whole build: tsc, then the core's bundle, which is what the packages and the tests load.
        const build = run('pnpm', ['run', '--silent', 'build'], tree)
        if (build.status !== 0) {
          console.error(build.output.split('\n').slice(0, 5).join('\n'))
          verdict = 'DOES NOT BUILD'
          bad++
        } else {
          const failing = []
          for (const [file, name] of entry.tests) {
            const result = run(join(tree, 'node_modules/.bin/vitest'), ['run', file, '-t', name], tree)
            const caught = result.status !== 0 && /\d+ failed/.test(result.output)
            failing.push(caught)
          }
          const caught = failing.every(Boolean)
          verdict = caught ? 'fails, as it must' : 'STILL PASSES'
          if (!caught) bad++
        }
        writeFileSync(path, original)
      }
      const tests = entry.tests.map(([file, name]) => `${file.replace('test/', '')}: ${name}`).join('; ')
      rows.push(`| ${entry.mechanism} | ${tests} | ${verdict} |`)
      console.error(`sabotage: ${entry.mechanism}: ${verdict}`)
    }
  } finally {
    run('git', ['worktree', 'remove', '--force', tree], root)
    rmSync(work, { recursive: true, force: true })
  }
  console.log('| mechanism removed | tests that must fail | with it removed |\n|---|---|---|\n' + rows.join('\n'))
  process.exit(bad === 0 ? 0 : 1)
}
