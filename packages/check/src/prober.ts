import { RawConnection } from './connection.js'
import type { Recorder } from './recorder.js'

export interface ProberOptions {
  host: string
  port: number
  path: string
  interval: number
  /** Resolves when the prober may stop: the service is gone. */
  until: Promise<void>
}

function change (recorder: Recorder, what: string): void {
  if (recorder.readiness === what) return
  recorder.readiness = what
  recorder.probeChanges.push({ at: performance.now(), what })
  recorder.onChange()
}

/**
 * The readiness prober, on a fresh connection each time, as a kubelet or a balancer's health check probes. Once
 * readiness has failed `fall` times in a row, it only opens and closes connections: that is enough to see the listener refuse, and a probe request written into a closing listener's
 * accept queue would be a loss of the prober's own making, not the service's.
 */
export async function probe (recorder: Recorder, options: ProberOptions): Promise<void> {
  const state = { done: false }
  void options.until.then(() => { state.done = true })
  const wait = async (): Promise<void> => {
    await Promise.race([new Promise(resolve => setTimeout(resolve, options.interval)), options.until])
  }
  const request = `GET ${options.path} HTTP/1.1\r\nhost: ${options.host}\r\nuser-agent: graceful-check-probe\r\nconnection: close\r\n\r\n`
  while (!state.done) {
    const connection = new RawConnection(options.host, options.port)
    if (!await connection.opened()) {
      if (recorder.signalled) {
        recorder.refusedSeen()
        recorder.readinessFailed('refused')
      }
      change(recorder, `refused (${connection.closedWith ?? 'closed'})`)
      await wait()
      continue
    }
    // Once readiness has failed `fall` times in a row, a connection that opens is all the prober needs to see.
    if (recorder.readinessFailures >= recorder.fall) {
      connection.destroy()
      await wait()
      continue
    }
    recorder.probes++
    const sentAt = performance.now()
    recorder.byClient.prober.sent++
    const timer = setTimeout(() => {
      connection.closedWith ??= 'timeout'
      connection.destroy()
    }, Math.max(2_000, options.interval * 10))
    const [exchange] = await connection.exchange([request], 1)
    clearTimeout(timer)
    connection.destroy()
    if (exchange!.answered) {
      recorder.byClient.prober.completed++
      recorder.answered++
      recorder.marks.push(['prober', sentAt, performance.now(), -1])
      const status = exchange!.status
      const afterSignal = recorder.signalAt !== undefined && sentAt >= recorder.signalAt
      if (status >= 200 && status <= 299) {
        change(recorder, `ready (${status})`)
        recorder.readinessOk()
        if (afterSignal) recorder.readyAfterSignal++
      } else {
        change(recorder, `not ready (${status})`)
        recorder.readinessFailed(String(status))
        if (afterSignal) recorder.notReadyAt ??= performance.now()
      }
    } else {
      const error = exchange!.error
      recorder.fail({
        client: 'prober', method: 'GET', path: options.path, connection: 'fresh', localPort: connection.localPort ?? null, sentAt,
        what: error === 'timeout' ? 'timeout' : exchange!.responseStarted ? 'mid-response' : 'no-response', error, status: null,
        idleMs: 0, finFirst: exchange!.finFirst, behindClose: false, routed: false
      })
      change(recorder, `no answer (${error})`)
      if (recorder.signalled) recorder.readinessFailed(`no answer: ${error}`)
    }
    await wait()
  }
}
