import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // examples/*.test.mjs: a user's own suite, as the docs show it (examples/check.test.mjs).
    include: ['test/**/*.test.ts', 'examples/*.test.mjs'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: the socket tests measure exits and deadlines, so they get a core each.
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' }
  }
})
