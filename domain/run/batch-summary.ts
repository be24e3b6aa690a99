/** A batch's verdict as workflow state keeps it: small; the full evidence is in the checkpoint. */
import type { BatchSummary } from '../../contracts/status';
import { batchPartitions, type PlanInput } from '../plan';
import type { BatchVerdict } from '../reconcile';

export function batchSummary(
  spec: PlanInput,
  index: number,
  verdict: BatchVerdict,
  run: { rowsWritten: number; seconds: number; attempt: number },
): BatchSummary {
  const parts = batchPartitions(spec, index);
  // The running total against the whole range's expectation is kept apart: it is re-judged after
  // every batch, so the run keeps its latest word per measure rather than one warning per batch.
  const RUNNING = 'measure-delta-cumulative';
  const failed = (severity: 'fail' | 'warn') => verdict.checks
    .filter((c) => !c.passed && c.severity === severity && c.name !== RUNNING).map((c) => c.message);
  const running = verdict.checks.filter((c) => c.name === RUNNING && !c.passed && c.measure)
    .map((c) => ({ measure: c.measure!, message: c.message }));
  return {
    index,
    first: parts[0]!.start,
    last: parts[parts.length - 1]!.start,
    partitions: parts.length,
    rowsWritten: run.rowsWritten,
    verdict: verdict.passed ? 'passed' : 'failed',
    acceptable: verdict.acceptable,
    failures: failed('fail'),
    warnings: failed('warn'),
    ...(running.length ? { runningTotal: running } : {}),
    measures: verdict.measures.map((m) => ({
      column: m.column, deltaPct: m.deltaPct, cumulativeDeltaPct: m.cumulativeDeltaPct, expected: m.expected,
    })),
    rows: verdict.rows,
    seconds: run.seconds,
    // Charged by the workflow from the plan's estimate.
    bytesScanned: 0,
    attempt: run.attempt,
  };
}
