import { styleText } from 'node:util'
import { createLogUpdate } from 'log-update'
import type { Progress } from './types.js'

type Style = Parameters<typeof styleText>[0]

export interface LiveView {
  update: (progress: Progress) => void
  /** Leaves the last drawing in place (a terminal) and stops. */
  done: () => void
}

export interface LiveViewOptions {
  stream: NodeJS.WriteStream
  color: boolean
  /** Redraw in place (a terminal) or write a plain line at each change of stage and once a second. */
  live: boolean
}

/** The balancer's view: still routing new connections here (and for how long), or let go. */
function balancer (progress: Progress): string {
  if (progress.routingLeftMs === null) return ''
  return `balancer ${progress.routingLeftMs > 0 ? `routes here ${(progress.routingLeftMs / 1000).toFixed(1)} s more` : 'let go'}`.padEnd(30)
}

function lines (progress: Progress, paint: (style: Style, text: string) => string): string[] {
  const width = 24
  const fraction = Math.min(1, progress.elapsedMs / Math.max(progress.signalAfterMs, 1))
  const filled = Math.round(width * fraction)
  const bar = paint('green', '█'.repeat(filled)) + paint('dim', '░'.repeat(width - filled))
  const when = progress.sinceSignalMs === null
    ? `load ${(progress.elapsedMs / 1000).toFixed(1)} s, signal at ${(progress.signalAfterMs / 1000).toFixed(1)} s`
    : `${paint('yellow', 'signalled')} +${progress.sinceSignalMs} ms${progress.exit === null ? ', waiting for the exit' : ''}`
  const lost = progress.lost === 0 ? paint('green', '0') : paint('red', String(progress.lost))
  return [
    `${paint('bold', 'graceful-check')} cycle ${progress.cycle + 1}/${progress.cycles} ${bar} ${progress.stage === 'starting' ? 'starting the service' : when}`,
    `  readiness ${progress.readiness.padEnd(20)} ${balancer(progress)}exit ${progress.exit ?? '—'}`,
    `  requests  sent ${progress.sent}  answered ${progress.completed}  failed ${progress.failed}  lost ${lost}`
  ]
}

/** Progress on stderr: redrawn in place with log-update on a terminal, plain lines elsewhere. */
export function liveView (options: LiveViewOptions): LiveView {
  const paint = (style: Style, text: string): string => options.color ? styleText(style, text) : text
  if (options.live) {
    const draw = createLogUpdate(options.stream, { showCursor: false })
    let last: Progress | undefined
    return {
      update: (progress) => {
        if (last !== undefined && last.cycle !== progress.cycle) draw.done()
        last = progress
        draw(lines(progress, paint).join('\n'))
      },
      done: () => { draw.done() }
    }
  }
  let lastStage = ''
  let lastAt = 0
  return {
    update: (progress) => {
      const key = `${progress.cycle} ${progress.stage}`
      const now = performance.now()
      if (key === lastStage && now - lastAt < 1_000) return
      lastStage = key
      lastAt = now
      const p = progress
      options.stream.write(`graceful-check: cycle ${p.cycle + 1}/${p.cycles} ${p.stage}${p.sinceSignalMs === null ? '' : ` +${p.sinceSignalMs} ms`}: ` +
        `readiness ${p.readiness}, ${p.routingLeftMs === null ? '' : `${balancer(p).trim()}, `}sent ${p.sent}, answered ${p.completed}, failed ${p.failed}, lost ${p.lost}${p.exit === null ? '' : `, exit ${p.exit}`}\n`)
    },
    done: () => {}
  }
}
