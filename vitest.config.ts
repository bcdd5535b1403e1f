import { defineConfig } from 'vitest/config';

/** Files that start Chromium: one at a time, so that two browsers never compete for the two cores. */
const browserFiles = [
  'test/webjs/**/*.test.ts',
  'test/engine-contract/webjs.contract.test.ts',
  'test/e2e/webjs.e2e.test.ts',
  'test/bench/*.test.ts',
  'test/browser/**/*.test.ts',
];

export default defineConfig({
  test: {
    environment: 'node',
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'browser', include: browserFiles, poolOptions: { forks: { singleFork: true } } },
      },
      {
        extends: true,
        test: { name: 'node', include: ['test/**/*.test.ts'], exclude: browserFiles },
      },
    ],
  },
});
