// A consumer of an async iterator (here the lines of its standard input, one JSON message each; a broker's
// subscription is consumed the same way) shut down with graceful: at SIGTERM it takes no new message, and the one it
// is handling finishes.
//
//   node examples/consumer.mjs    then type {"id":"1","ms":3000} and Ctrl-C (or `kill -TERM <pid>`)
import { on } from 'node:events'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { createGraceful } from '@graceful/core'

const log = (entry) => console.log(JSON.stringify(entry))
const g = createGraceful({ drainTimeout: 10_000 })

const lines = createInterface({ input: process.stdin })
const stopTaking = new AbortController()
let current // the message being handled: { id, startedAt }

async function consume () {
  try {
    for await (const [line] of on(lines, 'line', { signal: stopTaking.signal })) {
      // Read before the signal but not handled yet: not taken (a broker redelivers what was never acknowledged).
      if (stopTaking.signal.aborted) break
      const message = JSON.parse(line)
      current = { id: message.id, startedAt: Date.now() }
      log({ msg: 'handling', id: message.id })
      await sleep(message.ms) // the work
      log({ msg: 'handled', id: message.id })
      current = undefined
    }
  } catch (err) {
    if (err.name !== 'AbortError') throw err
  }
}
const consuming = consume()

g.addWorkSource('messages', {
  // Ends the iteration at once (a pending next() rejects); the message being handled runs to its end.
  stop: () => {
    stopTaking.abort()
    lines.close()
    return consuming
  },
  running: () => current === undefined ? [] : [current]
})
log({ msg: 'consuming', pid: process.pid })
