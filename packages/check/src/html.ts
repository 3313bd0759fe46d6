import type { CheckReport, ClientKind, CycleReport, FailedRequest } from './types.js'

const CLIENTS: ClientKind[] = ['keep-alive', 'new-connection', 'slow', 'pipelined', 'prober']
// Answered requests take their client's colour; a failure takes its outcome's, whatever its client.
const CLIENT_COLOURS: Record<ClientKind, string> = { 'keep-alive': '#4c78a8', 'new-connection': '#2a9d8f', 'slow': '#9c6ade', 'pipelined': '#8c6d31', 'prober': '#9aa0a6' }
const LOST = '#d62728'
const EXCUSED = '#f4a100'

const escape = (text: string): string => text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
const signed = (ms: number): string => ms > 0 ? `+${ms}` : String(ms)

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 6px; }
.verdict.pass { color: #1b7f3b; } .verdict.fail { color: ${LOST}; }
.legend span { display: inline-block; margin-right: 12px; } .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
.cycles { display: grid; grid-template-columns: repeat(auto-fill, minmax(640px, 1fr)); gap: 16px; margin-top: 12px; }
.cycle { border: 1px solid #ddd; border-radius: 6px; padding: 10px; }
svg { display: block; width: 100%; height: auto; } svg text { font-size: 10px; fill: #444; }
.req { stroke-width: 1.4; } .lostmark { cursor: pointer; } .lostmark:hover circle, .lostmark:focus circle { stroke: #000; stroke-width: 1.5; }
.detail { min-height: 3.2em; margin: 6px 0; padding: 6px 8px; background: #f6f6f6; border-left: 4px solid #ccc; }
.detail.shown { background: #ffecec; border-left-color: ${LOST}; }
table.causes { border-collapse: collapse; margin-top: 6px; } table.causes td { border-top: 1px solid #eee; padding: 3px 6px; vertical-align: top; }
.muted { color: #666; } code { font-size: 12px; }
`

interface Scale { x: (ms: number) => number, from: number, to: number }

function scaleOf (cycle: CycleReport, width: number, left: number): Scale {
  const times = [0, ...cycle.marks.flatMap(mark => [mark[1], mark[2]]), cycle.times.exitMs ?? 0, cycle.times.routingEndedMs ?? 0]
  const from = Math.max(Math.min(...times), -cycle.signalAfterMs)
  const to = Math.max(...times) + 50
  return { from, to, x: (ms: number) => left + ((Math.min(Math.max(ms, from), to) - from) / (to - from)) * width }
}

function ticks (scale: Scale, top: number, bottom: number): string {
  const span = scale.to - scale.from
  const step = [50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000].find(candidate => span / candidate <= 10) ?? 20_000
  const parts: string[] = []
  for (let ms = Math.ceil(scale.from / step) * step; ms <= scale.to; ms += step) {
    const x = scale.x(ms).toFixed(1)
    parts.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${bottom}" stroke="#eee"/><text x="${x}" y="${top - 3}" text-anchor="middle">${signed(ms)}</text>`)
  }
  return parts.join('')
}

/** The phases as bands: the service's own report where it gave one (graceful), else what the outside saw. */
function phases (cycle: CycleReport): Array<{ name: string, from: number, to: number, fill: string }> {
  const own = cycle.servicePhases
  if (own !== null) {
    const drain = own.lameDuckMs + own.drainMs
    return [
      { name: 'lame duck', from: 0, to: own.lameDuckMs, fill: '#fff3bf' },
      { name: 'drain', from: own.lameDuckMs, to: drain, fill: '#ffd8a8' },
      { name: 'hooks', from: drain, to: drain + own.hooksMs, fill: '#e5dbff' }
    ]
  }
  const refused = cycle.times.listenerRefusedMs
  const exit = cycle.times.exitMs
  const bands = [{ name: 'lame duck', from: 0, to: refused ?? exit ?? 0, fill: '#fff3bf' }]
  if (refused !== null && exit !== null) bands.push({ name: 'drain', from: refused, to: exit, fill: '#ffd8a8' })
  return bands
}

function readinessLane (cycle: CycleReport, scale: Scale, y: number): string {
  const changes = cycle.probes.changes
  const parts: string[] = []
  changes.forEach((change, index) => {
    const end = changes[index + 1]?.atMs ?? cycle.times.exitMs ?? scale.to
    const ready = change.what.startsWith('ready')
    parts.push(`<rect class="lane readiness" data-state="${ready ? 'ready' : 'not-ready'}" x="${scale.x(change.atMs).toFixed(1)}" y="${y}" width="${Math.max(1, scale.x(end) - scale.x(change.atMs)).toFixed(1)}" height="10" fill="${ready ? '#8fd19e' : '#f5a3a3'}"><title>readiness: ${escape(change.what)} from ${signed(change.atMs)} ms</title></rect>`)
  })
  return parts.join('')
}

function balancerLane (cycle: CycleReport, scale: Scale, y: number): string {
  if (cycle.balancer.propagationMs === null) return `<text x="${scale.x(scale.from) + 4}" y="${y + 8}">no simulated balancer: clients connect directly</text>`
  const end = cycle.times.routingEndedMs ?? cycle.balancer.propagationMs
  const routes = `<rect class="lane balancer" data-state="routing" x="${scale.x(scale.from).toFixed(1)}" y="${y}" width="${(scale.x(end) - scale.x(scale.from)).toFixed(1)}" height="10" fill="#a5c8ec"><title>${escape(cycle.balancer.model)} routes new connections here, until ${signed(end)} ms (propagation ${cycle.balancer.propagationMs} ms)</title></rect>`
  const after = `<rect class="lane balancer" data-state="open-connections-only" x="${scale.x(end).toFixed(1)}" y="${y}" width="${Math.max(0, scale.x(scale.to) - scale.x(end)).toFixed(1)}" height="10" fill="#e4e4e4"><title>no new connections routed here; open ones carry on</title></rect>`
  return routes + after
}

function outcome (failure: FailedRequest | undefined): 'answered' | 'lost' | 'excused' {
  return failure === undefined ? 'answered' : failure.lost ? 'lost' : 'excused'
}

function chart (cycle: CycleReport): string {
  const left = 92
  const width = 560
  const scale = scaleOf(cycle, width, left)
  const laneTop = 24
  const rowsTop = laneTop + 34
  const rowHeight = 44
  const bottom = rowsTop + CLIENTS.length * rowHeight
  const parts: string[] = [ticks(scale, laneTop - 6, bottom)]
  for (const band of phases(cycle)) {
    if (band.to <= band.from) continue
    parts.push(`<rect class="phase" data-phase="${band.name}" x="${scale.x(band.from).toFixed(1)}" y="${rowsTop - 2}" width="${(scale.x(band.to) - scale.x(band.from)).toFixed(1)}" height="${bottom - rowsTop + 2}" fill="${band.fill}"><title>${band.name}: ${signed(band.from)} to ${signed(band.to)} ms</title></rect>`,
      scale.x(band.to) - scale.x(band.from) < 44 ? '' : `<text x="${scale.x(band.from) + 2}" y="${bottom + 12}">${band.name}</text>`)
  }
  parts.push(`<text x="4" y="${laneTop + 8}">readiness</text>`, readinessLane(cycle, scale, laneTop),
    `<text x="4" y="${laneTop + 22}">balancer</text>`, balancerLane(cycle, scale, laneTop + 14))
  CLIENTS.forEach((client, row) => parts.push(`<text x="4" y="${rowsTop + row * rowHeight + 22}">${client}</text>`))
  const counters = new Map<ClientKind, number>()
  const lostMarks: string[] = []
  for (const [client, sentMs, doneMs, index] of cycle.marks) {
    const failure = index === null ? undefined : cycle.failures[index]
    const kind = outcome(failure)
    const count = counters.get(client) ?? 0
    counters.set(client, count + 1)
    const y = rowsTop + CLIENTS.indexOf(client) * rowHeight + 3 + (count % 8) * 5
    const colour = kind === 'answered' ? CLIENT_COLOURS[client] : kind === 'lost' ? LOST : EXCUSED
    const x1 = scale.x(sentMs)
    const x2 = Math.max(scale.x(doneMs), x1 + 1)
    parts.push(`<line class="req ${kind}" data-client="${client}" x1="${x1.toFixed(1)}" x2="${x2.toFixed(1)}" y1="${y}" y2="${y}" stroke="${colour}"/>`)
    if (failure !== undefined && failure.lost) {
      lostMarks.push(`<g class="lostmark" tabindex="0" role="button" data-failure="${index!}"><circle cx="${x2.toFixed(1)}" cy="${y}" r="4" fill="${LOST}"/><title>${escape(`${failure.kind}: ${failure.method} ${failure.path}, failed ${signed(failure.failedMs)} ms. Click for the cause and the fix.`)}</title></g>`)
    }
  }
  const line = (ms: number | null, label: string, colour: string): void => {
    if (ms === null) return
    parts.push(`<line class="moment" data-moment="${label}" x1="${scale.x(ms).toFixed(1)}" x2="${scale.x(ms).toFixed(1)}" y1="${laneTop - 6}" y2="${bottom}" stroke="${colour}" stroke-dasharray="3 2"><title>${label} at ${signed(ms)} ms</title></line>`)
  }
  line(0, 'signal', '#333')
  line(cycle.times.exitMs, 'exit', '#000')
  // Last, so that a lost request is on top of the moments' lines and can be clicked.
  parts.push(...lostMarks)
  return `<svg viewBox="0 0 ${left + width + 10} ${bottom + 18}" role="img" aria-label="cycle ${cycle.cycle + 1}: requests on a time axis, ms from the signal">${parts.join('')}</svg>`
}

/** What a click on a lost request shows: the request, its cause and its fix. */
function detail (failure: FailedRequest): { what: string, cause: string, fix: string } {
  return {
    what: `${failure.kind}: ${failure.client} ${failure.method} ${failure.path}${failure.idempotent ? '' : ' (not idempotent)'}, ${failure.connection} connection, ` +
      `sent ${signed(failure.sentMs)} ms, failed ${signed(failure.failedMs)} ms in ${failure.phase}${failure.error === null ? '' : ` (${failure.error})`}`,
    cause: failure.cause,
    fix: failure.fix
  }
}

function panel (report: CheckReport, cycle: CycleReport): string {
  const r = cycle.requests
  const lost = Object.fromEntries(cycle.failures.flatMap((failure, index) => failure.lost ? [[index, detail(failure)]] : []))
  const kinds = new Map<string, { count: number, failure: FailedRequest }>()
  for (const failure of cycle.failures.filter(candidate => candidate.lost)) kinds.set(failure.kind, { count: (kinds.get(failure.kind)?.count ?? 0) + 1, failure })
  const causes = [...kinds].map(([kind, { count, failure }]) => `<tr><td>${count} × <b>${escape(kind)}</b></td><td>${escape(failure.cause)}<br><span class="muted">fix: ${escape(failure.fix)}</span></td></tr>`)
  const propagation = cycle.balancer.propagationMs === null ? 'no balancer' : `${escape(cycle.balancer.model)}, propagation ${cycle.balancer.propagationMs} ms`
  // Inside a script element only `</` could end it early.
  const data = JSON.stringify(lost).replace(/</g, '\\u003c')
  return `<section class="cycle" data-cycle="${cycle.cycle}" data-answered="${r.answered}" data-lost="${r.lost}" data-excused="${r.excused}">
<h2>cycle ${cycle.cycle + 1}: <span class="verdict ${r.lost === 0 ? 'pass' : 'fail'}">${r.lost} lost</span> of ${r.sent}</h2>
<div class="muted">${escape(report.signal)} after ${cycle.signalAfterMs} ms of load; ${propagation}; exit ${cycle.times.exitMs === null ? 'not seen' : `${signed(cycle.times.exitMs)} ms`}${cycle.servicePhases === null ? '' : '; phases as the service reported them'}</div>
${chart(cycle)}
<div>${r.answered} answered, ${r.lost} lost${r.lostNotIdempotent > 0 ? ` (${r.lostNotIdempotent} not idempotent)` : ''}, ${r.excused} failed but not counted</div>
<div class="detail">${r.lost === 0 ? 'Nothing lost in this cycle.' : 'Click a red mark (a lost request) for its cause and its fix.'}</div>
${causes.length === 0 ? '' : `<table class="causes">${causes.join('')}</table>`}
<script type="application/json" class="lost-requests">${data}</script>
</section>`
}

// The one script of the page: a click (or Enter) on a lost request's mark shows it in its cycle's detail box.
const SCRIPT = `
function show (mark) {
  const section = mark.closest('section.cycle')
  const lost = JSON.parse(section.querySelector('script.lost-requests').textContent)
  const entry = lost[mark.dataset.failure]
  const box = section.querySelector('.detail')
  box.replaceChildren()
  for (const [text, tag] of [[entry.what, 'b'], [entry.cause, 'div'], ['fix: ' + entry.fix, 'div']]) {
    const element = document.createElement(tag)
    element.textContent = text
    box.append(element)
  }
  box.classList.add('shown')
}
document.addEventListener('click', event => { const mark = event.target.closest('.lostmark'); if (mark) show(mark) })
document.addEventListener('keydown', event => { const mark = event.target.closest && event.target.closest('.lostmark'); if (mark && event.key === 'Enter') show(mark) })
`

/**
 * The shutdown drawn, one self-contained HTML page (inline CSS and SVG, nothing fetched): per cycle, each request as a
 * mark from sent to answered or failed, coloured by outcome and client, the phases as bands, readiness and the
 * balancer as lanes, and a click on a lost request shows its cause and fix. Cycles side by side.
 */
export function formatHtml (report: CheckReport): string {
  const t = report.totals
  const legend = [...CLIENTS.map(client => [CLIENT_COLOURS[client], `${client}, answered`]), [LOST, 'lost'], [EXCUSED, 'failed, not counted (retried, refused before sending…)']]
    .map(([colour, label]) => `<span><i style="background:${colour!}"></i>${escape(label!)}</span>`).join('')
  const target = report.target.command === null ? report.target.url : report.target.command.join(' ')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>graceful-check: ${report.ok ? 'PASS' : 'FAIL'}, ${t.lost} of ${t.sent} lost</title>
<style>${CSS}</style></head>
<body data-ok="${report.ok}" data-lost="${t.lost}" data-answered="${t.answered}">
<h1>graceful-check: <span class="verdict ${report.ok ? 'pass' : 'fail'}">${report.ok ? 'PASS' : 'FAIL'}</span>, ${t.lost} of ${t.sent} requests lost</h1>
<div class="muted"><code>${escape(target)}</code>; ${escape(report.balancer.model)} in front, propagation ${report.balancer.propagation.min}–${report.balancer.propagation.max} ms; seed ${report.seed} (<code>--seed ${report.seed}</code> replays it); ms from the signal</div>
<div class="legend">${legend}</div>
<div class="cycles">${report.cycles.map(cycle => panel(report, cycle)).join('\n')}</div>
<script>${SCRIPT}</script>
</body></html>
`
}
