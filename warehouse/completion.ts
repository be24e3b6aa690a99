/**
 * The completion check (temporal PR #11162: a backfill silently skipped a range and reported
 * success): every planned batch must be checkpointed with a passing or accepted verdict, and every
 * partition must hold in the shadow exactly the rows its checkpoint recorded.
 */
import { batchPartitions, planShape } from '../domain/plan';
import { partitionAtOrdinal } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';
import { isDone, type Checkpoint } from '../contracts/checkpoint';
import type { CompletionCheck } from '../contracts/run';
import { columnNames } from './catalog';
import { fingerprint, fingerprintSpec } from './fingerprint';
import { changePoints } from '../domain/change-points';
import { judgeRange, partitionDeltaSeries } from '../domain/reconcile';
import { tablesOf } from './shadow';
import type { Driver, QueryOptions } from './warehouse';

const MAX_PROBLEMS = 10;

export async function verifyCompletion(
  db: Driver,
  spec: BackfillSpec,
  checkpoints: Checkpoint[],
  opts?: QueryOptions,
): Promise<CompletionCheck> {
  const shape = planShape(spec);
  const { grain } = spec.source_range;
  const { shadow } = tablesOf(spec);
  const from = partitionAtOrdinal(shape.firstOrdinal, grain).start;
  const to = partitionAtOrdinal(shape.lastOrdinal, grain).end;
  const rows = await db.query(db.dialect.rowsPerPartition(shadow, spec.target.partition_key, grain, from, to), opts);
  const inShadow: Record<string, number> = {};
  for (const r of rows) inShadow[String(r.partition_start)] = Number(r.row_count);

  const byIndex = new Map(checkpoints.map((c) => [c.batchIndex, c]));
  const missingBatches: number[] = [];
  const problems: string[] = [];
  const note = (line: string) => problems.length < MAX_PROBLEMS && problems.push(line);
  for (let i = 0; i < shape.batches; i++) {
    const parts = batchPartitions(spec, i, shape);
    const c = byIndex.get(i);
    if (!isDone(c)) {
      missingBatches.push(i);
      note(`batch ${i + 1} (${parts[0]!.start}..${parts[parts.length - 1]!.start}) has no passing checkpoint`);
      continue;
    }
    // Rows per partition the checkpoint recorded; a checkpoint that recorded none matches nothing.
    const recorded = c!.provenance.partitionRows;
    const wrong = parts.find((p) => (recorded[p.start] ?? -1) !== (inShadow[p.start] ?? 0));
    if (wrong) {
      missingBatches.push(i);
      note(
        `partition ${wrong.start}: checkpoint of batch ${i + 1} recorded ${recorded[wrong.start] ?? 'no'} rows, ` +
          `the shadow holds ${inShadow[wrong.start] ?? 0}`,
      );
    }
  }
  if (missingBatches.length) return { complete: false, missingBatches, problems };
  // Runbook step 5's last word: the whole range against each measure's expected_delta.
  const partitions = checkpoints.filter(isDone).flatMap((c) => c.provenance.partitions);
  const failures = judgeRange(spec, partitions).filter((c) => !c.passed).map((c) => c.message);
  // For the approver: jumps and outlier partitions in each measure's per-partition delta series.
  const series = partitionDeltaSeries(spec.measures, partitions);
  const warnings = spec.measures.flatMap((m) => changePoints(series[m.column] ?? [], {
    grain: spec.source_range.grain, measure: m.column, expected: m.expected_delta,
  }).map((p) => p.message));
  // What the approver decides on: the shadow's rows over the range, hashed (part of the approval digest).
  const fp = await fingerprint(db, fingerprintSpec(spec, shadow, await columnNames(db, shadow, opts), from, to), opts);
  return {
    complete: true, missingBatches, problems, shadow: { rows: fp.rows, rowHash: fp.rowHash, sums: fp.sums },
    ...(failures.length ? { failures } : {}),
    ...(warnings.length ? { warnings } : {}),
  };
}
