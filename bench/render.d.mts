// Types for bench/render.mjs, which test/docs/bench-docs.test.ts imports.
import type { SavedRun } from './targets.d.mts'

/** docs/benchmarks.md from a saved run (docs/benchmarks.json), measuring nothing. */
export function render (saved: SavedRun): string

/** Every Node line of a saved run, the main line first. */
export function nodeLines (saved: SavedRun): string[]
