// The docs cannot rot: every app they show is an example file that runs in the tests, and every link leads somewhere.
//
// A code block that shows an app starts with a comment naming its example, and its text is that file's, verbatim:
//
//   ```js
//   // examples/express.mjs
//   import express from 'express'
//   …
//   ```
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import config from '../../vitest.config.js'
import { CLIENTS, PRE_STOP_DELAY, REQUEST_MS, setUps, STOP_TIMEOUT } from '../containers/container-setups.js'
import { root } from '../helpers/packages.js'

/**
 * Guides whose unmarked snippets (an import and a few calls, not an app) are not held to the rule yet: their marked
 * blocks are checked all the same. Empty this set once they are examples too.
 */
const notYetEnforced = new Set(['docs/observability.md'])

function markdownFiles (): string[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter(file => file.endsWith('.md'))
    .map(file => `docs/${file.replace(/\\/g, '/')}`)
  const packageReadmes = readdirSync(join(root, 'packages'))
    .map(name => `packages/${name}/README.md`)
    .filter(file => existsSync(join(root, file)))
  return ['README.md', ...packageReadmes, ...docs.sort()]
}

interface Block { file: string, line: number, lang: string, text: string }

function codeBlocks (file: string): Block[] {
  const blocks: Block[] = []
  const lines = readFileSync(join(root, file), 'utf8').split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)/.exec(lines[i]!)
    if (open === null) continue
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(open[1]!.length))
    blocks.push({ file, line: i + 1, lang: open[2]!, text: body.join('\n') })
    i = j
  }
  return blocks
}

/** The text outside code blocks and code spans, where links live. */
function prose (file: string): string {
  return readFileSync(join(root, file), 'utf8').replace(/^\s*```[\s\S]*?^\s*```/gm, '').replace(/`[^`\n]*`/g, '')
}

/** GitHub's anchor for a heading. */
function slug (heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

function anchors (file: string): Set<string> {
  const text = readFileSync(join(root, file), 'utf8').replace(/^\s*```[\s\S]*?^\s*```/gm, '')
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map(match => slug(match[1]!)))
}

const files = markdownFiles()
const scripts = new Set(['js', 'javascript', 'mjs', 'cjs', 'ts', 'typescript'])
const blocks = files.flatMap(codeBlocks).filter(block => scripts.has(block.lang))
const marked = blocks.filter(block => /^\/\/ examples\/\S+$/m.test(block.text.split('\n')[0]!))
const include = (config as { test: { include: string[] } }).test.include
/** True when vitest runs the file as a test file (its include globs, `*` within one folder). */
function isTestFile (file: string): boolean {
  return include.some(glob => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(?:.*/)?').replace(/\*/g, '[^/]*')}$`).test(file))
}
const tests = readdirSync(join(root, 'test'), { recursive: true, encoding: 'utf8' })
  .filter(file => file.endsWith('.test.ts') && file !== join('docs', 'docs.test.ts'))
  .map(file => readFileSync(join(root, 'test', file), 'utf8'))

describe('code in the docs', () => {
  it('shows no app that is not an example file', () => {
    const unmarked = blocks
      .filter(block => !marked.includes(block) && !notYetEnforced.has(block.file))
      .filter(block => /(from|require\()\s*'@graceful\//.test(block.text))
      .map(block => `${block.file}:${block.line}`)
    expect(unmarked, 'start these blocks with `// examples/<file>` and make their text that file\'s').toEqual([])
  })

  it.each(marked.map(block => [`${block.file}:${block.line}`, block] as const))('%s is the text of the example it names, and that example runs in a test', (_where, block) => {
    const [marker, ...body] = block.text.split('\n')
    const example = marker!.slice(3)
    expect(existsSync(join(root, example)), `${example} exists`).toBe(true)
    const source = readFileSync(join(root, example), 'utf8')
    const shown = body.join('\n').trimEnd()
    expect(shown.length).toBeGreaterThan(0)
    expect(source.includes(shown), `the block's text is in ${example} verbatim`).toBe(true)
    // A test file itself (vitest's include takes examples/*.test.mjs), or an app a test starts by its path.
    expect(isTestFile(example) || tests.some(test => test.includes(`'${example}'`)), `a test runs ${example}`).toBe(true)
  })

  // The blocks this page is about exist: a parsing slip must not turn the checks above into no checks.
  it.each(['README.md', 'docs/getting-started.md', 'docs/express.md', 'docs/fastify.md', 'docs/nestjs.md',
    'docs/koa.md', 'docs/hono.md', 'packages/core/README.md'])('covers the README and every guide that shows an app: %s', (file) => {
    const files = new Set(marked.map(block => block.file))
    expect(files, file).toContain(file)
  })
})

describe('links in the docs', () => {
  it.each(files)('%s links only to files and headings that exist', (file) => {
    const broken: string[] = []
    for (const [, target] of prose(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue
      const [path, anchor] = target!.split('#') as [string, string | undefined]
      const resolved = path === '' ? file : relative(root, join(root, dirname(file), path))
      if (!existsSync(join(root, resolved))) {
        // A guide being written in parallel may be linked before it lands.
        if (notYetEnforced.has(resolved)) continue
        broken.push(`${target} (no file ${resolved})`)
      } else if (anchor !== undefined && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) {
        broken.push(`${target} (no heading #${anchor} in ${resolved})`)
      }
    }
    expect(broken).toEqual([])
  })
})

describe('diagrams in the docs', () => {
  const diagrams = files.flatMap(codeBlocks).filter(block => block.lang === 'mermaid')

  it('there are diagrams to check', () => {
    expect(diagrams.map(diagram => diagram.file)).toContain('docs/how-it-works.md')
  })

  // Mermaid's own parser, as GitHub runs it before drawing: a diagram with a syntax error shows as an error box.
  it.each(diagrams.map(diagram => [`${diagram.file}:${diagram.line}`, diagram] as const))('%s is a diagram Mermaid can parse', async (_where, diagram) => {
    // Mermaid's sanitiser wants a DOM even to parse; jsdom gives it one.
    const { JSDOM } = createRequire(import.meta.url)('jsdom') as { JSDOM: new (html: string) => { window: { document: object } } }
    const { window } = new JSDOM('<!doctype html><html><body></body></html>')
    Object.assign(globalThis, { window, document: window.document })
    const { default: mermaid } = await import('mermaid')
    mermaid.initialize({ startOnLoad: false })
    await expect(mermaid.parse(diagram.text)).resolves.toMatchObject({ diagramType: expect.any(String) as unknown })
  })
})

// Statements that were wrong once, each checked against what it describes.
describe('statements in the docs', () => {
  const read = (file: string): string => readFileSync(join(root, file), 'utf8')
  const section = (file: string, heading: string): string => {
    const text = read(file)
    const start = text.indexOf(`\n${heading}\n`)
    expect(start, `"${heading}" in ${file}`).toBeGreaterThan(-1)
    const end = text.indexOf('\n## ', start + heading.length + 2)
    return text.slice(start, end === -1 ? undefined : end)
  }

  it('api.md names the error codes a wrong option throws, each a code graceful has', () => {
    const { codes } = errorCodes()
    const sentence = /a wrong one\nthrows[\s\S]*?\n\n/.exec(read('docs/reference/api.md'))?.[0] ?? ''
    const named = [...sentence.matchAll(/`(GRACEFUL_ERR_\w+)`/g)].map(match => match[1])
    expect(named).toEqual(expect.arrayContaining(['GRACEFUL_ERR_UNKNOWN_OPTION', 'GRACEFUL_ERR_INVALID_DURATION', 'GRACEFUL_ERR_INVALID_OPTION']))
    for (const code of named) expect(codes).toContain(code)
  })

  it('api.md lists every warning name, in the WarningName row, the silenceWarnings row and the Warnings table', async () => {
    const { WARNING_NAMES } = await import('../../packages/core/dist/process/warnings.js')
    const api = read('docs/reference/api.md')
    const row = (name: string): string => new RegExp(`^\\| \`${name}\` \\|.*$`, 'm').exec(api)?.[0] ?? ''
    expect([...row('WarningName').matchAll(/`'([a-z0-9-]+)'`/g)].map(match => match[1])).toEqual([...WARNING_NAMES])
    expect(WARNING_NAMES.filter(name => !row('silenceWarnings').includes(`\`${name}\``))).toEqual([])
    const table = section('docs/reference/api.md', '## Warnings')
    expect([...table.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map(match => match[1]).sort()).toEqual([...WARNING_NAMES].sort())
  })

  it('reliability.md\'s sabotage table has a row for every sabotage, with its tests, and each failed as it must', async () => {
    const { sabotages } = await import('../sabotage.mjs')
    const table = section('docs/reliability.md', '## Sabotage')
    const rows = [...table.matchAll(/^\| (?!mechanism removed|---)(.+) \| (.+) \| (.+) \|$/gm)]
      .map(([, mechanism, tests, verdict]) => ({ mechanism, tests, verdict }))
    // The rows as test/sabotage.mjs prints them, so that a new sabotage (or a renamed test) is run before it is listed.
    expect(rows.map(row => `${row.mechanism} | ${row.tests}`)).toEqual(sabotages.map(entry =>
      `${entry.mechanism} | ${entry.tests.map(([file, name]) => `${file.replace('test/', '')}: ${name}`).join('; ')}`))
    expect(rows.filter(row => row.verdict !== 'fails, as it must')).toEqual([])
  })

  it('express.md has one "In tests" section', () => {
    expect(read('docs/express.md').match(/^## In tests$/gm)).toHaveLength(1)
  })

  it('getting-started step 4 leaves the lame duck to the adaptive default on Kubernetes', () => {
    const step = section('docs/getting-started.md', '## 4. Deploy it (3 minutes)')
    expect(step).toContain('leave `preStopDelay` unset')
    expect(step).toContain('(kubernetes.md#the-default-on-kubernetes-an-adaptive-lame-duck)')
    expect(step).not.toMatch(/on Kubernetes, set it/)
  })

  it('nestjs.md names the Node.js line NestJS 12\'s dependencies require', () => {
    // The highest minimum Node.js major that @nestjs/common, @nestjs/core and their own dependencies declare.
    // Read from the folders Node would load them from: some do not export their package.json.
    interface Manifest { engines?: { node?: string }, dependencies?: Record<string, string> }
    const installed = (name: string, from: string): { manifest: Manifest, dir: string } => {
      const dir = createRequire(join(from, 'package.json')).resolve.paths(name)!.map(parent => join(parent, name))
        .find(candidate => existsSync(join(candidate, 'package.json')))
      expect(dir, `${name} installed, seen from ${from}`).toBeDefined()
      return { manifest: JSON.parse(readFileSync(join(dir!, 'package.json'), 'utf8')) as Manifest, dir: realpathSync(dir!) }
    }
    const majors: number[] = []
    for (const name of ['@nestjs/common', '@nestjs/core']) {
      const { manifest, dir } = installed(name, root)
      const engines = [manifest.engines?.node, ...Object.keys(manifest.dependencies ?? {}).map(dependency => installed(dependency, dir).manifest.engines?.node)]
      for (const range of engines) {
        const lowest = range === undefined ? undefined : /(\d+)/.exec(range)?.[1]
        if (lowest !== undefined) majors.push(Number(lowest))
      }
    }
    const needed = Math.max(...majors)
    expect(needed).toBeGreaterThanOrEqual(20)
    expect(read('docs/nestjs.md').split('\n## ')[0]).toContain(`Node.js ${needed} or later`)
  })

  const dockerSetUps = (): string => section('docs/docker.md', '## `CMD ["node", …]`, not `npm start`')
  const dockerRows = (): string[][] => [...dockerSetUps().matchAll(/^\| (?!set-up|---)(.+) \|$/gm)].map(match => match[1]!.split(' | '))

  it('docker.md\'s table says what test/containers/container.test.ts asserts of each set-up: how they are run, one row each', () => {
    const page = dockerSetUps()
    expect(page).toContain(`\`podman stop -t ${STOP_TIMEOUT}\`, ${CLIENTS} keep-alive clients each with a ${REQUEST_MS} ms request`)
    expect(page).toContain(`lame duck\nset to ${PRE_STOP_DELAY / 1000} s`)
    expect(dockerRows().map(row => row[0])).toEqual(setUps.map(setUp => setUp.name))
  })

  it.each(setUps.map((setUp, index) => ({ ...setUp, index })))('docker.md\'s table says what test/containers/container.test.ts asserts of each set-up: $name', (setUp) => {
    const [, exitCode, took, complete, lost, warning] = dockerRows()[setUp.index] ?? []
    expect({ exitCode, tookTheTimeout: took === 'the whole timeout', complete, lost, warning }, setUp.name).toEqual({
      exitCode: String(setUp.exitCode),
      tookTheTimeout: setUp.killedAtTimeout,
      complete: setUp.drains ? 'yes' : 'no',
      lost: setUp.drains ? '0' : 'all in flight',
      warning: setUp.warnings.length === 0 ? 'none' : setUp.warnings.map(name => `\`${name}\``).join(', ')
    })
  })

  it('docker.md says how to build the example, with the tarballs its package.json takes', () => {
    const build = codeBlocks('docs/docker.md').find(block => block.lang === 'sh' && block.text.includes('build'))?.text ?? ''
    const manifest = JSON.parse(read('examples/docker/package.json')) as { dependencies: Record<string, string> }
    const tarballs = Object.values(manifest.dependencies).filter(spec => spec.startsWith('file:')).map(spec => spec.slice('file:'.length))
    expect(tarballs.length).toBeGreaterThan(0)
    expect(build).toContain('pnpm pack:tarballs')
    for (const tarball of tarballs) expect(build).toContain(`tarballs/${tarball}`)
    expect(build).toMatch(/docker build -t shop-api examples\/docker/)
  })
})

/** The codes of GracefulError, read from the core's source. */
function errorCodes (): { codes: string[] } {
  const source = readFileSync(join(root, 'packages/core/src/errors.ts'), 'utf8')
  return { codes: [...source.matchAll(/'(GRACEFUL_ERR_\w+)'/g)].map(match => match[1]!) }
}
