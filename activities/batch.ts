/** Runbook steps 4–5: rewrite a batch into the shadow, reconcile it, checkpoint it; accept; verify completion. */
import { Context } from '@temporalio/activity';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { BatchOutcome, BatchRequest, BatchWork, CompletionCheck } from '../contracts/run';
import { batchPartitions, planShape } from '../domain/plan';
import { emptyCumulative, reconcileBatch, type BatchEvidence } from '../domain/reconcile';
import { batchSummary } from '../domain/run/batch-summary';
import type { BackfillSpec } from '../domain/spec/schema';
import { gatherBatchEvidence } from '../warehouse/batch-evidence';
import { rewriteBatch } from '../warehouse/batch-rewrite';
import { verifyCompletion } from '../warehouse/completion';
import { checkpointOf, workerName } from './checkpoint';
import { assertInputsUnchanged } from './release-graph';
import { heartbeating, log, type Toolkit } from './context';

/** What a retried attempt finds in the heartbeat of the one before. */
interface BatchHeartbeat {
  batchIndex?: number;
  partitionRows?: Record<string, number>;
}

const roundSeconds = (s: number) => Math.round(s * 1000) / 1000;

/**
 * Evidence a rewrite gathered, kept in this worker until the batch's checkpoint (in order, maybe
 * after later batches' rewrites) uses it; a checkpoint that finds none (another worker, a restart)
 * reads it again, which is equivalent: only this batch writes its range of the shadow. Bounded: a
 * batch's evidence holds up to validation.sample_rows changed rows per measure, and rewrites a halt
 * forgot are never checkpointed; beyond 16 (more batches in flight than that), the oldest is read again.
 */
const EVIDENCE_KEPT = 16;

export function batchActivities({ db, metrics, controlOf, opts, audit, now, columnsOf, checkpointsOf }: Toolkit) {
  const gathered = new Map<string, BatchEvidence>();
  const keep = (key: string, evidence: BatchEvidence) => {
    gathered.set(key, evidence);
    while (gathered.size > EVIDENCE_KEPT) gathered.delete(gathered.keys().next().value!);
  };

  /** Rewrites batch `req.batchIndex` into the shadow and gathers its evidence (parallel-safe). */
  async function rewrite(spec: BackfillSpec, req: BatchRequest, signal: AbortSignal, beat: (d: unknown) => void) {
    const { batchIndex: i } = req;
    await assertInputsUnchanged(db, spec, opts(spec, 'freeze', signal, i));
    const partitions = batchPartitions(spec, i);
    const startedAt = now();
    const t0 = performance.now();
    const mode = req.mode ?? 'partition';
    // A retry after a crash skips partitions the previous attempt committed (from its heartbeat);
    // a set-based batch is one transaction, so its retry rewrites it whole.
    const previous = Context.current().info.heartbeatDetails as BatchHeartbeat | undefined;
    const resumable = mode === 'partition' && previous?.batchIndex === i && previous.partitionRows;
    const prior = resumable ? previous.partitionRows! : {};
    const o = opts(spec, 'batch', signal, i);
    const columns = await columnsOf(spec, o);
    const bytesEach = req.bytesPerPartition ?? null;
    const partitionRows: Record<string, number> = { ...prior };
    beat({ batchIndex: i, partitionRows });
    const rewritten = await rewriteBatch(db, spec, partitions, columns, {
      ...o,
      mode,
      concurrency: req.concurrency,
      skip: new Set(Object.keys(prior)),
      onPartition: (p, n) => {
        partitionRows[p] = n;
        beat({ batchIndex: i, partitionRows });
        // Counted as each partition commits, so a long batch shows progress and a retry that
        // skips the partitions an earlier attempt committed does not count them twice.
        metrics?.partitionRewritten(spec.backfill_id, n, bytesEach);
      },
    }, prior);
    const evidence = await gatherBatchEvidence(db, spec, i, partitions, o, rewritten.stats);
    const work: BatchWork = {
      batchIndex: i, attempt: req.attempt, mode, partitionRows: rewritten.partitionRows,
      resumedPartitions: Object.keys(prior), startedAt, rewriteSeconds: (performance.now() - t0) / 1000,
      activityAttempt: Context.current().info.attempt, worker: workerName(),
    };
    return { work, evidence };
  }

  /** Judges the batch against the totals before it and checkpoints the verdict with its provenance. */
  async function judge(
    spec: BackfillSpec,
    req: BatchRequest,
    work: BatchWork,
    evidence: BatchEvidence,
    signal: AbortSignal,
  ): Promise<BatchOutcome> {
    const { batchIndex: i } = req;
    const t0 = performance.now();
    const partitions = batchPartitions(spec, i);
    const o = opts(spec, 'batch', signal, i);
    let cumulativeBefore = req.cumulativeBefore;
    if (cumulativeBefore === null) {
      const existing = (await controlOf(spec).checkpoints(spec.backfill_id)).find((c) => c.batchIndex === i);
      cumulativeBefore = existing?.provenance.cumulativeBefore ?? emptyCumulative();
    }
    const verdict = reconcileBatch(spec, evidence, cumulativeBefore);
    const { partitionRows } = work;
    const rowsWritten = Object.values(partitionRows).reduce((a, b) => a + b, 0);
    const seconds = work.rewriteSeconds + (performance.now() - t0) / 1000;
    const summary = batchSummary(spec, i, verdict, { rowsWritten, seconds, attempt: req.attempt });
    await controlOf(spec).recordCheckpoint(checkpointOf({
      spec, batchIndex: i, partitions, partitionRows, resumedPartitions: work.resumedPartitions, evidence, verdict,
      cumulativeBefore, summary, seconds, startedAt: work.startedAt, finishedAt: now(),
      rewrittenBy: { activityAttempt: work.activityAttempt, worker: work.worker },
    }), o);
    if (!verdict.passed) {
      await audit(spec, 'workflow', 'batch_failed', { batch: i + 1, failures: summary.failures });
    }
    metrics?.batchFinished(spec.backfill_id, summary.verdict === 'passed' ? 'passed' : 'failed', seconds);
    if (!verdict.passed) metrics?.validationFailed(spec.backfill_id);
    const total = planShape(spec).batches;
    const line =
      `batch ${i + 1}/${total} ${summary.verdict}: ${partitions.length} partitions, ` +
      `${rowsWritten} rows in ${roundSeconds(seconds)} s`;
    const fields = {
      batch: i + 1, batches: total, first: summary.first, last: summary.last, partitions: partitions.length,
      rows: rowsWritten, seconds: roundSeconds(seconds), verdict: summary.verdict, attempt: req.attempt,
      resumedPartitions: work.resumedPartitions.length, mode: work.mode,
    };
    if (verdict.passed) {
      log().info(line, fields);
    } else {
      log().warn(`${line}; ${summary.failures[0] ?? 'a check failed'}`, { ...fields, failures: summary.failures });
    }
    return { summary, cumulative: verdict.cumulative };
  }

  const evidenceKey = (spec: BackfillSpec, work: BatchWork) =>
    `${spec.backfill_id}/${work.batchIndex}/${work.attempt}/${work.startedAt}`;

  return {
    /**
     * Runbook step 4 for one batch, safe to run for several batches at once: rewrite it into the
     * shadow (one DELETE + INSERT over its range when the transform proved decomposable, else
     * partition by partition) and gather its evidence. Nothing is judged or checkpointed here: that
     * happens in order, in checkpointBatch.
     */
    async rewriteBatch(spec: BackfillSpec, req: BatchRequest): Promise<BatchWork> {
      return heartbeating(async (signal, beat) => {
        const { work, evidence } = await rewrite(spec, req, signal, beat);
        keep(evidenceKey(spec, work), evidence);
        return work;
      });
    },

    /**
     * Runbook step 5 for one rewritten batch, in batch order: reconcile against production with the
     * totals of the batches before it, and checkpoint the verdict with its provenance. A failed
     * verdict is checkpointed as failed (never counted as done) and returned, so the workflow halts.
     */
    async checkpointBatch(spec: BackfillSpec, req: BatchRequest, work: BatchWork): Promise<BatchOutcome> {
      return heartbeating(async (signal) => {
        const key = evidenceKey(spec, work);
        const evidence = gathered.get(key) ??
          await gatherBatchEvidence(db, spec, req.batchIndex, batchPartitions(spec, req.batchIndex),
            opts(spec, 'batch', signal, req.batchIndex));
        const outcome = await judge(spec, req, work, evidence, signal);
        gathered.delete(key);
        return outcome;
      });
    },

    /**
     * Runbook steps 4–5 for one batch in one activity: what workflows started before batches were
     * pipelined call (their histories replay against it); new runs call rewriteBatch + checkpointBatch.
     */
    async runBatch(spec: BackfillSpec, req: BatchRequest): Promise<BatchOutcome> {
      return heartbeating(async (signal, beat) => {
        const { work, evidence } = await rewrite(spec, req, signal, beat);
        return judge(spec, req, work, evidence, signal);
      });
    },

    /** An operator accepted a failed verdict: the checkpoint is kept, marked accepted with who and why. */
    async acceptBatch(spec: BackfillSpec, batchIndex: number, by: string, reason: string): Promise<void> {
      const existing = (await controlOf(spec).checkpoints(spec.backfill_id)).find((c) => c.batchIndex === batchIndex);
      if (!existing) {
        throw new BackfillFailure(
          BackfillError.NotAllowed,
          `batch ${batchIndex + 1} has no checkpoint to accept; retry it instead.`,
        );
      }
      if (existing.verdict !== 'accepted') {
        const accepted = { by, reason, at: now() };
        await controlOf(spec).recordCheckpoint({
          ...existing,
          verdict: 'accepted',
          provenance: { ...existing.provenance, accepted },
        });
        metrics?.batchAccepted(spec.backfill_id);
      }
      log().info(`batch ${batchIndex + 1} accepted by ${by}: ${reason}`, { batch: batchIndex + 1, by, reason });
    },

    /** Every planned partition checkpointed and present in the shadow with the recorded rows. */
    async verifyCompletion(spec: BackfillSpec): Promise<CompletionCheck> {
      return heartbeating(async (signal) => {
        const { current } = await checkpointsOf(spec);
        const check = await verifyCompletion(db, spec, current, opts(spec, 'completion', signal));
        // People count batches from 1 in the audit log; missingBatches stays the workflow's indexes.
        const detail = { ...check, missingBatches: check.missingBatches.map((b) => b + 1) };
        const ok = check.complete && !check.failures?.length;
        await audit(spec, 'workflow', ok ? 'completion_verified' : 'completion_failed', detail);
        if (ok) {
          log().info('completion verified: every planned partition is checkpointed and in the shadow');
        } else {
          metrics?.validationFailed(spec.backfill_id);
          log().warn(`completion check failed: ${check.problems[0] ?? check.failures?.[0]}`, {
            problems: check.problems.length,
            missingBatches: detail.missingBatches,
          });
        }
        return check;
      });
    },
  };
}
