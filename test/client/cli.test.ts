/**
 * The CLI as a user runs it: the real bin entry in a child process, against a real DuckDB file.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../client/exit-codes';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import type { Plan } from '../../domain/plan';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { backfillWith } from '../support/cli';
import { startSnowflakeEmulator } from '../support/snowflake-emulator';

const backfill = (...args: string[]) => backfillWith({}, ...args);

let warehouseFile: string;

beforeAll(async () => {
  warehouseFile = join(mkdtempSync(join(tmpdir(), 'backfill-cli-')), 'warehouse.duckdb');
  const db = await openDuckDb({ path: warehouseFile });
  await seedRevenueScenario(db);
  await db.close();
});

describe('backfill validate', () => {
  it('accepts the completed example', async () => {
    const r = await backfill('validate', 'examples/revenue-tax-fix.yaml');
    expect(r.code).toBe(ExitCode.ok);
    expect(r.stdout).toContain('valid spec revenue-tax-fix-2026-06');
    expect(r.stdout).not.toContain('not runnable');
  });

  it("accepts the article's original block and says what a run still needs; --runnable exits 2", async () => {
    const r = await backfill('validate', 'examples/seed-original.yaml');
    expect(r.code).toBe(ExitCode.ok);
    expect(r.stdout).toMatch(/^! examples\/seed-original\.yaml: valid but not runnable: /);
    expect(r.stdout).not.toContain('✓');
    expect(r.stdout).toContain('  not runnable: transform: ');
    const strict = await backfill('validate', 'examples/seed-original.yaml', '--runnable');
    expect(strict.code).toBe(ExitCode.badInput);
    expect((await backfill('validate', 'examples/revenue-tax-fix.yaml', '--runnable')).code).toBe(ExitCode.ok);
  });
});

describe('the CLI itself', () => {
  it('prints its version; a usage error exits 2; --help marks required options and lists exit codes', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const v = await backfill('--version');
    expect(v.code).toBe(ExitCode.ok);
    expect(v.stdout.trim()).toBe(pkg.version);
    const unknown = await backfill('validate', 'examples/revenue-tax-fix.yaml', '--no-such-flag');
    expect(unknown.code).toBe(ExitCode.badInput);
    expect(unknown.stderr).toContain("unknown option '--no-such-flag'");
    expect((await backfill('no-such-command')).code).toBe(ExitCode.badInput);
    const missing = await backfill('approve', 'some-id');
    expect(missing.code).toBe(ExitCode.badInput);
    expect(missing.stderr).toContain("required option '--by <name>' not specified");
    const help = await backfill('approve', '--help');
    expect(help.code).toBe(ExitCode.ok);
    expect(help.stdout).toMatch(/--by <name>\s+your name as listed in approval\.approvers \(required\)/);
    const top = await backfill('--help');
    expect(top.stdout).toContain('Exit codes: 0 ok');
    expect(top.stdout).toContain('cancel');
  });

  const invalid = readdirSync('examples/invalid').filter((f) => f.endsWith('.yaml'));
  it.each(invalid)('refuses examples/invalid/%s naming its YAML path, exit code 2', async (file) => {
    const path = /expect-error-at: (\S+)/.exec(readFileSync(join('examples/invalid', file), 'utf8'))![1]!;
    const r = await backfill('validate', join('examples/invalid', file));
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.stderr).toContain('BackfillInvalidSpec');
    expect(r.stderr).toContain(`- ${path} (line `);
  });
});

describe('backfill sql', () => {
  it('reads the file directly when no worker holds it; a trailing ; and comment are fine', async () => {
    const r = await backfill(
      'sql', 'SELECT COUNT(*) AS n FROM finance.daily_revenue; -- how many', '--warehouse', warehouseFile,
    );
    expect(r.code, r.stderr).toBe(ExitCode.ok);
    expect(r.stdout).toMatch(/^n\n\d+\n\(1 row\)$/m);
    expect(r.stderr).not.toContain('through the worker');
  });
});

describe('backfill plan', () => {
  it('reports 547 daily partitions in 79 batches with estimates, as JSON', async () => {
    const r = await backfill('plan', 'examples/revenue-tax-fix.yaml', '--json', '--warehouse', warehouseFile);
    expect(r.code, r.stderr).toBe(ExitCode.ok);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.totals.partitions).toBe(547);
    expect(plan.totals.batches).toBe(79);
    expect(plan.batches).toHaveLength(79);
    expect(plan.totals.rows).toBe(plan.batches.reduce((a, b) => a + b.rows, 0));
    expect(plan.totals.rows).toBeGreaterThan(0);
    expect(plan.totals.bytes).toBeGreaterThan(0);
    expect(plan.totals.seconds).toBeGreaterThan(0);
    expect(plan.totals.cost).toBeNull();
  });

  it('prints a readable table and a total line', async () => {
    const r = await backfill('plan', 'examples/revenue-tax-fix.yaml', '--warehouse', warehouseFile);
    expect(r.code, r.stderr).toBe(ExitCode.ok);
    expect(r.stdout).toMatch(/^1\s+2024-12-01\s+2024-12-07\s+7\s/m);
    expect(r.stdout).toMatch(/^79\s+2026-05-31\s+2026-05-31\s+1\s/m);
    expect(r.stdout).toMatch(/Total: 547 day partitions in 79 batches · [\d,]+ rows · [\d.]+ [KMG]?B scanned/);
  });

  it('names the missing target table (YAML path included) when the warehouse is empty', async () => {
    const empty = join(mkdtempSync(join(tmpdir(), 'backfill-cli-')), 'empty.duckdb');
    const db = await openDuckDb({ path: empty });
    await db.close();
    const r = await backfill('plan', 'examples/revenue-tax-fix.yaml', '--warehouse', empty);
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.stderr).toContain('BackfillMissingObject');
    expect(r.stderr).toContain('target.table: finance.daily_revenue does not exist');
  });
});

describe('backfill plan on Snowflake', () => {
  it('plans through snowflake-sdk against the wire emulator: the same partitions, ' +
    'batches and rows as on DuckDB', async () => {
    const emulator = await startSnowflakeEmulator();
    try {
      await seedRevenueScenario(emulator.backing);
      const r = await backfillWith(
        {
          SNOWFLAKE_ACCOUNT: 'emulator',
          SNOWFLAKE_USER: 'backfill',
          SNOWFLAKE_PASSWORD: 'x',
          SNOWFLAKE_WAREHOUSE: 'BACKFILL_WH',
          SNOWFLAKE_DATABASE: 'ANALYTICS',
          SNOWFLAKE_ACCESS_URL: emulator.accessUrl,
        },
        'plan',
        'examples/revenue-tax-fix.yaml',
        '--warehouse',
        'snowflake',
        '--json',
      );
      expect(r.code, r.stderr).toBe(0);
      const plan = JSON.parse(r.stdout) as {
        totals: { partitions: number; batches: number; rows: number; bytes: number | null };
      };
      expect(plan.totals).toMatchObject({ partitions: 547, batches: 79, rows: 18_077 });
      expect(plan.totals.bytes).toBeGreaterThan(0);
      expect(
        emulator.log
          .filter((e) => e.kind !== 'session' && !(e.queryTag ?? '').includes('"phase":"plan"'))
          .map((e) => e.sql),
      ).toEqual([]);
    } finally {
      await emulator.close();
    }
  });

  it('refuses a bad Snowflake config with every problem named by its variable (exit 2)', async () => {
    const r = await backfillWith({ SNOWFLAKE_ACCOUNT: 'https://xy12345.snowflakecomputing.com', SNOWFLAKE_USER: 'u' }, 'plan', 'examples/revenue-tax-fix.yaml', '--warehouse', 'snowflake');
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.stderr).toContain('SNOWFLAKE_ACCOUNT');
    expect(r.stderr).toContain('not a URL');
    expect(r.stderr).toContain('SNOWFLAKE_WAREHOUSE');
  });
});

describe('backfill schema', () => {
  it('prints a JSON Schema that refuses unknown keys and lists the seed fields', async () => {
    const r = await backfill('schema');
    expect(r.code).toBe(ExitCode.ok);
    const schema = JSON.parse(r.stdout) as {
      properties: Record<string, { properties?: Record<string, unknown>; additionalProperties?: boolean }>;
      required: string[];
    };
    expect(schema.required).toEqual(
      expect.arrayContaining([
        'backfill_id', 'owner', 'source_range', 'target', 'reason', 'execution', 'validation', 'rollback',
      ]),
    );
    expect(Object.keys(schema.properties.execution!.properties!)).toEqual(
      expect.arrayContaining(['partitions_per_batch', 'max_concurrency', 'pause_during_live_pipeline']),
    );
    expect(schema.properties.execution!.additionalProperties).toBe(false);
    // Editor help reaches nested fields: a measure's batch band, under a map of columns.
    expect(JSON.parse(r.stdout)).toMatchObject({
      properties: {
        validation: {
          properties: {
            measures: {
              additionalProperties: {
                properties: { batch_delta: { description: expect.stringContaining('Defaults to expected_delta') } },
              },
            },
          },
        },
      },
    });
  });
});
