// The published packages as npm would see them: their manifests, and their tarballs as `pnpm pack` makes them.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export const root = fileURLToPath(new URL('../..', import.meta.url))
export const run = promisify(execFile)

export interface Manifest {
  name: string
  version: string
  private?: boolean
  description?: string
  keywords?: string[]
  license?: string
  repository?: { type?: string, url?: string, directory?: string }
  homepage?: string
  bugs?: { url?: string }
  files?: string[]
  main?: string
  types?: string
  exports?: Record<string, string | Record<string, string>>
  engines?: Record<string, string>
  sideEffects?: boolean
  publishConfig?: Record<string, string>
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

export interface Package {
  /** The folder, relative to the repository: `packages/core`. */
  dir: string
  manifest: Manifest
}

/** Every package under packages/ that is meant for npm (not `private`). */
export function publishedPackages (): Package[] {
  return readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter(entry => entry.isDirectory())
    .map(entry => {
      const dir = `packages/${entry.name}`
      return { dir, manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest }
    })
    .filter(pkg => pkg.manifest.private !== true)
}

/** Packs the package (as built) into `destination`; resolves with the tarball's path. */
export async function pack (pkg: Package, destination: string): Promise<string> {
  const { stdout } = await run('pnpm', ['pack', '--json', '--pack-destination', destination], { cwd: join(root, pkg.dir) })
  // pnpm prints the build script's output before the JSON when the package has a prepack script; take the JSON.
  const result = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { filename: string }
  return result.filename
}

/** The paths inside a tarball, without npm's `package/` prefix. */
export async function tarballFiles (tarball: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', tarball])
  return stdout.split('\n').filter(line => line !== '').map(line => line.replace(/^package\//, '')).sort()
}

/** One file of a tarball, as text. */
export async function tarballFile (tarball: string, path: string): Promise<string> {
  const { stdout } = await run('tar', ['-xzOf', tarball, `package/${path}`])
  return stdout
}
