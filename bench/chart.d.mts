// Types for bench/chart.mjs, which test/docs/bench-docs.test.ts imports.
import type { SavedRun } from './targets.d.mts'

/** The chart's file name, next to docs/benchmarks.md. */
export const chartFile: string

/** An axis for values up to `value`: a round step, and the end of the axis at most 5 steps from 0. */
export function axis (value: number): { step: number, end: number }

/** The SVG document of the shutdown times against the peers, deterministic for given figures. */
export function chart (saved: SavedRun): string
