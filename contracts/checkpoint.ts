/**
 * A checkpointed batch as the control schema keeps it (backfill_control.checkpoints): what was
 * written, by which code, and how it was judged. activities/batch.ts is the one writer of its
 * provenance; warehouse/control-store.ts is the one reader (readProvenance), so everything else
 * reads typed fields. Plain JSON, type-only imports.
 */
import type { ChangedRow, Check, CumulativeTotals, MeasureVerdict, PartitionComparison } from '../domain/reconcile';
import type { BatchSummary } from './status';

export interface CheckpointProvenance {
  /** The transform a checkpoint was written with; another transform never resumes from it. */
  transformHash: string;
  /** The run that wrote it (null only for an activity run outside a workflow). */
  workflowId: string | null;
  runId: string | null;
  /** The attempt of the activity that rewrote the batch (2 or more: retried, e.g. after a worker crash). */
  activityAttempt: number;
  /** host:pid of the worker that rewrote it. */
  worker: string;
  /** The attempt of the activity that judged and recorded it (absent on checkpoints from before pipelining). */
  checkpointAttempt?: number;
  /** Rows written per partition label. */
  partitionRows: Record<string, number>;
  /** Per-partition old and new sums of every measure: the report's per-partition chart. */
  partitions: PartitionComparison[];
  /** Partitions an earlier attempt had committed (from its heartbeat) and this one skipped. */
  resumedPartitions: string[];
  checks: Check[];
  measures: MeasureVerdict[];
  rows: { old: number; new: number };
  topChangedRows: ChangedRow[];
  /** Totals before this batch, and including it. */
  cumulativeBefore: CumulativeTotals;
  cumulative: CumulativeTotals;
  summary: BatchSummary;
  seconds: number;
  /** Set when a person accepted a failed verdict. */
  accepted?: { by: string; reason: string; at: string };
}

export interface Checkpoint {
  backfillId: string;
  batchIndex: number;
  firstPartition: string;
  lastPartition: string;
  partitions: number;
  rowsWritten: number;
  codeVersion: string | null;
  verdict: 'passed' | 'failed' | 'accepted';
  provenance: CheckpointProvenance;
  startedAt: string | null;
  finishedAt: string;
}

/**
 * The provenance as stored (JSON text), typed. Checkpoints written before a field existed read it
 * as empty, so readers never guess at shapes.
 */
export function readProvenance(json: string): CheckpointProvenance {
  const p = JSON.parse(json) as Partial<CheckpointProvenance> | null;
  return {
    ...(p as CheckpointProvenance),
    partitionRows: p?.partitionRows ?? {},
    partitions: p?.partitions ?? [],
    resumedPartitions: p?.resumedPartitions ?? [],
    checks: p?.checks ?? [],
    measures: p?.measures ?? [],
    topChangedRows: p?.topChangedRows ?? [],
  };
}

/** A batch counts as done when its checkpoint passed or a person accepted it. */
export function isDone(c: Checkpoint | undefined): boolean {
  return c !== undefined && (c.verdict === 'passed' || c.verdict === 'accepted');
}
