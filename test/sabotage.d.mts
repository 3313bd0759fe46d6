// Types for test/sabotage.mjs, which test/docs/docs.test.ts imports to hold docs/reliability.md's table to it.
export interface Sabotage {
  mechanism: string
  file: string
  find: string
  replace: string
  /** [test file, test name]: each must fail with the patch applied. */
  tests: Array<[string, string]>
}

export const sabotages: Sabotage[]
