/**
 * `backfill preview` as a user runs it: the real bin on a seeded DuckDB file, directly and, while a
 * worker holds the file, through the worker.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../client/exit-codes';
import { backfillWith } from '../support/cli';
import type { Raw } from '../support/spec-fixtures';
import { exampleSpecFile, seededWarehouse } from '../support/scratch';
import { temporalTestEnv } from '../support/temporal';
import { startWorkerBin, type WorkerBin } from '../support/worker-bin';

let dir: string;
let dbPath: string;
const at = () => ({ BACKFILL_WAREHOUSE: dbPath });
const production = 'SELECT count(*) AS n, sum(net_revenue) AS net, sum(hash(t)) AS h FROM finance.daily_revenue AS t';
const tables = 'SELECT table_schema, table_name FROM information_schema.tables ' +
  "WHERE table_schema <> 'backfill_control' ORDER BY 1, 2";
/** A measure the fix leaves alone, expected to move: the preview must fail on it. */
const failing = (raw: Raw) => {
  raw.validation.measures.gross_revenue = { expected_delta: '+1% to +2%' };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'backfill-preview-'));
  dbPath = await seededWarehouse(dir);
});

async function timed(env: NodeJS.ProcessEnv, ...args: string[]) {
  const t0 = performance.now();
  const r = await backfillWith(env, ...args);
  const seconds = (performance.now() - t0) / 1000;
  const took = /Preview took (.+)\.$/m.exec(r.stdout)?.[1] ?? 'n/a';
  console.log(`backfill ${args[0]} … exit ${r.code} in ${seconds.toFixed(2)} s (the preview itself: ${took})`);
  return r;
}

describe('backfill preview', () => {
  it('passes on the example spec (exit 0) in seconds; production and the table set as they were', async () => {
    const spec = exampleSpecFile(dir, 'ok', 'preview-cli-ok');
    const look = async () => [
      (await backfillWith(at(), 'sql', production)).stdout, (await backfillWith(at(), 'sql', tables)).stdout,
    ];
    const before = await look();
    const r = await timed(at(), 'preview', spec);
    expect(r.code, r.stderr).toBe(ExitCode.ok);
    expect(r.stdout).toContain('Preview of preview-cli-ok: 7 of 547 day partitions of finance.daily_revenue');
    expect(r.stdout).toContain('rewritten into finance.daily_revenue_preview_preview_cli_ok, now dropped');
    expect(r.stdout).toMatch(/^net_revenue\s+[\d,.]+\s+[\d,.]+\s+-1\.\d\d%\s+-1\.5% to -0\.8%\s+pass$/m);
    expect(r.stdout).toMatch(new RegExp('^Estimate of the full run \\(an estimate, from measured times\\): .+ per ' +
      'partition × 547 partitions ÷ max_concurrency 2 ≈ ', 'm'));
    expect(r.stdout).toMatch(/^PASSED: every fail-severity check passed\. Preview took /m);
    expect(await look()).toEqual(before);
  });

  it('exits 5 when an expectation fails, naming the check; --json is a versioned object', async () => {
    const spec = exampleSpecFile(dir, 'failing', 'preview-cli-failing', failing);
    const r = await timed(at(), 'preview', spec, '--partitions', '3');
    expect(r.code, r.stderr).toBe(ExitCode.stopped);
    expect(r.stdout).toMatch(/^gross_revenue\s+.+\s+\+1% to \+2%\s+FAIL$/m);
    expect(r.stdout).toContain('FAILED: 1 check failed (measure-delta of gross_revenue); a run would halt on them.');
    const json = await backfillWith(at(), 'preview', spec, '--partitions', '3', '--json');
    expect(json.code).toBe(ExitCode.stopped);
    const body = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({
      schema_version: 1, kind: 'preview', backfill_id: 'preview-cli-failing', passed: false,
    });
    expect(body.partitions).toHaveLength(3);
    expect(Object.keys(body)).toContain('scratch_table');
  });

  it('refuses a partition count outside 1..50 (exit 2) before opening the warehouse', async () => {
    const spec = exampleSpecFile(dir, 'bounds', 'preview-cli-bounds');
    const absent = { BACKFILL_WAREHOUSE: join(dir, 'absent.duckdb') };
    for (const n of ['0', '51', 'seven']) {
      const r = await backfillWith(absent, 'preview', spec, '--partitions', n);
      expect(r.code).toBe(ExitCode.badInput);
      expect(r.stderr).toContain(`--partitions: ${n === 'seven' ? '"seven"' : n} is not a whole number 1..50`);
    }
    const missing = await backfillWith(absent, 'preview', spec);
    expect(missing.code).toBe(ExitCode.badInput);
    expect(missing.stderr).toContain('absent.duckdb does not exist');
  });
});

describe('backfill preview while a worker holds the file', () => {
  let env: Awaited<ReturnType<typeof temporalTestEnv>>;
  let worker: WorkerBin | undefined;
  beforeAll(async () => {
    env = await temporalTestEnv();
  });
  afterAll(async () => {
    await worker?.stop();
    await env?.connection.close();
  });

  it('runs on the worker: the same verdicts and exit codes', async () => {
    const settings = {
      ...at(),
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: env.namespace,
      TEMPORAL_CONFIG_FILE: join(dir, 'no-profile.toml'),
      BACKFILL_TASK_QUEUE: `preview-${process.pid}-${Date.now().toString(36)}`,
    };
    worker = await startWorkerBin(settings);
    const ok = await timed(settings, 'preview', exampleSpecFile(dir, 'worker-ok', 'preview-worker-ok'));
    expect(ok.code, ok.stderr).toBe(ExitCode.ok);
    expect(ok.stderr).toContain(`a worker holds ${dbPath}; previewing through the worker`);
    expect(ok.stdout).toMatch(/^PASSED: /m);
    const spec = exampleSpecFile(dir, 'worker-failing', 'preview-worker-failing', failing);
    const bad = await timed(settings, 'preview', spec, '--partitions', '2');
    expect(bad.code, bad.stderr).toBe(ExitCode.stopped);
    expect(bad.stdout).toContain('FAILED: 1 check failed (measure-delta of gross_revenue)');
    const records = await backfillWith(settings, 'sql',
      "SELECT backfill_id, role, status FROM backfill_control.owned_tables WHERE backfill_id LIKE 'preview-worker-%' " +
        'ORDER BY 1', '--json');
    expect(JSON.parse(records.stdout).rows).toEqual([
      { backfill_id: 'preview-worker-failing', role: 'preview', status: 'dropped' },
      { backfill_id: 'preview-worker-ok', role: 'preview', status: 'dropped' },
    ]);
  });
});
