import type { Graceful } from '@graceful/core'

/** Registers the flush hook, the gauges and the span subscribers for `g`; returns a function that undoes the latter two. */
export declare function instrument (g: Graceful, options: { flush: () => unknown }): () => void
