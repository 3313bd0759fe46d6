import { classify, type CycleFacts, type Observed } from './classify.js'
import { idleSocket, keepAliveClient, newConnectionClient, pipeliningClient, slowClient, type Target } from './clients.js'
import type { Settings } from './options.js'
import { probe } from './prober.js'
import { derive, random } from './random.js'
import { Recorder } from './recorder.js'
import { startService, type Exit, type Service } from './service.js'
import type { CycleReport, FailedRequest, Finding, Progress } from './types.js'

function describeExit (exit: Exit): string {
  return exit.code !== null ? `code ${exit.code}` : exit.signal !== null ? `killed by ${exit.signal}` : 'gone'
}

/** The clients of the load, each in its own seeded stream; they end when the recorder stops or the balancer lets go. */
export function startLoad (settings: Settings, recorder: Recorder, target: Target, seed: number): Array<Promise<void>> {
  const { load } = settings
  let stream = 0
  const next = (): ReturnType<typeof random> => random(derive(seed, ++stream))
  return [
    ...Array.from({ length: load.keepAlive }, async () => { await keepAliveClient(recorder, target, next(), load) }),
    ...Array.from({ length: load.newConnection }, async () => { await newConnectionClient(recorder, target, next()) }),
    ...Array.from({ length: load.slow }, async () => { await slowClient(recorder, { ...target, requests: settings.slowRequests }, next(), load.slowMs) }),
    ...Array.from({ length: load.pipelining }, async () => { await pipeliningClient(recorder, target, next(), load.splitPipelines) })
  ]
}

/** One cycle: start, load, signal at the chosen moment, keep the load on until the service is gone, classify. */
export async function runCycle (settings: Settings, cycle: number): Promise<CycleReport> {
  const seed = derive(settings.seed, cycle)
  const rng = random(seed)
  const signalAfter = settings.signalAfter ?? rng.int(300, 900)
  const progress = (stage: Progress['stage'], recorder?: Recorder, exit?: string): void => {
    if (settings.onProgress === undefined) return
    const now = performance.now()
    const failures = recorder?.observed ?? []
    settings.onProgress({
      cycle,
      cycles: settings.cycles,
      stage,
      elapsedMs: recorder === undefined ? 0 : Math.round(now - recorder.startedAt),
      signalAfterMs: signalAfter,
      sinceSignalMs: recorder?.signalAt === undefined ? null : Math.round(now - recorder.signalAt),
      sent: recorder === undefined ? 0 : Object.values(recorder.byClient).reduce((sum, counts) => sum + counts.sent, 0),
      completed: recorder?.answered ?? 0,
      failed: failures.length,
      // A provisional count, from what the clients see: refusals while routed and anything written and not answered.
      lost: failures.filter(o => o.what === 'refused' ? o.routed : true).length,
      readiness: recorder?.readiness ?? 'unknown',
      exit: exit ?? null
    })
  }
  progress('starting')
  const service = await startService(settings)
  try {
    return await loadAndSignal(settings, cycle, seed, signalAfter, service, progress)
  } finally {
    service.kill()
  }
}

async function loadAndSignal (settings: Settings, cycle: number, seed: number, signalAfter: number, service: Service,
  progress: (stage: Progress['stage'], recorder?: Recorder, exit?: string) => void): Promise<CycleReport> {
  let exitText: string | undefined
  let stage: Progress['stage'] = 'load'
  let drawPending = false
  const recorder: Recorder = new Recorder(() => service.pid, settings.load.balancer, () => {
    // Coalesced: a burst of failures draws once.
    if (drawPending || settings.onProgress === undefined) return
    drawPending = true
    setImmediate(() => {
      drawPending = false
      progress(stage, recorder, exitText)
    })
  })
  const target: Target = { host: service.host, port: service.port, requests: settings.requests, requestTimeout: settings.requestTimeout }
  let exit: Exit | undefined
  const gone = service.exited.then(value => {
    exit = value
    recorder.exitAt = performance.now()
    exitText = describeExit(value)
    recorder.note(`the process exited (${exitText})`)
  })
  const proberDone = new Promise<void>(resolve => { void gone.then(resolve) })
  const prober = probe(recorder, { host: target.host, port: target.port, path: settings.ready, interval: settings.probeInterval, until: proberDone })
  const idle = Array.from({ length: settings.load.idleSockets }, async () => await idleSocket(recorder, target))
  const clients = startLoad(settings, recorder, target, seed)
  const ticker = setInterval(() => { progress(stage, recorder, exitText) }, 100)
  const findings: Finding[] = []
  // Set in a timer's callback: an object, so that the flow analysis does not take it for a constant.
  const state = { killedAfterTimeout: false }
  try {
    const aborted = settings.abortSignal
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, signalAfter)
      aborted?.addEventListener('abort', () => {
        clearTimeout(timer)
        resolve()
      }, { once: true })
      void gone.then(() => {
        clearTimeout(timer)
        resolve()
      })
    })
    if (exit !== undefined) {
      findings.push({ kind: 'exited-before-signal', fails: true, cause: `the service exited (${describeExit(exit)}) before the signal was sent`, fix: 'a service must keep running until it is told to stop; read its output' })
    }
    // One clock reading for both: the timeline's origin is the signal, and on a starved machine two readings a line
    // apart can be tens of milliseconds apart.
    recorder.signalAt = performance.now()
    stage = 'signalled'
    recorder.note(`${settings.signal} sent`, recorder.signalAt)
    service.signal(settings.signal)
    // Bounded: a service that does not exit is killed, as a kubelet kills it at the end of the grace period.
    const timeout = setTimeout(() => {
      state.killedAfterTimeout = true
      recorder.killedAt = performance.now()
      recorder.note(`still running after ${settings.timeout} ms: killed`)
      service.kill()
    }, settings.timeout)
    const abort = (): void => {
      recorder.killedAt ??= performance.now()
      recorder.note('stopped by the caller: killed')
      service.kill()
    }
    aborted?.addEventListener('abort', abort, { once: true })
    if (aborted?.aborted === true) abort()
    await gone
    clearTimeout(timeout)
    aborted?.removeEventListener('abort', abort)
    stage = 'exited'
    if (service.groupAlive()) {
      // The process that got the signal is gone and left what it started running: a shell or npm that did not pass
      // the signal on. The service is still serving, so it is ended here and its requests in flight are lost.
      findings.push({
        kind: 'signal-not-delivered',
        fails: true,
        cause: 'the signal never reached the service: the process that got it exited and left the service it started running',
        fix: notDeliveredFix(settings.command)
      })
      recorder.killedAt ??= performance.now()
      recorder.note('the service it started was still running: killed')
      service.kill()
      recorder.stop()
      await waitGroupGone(service)
    }
  } finally {
    recorder.stop()
    clearInterval(ticker)
  }
  await Promise.all(clients)
  await prober
  const idleResults = await Promise.all(idle)
  // The evidence the service wrote just before it exited may still be in the pipe; a group left running keeps the pipe
  // open, hence the bound.
  await Promise.race([service.outputDone, new Promise(resolve => setTimeout(resolve, 1_000).unref())])
  progress('exited', recorder, exitText)
  if (state.killedAfterTimeout) {
    const noSign = recorder.readinessFailedAt === undefined && recorder.listenerRefusedAt === undefined &&
      recorder.connectionClose['lame-duck'] + recorder.connectionClose.drain === 0
    findings.push(noSign
      ? {
          kind: 'signal-not-delivered',
          fails: true,
          cause: `the service showed no sign of the signal: readiness, listener and responses stayed as they were for ${settings.timeout} ms`,
          fix: `${notDeliveredFix(settings.command)}; or handle the signal`
        }
      : {
          kind: 'did-not-exit',
          fails: true,
          cause: `the service was still running ${settings.timeout} ms after the signal` + (idleResults.some(result => result.opened && result.closedAt === undefined)
            ? ', and sockets that never sent a byte were still open' : ''),
          fix: 'bound the shutdown below the grace period: tell keep-alive clients `Connection: close`, close idle sockets, give the drain a deadline'
        })
  }
  // A process not started here exits without telling its code: nothing to judge then.
  if (exit !== undefined && !state.killedAfterTimeout && recorder.killedAt === undefined && exit.code !== 0 && (exit.code !== null || exit.signal !== null)) {
    findings.push({
      kind: 'exit-code',
      fails: false,
      cause: exit.signal !== null ? `the process ended on ${exit.signal} itself: nothing handled the signal` : `the process exited with code ${exit.code}`,
      fix: exit.signal !== null ? 'handle the signal and exit when the work is done' : 'a clean shutdown exits 0; a non-zero code makes an orchestrator count a failure'
    })
  }
  const readiness = readinessFinding(settings, recorder)
  if (readiness !== undefined) findings.push(readiness)
  return cycleReport(settings, recorder, {
    cycle,
    seed,
    url: `http://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`,
    signalAfter,
    exit,
    killedAfterTimeout: state.killedAfterTimeout,
    findings,
    idle: idleResults,
    accepted: settings.acceptedPorts !== undefined ? new Set(settings.acceptedPorts()) : settings.acceptedFromOutput ? service.accepted : undefined,
    instances: [],
    proxyLog: {}
  })
}

/**
 * The readiness path still answered 2xx to several probes after the signal and never failed: from outside, the
 * service never asked to leave the rotation. Without --ready the probe went to the first load path, which a graceful
 * service keeps answering through its lame duck: the user most likely meant its readiness route. Three probes, so that
 * one that reached the service before it handled the signal does not count; a failure later on (a readiness route
 * that flips late) is an answer, and then there is nothing to say.
 */
function readinessFinding (settings: Pick<Settings, 'ready' | 'readyGiven'>, recorder: Pick<Recorder, 'readyAfterSignal' | 'notReadyAt'>): Finding | undefined {
  if (recorder.readyAfterSignal < 3 || recorder.notReadyAt !== undefined) return undefined
  // No count in the text: the findings of several cycles are told once each, by their text.
  const probes = 'three or more probes sent after the signal'
  if (!settings.readyGiven) {
    return {
      kind: 'readiness-never-failed',
      fails: false,
      cause: `no --ready was given, so readiness was probed on the first load path, GET ${settings.ready}, which answered 2xx to ${probes} and never failed: this check could not see the service ask to leave the rotation`,
      fix: 'give the service\'s readiness path with --ready (a graceful service: --ready /healthz), as its readiness probe or balancer health check is configured'
    }
  }
  return {
    kind: 'readiness-never-failed',
    fails: false,
    cause: `the readiness path GET ${settings.ready} answered 2xx to ${probes} and never failed: a balancer or kubelet probing it goes on routing new connections here until the listener closes`,
    fix: 'fail readiness (503) as soon as the signal comes, then keep serving for a few probe periods before closing the listener (graceful: the /healthz route and preStopDelay)'
  }
}

export interface CycleContext {
  cycle: number
  seed: number
  url: string
  signalAfter: number
  exit: Exit | undefined
  killedAfterTimeout: boolean
  findings: Finding[]
  idle: Array<{ opened: boolean, closedAt: number | undefined, serviceAlive: boolean }>
  accepted: Set<number> | undefined
  instances: CycleReport['instances']
  proxyLog: Record<string, number>
  /** A second look at a failure, with what only the caller knows (a proxy's log). */
  refine?: (failure: FailedRequest, observed: Observed) => FailedRequest
}

/** What the recorder saw, classified, as the report's cycle. */
export function cycleReport (settings: Settings, recorder: Recorder, context: CycleContext): CycleReport {
  const { cycle, seed, signalAfter, exit, findings } = context
  const idleResults = context.idle
  const signalAt = recorder.signalAt ?? recorder.startedAt
  const facts: CycleFacts = {
    signalAt: signalAt,
    listenerRefusedAt: recorder.listenerRefusedAt,
    exitAt: recorder.exitAt,
    killedAt: recorder.killedAt,
    idleGrace: settings.idleGrace,
    accepted: context.accepted
  }
  const failures = recorder.observed.map(observed => {
    const failure = classify(observed, facts)
    return context.refine === undefined ? failure : context.refine(failure, observed)
  }).sort((a, b) => a.failedMs - b.failedMs)
  for (const failure of failures) if (failure.lost) recorder.byClient[failure.client].lost++
  const since = (at: number | undefined): number | null => at === undefined ? null : Math.round(at - signalAt)
  const sent = Object.values(recorder.byClient).reduce((sum, counts) => sum + counts.sent, 0)
  const lost = failures.filter(failure => failure.lost).length
  const timeline = [...recorder.timeline, ...recorder.probeChanges.map(change => ({ at: change.at, what: `readiness: ${change.what}` }))]
    .sort((a, b) => a.at - b.at)
    .map(event => ({ atMs: Math.round(event.at - signalAt), what: event.what }))
  return {
    cycle,
    seed,
    url: context.url,
    signalAfterMs: signalAfter,
    times: {
      readinessFailedMs: since(recorder.readinessFailedAt),
      listenerRefusedMs: since(recorder.listenerRefusedAt),
      lastResponseMs: since(recorder.lastResponseAt),
      exitMs: since(recorder.exitAt)
    },
    exit: { code: exit?.code ?? null, signal: exit?.signal ?? null, killedAfterTimeout: context.killedAfterTimeout },
    requests: {
      sent,
      answered: recorder.answered,
      failed: failures.length,
      lost,
      excused: failures.length - lost,
      byClient: recorder.byClient
    },
    connectionClose: recorder.connectionClose,
    statuses: recorder.statuses,
    idleSockets: {
      opened: idleResults.filter(result => result.opened).length,
      closedByServiceMs: idleResults.flatMap(result => result.closedAt !== undefined && result.serviceAlive ? [Math.round(result.closedAt - signalAt)] : []),
      openAtExit: idleResults.filter(result => result.opened && (result.closedAt === undefined || !result.serviceAlive)).length
    },
    probes: { sent: recorder.probes, changes: recorder.probeChanges.map(change => ({ atMs: Math.round(change.at - signalAt), what: change.what })) },
    timeline,
    failures,
    findings,
    instances: context.instances,
    proxyLog: context.proxyLog
  }
}

/** The group's processes have no exit event to wait for here: their liveness is read every 20 ms, for 2 s at most. */
async function waitGroupGone (service: Service): Promise<void> {
  const deadline = performance.now() + 2_000
  while (service.groupAlive() && performance.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
}

const EXEC_FORM: Readonly<Record<string, string>> = { node: '"node", "server.js"', deno: '"deno", "run", "main.ts"', bun: '"bun", "server.ts"' }

/** The fix for a signal that never reached the service, in the terms of the runtime its command starts. */
export function notDeliveredFix (command: readonly string[] | undefined): string {
  // The runtime may sit behind a shell or a launcher (`sh -c "deno run …"`): the first one named anywhere is the one.
  const runtime = /(?:^|[\s/])(node|deno|bun)(?=\s|$)/.exec(command?.join(' ') ?? '')?.[1]
  const program = runtime ?? 'the service'
  return `the signal never reached ${program}: exec-form CMD (\`CMD [${runtime === undefined ? '"your-program", …' : EXEC_FORM[runtime]!}]\`), ` +
    `\`exec ${runtime ?? 'your-program'} …\` in a script, or an init that forwards signals (tini)`
}
