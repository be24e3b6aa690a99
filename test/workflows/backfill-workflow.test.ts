/**
 * The backfill lifecycle end to end on real parts: the shared Temporal dev server, a real worker
 * running the real workflow bundle, and a real DuckDB seeded with the tax-bug scenario.
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { BackfillError, isBackfillFailure } from '../../contracts/errors';
import * as m from '../../contracts/messages';
import { BackfillStateKey, BackfillTargetKey } from '../../contracts/search-attributes';
import { workflowIdFor } from '../../contracts/settings';
import { ControlStore } from '../../warehouse/control-store';
import {
  exampleSpec,
  failureTypeOf,
  rangeFingerprint,
  testSpec,
  waitForStatus,
  useLabs,
} from '../support/backfill-harness';
import { decide, decideBySignal } from '../support/decide';

const labs = useLabs();
const newLab = labs.newLab;

describe('backfillWorkflow: the happy path', () => {
  it('snapshots, proves, rewrites and reconciles every batch, waits for approval, publishes atomically, ' +
    'signs off and cleans up', async () => {
    const l = await newLab();
    const spec = testSpec('happy');
    const prodBefore = await rangeFingerprint(l.warehouse, spec, 'target');
    const outsideBefore = await rangeFingerprint(l.warehouse, spec, 'target', { from: '2025-03-01', to: '2025-04-01' });
    const handle = await l.start(spec);
    expect(handle.workflowId).toBe(workflowIdFor(spec.backfill_id));

    const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    expect(waiting.partitions).toEqual({ done: 59, total: 59 });
    expect(waiting.batches).toMatchObject({ done: 9, total: 9 });
    expect(waiting.proof?.partition).toBe(waiting.plan?.representativePartition);
    expect(waiting.approval?.deadline).not.toBeNull();
    // Production is untouched until publish; the shadow holds the corrected range.
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(prodBefore);
    const shadow = await rangeFingerprint(l.warehouse, spec, 'shadow');
    expect(shadow.rows).toBe(prodBefore.rows);

    // What the Temporal UI shows: current details, and the message descriptions for its signal form.
    const metadata = await handle.query<{
      currentDetails: string;
      definition: { signalDefinitions: Array<{ name: string; description: string }> };
    }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain('**awaiting_approval**');
    expect(metadata.currentDetails).toContain('Partitions 59/59 · batches 9/9');
    expect(metadata.definition.signalDefinitions.find((d) => d.name === 'approve')?.description)
      .toContain('{"by": "finance-controller"');

    const report = await handle.query(m.reportQuery);
    const net = report.measures.find((x) => x.column === 'net_revenue')!;
    expect(net.deltaPct).toBeGreaterThan(-1.5);
    expect(net.deltaPct).toBeLessThan(-0.8);
    expect(net.withinExpected).toBe(true);
    expect(report.measures.find((x) => x.column === 'gross_revenue')!.deltaPct).toBeCloseTo(0, 9);
    expect(report.batches).toEqual({ passed: 9, failed: 0, accepted: 0, total: 9 });
    const batches = await handle.query(m.batchesQuery);
    expect(batches.items).toHaveLength(9);
    expect(batches.items.every((b) => b.verdict === 'passed')).toBe(true);

    const ack = await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'deltas as expected' });
    expect(ack.accepted).toBe(true);
    const published = await waitForStatus(handle, (s) => s.state === 'published');
    const release = published.release!;
    expect(release).toMatchObject({
      dataset: spec.target.table,
      backfillId: spec.backfill_id,
      sourceRange: { start: '2025-01-01', end: '2025-02-28', grain: 'day' },
      codeVersion: 'git:8f31c2a',
      approvedBy: 'finance-controller',
      restorePoint: spec.rollback.snapshot,
      publishMode: 'range',
      status: 'published',
    });
    expect(Date.parse(release.rollbackExpiresAt) - Date.parse(release.publishedAt)).toBe(spec.rollback.window);
    // Production's range now equals the reconciled shadow; rows outside the range are untouched.
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(shadow);
    expect(await rangeFingerprint(l.warehouse, spec, 'target', { from: '2025-03-01', to: '2025-04-01' }))
      .toEqual(outsideBefore);
    const control = new ControlStore(l.warehouse);
    expect(await control.release(release.releaseId))
      .toMatchObject({ releaseId: release.releaseId, status: 'published' });

    await decideBySignal(handle, m.signoffSignal, { by: 'head-of-finance-data', comment: 'announced' });
    const result = await handle.result();
    expect(result.state).toBe('completed');
    expect(result.rollback.signedOff?.by).toBe('head-of-finance-data');
    expect(result.rollback.cleanedUp?.sort()).toEqual([spec.rollback.snapshot, spec.target.shadow_table].sort());
    expect((await control.release(release.releaseId))?.status).toBe('signed_off');
    expect(await control.leaseOf(spec.target.table)).toBeNull();

    const actions = (await control.auditTrail(spec.backfill_id)).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining([
      'planned', 'lease_acquired', 'snapshot_taken', 'shadow_created', 'idempotency_proven', 'completion_verified',
      'approved', 'published', 'signed_off', 'lease_released', 'cleaned_up',
    ]));
    const checkpoints = await control.checkpoints(spec.backfill_id);
    expect(checkpoints).toHaveLength(9);
    expect(checkpoints.every((c) => c.verdict === 'passed' && c.codeVersion === 'git:8f31c2a')).toBe(true);
    expect(checkpoints[0]!.provenance).toMatchObject({
      partitionRows: expect.any(Object),
      checks: expect.any(Array),
      topChangedRows: expect.any(Array),
    });

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(BackfillStateKey)).toBe('completed');
    expect(description.typedSearchAttributes.get(BackfillTargetKey)).toBe(spec.target.table);
  });
});

const untilAwaitingApproval = (handle: Parameters<typeof waitForStatus>[0]) =>
  waitForStatus(handle, (s) => s.state === 'awaiting_approval');

describe('backfillWorkflow: throttle and yield', () => {
  it('pauses on an operator signal between batches and resumes on resume, with both in the audit log', async () => {
    const l = await newLab();
    const spec = testSpec('pause');
    const handle = await l.start(spec);
    await handle.signal(m.pauseSignal, { by: 'oncall', reason: 'warehouse maintenance' });
    const paused = await waitForStatus(handle, (s) => s.state === 'paused');
    expect(paused.pause)
      .toMatchObject({ kind: 'operator', by: 'oncall', reason: 'warehouse maintenance', until: null });
    expect(paused.eta).toBeNull();
    const done = paused.batches.done;
    await new Promise((r) => setTimeout(r, 700));
    expect((await handle.query(m.statusQuery)).batches.done).toBe(done);
    await handle.signal(m.resumeSignal, { by: 'oncall', reason: 'done' });
    const waiting = await untilAwaitingApproval(handle);
    expect(waiting.pause).toBeNull();
    expect(waiting.batches.done).toBe(9);
    const actions = (await new ControlStore(l.warehouse).auditTrail(spec.backfill_id)).map((a) => [a.action, a.actor]);
    expect(actions).toEqual(expect.arrayContaining([['paused', 'oncall'], ['resumed', 'oncall']]));
    await handle.terminate('test over');
  });

  it('waits while the live pipeline signals it is running, and goes on when it signals finished', async () => {
    const l = await newLab();
    const spec = testSpec('live-signal', (s) => {
      s.execution.pause_during_live_pipeline = true;
      s.execution.live_pipeline = { signals: true, poll_interval: 1000 };
    });
    const handle = await l.start(spec);
    await handle.signal(m.livePipelineStartedSignal, { run_id: 'daily-2026-11-21' });
    const paused = await waitForStatus(handle, (s) => s.pause?.kind === 'live_pipeline');
    expect(paused.state).toBe('paused');
    expect(paused.pause?.reason).toContain('daily-2026-11-21');
    await handle.signal(m.livePipelineFinishedSignal, { run_id: 'daily-2026-11-21' });
    expect((await untilAwaitingApproval(handle)).batches.done).toBe(9);
    await handle.terminate('test over');
  });

  it('waits while a Temporal visibility query finds the live pipeline running', async () => {
    const l = await newLab();
    const liveType = `dailyRevenuePipeline_${Date.now().toString(36)}`;
    // A running workflow of the live pipeline's type; nothing polls its queue, so it stays running.
    const live = await labs.env().client.workflow.start(liveType, {
      workflowId: `${liveType}-run`,
      taskQueue: `${liveType}-queue`,
      args: [],
    });
    const spec = testSpec('live-visibility', (s) => {
      s.execution.pause_during_live_pipeline = true;
      s.execution.live_pipeline = {
        visibility_query: `WorkflowType = '${liveType}' AND ExecutionStatus = 'Running'`,
        signals: true,
        poll_interval: 1000,
      };
    });
    // Visibility is eventually consistent: wait until the server counts the live run.
    for (
      let i = 0;
      i < 50 && (await labs.env().client.workflow.count(spec.execution.live_pipeline!.visibility_query)).count === 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const handle = await l.start(spec);
    const paused = await waitForStatus(handle, (s) => s.pause?.kind === 'live_pipeline');
    expect(paused.batches.done).toBe(0);
    expect(paused.pause?.reason).toContain(liveType);
    await live.terminate('live load finished');
    expect((await untilAwaitingApproval(handle)).batches.done).toBe(9);
    await handle.terminate('test over');
  });

  it('does not start a batch inside a UTC pause window', async () => {
    const l = await newLab();
    const hhmm = (d: Date) => d.toISOString().slice(11, 16);
    const now = new Date();
    const spec = testSpec('window', (s) => {
      s.execution.pause_windows = [{ start: hhmm(now), end: hhmm(new Date(now.getTime() + 3 * 60_000)) }];
    });
    const handle = await l.start(spec);
    const paused = await waitForStatus(handle, (s) => s.pause !== null);
    expect(paused.pause).toMatchObject({ kind: 'pause_window', until: expect.any(String) });
    expect(Date.parse(paused.pause!.until!)).toBeGreaterThan(Date.now());
    expect(paused.batches.done).toBe(0);
    await handle.terminate('test over');
  });

  it('stops for the day when the daily scan budget is spent, and takes a concurrency change', async () => {
    const l = await newLab();
    const spec = testSpec('budget', (s) => {
      s.execution.daily_scan_budget = 1;
    });
    const handle = await l.start(spec);
    await handle.signal(m.setConcurrencySignal, { concurrency: 1, by: 'oncall', reason: 'live load is heavy today' });
    const paused = await waitForStatus(handle, (s) => s.pause?.kind === 'scan_budget');
    // The first batch runs even though it alone exceeds the budget; the second waits for the next UTC day.
    expect(paused.batches.done).toBe(1);
    expect(paused.budget.spentToday).toBeGreaterThan(1);
    expect(paused.pause?.until?.slice(11)).toBe('00:00:00.000Z');
    expect(paused.concurrency).toBe(1);
    await handle.terminate('test over');
  });
});

describe('backfillWorkflow: reconciliation halts, operators resolve', () => {
  it('halts on a failed row-count check with production untouched, ' +
    'then a retry after the upstream fix passes', async () => {
    const l = await newLab();
    const spec = testSpec('halt-retry');
    const [victim] = await l.warehouse.query(
      'SELECT CAST(revenue_date AS VARCHAR) AS d, merchant_id FROM finance.daily_revenue ' +
        "WHERE revenue_date = DATE '2025-01-02' ORDER BY merchant_id LIMIT 1",
    );
    const where = `revenue_date = DATE '2025-01-02' AND merchant_id = '${String(victim!.merchant_id)}'`;
    await l.warehouse.execute(
      `CREATE TABLE staging.late_events AS SELECT * FROM staging.revenue_events WHERE ${where}`,
    );
    await l.warehouse.execute(`DELETE FROM staging.revenue_events WHERE ${where}`);
    const prodBefore = await rangeFingerprint(l.warehouse, spec, 'target');

    const handle = await l.start(spec);
    const halted = await waitForStatus(handle, (s) => s.state === 'halted');
    // A lost row is structural: it can be retried or aborted, never accepted.
    expect(halted.halt).toMatchObject({ batch: 1, options: ['retry', 'abort'] });
    expect(halted.halt!.reason).toContain('row');
    expect(halted.lastVerdict?.verdict).toBe('failed');
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(prodBefore);
    // Even an approver's accept, with a reason, is refused at once, audited, and nothing changes.
    const refused = await decide(handle, m.resolveUpdate,
      { action: 'accept', by: 'finance-controller', reason: 'looks fine' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe(BackfillError.NotAllowed);
    expect(String(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).message))
      .toContain('not possible for this halt');
    expect((await handle.query(m.statusQuery)).state).toBe('halted');

    await l.warehouse.execute('INSERT INTO staging.revenue_events SELECT * FROM staging.late_events');
    await decide(handle, m.resolveUpdate, { action: 'retry', by: 'oncall', reason: 'late events loaded' });
    const waiting = await untilAwaitingApproval(handle);
    expect(waiting.batches.done).toBe(9);
    const report = await handle.query(m.reportQuery);
    expect(report.batches).toMatchObject({ passed: 9, failed: 1, accepted: 0 });
    const checkpoints = await new ControlStore(l.warehouse).checkpoints(spec.backfill_id);
    expect(checkpoints.map((c) => c.verdict)).toEqual(Array(9).fill('passed'));
    const actions = (await new ControlStore(l.warehouse).auditTrail(spec.backfill_id)).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['batch_failed', 'resolve_retry']));
    await handle.terminate('test over');
  });

  it('halts when a measure moves outside its expected range; abort fails the run, ' +
    'releases the lease and leaves production as it was', async () => {
    const l = await newLab();
    const spec = testSpec('halt-abort', (s) => {
      s.measures = s.measures.map((x) =>
        x.column === 'net_revenue' ? { ...x, expected_delta: { min: -0.1, max: 0.1 } } : x,
      );
    });
    const prodBefore = await rangeFingerprint(l.warehouse, spec, 'target');
    const handle = await l.start(spec);
    const halted = await waitForStatus(handle, (s) => s.state === 'halted');
    expect(halted.halt?.failures.join(' ')).toContain('net_revenue');
    await decideBySignal(handle, m.resolveSignal,
      { action: 'abort', by: 'oncall', reason: 'expectation was wrong; re-spec' });
    expect(await failureTypeOf(handle)).toBe(BackfillError.Aborted);
    const final = await handle.query(m.statusQuery);
    expect(final.state).toBe('failed');
    expect(final.error).toContain('oncall');
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(prodBefore);
    expect(await new ControlStore(l.warehouse).leaseOf(spec.target.table)).toBeNull();
  });

  it('accepting a failed verdict with a reason checkpoints it as accepted and goes on', async () => {
    const l = await newLab();
    const spec = testSpec('halt-accept', (s) => {
      s.source_range.end = '2025-01-07';
      // The batch band fails the batch; the whole range keeps the example's expectation, which it meets.
      s.measures = s.measures.map((x) =>
        x.column === 'net_revenue' ? { ...x, batch_delta: { min: -0.1, max: 0.1 } } : x,
      );
    });
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'halted');
    await decide(handle, m.resolveUpdate,
      { action: 'accept', by: 'head-of-finance-data', reason: 'range in the spec was a typo' });
    await untilAwaitingApproval(handle);
    const [checkpoint] = await new ControlStore(l.warehouse).checkpoints(spec.backfill_id);
    expect(checkpoint!.verdict).toBe('accepted');
    expect(checkpoint!.provenance.accepted)
      .toMatchObject({ by: 'head-of-finance-data', reason: 'range in the spec was a typo' });
    await handle.terminate('test over');
  });

  it('fails the idempotency proof on a non-deterministic transform before any batch runs', async () => {
    const l = await newLab();
    const spec = testSpec('random', (s) => {
      s.transform = {
        ...s.transform!,
        sql: s.transform!.sql.replace(
          'CAST(sum(gross_amount - tax_amount) AS DECIMAL(18, 2))',
          'CAST(sum(gross_amount - tax_amount) + random() AS DECIMAL(18, 2))',
        ),
      };
    });
    expect(spec.transform!.sql).toContain('random()');
    const prodBefore = await rangeFingerprint(l.warehouse, spec, 'target');
    const handle = await l.start(spec);
    expect(await failureTypeOf(handle)).toBe(BackfillError.NotIdempotent);
    const final = await handle.query(m.statusQuery);
    expect(final.state).toBe('failed');
    expect(final.error).toContain('not deterministic');
    expect(final.batches.done).toBe(0);
    expect(await new ControlStore(l.warehouse).checkpoints(spec.backfill_id)).toEqual([]);
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(prodBefore);
    expect(await new ControlStore(l.warehouse).leaseOf(spec.target.table)).toBeNull();
  });
});

describe('backfillWorkflow: approval', () => {
  it('refuses approval from a non-approver, from the owner and before the shadow is reconciled; records refusals; ' +
    'reject fails the run', async () => {
    const l = await newLab();
    const spec = testSpec('approval', (s) => {
      s.approval = { ...s.approval!, approvers: ['finance-controller', 'Finance-Data', 'alice'] };
    });
    const handle = await l.start(spec, 'alice');
    // Too early: the signal is recorded as a refusal, never fatal.
    await decideBySignal(handle, m.approveSignal, { by: 'finance-controller', comment: 'looks fine' });
    await untilAwaitingApproval(handle);
    const early = (await handle.query(m.statusQuery)).approval!;
    expect(early.approved).toBeNull();
    expect(early.refusals[0]).toMatchObject({ by: 'finance-controller' });

    const updateError = async (by: string) => {
      const e = await decide(handle, m.approveUpdate, { by }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (e as WorkflowUpdateFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe(BackfillError.NotAllowed);
      return cause.message;
    };
    expect(await updateError('mallory')).toContain('finance-controller');
    // The owner and the person who started the run are listed as approvers here, and still may not approve.
    expect(await updateError('finance-data')).toMatch(/owner/i);
    expect(await updateError('alice')).toMatch(/started/i);
    await decideBySignal(handle, m.approveSignal, { by: 'mallory' });
    await waitForStatus(handle, (s) => (s.approval?.refusals.length ?? 0) >= 2);

    await decideBySignal(handle, m.rejectSignal, { by: 'finance-controller', comment: 'numbers need a second look' });
    expect(await failureTypeOf(handle)).toBe(BackfillError.Rejected);
    const final = await handle.query(m.statusQuery);
    expect(final.state).toBe('failed');
    expect(final.approval?.rejected?.by).toBe('finance-controller');
    expect(final.release).toBeNull();
    const actions = (await new ControlStore(l.warehouse).auditTrail(spec.backfill_id)).map((a) => [a.action, a.actor]);
    expect(actions).toEqual(
      expect.arrayContaining([
        ['approve_refused', 'finance-controller'],
        ['approve_refused', 'mallory'],
        ['rejected', 'finance-controller'],
      ]),
    );
    expect(actions.map(([a]) => a)).not.toContain('published');
  });
});

describe('backfillWorkflow: one backfill per target', () => {
  it('refuses a duplicate start of the same backfill_id, and a second backfill on a leased target', async () => {
    const l = await newLab();
    const spec = testSpec('lease');
    const first = await l.start(spec);
    const duplicate = await l.start(spec).catch((e: unknown) => e);
    // A duplicate backfill_id is its own refusal, not the lease's.
    expect(isBackfillFailure(duplicate, BackfillError.DuplicateBackfill)).toBe(true);
    expect(String((duplicate as Error).message)).toContain(spec.backfill_id);
    await waitForStatus(first, (s) => s.state !== 'planning');

    const other = testSpec('lease-other');
    const second = await l.start(other);
    expect(await failureTypeOf(second)).toBe(BackfillError.TargetLeased);
    const status = await second.query(m.statusQuery);
    expect(status.error).toContain(spec.backfill_id);
    // The refused backfill did not take or release the holder's lease.
    expect((await new ControlStore(l.warehouse).leaseOf(spec.target.table))?.backfillId).toBe(spec.backfill_id);
    await first.terminate('test over');
  });

  it('fails without retrying when the spec names a column the target lacks, and says which YAML path', async () => {
    const l = await newLab();
    const spec = testSpec('missing-col', (s) => {
      s.target = { ...s.target, unique_key: ['revenue_date', 'merchant_idx'] };
    });
    const handle = await l.start(spec);
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause?.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(BackfillError.MissingObject);
    expect((cause as ApplicationFailure).message).toContain('target.unique_key[1]');
    expect((await handle.query(m.statusQuery)).state).toBe('failed');
    const history = await handle.fetchHistory();
    const planAttempts = history.events?.filter((e) => e.activityTaskStartedEventAttributes) ?? [];
    expect(planAttempts[0]?.activityTaskStartedEventAttributes?.attempt).toBe(1);
  });

  it('fails with InvalidSpec, without retrying the workflow task, when started with an inverted range', async () => {
    const l = await newLab();
    const spec = { ...exampleSpec(), backfill_id: `inverted-${Date.now().toString(36)}` };
    spec.source_range = { ...spec.source_range, start: '2026-05-31', end: '2024-12-01' };
    const handle = await labs.env().client.workflow.start('backfillWorkflow', {
      workflowId: workflowIdFor(spec.backfill_id),
      taskQueue: l.taskQueue,
      args: [{ spec, startedBy: 'vitest' }],
    });
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe(BackfillError.InvalidSpec);
    expect(cause.message).toContain('2026-05-31..2024-12-01');
  });
});

describe('backfillWorkflow: publish modes', () => {
  it('view mode repoints the consumer view to the corrected table in one statement and rollback points it back; ' +
    'the table itself is never written', async () => {
    const l = await newLab();
    const spec = testSpec('view', (s) => {
      s.publish = { mode: 'view', view: 'finance.daily_revenue_current' };
    });
    const prodBefore = await rangeFingerprint(l.warehouse, spec, 'target');
    const handle = await l.start(spec);
    await untilAwaitingApproval(handle);
    await decide(handle, m.approveUpdate, { by: 'finance-controller' });
    const published = await waitForStatus(handle, (s) => s.state === 'published');
    expect(published.release).toMatchObject({ publishMode: 'view', dataset: 'finance.daily_revenue_current' });
    const viewSum = async () => Number((await l.warehouse.query(
      "SELECT sum(net_revenue) AS s FROM finance.daily_revenue_current WHERE revenue_date BETWEEN DATE '2025-01-01' " +
        "AND DATE '2025-02-28'",
    ))[0]!.s);
    const shadowSum = Number((await l.warehouse.query(
      `SELECT sum(net_revenue) AS s FROM ${spec.target.shadow_table} WHERE revenue_date BETWEEN DATE '2025-01-01' ` +
        `AND DATE '2025-02-28'`,
    ))[0]!.s);
    expect(await viewSum()).toBeCloseTo(shadowSum, 2);
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(prodBefore);
    await decide(handle, m.rollbackUpdate, { by: 'finance-controller', reason: 'exercise' });
    expect((await handle.result()).state).toBe('rolled_back');
    expect(await viewSum()).toBeCloseTo(Number(prodBefore.sums.net_revenue), 2);
  });
});

describe('backfillWorkflow: ends without publishing', () => {
  it('fails with ApprovalExpired when nobody decides within approval.timeout, and releases the lease', async () => {
    const l = await newLab();
    const spec = testSpec('expiry', (s) => {
      s.source_range.end = '2025-01-07';
      s.approval = { ...s.approval!, timeout: 1500 };
    });
    const handle = await l.start(spec);
    expect(await failureTypeOf(handle)).toBe(BackfillError.ApprovalExpired);
    const status = await handle.query(m.statusQuery);
    expect(status.state).toBe('failed');
    expect(status.release).toBeNull();
    expect(await new ControlStore(l.warehouse).leaseOf(spec.target.table)).toBeNull();
  });

  it('a cancelled workflow stops its running batch, leaves production untouched and releases the lease', async () => {
    const l = await newLab();
    const spec = testSpec('cancel', (s) => {
      s.source_range.end = '2025-06-30';
      s.execution.max_concurrency = 1;
    });
    const prodBefore = await rangeFingerprint(l.warehouse, spec, 'target');
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.batches.done >= 2);
    await handle.cancel();
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect((await handle.query(m.statusQuery)).state).toBe('failed');
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(prodBefore);
    expect(await new ControlStore(l.warehouse).leaseOf(spec.target.table)).toBeNull();
  });

  it('refuses a rollback once the window has closed, and keeps the release', async () => {
    const l = await newLab();
    const spec = testSpec('late-rollback', (s) => {
      s.source_range.end = '2025-01-07';
      s.rollback = { ...s.rollback, window: 1000, cleanup: 'after_signoff' };
    });
    const handle = await l.start(spec);
    await untilAwaitingApproval(handle);
    await decide(handle, m.approveUpdate, { by: 'finance-controller' });
    await waitForStatus(handle, (s) => s.state === 'published' && !s.rollback.open);
    const refused = await decide(handle, m.rollbackUpdate, { by: 'oncall', reason: 'too late' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).message).toMatch(/window/i);
    // Waiting for the signoff that drops the snapshot and shadow; then it completes.
    await decideBySignal(handle, m.signoffSignal, { by: 'finance-controller' });
    const result = await handle.result();
    expect(result.state).toBe('completed');
    expect(result.release?.status).toBe('signed_off');
  });
});
