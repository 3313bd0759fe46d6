import type { CheckReport, CycleReport, FailedRequest } from './types.js'

/** Text for an XML attribute or element: the five characters XML reserves, and control characters XML 1.0 forbids. */
function xml (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '')
}

const signed = (ms: number): string => ms >= 0 ? `+${ms}` : String(ms)

function lostLine (failure: FailedRequest): string {
  return `${failure.client} ${failure.method} ${failure.path}${failure.idempotent ? '' : ' (not idempotent)'}, ${failure.connection} connection, ` +
    `sent ${signed(failure.sentMs)} ms, failed ${signed(failure.failedMs)} ms in ${failure.phase}: ${failure.kind}`
}

function testCase (report: CheckReport, cycle: CycleReport): string {
  const propagation = cycle.balancer.propagationMs === null ? '' : `, ${cycle.balancer.model} routing for ${cycle.balancer.propagationMs} ms`
  const name = `cycle ${cycle.cycle + 1}: ${report.signal} after ${cycle.signalAfterMs} ms of load${propagation}`
  // The cycle's length as seen from here: the load before the signal, then the signal to the exit.
  const seconds = (cycle.signalAfterMs + Math.max(cycle.times.exitMs ?? 0, cycle.times.routingEndedMs ?? 0)) / 1000
  const failures = [
    ...cycle.failures.filter(failure => failure.lost).map(failure =>
      `      <failure type="${xml(failure.kind)}" message="${xml(lostLine(failure))}">${xml(`${failure.cause}\nfix: ${failure.fix}`)}</failure>`),
    ...cycle.findings.filter(finding => finding.fails).map(finding =>
      `      <failure type="${xml(finding.kind)}" message="${xml(finding.cause)}">${xml(`fix: ${finding.fix}`)}</failure>`)
  ]
  const open = `    <testcase classname="graceful-check" name="${xml(name)}" time="${seconds.toFixed(3)}"`
  if (failures.length === 0) return `${open}/>`
  return [`${open}>`, ...failures, '    </testcase>'].join('\n')
}

/**
 * The report as JUnit XML, for CI systems that show test results: one test case per cycle, and in it one failure
 * per lost request (its kind, what it was, its cause and fix) and per finding that fails the verdict.
 */
export function formatJunit (report: CheckReport): string {
  const failed = report.cycles.filter(cycle => cycle.failures.some(failure => failure.lost) || cycle.findings.some(finding => finding.fails)).length
  const target = report.target.command === null ? report.target.url : report.target.command.join(' ')
  const properties = [
    ['seed', String(report.seed)],
    ['balancer', report.balancer.model],
    ['propagation', `${report.balancer.propagation.min}-${report.balancer.propagation.max}`],
    ['lost', String(report.totals.lost)],
    ['lostNotIdempotent', String(report.totals.lostNotIdempotent)],
    ['sent', String(report.totals.sent)]
  ].map(([name, value]) => `      <property name="${name!}" value="${xml(value!)}"/>`)
  const suite = `graceful-check: ${report.signal} under load, ${target}`
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="graceful-check" tests="${report.cycles.length}" failures="${failed}">`,
    `  <testsuite name="${xml(suite)}" tests="${report.cycles.length}" failures="${failed}" errors="0" skipped="0">`,
    '    <properties>',
    ...properties,
    '    </properties>',
    ...report.cycles.map(cycle => testCase(report, cycle)),
    '  </testsuite>',
    '</testsuites>',
    ''
  ].join('\n')
}
