/**
 * Starting a backfill: one workflow per backfill_id. A duplicate start while it runs, or after it
 * completed, is refused by the server; a failed or terminated run may be started again (it resumes
 * from the control schema's checkpoints).
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { BackfillOwnerKey, BackfillStateKey, BackfillTargetKey } from '../contracts/search-attributes';
import { TASK_QUEUE, workflowIdFor } from '../contracts/settings';
import type { BackfillInput } from '../contracts/status';
import type { BackfillSpec } from '../domain/spec/schema';
import { backfillWorkflow } from '../workflows';

export interface StartOptions {
  startedBy: string;
  taskQueue?: string;
}

export async function startBackfill(client: Client, spec: BackfillSpec, opts: StartOptions) {
  const workflowId = workflowIdFor(spec.backfill_id);
  const input: BackfillInput = { spec, startedBy: opts.startedBy };
  try {
    return await client.workflow.start(backfillWorkflow, {
      workflowId,
      taskQueue: opts.taskQueue ?? TASK_QUEUE,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      typedSearchAttributes: [
        { key: BackfillStateKey, value: 'planning' },
        { key: BackfillTargetKey, value: spec.target.table },
        { key: BackfillOwnerKey, value: spec.owner },
      ],
      staticSummary: `${spec.backfill_id}: ${spec.target.table} ${spec.source_range.start}..${spec.source_range.end}`,
      staticDetails: `${spec.reason.issue}: ${spec.reason.change} (owner ${spec.owner})`,
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      throw new BackfillFailure(
        BackfillError.TargetLeased,
        `backfill ${spec.backfill_id} already has a workflow (${workflowId}) that is running or completed; ` +
          `watch it with \`backfill status ${spec.backfill_id}\`, or give a new run a new backfill_id.`,
        { workflowId },
      );
    }
    throw e;
  }
}
