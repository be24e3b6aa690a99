/**
 * Rewrites one batch into the shadow, in one of two modes:
 *   - `range`: one transaction, one DELETE of the batch's range and one INSERT of the transform over
 *     [first partition start, last partition end), then the partition statistics of shadow and
 *     production read in one statement in the same transaction: the shadow's are both the
 *     out-of-range check (rows inside must equal rows inserted, else nothing is committed) and,
 *     with production's, what reconciliation compares. A fixed number of
 *     statements whatever the batch's size; used when the transform proved decomposable.
 *   - `partition`: each partition its own DELETE + INSERT transaction (shadow.rewritePartition), at
 *     most `concurrency` at once; a retry may skip the partitions a previous attempt finished.
 */
import type { Partition } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';
import { batchStats, type BatchStats } from './batch-evidence';
import { outOfSlice, rewritePartition, sliceRewrite, type ShadowSlicer } from './shadow';
import { inTx, type Driver, type QueryOptions } from './warehouse';

export type BatchMode = 'range' | 'partition';

export interface BatchRewriteOptions extends QueryOptions {
  mode: BatchMode;
  /** Partition mode: partitions rewritten at once. Range mode runs one transaction. */
  concurrency: number;
  /** Partition mode: partitions already rewritten by an earlier attempt (from its heartbeat); not redone. */
  skip?: ReadonlySet<string>;
  /** Called after each partition commits (the activity heartbeats with it). */
  onPartition?: (partition: string, rowsWritten: number) => void;
}

export interface BatchRewrite {
  /** Rows written per partition label, for every partition of the batch (skipped ones report `prior`). */
  partitionRows: Record<string, number>;
  /** Range mode: both sides' statistics per partition, read inside the rewrite's transaction. */
  stats?: BatchStats;
}

export async function rewriteBatch(
  db: Driver,
  spec: BackfillSpec,
  partitions: readonly Partition[],
  columns: readonly string[],
  opts: BatchRewriteOptions,
  prior: Record<string, number> = {},
): Promise<BatchRewrite> {
  const { mode, concurrency, skip, onPartition, ...queryOpts } = opts;
  if (mode === 'range') {
    const rewritten = await rewriteRange(db, spec, partitions, columns, queryOpts);
    for (const p of partitions) onPartition?.(p.start, rewritten.partitionRows[p.start] ?? 0);
    return rewritten;
  }
  const written: Record<string, number> = {};
  const queue = partitions.filter((p) => {
    if (!skip?.has(p.start)) return true;
    written[p.start] = prior[p.start] ?? 0;
    return false;
  });
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < queue.length) {
      const p = queue[next++]!;
      try {
        const { rowsWritten } = await rewritePartition(db, spec, p, columns, {
          ...queryOpts,
          tag: queryOpts.tag ? { ...queryOpts.tag, partition: p.start } : undefined,
        });
        written[p.start] = rowsWritten;
        onPartition?.(p.start, rowsWritten);
      } catch (e) {
        failed = true; // stop the other lanes from starting new partitions
        throw e;
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, lane);
  const results = await Promise.allSettled(lanes);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return { partitionRows: written };
}

/**
 * The whole batch in one transaction: DELETE its range, INSERT the transform over it, read both
 * sides' statistics of the range. Rows the transform returned outside the range are not in those
 * statistics, so a shortfall aborts the transaction (dbt-adapters#1931: never a half-written range).
 */
async function rewriteRange(
  db: Driver,
  spec: BackfillSpec,
  partitions: readonly Partition[],
  columns: readonly string[],
  opts: QueryOptions,
): Promise<BatchRewrite> {
  const slice = sliceRewrite(db, spec, columns);
  const range = { start: partitions[0]!.start, end: partitions[partitions.length - 1]!.end };
  return db.transaction(async (tx) => {
    await tx.execute(slice.delete(range.start, range.end));
    const inserted = await tx.execute(slice.insert(range.start, range.end));
    const stats = await batchStats(inTx(db, tx), spec, range.start, range.end);
    const partitionRows = Object.fromEntries(partitions.map((p) => [p.start, stats.after[p.start]?.rows ?? 0]));
    const inside = Object.values(stats.after).reduce((a, s) => a + s.rows, 0);
    if (inside !== inserted) {
      throw outOfSlice(`${range.start} .. ${partitions[partitions.length - 1]!.start}`, range, inserted, inside);
    }
    return { partitionRows, stats };
  }, opts);
}

export interface DecomposabilityProof {
  decomposable: boolean;
  /** What differed between the range's output and the union of its partitions' outputs. */
  differences: string[];
  rows: { partitions: number; range: number };
}

/**
 * Whether rewriting `partitions` as one range gives the same rows as rewriting them one by one:
 * the batch is rewritten partition by partition and fingerprinted (row count, distinct keys, exact
 * sums, row hash of the non-float columns; float sums within the measure's abs_tolerance), then
 * rewritten as one range and fingerprinted again. A transform that reads beyond its partition (a
 * window or aggregate over its whole input, a running total) gives different rows. The shadow is
 * left partition by partition when they differ.
 */
export async function proveDecomposable(
  db: Driver,
  spec: BackfillSpec,
  partitions: readonly Partition[],
  slice: ShadowSlicer,
  opts: QueryOptions = {},
): Promise<DecomposabilityProof> {
  const from = partitions[0]!.start;
  const to = partitions[partitions.length - 1]!.end;
  const byPartition = () =>
    rewriteBatch(db, spec, partitions, slice.columns, { ...opts, mode: 'partition', concurrency: 1 });
  await byPartition();
  const each = await slice.take(from, to);
  await rewriteBatch(db, spec, partitions, slice.columns, { ...opts, mode: 'range', concurrency: 1 });
  const whole = await slice.take(from, to);
  const { differences } = slice.compare(each, whole);
  if (differences.length) await byPartition();
  return { decomposable: differences.length === 0, differences, rows: { partitions: each.rows, range: whole.rows } };
}
