/**
 * Starting a backfill: one workflow per backfill_id. A duplicate start while it runs, or after it
 * completed, is refused by the server; a failed or terminated run may be started again (it resumes
 * from the control schema's checkpoints).
 */
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { backfillFailureIn, BackfillError, BackfillFailure } from '../contracts/errors';
import { BackfillOwnerKey, BackfillStateKey, BackfillTargetKey } from '../contracts/search-attributes';
import { TASK_QUEUE, workflowIdFor } from '../contracts/settings';
import type { BackfillInput } from '../contracts/status';
import type { BackfillSpec } from '../domain/spec/schema';
import { backfillWorkflow, releaseWorkflow } from '../workflows';
import type { ReleaseGraph, ReleaseInput } from '../contracts/release';

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
        BackfillError.DuplicateBackfill,
        `backfill ${spec.backfill_id} already has a workflow (${workflowId}) that is running or completed; ` +
          `watch it with \`backfill status ${spec.backfill_id}\`, or give a new run a new backfill_id.`,
        { workflowId },
      );
    }
    throw e;
  }
}

/** Where a started backfill stands after its pre-flight: passed, or still waiting for a worker. */
export type PreflightResult = 'passed' | 'pending';

/**
 * Waits until the workflow is past its pre-flight — plan, lease on the target, and the check that
 * it never ran before under a published release and owns every table it will write — so `start`
 * reports those refusals itself (exit 2 or 4) instead of answering before anything was checked.
 * 'pending' means no worker took the workflow within `timeoutMs`; the workflow stays started.
 */
export async function awaitPreflight(
  handle: WorkflowHandle,
  timeoutMs: number,
  pollMs = 200,
): Promise<PreflightResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') {
      if (d.status.name === 'COMPLETED') return 'passed';
      const error = await handle.result().then(() => null, (e: unknown) => e);
      const found = backfillFailureIn(error);
      const { type, message } = found ?? {
        type: BackfillError.NotAllowed,
        message: error instanceof Error ? error.message : String(error),
      };
      throw new BackfillFailure(
        type,
        `the backfill stopped before writing anything (${d.status.name.toLowerCase()}): ${message}`,
        { workflowId: handle.workflowId },
      );
    }
    // `failed` is set just before the workflow closes: wait for the close to read its error.
    const state = d.typedSearchAttributes.get(BackfillStateKey);
    if (state !== undefined && state !== 'planning' && state !== 'failed') return 'passed';
    if (Date.now() >= deadline) return 'pending';
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Starts a release graph's workflow: one per release_id, its id derived like a backfill's. */
export async function startRelease(client: Client, graph: ReleaseGraph, opts: StartOptions) {
  const workflowId = workflowIdFor(graph.release_id);
  const input: ReleaseInput = { graph, startedBy: opts.startedBy };
  try {
    return await client.workflow.start(releaseWorkflow, {
      workflowId,
      taskQueue: opts.taskQueue ?? TASK_QUEUE,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: BackfillStateKey, value: 'planning' },
        { key: BackfillTargetKey, value: graph.nodes.map((n) => n.spec.target.table).join(',').slice(0, 1000) },
        { key: BackfillOwnerKey, value: graph.owner },
      ],
      staticSummary: `release ${graph.release_id}: ${graph.nodes.map((n) => n.spec.target.table).join(' → ')}`,
      staticDetails: `${graph.reason.issue}: ${graph.reason.change} (owner ${graph.owner})`,
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      throw new BackfillFailure(
        BackfillError.DuplicateBackfill,
        `release ${graph.release_id} already has a workflow (${workflowId}); a release id is used once: watch it ` +
          `with \`backfill status ${graph.release_id}\`, or start a new release under a new release_id.`,
        { workflowId },
      );
    }
    throw e;
  }
}
