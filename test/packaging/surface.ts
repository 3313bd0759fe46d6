// The public surface as TypeScript sees it in the sources, and as docs/reference/api.md describes it: the names on
// both sides, so that a test can say which rows are missing or stale.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { publishedPackages, root } from '../helpers/packages.js'

export interface Surface {
  /** Every name each package exports, types included, by package name. */
  exports: Map<string, string[]>
  /** The keys of `GracefulOptions`. */
  options: string[]
  /** The public members of the `Graceful` class (not `@internal`). */
  graceful: string[]
  /** The members of the Express `GracefulMiddleware`. */
  middleware: string[]
  /** The fields of `ShutdownReport`. */
  report: string[]
}

export function sourceSurface (): Surface {
  const packages = publishedPackages()
  const entries = packages.map(pkg => join(root, pkg.dir, 'src/index.ts'))
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node']
  })
  const checker = program.getTypeChecker()
  const exports = new Map<string, string[]>()
  const found = new Map<string, ts.Symbol>()
  packages.forEach((pkg, index) => {
    const source = program.getSourceFile(entries[index]!)!
    const symbols = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!)
    exports.set(pkg.manifest.name, symbols.map(symbol => symbol.name).sort())
    for (const symbol of symbols) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
      found.set(symbol.name, target)
    }
  })
  const members = (name: string, isPublic: (symbol: ts.Symbol) => boolean = () => true): string[] => {
    const symbol = found.get(name)
    if (symbol === undefined) throw new Error(`no export named ${name}`)
    return checker.getDeclaredTypeOfSymbol(symbol).getProperties()
      .filter(isPublic)
      .map(property => property.name)
      .sort()
  }
  const notInternal = (symbol: ts.Symbol): boolean =>
    !symbol.name.startsWith('#') && !symbol.getJsDocTags().some(tag => tag.name === 'internal')
  return {
    exports,
    options: members('GracefulOptions'),
    graceful: members('Graceful', notInternal),
    middleware: members('GracefulMiddleware'),
    report: members('ShutdownReport')
  }
}

const apiPath = join(root, 'docs/reference/api.md')

/**
 * The names in the first column of the first table under the heading `title` in docs/reference/api.md: the first
 * code span of each row, without its call signature (`createGraceful(options?)` is `createGraceful`).
 */
export function documented (title: string): string[] {
  const lines = readFileSync(apiPath, 'utf8').split('\n')
  const start = lines.findIndex(line => /^#{2,3} /.test(line) && line.replace(/^#+ /, '') === title)
  if (start === -1) return []
  const names: string[] = []
  let inTable = false
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,3} /.test(line)) break
    if (line.startsWith('|')) {
      inTable = true
      const name = /^\|\s*`([^`(]+)/.exec(line)?.[1]
      if (name !== undefined) names.push(name.trim())
    } else if (inTable) {
      break
    }
  }
  return names.sort()
}

/** The names the code has and the table lacks (missing rows), and the rows for names the code no longer has. */
export function difference (rows: readonly string[], names: readonly string[]): { missing: string[], stale: string[] } {
  return {
    missing: names.filter(name => !rows.includes(name)),
    stale: rows.filter(row => !names.includes(row))
  }
}
