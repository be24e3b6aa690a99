/**
 * Rewrites a batch's partitions into the shadow with at most `concurrency` in flight. Each
 * partition is its own delete + insert transaction (shadow.rewritePartition), so partitions are
 * independent and a retry may skip the ones a previous attempt finished.
 */
import type { Partition } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';
import { rewritePartition } from './shadow';
import type { Driver, QueryOptions } from './warehouse';

export interface BatchRewriteOptions extends QueryOptions {
  concurrency: number;
  /** Partitions already rewritten by an earlier attempt (from its heartbeat); not redone. */
  skip?: ReadonlySet<string>;
  /** Called after each partition commits (the activity heartbeats with it). */
  onPartition?: (partition: string, rowsWritten: number) => void;
}

/** Rows written per partition label, for every partition of the batch (skipped ones report `prior`). */
export async function rewriteBatch(
  db: Driver,
  spec: BackfillSpec,
  partitions: readonly Partition[],
  columns: readonly string[],
  opts: BatchRewriteOptions,
  prior: Record<string, number> = {},
): Promise<Record<string, number>> {
  const written: Record<string, number> = {};
  const queue = partitions.filter((p) => {
    if (!opts.skip?.has(p.start)) return true;
    written[p.start] = prior[p.start] ?? 0;
    return false;
  });
  const { concurrency, skip: _s, onPartition, ...queryOpts } = opts;
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
  return written;
}
