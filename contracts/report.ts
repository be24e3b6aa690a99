/**
 * The reconciliation report as data: everything a data owner announces about changed history,
 * read from the control schema alone (warehouse/report-data.ts) and rendered to HTML and Markdown
 * (client/report/). Plain JSON — no Map, Date or class instances — so it can be written to a file,
 * diffed, or rendered elsewhere. Type-only imports keep it dependency-free.
 */
import type { ChangePoint } from '../domain/change-points';
import type { ChangedRow } from '../domain/reconcile';
import type { BackfillState, BatchSummary, ReleaseRecord } from './status';
import type { Lineage } from './release';

/**
 * Where the backfill stands, as the control schema shows it (no workflow is asked):
 * `awaiting_approval` = every planned batch reconciled and the completion check passed;
 * `approved` = approved, no release yet; `completed` = the rollback window ended or the release
 * was signed off; `failed` = the run stopped without publishing (abort, rejection, expiry, error).
 */
export type ReportState =
  | Exclude<BackfillState, 'planning' | 'preparing' | 'paused'>
  // What only the control schema distinguishes: a plan recorded, a decision taken before publishing.
  | 'planned'
  | 'approved'
  | 'rejected';

export interface ReportMeasureSpec {
  column: string;
  /** Expected change of the measure's sum over the range, in percent. */
  expected: { min: number; max: number };
  absTolerance: number;
}

/** The spec's essentials, as recorded with the plan. All strings are user input: escape them. */
export interface ReportSpec {
  backfillId: string;
  owner: string;
  target: { table: string; partitionKey: string; uniqueKey: string[]; shadow: string };
  snapshot: string;
  range: { start: string; end: string; grain: 'hour' | 'day' | 'month' };
  reason: { issue: string; change: string };
  codeVersion: string | null;
  measures: ReportMeasureSpec[];
  publish: { mode: 'range' | 'view' | 'swap'; view: string | null };
  rollback: { windowMs: number; cleanup: 'after_signoff' | 'after_window' };
  approval: { approvers: string[]; allowOwner: boolean; timeoutMs: number } | null;
}

export interface ReportPlan {
  recordedAt: string;
  /** Who started the run that recorded the plan (the audit log's `planned` entry), when known. */
  startedBy: string | null;
  partitions: number;
  batches: number;
  /** Rows in the target's range when planned. */
  rows: number;
  bytes: number | null;
  seconds: number | null;
  representativePartition: string | null;
  emptyPartitions: number | null;
  warnings: string[];
}

/** A batch's verdict as the workflow summarises it (BatchSummary), plus what only the checkpoint knows. */
export interface ReportBatch extends Pick<
  BatchSummary,
  'index' | 'first' | 'last' | 'partitions' | 'rowsWritten' | 'verdict' | 'failures' | 'warnings' | 'rows'
> {
  /** Set when an operator accepted a failed verdict. */
  accepted: { by: string; reason: string; at: string } | null;
  measures: Array<{
    column: string;
    oldSum: number | null;
    newSum: number | null;
    deltaPct: number | null;
    cumulativeDeltaPct: number | null;
  }>;
  codeVersion: string | null;
  /** Written by another code version than the recorded plan's: left out of totals, series and top rows. */
  stale: boolean;
  startedAt: string | null;
  finishedAt: string;
}

/** One partition of a measure's series: production (old) against the rewritten result (new). */
export interface ReportPoint {
  partition: string;
  old: number;
  new: number;
  delta: number;
  /** 100 * delta / |old|; null when old is 0. */
  deltaPct: number | null;
  oldRows: number;
  newRows: number;
  /** Consecutive partitions summed into this point (domain/report-points.ts); absent means one. */
  partitions?: number;
}

export interface ReportSeries {
  column: string;
  /** Every reconciled partition in partition order (one point per partition), or buckets of them. */
  points: ReportPoint[];
  /**
   * Jumps and outlier partitions in the per-partition delta%, found on the full series before any
   * bucketing (domain/change-points.ts); absent in data gathered before they were computed.
   */
  changePoints?: ChangePoint[];
}

/** A measure over every reconciled partition (passing and accepted batches). */
export interface ReportMeasureTotal {
  column: string;
  oldSum: number;
  newSum: number;
  delta: number;
  deltaPct: number | null;
  expected: { min: number; max: number };
  withinExpected: boolean;
}

export interface ReportChangedRow extends ChangedRow {
  /** The batch that changed it, as people count batches: from 1. */
  batch: number;
}

export interface ReportDecision {
  by: string;
  comment: string | null;
  at: string;
}

export interface ReportApproval {
  approvers: string[];
  approved: ReportDecision | null;
  rejected: ReportDecision | null;
  /** Approvals or rejections refused (not an approver, the owner, wrong state); never fatal. */
  refused: Array<{ by: string; kind: 'approve' | 'reject'; problem: string; at: string }>;
}

export interface ReportRollback {
  windowMs: number;
  cleanup: 'after_signoff' | 'after_window';
  /** When the rollback window ends; null until published. */
  expiresAt: string | null;
  /**
   * `open`: a rollback is still possible; `closed`: the window ended or was signed off;
   * `not_published`: nothing to roll back.
   */
  status: 'not_published' | 'open' | 'rolled_back' | 'closed';
  rolledBack: { by: string; reason: string | null; at: string; rowsRestored: number | null } | null;
  signedOff: ReportDecision | null;
  cleanedUp: { dropped: string[]; at: string } | null;
}

export interface ReportProof {
  partition: string;
  rowsWritten: number;
  rowHash: string;
  at: string;
}

export interface ReportAuditEntry {
  at: string;
  actor: string;
  action: string;
  /** The entry's gist in one line (a comment, a reason, a release id), when it has one. */
  note: string | null;
}

export interface ReportData {
  /** Shape version of this document. */
  version: 1;
  generatedAt: string;
  spec: ReportSpec;
  state: ReportState;
  /** When the state was reached, from the audit log or the release; null when unknown. */
  stateSince: string | null;
  plan: ReportPlan;
  batches: {
    planned: number;
    checkpointed: number;
    passed: number;
    failed: number;
    accepted: number;
    stale: number;
    items: ReportBatch[];
  };
  /** Partitions and rows of the passing and accepted batches (what totals and series cover). */
  coverage: { partitions: number; rows: { old: number; new: number } };
  measures: ReportMeasureTotal[];
  series: ReportSeries[];
  /** Largest |delta| first, across all batches. */
  topChangedRows: ReportChangedRow[];
  /** Distinct warning messages of all batches (e.g. change-points found at the completion check). */
  warnings: string[];
  proof: ReportProof | null;
  approval: ReportApproval;
  release: ReleaseRecord | null;
  rollback: ReportRollback;
  timeline: ReportAuditEntry[];
  /** The spec's custom checks (validation.checks) over the current batches; absent in older data. */
  checks?: ReportCustomCheck[];
  /** The rollback window's monitors, from the audit log (breaches and recoveries); absent in older data. */
  monitors?: ReportMonitor[];
}

export interface ReportCustomCheck {
  name: string;
  description: string;
  severity: 'fail' | 'warn';
  /** Batches whose checkpoint holds this check's result, and how many of them it failed. */
  batches: number;
  failed: number;
  /** The first failure's message (its rows are in that batch's checkpoint). */
  firstFailure: string | null;
}

export interface ReportMonitor {
  name: string;
  description: string;
  onBreach: 'block' | 'rollback';
  breaches: number;
  /** The latest breach or recovery in the audit log, in words; null when it never breached. */
  latest: string | null;
}

/**
 * A release graph's report (`backfill report <release_id>`): the release's record and lineage, its
 * own decisions, and each node's reconciliation report, one per node in topological order. Read
 * from the control schema alone (warehouse/release-report-data.ts); plain JSON like ReportData.
 */
export interface ReleaseReportData {
  version: 1;
  generatedAt: string;
  /** backfill_control.release_graphs' record, with each node's batches and verdicts from its checkpoints. */
  lineage: Lineage;
  /**
   * Each node's report, in lineage.nodes' (topological) order, one for one; null for a node that
   * recorded no plan (the release stopped before that node planned). As part of the release: its
   * approval is the release's one decision, and a node still waiting when the release failed
   * before publishing is `failed` (or `rejected`) with it.
   */
  nodes: Array<ReportData | null>;
  /** The release's one approval or rejection, and refused requests, from the audit log under its id. */
  approval: ReportApproval;
  /** The release-level audit log (decisions, refusals, cancel requests) under the release id. */
  timeline: ReportAuditEntry[];
}
