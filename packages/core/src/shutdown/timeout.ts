// One bounded wait, for everything graceful waits on: a hook, a readiness check, the drain, a cluster's workers.

export const TIMED_OUT: unique symbol = Symbol('timed out')

/** Resolves with `promise`'s value, or with `TIMED_OUT` after `ms` ms, whichever comes first; clears its timer either way. */
export async function deadline<T> (promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<typeof TIMED_OUT>(resolve => { timer = setTimeout(resolve, ms, TIMED_OUT) })
  try {
    return await Promise.race([promise, expired])
  } finally {
    clearTimeout(timer)
  }
}

// Runs `fn` with a signal that aborts (with `reason()`) once `ms` have passed, so that the work can cancel itself.
export async function bounded<T> (fn: (signal: AbortSignal) => T, ms: number, reason: () => Error): Promise<Awaited<T> | typeof TIMED_OUT> {
  const controller = new AbortController()
  // Inside a promise chain, so that a function that throws synchronously fails like one that rejects.
  const outcome = await deadline(Promise.resolve().then(() => fn(controller.signal)), ms)
  if (outcome === TIMED_OUT) controller.abort(reason())
  return outcome
}
