// The statistics the benchmark's verdicts rest on (bench/run.mjs), apart so that a test can check them.

export function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * One-sided exact rank-sum (Mann–Whitney) test: the chance that `larger` would rank at least this far above `smaller`
 * if both were runs of one and the same server. Small: `larger` is larger beyond what its runs' own spread explains.
 * Exact over every way of splitting the pooled values (924 for 6 and 6), so no normal approximation at these sizes.
 * Why a test and not medians alone: one server's consecutive 4-second windows differ by a third on this machine, so
 * the median of six rounds moves by several percent from one run to the next, and the A/A control's own median lands
 * anywhere in that band; comparing one median's offset with another's called an identical server slower one time in four.
 */
export function rankSumP (larger, smaller) {
  const u = (a, b) => {
    let sum = 0
    for (const x of a) for (const y of b) sum += x > y ? 1 : x === y ? 0.5 : 0
    return sum
  }
  const observed = u(larger, smaller)
  const pooled = [...larger, ...smaller]
  let atLeast = 0
  let splits = 0
  const split = (from, chosen) => {
    if (chosen.length === larger.length) {
      splits++
      if (u(chosen.map(i => pooled[i]), pooled.filter((_, i) => !chosen.includes(i))) >= observed - 1e-9) atLeast++
      return
    }
    for (let i = from; i <= pooled.length - (larger.length - chosen.length); i++) split(i + 1, [...chosen, i])
  }
  split(0, [])
  return atLeast / splits
}

