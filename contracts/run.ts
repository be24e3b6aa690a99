/**
 * What the workflow and its activities exchange besides the status: a batch's request and
 * outcome, the resume point, the completion check, the cleanup. Plain JSON, type-only imports.
 */
import type { CumulativeTotals } from '../domain/reconcile';
import type { BatchSummary } from './status';

export interface BatchRequest {
  batchIndex: number;
  /** Totals of the batches before this one; null for a redo found by the completion check. */
  cumulativeBefore: CumulativeTotals | null;
  concurrency: number;
  /** The workflow's attempt at this batch (operator retries count up). */
  attempt: number;
  /** The plan's estimated bytes per partition, for the bytes-scanned metric (null: no estimate). */
  bytesPerPartition?: number | null;
  /** How the batch is rewritten (decided in preparation); absent on requests from before: partition. */
  mode?: 'range' | 'partition';
}

/** A rewritten batch waiting for its checkpoint (its evidence stays on the worker; small, plain JSON). */
export interface BatchWork {
  batchIndex: number;
  attempt: number;
  mode: 'range' | 'partition';
  /** Rows now in the shadow per partition label. */
  partitionRows: Record<string, number>;
  /** Partitions an earlier attempt had committed (partition mode), not rewritten again. */
  resumedPartitions: string[];
  startedAt: string;
  rewriteSeconds: number;
  /** The attempt of the activity that rewrote the batch (a retry after a crash is 2 or more), and its worker. */
  activityAttempt: number;
  worker: string;
}

/** What a batch attempt returns to the workflow: small, plain JSON. Full evidence is in the checkpoint. */
export interface BatchOutcome {
  summary: BatchSummary;
  /** Cumulative totals including this batch (fold them in when the verdict passes or is accepted). */
  cumulative: CumulativeTotals;
}

export interface ResumePoint {
  /** Batches 0..n-1 have passing or accepted checkpoints from this code version. */
  batchesDone: number;
  partitionsDone: number;
  cumulative: CumulativeTotals;
  recent: BatchSummary[];
  /** Checkpoints left unused because the code version or transform changed since they were written. */
  stale: number;
}

export interface CompletionCheck {
  complete: boolean;
  /** Batch indexes to run again: never checkpointed, or their shadow rows no longer match the checkpoint. */
  missingBatches: number[];
  /** One line each, the first few. */
  problems: string[];
  /**
   * Measures whose change over the whole range is outside their expected_delta (one line each). The
   * run halts on them before approval; they are aggregate, so an approver may accept them.
   */
  failures?: string[];
  /** For the approver: change-points in the per-partition deltas (domain/change-points.ts). */
  warnings?: string[];
  /** The shadow's fingerprint over the range, when complete (absent in histories from before it was taken). */
  shadow?: { rows: number; rowHash: string; sums: Record<string, string | null> } | null;
}

export interface CleanupResult {
  /** Tables dropped now or by an earlier attempt (the same on every retry). */
  dropped: string[];
  /** Tables left in place, each with why (a view still serves it, or it no longer matches its record). */
  kept: Array<{ table: string; why: string }>;
}
