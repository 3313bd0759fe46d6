// Types for bench/variants.mjs, which test/bench-docs.test.ts imports.

/** Per framework: [variant, name, name in the chart], the bare framework first. */
export const allGroups: Record<string, Array<[string, string, string]>>
