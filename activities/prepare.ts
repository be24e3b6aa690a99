/** Runbook steps 1–3: the restore point, the shadow, the idempotency proof; and where a new run resumes. */
import { BackfillError, BackfillFailure, isBackfillFailure } from '../contracts/errors';
import type { ResumePoint } from '../contracts/run';
import type { BatchModeDecision, IdempotencyProofInfo } from '../contracts/status';
import { partitionAtOrdinal, partitionOrdinal } from '../domain/partitions';
import { batchModeNote, batchOf, batchPartitions, planShape } from '../domain/plan';
import { resumePointOf } from '../domain/run/resume-point';
import type { BackfillSpec } from '../domain/spec/schema';
import { proveDecomposable } from '../warehouse/batch-rewrite';
import { createShadow, createSnapshot, proveIdempotency, shadowSlicer, type ShadowSlicer } from '../warehouse/shadow';
import type { QueryOptions } from '../warehouse/warehouse';
import { heartbeating, log, type Toolkit } from './context';

export function prepareActivities({ db, metrics, opts, audit, now, checkpointsOf }: Toolkit) {
  /**
   * Set-based batches only where they are proven to write the same rows: on the batch that holds
   * the representative partition, the transform over the batch's range must equal the union of its
   * partitions' outputs. Otherwise, or when the spec asks, partition by partition, and why.
   */
  async function decideBatchMode(
    spec: BackfillSpec,
    partition: string,
    slicer: ShadowSlicer,
    o: QueryOptions,
  ): Promise<BatchModeDecision> {
    if (spec.execution.batch_mode === 'partition') {
      return { mode: 'partition', reason: batchModeNote(spec), provenOnBatch: null };
    }
    const i = batchOf(spec, partition) ?? 0;
    const partitions = batchPartitions(spec, i);
    const first = partitions[0]!.start;
    const last = partitions[partitions.length - 1]!.start;
    if (partitions.length < 2) {
      return {
        mode: 'partition', provenOnBatch: i + 1,
        reason: `partition by partition: batch ${i + 1} holds one partition, so there is nothing to combine`,
      };
    }
    const proof = await proveDecomposable(db, spec, partitions, slicer, o);
    if (proof.decomposable) {
      return {
        mode: 'range', provenOnBatch: i + 1,
        reason: `one DELETE + INSERT per batch: on batch ${i + 1} (${first}..${last}) the transform over the range ` +
          `returned exactly the union of its ${partitions.length} partitions' outputs (${proof.rows.range} rows)`,
      };
    }
    return {
      mode: 'partition', provenOnBatch: i + 1,
      reason: `partition by partition: on batch ${i + 1} (${first}..${last}) the transform over the range differed ` +
        `from the union of its partitions' outputs (${proof.differences.slice(0, 3).join('; ')}); it reads beyond ` +
        `its partition (a window or aggregate over its whole input?)`,
    };
  }

  return {
    /** Runbook step 1: the restore point, taken once before any write and never overwritten. */
    async takeSnapshot(spec: BackfillSpec): Promise<{ created: boolean; table: string }> {
      return heartbeating(async (signal) => {
        const snapshot = spec.rollback.snapshot;
        const created = await createSnapshot(db, spec, now(), opts(spec, 'snapshot', signal));
        if (created) await audit(spec, 'workflow', 'snapshot_taken', { snapshot });
        log().info(
          created ? `restore point ${snapshot} taken` : `restore point ${snapshot} already taken; kept as it is`,
          { snapshot, created },
        );
        return { created, table: snapshot };
      });
    },

    async prepareShadow(spec: BackfillSpec): Promise<{ created: boolean; table: string }> {
      return heartbeating(async (signal) => {
        const shadow = spec.target.shadow_table;
        const created = await createShadow(db, spec, now(), opts(spec, 'shadow', signal));
        if (created) await audit(spec, 'workflow', 'shadow_created', { shadow, mode: spec.publish.mode });
        log().info(created ? `shadow ${shadow} created` : `shadow ${shadow} already exists; reused`, {
          shadow,
          created,
        });
        return { created, table: shadow };
      });
    },

    /** Runbook step 2: the representative partition rewritten twice must come out identical. */
    async proveIdempotency(spec: BackfillSpec, partition: string): Promise<IdempotencyProofInfo> {
      return heartbeating(async (signal) => {
        const grain = spec.source_range.grain;
        const ordinal = partitionOrdinal(partition, grain);
        if (ordinal === null) {
          throw new BackfillFailure(
            BackfillError.InvalidSpec,
            `proof partition "${partition}" is not a ${grain} partition`,
          );
        }
        const o = opts(spec, 'proof', signal);
        const slicer = await shadowSlicer(db, spec, o);
        let proof: Awaited<ReturnType<typeof proveIdempotency>>;
        try {
          proof = await proveIdempotency(db, spec, partitionAtOrdinal(ordinal, grain), o, slicer);
        } catch (e) {
          // Counted here; logged by the SDK's "Activity failed" line, which carries the error.
          if (isBackfillFailure(e, BackfillError.NotIdempotent)) metrics?.validationFailed(spec.backfill_id);
          throw e;
        }
        const batchMode = await decideBatchMode(spec, proof.partition, slicer, o);
        const info: IdempotencyProofInfo = {
          partition: proof.partition, rowsWritten: proof.rowsWritten, rowHash: String(proof.second.rowHash),
          ...(proof.floatNoise.length ? { floatNoise: proof.floatNoise } : {}),
          batchMode,
        };
        await audit(spec, 'workflow', 'idempotency_proven', { ...info });
        log().info(`idempotency proven on ${info.partition}: rewritten twice, identical (${info.rowsWritten} rows)`, {
          partition: info.partition, rows: info.rowsWritten,
        });
        log().info(`batches: ${batchMode.reason}`, { mode: batchMode.mode, batch: batchMode.provenOnBatch });
        return info;
      });
    },

    /** Where a new run of the same spec picks up: passing checkpoints written by the same code. */
    async resumePoint(spec: BackfillSpec): Promise<ResumePoint> {
      const { all, current } = await checkpointsOf(spec);
      const point = resumePointOf(current, planShape(spec).batches, all.length - current.length);
      const { batchesDone, partitionsDone, stale } = point;
      log().info(
        batchesDone > 0
          ? `resuming after ${batchesDone} checkpointed batches`
          : 'no checkpointed batches to resume from',
        { batchesDone, partitionsDone, stale },
      );
      return point;
    },
  };
}
