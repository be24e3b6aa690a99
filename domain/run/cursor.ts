/** The plain-JSON state a run starts from; continue-as-new carries it on unchanged. */
import type { BackfillCursor, BackfillInput } from '../../contracts/status';
import type { PlanShape } from '../plan';
import { emptyCumulative } from '../reconcile';

export function initialCursor(input: BackfillInput, shape: PlanShape): BackfillCursor {
  const { spec } = input;
  const budget = spec.execution.daily_scan_budget ?? null;
  return {
    status: {
      backfillId: spec.backfill_id,
      state: 'planning',
      phase: 'planning: checking the target and estimating the range',
      target: spec.target.table,
      shadow: spec.target.shadow_table,
      snapshot: spec.rollback.snapshot,
      owner: spec.owner,
      startedBy: input.startedBy,
      range: { start: spec.source_range.start, end: spec.source_range.end, grain: spec.source_range.grain },
      partitions: { done: 0, total: shape.partitions },
      batches: { done: 0, total: shape.batches, resumed: 0 },
      currentBatch: null,
      concurrency: spec.execution.max_concurrency,
      pause: null,
      halt: null,
      budget: { dailyBytes: budget, day: null, spentToday: 0, left: budget },
      eta: null,
      lastVerdict: null,
      proof: null,
      approval: spec.approval
        ? {
          approvers: spec.approval.approvers,
          allowOwner: spec.approval.allow_owner,
          deadline: null,
          approved: null,
          rejected: null,
          refusals: [],
        }
        : null,
      release: null,
      rollback: {
        windowMs: spec.rollback.window,
        expiresAt: null,
        open: false,
        rolledBack: null,
        signedOff: null,
        cleanup: spec.rollback.cleanup,
        cleanedUp: null,
      },
      plan: null,
      error: null,
      lastRefusal: null,
      continuedAsNew: 0,
    },
    nextBatch: 0,
    redo: [],
    cumulative: emptyCumulative(),
    recentBatches: [],
    omittedBatches: 0,
    verdicts: { passed: 0, failed: 0, accepted: 0 },
    liveRuns: [],
    operatorPause: null,
    setupDone: false,
    batchMs: 0,
    batchPartitions: 0,
    lastVisibilityClear: null,
    warnings: [],
  };
}
