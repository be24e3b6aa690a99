/** Human formatting for CLI output. */
import type { Plan } from '../domain/plan';
import { paint, table } from './terminal';

export function formatNumber(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return 'n/a';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${Math.round(seconds % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatPlan(plan: Plan, opts: { engine: string; maxRows?: number }): string {
  const rows = plan.batches.map((b) => [
    String(b.index + 1),
    b.first,
    b.last,
    String(b.partitions),
    formatNumber(b.rows),
    formatBytes(b.bytes),
    formatSeconds(b.seconds),
  ]);
  const shown =
    opts.maxRows && rows.length > opts.maxRows
      ? [
          ...rows.slice(0, opts.maxRows - 1),
          ['…', `${rows.length - opts.maxRows} more`, '', '', '', '', ''],
          rows[rows.length - 1]!,
        ]
      : rows;
  const t = plan.totals;
  const cost = t.cost ? `${t.cost.amount.toFixed(2)} ${t.cost.unit}` : `n/a (${opts.engine} has no price)`;
  const s = plan.sample;
  const read = (r: { partition: string; rows: number | null; bytes: number | null; seconds: number | null }) =>
    `${r.partition}: ${formatNumber(r.rows ?? 0)} rows, ${formatBytes(r.bytes)} scanned, ${formatSeconds(r.seconds)}`;
  const kind = s?.measured ? 'measured' : 'explained';
  const sample = !s
    ? 'Bytes and time need a sample read of one partition: run with --sample.'
    : s.reads && s.reads.length > 1
      ? `Estimates scale the median of ${s.reads.length} ${kind} reads, per existing row, by each partition's rows ` +
        `(${s.reads.map(read).join('; ')}).`
      : `Estimates scale a ${kind} read of ${read(s)} by each partition's rows.`;
  const bytesFrom = s?.bytesBasis ? ` Bytes: ${s.bytesBasis}.` : '';
  return [
    `Plan for ${plan.backfillId}: ${plan.range.start} .. ${plan.range.end} by ${plan.grain}, ` +
      `${plan.order.replace('_', ' ')}, ` +
      `${plan.partitionsPerBatch} partitions per batch, concurrency ${plan.maxConcurrency}`,
    '',
    table(['batch', 'first', 'last', 'partitions', 'rows', 'est. bytes', 'est. time'], shown, {
      right: [3, 4, 5, 6],
      rule: true,
    }),
    '',
    `Total: ${formatNumber(t.partitions)} ${plan.grain} partitions in ${formatNumber(t.batches)} batches · ` +
      `${formatNumber(t.rows)} rows · ${formatBytes(t.bytes)} scanned · ${formatSeconds(t.seconds)} · cost ${cost}`,
    `Idempotency proof partition: ${plan.representativePartition}` +
      (plan.emptyPartitions ? ` · ${plan.emptyPartitions} partitions have no rows in the target yet` : ''),
    `Batches rewritten: ${plan.batchMode}`,
    sample + bytesFrom,
    ...plan.warnings.map((w) => `${paint.yellow('Warning:')} ${w}`),
  ].join('\n');
}
