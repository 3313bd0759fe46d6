// Preloaded (--import) into a bench server by exit-breakdown.mjs: marks when the process destroyed its first and its
// last socket and when its 'exit' event came, and writes them to stderr as one JSON line at exit. Measurement only:
// wrapping Socket#destroy costs every variant the same. No SIGTERM listener here: @godaddy/terminus re-raises the
// signal once its own listeners are gone, and one more would keep the process alive.
import { writeSync } from 'node:fs'
import { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

const now = () => performance.timeOrigin + performance.now()
const marks = { destroyed: 0 }
const destroy = Socket.prototype.destroy
Socket.prototype.destroy = function (...args) {
  const at = now()
  if (marks.destroyed++ === 0) marks.firstDestroy = at
  const result = destroy.apply(this, args)
  marks.lastDestroy = now()
  return result
}
process.on('exit', () => {
  marks.exitEvent = now()
  writeSync(2, `EXIT-MARKS ${JSON.stringify(marks)}\n`)
})
