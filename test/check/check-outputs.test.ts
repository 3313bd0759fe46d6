// What graceful-check writes besides its report: the HTML page, opened in a real Chromium (Debian's package, driven by
// playwright-core), and the JUnit XML file, read by a real XML parser. One run of a service that loses requests, two
// cycles, writes both; each test reads them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { XMLParser } from 'fast-xml-parser'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CheckReport } from '@graceful/check'
import { checkJson, root } from './check-helpers.js'
import { available } from '../helpers/index.js'

const dir = mkdtempSync(join(tmpdir(), 'graceful-check-outputs-'))
const html = join(dir, 'shutdown.html')
const junit = join(dir, 'shutdown.xml')
let report: CheckReport

beforeAll(async () => {
  // The application closes its listener at SIGTERM while the balancer still routes here: requests are lost.
  const run = await checkJson(['--html', html, '--junit', junit, '--seed', '5', '--cycles', '2', '--propagation', '300-700', '--signal-after', '300',
    '--timeout', '3000', '--path', 'GET /', '--path', 'POST /orders {"id":1}', '--keep-alive', '3', '--', 'node', 'examples/bare-express.mjs'], { ON_SIGTERM: 'close' })
  report = run.report
  expect(run.code).toBe(1)
  expect(run.stderr).toContain(`graceful-check: the shutdown, drawn: ${html}`)
}, 60_000)

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('--junit', () => {
  it('writes one test case per cycle, with one failure per lost request and per failing finding, each with its kind and cause', () => {
    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: name => name === 'testcase' || name === 'failure' || name === 'property' })
      .parse(readFileSync(junit, 'utf8')) as { testsuites: { testsuite: { tests: string, failures: string, testcase: Array<{ name: string, failure?: Array<{ type: string, message: string, '#text': string }> }>, properties: { property: Array<{ name: string, value: string }> } } } }
    const suite = parsed.testsuites.testsuite
    expect(suite.testcase).toHaveLength(report.cycles.length)
    expect(Number(suite.tests)).toBe(2)
    expect(suite.properties.property).toContainEqual({ name: 'seed', value: '5' })
    for (const [index, cycle] of report.cycles.entries()) {
      const testCase = suite.testcase[index]!
      expect(testCase.name).toMatch(new RegExp(`^cycle ${index + 1}: SIGTERM after 300 ms of load, kube-proxy routing for ${cycle.balancer.propagationMs} ms$`))
      const lost = cycle.failures.filter(failure => failure.lost)
      const failing = cycle.findings.filter(finding => finding.fails)
      expect(testCase.failure).toHaveLength(lost.length + failing.length)
      expect(testCase.failure!.map(failure => failure.type)).toEqual([...lost.map(failure => failure.kind), ...failing.map(finding => finding.kind)])
      expect(testCase.failure![0]!['#text']).toContain(lost[0]!.cause)
      expect(testCase.failure![0]!.message).toContain(`${lost[0]!.client} ${lost[0]!.method} ${lost[0]!.path}`)
    }
    expect(Number(suite.failures)).toBe(2)
  })
})

// The browser test runs where Chromium is: on the machine's Node line in CI (.ci/run installs it and says so with
// GRACEFUL_BROWSER), on any line of a developer's machine that has it.
const chromiumPath = '/usr/bin/chromium'
const browserRuns = process.env.CI === 'true' && process.env.GRACEFUL_BROWSER !== '1'
  ? (console.warn('HTML page test skipped: in CI it runs on the machine\'s Node line only'), false)
  : available('Chromium', existsSync(chromiumPath) ? undefined : 'Chromium is not installed (apt-get install -y chromium)')

/** Where the screenshot of the page is kept (git-ignored; a CI artifact). */
const screenshot = join(root, 'artifacts', 'check-html.png')

describe.runIf(browserRuns)('--html, opened in Chromium', () => {
  let browser: Browser | undefined
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      // As root in a container: no sandbox; and nothing of Chromium's own reaches out to the network.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
  }, 60_000)
  afterAll(async () => { await browser?.close() })

  it('draws every request of every cycle as the report counts it, the phases and the lanes, fetches nothing, and a click on a lost request shows its cause and fix', async () => {
    const page = await browser!.newPage({ viewport: { width: 1500, height: 1000 } })
    const requested: string[] = []
    page.on('request', request => { requested.push(request.url()) })
    await page.goto(pathToFileURL(html).href)
    // Nothing but the page itself: no script, style or font from anywhere.
    expect(requested).toEqual([pathToFileURL(html).href])
    const sections = page.locator('section.cycle')
    expect(await sections.count()).toBe(report.cycles.length)
    for (const [index, cycle] of report.cycles.entries()) {
      const section = sections.nth(index)
      const drawn = async (selector: string): Promise<number> => await section.locator(selector).count()
      expect(await drawn('line.req.answered')).toBe(cycle.requests.answered)
      expect(await drawn('line.req.lost')).toBe(cycle.requests.lost)
      expect(await drawn('line.req.excused')).toBe(cycle.requests.excused)
      expect(await drawn('.lostmark')).toBe(cycle.requests.lost)
      expect(await drawn('rect.phase[data-phase="lame duck"]')).toBeGreaterThan(0)
      expect(await drawn('rect.lane.readiness')).toBe(cycle.probes.changes.length)
      expect(await drawn('rect.lane.balancer[data-state="routing"]')).toBe(1)
      // Laid out for real: the chart has a size on the page.
      const box = await section.locator('svg').boundingBox()
      expect(box!.width).toBeGreaterThan(300)
    }
    // The cycles stand side by side.
    const [first, second] = await Promise.all([sections.nth(0).boundingBox(), sections.nth(1).boundingBox()])
    expect(second!.x).toBeGreaterThan(first!.x)
    expect(second!.y).toBe(first!.y)
    const cycle = report.cycles[0]!
    // The last mark drawn is on top of any it overlaps.
    const mark = sections.nth(0).locator('.lostmark').last()
    const failure = cycle.failures[Number(await mark.getAttribute('data-failure'))]!
    await mark.click()
    const detail = await sections.nth(0).locator('.detail').innerText()
    expect(detail).toContain(failure.cause)
    expect(detail).toContain(`fix: ${failure.fix}`)
    mkdirSync(join(root, 'artifacts'), { recursive: true })
    await page.screenshot({ path: screenshot, fullPage: false })
    expect(existsSync(screenshot)).toBe(true)
    await page.close()
  }, 60_000)
})
