// A scheduled job (croner) shut down with graceful: at SIGTERM the schedule stops, and a run in progress finishes.
//
//   node examples/cron.mjs        then Ctrl-C (or `kill -TERM <pid>`) while a run is in progress
import { setTimeout as sleep } from 'node:timers/promises'
import { Cron } from 'croner'
import { createGraceful } from '@graceful/core'

const log = (entry) => console.log(JSON.stringify(entry))
const runMs = Number(process.env.RUN_MS ?? 500)
const g = createGraceful({ drainTimeout: 30_000 })

let run // the run in progress: when it started, and its promise
// Every second; `protect`: a run still going when the next is due makes the schedule skip it, never overlap.
const job = new Cron('* * * * * *', { name: 'report', protect: true }, async () => {
  const startedAt = Date.now()
  const done = (async () => {
    log({ msg: 'run started', startedAt })
    await sleep(runMs) // the work
    log({ msg: 'run done', startedAt })
  })()
  run = { startedAt, done }
  try {
    await done
  } finally {
    run = undefined
  }
})

g.addWorkSource('report', {
  // The schedule stops at the signal; the drain waits for the run in progress (a failed run is no failed shutdown).
  stop: () => {
    job.stop()
    return run?.done.catch(() => {})
  },
  running: () => run === undefined ? [] : [{ name: job.name, startedAt: run.startedAt }]
})
log({ msg: 'scheduled', pid: process.pid })
