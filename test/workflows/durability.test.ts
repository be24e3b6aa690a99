/**
 * Durability on real parts: continue-as-new with state intact, replay of recorded histories against
 * the current code, resume of a new run from the control schema, and a worker process killed
 * mid-batch (SIGKILL) whose replacement finishes with exactly the rows an uninterrupted run writes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as m from '../../contracts/messages';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import { allPartitions } from '../../domain/plan';
import { startBackfill } from '../../client/start-backfill';
import { rewriteBatch } from '../../warehouse/batch-rewrite';
import { columnNames } from '../../warehouse/catalog';
import { ControlStore } from '../../warehouse/control-store';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { createShadow } from '../../warehouse/shadow';
import {
  exampleSpec,
  lab,
  rangeFingerprint,
  testSpec,
  waitForStatus,
  workflowBundle,
  workflowBundlePath,
  type Env,
  type Lab,
} from '../support/backfill-harness';
import { temporalTestEnv } from '../support/temporal';
import { AT, claimed } from '../support/owned';
import { decide } from '../support/decide';

let env: Env;
const labs: Lab[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  env = await temporalTestEnv();
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const l of labs) await l.stop();
  await env?.connection.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('continue-as-new and replay', () => {
  it('runs the full 547-day range across several continue-as-new runs with state intact, ' +
    'then rolls back to the exact pre-publish result', async () => {
    const l = await lab(env);
    labs.push(l);
    const spec = { ...exampleSpec(), backfill_id: `can-${process.pid}-${Date.now().toString(36)}` };
    spec.execution = {
      ...spec.execution,
      pause_during_live_pipeline: false,
      live_pipeline: undefined,
      pause_windows: [],
      daily_scan_budget: undefined,
    };
    const prodBefore = await rangeFingerprint(l.warehouse, spec, 'target');
    const handle = await l.start(spec);
    const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval', 120_000);
    // The test server suggests continue-as-new at 200 events (test/global-setup.ts).
    expect(waiting.continuedAsNew).toBeGreaterThan(0);
    expect(waiting.batches).toMatchObject({ done: 79, total: 79 });
    expect(waiting.partitions).toEqual({ done: 547, total: 547 });
    const report = await handle.query(m.reportQuery);
    expect(report.batches).toEqual({ passed: 79, failed: 0, accepted: 0, total: 79 });
    const net = report.measures.find((x) => x.column === 'net_revenue')!;
    expect(net.deltaPct!).toBeCloseTo(-1.106, 2);
    expect(report.rows.old).toBe(prodBefore.rows);
    const batches = await handle.query(m.batchesQuery);
    expect(batches.total).toBe(79);
    expect(batches.omitted + batches.items.length).toBe(79);

    await decide(handle, m.approveUpdate, { by: 'head-of-finance-data', comment: 'ok' });
    const published = await waitForStatus(handle, (s) => s.state === 'published');
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).not.toEqual(prodBefore);
    const ack = await decide(handle, m.rollbackUpdate,
      { by: 'finance-controller', reason: 'downstream report disagrees' });
    expect(ack.accepted).toBe(true);
    // A second rollback while the first is being applied is refused at once.
    const second = await decide(handle, m.rollbackUpdate, { by: 'oncall', reason: 'again' })
      .catch((e: unknown) => e);
    expect(String((second as Error).cause ?? second)).toContain('already in progress');
    const result = await handle.result();
    expect(result.state).toBe('rolled_back');
    expect(result.rollback.rolledBack)
      .toMatchObject({ by: 'finance-controller', comment: 'downstream report disagrees' });
    expect(result.release?.status).toBe('rolled_back');
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(prodBefore);
    expect((await new ControlStore(l.warehouse).release(published.release!.releaseId))?.status).toBe('rolled_back');
    // The run is over: the lease is free, and a rollback can no longer be requested.
    expect(await new ControlStore(l.warehouse).leaseOf(spec.target.table)).toBeNull();
    await expect(
      decide(handle, m.rollbackUpdate, { by: 'oncall', reason: 'late' }),
    ).rejects.toThrow();

    // Determinism: the first and the last run's recorded histories replay against the current code.
    const bundle = await workflowBundle();
    const first = env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
    for (const h of [first, env.client.workflow.getHandle(handle.workflowId)]) {
      const history = await h.fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, h.workflowId);
    }
  });
});

describe('resume', () => {
  it('a new run of the same spec resumes from the control schema checkpoints and never redoes ' +
    'a checkpointed batch', async () => {
    const l = await lab(env);
    labs.push(l);
    const spec = testSpec('resume', (s) => {
      s.execution.max_concurrency = 1;
    });
    const first = await l.start(spec);
    await waitForStatus(first, (s) => s.batches.done >= 3);
    await first.signal(m.pauseSignal, { by: 'oncall', reason: 'stop here' });
    const paused = await waitForStatus(first, (s) => s.state === 'paused');
    await first.terminate('simulating a lost run');
    const before = await new ControlStore(l.warehouse).checkpoints(spec.backfill_id);
    expect(before.length).toBe(paused.batches.done);

    const second = await l.start(spec);
    const waiting = await waitForStatus(second, (s) => s.state === 'awaiting_approval');
    expect(waiting.batches.resumed).toBe(paused.batches.done);
    expect(waiting.batches.done).toBe(9);
    const after = await new ControlStore(l.warehouse).checkpoints(spec.backfill_id);
    expect(after).toHaveLength(9);
    // Checkpointed batches were not redone: their checkpoints are the very same rows.
    for (const c of before) expect(after.find((a) => a.batchIndex === c.batchIndex)?.finishedAt).toBe(c.finishedAt);
    const shadow = await rangeFingerprint(l.warehouse, spec, 'shadow');
    expect(shadow.distinctKeys).toBe(shadow.rows);
    expect(shadow.rows).toBe((await rangeFingerprint(l.warehouse, spec, 'target')).rows);
    await second.terminate('test over');
  });
});

describe('worker crash', () => {
  it('a worker killed mid-batch is replaced and the run ends with the shadow an uninterrupted run writes, ' +
    'with no duplicate keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfill-crash-'));
    dirs.push(dir);
    const dbPath = join(dir, 'warehouse.duckdb');
    const spec = testSpec('crash', (s) => {
      s.source_range.end = '2025-06-30';
      s.execution.max_concurrency = 1;
    });
    const seeded = await openDuckDb({ path: dbPath });
    await seedRevenueScenario(seeded);
    await seeded.close();

    // The reference: every partition rewritten once, without interruption, in a separate warehouse.
    const reference = await openDuckDb({ path: ':memory:' });
    await seedRevenueScenario(reference);
    await createShadow(reference, await claimed(reference, spec), AT);
    await rewriteBatch(reference, spec, allPartitions(spec), await columnNames(reference, spec.target.table), {
      mode: 'partition',
      concurrency: 2,
    });
    const expected = await rangeFingerprint(reference, spec, 'shadow');
    await reference.close();

    const taskQueue = `crash-${process.pid}-${Date.now().toString(36)}`;
    const startWorker = async (extraEnv: NodeJS.ProcessEnv = {}) => {
      // node itself (not the tsx wrapper, which would leave its child alive after SIGKILL).
      const script = join(__dirname, '..', 'support', 'worker-process.ts');
      const child = spawn(
        process.execPath,
        ['--require', 'tsx/cjs', script, env.address, env.namespace, taskQueue, dbPath, workflowBundlePath()],
        { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...extraEnv } },
      );
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('worker ready') && resolve());
        child.on('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
      });
      return child;
    };
    const exited = (c: ChildProcess) =>
      new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));

    // On the first worker batch 4 (index 3) is slow, so when 3 batches are done its activity is running.
    const first = await startWorker({ SLOW_BATCH: '3' });
    const handle = await startBackfill(env.client, spec, { startedBy: 'vitest', taskQueue });
    const mid = await waitForStatus(handle, (s) => s.batches.done >= 3 && s.currentBatch !== null, 60_000);
    expect(mid.batches.done).toBe(3);
    first.kill('SIGKILL');
    await exited(first);
    const second = await startWorker();
    const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval', 90_000);
    expect(waiting.batches.done).toBe(waiting.batches.total);
    expect(mid.batches.done).toBeLessThan(waiting.batches.total);
    second.kill('SIGKILL');
    await exited(second);
    await handle.terminate('test over');

    const db = await openDuckDb({ path: dbPath });
    try {
      const shadow = await rangeFingerprint(db, spec, 'shadow');
      expect(shadow).toEqual(expected);
      expect(shadow.distinctKeys).toBe(shadow.rows);
      const checkpoints = await new ControlStore(db).checkpoints(spec.backfill_id);
      expect(checkpoints).toHaveLength(waiting.batches.total);
      // Both worker processes wrote batches: the run really crossed the crash.
      expect(new Set(checkpoints.map((c) => c.provenance.worker)).size).toBe(2);
      // Batch 4, in flight at the kill, was retried on the second worker after its heartbeat timed out.
      const batch4 = checkpoints.find((c) => c.batchIndex === 3)!.provenance;
      expect(batch4.activityAttempt, JSON.stringify(batch4)).toBeGreaterThanOrEqual(2);
      expect(batch4.worker).not.toBe(checkpoints[0]!.provenance.worker);
    } finally {
      await db.close();
    }
  }, 180_000);
});
