import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One real Temporal dev server for the whole run; tests get its address via inject().
    globalSetup: ['test/global-setup.ts'],
    // Workflow bundling and worker start-up are slow compared with unit tests.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Temporal's native Runtime may be installed once per process: keep test files in separate processes.
    pool: 'forks',
  },
});
