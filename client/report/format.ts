/**
 * Wording and figures shared by the HTML and Markdown reports. Everything here returns plain,
 * unescaped text: each renderer escapes for its own format.
 */
import type { ReportData, ReportMeasureTotal, ReportState } from '../../contracts/report';

/** Decimals that show `values` alike: none when all are whole (counts), else two (money). */
export function decimalsFor(...values: Array<number | null>): number {
  return values.every((v) => v === null || Number.isInteger(v)) ? 0 : 2;
}

/** A sum as written in tables: thousands separators; two decimals unless it is whole. */
export function amount(n: number | null, decimals = decimalsFor(n)): string {
  if (n === null || !Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A difference with its sign. */
export function signedAmount(n: number, decimals = decimalsFor(n)): string {
  const s = amount(n, decimals);
  return n > 0 && /[1-9]/.test(s) ? `+${s}` : s;
}

/** A percentage with a sign; more digits for a tiny change, so a real one never reads as 0. */
export function percent(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return 'n/a';
  let digits = 2;
  while (digits < 6 && Number(Math.abs(x).toFixed(digits)) === 0) digits++;
  const s = Math.abs(x).toFixed(digits);
  if (Number(s) === 0) return '0.00%';
  return `${x > 0 ? '+' : '-'}${s}%`;
}

export function expectedRange(r: { min: number; max: number }): string {
  const p = (v: number) => `${v > 0 ? '+' : ''}${v}%`;
  return r.min === r.max ? p(r.min) : `${p(r.min)} to ${p(r.max)}`;
}

/** An ISO instant as "2026-06-01 10:15 UTC". */
export function when(iso: string | null): string {
  if (!iso) return 'n/a';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  return `${t.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const UNITS: Array<[number, string]> = [
  [7 * 86_400_000, 'week'],
  [86_400_000, 'day'],
  [3_600_000, 'hour'],
  [60_000, 'minute'],
  [1_000, 'second'],
];

/** A duration in the largest unit that divides it: 14 days, 1 hour, 90 minutes. */
export function duration(ms: number): string {
  for (const [size, unit] of UNITS) {
    if (ms >= size && ms % size === 0) {
      const n = ms / size;
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return `${ms} ms`;
}

export const STATE_LABELS: Record<ReportState, string> = {
  planned: 'Planned',
  running: 'Running',
  halted: 'Halted',
  awaiting_approval: 'Awaiting approval',
  approved: 'Approved, not yet published',
  publishing: 'Publishing',
  published: 'Published',
  rolled_back: 'Rolled back',
  completed: 'Published and closed',
  rejected: 'Rejected',
  failed: 'Failed',
};

/** Whether a measure's total moved by no more than its abs_tolerance. */
export function unchanged(data: ReportData, m: ReportMeasureTotal): boolean {
  const tolerance = data.spec.measures.find((s) => s.column === m.column)?.absTolerance ?? 0;
  return Math.abs(m.delta) <= tolerance;
}

export function grainWord(grain: string, n: number): string {
  const word = grain === 'day' ? 'daily' : grain === 'hour' ? 'hourly' : grain === 'month' ? 'monthly' : grain;
  return `${n.toLocaleString('en-US')} ${word} partition${n === 1 ? '' : 's'}`;
}

/** How a measure moved, in a few words: "-1.10% (1,000.00 → 989.00)" or "unchanged". */
export function change(data: ReportData, m: ReportMeasureTotal): string {
  const d = decimalsFor(m.oldSum, m.newSum);
  const moved = unchanged(data, m)
    ? 'unchanged'
    : `${percent(m.deltaPct)} (${amount(m.oldSum, d)} → ${amount(m.newSum, d)})`;
  return m.withinExpected ? moved : `${moved}, OUTSIDE the expected ${expectedRange(m.expected)}`;
}

/** The measure's net effect: "net_revenue -1.10% (1,000.00 → 989.00)". */
export const effect = (data: ReportData, m: ReportMeasureTotal): string => `${m.column} ${change(data, m)}`;

/**
 * The announcement in two to four sentences: what changed and why, over which range, the net
 * effect per measure, and where the release stands (id, when, rollback until or its status).
 */
export function summarySentences(data: ReportData): string[] {
  const { spec, release, rollback } = data;
  const code = spec.codeVersion ? ` with code ${spec.codeVersion}` : '';
  const partitions = data.coverage.partitions || data.plan.partitions;
  const out = [
    `${spec.reason.change} (${spec.reason.issue}): backfill ${spec.backfillId} recomputed ` +
      `${grainWord(spec.range.grain, partitions)} of ${spec.target.table}, ${spec.range.start} ` +
      `to ${spec.range.end}${code}.`,
  ];
  if (data.measures.length) out.push(`Net effect: ${data.measures.map((m) => effect(data, m)).join('; ')}.`);
  const approvedBy = release?.approvedBy ?? data.approval.approved?.by;
  switch (data.state) {
    case 'published':
      out.push(
        `Published as release ${release!.releaseId} at ${when(release!.publishedAt)}, approved by ${approvedBy}; ` +
          (rollback.status === 'open'
            ? `it can be rolled back until ${when(rollback.expiresAt)} (restore point ${spec.snapshot}).`
            : `the rollback window ended ${when(rollback.expiresAt)}.`),
      );
      break;
    case 'completed':
      out.push(
        `Published as release ${release!.releaseId} at ${when(release!.publishedAt)}, approved by ${approvedBy}; ` +
          (rollback.signedOff
            ? `signed off by ${rollback.signedOff.by} at ${when(rollback.signedOff.at)}, ` +
              `so the rollback window is closed.`
            : `the rollback window ended ${when(rollback.expiresAt)}.`),
      );
      break;
    case 'rolled_back':
      out.push(
        `Published as release ${release!.releaseId} at ${when(release!.publishedAt)}, then rolled back` +
          `${rollback.rolledBack ? ` by ${rollback.rolledBack.by} at ${when(rollback.rolledBack.at)}` : ''}: ` +
          `production is back to its pre-backfill result.`,
      );
      break;
    case 'publishing':
      out.push(`Publishing as release ${release!.releaseId} since ${when(release!.publishedAt)}.`);
      break;
    case 'approved':
      out.push(`Approved by ${approvedBy} at ${when(data.approval.approved?.at ?? null)}; not published yet.`);
      break;
    case 'awaiting_approval':
      out.push(
        `Not published yet: awaiting approval from ${data.approval.approvers.join(' or ') || 'an approver'}; ` +
          `production is untouched.`,
      );
      break;
    case 'rejected':
      out.push(
        `Rejected by ${data.approval.rejected?.by ?? 'an approver'} at ${when(data.approval.rejected?.at ?? null)}; ` +
          `production is untouched.`,
      );
      break;
    case 'failed':
      out.push(`The run failed at ${when(data.stateSince)} without publishing; production is untouched.`);
      break;
    case 'halted': {
      const failed = data.batches.items.find((b) => !b.stale && b.verdict === 'failed');
      out.push(
        `Halted${failed ? ` at batch ${failed.index + 1} (${failed.first} to ${failed.last})` : ''}, ` +
          `waiting for an operator; production is untouched.`,
      );
      break;
    }
    case 'running':
    case 'planned':
      out.push(
        `In progress: ${data.batches.passed + data.batches.accepted} of ${data.batches.planned} batches reconciled; ` +
          `production is untouched.`,
      );
      break;
  }
  const changePoints = changePointCount(data);
  const parts = [
    changePoints ? `${changePoints} change-point${changePoints === 1 ? '' : 's'}` : '',
    data.warnings.length ? `${data.warnings.length} warning${data.warnings.length === 1 ? '' : 's'}` : '',
    data.batches.accepted ? `${data.batches.accepted} accepted batch${data.batches.accepted === 1 ? '' : 'es'}` : '',
  ].filter(Boolean);
  if (parts.length) {
    const listed = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0];
    out.push(`Read the ${listed} below before relying on it.`);
  }
  return out;
}

/** Jumps and outlier partitions found in the measures' per-partition change. */
function changePointCount(data: ReportData): number {
  return data.series.reduce((a, s) => a + (s.changePoints?.length ?? 0), 0);
}

/** A changed row's key as "revenue_date=2025-01-03, merchant_id=m-001". */
export function keyText(key: Record<string, string | number | null>): string {
  return Object.entries(key).map(([k, v]) => `${k}=${v === null ? 'NULL' : String(v)}`).join(', ');
}
