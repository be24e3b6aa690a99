import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Two tiers (`npm run test:unit`, `npm run test:integration`; `npm test` runs both).
 *
 * How a new test file lands in a tier: anything under test/domain/ is `unit`; so are the few pure
 * files named in UNIT below. Every other test file is `integration`, so a new file outside
 * test/domain/ runs against the dev server unless it is added to UNIT. A unit file needs no
 * Temporal server, no workflow bundle, no warehouse connection (not even in-memory DuckDB) and no
 * child process: a whole unit run takes seconds.
 */
const UNIT = [
  'test/domain/**/*.test.ts',
  'test/temporal-dev.test.ts',
  'test/client/json-output.test.ts',
  'test/scripts/temporal-cli.test.ts',
  'test/warehouse/compatibility-rules.test.ts',
  'test/warehouse/dialects.test.ts',
  'test/warehouse/identifiers.test.ts',
  'test/warehouse/snowflake/config.test.ts',
  'test/warehouse/snowflake/dialect.test.ts',
  'test/worker/metrics-server.test.ts',
  'test/worker/worker-settings.test.ts',
  'test/activities/trusted-keys.test.ts',
  'test/client/terminal.test.ts',
  'test/client/load-graph.test.ts',
];

/**
 * The lifecycle, crash, engines and peer-lesson tests run twice: as the spec says by default (set-based
 * batches once the transform proves decomposable) and with execution.batch_mode: partition.
 */
const BOTH_BATCH_MODES = [
  'test/workflows/backfill-workflow.test.ts',
  'test/workflows/durability.test.ts',
  'test/workflows/engines.test.ts',
  'test/workflows/peer-lessons.test.ts',
];

/** What every integration project shares: one dev server and one bundle per project, files in separate processes. */
const integration = {
  // One real Temporal dev server and one workflow bundle for the whole run; tests get the
  // server's address and the bundle's path via inject().
  globalSetup: ['test/global-setup.ts'],
  // Worker start-up and real workflows are slow compared with unit tests.
  testTimeout: 60_000,
  hookTimeout: 120_000,
  // Temporal's native Runtime may be installed once per process: keep test files in separate processes.
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: UNIT,
          // Files share one module graph per worker (isolation costs ~0.5 s a file, most of a unit
          // run): a unit file must not leave globals, environment variables or module state behind.
          isolate: false,
          unstubEnvs: true,
          unstubGlobals: true,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...UNIT],
          ...integration,
        },
      },
      {
        test: {
          name: 'integration-partition',
          include: BOTH_BATCH_MODES,
          env: { BACKFILL_TEST_BATCH_MODE: 'partition' },
          ...integration,
        },
      },
    ],
  },
});
