// docs/benchmarks.md and its chart are generated from docs/benchmarks.json by bench/render.mjs and bench/chart.mjs
// (`node bench/run.mjs --render`); these tests keep the committed files in step with the committed figures, and check
// the verdicts and the chart on small runs made up for the purpose.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { axis, chart, chartFile } from '../../bench/chart.mjs'
import { render } from '../../bench/render.mjs'
import { fastestPeer, judge, verdicts, type SavedRun, type ShutdownEntry } from '../../bench/targets.mjs'
import { allGroups } from '../../bench/variants.mjs'

const root = join(import.meta.dirname, '..', '..')
const read = (file: string): string => readFileSync(join(root, file), 'utf8')
const committed = JSON.parse(read('docs/benchmarks.json')) as SavedRun

interface SvgDocument {
  documentElement: { localName: string, namespaceURI: string | null }
  querySelectorAll: (selector: string) => { length: number }
}
// jsdom (a dev dependency, without types here) parses XML as a browser does.
const { JSDOM } = createRequire(import.meta.url)('jsdom') as {
  JSDOM: new (html: string) => { window: { DOMParser: new () => { parseFromString: (text: string, type: string) => SvgDocument } } }
}
/** An SVG file as a browser reads it: a document whose root is a parsererror when it is not well formed. */
const svgDocument = (text: string): SvgDocument => new new JSDOM('').window.DOMParser().parseFromString(text, 'image/svg+xml')

/** A server's shutdown figures with every run at `ms` (1 idle socket) and `sockets` ms (1,000 sockets). */
function entry (ms: number[], sockets: number[], afterLameDuck?: { 1: number[], 1000: number[] }): ShutdownEntry {
  const runs = (values: number[]) => ({ exitMs: values[0]!, code: 0, runs: values.map(exitMs => ({ exitMs })) })
  return {
    idle: ms.map(value => ({ ms: value, code: 0 })),
    lastResponse: ms.map(value => ({ ms: value, code: 0 })),
    closingClient: ms.map(value => ({ ms: value, code: 0 })),
    sockets: { 1000: { ...runs(sockets), peakRss: 100 * 2 ** 20, heapPerSocket: 3000 } },
    ...(afterLameDuck === undefined ? {} : { afterLameDuck: { 1: runs(afterLameDuck[1]), 1000: runs(afterLameDuck[1000]) } })
  }
}

/** A run of node:http alone: bare and graceful, 5 runs each, on Node 20 and (shutdown only) Node 22. */
function madeUpRun (lameDuckAt1000: number[]): SavedRun {
  const shutdown = {
    'node-bare': entry([5, 5, 5, 5, 5], [30, 31, 32, 33, 34]),
    'node-graceful': entry([6, 6, 6, 6, 6], [31, 32, 33, 34, 35], { 1: [5, 5, 5, 5, 5], 1000: lameDuckAt1000 })
  }
  return {
    machine: { date: '2026-01-01', cpu: 'CPU', cores: 2, memoryGiB: 4, node: '20.0.0', platform: 'linux-x64' },
    quick: false,
    settings: { rounds: 6, duration: 4, warmup: 2, connections: 64, shutdownRepeats: 5, socketRepeats: 5, socketCounts: [1000] },
    overhead: {},
    instructions: {},
    shutdown,
    shutdownByLine: { '22.0.0': shutdown }
  }
}

describe('docs/benchmarks.md', () => {
  it('is what bench/render.mjs makes of docs/benchmarks.json', () => {
    expect(read('docs/benchmarks.md')).toBe(render(committed))
  })

  it('shows the chart that bench/chart.mjs draws from docs/benchmarks.json, as an image next to it', () => {
    expect(read('docs/benchmarks.md')).toContain(`](${chartFile})`)
    expect(read(`docs/${chartFile}`)).toBe(chart(committed))
  })

  it('has one row per verdict in each target\'s table, and the summary counts them per Node line', () => {
    const page = render(committed)
    const rows = Object.values(verdicts(committed)).flat()
    const tableRows = page.split('## Against the targets')[1]!.match(/^\| (?!Node \|)\d[\d.]* \|.*\| (met|\*\*missed\*\*) \|$/gm)
    expect(tableRows).toHaveLength(rows.length)
    const missed = rows.filter(row => !row.met).length
    const counted = [...page.split('## Overhead per request')[0]!.matchAll(/\*\*missed\*\* \((\d+) of \d+\)/g)]
    expect(counted.reduce((sum, match) => sum + Number(match[1]), 0)).toBe(missed)
  })
})

describe('the verdicts', () => {
  it('miss a target when every run of graceful is slower than every run of the reference', () => {
    // Every run above every other: one split in C(10, 5) = 252.
    expect(judge([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])).toEqual({ met: false, p: '0.004' })
    // The same runs within a margin of 5 of the reference's.
    expect(judge([6, 7, 8, 9, 10], [1, 2, 3, 4, 5], 5).met).toBe(true)
  })

  it('decide by the medians when a side has fewer than 3 runs (a quick run)', () => {
    expect(judge([6, 7], [5, 5, 5])).toEqual({ met: false, p: 'medians' })
    expect(judge([6, 7], [5, 5, 5], 2)).toEqual({ met: true, p: 'medians' })
  })

  it('never turn a missed target into a met one when graceful\'s runs get slower', () => {
    const runs = fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 3, maxLength: 6 })
    fc.assert(fc.property(runs, runs, fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 100 }), (own, reference, slower, margin) => {
      if (judge(own, reference, margin).met) return
      expect(judge(own.map(ms => ms + slower), reference, margin).met).toBe(false)
    }))
  })

  it('compare graceful with the fastest peer, never with the A/A control or one of graceful\'s own variants', () => {
    const shutdown = {
      'express-bare': entry([9, 9, 9], [50, 50, 50]),
      'express-bare-aa': entry([1, 1, 1], [1, 1, 1]),
      'express-graceful': entry([2, 2, 2], [2, 2, 2]),
      'express-graceful-attach': entry([2, 2, 2], [2, 2, 2]),
      'express-terminus': entry([7, 7, 7], [60, 60, 60]),
      'express-http-terminator': entry([8, 8, 8], [40, 40, 40])
    }
    expect(fastestPeer(shutdown, allGroups.Express!, 1)?.variant).toBe('express-terminus')
    expect(fastestPeer(shutdown, allGroups.Express!, 1000)?.variant).toBe('express-http-terminator')
  })

  it.each([
    ['met where graceful\'s drain after a lame duck is as fast as the peer\'s exit', [30, 31, 32, 33, 34], 'met (2 of 2)'],
    ['missed where every run of it is slower', [40, 41, 42, 43, 44], '**missed** (1 of 2)']
  ])('are %s, on every Node line', (_, lameDuckAt1000, summary) => {
    const run = madeUpRun(lameDuckAt1000)
    const row = render(run).split('\n').find(line => line.startsWith('| [Idle sockets after a lame duck]'))
    expect(row).toBe(`| [Idle sockets after a lame duck](#idle-sockets-after-a-lame-duck) | ${summary} | ${summary} |`)
  })
})

describe('the lame-duck target (issue 30)', () => {
  // The peer: node:http's bare server, 30 to 34 ms with 1,000 sockets and 5 ms with one.
  const lameDuckMet = (at1000: number[]) => verdicts({ ...madeUpRun(at1000), shutdownByLine: {} })['lame-duck']!.map(row => row.met)
  const mul = (factor: number) => [30, 31, 32, 33, 34].map(ms => ms * factor)

  it.each([
    ['every run 5 % slower than the peer\'s is met', mul(1.05), true],
    ['every run 20 % slower than the peer\'s is missed', mul(1.2), false]
  ])('with 1,000 sockets, a drain with %s: within 10 % of the fastest peer', (_, at1000, met) => {
    expect(lameDuckMet(at1000)[1]).toBe(met)
  })

  it.each([
    ['1.5 ms slower than the peer is met', 6.5, true],
    ['3 ms slower than the peer is missed', 8, false]
  ])('with one socket, a drain %s: within 2 ms', (_, ms, met) => {
    const run = madeUpRun([30, 31, 32, 33, 34])
    run.shutdown!['node-graceful']!.afterLameDuck![1]!.runs = [ms, ms, ms, ms, ms].map(exitMs => ({ exitMs }))
    expect(verdicts({ ...run, shutdownByLine: {} })['lame-duck']![0]!.met).toBe(met)
  })
})

describe('the chart', () => {
  it('needs no network: one well-formed SVG that links to nothing and runs nothing', () => {
    const svg = read(`docs/${chartFile}`)
    const root = svgDocument(svg).documentElement
    expect([root.localName, root.namespaceURI]).toEqual(['svg', 'http://www.w3.org/2000/svg'])
    expect(svg).not.toMatch(/href|<script|<style|<image|<foreignObject|url\(|@import/i)
    expect([...svg.matchAll(/https?:\/\/[^"\s]*/g)].map(match => match[0])).toEqual(['http://www.w3.org/2000/svg'])
  })

  it('draws a bar for every server on every Node line at every socket count, graceful\'s twice', () => {
    const svg = chart(madeUpRun([30, 31, 32, 33, 34]))
    expect(svg).toContain('>Node 20.0.0<')
    expect(svg).toContain('>Node 22.0.0<')
    // 2 Node lines × 2 socket counts × (graceful after a lame duck, graceful without, bare), and the legend's 4.
    expect(svgDocument(svg).querySelectorAll('rect[height="9"]')).toHaveLength(2 * 2 * 3 + 4)
  })

  it('ends each axis on a round figure at or above the longest whisker, in at most 5 steps', () => {
    fc.assert(fc.property(fc.double({ min: 0.01, max: 1e6, noNaN: true }), (value) => {
      const { step, end } = axis(value)
      expect(end).toBeGreaterThanOrEqual(value)
      expect(end / step).toBeLessThanOrEqual(5 + 1e-9)
      const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9)
      expect([1, 2, 2.5, 5].some(round => Math.abs(mantissa - round) < 1e-9)).toBe(true)
    }))
  })
})
