/**
 * Where a new run of the same spec picks up: after the longest prefix of batches whose
 * checkpoints (written by the current code and transform) passed or were accepted.
 */
import { isDone, type Checkpoint } from '../../contracts/checkpoint';
import { STATE_LIMITS } from '../../contracts/limits';
import type { ResumePoint } from '../../contracts/run';
import type { BatchSummary } from '../../contracts/status';
import { emptyCumulative } from '../reconcile';

/** `current`: checkpoints of the current code and transform; `stale`: how many others exist. */
export function resumePointOf(current: Checkpoint[], batches: number, stale: number): ResumePoint {
  const byIndex = new Map(current.map((c) => [c.batchIndex, c]));
  let n = 0;
  let partitionsDone = 0;
  while (n < batches && isDone(byIndex.get(n))) {
    partitionsDone += byIndex.get(n)!.partitions;
    n++;
  }
  const recent: BatchSummary[] = [];
  for (let i = Math.max(0, n - STATE_LIMITS.recentBatches); i < n; i++) {
    const c = byIndex.get(i)!;
    if (c.provenance.summary) recent.push({ ...c.provenance.summary, verdict: c.verdict });
  }
  const cumulative = n > 0 ? byIndex.get(n - 1)!.provenance.cumulative ?? emptyCumulative() : emptyCumulative();
  return { batchesDone: n, partitionsDone, cumulative, recent, stale };
}
