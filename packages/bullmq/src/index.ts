import type { RunningWork, WorkSource } from '@graceful/core'
import type { Job, Worker } from 'bullmq'

export interface BullmqWorkSourceOptions {
  /**
   * The reason the processor's `AbortSignal` aborts with at the drain deadline (`worker.cancelJob(id, reason)`).
   * @default 'graceful: drain deadline, job handed back to the queue'
   */
  cancelReason?: string
}

/**
 * A work source for `addWorkSource(name, bullmqWorkSource(worker))` (docs/beyond-http.md): the processor's third
 * argument aborts at the drain deadline, as the job goes back to the queue; check it before a side effect.
 */
export function bullmqWorkSource (worker: Worker, options: BullmqWorkSourceOptions = {}): WorkSource {
  const reason = options.cancelReason ?? 'graceful: drain deadline, job handed back to the queue'
  const jobs = new Map<string, Job>()
  worker.on('active', job => { if (job.id !== undefined) jobs.set(job.id, job) })
  const ended = (job: Job | undefined): void => { if (job?.id !== undefined) jobs.delete(job.id) }
  worker.on('completed', ended)
  worker.on('failed', ended)

  const running = (): Job[] => {
    // A job a processor moved elsewhere (moveToDelayed) ends without an event: the lock manager (protected) knows.
    const tracked = (worker as unknown as { lockManager?: { getTrackedJobIds?: () => string[] } }).lockManager?.getTrackedJobIds?.()
    if (tracked === undefined) return [...jobs.values()]
    const ids = new Set(tracked)
    for (const id of jobs.keys()) if (!ids.has(id)) jobs.delete(id)
    return [...jobs.values()]
  }

  return {
    stopAt: 'signal',
    stop: () => {
      // BullMQ (6.7) checks `closing` before it blocks for a job, not after: a job added now would still be taken.
      const fetching = worker as unknown as { moveToActive?: unknown }
      if (typeof fetching.moveToActive === 'function') fetching.moveToActive = () => Promise.resolve(undefined)
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
          // Back to wait first: the processor's rejection then cannot move the job to `failed` or spend an attempt.
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
