/**
 * The report's data, gathered from the control schema of a real run: a real backfill on the shared
 * Temporal dev server and a real DuckDB, taken to published and then rolled back. Every section is
 * checked against what the control store (and the workflow's own `report` query) says.
 */
import { batchSummary } from '../../domain/run/batch-summary';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as m from '../../contracts/messages';
import type { ReconciliationReport } from '../../contracts/status';
import { batchPartitions, buildPlan } from '../../domain/plan';
import {
  emptyCumulative,
  reconcileBatch,
  type ChangedRow,
  type CumulativeTotals,
  type MeasureVerdict,
  type PartitionComparison,
} from '../../domain/reconcile';
import type { BackfillSpec } from '../../domain/spec/schema';
import { ControlStore, isoTimestamp, type Checkpoint } from '../../warehouse/control-store';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { gatherReportData, REPORT_TOP_ROWS } from '../../warehouse/report-data';
import { lab, testSpec, waitForStatus, type Env, type Lab } from '../support/backfill-harness';
import { temporalTestEnv } from '../support/temporal';
import { decide, decideBySignal } from '../support/decide';

let env: Env;
let l: Lab;

beforeAll(async () => {
  env = await temporalTestEnv();
  l = await lab(env);
});

afterAll(async () => {
  await l?.stop();
  await env?.connection.close();
});

/** Polls until `done` holds: handler audits are written by activities, a moment after the handler ran. */
async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('gatherReportData', () => {
  it('returns null for a backfill that never planned, and for a warehouse without a control schema', async () => {
    expect(await gatherReportData(l.warehouse, 'no-such-backfill')).toBeNull();
    const empty = await openDuckDb({ path: ':memory:' });
    try {
      expect(await gatherReportData(empty, 'no-such-backfill')).toBeNull();
    } finally {
      await empty.close();
    }
  });

  it('reads every section of a published, then rolled-back backfill from the control schema alone', async () => {
    const spec = testSpec('report-data');
    const handle = await l.start(spec, 'data-engineer');
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    const workflowReport: ReconciliationReport = await handle.query(m.reportQuery);

    // A refused approval through the signal (not an approver) is recorded and shown.
    await decideBySignal(handle, m.approveSignal, { by: 'intern', comment: 'lgtm' });
    const control = new ControlStore(l.warehouse);
    await eventually(() => control.auditTrail(spec.backfill_id), (a) => a.some((e) => e.action === 'approve_refused'));
    await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'net -1.1% as FIN-2841 predicts' });
    await waitForStatus(handle, (s) => s.state === 'published');

    const data = (await gatherReportData(l.warehouse, spec.backfill_id))!;
    expect(data).not.toBeNull();
    // Plain JSON: survives a round trip unchanged.
    expect(JSON.parse(JSON.stringify(data))).toEqual(data);

    // Spec essentials, as recorded with the plan.
    expect(data.spec).toEqual({
      backfillId: spec.backfill_id,
      owner: 'finance-data',
      target: {
        table: 'finance.daily_revenue', partitionKey: 'revenue_date', uniqueKey: ['revenue_date', 'merchant_id'],
        shadow: spec.target.shadow_table,
      },
      snapshot: spec.rollback.snapshot,
      range: { start: '2025-01-01', end: '2025-02-28', grain: 'day' },
      reason: { issue: 'FIN-2841', change: 'Correct tax-inclusive revenue calculation' },
      codeVersion: 'git:8f31c2a',
      measures: spec.measures.map((x) => ({
        column: x.column, expected: x.expected_delta, absTolerance: x.abs_tolerance,
      })),
      publish: { mode: 'range', view: null },
      rollback: { windowMs: 60 * 60_000, cleanup: 'after_signoff' },
      approval: {
        approvers: ['finance-controller', 'head-of-finance-data'], allowOwner: false, timeoutMs: 10 * 60_000,
      },
    });
    expect(data.spec.measures.find((x) => x.column === 'net_revenue')?.expected).toEqual({ min: -1.5, max: -0.8 });

    // Plan totals.
    const recorded = (await control.recordedPlan(spec.backfill_id))!;
    const totals = recorded.summary.totals as { partitions: number; batches: number; rows: number };
    expect(data.plan).toMatchObject({
      partitions: 59,
      batches: 9,
      rows: totals.rows,
      startedBy: 'data-engineer',
      representativePartition: recorded.summary.representativePartition,
    });
    expect(totals.rows).toBeGreaterThan(0);

    // Per-batch verdicts, one per checkpoint.
    const checkpoints = await control.checkpoints(spec.backfill_id);
    expect(checkpoints).toHaveLength(9);
    expect(data.batches).toMatchObject({ planned: 9, checkpointed: 9, passed: 9, failed: 0, accepted: 0, stale: 0 });
    data.batches.items.forEach((b, i) => {
      const c = checkpoints[i]!;
      const measures = c.provenance.measures as MeasureVerdict[];
      expect(b).toMatchObject({
        index: c.batchIndex,
        first: c.firstPartition,
        last: c.lastPartition,
        partitions: c.partitions,
        rowsWritten: c.rowsWritten,
        verdict: 'passed',
        accepted: null,
        failures: [],
        stale: false,
      });
      expect(b.rows).toEqual(c.provenance.rows);
      expect(b.measures).toEqual(
        measures.map((x) => ({
          column: x.column,
          oldSum: x.oldSum,
          newSum: x.newSum,
          deltaPct: x.deltaPct,
          cumulativeDeltaPct: x.cumulativeDeltaPct,
        })),
      );
      expect(b.finishedAt).toBe(isoTimestamp(c.finishedAt));
    });
    expect(data.batches.items[0]).toMatchObject({ first: '2025-01-01', last: '2025-01-07' });
    expect(data.batches.items[8]).toMatchObject({ first: '2025-02-26', last: '2025-02-28' });

    // Per-partition series: one point per partition, in order, with the checkpoints' exact sums.
    const comparisons = checkpoints.flatMap((c) => c.provenance.partitions as PartitionComparison[]);
    expect(data.series.map((s) => s.column)).toEqual(spec.measures.map((x) => x.column));
    for (const s of data.series) {
      expect(s.points).toHaveLength(59);
      expect(s.points.map((p) => p.partition)).toEqual(comparisons.map((c) => c.partition));
      expect(s.points[0]!.partition).toBe('2025-01-01');
      expect(s.points[58]!.partition).toBe('2025-02-28');
      s.points.forEach((p, i) => {
        const c = comparisons[i]!;
        expect(p.old).toBe(Number(c.oldSums[s.column]));
        expect(p.new).toBe(Number(c.newSums[s.column]));
        expect(p.delta).toBe(p.new - p.old);
        expect(p.oldRows).toBe(c.oldRows);
      });
    }
    const net = data.series.find((s) => s.column === 'net_revenue')!;
    // Every day of the tax bug moves net revenue down by about 1.1%.
    expect(net.points.every((p) => p.deltaPct !== null && p.deltaPct > -1.6 && p.deltaPct < -0.7)).toBe(true);

    // Cumulative totals: the same figures the workflow judged before approval.
    const netTotal = data.measures.find((x) => x.column === 'net_revenue')!;
    expect(netTotal.deltaPct).toBeGreaterThan(-1.5);
    expect(netTotal.deltaPct).toBeLessThan(-0.8);
    expect(netTotal.withinExpected).toBe(true);
    expect(netTotal.delta).toBe(netTotal.newSum - netTotal.oldSum);
    expect(data.measures.map(({ delta: _d, ...rest }) => rest)).toEqual(workflowReport.measures);
    expect(data.measures.find((x) => x.column === 'gross_revenue')!.deltaPct).toBeCloseTo(0, 9);
    const netSeriesOld = net.points.reduce((a, p) => a + p.old, 0);
    expect(netSeriesOld).toBeCloseTo(netTotal.oldSum, 2);
    expect(data.coverage).toEqual({ partitions: 59, rows: workflowReport.rows });

    // Top changed rows: largest |delta| across every batch, capped.
    const allRows = checkpoints.flatMap((c) => c.provenance.topChangedRows as ChangedRow[]);
    expect(allRows.length).toBeGreaterThan(REPORT_TOP_ROWS);
    expect(data.topChangedRows).toHaveLength(REPORT_TOP_ROWS);
    const largest = Math.max(...allRows.map((r) => Math.abs(r.delta)));
    expect(Math.abs(data.topChangedRows[0]!.delta)).toBe(largest);
    for (let i = 1; i < data.topChangedRows.length; i++) {
      expect(Math.abs(data.topChangedRows[i - 1]!.delta)).toBeGreaterThanOrEqual(
        Math.abs(data.topChangedRows[i]!.delta),
      );
    }
    expect(Object.keys(data.topChangedRows[0]!.key)).toEqual(['revenue_date', 'merchant_id']);
    expect(data.topChangedRows[0]!.batch).toBeGreaterThanOrEqual(0);

    // Approval, release, rollback, proof.
    expect(data.approval.approved).toMatchObject({
      by: 'finance-controller',
      comment: 'net -1.1% as FIN-2841 predicts',
    });
    expect(data.approval.rejected).toBeNull();
    expect(data.approval.refused).toEqual([
      expect.objectContaining({ by: 'intern', kind: 'approve', problem: expect.stringMatching(/intern/) }),
    ]);
    const release = (await control.releaseOf(spec.backfill_id))!;
    expect(data.release).toEqual(release);
    expect(data.release?.releaseId).toBe(`${spec.backfill_id}-release`);
    expect(data.state).toBe('published');
    expect(data.stateSince).toBe(release.publishedAt);
    expect(data.rollback).toMatchObject({
      status: 'open',
      expiresAt: release.rollbackExpiresAt,
      rolledBack: null,
      signedOff: null,
      cleanedUp: null,
    });
    expect(data.proof).toMatchObject({
      partition: recorded.summary.representativePartition,
      rowHash: expect.any(String),
    });
    expect(data.proof!.rowsWritten).toBeGreaterThan(0);

    // The audit timeline, in the log's order.
    const trail = await control.auditTrail(spec.backfill_id);
    expect(data.timeline.map((e) => [e.action, e.actor])).toEqual(trail.map((e) => [e.action, e.actor]));
    expect(data.timeline.find((e) => e.action === 'approved')?.note).toBe('net -1.1% as FIN-2841 predicts');
    expect(data.timeline.find((e) => e.action === 'published')?.note).toMatch(new RegExp(`^${release.releaseId}: `));

    // Rolled back: the release, the state and the rollback record all say so.
    await decide(handle, m.rollbackUpdate, { by: 'head-of-finance-data', reason: 'dashboard owners not yet told' });
    expect((await handle.result()).state).toBe('rolled_back');
    const after = (await eventually(
      () => gatherReportData(l.warehouse, spec.backfill_id),
      (d) => d?.state === 'rolled_back',
    ))!;
    expect(after.state).toBe('rolled_back');
    expect(after.release?.status).toBe('rolled_back');
    expect(after.rollback.status).toBe('rolled_back');
    expect(after.rollback.rolledBack).toMatchObject({
      by: 'head-of-finance-data',
      reason: 'dashboard owners not yet told',
    });
    expect(after.rollback.rolledBack!.rowsRestored).toBeGreaterThan(0);
    expect(after.stateSince).toBe(after.rollback.rolledBack!.at);
  });
});

/**
 * A checkpoint as runBatch writes it, from a real verdict over made-up evidence: every partition
 * holds 1,000 of net revenue in production, moved by `pct` in the shadow; other measures unchanged.
 */
function checkpointOf(
  spec: BackfillSpec,
  index: number,
  pct: number,
  before: CumulativeTotals,
  codeVersion = spec.transform!.code_version,
): { checkpoint: Checkpoint; after: CumulativeTotals } {
  const parts = batchPartitions(spec, index);
  const partitions: PartitionComparison[] = parts.map((p) => ({
    partition: p.start, oldRows: 10, newRows: 10, newDistinctKeys: 10,
    nullViolations: Object.fromEntries(spec.validation.not_null.map((c) => [c, 0])),
    oldSums: { net_revenue: '1000.00', gross_revenue: '1200.00', order_count: '10' },
    newSums: { net_revenue: (1000 * (1 + pct / 100)).toFixed(2), gross_revenue: '1200.00', order_count: '10' },
  }));
  // The spec's custom checks (validation.checks) ran and returned no failing rows.
  const custom = spec.validation.checks.map((c) => ({ name: c.name, rows: [], more: false }));
  const verdict = reconcileBatch(
    spec,
    { batchIndex: index, partitions, plannedPartitions: parts.map((p) => p.start), topChangedRows: [], custom },
    before,
  );
  const at = `2026-06-01T10:0${index}:00.000Z`;
  const summary = batchSummary(spec, index, verdict, { rowsWritten: 10 * parts.length, seconds: 1, attempt: 1 });
  return {
    after: verdict.cumulative,
    checkpoint: {
      backfillId: spec.backfill_id,
      batchIndex: index,
      firstPartition: summary.first,
      lastPartition: summary.last,
      partitions: parts.length,
      rowsWritten: summary.rowsWritten,
      codeVersion,
      verdict: verdict.passed ? 'passed' : 'failed',
      provenance: {
        transformHash: 'a1b2c3d4e5f60718', workflowId: null, runId: null, activityAttempt: 1, worker: 'test:1',
        partitionRows: Object.fromEntries(parts.map((p) => [p.start, 10])), resumedPartitions: [], seconds: 1,
        partitions,
        checks: verdict.checks,
        measures: verdict.measures,
        rows: verdict.rows,
        topChangedRows: [],
        cumulativeBefore: before,
        cumulative: verdict.cumulative,
        summary,
      },
      startedAt: at,
      finishedAt: at,
    },
  };
}

describe('gatherReportData: the state as the control schema shows it', () => {
  it('follows a run from planned through halted, accepted and failed, and a new run after it; ' +
    'stale checkpoints are listed, not counted', async () => {
    const db = await openDuckDb({ path: ':memory:' });
    try {
      const spec = testSpec('report-states');
      const control = new ControlStore(db);
      await control.ensure();
      await control.recordPlan(
        buildPlan(spec, { rowsByPartition: {}, sample: null, pricePerHour: null }),
        spec,
        '2026-06-01T09:00:00Z',
      );
      const audit = (at: string, actor: string, action: string, detail: Record<string, unknown> = {}) =>
        control.audit({ backfillId: spec.backfill_id, at, actor, action, detail });
      const read = async () => (await gatherReportData(db, spec.backfill_id))!;
      await audit('2026-06-01T09:00:00Z', 'alice', 'planned', { partitions: 59, batches: 9, rows: 0 });

      let data = await read();
      expect(data).toMatchObject({
        state: 'planned',
        stateSince: '2026-06-01T09:00:00.000Z',
        plan: { partitions: 59, batches: 9, startedBy: 'alice' },
      });
      expect(data.batches.items).toEqual([]);
      expect(data.series.every((x) => x.points.length === 0)).toBe(true);
      expect(data.release).toBeNull();
      expect(data.rollback.status).toBe('not_published');

      // Two batches pass, the third moves net revenue by -5% and fails.
      let cumulative = emptyCumulative();
      for (const [i, pct] of [[0, -1.1], [1, -1.2]] as const) {
        const c = checkpointOf(spec, i, pct, cumulative);
        await control.recordCheckpoint(c.checkpoint);
        cumulative = c.after;
      }
      const failed = checkpointOf(spec, 2, -5, cumulative);
      expect(failed.checkpoint.verdict).toBe('failed');
      await control.recordCheckpoint(failed.checkpoint);
      // The audit log counts batches as people do: batch_index 2 is batch 3.
      await audit('2026-06-01T10:03:00Z', 'workflow', 'batch_failed', {
        batch: 3,
        failures: ['net_revenue out of range'],
      });
      data = await read();
      expect(data).toMatchObject({ state: 'halted', stateSince: '2026-06-01T10:03:00.000Z' });
      expect(data.batches).toMatchObject({ checkpointed: 3, passed: 2, failed: 1, accepted: 0 });
      expect(data.batches.items[2]!.failures[0]).toMatch(/net_revenue changed -5\.00% in batch 3/);
      // Totals and series cover the passing batches only: 14 days.
      expect(data.coverage.partitions).toBe(14);
      expect(data.series[0]!.points).toHaveLength(14);
      // -1.10% for a week, then -1.20%: no change-point in so small a step.
      expect(data.series.map((x) => x.changePoints)).toEqual([[], [], []]);
      const net = data.measures.find((x) => x.column === 'net_revenue')!;
      expect(net).toMatchObject({ oldSum: 14_000, withinExpected: true });
      expect(net.newSum).toBeCloseTo(7 * 989 + 7 * 988, 6);

      // Accepted by an operator: counted, with who and why.
      await control.recordCheckpoint({
        ...failed.checkpoint,
        verdict: 'accepted',
        provenance: {
          ...failed.checkpoint.provenance,
          accepted: { by: 'oncall', reason: 'promo week', at: '2026-06-01T10:05:00.000Z' },
        },
      });
      await audit('2026-06-01T10:05:00Z', 'oncall', 'resolve_accept', { batch: 3, reason: 'promo week' });
      data = await read();
      expect(data.state).toBe('running');
      expect(data.batches).toMatchObject({ passed: 2, failed: 0, accepted: 1 });
      expect(data.batches.items[2]).toMatchObject({
        verdict: 'accepted',
        accepted: { by: 'oncall', reason: 'promo week' },
      });
      expect(data.coverage.partitions).toBe(21);
      expect(data.measures.find((x) => x.column === 'net_revenue')!.withinExpected).toBe(false);
      // The accepted week moves net revenue -5.00% a day: a jump on its first day, found on the
      // per-partition series; the unchanged measures have none.
      const byColumn = Object.fromEntries(data.series.map((x) => [x.column, x.changePoints]));
      expect(byColumn).toEqual({
        net_revenue: [
          {
            measure: 'net_revenue',
            partition: '2025-01-15',
            kind: 'jump',
            before: expect.closeTo(-1.2, 9),
            after: expect.closeTo(-5, 9),
            magnitude: expect.closeTo(3.8, 9),
            message:
              'net_revenue delta% drops from -1.20% to -5.00% at 2025-01-15 (median of 7 days before vs after; ' +
              'expected -1.5% to -0.8%): a discontinuity the change may not explain — ' +
              'confirm its cause before approving',
          },
        ],
        gross_revenue: [],
        order_count: [],
      });
      expect(data.timeline.at(-1)).toMatchObject({ actor: 'oncall', action: 'resolve_accept', note: 'promo week' });

      // A checkpoint of an earlier code version is shown as stale and left out of everything else.
      await control.recordCheckpoint(checkpointOf(spec, 5, -1.1, emptyCumulative(), 'git:0ld').checkpoint);
      data = await read();
      expect(data.batches).toMatchObject({ checkpointed: 3, stale: 1 });
      expect(data.batches.items.find((b) => b.index === 5)).toMatchObject({ stale: true, codeVersion: 'git:0ld' });
      expect(data.coverage.partitions).toBe(21);

      // The run fails (its lease released with the reason); a new run of the same spec starts over.
      await audit('2026-06-01T10:06:00Z', 'workflow', 'lease_released', { reason: 'failed: aborted by oncall' });
      expect((await read())).toMatchObject({ state: 'failed', stateSince: '2026-06-01T10:06:00.000Z' });
      await audit('2026-06-01T11:00:00Z', 'bob', 'planned', { partitions: 59, batches: 9, rows: 0 });
      data = await read();
      expect(data).toMatchObject({ state: 'running', plan: { startedBy: 'bob' } });
    } finally {
      await db.close();
    }
  });
});
