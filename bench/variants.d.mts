// Types for bench/variants.mjs, which test/docs/bench-docs.test.ts imports.

/** Per framework: [variant, name, name in the chart], the bare framework first. */
export const allGroups: Record<string, Array<[string, string, string]>>
