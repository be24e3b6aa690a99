/**
 * The checkpoint's provenance has one writer, here (the batch activity), and one reader,
 * readProvenance in contracts/checkpoint.ts.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Context } from '@temporalio/activity';
import type { Checkpoint, CheckpointProvenance } from '../contracts/checkpoint';
import type { BatchSummary } from '../contracts/status';
import type { Partition } from '../domain/partitions';
import type { BatchEvidence, BatchVerdict, CumulativeTotals } from '../domain/reconcile';
import type { BackfillSpec } from '../domain/spec/schema';

/** Identifies the transform a checkpoint was written with; a changed transform never resumes old checkpoints. */
export function transformHash(spec: BackfillSpec): string {
  const basis = JSON.stringify([
    spec.transform?.sql ?? null,
    spec.target.table,
    spec.target.shadow_table,
    spec.source_range.grain,
  ]);
  return createHash('sha256').update(basis).digest('hex').slice(0, 16);
}

export interface BatchRecord {
  spec: BackfillSpec;
  batchIndex: number;
  partitions: Partition[];
  partitionRows: Record<string, number>;
  resumedPartitions: string[];
  evidence: BatchEvidence;
  verdict: BatchVerdict;
  cumulativeBefore: CumulativeTotals;
  summary: BatchSummary;
  seconds: number;
  startedAt: string;
  finishedAt: string;
  /** The activity that rewrote the batch (rewriteBatch, or this same runBatch): its attempt and worker. */
  rewrittenBy: { activityAttempt: number; worker: string };
}

/** This worker, as provenance names it. */
export const workerName = (): string => `${hostname()}:${process.pid}`;

/** The checkpoint a batch attempt records: what it wrote, by which run and worker, and how it was judged. */
export function checkpointOf(b: BatchRecord): Checkpoint {
  const { info } = Context.current();
  const provenance: CheckpointProvenance = {
    transformHash: transformHash(b.spec),
    workflowId: info.workflowExecution?.workflowId ?? null,
    runId: info.workflowExecution?.runId ?? null,
    activityAttempt: b.rewrittenBy.activityAttempt,
    worker: b.rewrittenBy.worker,
    checkpointAttempt: info.attempt,
    partitionRows: b.partitionRows,
    partitions: b.evidence.partitions,
    resumedPartitions: b.resumedPartitions,
    checks: b.verdict.checks,
    measures: b.verdict.measures,
    rows: b.verdict.rows,
    topChangedRows: b.verdict.topChangedRows,
    cumulativeBefore: b.cumulativeBefore,
    cumulative: b.verdict.cumulative,
    summary: b.summary,
    seconds: b.seconds,
  };
  return {
    backfillId: b.spec.backfill_id,
    batchIndex: b.batchIndex,
    firstPartition: b.partitions[0]!.start,
    lastPartition: b.partitions[b.partitions.length - 1]!.start,
    partitions: b.partitions.length,
    rowsWritten: b.summary.rowsWritten,
    codeVersion: b.spec.transform?.code_version ?? null,
    verdict: b.verdict.passed ? 'passed' : 'failed',
    provenance,
    startedAt: b.startedAt,
    finishedAt: b.finishedAt,
  };
}
