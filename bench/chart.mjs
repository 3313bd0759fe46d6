// The chart of docs/benchmarks.md: shutdown times of graceful and the peers with idle keep-alive sockets, per Node
// line and socket count, drawn as a plain SVG from a saved run (docs/benchmarks.json). An SVG committed next to the
// page renders on GitHub and in any viewer with no network and no script: nothing here links outside the file.
import { median } from './stats.mjs'
import { afterLameDuckRuns, fastestPeer, lameDuckMargin, runsAt } from './targets.mjs'
import { allGroups, byVersion, isControl, isGraceful } from './variants.mjs'

/** The chart's file name, next to docs/benchmarks.md. */
export const chartFile = 'benchmarks-shutdown.svg'

const COLOURS = {
  lameDuck: '#0b5cad',
  graceful: '#8bb8e8',
  bare: '#5a5a5a',
  peer: '#d8923a'
}
const LEGEND = [
  ['lameDuck', 'graceful: draining → exit after a 300 ms lame duck'],
  ['graceful', 'graceful: SIGTERM → exit, no lame duck'],
  ['bare', 'bare framework: SIGTERM → exit'],
  ['peer', 'peer library: SIGTERM → exit']
]
const FONT = 'font-family="-apple-system, BlinkMacSystemFont, \'Segoe UI\', Helvetica, Arial, sans-serif"'
const LABEL_WIDTH = 260
const PLOT_WIDTH = 190
// Room right of a bar for its figure, so that the longest bar's does not run into the next panel.
const FIGURE_ROOM = 44
const PANEL_WIDTH = PLOT_WIDTH + FIGURE_ROOM
const BAR = 9
const STEP = 13
const GROUP_HEADING = 15
const LINE_HEADING = 22

const escape = (text) => String(text).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
const at = (value) => Number(value.toFixed(1)).toString()
const count = (n) => n.toLocaleString('en')

/** The bars of one framework on one Node line at one socket count: graceful's two, then the bare framework, then the peers. */
function bars (shutdown, variants, sockets) {
  const out = []
  for (const [variant, , short] of variants.filter(([v]) => isGraceful(v) && shutdown[v] !== undefined)) {
    const after = afterLameDuckRuns(shutdown[variant], sockets)
    if (after !== undefined) out.push({ label: `${short} (lame duck)`, kind: 'lameDuck', runs: after })
    out.push({ label: short, kind: 'graceful', runs: runsAt(shutdown[variant], sockets) })
  }
  for (const [variant, , short] of variants.filter(([v]) => !isGraceful(v) && !isControl(v) && shutdown[v] !== undefined)) {
    out.push({ label: short, kind: variant === variants[0][0] ? 'bare' : 'peer', runs: runsAt(shutdown[variant], sockets) })
  }
  return out
}

/** An axis for values up to `value`: the smallest round step (1, 2, 2.5 or 5 × 10^k) that covers it in at most 5. */
export function axis (value) {
  const power = 10 ** Math.floor(Math.log10(value / 5))
  const step = [1, 2, 2.5, 5, 10].map(factor => factor * power).find(candidate => Math.ceil(value / candidate) <= 5)
  return { step, end: Math.ceil(value / step) * step }
}

/** Every Node line's shutdown figures, the main line first. */
function lines (saved) {
  return [[saved.machine.node, saved.shutdown ?? {}], ...byVersion(saved.shutdownByLine).filter(([v]) => v !== saved.machine.node)]
}

/** The SVG document, deterministic for given figures (a test compares it with the committed file). */
export function chart (saved) {
  const counts = [1, ...saved.settings.socketCounts]
  const runs = lines(saved)
  const groups = Object.entries(allGroups)
  // One scale per socket count, shared by every Node line, up to the longest whisker.
  const axes = counts.map(sockets => axis(Math.max(...runs.flatMap(([, shutdown]) =>
    groups.flatMap(([, variants]) => bars(shutdown, variants, sockets).flatMap(bar => bar.runs.filter(Number.isFinite)))))))
  const heightOf = (shutdown) => groups.reduce((sum, [, variants]) =>
    sum + GROUP_HEADING + bars(shutdown, variants, counts[0]).length * STEP, 0)
  const width = LABEL_WIDTH + counts.length * PANEL_WIDTH + 10
  const out = []
  let y = 0
  out.push(`<text x="10" y="${y += 22}" font-size="15" font-weight="600">Shutdown with idle keep-alive sockets: graceful and the peers</text>`)
  const notes = [
    `In ms: the median (bar) and the range of the runs (whisker); ${saved.machine.cpu} × ${saved.machine.cores} cores; each Node line a run of its own.`,
    'Dashed: the fastest peer\'s median; shaded: what graceful\'s drain after a lame duck may add to it (10 %, 2 ms with one socket).'
  ]
  for (const note of notes) out.push(`<text x="10" y="${y += 16}" font-size="11" fill="#444">${escape(note)}</text>`)
  y += 8
  LEGEND.forEach(([kind, text], index) => {
    const x = 10 + (index % 2) * 330
    const row = y + Math.floor(index / 2) * 15
    out.push(`<rect x="${x}" y="${row}" width="12" height="${BAR}" fill="${COLOURS[kind]}"/>`,
      `<text x="${x + 17}" y="${row + 8}" font-size="11">${escape(text)}</text>`)
  })
  y += 36
  counts.forEach((sockets, column) => {
    const x = LABEL_WIDTH + column * PANEL_WIDTH
    out.push(`<text x="${x}" y="${y}" font-size="12" font-weight="600">${count(sockets)} idle socket${sockets === 1 ? '' : 's'}</text>`)
  })
  y += 6
  for (const [version, shutdown] of runs) {
    const top = y
    out.push(`<rect x="0" y="${top}" width="${width}" height="${LINE_HEADING - 4}" fill="#f0f3f6"/>`,
      `<text x="10" y="${top + 13}" font-size="12" font-weight="600">Node ${escape(version)}</text>`)
    y += LINE_HEADING
    const bottom = y + heightOf(shutdown)
    counts.forEach((sockets, column) => {
      const { step, end } = axes[column]
      for (let tick = 0; tick <= end + step / 2; tick += step) {
        const x = LABEL_WIDTH + column * PANEL_WIDTH + PLOT_WIDTH * tick / end
        out.push(`<line x1="${at(x)}" y1="${y}" x2="${at(x)}" y2="${bottom}" stroke="#e1e4e8" stroke-width="1"/>`,
          `<text x="${at(x)}" y="${bottom + 11}" font-size="9" fill="#555" text-anchor="middle">${Number(tick.toPrecision(3))}</text>`)
      }
    })
    for (const [group, variants] of groups) {
      out.push(`<text x="10" y="${y + 11}" font-size="11" font-weight="600" fill="#333">${escape(group)}</text>`)
      y += GROUP_HEADING
      const rows = bars(shutdown, variants, counts[0])
      rows.forEach((bar, index) => {
        out.push(`<text x="${LABEL_WIDTH - 8}" y="${y + index * STEP + 8}" font-size="10.5" text-anchor="end">${escape(bar.label)}</text>`)
      })
      counts.forEach((sockets, column) => {
        const x0 = LABEL_WIDTH + column * PANEL_WIDTH
        const scale = (ms) => x0 + PLOT_WIDTH * Math.min(ms, axes[column].end) / axes[column].end
        const found = fastestPeer(shutdown, variants, sockets)
        const peer = found !== undefined && Number.isFinite(found.ms) ? found : undefined
        if (peer !== undefined) {
          // The lame-duck target, behind the bars: from the fastest peer's median to what graceful's drain may add to it.
          const [from, to] = [scale(peer.ms), scale(peer.ms + lameDuckMargin(sockets, peer.ms))]
          out.push(`<rect x="${at(from)}" y="${y - 2}" width="${at(to - from)}" height="${rows.length * STEP}" fill="#b31d28" fill-opacity="0.1"/>`)
        }
        bars(shutdown, variants, sockets).forEach((bar, index) => {
          const top = y + index * STEP
          const finite = bar.runs.filter(Number.isFinite)
          if (finite.length === 0) {
            out.push(`<text x="${x0 + 3}" y="${top + 8}" font-size="9" fill="#555">n/a</text>`)
            return
          }
          const middle = median(finite)
          const [low, high] = [Math.min(...finite), Math.max(...finite)]
          out.push(`<rect x="${x0}" y="${top}" width="${at(scale(middle) - x0)}" height="${BAR}" fill="${COLOURS[bar.kind]}"/>`)
          if (high > low) {
            const mid = top + BAR / 2
            out.push(`<path d="M${at(scale(low))} ${mid}H${at(scale(high))}M${at(scale(low))} ${mid - 3}v6M${at(scale(high))} ${mid - 3}v6" stroke="#222" stroke-width="1" fill="none"/>`)
          }
          out.push(`<text x="${at(Math.max(scale(middle), scale(high)) + 3)}" y="${top + 8}" font-size="9" fill="#333">${middle.toFixed(sockets === 1 ? 1 : 0)}</text>`)
        })
        if (peer !== undefined) {
          out.push(`<line x1="${at(scale(peer.ms))}" y1="${y - 2}" x2="${at(scale(peer.ms))}" y2="${y + rows.length * STEP - 2}" stroke="#b31d28" stroke-width="1" stroke-dasharray="3 2"/>`)
        }
      })
      y += rows.length * STEP
    }
    y = bottom + 20
  }
  const height = y
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} role="img">\n` +
    '<title>Shutdown times of graceful and the peers, per Node line and socket count</title>\n' +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>\n` +
    out.join('\n') + '\n</svg>\n'
}
