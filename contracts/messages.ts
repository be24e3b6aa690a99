/**
 * Workflow messages, defined once and imported by client, worker and workflow. Every signal takes
 * one plain JSON object, because the Temporal UI's signal form sends exactly one payload. Signals
 * never fail (a refused request is recorded in status and the audit log); the updates of the same
 * name validate synchronously, so a CLI caller gets an immediate, clear error instead.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { SPEC_LIMITS } from './limits';
import type { NodeUpdate, ReleaseStatus } from './release';
import type { ReportData } from './report';
import type {
  ApprovalRequest,
  BackfillStatus,
  CancelRequest,
  BatchesView,
  ConcurrencyRequest,
  LivePipelineEvent,
  PauseRequest,
  ReconciliationReport,
  ResolveRequest,
  ResumeRequest,
  RollbackRequest,
  SignoffRequest,
  UpdateAck,
} from './status';

export const statusQuery = defineQuery<BackfillStatus>('status');
export const batchesQuery = defineQuery<BatchesView>('batches');
export const reportQuery = defineQuery<ReconciliationReport>('report');

export const pauseSignal = defineSignal<[PauseRequest]>('pause');
export const resumeSignal = defineSignal<[ResumeRequest]>('resume');
export const livePipelineStartedSignal = defineSignal<[LivePipelineEvent]>('live_pipeline_started');
export const livePipelineFinishedSignal = defineSignal<[LivePipelineEvent]>('live_pipeline_finished');
export const setConcurrencySignal = defineSignal<[ConcurrencyRequest]>('set_concurrency');
export const approveSignal = defineSignal<[ApprovalRequest]>('approve');
export const rejectSignal = defineSignal<[ApprovalRequest]>('reject');
export const resolveSignal = defineSignal<[ResolveRequest]>('resolve');
export const rollbackSignal = defineSignal<[RollbackRequest]>('rollback');
export const signoffSignal = defineSignal<[SignoffRequest]>('signoff');
export const cancelSignal = defineSignal<[CancelRequest]>('cancel');

export const approveUpdate = defineUpdate<UpdateAck, [ApprovalRequest]>('approve_update');
export const rejectUpdate = defineUpdate<UpdateAck, [ApprovalRequest]>('reject_update');
export const resolveUpdate = defineUpdate<UpdateAck, [ResolveRequest]>('resolve_update');
export const rollbackUpdate = defineUpdate<UpdateAck, [RollbackRequest]>('rollback_update');
export const signoffUpdate = defineUpdate<UpdateAck, [SignoffRequest]>('signoff_update');
export const cancelUpdate = defineUpdate<UpdateAck, [CancelRequest]>('cancel_update');
/** The report's data, read by the worker (which owns the warehouse) from the control schema. */
/** A release node's workflow → the release workflow, on each change of state (contracts/release.ts). */
export const nodeUpdateSignal = defineSignal<[NodeUpdate]>('node_update');
/** An upstream node's workflow → the nodes that read it, after each batch that passed: look again. */
export const upstreamPassedSignal = defineSignal<[{ node: string }]>('upstream_passed');
/** The release workflow's status: one section per node. */
export const releaseStatusQuery = defineQuery<ReleaseStatus>('status');

export const reportDataUpdate = defineUpdate<ReportData | null, [Record<string, never>]>('report_data');

/** Shown in the Temporal UI next to each handler (passed to setHandler); examples are what to type in its form. */
export const messageDescriptions = {
  status:
    'Backfill state, phase, progress (partitions and batches done/total), pause or halt reason, budget, ETA, ' +
    'last verdict, approval and release.',
  batches: 'Per-batch reconciliation verdicts (the most recent ones; all are in backfill_control.checkpoints).',
  report:
    'The reconciliation summary: measures old vs new against their expected ranges, batches, ' +
    'approval, release, rollback.',
  pause: 'Stop starting batches after the current one. JSON: {"by": "you", "reason": "why"}',
  resume: 'Lift an operator pause. JSON: {"by": "you", "reason": "why"}',
  live_pipeline_started:
    'Sent by the live pipeline when it starts; batches wait until it finishes. JSON: {"run_id": "..."}',
  live_pipeline_finished: 'Sent by the live pipeline when it finishes. JSON: {"run_id": "..."}',
  set_concurrency:
    `Partitions rewritten in parallel from the next batch on (1..${SPEC_LIMITS.concurrency}). ` +
    `JSON: {"concurrency": 2, "by": "you"}`,
  approve:
    'Approve publishing (listed approvers only, in awaiting_approval). ' +
    'JSON: {"by": "finance-controller", "comment": "checked"}',
  reject: 'Reject: nothing is published. JSON: {"by": "finance-controller", "comment": "why"}',
  resolve:
    'After a halt: retry the batch, abort, or accept its verdict. ' +
    'JSON: {"action": "retry", "by": "you", "reason": "why"}',
  rollback:
    'Within the rollback window: restore the pre-publish result atomically. JSON: {"by": "you", "reason": "why"}',
  signoff: 'Confirm the release; the snapshot and shadow are then dropped. JSON: {"by": "you", "comment": "ok"}',
  approve_update: 'Approve, with an immediate error when refused. Same JSON as approve.',
  reject_update: 'Reject, with an immediate error when refused. Same JSON as reject.',
  resolve_update: 'Resolve a halt, with an immediate error when refused. Same JSON as resolve.',
  rollback_update: 'Roll back, with an immediate error when refused. Same JSON as rollback.',
  signoff_update: 'Sign off, with an immediate error when refused. Same JSON as signoff.',
  cancel:
    'Stop the backfill before anything is published: production is untouched, the lease released. ' +
    'JSON: {"by": "you", "reason": "why"}',
  cancel_update: 'Cancel, with an immediate error when refused (after publishing: roll back instead). Same JSON.',
  report_data: 'The reconciliation report as data (what `backfill report` renders); changes nothing. JSON: {}',
} as const;
