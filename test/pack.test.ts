// What npm would publish: each package's tarball holds its built code, its README and LICENSE, and a manifest fit
// for the registry; nothing else (no sources, tests or build state). The manifests themselves are checked in
// test/exports.test.ts, with the rest of the public surface.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Manifest, pack, type Package, publishedPackages, root, tarballFile, tarballFiles } from './packages.js'

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
    for (const module of sourceModules(pkg)) {
      expected.push(`dist/${module}.js`, `dist/${module}.js.map`, `dist/${module}.d.ts`, `dist/${module}.d.ts.map`)
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
})
