// Releases with changesets: `pnpm changeset` records a change, `pnpm version-packages` turns the recorded changes into
// versions and changelogs, `pnpm release` builds and publishes. Every package is released at one version (the
// adapters require the core at the version published alongside), and private packages are never versioned.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Manifest, publishedPackages, root, run } from '../helpers/packages.js'

interface ChangesetConfig {
  fixed: string[][]
  access: string
  baseBranch: string
  privatePackages: { version: boolean, tag: boolean }
}

const config = JSON.parse(readFileSync(join(root, '.changeset/config.json'), 'utf8')) as ChangesetConfig
const packages = publishedPackages()
const changesetBin = join(root, 'node_modules/@changesets/cli/bin.js')

let scratch: string | undefined
afterEach(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
  scratch = undefined
})

describe('changesets', () => {
  it('releases every published package together, publicly, and leaves private packages alone', () => {
    expect(config.fixed).toEqual([packages.map(pkg => pkg.manifest.name).sort()])
    expect(config.access).toBe('public')
    expect(config.baseBranch).toBe('main')
    expect(config.privatePackages).toEqual({ version: false, tag: false })
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
    expect(scripts['changeset']).toBe('changeset')
    expect(scripts['release']).toMatch(/^pnpm run build && changeset publish$/)
  })

  it('`pnpm changeset` records a change; a changeset for the core versions every package to the same version and writes each one a changelog', async () => {
    // A copy of the workspace's manifests: `changeset version` rewrites them, and other tests read the real ones.
    scratch = mkdtempSync(join(tmpdir(), 'graceful-release-'))
    const copies = ['package.json', 'pnpm-workspace.yaml', '.changeset/config.json', 'bench/package.json',
      ...packages.map(pkg => `${pkg.dir}/package.json`)]
    for (const file of copies) {
      mkdirSync(dirname(join(scratch, file)), { recursive: true })
      cpSync(join(root, file), join(scratch, file))
    }
    symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'))
    await run('pnpm', ['changeset', 'add', '--empty'], { cwd: scratch, timeout: 30_000 })
    expect(readdirSync(join(scratch, '.changeset')).filter(file => file.endsWith('.md'))).toHaveLength(1)
    writeFileSync(join(scratch, '.changeset/readiness-detail.md'), "---\n'@graceful/core': minor\n---\n\nReadiness says which check failed.\n")
    await run(process.execPath, [changesetBin, 'version'], { cwd: scratch, timeout: 30_000 })

    const before = packages[0]!.manifest.version
    const [major, minor] = before.split('.').map(Number) as [number, number]
    const next = major === 0 ? `0.${minor + 1}.0` : `${major}.${minor + 1}.0`
    for (const pkg of packages) {
      const manifest = JSON.parse(readFileSync(join(scratch, pkg.dir, 'package.json'), 'utf8')) as Manifest
      expect(manifest.version, pkg.manifest.name).toBe(next)
      // Still a workspace range: pnpm publish turns it into ^version in the tarball (test/packaging/pack.test.ts).
      if (manifest.dependencies?.['@graceful/core'] !== undefined) expect(manifest.dependencies['@graceful/core']).toBe('workspace:^')
      const changelog = readFileSync(join(scratch, pkg.dir, 'CHANGELOG.md'), 'utf8')
      expect(changelog).toContain(`# ${pkg.manifest.name}\n\n## ${next}`)
    }
    expect(readFileSync(join(scratch, 'packages/core/CHANGELOG.md'), 'utf8')).toContain('Readiness says which check failed.')
    expect(JSON.parse(readFileSync(join(scratch, 'bench/package.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(root, 'bench/package.json'), 'utf8')))
  })
})
