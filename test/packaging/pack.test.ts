// What npm would publish: each package's tarball holds its built code, its README and LICENSE, and a manifest fit
// for the registry; nothing else (no sources, tests or build state). publint and arethetypeswrong check each tarball
// as the registry would serve it, and the release's own dry run is shown to publish these very tarballs. The
// manifests themselves are checked in test/packaging/exports.test.ts, with the rest of the public surface.
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Manifest, pack, type Package, publishedPackages, root, run, tarballFile, tarballFiles } from '../helpers/packages.js'

const packages = publishedPackages()
const tarballs = new Map<string, string>()
let destination: string

beforeAll(async () => {
  destination = mkdtempSync(join(tmpdir(), 'graceful-pack-'))
  for (const pkg of packages) tarballs.set(pkg.manifest.name, await pack(pkg, destination))
})

afterAll(() => {
  rmSync(destination, { recursive: true, force: true })
})

/** The modules a package is built from: every .ts under src/ but tests and hand-written declarations. */
function sourceModules (pkg: Package): string[] {
  return readdirSync(join(root, pkg.dir, 'src'), { recursive: true, encoding: 'utf8' })
    .filter(file => file.endsWith('.ts') && !file.endsWith('.d.ts') && !/\.test\.ts$/.test(file))
    .map(file => file.replace(/\\/g, '/').replace(/\.ts$/, ''))
}

describe.each(packages.map(pkg => [pkg.manifest.name, pkg] as const))('%s', (name, pkg) => {
  it('packs only its built code with maps and declarations, README, LICENSE and package.json', async () => {
    const expected = ['LICENSE', 'README.md', 'package.json']
    const bundled = name === '@graceful/core'
    for (const module of sourceModules(pkg)) {
      expected.push(`dist/${module}.d.ts`, `dist/${module}.d.ts.map`)
      // The core ships its bundle (packages/core/bundle.mjs) instead of one file per module.
      if (!bundled) expected.push(`dist/${module}.js`, `dist/${module}.js.map`)
    }
    if (bundled) {
      const chunks = readdirSync(join(root, pkg.dir, 'dist/bundle')).filter(file => !/^(index|register|testing)\.js/.test(file))
      expect(chunks.filter(file => file.endsWith('.js')), 'one chunk shared by the entries').toHaveLength(1)
      for (const file of ['index.js', 'register.js', 'testing.js', ...chunks]) expected.push(`dist/bundle/${file}`)
      for (const entry of ['index', 'register', 'testing']) expected.push(`dist/bundle/${entry}.js.map`)
    }
    expect(await tarballFiles(tarballs.get(name)!)).toEqual(expected.sort())
  })

  it('publishes a manifest whose entry points are in the tarball and whose workspace ranges are resolved', async () => {
    const tarball = tarballs.get(name)!
    const packed = JSON.parse(await tarballFile(tarball, 'package.json')) as Manifest
    const files = await tarballFiles(tarball)
    const entries = [packed.main, packed.types, ...Object.values(packed.exports?.['.'] as Record<string, string>)]
    for (const entry of entries) expect(files).toContain(entry?.replace(/^\.\//, ''))
    for (const ranges of [packed.dependencies, packed.peerDependencies]) {
      for (const [dependency, range] of Object.entries(ranges ?? {})) {
        expect(range, dependency).not.toMatch(/^workspace:/)
        // A sibling is required at the version published alongside.
        if (dependency.startsWith('@graceful/')) expect(range).toBe(`^${pkg.manifest.version}`)
      }
    }
  })

  it('passes publint, strict', async () => {
    const { stdout } = await run(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), 'run', tarballs.get(name)!, '--strict'], { timeout: 30_000 })
    expect(stdout).toContain('All good!')
  })

  it('has types that resolve for node10, node16 from ESM and from CommonJS, and bundlers (arethetypeswrong)', async () => {
    // Ignored rule: require() of an ESM package is what CommonJS callers do here; Node loads ESM through require()
    // from 20.19 on, the lowest version engines allows, and TypeScript's nodenext resolution accepts it.
    const { stdout } = await run(process.execPath, [join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js'), tarballs.get(name)!,
      '--format', 'json', '--ignore-rules', 'cjs-resolves-to-esm'], { timeout: 60_000 })
    const { analysis } = JSON.parse(stdout) as { analysis: { entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string, isTypeScript: boolean } }> }>, problems: Array<{ kind: string }> } }
    expect(analysis.problems.map(problem => problem.kind).filter(kind => kind !== 'CJSResolvesToESM')).toEqual([])
    const resolutions = analysis.entrypoints['.']!.resolutions
    expect(Object.keys(resolutions).sort()).toEqual(['bundler', 'node10', 'node16-cjs', 'node16-esm'])
    for (const [kind, { resolution }] of Object.entries(resolutions)) {
      expect(resolution, kind).toMatchObject({ fileName: `/node_modules/${name}/dist/index.d.ts`, isTypeScript: true })
    }
  }, 90_000)
})

describe('the release', () => {
  it('`pnpm -r publish --dry-run` publishes every package, each as the very tarball checked above', async () => {
    const { stdout } = await run('pnpm', ['-r', 'publish', '--dry-run', '--no-git-checks', '--json'], { cwd: root, timeout: 120_000 })
    const published = JSON.parse(stdout) as Array<{ name: string, version: string, shasum: string }>
    expect(published.map(pkg => pkg.name).sort()).toEqual(packages.map(pkg => pkg.manifest.name).sort())
    for (const pkg of published) {
      const tarball = tarballs.get(pkg.name)!
      expect(pkg.shasum, pkg.name).toBe(createHash('sha1').update(readFileSync(tarball)).digest('hex'))
      // So its manifest is the one checked above: no workspace: range left.
      expect(await tarballFile(tarball, 'package.json')).not.toContain('workspace:')
    }
  }, 150_000)
})
