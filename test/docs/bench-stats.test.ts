// The rank-sum test behind docs/benchmarks.md's verdicts (bench/stats.mjs): exact p-values, checked against SciPy's
// `mannwhitneyu(larger, smaller, alternative='greater', method='exact')` and the exact distribution of U.
import { describe, expect, it } from 'vitest'
import { median, rankSumP } from '../../bench/stats.mjs'

describe('bench statistics', () => {
  it('gives the exact one-sided p-value of the rank-sum test', () => {
    // Every value of one side above every value of the other: one split of C(10, 5) = 252.
    expect(rankSumP([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])).toBeCloseTo(1 / 252, 12)
    // The other way round: every split ranks at least as high.
    expect(rankSumP([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])).toBe(1)
    // U = 24 of 36 for 6 and 6 (SciPy: 0.19696…).
    expect(rankSumP([5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 11, 12])).toBeCloseTo(182 / 924, 12)
    // U = 31 of 36 for 6 and 6 (the other side 5): P(U ≤ 5) = 19 / 924 = 0.0206 in the exact distribution.
    expect(rankSumP([7, 8, 9, 10, 11, 12], [1, 2, 3, 4, 5, 11.5])).toBeCloseTo(19 / 924, 12)
  })

  it('counts ties half, so identical samples are never called different', () => {
    expect(rankSumP([1, 2, 3], [1, 2, 3])).toBeGreaterThan(0.5)
    expect(rankSumP([5, 5, 5, 5, 5], [5, 5, 5, 5, 5])).toBe(1)
  })

  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
  })
})
