import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../client/load-spec';
import { BackfillError, BackfillFailure, isBackfillFailure } from '../../contracts/errors';
import type { ReleaseRecord } from '../../contracts/status';
import { buildPlan, type Plan } from '../../domain/plan';
import { emptyCumulative } from '../../domain/reconcile';
import {
  CONTROL_SCHEMA,
  ControlStore,
  isoTimestamp,
  type Checkpoint,
  type ControlTable,
} from '../../warehouse/control-store';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';

const { spec } = loadSpecFile(fileURLToPath(new URL('../../examples/revenue-tax-fix.yaml', import.meta.url)));
const TABLES: ControlTable[] = [
  'plans', 'plan_batches', 'checkpoints', 'audit_log', 'releases', 'leases', 'owned_tables', 'release_graphs',
];
const TARGET = 'finance.daily_revenue';

function planWith(rows: number): Plan {
  const rowsByPartition: Record<string, number> = { '2024-12-01': rows, '2025-06-01': rows * 2 };
  return buildPlan(spec, {
    rowsByPartition,
    sample: { partition: '2024-12-01', rows, bytes: 1000, seconds: 1, measured: true },
    pricePerHour: null,
  });
}

async function leaseFailure(p: Promise<unknown>): Promise<BackfillFailure> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(BackfillFailure);
  expect((e as BackfillFailure).code).toBe(BackfillError.TargetLeased);
  return e as BackfillFailure;
}

describe('ControlStore on DuckDB', () => {
  let db: DuckDbDriver;
  let store: ControlStore;
  const count = async (table: ControlTable, where = '') =>
    Number((await db.query(`SELECT count(*) AS n FROM ${CONTROL_SCHEMA}.${table} ${where}`))[0]!.n);

  beforeEach(async () => {
    db = await openDuckDb({ path: ':memory:' });
    store = new ControlStore(db);
    await store.ensure();
  });
  afterEach(async () => {
    await db?.close();
  });

  describe('checkpoints', () => {
    const checkpoint = (batchIndex: number, verdict: Checkpoint['verdict'] = 'passed'): Checkpoint => ({
      backfillId: spec.backfill_id,
      batchIndex,
      firstPartition: '2024-12-01',
      lastPartition: '2024-12-07',
      partitions: 7,
      rowsWritten: 227,
      codeVersion: 'git:8f31c2a',
      verdict,
      provenance: {
        transformHash: 'a1b2c3d4e5f60718', workflowId: 'wf', runId: 'run', activityAttempt: 1, worker: 'host:1',
        partitionRows: { '2024-12-01': 227 }, partitions: [], resumedPartitions: [],
        checks: [{
          kind: 'structural', name: 'row-count', passed: verdict !== 'failed', severity: 'fail', message: 'row counts',
        }],
        measures: [], rows: { old: 227, new: 227 }, topChangedRows: [], cumulativeBefore: emptyCumulative(),
        cumulative: emptyCumulative(), seconds: 5,
        summary: {
          index: batchIndex, first: '2024-12-01', last: '2024-12-07', partitions: 7, rowsWritten: 227, verdict,
          failures: [], warnings: [], measures: [], rows: { old: 227, new: 227 }, seconds: 5, bytesScanned: 0,
          attempt: 1,
        },
      },
      startedAt: '2026-11-21T08:00:00.000Z',
      finishedAt: '2026-11-21T08:00:05.000Z',
    });

    it('records one row per batch with its provenance, read back as plain JSON', async () => {
      await store.recordCheckpoint(checkpoint(0));
      await store.recordCheckpoint(checkpoint(1));
      const rows = await store.checkpoints(spec.backfill_id);
      expect(rows.map((r) => r.batchIndex)).toEqual([0, 1]);
      expect(rows[0]).toMatchObject({ verdict: 'passed', rowsWritten: 227, codeVersion: 'git:8f31c2a', partitions: 7 });
      expect(rows[0]!.provenance).toEqual(checkpoint(0).provenance);
      expect(rows[0]!.finishedAt).toBe('2026-11-21T08:00:05.000Z'); // ISO, as written
    });

    it('replaces a batch recorded twice (a retry, or a failed verdict later accepted)', async () => {
      await store.recordCheckpoint(checkpoint(3, 'failed'));
      await store.recordCheckpoint(checkpoint(3, 'accepted'));
      expect(await count('checkpoints')).toBe(1);
      expect((await store.checkpoints(spec.backfill_id))[0]!.verdict).toBe('accepted');
    });
  });

  describe('release graphs', () => {
    it('keeps a release graph\'s record as written, and its status with each update', async () => {
      await store.ensure();
      const record = {
        releaseId: 'rel-1', status: 'running' as const, owner: 'finance-data', reason: { issue: 'FIN-1', change: 'x' },
        startedBy: 'me', startedAt: '2026-06-01T00:00:00.000Z', graphHash: '0123456789abcdef', nodes: [],
        frozenInputs: { daily: { 'staging.revenue_events': 'table: a DATE' } },
      };
      expect(await store.graph('rel-1')).toBeNull();
      await db.transaction((tx) => store.recordGraph(record, tx));
      expect(await store.graph('rel-1')).toEqual(record);
      await db.transaction((tx) => store.updateGraph({ ...record, status: 'failed', error: 'e' }, tx));
      expect(await store.graph('rel-1')).toMatchObject({ status: 'failed', error: 'e', graphHash: record.graphHash });
    });
  });

  describe('ensure', () => {
    it('creates every control table, and a second run changes nothing', async () => {
      await store.audit({ backfillId: 'b', at: '2026-06-01T00:00:00Z', actor: 'me', action: 'x', detail: {} });
      await store.ensure();
      const rows = await db.query({
        sql: 'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        params: [CONTROL_SCHEMA],
      });
      expect(rows.map((r) => r.table_name)).toEqual([...TABLES].sort());
      expect(await count('audit_log')).toBe(1);
    });

    it('names tables inside the control schema', () => {
      expect(store.table('leases')).toEqual({ schema: 'backfill_control', name: 'leases' });
    });
  });

  describe('recordPlan', () => {
    it('stores the summary and one row per batch', async () => {
      const plan = planWith(10);
      await store.recordPlan(plan, spec, '2026-06-01T10:00:00Z');
      expect(await count('plans')).toBe(1);
      expect(await count('plan_batches')).toBe(79);
      const [row] = await db.query(
        `SELECT code_version, partitions, batches, est_rows, spec_json FROM ${CONTROL_SCHEMA}.plans`,
      );
      expect(row).toMatchObject({ code_version: 'git:8f31c2a', partitions: '547', batches: '79', est_rows: '30' });
      expect(JSON.parse(String(row!.spec_json))).toEqual(JSON.parse(JSON.stringify(spec)));

      const recorded = await store.recordedPlan(plan.backfillId);
      expect(recorded?.summary).toMatchObject({
        backfillId: 'revenue-tax-fix-2026-06',
        totals: { partitions: 547, batches: 79, rows: 30 },
      });
      expect(recorded?.summary).not.toHaveProperty('batches');
      expect(recorded?.batches).toHaveLength(79);
      expect(recorded?.batches[0]).toMatchObject({
        batch_index: '0',
        first_partition: '2024-12-01',
        last_partition: '2024-12-07',
        partitions: '7',
        est_rows: '10',
      });
      expect(recorded?.batches[78]).toMatchObject({
        batch_index: '78',
        first_partition: '2026-05-31',
        last_partition: '2026-05-31',
        partitions: '1',
      });
    });

    it('replaces the previous plan of the same backfill', async () => {
      await store.recordPlan(planWith(10), spec, '2026-06-01T10:00:00Z');
      await store.recordPlan(planWith(20), spec, '2026-06-01T11:00:00Z');
      expect(await count('plans')).toBe(1);
      expect(await count('plan_batches')).toBe(79);
      const recorded = await store.recordedPlan(spec.backfill_id);
      expect(recorded?.summary).toMatchObject({ totals: { rows: 60 } });
    });

    it('keeps other backfills\' plans', async () => {
      await store.recordPlan(planWith(10), spec, '2026-06-01T10:00:00Z');
      await store.recordPlan({ ...planWith(10), backfillId: 'other' }, spec, '2026-06-01T10:00:00Z');
      await store.recordPlan(planWith(10), spec, '2026-06-01T11:00:00Z');
      expect(await count('plans')).toBe(2);
      expect(await count('plan_batches')).toBe(158);
    });

    it('writes plans with more batches than one VALUES chunk', async () => {
      const wide = { ...spec, execution: { ...spec.execution, partitions_per_batch: 1 } };
      const plan = buildPlan(wide, { rowsByPartition: {}, sample: null, pricePerHour: null });
      expect(plan.batches.length).toBe(547);
      await store.recordPlan(plan, wide, '2026-06-01T10:00:00Z');
      expect(await count('plan_batches')).toBe(547);
      const recorded = await store.recordedPlan(plan.backfillId);
      expect(recorded?.batches.map((b) => b.first_partition).slice(499, 502)).toEqual([
        '2026-04-14',
        '2026-04-15',
        '2026-04-16',
      ]);
    });

    it('returns null for a backfill with no plan', async () => {
      expect(await store.recordedPlan('nobody')).toBeNull();
    });
  });

  describe('audit', () => {
    it('appends entries and reads them back in time order', async () => {
      await store.audit({
        backfillId: 'b1',
        at: '2026-06-01T10:00:01Z',
        actor: 'alice',
        action: 'approved',
        detail: { note: "it's fine; -- really", n: 1 },
      });
      await store.audit({
        backfillId: 'b1', at: '2026-06-01T10:00:00Z', actor: 'worker', action: 'planned', detail: {},
      });
      await store.audit({ backfillId: 'b2', at: '2026-06-01T09:00:00Z', actor: 'bob', action: 'planned', detail: {} });
      await store.audit({
        backfillId: 'b1',
        at: '2026-06-01T10:00:00Z',
        actor: 'worker',
        action: 'planned',
        detail: {},
      });
      const trail = await store.auditTrail('b1');
      expect(trail.map((e) => [e.actor, e.action])).toEqual([
        ['worker', 'planned'],
        ['worker', 'planned'],
        ['alice', 'approved'],
      ]);
      expect(trail[2]).toEqual({
        backfillId: 'b1',
        at: expect.stringMatching(/^2026-06-01[ T]10:00:01/),
        actor: 'alice',
        action: 'approved',
        detail: { note: "it's fine; -- really", n: 1 },
      });
      expect(await count('audit_log')).toBe(4);
    });

    it('can write inside a caller\'s transaction, and rolls back with it', async () => {
      await db
        .transaction(async (tx) => {
          await store.audit({ backfillId: 'b1', at: '2026-06-01T10:00:00Z', actor: 'w', action: 'x', detail: {} }, tx);
          throw new Error('abort');
        })
        .catch(() => undefined);
      expect(await store.auditTrail('b1')).toEqual([]);
    });
  });

  it('auditOnce writes an entry once: a retried activity with the same source is a no-op', async () => {
    const entry = {
      backfillId: 'b1',
      at: '2026-11-21T10:00:00.000Z',
      actor: 'oncall',
      action: 'paused',
      detail: { reason: 'x', source: 'run-1/7' },
    };
    expect(await store.auditOnce(entry)).toBe(true);
    expect(await store.auditOnce({ ...entry, at: '2026-11-21T10:00:05.000Z' })).toBe(false);
    expect(await store.auditOnce({ ...entry, detail: { ...entry.detail, source: 'run-1/8' } })).toBe(true);
    expect((await store.auditTrail('b1')).map((a) => a.detail.source)).toEqual(['run-1/7', 'run-1/8']);
  });

  describe('releases', () => {
    const release = (releaseId: string, publishedAt = '2026-06-20T09:30:00.000Z'): ReleaseRecord => ({
      releaseId,
      dataset: TARGET,
      backfillId: spec.backfill_id,
      publishedAt,
      sourceRange: { start: '2024-12-01', end: '2026-05-31', grain: 'day' },
      codeVersion: 'git:8f31c2a',
      approvedBy: 'finance-controller',
      restorePoint: 'finance.daily_revenue_pre_FIN_2841',
      rollbackExpiresAt: '2026-07-04T09:30:00.123Z',
      publishMode: 'range',
      status: 'published',
    });

    it('reads a recorded release back exactly as written', async () => {
      await db.transaction((tx) => store.recordRelease(release('r1'), tx));
      expect(await store.release('r1')).toEqual(release('r1'));
      expect(await store.release('r2')).toBeNull();
      const [row] = await db.query(
        `SELECT CAST(published_at AS VARCHAR) AS at, source_range FROM ${CONTROL_SCHEMA}.releases`,
      );
      expect(row).toEqual({
        at: '2026-06-20 09:30:00',
        source_range: '{"start":"2024-12-01","end":"2026-05-31","grain":"day"}',
      });
    });

    it('keeps what was approved, and with which key', async () => {
      const approval = {
        by: 'finance-controller', digest: 'ab'.repeat(32), keyId: '0123456789abcdef', signature: 'c2ln',
      };
      await db.transaction((tx) => store.recordRelease({ ...release('r1'), approval }, tx));
      expect((await store.release('r1'))?.approval).toEqual(approval);
    });

    it('adds the approval column to a control schema from before it existed, and reads its releases', async () => {
      await db.execute(`ALTER TABLE ${CONTROL_SCHEMA}.releases DROP COLUMN approval_json`);
      await db.execute(
        `INSERT INTO ${CONTROL_SCHEMA}.releases VALUES ('old', 'finance.daily_revenue', 'b', ` +
          `TIMESTAMP '2026-06-20 09:30:00', '{"start":"2024-12-01","end":"2026-05-31","grain":"day"}', NULL, 'x', ` +
          `'snap', TIMESTAMP '2026-06-27 09:30:00', 'range', 'published')`,
      );
      await store.ensure();
      await store.ensure();
      expect((await store.release('old'))?.approval).toBeUndefined();
      await db.transaction((tx) => store.recordRelease({ ...release('r1'), approval: null }, tx));
      expect(await store.release('r1')).toEqual(release('r1'));
    });

    it('stores timestamps as UTC instants, whatever offset the caller wrote', async () => {
      await db.transaction((tx) =>
        store.recordRelease({ ...release('r1'), publishedAt: '2026-06-20T11:30:00+02:00', codeVersion: null }, tx),
      );
      expect(await store.release('r1')).toEqual({ ...release('r1'), codeVersion: null });
    });

    it('writes nothing when the publishing transaction rolls back', async () => {
      const error = await db
        .transaction(async (tx) => {
          await store.recordRelease(release('r1'), tx);
          throw new Error('publish failed');
        })
        .catch((e: unknown) => e);
      expect((error as Error).message).toBe('publish failed');
      expect(await store.release('r1')).toBeNull();
    });

    it('releaseOf returns the latest release of a backfill', async () => {
      await db.transaction(async (tx) => {
        await store.recordRelease(release('r1', '2026-06-20T09:30:00.000Z'), tx);
        await store.recordRelease(release('r2', '2026-06-22T09:30:00.000Z'), tx);
        await store.recordRelease({ ...release('r3', '2026-06-23T09:30:00.000Z'), backfillId: 'other' }, tx);
      });
      expect((await store.releaseOf(spec.backfill_id))?.releaseId).toBe('r2');
      expect(await store.releaseOf('nobody')).toBeNull();
    });

    it('setReleaseStatus changes one release and refuses an unknown one', async () => {
      await db.transaction(async (tx) => {
        await store.recordRelease(release('r1'), tx);
        await store.recordRelease(release('r2'), tx);
      });
      await db.transaction((tx) => store.setReleaseStatus('r1', 'rolled_back', tx));
      expect((await store.release('r1'))?.status).toBe('rolled_back');
      expect((await store.release('r2'))?.status).toBe('published');
      const error = await db
        .transaction((tx) => store.setReleaseStatus('r9', 'signed_off', tx))
        .catch((e: unknown) => e);
      expect(isBackfillFailure(error, BackfillError.NotAllowed)).toBe(true);
    });
  });

  describe('isoTimestamp', () => {
    it('normalises caller and warehouse spellings to one ISO instant', () => {
      expect(isoTimestamp('2026-06-20T09:30:00Z')).toBe('2026-06-20T09:30:00.000Z');
      expect(isoTimestamp('2026-06-20 09:30:00.123456')).toBe('2026-06-20T09:30:00.123Z');
      expect(isoTimestamp('2026-06-20T11:30:00+02:00')).toBe('2026-06-20T09:30:00.000Z');
      expect(isoTimestamp('2026-06-20')).toBe('2026-06-20T00:00:00.000Z');
    });

    it('refuses text that is not a timestamp, naming where it came from', () => {
      for (const bad of ['tomorrow', '2026-13-01T00:00:00Z', '']) {
        let error: unknown;
        try {
          isoTimestamp(bad, 'publishedAt');
        } catch (e) {
          error = e;
        }
        expect(isBackfillFailure(error, BackfillError.InvalidRequest), bad).toBe(true);
        expect((error as Error).message).toContain('publishedAt');
      }
    });
  });

  describe('leases', () => {
    it('grants a free target and records the holder', async () => {
      const lease = await store.acquireLease(TARGET, 'b1', 'backfill-b1', '2026-06-01T10:00:00Z');
      expect(lease).toEqual({
        targetTable: TARGET,
        backfillId: 'b1',
        workflowId: 'backfill-b1',
        acquiredAt: '2026-06-01T10:00:00Z',
      });
      expect(await store.leaseOf(TARGET)).toMatchObject({
        targetTable: TARGET,
        backfillId: 'b1',
        workflowId: 'backfill-b1',
      });
    });

    it('re-acquiring by the same backfill is a no-op that keeps the original lease', async () => {
      await store.acquireLease(TARGET, 'b1', 'backfill-b1', '2026-06-01T10:00:00Z');
      const again = await store.acquireLease(TARGET, 'b1', 'backfill-b1', '2026-06-02T10:00:00Z');
      expect(again.acquiredAt).toMatch(/^2026-06-01/);
      expect(await count('leases')).toBe(1);
    });

    it('refuses another backfill with TargetLeased naming the holder', async () => {
      await store.acquireLease(TARGET, 'b1', null, '2026-06-01T10:00:00Z');
      const failure = await leaseFailure(store.acquireLease(TARGET, 'b2', null, '2026-06-01T11:00:00Z'));
      expect(failure.details).toEqual({ holder: 'b1', targetTable: TARGET });
      expect(failure.message).toContain(`${TARGET} is leased by backfill b1`);
      expect((await store.leaseOf(TARGET))?.backfillId).toBe('b1');
    });

    it('leases each target separately', async () => {
      await store.acquireLease(TARGET, 'b1', null, '2026-06-01T10:00:00Z');
      await expect(store.acquireLease('finance.other', 'b2', null, '2026-06-01T10:00:00Z')).resolves.toMatchObject({
        backfillId: 'b2',
      });
    });

    it('releaseLease frees the target for another backfill; only the holder can release', async () => {
      await store.acquireLease(TARGET, 'b1', null, '2026-06-01T10:00:00Z');
      await store.releaseLease(TARGET, 'b2');
      expect((await store.leaseOf(TARGET))?.backfillId).toBe('b1');
      await store.releaseLease(TARGET, 'b1');
      expect(await store.leaseOf(TARGET)).toBeNull();
      await store.releaseLease(TARGET, 'b1'); // idempotent
      await expect(store.acquireLease(TARGET, 'b2', null, '2026-06-01T12:00:00Z')).resolves.toMatchObject({
        backfillId: 'b2',
      });
    });

    it('lets exactly one of two concurrent backfills win a target', async () => {
      for (let round = 0; round < 5; round++) {
        const target = `finance.t${round}`;
        const results = await Promise.allSettled([
          store.acquireLease(target, 'b1', null, '2026-06-01T10:00:00Z'),
          store.acquireLease(target, 'b2', null, '2026-06-01T10:00:00Z'),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won, JSON.stringify(results)).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]!.reason).toBeInstanceOf(BackfillFailure);
        expect((lost[0]!.reason as BackfillFailure).code).toBe(BackfillError.TargetLeased);
        const winner = (won[0] as PromiseFulfilledResult<{ backfillId: string }>).value.backfillId;
        expect((lost[0]!.reason as BackfillFailure).details.holder).toBe(winner);
        expect((await store.leaseOf(target))?.backfillId).toBe(winner);
      }
      expect(await count('leases')).toBe(5);
    });

    it('lets the same backfill acquire concurrently twice without error', async () => {
      const [a, b] = await Promise.all([
        store.acquireLease(TARGET, 'b1', null, '2026-06-01T10:00:00Z'),
        store.acquireLease(TARGET, 'b1', null, '2026-06-01T10:00:00Z'),
      ]);
      expect(a.backfillId).toBe('b1');
      expect(b.backfillId).toBe('b1');
      expect(await count('leases')).toBe(1);
    });
  });
});
