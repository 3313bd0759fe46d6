/** A seeded generator, so that a cycle's choices (signal moment, pauses, splits) replay from its seed. */
export interface Random {
  next: () => number
  int: (min: number, max: number) => number
  chance: (p: number) => boolean
}

/** mulberry32: small and fast; its quality is plenty for choosing moments and sizes. */
export function random (seed: number): Random {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p
  }
}

/** A seed derived from another and a stream number, so that each client draws its own sequence. */
export function derive (seed: number, stream: number): number {
  return (Math.imul(seed ^ 0x9E3779B9, 31) + Math.imul(stream + 1, 0x85EBCA6B)) >>> 0
}
