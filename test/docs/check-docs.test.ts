// What the docs say about graceful-check stays true: the options table is the one the option table generates, every
// `npx` line runs one of this project's packages, and the install section lists the check's tarball.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { optionsMarkdown, parseCommandLine } from '../../packages/check/src/command-line.js'
import { OPTION_ROWS } from '../../packages/check/src/option-table.js'
import { publishedPackages, root } from '../helpers/packages.js'

const read = (file: string): string => readFileSync(join(root, file), 'utf8')

describe('docs/check.md', () => {
  it('holds the options table that the option table generates, row for row', () => {
    const docs = read('docs/check.md')
    const table = /<!-- options: generated from packages\/check\/src\/option-table\.ts -->\n([\s\S]*?)\n<!-- options end -->/.exec(docs)?.[1]
    expect(table).toBe(optionsMarkdown())
  })

  it('every flag of the option table is read by the command line into the option its row names', () => {
    for (const row of OPTION_ROWS.filter(candidate => candidate.flag !== undefined && candidate.key !== undefined)) {
      const value = row.kind === 'switch' ? [] : [row.kind === 'request' ? 'GET /' : row.kind === 'path' ? '/x' : row.kind === 'choice' ? row.choices![0]! : row.kind === 'signal' ? 'SIGINT' : row.kind === 'range' ? '5-9' : row.kind === 'url' ? 'http://127.0.0.1:1' : String(row.min ?? 1)]
      const { check } = parseCommandLine([`--${row.flag!}`, ...value, ...(row.flag === 'pid' ? ['--url', 'http://127.0.0.1:1'] : []), '--', 'node', 'x.js'])
      const [field, nested] = row.key!.split('.') as [string, string | undefined]
      const set = nested === undefined ? (check as Record<string, unknown>)[field] : (check.load as Record<string, unknown>)[nested]
      expect(set, row.flag).not.toBeUndefined()
    }
  })
})

/** Every Markdown file a user reads: the README, docs/ and each package's README. */
function markdownFiles (): string[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' }).filter(file => file.endsWith('.md')).map(file => `docs/${file}`)
  const packages = readdirSync(join(root, 'packages')).map(dir => `packages/${dir}/README.md`)
  return ['README.md', ...docs, ...packages]
}

describe('the npx lines of the docs', () => {
  const ours = new Map(publishedPackages().map(pkg => [pkg.manifest.name, pkg.manifest as { bin?: Record<string, string> }]))
  // The commands a reader copies: lines of fenced code blocks, and inline code spans elsewhere.
  const commands = (text: string): string[] => {
    let fenced = false
    return text.split('\n').flatMap(line => {
      if (line.trimStart().startsWith('```')) {
        fenced = !fenced
        return []
      }
      return fenced ? [line] : [...line.matchAll(/`([^`]+)`/g)].map(span => span[1]!)
    })
  }
  const lines = markdownFiles().flatMap(file => commands(read(file)).filter(line => /\bnpx\s/.test(line)).map(line => ({ file, line })))

  it('name, each, a package of this project that has exactly one command, so that npx runs that command', () => {
    expect(lines.length).toBeGreaterThan(3)
    for (const { file, line } of lines) {
      for (const match of line.matchAll(/\bnpx\s+((?:-{1,2}[\w-]+\s+)*)(\S+)/g)) {
        // The first word after npx and its own options is the package npx fetches: an unscoped name nobody here owns
        // would run whatever someone publishes under it.
        const name = match[2]!.replace(/[`'"]+$/, '')
        expect(ours.has(name), `${file}: ${line}`).toBe(true)
        expect(Object.keys(ours.get(name)!.bin ?? {}), `${name} must have exactly one bin`).toHaveLength(1)
      }
    }
  })

  it('the install section of getting-started lists the check\'s tarball, under the name pack:tarballs gives it', () => {
    const guide = read('docs/getting-started.md')
    const install = /### Install\n([\s\S]*?)\n### /.exec(guide)?.[1] ?? ''
    expect(install).toContain('"$GRACEFUL/tarballs/graceful-check.tgz"')
    expect((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts['pack:tarballs']).toContain('--out tarballs/%s.tgz')
  })
})
