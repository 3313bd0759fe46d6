// The core as it is published: its entries (`.`, `./register`, `./testing`) bundled with one shared chunk, after tsc
// has built dist/. Loading four files instead of one per module keeps the process's EventEmitters fast on Node 20,
// whose module loader opens an emitter per file read: with every module loaded on its own, a hello world on node:http
// ran about 2 % more instructions per request than bare, and bundled it runs as bare does (docs/benchmarks.md).
import { build } from 'esbuild'

const dist = new URL('./dist/', import.meta.url).pathname

await build({
  entryPoints: ['index', 'register', 'testing'].map(entry => `${dist}${entry}.js`),
  outdir: `${dist}bundle`,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning'
})
