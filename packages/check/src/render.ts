import { styleText } from 'node:util'
import type { CheckReport, CycleReport, FailedRequest } from './types.js'

type Style = Parameters<typeof styleText>[0]

export interface TextOptions {
  /** ANSI colours. @default false */
  color?: boolean
}

const number = (value: number): string => value.toLocaleString('en-US')
const signed = (ms: number): string => ms === 0 ? '0' : ms > 0 ? `+${number(ms)}` : `−${number(-ms)}`

function describe (failure: FailedRequest): string {
  const where = failure.localPort === null ? '' : `, port ${failure.localPort}`
  const what = failure.status !== null ? `${failure.status}` : failure.error ?? ''
  return `${failure.client} ${failure.method} ${failure.path} (${failure.idempotent ? 'idempotent' : 'not idempotent'}, ${failure.connection} connection${where}) ` +
    `sent ${signed(failure.sentMs)} ms, failed ${signed(failure.failedMs)} ms in ${failure.phase}${what === '' ? '' : `: ${what}`}`
}

function exitText (cycle: CycleReport): string {
  const how = cycle.exit.code !== null ? `code ${cycle.exit.code}` : cycle.exit.signal !== null ? `killed by ${cycle.exit.signal}` : 'not seen'
  return `${how}${cycle.exit.killedAfterTimeout ? ' (killed by graceful-check at the timeout)' : ''}${cycle.times.exitMs === null ? '' : `, ${number(cycle.times.exitMs)} ms after the signal`}`
}

/** The report as a person reads it on a terminal: each cycle's timeline, the counts, each cause with its fix, the verdict. */
export function formatText (report: CheckReport, options: TextOptions = {}): string {
  const paint = (style: Style, text: string): string => options.color === true ? styleText(style, text) : text
  const lines: string[] = []
  const many = report.cycles.length > 1
  for (const cycle of report.cycles) {
    const requests = cycle.requests
    // The run's own seed, which replays it: a cycle's derived seed given to --seed would draw other moments.
    const replay = `--seed ${report.seed}${cycle.cycle > 0 ? ` --cycles ${cycle.cycle + 1}` : ''}`
    const balancer = cycle.balancer.propagationMs === null ? '' : `, ${cycle.balancer.model} routing here for ${number(cycle.balancer.propagationMs)} ms after it`
    lines.push(paint('bold', `${many ? `cycle ${cycle.cycle + 1} of ${report.cycles.length}: ` : ''}${report.signal} after ${number(cycle.signalAfterMs)} ms of load${balancer} (replay: ${replay}), ${cycle.url}`))
    lines.push('  timeline, ms from the signal:')
    const width = Math.max(...cycle.timeline.map(event => signed(event.atMs).length), 1)
    if (!many || requests.lost > 0) {
      for (const event of cycle.timeline) lines.push(`    ${signed(event.atMs).padStart(width)}  ${event.what}`)
    } else {
      const t = cycle.times
      lines.push(`    readiness failed ${t.readinessFailedMs ?? '—'}, listener refused ${t.listenerRefusedMs ?? '—'}, last response ${t.lastResponseMs ?? '—'}, exit ${t.exitMs ?? '—'}`)
    }
    const byClient = Object.entries(requests.byClient).filter(([, counts]) => counts.sent > 0)
      .map(([client, counts]) => `${client} ${number(counts.completed)}/${number(counts.sent)}${counts.lost > 0 ? paint('red', ` (${counts.lost} lost)`) : ''}`)
    lines.push(`  requests: ${number(requests.sent)} sent, ${number(requests.answered)} answered, ${number(requests.failed)} failed ` +
      `(${requests.lost === 0 ? paint('green', '0 lost') : paint('red', `${number(requests.lost)} lost`)}${requests.lostNotIdempotent > 0 ? `, ${requests.lostNotIdempotent} of them not idempotent` : ''}, ${number(requests.excused)} not counted)`)
    lines.push(`    answered/sent: ${byClient.join(' · ')}`)
    const statuses = Object.entries(cycle.statuses).map(([status, count]) => `${status} × ${count}`)
    if (statuses.length > 0) lines.push(`    answers other than 2xx: ${statuses.join(', ')}`)
    const close = cycle.connectionClose
    lines.push(`  Connection: close on ${number(close['lame-duck'] + close.drain + close['after-exit'])} responses after the signal (lame duck ${close['lame-duck']}, drain ${close.drain})` +
      (close['before-signal'] > 0 ? `, ${close['before-signal']} before it` : ''))
    if (cycle.idleSockets.opened > 0) {
      const closed = cycle.idleSockets.closedByServiceMs
      lines.push(`  idle sockets: ${cycle.idleSockets.opened} opened, ${closed.length === 0 ? 'none closed by the service' : `closed by the service at ${closed.map(signed).join(', ')} ms`}` +
        (cycle.idleSockets.openAtExit > 0 ? `, ${cycle.idleSockets.openAtExit} open until the exit` : ''))
    }
    lines.push(`  exit: ${exitText(cycle)}`)
    const lost = cycle.failures.filter(failure => failure.lost)
    // A few of each kind: the causes below say the rest, and --json lists every one.
    const shown = lost.filter((failure, index) => lost.slice(0, index).filter(other => other.kind === failure.kind).length < 3)
    for (const failure of shown) lines.push(paint('red', `  lost: ${describe(failure)}`) + `\n        ${failure.cause}`)
    if (lost.length > shown.length) lines.push(`  … and ${lost.length - shown.length} more lost (--json lists them all)`)
    lines.push('')
  }
  if (many) {
    const d = report.distribution
    lines.push(`${report.cycles.length} cycles, --seed ${report.seed}: lost per cycle min ${d.lost.min}, median ${d.lost.median}, max ${d.lost.max}` +
      (d.exitMs === null ? '' : `; signal to exit min ${number(d.exitMs.min)}, median ${number(d.exitMs.median)}, max ${number(d.exitMs.max)} ms`))
  }
  if (report.causes.length > 0) {
    lines.push(paint('bold', 'what happened, by cause:'))
    for (const cause of report.causes) {
      const label = `${cause.count} × ${cause.kind}${cause.lost ? '' : ' (not counted as lost)'}`
      lines.push(`  ${cause.lost ? paint('red', label) : paint('dim', label)}: ${cause.cause}`)
      if (cause.lost) lines.push(`    fix: ${cause.fix}`)
    }
  }
  for (const finding of report.findings) {
    lines.push(`${finding.fails ? paint('red', finding.kind) : paint('yellow', finding.kind)}: ${finding.cause}`)
    lines.push(`  fix: ${finding.fix}`)
  }
  const t = report.totals
  if (t.lostNotIdempotent > 0) {
    // A refused one never reached the service; any other may have been acted on, so nothing may send it again.
    const reached = report.lost.filter(failure => !failure.idempotent && failure.kind !== 'routed-to-closed-listener').length
    lines.push(paint('red', `${number(t.lostNotIdempotent)} of the lost requests are not idempotent (POST, PATCH…)` +
      (reached > 0 ? `; ${number(reached)} of them reached the service, which may have acted on them: no balancer sends those again, and a client that does may do the action twice` : '')))
  }
  const verdict = report.ok
    ? paint('green', `PASS: ${number(t.lost)} of ${number(t.sent)} requests lost${report.maxLost > 0 ? ` (${report.maxLost} allowed)` : ''}`)
    : paint('red', `FAIL: ${number(t.lost)} of ${number(t.sent)} requests lost${report.maxLost > 0 ? ` (${report.maxLost} allowed)` : ''}` +
      (report.findings.some(finding => finding.fails) ? `; ${report.findings.filter(finding => finding.fails).map(finding => finding.kind).join(', ')}` : ''))
  lines.push(verdict)
  return lines.join('\n') + '\n'
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')

/** The report as Markdown, for a CI job summary ($GITHUB_STEP_SUMMARY). */
export function formatMarkdown (report: CheckReport): string {
  const t = report.totals
  const lines = [
    `## graceful-check: ${report.ok ? '✅ nothing lost' : `❌ ${t.lost} lost`}`,
    '',
    `${report.cycles.length} cycle${report.cycles.length === 1 ? '' : 's'}, seed \`${report.seed}\`, signal ${report.signal}, balancer ${report.balancer.model}` +
      (report.target.command === null ? `, ${report.target.url}` : `, \`${cell(report.target.command.join(' '))}\``) + '.',
    '',
    '| cycle | sent | answered | lost | not counted | readiness failed | listener refused | last response | exit | exit code |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|'
  ]
  const ms = (value: number | null): string => value === null ? '—' : `${signed(value)} ms`
  for (const cycle of report.cycles) {
    const r = cycle.requests
    const code = cycle.exit.code !== null ? String(cycle.exit.code) : cycle.exit.signal ?? '—'
    lines.push(`| ${cycle.cycle + 1} | ${r.sent} | ${r.answered} | ${r.lost === 0 ? '0' : `**${r.lost}**`} | ${r.excused} | ${ms(cycle.times.readinessFailedMs)} | ` +
      `${ms(cycle.times.listenerRefusedMs)} | ${ms(cycle.times.lastResponseMs)} | ${ms(cycle.times.exitMs)} | ${code}${cycle.exit.killedAfterTimeout ? ' (killed at the timeout)' : ''} |`)
  }
  if (report.causes.length > 0) {
    lines.push('', '| count | kind | lost | cause | fix |', '|---:|---|---|---|---|')
    for (const cause of report.causes) lines.push(`| ${cause.count} | \`${cause.kind}\` | ${cause.lost ? 'yes' : 'no'} | ${cell(cause.cause)} | ${cell(cause.fix)} |`)
  }
  if (report.findings.length > 0) {
    lines.push('')
    for (const finding of report.findings) lines.push(`- **${finding.kind}**: ${cell(finding.cause)}. Fix: ${cell(finding.fix)}`)
  }
  if (report.lost.length > 0) {
    lines.push('', '<details><summary>lost requests</summary>', '', '| client | request | connection | phase | sent | failed | kind |', '|---|---|---|---|---:|---:|---|')
    for (const failure of report.lost.slice(0, 100)) {
      lines.push(`| ${failure.client} | ${cell(`${failure.method} ${failure.path}`)} | ${failure.connection} | ${failure.phase} | ${ms(failure.sentMs)} | ${ms(failure.failedMs)} | \`${failure.kind}\` |`)
    }
    lines.push('', '</details>')
  }
  return lines.join('\n') + '\n'
}
