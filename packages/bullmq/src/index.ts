// A BullMQ Worker as a graceful work source: it stops taking jobs at the signal, the jobs it runs finish under the
// drain deadline, and at the deadline the jobs still running are handed back to the queue at once (not left in
// `active` for the stalled-job checker, which would take tens of seconds and use up one of their allowed stalls).
import type { RunningWork, WorkSource } from '@graceful/core'
import type { Job, Worker } from 'bullmq'

export interface BullmqWorkSourceOptions {
  /**
   * The reason given to BullMQ's job cancellation (`worker.cancelJob(id, reason)`), which the processor's
   * `AbortSignal` aborts with, at the drain deadline.
   * @default 'graceful: drain deadline, job handed back to the queue'
   */
  cancelReason?: string
}

/**
 * A work source for `addWorkSource(name, bullmqWorkSource(worker))`. At the signal, `worker.close()`: no job is taken
 * from then on, and the jobs in flight run to their end. At the drain deadline, each job still running is moved back
 * to `wait` (its lock released: the next worker takes it at once), then cancelled through BullMQ's
 * own job cancellation, so that the processor's `signal` (its third argument) aborts.
 *
 * A job handed back runs again on the next worker. It runs only once if its processor honours the abort before its
 * side effect: take the `signal` (`async (job, token, signal) => …`) and check it before committing, sending or
 * charging (`signal.throwIfAborted()`), or pass it to what you await. A processor that ignores it may finish its side
 * effect after the hand-back, and then the job's side effect happens twice.
 */
export function bullmqWorkSource (worker: Worker, options: BullmqWorkSourceOptions = {}): WorkSource {
  const reason = options.cancelReason ?? 'graceful: drain deadline, job handed back to the queue'
  // Followed through the worker's own events: nothing else in BullMQ lists the jobs one worker runs.
  const jobs = new Map<string, Job>()
  worker.on('active', job => { if (job.id !== undefined) jobs.set(job.id, job) })
  const ended = (job: Job | undefined): void => { if (job?.id !== undefined) jobs.delete(job.id) }
  worker.on('completed', ended)
  worker.on('failed', ended)

  const running = (): Job[] => {
    // A job a processor moved elsewhere itself (moveToDelayed, then DelayedError) ends without an event: the jobs the
    // worker's lock manager still tracks are the ones it runs (a protected member, BullMQ 5 to 6.7; without it, the
    // events alone decide).
    const tracked = (worker as unknown as { lockManager?: { getTrackedJobIds?: () => string[] } }).lockManager?.getTrackedJobIds?.()
    if (tracked === undefined) return [...jobs.values()]
    const ids = new Set(tracked)
    for (const id of jobs.keys()) if (!ids.has(id)) jobs.delete(id)
    return [...jobs.values()]
  }

  return {
    stopAt: 'signal',
    stop: () => {
      // BullMQ's fetch loop checks `closing` before it blocks waiting for a job, not after: a job added as close()
      // begins wakes the wait and is moved to active all the same (BullMQ 6.7). From the stop on, the worker's own
      // moveToActive (a protected method; nothing public stops it) takes nothing.
      const fetching = worker as unknown as { moveToActive?: unknown }
      if (typeof fetching.moveToActive === 'function') fetching.moveToActive = () => Promise.resolve(undefined)
      // The fetch loop ends; the promise resolves once the jobs in flight have ended and the connections closed.
      return worker.close()
    },
    running: (): RunningWork[] => running().map(job => ({
      ...(job.id === undefined ? {} : { id: job.id }),
      name: job.name,
      ...(job.processedOn === undefined ? {} : { startedAt: job.processedOn })
    })),
    force: async () => {
      const failures: string[] = []
      await Promise.all(running().map(async job => {
        const id = job.id!
        try {
          // Back to wait first, then the abort: the processor's rejection then finds the job gone from `active` and
          // BullMQ cannot move it to `failed` (or spend one of its attempts) on the way.
          await job.moveToWait(job.token)
        } catch (err) {
          failures.push(`job ${id}: ${err instanceof Error ? err.message : String(err)}`)
        }
        worker.cancelJob(id, reason)
        jobs.delete(id)
      }))
      if (failures.length > 0) throw new Error(`could not hand back ${failures.join('; ')}`)
    }
  }
}
