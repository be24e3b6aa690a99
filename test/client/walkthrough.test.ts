/**
 * The README's walk-through as a new user runs it, in its order, with the worker running and
 * holding the DuckDB file: validate, plan, schema, start, watch, status, list, a look with `sql`,
 * approve, report, watch to the release, signoff, and the report of the ended backfill. `plan`,
 * `sql` and the late `report` read the file through the worker; `sql` refuses a write, which
 * leaves production as it was.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../client/exit-codes';
import { backfillWith } from '../support/cli';
import { exampleSpecFile, seededWarehouse, twoWeeks } from '../support/scratch';
import { temporalTestEnv } from '../support/temporal';
import { startWorkerBin, type WorkerBin } from '../support/worker-bin';

let env: Awaited<ReturnType<typeof temporalTestEnv>>;
let worker: WorkerBin | undefined;

beforeAll(async () => {
  env = await temporalTestEnv();
});
afterAll(async () => {
  await worker?.stop();
  await env?.connection.close();
});

describe('the README walk-through, with the worker holding the warehouse', () => {
  it('works as written: plan, sql and report go through the worker; sql refuses a write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfill-walkthrough-'));
    const dbPath = await seededWarehouse(dir);
    const id = `walkthrough-${process.pid}-${Date.now().toString(36)}`;
    const spec = exampleSpecFile(dir, 'spec', id, twoWeeks);
    const settings = {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: env.namespace,
      TEMPORAL_CONFIG_FILE: join(dir, 'no-profile.toml'),
      BACKFILL_TASK_QUEUE: `walkthrough-${process.pid}-${Date.now().toString(36)}`,
      BACKFILL_WAREHOUSE: dbPath,
    };
    worker = await startWorkerBin(settings);
    const backfill = async (...args: string[]) => {
      const r = await backfillWith(settings, ...args);
      expect(r.code, `backfill ${args.join(' ')}\n${r.stderr}`).toBe(ExitCode.ok);
      return r;
    };
    const production = 'SELECT COUNT(*) AS n, SUM(net_revenue) AS net FROM finance.daily_revenue';

    expect((await backfill('validate', spec)).stdout).toContain(`valid spec ${id}`);
    const plan = await backfill('plan', spec);
    expect(plan.stderr).toContain(`a worker holds ${dbPath}; reading it through the worker`);
    expect(plan.stdout).toMatch(/Total: 14 day partitions in 2 batches/);
    await backfill('schema');
    const before = (await backfill('sql', production)).stdout;
    expect(before).toMatch(/^n\s+net\n\d+\s+[\d.]+\n\(1 row\)$/m);
    const write = await backfillWith(settings, 'sql', 'DELETE FROM finance.daily_revenue');
    expect(write.code).toBe(ExitCode.badInput);
    expect(write.stderr).toContain('uses DELETE; only reading is allowed here');
    expect((await backfill('start', spec, '--by', 'vitest')).stdout).toContain('planned, target leased, tables owned');
    expect((await backfill('watch', id, '--interval', '200')).stdout).toContain(`${id}: awaiting_approval`);
    const waiting = (await backfill('status', id)).stdout;
    expect(waiting).toContain('awaiting_approval');
    // The approver decides on the state they read: its digest, from status (the first 12 characters).
    const digest = /decision digest ([0-9a-f]{64})/.exec(waiting)?.[1];
    expect(digest, waiting).toBeDefined();
    expect((await backfill('list', '--state', 'awaiting_approval')).stdout).toContain(id);
    const checkpoints = `SELECT COUNT(*) AS batches FROM backfill_control.checkpoints WHERE backfill_id = '${id}'`;
    const look = await backfill('sql', checkpoints);
    expect(look.stdout).toMatch(/^batches\n2\n/m);
    expect((await backfill('sql', production)).stdout).toBe(before);
    const blind = await backfillWith(settings, 'approve', id, '--by', 'finance-controller');
    expect(blind.code).toBe(ExitCode.badInput);
    expect(blind.stderr).toContain('approve needs --digest');
    await backfill('approve', id, '--by', 'finance-controller', '--comment', 'deltas as expected',
      '--digest', digest!.slice(0, 12));
    const reports = join(dir, 'reports');
    await backfill('report', id, '--out', reports);
    expect(existsSync(join(reports, `${id}.html`))).toBe(true);
    expect((await backfill('watch', id, '--interval', '200')).stdout).toContain(`${id}: published`);
    const released = /decision digest ([0-9a-f]{64})/.exec((await backfill('status', id)).stdout)?.[1];
    expect(released).not.toBe(digest);
    await backfill('signoff', id, '--by', 'head-of-finance-data', '--digest', released!);
    await env.client.workflow.getHandle(`backfill-${id}`).result();
    // Ended: the report is read from the control schema, through the worker that holds the file.
    const late = await backfill('report', id, '--out', join(dir, 'late'));
    expect(late.stderr).toContain('reading it through the worker');
    expect(readFileSync(join(dir, 'late', `${id}.md`), 'utf8')).toContain(id);
    expect((await backfill('sql', production)).stdout).not.toBe(before);
  });
});
