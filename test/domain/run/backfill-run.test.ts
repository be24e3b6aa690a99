/**
 * The run's rules without a server: transitions, halts and their resolution, approval and its
 * refusals, the rollback window, the gate's order, batch accounting and the progress text.
 */
import { describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../../client/load-spec';
import { BackfillError } from '../../../contracts/errors';
import type { BatchOutcome } from '../../../contracts/run';
import type { BackfillState, BatchSummary, ReleaseRecord } from '../../../contracts/status';
import { emptyCumulative } from '../../../domain/reconcile';
import { estimateFinish } from '../../../domain/throttle';
import { BackfillRun, runInputProblems, type GateCheck } from '../../../domain/run/backfill-run';
import type { BackfillSpec } from '../../../domain/spec/schema';

const T0 = Date.parse('2026-06-01T12:00:00.000Z');
const HOUR = 3_600_000;

function specWith(patch: (s: BackfillSpec) => void = () => {}): BackfillSpec {
  const spec = structuredClone(loadSpecFile('examples/revenue-tax-fix.yaml').spec);
  spec.source_range = { ...spec.source_range, start: '2025-01-01', end: '2025-02-28' }; // 59 days: 9 batches of 7
  spec.execution = { ...spec.execution, pause_windows: [], daily_scan_budget: undefined, live_pipeline: undefined };
  patch(spec);
  return spec;
}

/** A run with its effects recorded: the search attribute's values and every details text shown. */
function runOf(spec = specWith(), startedBy = 'alice') {
  const states: BackfillState[] = [];
  const details: string[] = [];
  const run = new BackfillRun(
    { spec, startedBy },
    { stateChanged: (s) => states.push(s), detailsChanged: (d) => details.push(d) },
  );
  return { run, states, details, spec };
}

const plan = {
  totals: { partitions: 59, batches: 9, rows: 5_900, bytes: 59_000, seconds: 9 },
  representativePartition: '2025-01-15',
  warnings: ['plan warning'],
} as never;

/** A run past preparation, ready for batches. */
function prepared(spec = specWith()) {
  const r = runOf(spec);
  r.run.planned(plan);
  r.run.resumeFrom({ batchesDone: 0, partitionsDone: 0, cumulative: emptyCumulative(), recent: [], stale: 0 });
  r.run.proven({ partition: '2025-01-15', rowsWritten: 100, rowHash: 'abc' });
  return r;
}

function outcome(i: number, verdict: BatchSummary['verdict'], acceptable = false): BatchOutcome {
  const summary: BatchSummary = {
    index: i, first: '2025-01-01', last: '2025-01-07', partitions: 7, rowsWritten: 700, verdict, acceptable,
    failures: verdict === 'failed' ? [`net_revenue changed +2% in batch ${i + 1}`] : [], warnings: [],
    measures: [{ column: 'net_revenue', deltaPct: -1.2, cumulativeDeltaPct: -1.2, expected: { min: -1.5, max: -0.8 } }],
    rows: { old: 700, new: 700 }, seconds: 1, bytesScanned: 0, attempt: 1,
  };
  return { summary, cumulative: { ...emptyCumulative(), oldRows: 700 * (i + 1), newRows: 700 * (i + 1) } };
}

/** Runs batch `i` to a verdict; returns the summary the run kept. */
function reconcile(run: BackfillRun, i: number, verdict: BatchSummary['verdict'], acceptable = false) {
  run.batchStarted(i, 1, false);
  return run.batchReconciled(i, outcome(i, verdict, acceptable), false, 1_000, T0);
}

function toApproval(spec = specWith()) {
  const r = prepared(spec);
  for (let i = 0; i < 9; i++) {
    reconcile(r.run, i, 'passed');
    r.run.batchDone(i, false, T0);
  }
  r.run.verifying();
  const waiting = r.run.awaitingApproval(T0);
  return { ...r, waiting };
}

const release: ReleaseRecord = {
  releaseId: 'FIN-2841-release', dataset: 'finance.daily_revenue', backfillId: 'FIN-2841',
  publishedAt: new Date(T0).toISOString(), sourceRange: { start: '2025-01-01', end: '2025-02-28', grain: 'day' },
  codeVersion: 'git:8f31c2a', approvedBy: 'finance-controller', restorePoint: 'finance.daily_revenue_pre_FIN_2841',
  rollbackExpiresAt: new Date(T0 + 24 * HOUR).toISOString(), publishMode: 'range', status: 'published',
};

function toPublished() {
  const r = toApproval();
  r.run.request('approve', { by: 'finance-controller', comment: 'checked' }, 'update', T0);
  r.run.publishing();
  r.run.published(release);
  return r;
}

describe('BackfillRun: states and progress', () => {
  it('starts planning, with every count from the plan shape', () => {
    const { run } = runOf();
    expect(run.status)
      .toMatchObject({ state: 'planning', partitions: { done: 0, total: 59 }, batches: { done: 0, total: 9 } });
    expect(runInputProblems({ spec: specWith(), startedBy: 'alice' })).toEqual([]);
  });

  it('refuses an input the client would have refused, naming the field', () => {
    expect(runInputProblems({ spec: { ...specWith(), backfill_id: 1 } as never, startedBy: 'a' }))
      .toContain('spec.backfill_id is missing');
    const reversed = specWith((s) => (s.source_range = { ...s.source_range, start: '2025-03-01', end: '2025-01-01' }));
    expect(runInputProblems({ spec: reversed, startedBy: 'a' }))
      .toEqual(['source_range 2025-03-01..2025-01-01 is not a valid day range; validate the spec first']);
  });

  it('updates the search attribute only on a change of state, and the details on every change', () => {
    const { run, states, details } = runOf();
    run.planned(plan);
    run.resumeFrom({ batchesDone: 0, partitionsDone: 0, cumulative: emptyCumulative(), recent: [], stale: 0 });
    run.preparingShadow();
    expect(states).toEqual(['preparing']);
    expect(details.at(-1)).toMatch(/^\*\*preparing\*\* — preparing: creating the shadow /);
  });

  it('refuses an impossible transition as a bug', () => {
    const { run } = runOf();
    expect(() => run.moveTo('published', 'x')).toThrow('illegal transition planning -> published');
  });

  it('shows the rollback in the details while it runs (phase changes recompute them)', () => {
    const r = toPublished();
    r.run.request('rollback', { by: 'finance-controller', reason: 'numbers wrong' }, 'update', T0 + HOUR);
    r.run.rollingBack();
    expect(r.details.at(-1)).toMatch(/^\*\*published\*\* — rolling back FIN-2841-release: restoring /);
  });

  it('counts batches from 1 in the details', () => {
    const { run, details } = prepared();
    reconcile(run, 3, 'passed');
    expect(details.at(-1)).toContain('Last batch 4 (2025-01-01..2025-01-07): passed; net_revenue -1.200%');
  });

  it('resumes after checkpointed batches and says so', () => {
    const { run } = runOf();
    run.planned(plan);
    const recent = [outcome(0, 'passed').summary, outcome(1, 'passed').summary];
    run.resumeFrom({ batchesDone: 2, partitionsDone: 14, cumulative: emptyCumulative(), recent, stale: 1 });
    expect(run.status.batches).toEqual({ done: 2, total: 9, resumed: 2 });
    expect(run.nextBatch()).toEqual({ index: 2, redo: false });
    expect(run.status.phase).toContain('resuming after 2 checkpointed batches');
    expect(run.cursor.warnings).toContain('1 checkpoint(s) from another code version or transform were not reused');
  });

  it('fails once: a terminal state keeps its phase, production untouched unless publishing began', () => {
    const a = prepared();
    expect(a.run.failed('boom')).toEqual({ wrote: false });
    expect(a.run.status).toMatchObject({ state: 'failed', error: 'boom', phase: 'failed; production untouched: boom' });
    const b = toPublished();
    expect(b.run.failed('lost')).toEqual({ wrote: true });
    expect(b.run.status.phase).toBe('failed after publishing: lost');
  });
});

describe('BackfillRun: batches', () => {
  it('runs batches in order, then the completion check\'s redos first', () => {
    const { run } = prepared();
    expect(run.nextBatch()).toEqual({ index: 0, redo: false });
    for (let i = 0; i < 9; i++) {
      reconcile(run, i, 'passed');
      run.batchDone(i, false, T0);
    }
    expect(run.nextBatch()).toBeNull();
    expect(run.status.partitions.done).toBe(59);
    run.redoBatches([2, 8]);
    expect(run.status.batches.done).toBe(7);
    expect(run.status.partitions.done).toBe(59 - 7 - 3);
    expect(run.nextBatch()).toEqual({ index: 2, redo: true });
    run.batchStarted(2, 1, true);
    run.batchDone(2, true, T0);
    expect(run.nextBatch()).toEqual({ index: 8, redo: true });
  });

  it('hands the batch its cumulative totals (none for a redo), concurrency and bytes per partition', () => {
    const { run } = prepared();
    expect(run.batchStarted(0, 1, false)).toEqual({
      batchIndex: 0, cumulativeBefore: emptyCumulative(), concurrency: 2, attempt: 1, bytesPerPartition: 1_000,
      mode: 'partition',
    });
    expect(run.batchStarted(0, 2, true).cumulativeBefore).toBeNull();
    expect(run.status.phase).toBe('running batch 1 of 9 (2025-01-01..2025-01-07), again after the completion check');
  });

  it('rewrites set-based batches ahead of their turn, up to the concurrency in flight, not past a closed gate', () => {
    const setBased = (spec = specWith()) => {
      const r = prepared(spec);
      r.run.proven({
        partition: '2025-01-15', rowsWritten: 100, rowHash: 'abc',
        batchMode: { mode: 'range', reason: 'proven', provenOnBatch: 3 },
      });
      return r.run;
    };
    const run = setBased();
    expect(run.batchStarted(0, 1, false).mode).toBe('range');
    // concurrency 2: batch 0 runs, batch 1 may start; with 1 already in flight, nothing more.
    expect(run.aheadOf(0, [], T0).map((r) => [r.batchIndex, r.mode, r.attempt])).toEqual([[1, 'range', 1]]);
    expect(run.aheadOf(0, [1], T0)).toEqual([]);
    // Once batch 0's own rewrite is done (it is being checkpointed), two may run ahead.
    expect(run.aheadOf(0, [1], T0, false).map((r) => r.batchIndex)).toEqual([2]);
    expect(run.aheadOf(0, [], T0, false).map((r) => r.batchIndex)).toEqual([1, 2]);
    run.setConcurrency({ concurrency: 4, by: 'oncall' });
    expect(run.aheadOf(0, [], T0).map((r) => r.batchIndex)).toEqual([1, 2, 3]);
    // The last batch has nothing after it; a redo never looks ahead; neither does a run that is not at i.
    expect(run.aheadOf(8, [], T0)).toEqual([]);
    expect(run.aheadOf(5, [], T0)).toEqual([]);
    // An operator pause stops the lookahead.
    run.pause({ by: 'oncall', reason: 'look' }, T0);
    expect(run.aheadOf(0, [], T0)).toEqual([]);
    // So does a budget that batch 0 (not charged until it is reconciled) and those ahead would overrun.
    const budgeted = setBased(specWith((s) => (s.execution.daily_scan_budget = 13_000)));
    expect(budgeted.aheadOf(0, [], T0)).toEqual([]);
    expect(budgeted.aheadOf(0, [], T0, false)).toEqual([]);
    const roomy = setBased(specWith((s) => (s.execution.daily_scan_budget = 15_000)));
    expect(roomy.aheadOf(0, [], T0, false).map((r) => r.batchIndex)).toEqual([1]);
    // Partition mode spreads a batch's own partitions over the lanes instead.
    expect(prepared().run.aheadOf(0, [], T0)).toEqual([]);
  });

  it('counts verdicts, the pace of passing batches, and the budget the plan estimates', () => {
    const { run } = prepared(specWith((s) => (s.execution.daily_scan_budget = 1_000_000)));
    reconcile(run, 0, 'passed');
    reconcile(run, 1, 'failed');
    expect(run.cursor.verdicts).toEqual({ passed: 1, failed: 1, accepted: 0 });
    expect(run.cursor.batchMs).toBe(1_000);
    expect(run.cursor.cumulative.oldRows).toBe(700);
    expect(run.status.budget).toMatchObject({ spentToday: 14_000, left: 1_000_000 - 14_000 });
  });

  it('keeps the newest batch summaries only, counting the ones it left out', () => {
    const { run } = prepared(specWith((s) => (s.source_range.end = '2025-12-31')));
    for (let i = 0; i < 52; i++) reconcile(run, i, 'passed');
    expect(run.batchesView().items).toHaveLength(50);
    expect(run.batchesView().omitted).toBe(2);
    expect(run.batchesView().items[0]!.index).toBe(2);
  });

  it('estimates the finish while running only', () => {
    const { run } = prepared();
    reconcile(run, 0, 'passed');
    run.batchDone(0, false, T0);
    expect(run.statusView(T0).eta).toBe(new Date(estimateFinish(T0, 1_000, 7, 52)!).toISOString());
    run.yieldTo({ kind: 'wait', pause: { kind: 'operator', reason: 'x', by: 'bob', since: 'now', until: null } }, 1);
    expect(run.statusView(T0).eta).toBeNull();
  });
});

describe('BackfillRun: halts and their resolution', () => {
  it('halts on a failed verdict with the batch counted from 1 everywhere on the line', () => {
    const { run } = prepared();
    const summary = reconcile(run, 3, 'failed', true);
    run.haltOnVerdict(3, summary, T0);
    expect(run.status.state).toBe('halted');
    expect(run.status.halt).toMatchObject({ batch: 4, options: ['retry', 'abort', 'accept'] });
    expect(run.status.phase).toBe('halted at batch 4: reconciliation failed: net_revenue changed +2% in batch 4. ' +
      'Production is untouched; send resolve with retry, abort or accept.');
  });

  it('halts at the completion check without a batch number', () => {
    const { run } = prepared();
    run.haltOnCompletion({ complete: false, missingBatches: [2], problems: ['partition 2025-01-15: …'] }, T0);
    expect(run.status.halt?.batch).toBeNull();
    expect(run.status.phase).toMatch(/^halted at the completion check: completion check: partition 2025-01-15/);
    run.request('resolve', { action: 'abort', by: 'bob', reason: 'investigate' }, 'update', T0);
    expect(run.aborted(run.takeResolution()!, null)).toEqual({
      type: BackfillError.Aborted, message: 'aborted by bob at the completion check: investigate',
    });
  });

  it('offers accept only when aggregate checks alone failed, whoever asks', () => {
    const { run } = prepared();
    run.haltOnVerdict(0, reconcile(run, 0, 'failed', false), T0);
    const h = run.request('resolve', { action: 'accept', by: 'finance-controller', reason: 'ok' }, 'update', T0);
    expect(h.refused).toMatch(/^resolve refused: "accept" is not possible for this halt .*; send one of retry, abort$/);
    expect(h.audit).toEqual({
      actor: 'finance-controller',
      action: 'resolve_refused',
      detail: { problem: h.refused, via: 'update' },
    });
    expect(run.resolution).toBeNull();
  });

  it('lets an approver accept (four eyes), records the batch as people count it, then goes on', () => {
    const { run } = prepared();
    const summary = reconcile(run, 4, 'failed', true);
    run.haltOnVerdict(4, summary, T0);
    expect(run.request('resolve', { action: 'accept', by: 'finance-data', reason: 'fine' }, 'update', T0).refused)
      .toMatch(/^resolve "accept" refused: "finance-data" /);
    const h = run.request('resolve', { action: 'accept', by: 'finance-controller', reason: 'expected' }, 'signal', T0);
    expect(h).toEqual({
      refused: null, message: 'accept accepted',
      audit: { actor: 'finance-controller', action: 'resolve_accept', detail: { batch: 5, reason: 'expected' } },
    });
    expect(run.request('resolve', { action: 'retry', by: 'bob' }, 'update', T0).refused)
      .toBe('resolve refused: a decision for this halt is already being applied');
    const r = run.takeResolution()!;
    expect(run.status.halt).toBeNull();
    run.batchAccepted(4, r, outcome(4, 'failed', true), summary, false);
    expect(summary.verdict).toBe('accepted');
    expect(run.cursor.verdicts).toMatchObject({ failed: 1, accepted: 1 });
    expect(run.status.phase).toBe('batch 5 accepted by finance-controller: expected');
  });

  it('halts on a batch that could not run with retry and abort only', () => {
    const { run } = prepared();
    run.batchStarted(0, 1, false);
    run.haltOnBatchError(0, 'connection reset', T0);
    expect(run.status.halt).toMatchObject({ batch: 1, options: ['retry', 'abort'], failures: ['connection reset'] });
    expect(run.takeResolution()).toBeNull();
  });
});

describe('BackfillRun: approval', () => {
  it('waits for a listed approver until the deadline, set once', () => {
    const { run, waiting } = toApproval();
    expect(waiting).toEqual({ deadlineMs: T0 + 7 * 24 * HOUR });
    expect(run.status.phase).toMatch(/^awaiting approval from finance-controller or head-of-finance-data until /);
    expect(run.awaitingApproval(T0 + HOUR)).toEqual(waiting);
    expect(run.decided()).toBe(false);
    expect(run.approvalOutcome()).toMatchObject({ type: BackfillError.ApprovalExpired });
  });

  it('refuses the owner, the starter and anyone unlisted, keeping the newest refusals', () => {
    const { run } = toApproval();
    for (const by of ['finance-data', 'alice', 'mallory']) {
      expect(run.request('approve', { by }, 'signal', T0).refused).not.toBeNull();
    }
    expect(run.status.approval!.refusals.map((r) => r.by)).toEqual(['finance-data', 'alice', 'mallory']);
    for (let i = 0; i < 30; i++) run.request('approve', { by: `x${i}` }, 'signal', T0);
    expect(run.status.approval!.refusals).toHaveLength(20);
    expect(run.status.approval!.refusals.at(-1)!.by).toBe('x29');
    expect(run.decided()).toBe(false);
  });

  it('takes one decision: approve, then a second approve or a reject is refused', () => {
    const { run } = toApproval();
    const wake = run.wake;
    const h = run.request('approve', { by: ' finance-controller ', comment: 'checked' }, 'update', T0);
    expect(h).toMatchObject({ refused: null, message: 'approved by finance-controller' });
    expect(h.audit).toEqual({ actor: 'finance-controller', action: 'approved', detail: { comment: 'checked' } });
    expect(run.wake).toBe(wake + 1);
    expect(run.approvalOutcome())
      .toEqual({ approved: { by: 'finance-controller', comment: 'checked', at: new Date(T0).toISOString() } });
    expect(run.request('reject', { by: 'head-of-finance-data' }, 'update', T0).refused)
      .toMatch(/^reject refused: the backfill was already approved by finance-controller at /);
  });

  it('ends with a rejection, production untouched', () => {
    const { run } = toApproval();
    run.request('reject', { by: 'head-of-finance-data', comment: 'too big' }, 'update', T0);
    expect(run.approvalOutcome()).toEqual({
      type: BackfillError.Rejected, message: 'rejected by head-of-finance-data: too big; production is untouched.',
    });
  });

  it('refuses approval before the run is ready for it', () => {
    const { run } = prepared();
    expect(run.request('approve', { by: 'finance-controller' }, 'update', T0).refused)
      .toMatch(/^cannot approve: the backfill is preparing/);
  });

  it('refuses to wait for approval when the spec names no approvers', () => {
    const { run } = runOf(specWith((s) => (s.approval = undefined)));
    expect(run.awaitingApproval(T0)).toMatchObject({ type: BackfillError.SpecNotRunnable });
  });
});

describe('BackfillRun: the rollback window', () => {
  it('opens on publish and takes one rollback from an allowed person within it', () => {
    const { run } = toPublished();
    expect(run.status.rollback).toMatchObject({ open: true, expiresAt: release.rollbackExpiresAt });
    expect(run.windowMsLeft(T0)).toBe(24 * HOUR);
    expect(run.request('rollback', { by: 'mallory', reason: 'x' }, 'update', T0).refused)
      .toMatch(/^rollback refused: "mallory"/);
    expect(run.request('rollback', { by: 'finance-data', reason: 'wrong' }, 'update', T0 + 25 * HOUR).refused)
      .toMatch(/^cannot roll back: the rollback window closed at /);
    expect(run.request('rollback', { by: 'finance-data', reason: 'wrong' }, 'update', T0).refused).toBeNull();
    expect(run.windowRequested()).toBe(true);
    expect(run.request('signoff', { by: 'finance-data' }, 'update', T0).refused)
      .toBe('signoff refused: a rollback or signoff is already in progress');
    const r = run.rollingBack();
    run.rolledBack(r, { release: { ...release, status: 'rolled_back' }, rowsRestored: 5_900 });
    run.rollbackFinished(r);
    expect(run.status).toMatchObject({
      state: 'rolled_back',
      rollback: { open: false, rolledBack: { by: 'finance-data', rowsRestored: 5_900 } },
    });
  });

  it('keeps the window open after a refused rollback, and says so', () => {
    const { run } = toPublished();
    run.request('rollback', { by: 'finance-data', reason: 'wrong' }, 'update', T0);
    const entry = run.rollbackRefused(run.rollingBack(), 'the restore point changed');
    expect(entry)
      .toEqual({ actor: 'finance-data', action: 'rollback_refused', detail: { problem: 'the restore point changed' } });
    expect(run.status.state).toBe('published');
    expect(run.status.phase).toMatch(/a rollback was refused \(the restore point changed\); window open until /);
    expect(run.rollbackRequest).toBeNull();
    expect(run.request('signoff', { by: 'finance-data' }, 'update', T0).refused).toBeNull();
  });

  it('waits for a signoff to clean up when the spec says after_signoff, then completes', () => {
    const { run } = toPublished();
    expect(run.windowClosed()).toBe('rollback window ended');
    expect(run.status).toMatchObject({
      phase: 'rollback window ended; releasing the lease on finance.daily_revenue', rollback: { open: false },
    });
    expect(run.awaitsSignoff()).toBe(true);
    expect(run.status.phase).toMatch(/^rollback window ended; waiting for signoff to drop /);
    run.request('signoff', { by: 'finance-controller', comment: 'ok' }, 'signal', T0);
    expect(run.awaitsSignoff()).toBe(false);
    run.signedOff({ ...release, status: 'signed_off' });
    expect(run.cleanupReason()).toBe('signed off by finance-controller');
    run.cleanedUp({ dropped: ['a'], kept: [{ table: 'b', why: 'a view serves it' }] });
    expect(run.status.state).toBe('completed');
    expect(run.status.phase)
      .toBe('completed: FIN-2841-release signed off by finance-controller; dropped a; kept b (see warnings)');
    expect(run.cursor.warnings).toContain('kept b: a view serves it');
  });
});

describe('BackfillRun: the gate', () => {
  const busy = () => specWith((s) => {
    s.execution.pause_during_live_pipeline = true;
    s.execution.live_pipeline = { signals: true, poll_interval: 30_000, visibility_query: "WorkflowType = 'live'" };
    s.execution.pause_windows = [{ start: '11:30', end: '12:30' }];
    s.execution.daily_scan_budget = 10_000;
  });
  const kind = (c: GateCheck) => (c.kind === 'wait' ? c.pause.kind : c.kind);

  it('checks operator pause, live pipeline signals, pause windows, the budget, then visibility, in that order', () => {
    const { run } = prepared(busy());
    run.pause({ by: 'bob', reason: 'maintenance' }, T0);
    run.livePipelineStarted({ run_id: 'nightly' });
    run.status.budget.spentToday = 10_000;
    run.status.budget.day = '2026-06-01';
    const order: string[] = [];
    order.push(kind(run.gateCheck(0, T0)));
    run.resume({ by: 'bob' });
    order.push(kind(run.gateCheck(0, T0)));
    run.livePipelineFinished({ run_id: 'nightly' });
    order.push(kind(run.gateCheck(0, T0)));
    order.push(kind(run.gateCheck(0, T0 + HOUR)));
    run.status.budget.spentToday = 0;
    order.push(kind(run.gateCheck(0, T0 + HOUR)));
    expect(order).toEqual(['operator', 'live_pipeline', 'pause_window', 'scan_budget', 'ask']);
  });

  it('asks the visibility store at most once per poll interval once clear', () => {
    const { run } = prepared(busy());
    const at = T0 + HOUR;
    expect(run.visibilityAnswer(2, "WorkflowType = 'live'", at)).toMatchObject({
      kind: 'wait',
      pause: {
        kind: 'live_pipeline',
        reason: "2 live pipeline run(s) match WorkflowType = 'live'",
        until: new Date(at + 30_000).toISOString(),
      },
    });
    expect(run.visibilityAnswer(0, "WorkflowType = 'live'", at)).toEqual({ kind: 'clear' });
    expect(run.gateCheck(0, at + 10_000)).toEqual({ kind: 'clear' });
    expect(run.gateCheck(0, at + 30_000)).toMatchObject({ kind: 'ask' });
  });

  it('audits a new kind of wait once, and its end; waits until the block lifts or a request', () => {
    const { run, states } = prepared();
    const wait: GateCheck = {
      kind: 'wait',
      pause: {
        kind: 'pause_window',
        reason: 'window',
        by: null,
        since: 's',
        until: new Date(T0 + 60_000).toISOString(),
      },
    };
    expect(run.yieldEntry(wait))
      .toEqual({ actor: 'workflow', action: 'yielding', detail: { kind: 'pause_window', reason: 'window' } });
    expect(run.yieldTo(wait, 2)).toBe(true);
    expect(run.status.phase).toBe('paused before batch 3: window');
    expect(run.waitMs(T0)).toBe(60_000);
    expect(run.yieldEntry(wait)).toBeNull();
    expect(run.yieldEntry({ kind: 'clear' }))
      .toEqual({ actor: 'workflow', action: 'yield_ended', detail: { kind: 'pause_window', since: 's' } });
    expect(run.yieldTo({ kind: 'clear' }, 2)).toBe(false);
    expect(run.status.pause).toBeNull();
    expect(run.yieldEntry({ kind: 'clear' })).toBeNull();
    expect(states.at(-1)).toBe('paused');
  });
});

describe('BackfillRun: what an operator sees of a refusal', () => {
  it('a pause during approval is refused, kept as the latest refusal, and shown in the details as code', () => {
    const { run, details } = toApproval();
    const h = run.pause({ by: 'oncall', reason: 'month end' }, T0);
    expect(h.refused).toBe(
      'pause refused: pausing stops batches from starting, and the backfill is awaiting_approval ' +
        '(no batches left to hold; approve, reject or cancel it)',
    );
    expect(run.status.lastRefusal).toEqual({
      request: 'pause', by: 'oncall', reason: h.refused, at: new Date(T0).toISOString(),
    });
    const at = new Date(T0).toISOString();
    expect(details.at(-1)).toContain(`Last refused: pause from "oncall" at ${at}: pause refused`);
    // A wrong approver from the UI's form: the refusal is in the details, its JSON example as inline code.
    run.request('approve', { by: 'mallory' }, 'signal', T0);
    expect(details.at(-1)).toContain(`Last refused: approve from "mallory" at ${at}: approve refused:`);
    run.request('approve', { comment: 'looks fine' }, 'signal', T0);
    expect(details.at(-1)).toMatch(/Last refused: approve from .*: approve needs "by" .*`\{"by": "[^`]*\}`$/);
    // The phase's example too: Markdown would curl the quotes of plain text.
    expect(details.at(-1)).toContain('Send approve or reject with `{"by": "...", "comment": "..."}`.');
  });

  it('has no ETA unless running', () => {
    const { run } = prepared();
    reconcile(run, 0, 'passed');
    run.batchDone(0, false, T0);
    expect(run.statusView(T0).eta).not.toBeNull();
    reconcile(run, 1, 'failed');
    run.haltOnVerdict(1, run.status.lastVerdict!, T0);
    expect(run.status.state).toBe('halted');
    expect(run.statusView(T0).eta).toBeNull();
  });
});

describe('BackfillRun: cancel', () => {
  it('stops a run before publishing, by anyone named with a reason; nothing after it is accepted', () => {
    const { run } = prepared();
    reconcile(run, 0, 'passed');
    expect(run.request('cancel', { by: 'oncall' }, 'update', T0).refused)
      .toBe('cancel needs "reason" (it goes into the audit log): send {"by": "your-name", "reason": "why"}');
    expect(run.request('cancel', { reason: 'x' }, 'signal', T0).refused).toMatch(/cancel needs "by"/);
    expect(run.cancelRequest).toBeNull();
    const h = run.request('cancel', { by: ' oncall ', reason: 'wrong fix' }, 'update', T0);
    expect(h).toEqual({
      refused: null,
      audit: { actor: 'oncall', action: 'cancel_requested', detail: { reason: 'wrong fix', state: 'running' } },
      message: 'cancelled by oncall: the run stops; production is untouched and the lease released',
    });
    expect(run.cancelRequest).toMatchObject({ by: 'oncall', comment: 'wrong fix' });
    expect(run.cancelled()).toEqual({ type: BackfillError.Aborted, message: 'cancelled by oncall: wrong fix' });
    expect(run.request('cancel', { by: 'bob', reason: 'again' }, 'update', T0).refused)
      .toBe('cancel refused: already cancelled by oncall');
    expect(run.request('resolve', { action: 'retry', by: 'bob' }, 'update', T0).refused)
      .toBe('resolve refused: the backfill was cancelled by oncall and is stopping');
  });

  it('is refused once publishing has started: rollback and signoff are the ways out', () => {
    const { run } = toPublished();
    expect(run.request('cancel', { by: 'oncall', reason: 'late' }, 'update', T0).refused).toBe(
      'cannot cancel: the backfill is published; production is being or has been written: ' +
        'roll back within the window, or sign off',
    );
    expect(run.cancelRequest).toBeNull();
    const waiting = toApproval().run;
    expect(waiting.request('cancel', { by: 'oncall', reason: 'not now' }, 'signal', T0).refused).toBeNull();
  });
});

describe('BackfillRun: operator requests', () => {
  it('pauses with a reason and resumes, each audited; refuses a pause without one', () => {
    const { run } = prepared();
    expect(run.pause({ by: 'bob' }, T0))
      .toMatchObject({ refused: expect.stringMatching(/pause needs "reason"/), audit: { action: 'pause_refused' } });
    expect(run.pause({ by: 'bob', reason: ' maintenance ' }, T0).audit)
      .toEqual({ actor: 'bob', action: 'paused', detail: { reason: ' maintenance ' } });
    expect(run.cursor.operatorPause).toEqual({ by: 'bob', reason: 'maintenance', since: new Date(T0).toISOString() });
    expect(run.resume(undefined).audit).toEqual({ actor: 'operator', action: 'resumed', detail: { reason: null } });
    expect(run.resume({ by: 'bob' }).audit).toBeNull();
  });

  it('bounds the live runs it tracks', () => {
    const { run } = prepared();
    for (let i = 0; i < 100; i++) run.livePipelineStarted({ run_id: `r${i}` });
    expect(run.livePipelineStarted({ run_id: 'one-more' }).refused).toMatch(/100 live runs are already open/);
    expect(run.livePipelineStarted({ run_id: 'r5' }).refused).toBeNull();
    expect(run.cursor.liveRuns).toHaveLength(100);
  });

  it('changes concurrency within its bound', () => {
    const { run } = prepared();
    expect(run.setConcurrency({ concurrency: 65 }).refused).toMatch(/1\.\.64/);
    expect(run.setConcurrency({ concurrency: 8, by: 'bob' }).audit).toEqual({
      actor: 'bob', action: 'concurrency_changed', detail: { from: 2, to: 8, reason: null },
    });
    expect(run.status.concurrency).toBe(8);
  });
});

describe('decisions carry the digest of the state they decide on', () => {
  const completed = (rowHash: string) =>
    ({ complete: true, missingBatches: [], problems: [], shadow: { rows: 6300, rowHash, sums: {} } });
  /** A run started by code that checks digests (the workflow sets this through a patch). */
  function digestedApproval(patch: (s: BackfillSpec) => void = () => {}) {
    const r = prepared(specWith(patch));
    r.run.digestsRequired = true;
    for (let i = 0; i < 9; i++) {
      reconcile(r.run, i, 'passed');
      r.run.batchDone(i, false, T0);
    }
    r.run.verifying();
    r.run.verified(completed('h1'));
    r.run.awaitingApproval(T0);
    return r;
  }

  it('shows the digest in status and the details only while a decision is open', () => {
    const r = prepared();
    r.run.digestsRequired = true;
    reconcile(r.run, 0, 'passed');
    expect(r.run.statusView(T0).decisionDigest).toBeNull();
    const { run, details } = digestedApproval();
    const digest = run.statusView(T0).decisionDigest!;
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(details.at(-1)).toContain(`Decision digest: \`${digest}\``);
    expect(run.status.phase).toContain('{"by": "...", "comment": "...", "digest": "..."}');
  });

  it('differs when the shadow differs, with everything else equal', () => {
    const a = digestedApproval().run;
    const b = prepared();
    b.run.digestsRequired = true;
    for (let i = 0; i < 9; i++) {
      reconcile(b.run, i, 'passed');
      b.run.batchDone(i, false, T0);
    }
    b.run.verified(completed('h2'));
    b.run.awaitingApproval(T0);
    expect(b.run.statusView(T0).decisionDigest).not.toBe(a.statusView(T0).decisionDigest);
  });

  it('refuses an approval without a digest, or with another state\'s, and keeps it with a matching one', () => {
    const { run } = digestedApproval();
    const digest = run.statusView(T0).decisionDigest!;
    const blind = run.request('approve', { by: 'finance-controller' }, 'update', T0);
    expect(blind.refused).toContain('approve needs "digest"');
    const stale = run.request('approve', { by: 'finance-controller', digest: 'a'.repeat(64) }, 'update', T0);
    expect(stale.refused).toContain('the state changed since you looked');
    const junk = run.request('approve', { by: 'finance-controller', digest: 'x'.repeat(5000) }, 'update', T0);
    expect(junk.refused).toContain('"digest" is 5000 characters, more than the 64 allowed');
    expect(run.status.state).toBe('awaiting_approval');
    const ok = run.request('approve', { by: 'finance-controller', comment: 'checked', digest }, 'update', T0);
    expect(ok.refused).toBeNull();
    expect(ok.audit).toEqual({
      actor: 'finance-controller', action: 'approved',
      detail: { comment: 'checked', digest, key_id: null, signature: null },
    });
    expect(run.status.approval!.approved).toMatchObject({ by: 'finance-controller', digest, keyId: null });
  });

  it('who-and-when refusals come first; retry, abort and cancel need no digest', () => {
    const { run } = digestedApproval();
    expect(run.request('approve', { by: 'mallory' }, 'update', T0).refused).toContain('"mallory" is not an approver');
    expect(run.request('cancel', { by: 'oncall', reason: 'wrong fix' }, 'update', T0).refused).toBeNull();
  });

  it('with require_signature, asks the worker to check the signed text, and judges its verdict', () => {
    const { run } = digestedApproval((s) => {
      s.approval = { ...s.approval!, require_signature: true };
    });
    const digest = run.statusView(T0).decisionDigest!;
    expect(run.statusView(T0).signaturesRequired).toBe(true);
    const unsigned = { by: 'finance-controller', comment: 'ok', digest };
    expect(run.signatureToCheck('approve', unsigned, T0)).toBeNull();
    expect(run.request('approve', unsigned, 'update', T0).refused).toContain('approve needs "key_id"');
    const req = { ...unsigned, key_id: '0123456789abcdef', signature: 'c2lnbmF0dXJl' };
    const toCheck = run.signatureToCheck('approve', req, T0)!;
    expect(JSON.parse(toCheck.message)).toEqual({
      backfill_id: run.status.backfillId, by: 'finance-controller', decision: 'approve', digest, text: 'ok', v: 1,
    });
    // A refused who-and-when is never sent to the worker.
    expect(run.signatureToCheck('approve', { ...req, by: 'mallory' }, T0)).toBeNull();
    expect(run.request('approve', req, 'update', T0, { ok: false, problem: 'key 0123 is not trusted' }).refused)
      .toBe('approve refused: key 0123 is not trusted');
    const key = '0123456789abcdef';
    expect(run.request('approve', req, 'update', T0, { ok: true, keyId: key, name: 'head-of-finance-data' }).refused)
      .toContain('belongs to "head-of-finance-data", not "finance-controller"');
    const ok = run.request('approve', req, 'update', T0, { ok: true, keyId: key, name: 'Finance-Controller' });
    expect(ok.refused).toBeNull();
    expect(ok.message).toBe('approved by finance-controller (signed with key 0123456789abcdef)');
    expect(run.status.approval!.approved).toMatchObject({ keyId: '0123456789abcdef', signature: 'c2lnbmF0dXJl' });
  });

  it('a run started before digests decides without one', () => {
    const { run } = toApproval();
    expect(run.statusView(T0).decisionDigest).toBeUndefined();
    expect(run.request('approve', { by: 'finance-controller' }, 'update', T0).refused).toBeNull();
  });
});

describe('monitors in the rollback window', () => {
  const monitor = (on_breach: 'block' | 'rollback') => ({
    name: 'monthly-net-revenue', description: 'months moved more than 2%', sql: 'SELECT 0', max: 0,
    tolerance: 0, interval: HOUR, on_breach,
  });
  function published(on_breach: 'block' | 'rollback') {
    const r = prepared(specWith((s) => {
      s.rollback = { ...s.rollback, monitors: [monitor(on_breach)] };
    }));
    for (let i = 0; i < 9; i++) {
      reconcile(r.run, i, 'passed');
      r.run.batchDone(i, false, T0);
    }
    r.run.awaitingApproval(T0);
    r.run.request('approve', { by: 'finance-controller', comment: 'checked' }, 'update', T0);
    r.run.publishing();
    r.run.published(release);
    return r;
  }
  const result = (value: number, ok: boolean, on_breach: 'block' | 'rollback' = 'block') => ({
    name: 'monthly-net-revenue', value, ok, message: ok ? 'monthly-net-revenue: 0, expected at most 0'
      : `monthly-net-revenue (months moved more than 2%) breached: ${value}, expected at most 0`,
    at: new Date(T0).toISOString(), onBreach: on_breach,
  });

  it('evaluates every monitor at first, then each when its interval has passed', () => {
    const { run } = published('block');
    expect(run.dueMonitors(T0)).toEqual(['monthly-net-revenue']);
    run.monitorsEvaluated([result(0, true)], T0);
    expect(run.dueMonitors(T0 + HOUR - 1)).toEqual([]);
    expect(run.monitorWaitMs(T0)).toBe(HOUR);
    expect(run.dueMonitors(T0 + HOUR)).toEqual(['monthly-net-revenue']);
  });

  it('a breach is audited, shown in the details, and blocks signoff until it passes again', () => {
    const { run, details } = published('block');
    expect(run.monitorsEvaluated([result(3, false)], T0)).toEqual([{
      actor: 'workflow', action: 'monitor_breached',
      detail: { monitor: 'monthly-net-revenue', value: 3, message: expect.stringContaining('breached: 3') },
    }]);
    expect(details.at(-1)).toContain('**monthly-net-revenue (months moved more than 2%) breached: 3');
    const refused = run.request('signoff', { by: 'finance-controller' }, 'update', T0 + 1);
    expect(refused.refused).toContain('signoff refused: monthly-net-revenue (months moved more than 2%) breached: 3');
    expect(refused.refused).toContain(`next evaluation at ${new Date(T0 + HOUR).toISOString()}`);
    expect(run.rollbackRequest).toBeNull();
    expect(run.monitorsEvaluated([result(0, true)], T0 + HOUR)).toMatchObject([{ action: 'monitor_passed' }]);
    expect(run.request('signoff', { by: 'finance-controller' }, 'update', T0 + HOUR).refused).toBeNull();
  });

  it('with on_breach: rollback, a breach asks for the rollback itself, saying why', () => {
    const { run } = published('rollback');
    const entries = run.monitorsEvaluated([result(3, false, 'rollback')], T0);
    expect(entries.map((e) => e.action)).toEqual(['monitor_breached', 'rollback_requested']);
    expect(run.rollbackRequest).toMatchObject({ by: 'workflow', comment: expect.stringContaining('breached: 3') });
    expect(run.windowRequested()).toBe(true);
  });
});

describe('the running total against the whole range', () => {
  it('keeps one warning per measure, replaced after every batch and gone once back inside', () => {
    const { run } = prepared();
    const withRunning = (i: number, message: string | null) => {
      run.batchStarted(i, 1, false);
      const o = outcome(i, 'passed');
      const summary = { ...o.summary, ...(message ? { runningTotal: [{ measure: 'net_revenue', message }] } : {}) };
      run.batchReconciled(i, { ...o, summary }, false, 1_000, T0);
      run.batchDone(i, false, T0);
    };
    withRunning(0, 'net_revenue changed -2.00% over the 7 partitions reconciled so far');
    withRunning(1, 'net_revenue changed -1.90% over the 14 partitions reconciled so far');
    expect(run.report().warnings.filter((w) => w.startsWith('running total of net_revenue: '))).toEqual([
      'running total of net_revenue: net_revenue changed -1.90% over the 14 partitions reconciled so far',
    ]);
    withRunning(2, null);
    expect(run.report().warnings.some((w) => w.startsWith('running total of'))).toBe(false);
  });
});
