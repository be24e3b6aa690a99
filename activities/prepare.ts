/** Runbook steps 1–3: the restore point, the shadow, the idempotency proof; and where a new run resumes. */
import { BackfillError, BackfillFailure, isBackfillFailure } from '../contracts/errors';
import type { ResumePoint } from '../contracts/run';
import type { IdempotencyProofInfo } from '../contracts/status';
import { partitionAtOrdinal, partitionOrdinal } from '../domain/partitions';
import { planShape } from '../domain/plan';
import { resumePointOf } from '../domain/run/resume-point';
import type { BackfillSpec } from '../domain/spec/schema';
import { createShadow, createSnapshot, proveIdempotency } from '../warehouse/shadow';
import { heartbeating, log, type Toolkit } from './context';

export function prepareActivities({ db, metrics, opts, audit, now, checkpointsOf }: Toolkit) {
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
        let proof: Awaited<ReturnType<typeof proveIdempotency>>;
        try {
          proof = await proveIdempotency(db, spec, partitionAtOrdinal(ordinal, grain), opts(spec, 'proof', signal));
        } catch (e) {
          // Counted here; logged by the SDK's "Activity failed" line, which carries the error.
          if (isBackfillFailure(e, BackfillError.NotIdempotent)) metrics?.validationFailed(spec.backfill_id);
          throw e;
        }
        const info: IdempotencyProofInfo = {
          partition: proof.partition, rowsWritten: proof.rowsWritten, rowHash: String(proof.second.rowHash),
          ...(proof.floatNoise.length ? { floatNoise: proof.floatNoise } : {}),
        };
        await audit(spec, 'workflow', 'idempotency_proven', { ...info });
        log().info(`idempotency proven on ${info.partition}: rewritten twice, identical (${info.rowsWritten} rows)`, {
          partition: info.partition, rows: info.rowsWritten,
        });
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
