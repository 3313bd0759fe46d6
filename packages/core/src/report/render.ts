import type { ShutdownReport } from './report.js'

/** The report as a person reads it on a terminal: exit code and total time first, then only what explains them. */
export function renderReport (report: ShutdownReport): string {
  const { phases, requests, sockets } = report
  const lines = [
    `graceful: shutdown ${report.error === undefined ? 'complete' : 'failed'} in ${ms(report.durationMs)} (${report.reason}), exit code ${report.exitCode}`,
    row('phases', `stopping ${ms(phases.stopping)} · draining ${ms(phases.draining)} · cleanup ${ms(phases.cleanup)}`),
    row('requests', `${requests.inFlightAtDrain} in flight at drain, ${requests.completedDuringDrain} completed, ` +
      `${requests.forced.length} forced` +
      (requests.servedWhileStopping > 0 ? `, ${requests.servedWhileStopping} served during the lame duck` : '') +
      (requests.declinedPipelined > 0 ? `, ${requests.declinedPipelined} pipelined behind Connection: close declined (the client retries them)` : '')),
    row('sockets', `${sockets.openAtDrain} open at drain${kinds(sockets.webSockets, sockets.http2Sessions)}: ${sockets.closedIdle} closed idle, ` +
      `${sockets.closedAfterResponse} after their response, ${sockets.forced} forced` +
      (sockets.untracked > 0 ? ` (${sockets.untracked} never seen by graceful: attach the server right after listen())` : ''))
  ]
  requests.forced.forEach((request, index) => {
    const handler = request.handler === undefined ? '' : `, handler ${HANDLER[request.handler]}`
    lines.push(row(index === 0 ? 'forced' : '', `${request.method} ${request.path} (running for ${ms(request.ageMs)}${handler})`))
  })
  report.work?.sources.forEach((source, index) => {
    lines.push(row(index === 0 ? 'work' : '', `${source.name}: ${source.runningAtStop} running at its stop, ` +
      `${source.status === 'ok' ? 'ended' : source.status === 'forced' ? 'CUT' : 'FAILED'} in ${ms(source.durationMs)}` +
      (source.error === undefined ? '' : `: ${source.error}`)))
  })
  report.work?.forced.forEach((work, index) => {
    lines.push(row(index === 0 ? 'cut' : '', `${work.source} ${[work.id, work.name].filter(part => part !== undefined).join(' ') || 'work'} ` +
      `(running for ${ms(work.ageMs)})`))
  })
  const held = report.atDeadline
  if (held !== undefined) {
    const resources = Object.entries(held.activeResources).map(([type, count]) => `${type} ×${count}`).join(', ')
    lines.push(row('deadline', `${count(held.inFlight, 'request')} in flight, ${count(held.openSockets, 'socket')} open; ` +
      `active resources: ${resources === '' ? 'none' : resources}`))
  }
  if (report.hooks.length === 0) lines.push(row('hooks', 'none'))
  report.hooks.forEach((hook, index) => {
    const status = hook.status === 'ok' ? 'ok' : hook.status === 'failed' ? 'FAILED' : 'TIMED OUT'
    lines.push(row(index === 0 ? 'hooks' : '', `${hook.name} ${status} in ${ms(hook.durationMs)}` +
      (hook.error === undefined ? '' : `: ${hook.error}`)))
  })
  if (report.error !== undefined) lines.push(row('error', report.error))
  return lines.join('\n')
}

/** Any other log entry on a terminal: the message, then its fields as `key=value`. */
export function renderEntry (level: 'info' | 'warn' | 'error', obj: object, msg?: string): string {
  const fields = Object.entries(obj).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
  const prefix = level === 'info' ? '' : `${level.toUpperCase()} `
  return `${prefix}${msg ?? ''}${fields.length === 0 ? '' : `  ${fields.join(' ')}`}`
}

function row (label: string, text: string): string {
  return `  ${label.padEnd(10)}${text}`
}

function count (n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

function ms (value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value} ms`
}

function kinds (webSockets: number, http2Sessions: number): string {
  const parts: string[] = []
  if (webSockets > 0) parts.push(count(webSockets, 'WebSocket'))
  if (http2Sessions > 0) parts.push(count(http2Sessions, 'HTTP/2 session'))
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

const HANDLER = { ended: 'had ended', 'ended-after-cut': 'ended after the cut', running: 'still running' } as const
