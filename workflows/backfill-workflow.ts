/**
 * One workflow per backfill; it reads like the runbook. Orchestration only: state rules live in
 * domain/lifecycle.ts, planning in domain/plan.ts, all I/O in activities.
 */
import { ApplicationFailure, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { BackfillError, nonRetryableErrorTypes } from '../contracts/errors';
import { messageDescriptions, statusQuery } from '../contracts/messages';
import { BackfillStateKey } from '../contracts/search-attributes';
import type { BackfillInput, BackfillState, BackfillStatus } from '../contracts/status';
import { canMove, inputProblems } from '../domain/lifecycle';
import { planShape, type PlanShape } from '../domain/plan';

/** Short metadata calls (plan, control-schema bookkeeping). */
const metadata = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes },
});

/** A plain Error here would fail the workflow task and retry forever; a bad range is bad input. */
function shapeOf(spec: BackfillInput['spec']): PlanShape {
  try {
    return planShape(spec);
  } catch (e) {
    throw ApplicationFailure.nonRetryable(`Invalid backfill input: ${(e as Error).message}`, BackfillError.InvalidSpec);
  }
}

export async function backfillWorkflow(input: BackfillInput): Promise<BackfillStatus> {
  const problems = inputProblems(input);
  if (problems.length) {
    throw ApplicationFailure.nonRetryable(`Invalid backfill input: ${problems.join('; ')}`, BackfillError.InvalidSpec);
  }
  const { spec } = input;
  const shape = shapeOf(spec);
  const status: BackfillStatus = {
    backfillId: spec.backfill_id,
    state: 'planning',
    phase: 'planning: checking the target and estimating the range',
    target: spec.target.table,
    range: { start: spec.source_range.start, end: spec.source_range.end, grain: spec.source_range.grain },
    partitions: { done: 0, total: shape.partitions },
    batches: { done: 0, total: shape.batches },
    plan: null,
    error: null,
  };
  setHandler(statusQuery, () => status, { description: messageDescriptions.status });

  const moveTo = (state: BackfillState, phase: string) => {
    if (!canMove(status.state, state)) throw new Error(`illegal transition ${status.state} -> ${state}`);
    status.state = state;
    status.phase = phase;
    upsertSearchAttributes([{ key: BackfillStateKey, value: state }]);
  };

  try {
    status.plan = await metadata.planBackfill(spec, input.startedBy);
    moveTo('planned', `planned: ${shape.partitions} partitions in ${shape.batches} batches, recorded in the control schema`);
  } catch (e) {
    status.error = e instanceof Error ? e.message : String(e);
    moveTo('failed', 'failed while planning');
    throw e;
  }
  // The lifecycle (snapshot, shadow batches, approval, publish) builds on this; the skeleton ends here.
  moveTo('completed', 'completed: plan recorded');
  return status;
}
