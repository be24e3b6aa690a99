/**
 * The reconciliation report as one self-contained HTML file: inline CSS and inline SVG charts, no
 * script, no external font, image or stylesheet, so it opens offline, attaches to a ticket and
 * prints cleanly. Every piece of data goes through `escapeHtml` (spec values are user input).
 *
 * Charts: per measure, the per-partition sums before (production) and after (the backfill) as two
 * polylines, and below them the per-partition change in percent against the expected range, with
 * the series' change-points marked and numbered as the Change-points section lists them. Long
 * ranges are drawn in buckets of consecutive partitions (sums add up exactly), at most
 * MAX_CHART_POINTS points per line; the unit says how many partitions a point sums, counting those
 * the data arrived bucketed in.
 */
import type { ChangePoint } from '../../domain/change-points';
import type { ReportBatch, ReportData, ReportPoint, ReportSeries } from '../../contracts/report';
import {
  amount,
  change,
  decimalsFor,
  duration,
  expectedRange,
  keyText,
  percent,
  signedAmount,
  STATE_LABELS,
  summarySentences,
  unchanged,
  when,
} from './format';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe in HTML content and in quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const h = escapeHtml;

/** Points per polyline at most; longer series are summed in buckets of consecutive partitions. */
export const MAX_CHART_POINTS = 800;

// ---------------------------------------------------------------------------------------------
// Charts

interface ChartPoint {
  partition: string;
  old: number;
  new: number;
  deltaPct: number | null;
}

/**
 * The series in at most MAX_CHART_POINTS points, and how many partitions a point sums: the
 * renderer's buckets times the partitions each incoming point already sums (the report data of a
 * running backfill arrives bucketed, domain/report-points.ts).
 */
function bucketed(points: ReportPoint[]): { points: ChartPoint[]; partitionsPerPoint: number } {
  const bucket = Math.max(1, Math.ceil(points.length / MAX_CHART_POINTS));
  const out: ChartPoint[] = [];
  for (let i = 0; i < points.length; i += bucket) {
    const slice = points.slice(i, i + bucket);
    const old = slice.reduce((a, p) => a + p.old, 0);
    const neu = slice.reduce((a, p) => a + p.new, 0);
    out.push({
      partition: slice[0]!.partition,
      old,
      new: neu,
      deltaPct: old === 0 ? null : (100 * (neu - old)) / Math.abs(old),
    });
  }
  // Every bucket but the last is full, so the first says the size.
  const partitionsPerPoint = points.slice(0, bucket).reduce((a, p) => a + (p.partitions ?? 1), 0);
  return { points: out, partitionsPerPoint };
}

/** "per hour", "per 3 hours". */
function perUnit(grain: string, partitionsPerPoint: number): string {
  return partitionsPerPoint === 1 ? `per ${grain}` : `per ${partitionsPerPoint} ${grain}s`;
}

/** Round tick values covering [lo, hi]: 1, 2 or 5 times a power of ten apart. */
function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0];
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => raw <= s) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < hi) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

const SCALES: Array<[number, string]> = [
  [1e9, 'B'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/**
 * Labels for evenly spaced ticks, as many digits as their step needs so no two read alike: 1,765 and
 * 1,770 (not 1.77k twice); 199.5k and 200.0k; 1.2M. Below ten thousand numbers are written out.
 */
export function tickLabels(ticks: number[], suffix = ''): string[] {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : Math.abs(ticks[0] ?? 1) || 1;
  const largest = Math.max(...ticks.map(Math.abs));
  const [div, unit] = largest >= 1e4 ? (SCALES.find(([d]) => largest >= d) ?? [1, '']) : [1, ''];
  const sign = suffix === '%' ? (v: number) => (v > 0 ? '+' : '') : () => '';
  let decimals = Math.max(0, -Math.floor(Math.log10(step / div) + 1e-9));
  for (;;) {
    const labels = ticks.map(
      (v) =>
        `${sign(v)}${(v / div).toLocaleString('en-US', {
          minimumFractionDigits: decimals,
          maximumFractionDigits: decimals,
        })}${unit}${suffix}`,
    );
    if (decimals >= 6 || labels.every((l, i) => i === 0 || l !== labels[i - 1])) return labels;
    decimals++;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Indexes where a new month starts, labelled; thinned so labels never crowd. */
function monthTicks(points: ChartPoint[], maxLabels = 12): Array<{ index: number; label: string }> {
  const starts: Array<{ index: number; label: string }> = [];
  let prev = '';
  points.forEach((p, index) => {
    const month = p.partition.slice(0, 7);
    if (month !== prev) {
      const [y, m] = month.split('-');
      const name = MONTHS[Number(m) - 1] ?? month;
      starts.push({ index, label: name === 'Jan' || starts.length === 0 ? `${name} ${y}` : name });
      prev = month;
    }
  });
  const every = Math.max(1, Math.ceil(starts.length / maxLabels));
  return starts.filter((_, i) => i % every === 0);
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const xOf = (f: Frame, n: number) => (i: number) =>
  n <= 1 ? (f.left + f.width - f.right) / 2 : f.left + (i / (n - 1)) * (f.width - f.left - f.right);
const yOf = (f: Frame, lo: number, hi: number) => (v: number) =>
  f.top + (1 - (v - lo) / (hi - lo || 1)) * (f.height - f.top - f.bottom);
const xy = (x: number, y: number) => `${x.toFixed(1)},${y.toFixed(1)}`;

function axes(f: Frame, points: ChartPoint[], ticks: number[], y: (v: number) => number, labels: string[]): string {
  const x = xOf(f, points.length);
  const grid = ticks
    .map(
      (t, i) =>
        `<line class="grid" x1="${f.left}" x2="${f.width - f.right}" y1="${y(t).toFixed(1)}" ` +
        `y2="${y(t).toFixed(1)}"/>` +
        `<text class="tick y-tick" x="${f.left - 6}" y="${(y(t) + 3.5).toFixed(1)}" ` +
        `text-anchor="end">${h(labels[i])}</text>`,
    )
    .join('');
  const bottom = f.height - f.bottom;
  const months = monthTicks(points)
    .map(
      (t) =>
        `<line class="month" x1="${x(t.index).toFixed(1)}" x2="${x(t.index).toFixed(1)}" y1="${bottom}" ` +
        `y2="${bottom + 5}"/>` +
        `<text class="tick x-tick" x="${x(t.index).toFixed(1)}" y="${bottom + 17}" ` +
        `text-anchor="middle">${h(t.label)}</text>`,
    )
    .join('');
  return (
    `<g class="axes">${grid}<line class="axis" x1="${f.left}" x2="${f.width - f.right}" ` +
    `y1="${bottom}" y2="${bottom}"/>` +
    `<line class="axis" x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${bottom}"/>${months}</g>`
  );
}

/** A change-point numbered as the Change-points section lists it. */
interface NumberedPoint {
  n: number;
  point: ChangePoint;
}

/** The chart point whose bucket holds `partition`: the last one starting at or before it. */
function chartIndex(points: ChartPoint[], partition: string): number {
  let at = 0;
  points.forEach((p, i) => {
    if (p.partition <= partition) at = i;
  });
  return at;
}

/**
 * Change-points as vertical lines; on the change chart also a dot at the delta% after and the number
 * the Change-points section gives it. Each carries its message as a tooltip (SVG title, no script).
 */
function markers(
  f: Frame,
  points: ChartPoint[],
  numbered: NumberedPoint[],
  dot?: { y: (v: number) => number; lo: number; hi: number },
): string {
  const x = xOf(f, points.length);
  return numbered
    .map(({ n, point }) => {
      const cx = x(chartIndex(points, point.partition)).toFixed(1);
      const cy = dot ? dot.y(Math.min(dot.hi, Math.max(dot.lo, point.after))).toFixed(1) : '';
      return (
        `<g class="change-point ${h(point.kind)}" data-partition="${h(point.partition)}" data-n="${n}">` +
        `<title>${h(`${n}. ${point.message}`)}</title>` +
        `<line class="change-point-line" x1="${cx}" x2="${cx}" y1="${f.top}" y2="${f.height - f.bottom}"/>` +
        (dot
          ? `<circle class="change-point-dot" cx="${cx}" cy="${cy}" r="3.5"/>` +
            `<text class="change-point-label" x="${(Number(cx) + 3).toFixed(1)}" y="${f.top + 9}">${n}</text>`
          : '') +
        `</g>`
      );
    })
    .join('');
}

function sumsChart(
  series: ReportSeries,
  points: ChartPoint[],
  per: string,
  numbered: NumberedPoint[],
): string {
  const f: Frame = { width: 760, height: 250, left: 64, right: 14, top: 30, bottom: 30 };
  const values = points.flatMap((p) => [p.old, p.new]);
  const ticks = niceTicks(Math.min(...values), Math.max(...values));
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const x = xOf(f, points.length);
  const y = yOf(f, lo, hi);
  const line = (cls: string, pick: (p: ChartPoint) => number) =>
    `<polyline class="${cls}" points="${points.map((p, i) => xy(x(i), y(pick(p)))).join(' ')}"/>`;
  const legendY = 14;
  return (
    `<svg class="chart" data-measure="${h(series.column)}" viewBox="0 0 ${f.width} ${f.height}" role="img" ` +
    `aria-label="${h(`${series.column} ${per}, before and after`)}">` +
    `<title>${h(`${series.column} ${per}: before (production) and after (backfill)`)}</title>` +
    axes(f, points, ticks, y, tickLabels(ticks)) +
    markers(f, points, numbered) +
    line('series-old', (p) => p.old) +
    line('series-new', (p) => p.new) +
    `<g class="legend"><line class="series-old" x1="${f.left}" x2="${f.left + 22}" y1="${legendY}" y2="${legendY}"/>` +
    `<text x="${f.left + 28}" y="${legendY + 4}">before (production)</text>` +
    `<line class="series-new" x1="${f.left + 170}" x2="${f.left + 192}" y1="${legendY}" y2="${legendY}"/>` +
    `<text x="${f.left + 198}" y="${legendY + 4}">after (backfill)</text>` +
    `<text class="unit" x="${f.width - f.right}" y="${legendY + 4}" ` +
    `text-anchor="end">${h(`sum of ${series.column} ${per}`)}</text></g>` +
    `</svg>`
  );
}

function deltaChart(
  series: ReportSeries,
  points: ChartPoint[],
  expected: { min: number; max: number } | undefined,
  numbered: NumberedPoint[],
): string {
  const f: Frame = { width: 760, height: 130, left: 64, right: 14, top: 22, bottom: 26 };
  const known = points.map((p) => p.deltaPct).filter((v): v is number => v !== null);
  const bounds = [...known, 0, ...(expected ? [expected.min, expected.max] : [])];
  const ticks = niceTicks(Math.min(...bounds), Math.max(...bounds), 3);
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const x = xOf(f, points.length);
  const y = yOf(f, lo, hi);
  // A partition without a percentage (production 0) breaks the line rather than inventing a value.
  let d = '';
  let pen = false;
  points.forEach((p, i) => {
    if (p.deltaPct === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${xy(x(i), y(p.deltaPct))}`;
    pen = true;
  });
  const band = expected
    ? `<rect class="expected-band" x="${f.left}" width="${f.width - f.left - f.right}" ` +
      `y="${y(expected.max).toFixed(1)}" height="${Math.max(1, y(expected.min) - y(expected.max)).toFixed(1)}"/>`
    : '';
  return (
    `<svg class="delta-chart" data-measure="${h(series.column)}" viewBox="0 0 ${f.width} ${f.height}" role="img" ` +
    `aria-label="${h(`${series.column} change in percent per partition`)}">` +
    `<title>${h(`${series.column}: change per partition in percent` +
      `${expected ? `, expected ${expectedRange(expected)}` : ''}`)}</title>` +
    band +
    axes(f, points, ticks, y, tickLabels(ticks, '%')) +
    `<line class="zero" x1="${f.left}" x2="${f.width - f.right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}"/>` +
    `<path class="series-delta" d="${d}"/>` +
    markers(f, points, numbered, { y, lo, hi }) +
    `<g class="legend"><line class="series-delta" x1="${f.left}" x2="${f.left + 22}" y1="12" y2="12"/>` +
    `<text x="${f.left + 28}" y="16">change %</text>` +
    (expected
      ? `<rect class="expected-band" x="${f.left + 110}" y="6" width="22" height="12"/>` +
        `<text x="${f.left + 138}" y="16">${h(`expected ${expectedRange(expected)}`)}</text>`
      : '') +
    `</g></svg>`
  );
}

function chartFigure(data: ReportData, series: ReportSeries, numbered: NumberedPoint[]): string {
  const m = data.measures.find((x) => x.column === series.column);
  const expected = data.spec.measures.find((x) => x.column === series.column)?.expected;
  if (series.points.length === 0) {
    return (
      `<figure class="measure-chart" data-measure="${h(series.column)}"><figcaption>` +
      `<code>${h(series.column)}</code></figcaption><p class="muted">No reconciled partitions yet.</p></figure>`
    );
  }
  const { points, partitionsPerPoint } = bucketed(series.points);
  const per = perUnit(data.spec.range.grain, partitionsPerPoint);
  return (
    `<figure class="measure-chart" data-measure="${h(series.column)}">` +
    `<figcaption><code>${h(series.column)}</code>${m ? ` — ${h(change(data, m))}` : ''}</figcaption>` +
    sumsChart(series, points, per, numbered) +
    deltaChart(series, points, expected, numbered) +
    `</figure>`
  );
}

/** Every series' change-points, numbered in series order as the charts mark them. */
function numberedPoints(data: ReportData): Map<string, NumberedPoint[]> {
  let n = 0;
  return new Map(
    data.series.map((s) => [s.column, (s.changePoints ?? []).map((point) => ({ n: ++n, point }))] as const),
  );
}

function changePointsSection(data: ReportData, numbered: Map<string, NumberedPoint[]>): string {
  const all = [...numbered.values()].flat();
  if (!all.length) {
    return (
      `<p class="muted">No jump or outlier partition in the per-partition change of any measure ` +
      `(robust scan, ${h(data.spec.range.grain)} grain).</p>`
    );
  }
  return table(
    'change-points',
    ['#', 'Measure', 'Partition', 'Kind', 'Before', 'After', 'What it means'],
    all.map(({ n, point }) => ({
      cls: point.kind,
      cells: [
        h(n),
        code(point.measure),
        h(point.partition),
        `<span class="badge ${h(point.kind)}">${h(point.kind)}</span>`,
        h(percent(point.before)),
        h(percent(point.after)),
        h(point.message),
      ],
    })),
    [0, 4, 5],
  );
}

// ---------------------------------------------------------------------------------------------
// Sections

/** The spec's custom checks over the batches, and the rollback window's monitors (absent in older data). */
function checksAndMonitors(data: ReportData, at: Layout): string {
  const checks = data.checks?.length
    ? section(at, 'custom-checks', 'Custom checks', table(
      'checks',
      ['check', 'severity', 'batches', 'failed', 'first failure'],
      data.checks.map((c) => ({
        cls: c.failed ? (c.severity === 'fail' ? 'failed' : 'warned') : '',
        cells: [`${code(c.name)} ${h(c.description)}`, h(c.severity), String(c.batches), String(c.failed),
          h(c.firstFailure ?? '—')],
      })),
      [2, 3],
    ))
    : '';
  const monitors = data.monitors?.length
    ? section(at, 'monitors', 'Monitors after publish', table(
      'monitors',
      ['monitor', 'on breach', 'breaches', 'latest'],
      data.monitors.map((m) => ({
        cls: m.breaches ? 'failed' : '',
        cells: [`${code(m.name)} ${h(m.description)}`, h(m.onBreach), String(m.breaches),
          h(m.latest ?? 'no breach recorded')],
      })),
      [2],
    ))
    : '';
  return checks + monitors;
}

/**
 * Where a report's content stands in its page: on a page of its own (no prefix, depth 0: an h1 title,
 * h2 sections), or as one of several (a release's node: ids prefixed, headings one level down).
 */
export interface Layout {
  /** Put before every section id, so several reports' sections can share a page. */
  idPrefix: string;
  /** Levels the headings move down: h1 becomes h(1 + depth). */
  depth: number;
}

const ALONE: Layout = { idPrefix: '', depth: 0 };

/** An opening and closing heading tag of `level` (1 for the page's title) moved down by the layout's depth. */
export function heading(at: Layout, level: number, html: string): string {
  const n = Math.min(6, level + at.depth);
  return `<h${n}>${html}</h${n}>`;
}

export function section(at: Layout, id: string, title: string, body: string): string {
  return `<section id="${h(at.idPrefix + id)}">${heading(at, 2, h(title))}${body}</section>`;
}

export function dl(items: Array<[string, string | null]>): string {
  return `<dl class="facts">${items
    .filter((i): i is [string, string] => i[1] !== null)
    .map(([k, v]) => `<div><dt>${h(k)}</dt><dd>${v}</dd></div>`)
    .join('')}</dl>`;
}

/** `cells` are already escaped HTML. */
export function table(
  cls: string,
  header: string[],
  rows: Array<{ cells: string[]; cls?: string }>,
  numeric: number[] = [],
): string {
  const th = header.map((c, i) => `<th${numeric.includes(i) ? ' class="num"' : ''}>${h(c)}</th>`).join('');
  const body = rows
    .map((r) =>
      `<tr${r.cls ? ` class="${h(r.cls)}"` : ''}>` +
      `${r.cells.map((c, i) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`)
    .join('');
  return `<table class="${h(cls)}"><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

export const code = (s: string) => `<code>${h(s)}</code>`;

function stateDetail(data: ReportData): string {
  const { release, rollback } = data;
  switch (data.state) {
    case 'published':
      return rollback.status === 'open'
        ? `rollback possible until ${when(rollback.expiresAt)}`
        : `rollback window ended ${when(rollback.expiresAt)}`;
    case 'completed':
      return rollback.signedOff ? `signed off by ${rollback.signedOff.by}` : 'rollback window ended';
    case 'rolled_back':
      return rollback.rolledBack
        ? `by ${rollback.rolledBack.by}, ${when(rollback.rolledBack.at)}`
        : (release?.releaseId ?? '');
    default:
      return data.stateSince ? `since ${when(data.stateSince)}` : '';
  }
}

function measuresTable(data: ReportData): string {
  if (!data.measures.length) {
    return '<p class="muted">The spec declares no measures; only row counts were reconciled.</p>';
  }
  return table(
    'measures',
    ['Measure', 'Before', 'After', 'Difference', 'Change', 'Expected', 'Verdict'],
    data.measures.map((m) => ({
      cls: m.withinExpected ? 'ok' : 'out',
      cells: [
        code(m.column),
        h(amount(m.oldSum, decimalsFor(m.oldSum, m.newSum))),
        h(amount(m.newSum, decimalsFor(m.oldSum, m.newSum))),
        h(unchanged(data, m) ? '0' : signedAmount(m.delta, decimalsFor(m.oldSum, m.newSum))),
        h(percent(m.deltaPct)),
        h(expectedRange(m.expected)),
        m.withinExpected ? '<span class="badge ok">ok</span>' : '<span class="badge out">OUT</span>',
      ],
    })),
    [1, 2, 3, 4],
  );
}

function batchRow(data: ReportData, b: ReportBatch): { cells: string[]; cls: string } {
  const notes = [
    ...(b.accepted ? [`accepted by ${b.accepted.by}: ${b.accepted.reason}`] : []),
    ...b.failures,
    ...b.warnings.map((w) => `warning: ${w}`),
    ...(b.stale ? [`stale: written by ${b.codeVersion ?? 'no code version'}`] : []),
  ];
  return {
    cls: [b.verdict, b.stale ? 'stale' : '', b.warnings.length ? 'warned' : ''].filter(Boolean).join(' '),
    cells: [
      h(b.index + 1),
      h(b.first === b.last ? b.first : `${b.first} – ${b.last}`),
      `<span class="badge ${h(b.verdict)}">${h(b.verdict)}</span>`,
      h(`${b.rows.old.toLocaleString('en-US')} → ${b.rows.new.toLocaleString('en-US')}`),
      ...data.spec.measures.map((m) => h(percent(b.measures.find((x) => x.column === m.column)?.deltaPct ?? null))),
      notes.length ? `<ul class="notes">${notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul>` : '',
    ],
  };
}

function batchesSection(data: ReportData): string {
  const b = data.batches;
  const counts = `<p>${h(`${b.checkpointed} of ${b.planned} planned batches reconciled: ` +
    `${b.passed} passed, ${b.accepted} accepted, ${b.failed} failed`)}` +
    `${b.stale ? h(`; ${b.stale} stale (earlier code version, not counted)`) : ''}.</p>`;
  if (!b.items.length) return counts;
  const header = [
    '#', 'Partitions', 'Verdict', 'Rows before → after', ...data.spec.measures.map((m) => `${m.column} Δ%`), 'Notes',
  ];
  const numeric = [0, 3, ...data.spec.measures.map((_, i) => 4 + i)];
  return counts + table('batches', header, b.items.map((x) => batchRow(data, x)), numeric);
}

function topRowsSection(data: ReportData): string {
  if (!data.topChangedRows.length) return '<p class="muted">No row changed beyond its measure\'s tolerance.</p>';
  return (
    `<p class="muted">${h(`The ${data.topChangedRows.length} largest changes by absolute difference, ` +
      `joined on the unique key (${data.spec.target.uniqueKey.join(', ') || data.spec.target.partitionKey}).`)}</p>` +
    table(
      'top-rows',
      ['Key', 'Measure', 'Before', 'After', 'Difference', 'Batch'],
      data.topChangedRows.map((r) => {
        const d = decimalsFor(r.oldValue, r.newValue);
        return {
          cells: [
            h(keyText(r.key)),
            code(r.measure),
            h(amount(r.oldValue, d)),
            h(amount(r.newValue, d)),
            h(signedAmount(r.delta, d)),
            h(r.batch),
          ],
        };
      }),
      [2, 3, 4, 5],
    )
  );
}

function approvalSection(data: ReportData, at: Layout): string {
  const a = data.approval;
  const decision = (d: { by: string; comment: string | null; at: string } | null) =>
    d ? `${h(d.by)}, ${h(when(d.at))}${d.comment ? ` — <q>${h(d.comment)}</q>` : ''}` : null;
  const facts = dl([
    ['Approvers', a.approvers.length ? h(a.approvers.join(', ')) : '<span class="muted">none listed</span>'],
    ['Approved by', decision(a.approved)],
    ['Rejected by', decision(a.rejected)],
    ['Owner may approve', data.spec.approval ? (data.spec.approval.allowOwner ? 'yes' : 'no') : null],
    ['Approval timeout', data.spec.approval ? h(duration(data.spec.approval.timeoutMs)) : null],
  ]);
  const refused = a.refused.length
    ? `${heading(at, 3, 'Refused')}${table(
        'refusals',
        ['Who', 'Kind', 'When', 'Why'],
        a.refused.map((r) => ({ cells: [h(r.by), h(r.kind), h(when(r.at)), h(r.problem)] })),
      )}`
    : '';
  return facts + refused;
}

function releaseSection(data: ReportData): string {
  const r = data.release;
  if (!r) return '<p class="muted">Not published: production is untouched.</p>';
  return dl([
    ['Release', code(r.releaseId)],
    ['Status', `<span class="badge ${h(r.status)}">${h(r.status.replace('_', ' '))}</span>`],
    ['Published', h(when(r.publishedAt))],
    ['Dataset', code(r.dataset)],
    ['Range', h(`${r.sourceRange.start} to ${r.sourceRange.end} (${r.sourceRange.grain})`)],
    ['Publish mode', h(r.publishMode)],
    ['Approved by', h(r.approvedBy)],
    ['Code version', r.codeVersion ? code(r.codeVersion) : null],
    ['Restore point', code(r.restorePoint)],
    ['Rollback until', h(when(r.rollbackExpiresAt))],
  ]);
}

function rollbackSection(data: ReportData): string {
  const rb = data.rollback;
  const status: Record<typeof rb.status, string> = {
    not_published: 'nothing published, nothing to roll back',
    open: `open until ${when(rb.expiresAt)}`,
    rolled_back: 'rolled back: production restored to its pre-backfill result',
    closed: rb.signedOff ? 'closed by signoff' : `closed (window ended ${when(rb.expiresAt)})`,
  };
  return dl([
    ['Status', `<span class="badge rb-${h(rb.status)}">${h(status[rb.status])}</span>`],
    ['Window', h(`${duration(rb.windowMs)} after publish`)],
    ['Rolled back', rb.rolledBack
      ? h(`by ${rb.rolledBack.by}, ${when(rb.rolledBack.at)}` +
        `${rb.rolledBack.rowsRestored === null
          ? ''
          : `, ${rb.rolledBack.rowsRestored.toLocaleString('en-US')} rows restored`}` +
        `${rb.rolledBack.reason ? ` — ${rb.rolledBack.reason}` : ''}`)
      : null],
    ['Signed off', rb.signedOff
      ? h(`by ${rb.signedOff.by}, ${when(rb.signedOff.at)}${rb.signedOff.comment ? ` — ${rb.signedOff.comment}` : ''}`)
      : null],
    ['Cleanup', h(rb.cleanup === 'after_signoff'
      ? 'snapshot and shadow dropped after signoff'
      : 'snapshot and shadow dropped when the window ends')],
    ['Dropped', rb.cleanedUp ? h(`${rb.cleanedUp.dropped.join(', ') || 'nothing'} (${when(rb.cleanedUp.at)})`) : null],
  ]);
}

function timelineSection(data: ReportData): string {
  if (!data.timeline.length) return '<p class="muted">The audit log has no entries.</p>';
  return table(
    'timeline',
    ['When (UTC)', 'Actor', 'Action', 'Detail'],
    data.timeline.map((e) => ({
      cls: `action-${e.action.replace(/[^a-z0-9_-]/gi, '')}`,
      cells: [h(e.at.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')), h(e.actor), code(e.action), e.note ? h(e.note) : ''],
    })),
  );
}

export const CSS = `
:root{--ink:#1d2330;--muted:#5f6b7a;--line:#d9dee5;--bg:#fff;--soft:#f5f7fa;--old:#8a94a3;--new:#1f6feb;\
--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--band:#e6f0ff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);\
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1000px;margin:0 auto;padding:28px 24px 48px}
h1{font-size:24px;line-height:1.25;margin:0 0 6px}
h2{font-size:17px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:16px 0 6px}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;\
background:var(--soft);padding:1px 4px;border-radius:3px}
.subtitle{color:var(--muted);margin:0 0 14px}
.muted{color:var(--muted)}
.state{display:inline-flex;gap:10px;align-items:baseline;border:1px solid var(--line);border-radius:6px;\
padding:8px 12px;margin:4px 0 14px}
.state strong{font-size:15px}
.state.published strong,.state.completed strong{color:var(--ok)}
.state.rolled_back strong,.state.failed strong,.state.rejected strong,.state.halted strong{color:var(--bad)}
.state.awaiting_approval strong,.state.approved strong,.state.publishing strong{color:var(--warn)}
.summary p{margin:0 0 8px;font-size:15px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:6px 18px;margin:10px 0}
.facts div{min-width:0}
.facts dt{color:var(--muted);font-size:12px}
.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;background:var(--soft)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.out td{background:#fff0f0}
tr.failed td{background:#fff0f0}
tr.accepted td{background:#fff8e5}
tr.stale td{color:var(--muted)}
.notes{margin:0;padding-left:16px;font-size:12px;overflow-wrap:anywhere}
.badge{display:inline-block;font-size:11.5px;font-weight:600;padding:1px 7px;border-radius:10px;\
border:1px solid currentColor;white-space:nowrap}
.badge.ok,.badge.passed,.badge.published,.badge.rb-open{color:var(--ok)}
.badge.out,.badge.failed,.badge.rolled_back,.badge.rb-rolled_back{color:var(--bad)}
.badge.accepted,.badge.publishing{color:var(--warn)}
.badge.signed_off,.badge.rb-closed,.badge.rb-not_published{color:var(--muted)}
ul.warnings li{margin-bottom:4px;overflow-wrap:anywhere}
figure.measure-chart{margin:14px 0 22px;break-inside:avoid;page-break-inside:avoid}
figcaption{font-weight:600;margin-bottom:4px}
svg{display:block;width:100%;height:auto;overflow:visible}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--muted)}
svg .legend text{fill:var(--ink)}
svg .grid{stroke:#eceff3;stroke-width:1}
svg .axis,svg .month{stroke:#9aa4b2;stroke-width:1}
svg .zero{stroke:#9aa4b2;stroke-width:1;stroke-dasharray:3 3}
svg .series-old{fill:none;stroke:var(--old);stroke-width:3;stroke-linejoin:round;stroke-linecap:round}
svg .series-new{fill:none;stroke:var(--new);stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round}
svg .series-delta{fill:none;stroke:var(--new);stroke-width:1.5;stroke-linejoin:round}
svg .expected-band{fill:var(--band);stroke:none}
svg .change-point-line{stroke:var(--warn);stroke-width:1;stroke-dasharray:4 3}
svg .change-point-dot{fill:var(--warn);stroke:#fff;stroke-width:1}
svg text.change-point-label{fill:var(--warn);font-weight:600}
.badge.jump,.badge.outlier{color:var(--warn)}
table.change-points td:nth-child(3){white-space:nowrap}
table.change-points td:last-child{font-size:12px;overflow-wrap:anywhere}
footer{margin-top:36px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
@media print{
  body{font-size:11px}
  h1{font-size:20px}
  .summary p{font-size:12.5px}
  main{max-width:none;padding:0}
  h2{break-after:avoid;page-break-after:avoid}
  table,tr,figure,.facts{break-inside:avoid;page-break-inside:avoid}
  table.batches,table.timeline{break-inside:auto;page-break-inside:auto}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
@page{margin:14mm}
`;

/** The report's title: its issue and the change. */
export const reportTitle = (data: ReportData): string => `${data.spec.reason.issue}: ${data.spec.reason.change}`;

/**
 * A report's content without the page around it: its header (title, state, summary) and every
 * section, laid out by `at`; `title` replaces the issue-and-change heading (a release's node names
 * itself). renderReportHtml puts it on a page of its own; a release's report puts one per node.
 */
export function renderReportContentHtml(data: ReportData, at: Layout = ALONE, title = reportTitle(data)): string {
  const { spec } = data;
  const header =
    `<header>${heading(at, 1, h(title))}` +
    `<p class="subtitle">${h(`Changed history in ${spec.target.table}, ${spec.range.start} to ${spec.range.end}`)} · ` +
    `backfill ${code(spec.backfillId)}` +
    `${spec.codeVersion ? ` · code ${code(spec.codeVersion)}` : ''}</p>` +
    `<div class="state ${h(data.state)}"><strong>${h(STATE_LABELS[data.state])}</strong>` +
    `<span class="muted">${h(stateDetail(data))}</span></div>` +
    `<div class="summary">${summarySentences(data).map((s) => `<p>${h(s)}</p>`).join('')}</div></header>`;

  const what = section(
    at,
    'what',
    'What changed and why',
    dl([
      ['Issue', h(spec.reason.issue)],
      ['Change', h(spec.reason.change)],
      ['Code version', spec.codeVersion ? code(spec.codeVersion) : '<span class="muted">none recorded</span>'],
      ['Owner', h(spec.owner)],
      ['Started by', data.plan.startedBy ? h(data.plan.startedBy) : null],
      ['Target', code(spec.target.table)],
      [
        'Range',
        h(
          `${spec.range.start} to ${spec.range.end}, by ${spec.range.grain} ` +
            `(${data.plan.partitions.toLocaleString('en-US')} partitions ` +
            `in ${data.plan.batches.toLocaleString('en-US')} batches)`,
        ),
      ],
      ['Rows in range when planned', h(data.plan.rows.toLocaleString('en-US'))],
      ['Partition key', code(spec.target.partitionKey)],
      ['Unique key', spec.target.uniqueKey.length ? h(spec.target.uniqueKey.join(', ')) : null],
      ['Shadow', code(spec.target.shadow)],
      ['Restore point', code(spec.snapshot)],
      ['Publish', h(spec.publish.mode + (spec.publish.view ? ` via ${spec.publish.view}` : ''))],
      [
        'Idempotency proof',
        data.proof
          ? h(
              `${data.proof.partition} rewritten twice, ` +
                `identical (${data.proof.rowsWritten.toLocaleString('en-US')} rows, hash ${data.proof.rowHash}), ` +
                `${when(data.proof.at)}`,
            )
          : '<span class="muted">not recorded</span>',
      ],
    ]),
  );

  const rows = data.coverage.rows;
  const measures = section(
    at,
    'measures',
    'Measures over the range',
    measuresTable(data) +
      `<p class="muted">${h(`Over ${data.coverage.partitions.toLocaleString('en-US')} reconciled partitions; ` +
        `rows ${rows.old.toLocaleString('en-US')} before, ${rows.new.toLocaleString('en-US')} after.`)}</p>`,
  );
  const numbered = numberedPoints(data);
  const charts = section(
    at,
    'charts',
    'Per partition: before and after',
    data.series.length
      ? data.series.map((s) => chartFigure(data, s, numbered.get(s.column) ?? [])).join('')
      : '<p class="muted">No measures to chart.</p>',
  );
  // Data gathered before change-points were computed has none to list, not an empty list.
  const changePoints = data.series.some((s) => s.changePoints && s.points.length)
    ? section(at, 'change-points', 'Change-points', changePointsSection(data, numbered))
    : '';
  const warnings = data.warnings.length || data.plan.warnings.length
    ? section(
      at,
      'warnings',
      'Warnings',
      `<ul class="warnings">${[...data.plan.warnings.map((w) => `plan: ${w}`), ...data.warnings]
        .map((w) => `<li>${h(w)}</li>`)
        .join('')}</ul>`,
    )
    : '';

  return (
    `${header}${what}${measures}${charts}${changePoints}${warnings}${checksAndMonitors(data, at)}` +
    section(at, 'batches', 'Batch verdicts', batchesSection(data)) +
    section(at, 'top-rows', 'Largest changed rows', topRowsSection(data)) +
    section(at, 'approval', 'Approval', approvalSection(data, at)) +
    section(at, 'release', 'Release', releaseSection(data)) +
    section(at, 'rollback', 'Rollback', rollbackSection(data)) +
    section(at, 'timeline', 'Audit timeline', timelineSection(data))
  );
}

/** A self-contained page: inline CSS (`css` added to the report's), no script, nothing loaded from elsewhere. */
export function htmlPage(title: string, main: string, css = CSS): string {
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${h(title)}</title><style>${css}</style></head>` +
    `<body><main>${main}</main></body></html>\n`
  );
}

export function renderReportHtml(data: ReportData): string {
  return htmlPage(
    `${reportTitle(data)} — backfill report`,
    renderReportContentHtml(data) +
      `<footer>${h(`Generated ${when(data.generatedAt)} from the backfill control schema ` +
        `(report version ${data.version}).`)}</footer>`,
  );
}
