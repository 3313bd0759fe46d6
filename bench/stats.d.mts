// Types for bench/stats.mjs, which test/docs/bench-stats.test.ts imports.

/** The median of the values (the mean of the two middle ones for an even count). */
export function median (values: readonly number[]): number

/**
 * One-sided exact rank-sum (Mann–Whitney) test: the chance that `larger` would rank at least this far above `smaller`
 * if both were samples of one distribution (ties count half).
 */
export function rankSumP (larger: readonly number[], smaller: readonly number[]): number
