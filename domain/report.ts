/**
 * The reconciliation summary an approver reads (runbook step 5, over the whole range): each
 * measure's old and new sum against its expected range, batch verdict counts, warnings, and the
 * approval, release and rollback records. Pure: built from workflow state.
 */
import type { BackfillStatus, MeasureReport, ReconciliationReport } from '../contracts/status';
import { judgeDelta, type CumulativeTotals } from './reconcile';
import type { BackfillSpec } from './spec/schema';

export interface ReportInput {
  spec: BackfillSpec;
  status: BackfillStatus;
  cumulative: CumulativeTotals;
  verdicts: { passed: number; failed: number; accepted: number };
  warnings: string[];
}

export function measureReports(spec: BackfillSpec, cumulative: CumulativeTotals): MeasureReport[] {
  return spec.measures.map((m) => {
    const oldSum = cumulative.oldSums[m.column] ?? 0;
    const newSum = cumulative.newSums[m.column] ?? 0;
    const expected = { min: m.expected_delta.min, max: m.expected_delta.max };
    // The same judgement as the batches': the report never calls "ok" what a batch would fail.
    const { deltaPct, passed: withinExpected } = judgeDelta(m, oldSum, newSum);
    return { column: m.column, oldSum, newSum, deltaPct, expected, withinExpected };
  });
}

export function buildReport({ spec, status, cumulative, verdicts, warnings }: ReportInput): ReconciliationReport {
  return {
    backfillId: spec.backfill_id,
    reason: { issue: spec.reason.issue, change: spec.reason.change },
    codeVersion: spec.transform?.code_version ?? null,
    range: status.range,
    state: status.state,
    partitions: status.partitions,
    batches: { ...verdicts, total: status.batches.total },
    rows: { old: cumulative.oldRows, new: cumulative.newRows },
    measures: measureReports(spec, cumulative),
    warnings,
    proof: status.proof,
    approval: status.approval,
    release: status.release,
    rollback: status.rollback,
  };
}

const pct = (v: number | null) => (v === null ? 'n/a' : `${v >= 0 ? '+' : ''}${v.toFixed(3)}%`);

/** One line per measure, for logs, the demo and the approval prompt. */
export function reportLines(report: ReconciliationReport): string[] {
  return report.measures.map(
    (m) =>
      `${m.column}: ${m.oldSum.toFixed(2)} → ${m.newSum.toFixed(2)} (${pct(m.deltaPct)}; ` +
      `expected ${m.expected.min}%..${m.expected.max}%) ${m.withinExpected ? 'ok' : 'OUT OF RANGE'}`,
  );
}
