/** How `backfill preview` prints its result (warehouse/preview.ts PreviewResult) for a person. */
import type { PreviewResult } from '../domain/preview';
import { formatDeltaRange } from '../domain/spec/values';
import { formatNumber, formatSeconds } from './format';
import { paint, table } from './terminal';

const pct = (x: number | null): string => {
  if (x === null) return 'n/a';
  const s = x.toFixed(2);
  return `${x > 0 && Number(s) !== 0 ? '+' : ''}${Number(s) === 0 ? '0.00' : s}%`;
};

const amount = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 2 });

export function formatPreview(p: PreviewResult): string {
  const columns = p.measures.map((m) => m.column);
  const partitions = table(
    ['partition', 'rows old', 'rows new', ...columns.map((c) => `${c} Δ`), 'time'],
    p.partitions.map((x) => [
      `${x.partition}${x.partition === p.representativePartition ? ' *' : ''}`,
      formatNumber(x.oldRows),
      formatNumber(x.newRows),
      ...columns.map((c) => pct(x.measures.find((m) => m.column === c)?.deltaPct ?? null)),
      formatSeconds(x.rewriteSeconds + x.checkSeconds),
    ]),
    { right: [1, 2, ...columns.map((_, i) => 3 + i), 3 + columns.length], rule: true },
  );
  const measures = p.measures.length
    ? table(
        ['measure', 'old', 'new', 'delta', 'expected', 'verdict'],
        p.measures.map((m) => [
          m.column, amount(m.oldSum), amount(m.newSum), pct(m.deltaPct), formatDeltaRange(m.expected),
          m.passed ? paint.green('pass') : paint.red('FAIL'),
        ]),
        { right: [1, 2, 3], rule: true },
      )
    : 'No measures: only row counts and structure were checked (add validation.measures).';
  const mark = (c: PreviewResult['checks'][number]) =>
    c.passed ? paint.green('✓') : c.severity === 'fail' ? paint.red('✗') : paint.yellow('!');
  const checks = p.checks.map((c) =>
    `  ${mark(c)} ${c.name}${c.passed ? '' : ` (${c.severity === 'fail' ? 'FAILED' : 'warning'})`}: ${c.message}`);
  const e = p.estimate;
  const failed = p.checks.filter((c) => !c.passed && c.severity === 'fail');
  return [
    `Preview of ${p.backfillId}: ${p.partitions.length} of ${formatNumber(p.totalPartitions)} ${p.grain} ` +
      `partitions of ${p.target} (${p.range.start} .. ${p.range.end}) rewritten into ${p.scratchTable}, now dropped; ` +
      'production untouched',
    '',
    partitions,
    `* the representative partition (the plan's median by rows, where the run proves idempotency)`,
    '',
    `The sample judged as one batch: rows ${formatNumber(p.rows.old)} → ${formatNumber(p.rows.new)}`,
    measures,
    '',
    'Checks:',
    ...checks,
    ...p.warnings.map((w) => `${paint.yellow('Warning:')} ${w}`),
    '',
    `Estimate of the full run (an estimate, from measured times): ${formatSeconds(e.secondsPerPartition)} per ` +
      `partition × ${formatNumber(e.partitions)} partitions ÷ max_concurrency ${e.maxConcurrency} ≈ ` +
      `${formatSeconds(e.seconds)} of rewriting and checks, partition by partition; the snapshot, the idempotency ` +
      'proof, pauses and approval come on top, and set-based batches (a decomposable transform) are usually faster.',
    failed.length
      ? `${paint.red('FAILED')}: ${failed.length} check${failed.length === 1 ? '' : 's'} failed ` +
        `(${failed.map((c) => c.measure ? `${c.name} of ${c.measure}` : c.name).join(', ')}); a run would halt on ` +
        `them. Preview took ${formatSeconds(p.seconds)}.`
      : `${paint.green('PASSED')}: every fail-severity check passed. Preview took ${formatSeconds(p.seconds)}.`,
  ].join('\n');
}
