/**
 * Plain-JSON shapes that cross the workflow boundary (input, messages, query results, the
 * continue-as-new cursor). Type-only imports, so workflow, client and worker can all use them
 * without pulling runtime code into the sandbox.
 */
import type { MonitorResult } from '../domain/monitors';
import type { PlanSummary } from '../domain/plan';
import type { CumulativeTotals } from '../domain/reconcile';
import type { BackfillSpec } from '../domain/spec/schema';

export interface BackfillInput {
  /** The parsed, resolved spec (client/load-spec.ts); plain JSON. */
  spec: BackfillSpec;
  /** Who started the run, for the audit log. */
  startedBy: string;
  /** Set only by continue-as-new: where the previous run of this workflow stopped. */
  cursor?: BackfillCursor;
}

/**
 * Lifecycle states (domain/lifecycle.ts holds the transitions). `published` means the rollback
 * window is open; `rolled_back` and `completed` end the workflow normally; `failed` covers every
 * way a backfill stops without publishing (proof failure, abort, reject, approval expiry, errors).
 */
export type BackfillState =
  | 'planning'
  | 'preparing'
  | 'running'
  | 'paused'
  | 'halted'
  | 'awaiting_approval'
  | 'publishing'
  | 'published'
  | 'rolled_back'
  | 'completed'
  | 'failed';

/** Why batches are not starting. `operator` is a pause signal; the rest are automatic yields. */
export type PauseKind = 'operator' | 'live_pipeline' | 'pause_window' | 'scan_budget';

export interface PauseInfo {
  kind: PauseKind;
  reason: string;
  by: string | null;
  since: string;
  /** When the workflow will look again by itself (window end, next UTC day, next poll); null = on a signal. */
  until: string | null;
}

/** One batch's verdict as kept in workflow state: small; the full evidence is in the checkpoint. */
export interface BatchSummary {
  index: number;
  first: string;
  last: string;
  partitions: number;
  rowsWritten: number;
  verdict: 'passed' | 'failed' | 'accepted';
  /** Messages of failed checks (severity fail). */
  failures: string[];
  /** Messages of warnings (e.g. a warn-severity custom check). */
  warnings: string[];
  measures: Array<{
    column: string;
    deltaPct: number | null;
    cumulativeDeltaPct: number | null;
    expected: { min: number; max: number };
  }>;
  rows: { old: number; new: number };
  seconds: number;
  /** Measures whose running total is outside their whole range's expectation after this batch (a warning). */
  runningTotal?: Array<{ measure: string; message: string }>;
  /** A failed verdict an approver may accept: only aggregate checks failed (no row lost or doubled). */
  acceptable?: boolean;
  /** Estimated bytes the batch scanned (from the plan), charged to the daily budget. */
  bytesScanned: number;
  attempt: number;
}

export interface HaltInfo {
  /** The halted batch as people count it, from 1; null when the completion check halted. */
  batch: number | null;
  reason: string;
  failures: string[];
  since: string;
  /** What an operator may send: the `resolve` signal/update with one of these actions. */
  options: Array<'retry' | 'abort' | 'accept'>;
}

export interface Decision {
  by: string;
  comment: string | null;
  at: string;
  /** The digest of the state decided on (domain/decision-digest.ts); absent on decisions from before digests. */
  digest?: string | null;
  /** The trusted key that signed it, and the signature (base64), when the spec requires signatures. */
  keyId?: string | null;
  signature?: string | null;
}

export interface ApprovalInfo {
  approvers: string[];
  allowOwner: boolean;
  /** When the wait for a decision ends (approval.timeout after it started); null until it starts. */
  deadline: string | null;
  approved: Decision | null;
  rejected: Decision | null;
  /** Approvals refused (not an approver, the owner, wrong state); recorded, never fatal. */
  refusals: Array<{ by: string; reason: string; at: string }>;
}

export interface ReleaseRecord {
  releaseId: string;
  dataset: string;
  backfillId: string;
  publishedAt: string;
  sourceRange: { start: string; end: string; grain: string };
  codeVersion: string | null;
  approvedBy: string;
  /** What was approved (the state's digest) and, with signatures, by which key; absent on older releases. */
  approval?: ApprovalProof | null;
  /** The snapshot table that restores the pre-publish result. */
  restorePoint: string;
  rollbackExpiresAt: string;
  publishMode: 'range' | 'view' | 'swap';
  /** `publishing`: recorded before the DDL of a view/swap publish on an engine whose DDL autocommits. */
  status: 'publishing' | 'published' | 'rolled_back' | 'signed_off';
}

/** A decision's proof as the audit log and the release record keep it. */
export interface ApprovalProof {
  by: string;
  digest: string | null;
  keyId: string | null;
  signature: string | null;
}

export interface RollbackInfo {
  windowMs: number;
  expiresAt: string | null;
  open: boolean;
  rolledBack: (Decision & { rowsRestored: number }) | null;
  signedOff: Decision | null;
  cleanup: 'after_signoff' | 'after_window';
  cleanedUp: string[] | null;
  /** Tables cleanup left in place and why (a view serves it, or it no longer matches its record). */
  kept?: Array<{ table: string; why: string }>;
}

export interface IdempotencyProofInfo {
  partition: string;
  rowsWritten: number;
  /** Row hash of the partition's non-float columns, identical on both rewrites. */
  rowHash: string;
  /** Float sums that differed between the rewrites only by summation order (within tolerance). */
  floatNoise?: string[];
  /**
   * How batches are rewritten, decided in preparation: `range` (one DELETE + INSERT per batch) when
   * the transform proved decomposable on the representative batch, else `partition`. Absent on
   * proofs from before set-based batches: those runs rewrite partition by partition.
   */
  batchMode?: BatchModeDecision;
}

export interface BatchModeDecision {
  mode: 'range' | 'partition';
  /** Why, in words (shown in status and the plan). */
  reason: string;
  /** The batch the decomposability proof ran on, counted from 1; null when the spec chose partition. */
  provenOnBatch: number | null;
}

export interface BackfillStatus {
  backfillId: string;
  state: BackfillState;
  /** What the workflow is doing right now, in words. */
  phase: string;
  target: string;
  shadow: string;
  snapshot: string;
  owner: string;
  startedBy: string;
  range: { start: string; end: string; grain: string };
  partitions: { done: number; total: number };
  batches: { done: number; total: number; resumed: number };
  currentBatch: { index: number; first: string; last: string; attempt: number } | null;
  concurrency: number;
  pause: PauseInfo | null;
  halt: HaltInfo | null;
  budget: { dailyBytes: number | null; day: string | null; spentToday: number; left: number | null };
  /** Estimated finish of the batches, from the pace so far; null before the first batch. */
  eta: string | null;
  lastVerdict: BatchSummary | null;
  proof: IdempotencyProofInfo | null;
  approval: ApprovalInfo | null;
  release: ReleaseRecord | null;
  rollback: RollbackInfo;
  plan: PlanSummary | null;
  error: string | null;
  /**
   * The latest refused request of any kind (approve with a wrong name, resolve in the wrong state,
   * a pause during approval…), so a refusal sent from the UI's signal form shows in its details.
   * Absent in runs started before it was kept.
   */
  lastRefusal?: { request: string; by: string; reason: string; at: string | null } | null;
  /**
   * The digest a decision on the current state must carry (approval, a halt's accept, a release's
   * rollback or signoff): shown by `backfill status` and in the UI's details. Null when no such
   * decision is open; absent in runs started before decisions carried digests.
   */
  decisionDigest?: string | null;
  /** Whether decisions must be signed by a trusted key (approval.require_signature). */
  signaturesRequired?: boolean;
  /**
   * The rollback window's monitors (rollback.monitors): the latest result of each, and when each
   * is next due. Absent when the spec has none.
   */
  monitors?: { results: MonitorResult[]; next: Record<string, string> } | null;
  /** How many times the workflow continued as new (history kept short). */
  continuedAsNew: number;
}

/** The `batches` query: per-batch verdicts, newest last. Older ones beyond the cap live in the control schema. */
export interface BatchesView {
  total: number;
  omitted: number;
  items: BatchSummary[];
}

export interface MeasureReport {
  column: string;
  oldSum: number;
  newSum: number;
  deltaPct: number | null;
  expected: { min: number; max: number };
  withinExpected: boolean;
}

/** The `report` query: the reconciliation summary an approver reads. */
export interface ReconciliationReport {
  backfillId: string;
  reason: { issue: string; change: string };
  codeVersion: string | null;
  range: { start: string; end: string; grain: string };
  state: BackfillState;
  partitions: { done: number; total: number };
  batches: { passed: number; failed: number; accepted: number; total: number };
  rows: { old: number; new: number };
  measures: MeasureReport[];
  warnings: string[];
  proof: IdempotencyProofInfo | null;
  approval: ApprovalInfo | null;
  release: ReleaseRecord | null;
  rollback: RollbackInfo;
}

/** Everything the workflow carries across continue-as-new. Plain JSON. */
export interface BackfillCursor {
  status: BackfillStatus;
  /** Batches below this index are done (passing or accepted checkpoints). */
  nextBatch: number;
  /** Batches the completion check found incomplete, to run again before approval. */
  redo: number[];
  cumulative: CumulativeTotals;
  recentBatches: BatchSummary[];
  omittedBatches: number;
  verdicts: { passed: number; failed: number; accepted: number };
  /** Live pipeline runs that signalled start and not yet finish. */
  liveRuns: string[];
  operatorPause: { by: string | null; reason: string; since: string } | null;
  setupDone: boolean;
  /** Milliseconds spent running batches (for the ETA) and the partitions they covered. */
  batchMs: number;
  batchPartitions: number;
  /** When the visibility query last found no live pipeline (it is asked at most once per poll_interval). */
  lastVisibilityClear: string | null;
  warnings: string[];
  /**
   * The running total's latest word per measure, when it is outside the whole range's expectation
   * (replaced after every batch, so it never crowds out `warnings`); absent in older runs.
   */
  runningTotals?: Record<string, string>;
  /** The shadow's fingerprint over the range when the completion check passed (part of the approval digest). */
  shadowFingerprint?: { rows: number; rowHash: string; sums: Record<string, string | null> } | null;
}

// ---- message payloads: each signal/update takes one plain JSON object (the UI sends one payload) ----

export interface PauseRequest {
  by?: string;
  reason: string;
}
export interface ResumeRequest {
  by?: string;
  reason?: string;
}
export interface LivePipelineEvent {
  /** Identifies the live run, so a start and its finish pair up. */
  run_id: string;
  pipeline?: string;
}
export interface ConcurrencyRequest {
  concurrency: number;
  by?: string;
  reason?: string;
}
/**
 * What a decision on a looked-at state carries: the state's digest (status.decisionDigest, required
 * for approve, reject, resolve "accept", rollback and signoff) and, when the spec sets
 * approval.require_signature, an Ed25519 signature by a trusted key (`backfill approve --key`).
 */
export interface DecisionProof {
  digest?: string;
  key_id?: string;
  /** Base64 Ed25519 signature of domain/decision-digest.ts signedMessage. */
  signature?: string;
}
export interface ApprovalRequest extends DecisionProof {
  by: string;
  comment?: string;
}
export interface ResolveRequest extends DecisionProof {
  action: 'retry' | 'abort' | 'accept';
  by: string;
  /** Required for accept and abort. */
  reason?: string;
}
export interface RollbackRequest extends DecisionProof {
  by: string;
  reason: string;
}
export interface SignoffRequest extends DecisionProof {
  by: string;
  comment?: string;
}
export interface CancelRequest {
  by: string;
  reason: string;
}

/** What an update returns when accepted. */
export interface UpdateAck {
  accepted: true;
  state: BackfillState;
  message: string;
}
