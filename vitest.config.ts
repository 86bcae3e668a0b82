import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
    // the skip reporter lists why tests were skipped (test/helpers/requirements.ts), beside the summary
    reporters: ['default', './test/helpers/skip-reporter.ts'],
  },
})
