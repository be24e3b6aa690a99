/**
 * The report renderers: the Markdown announcement and the self-contained HTML report, on a
 * hand-built report full of hostile text and on the data of a real published backfill (shared
 * Temporal dev server, real DuckDB), opened in a real Chromium to see the charts drawn.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml, escapeMarkdown, renderReportHtml, renderReportMarkdown, writeReport } from '../../client/report';
import { MAX_CHART_POINTS, tickLabels } from '../../client/report/render-html';
import * as m from '../../contracts/messages';
import type { ReportData, ReportPoint, ReportSeries } from '../../contracts/report';
import { changePoints } from '../../domain/change-points';
import { partitionLabel, partitionOrdinal, type Grain } from '../../domain/partitions';
import { bucketPoints, REPORT_POINTS } from '../../domain/report-points';
import { gatherReportData } from '../../warehouse/report-data';
import { lab, testSpec, waitForStatus, type Env, type Lab } from '../support/backfill-harness';
import { launchBrowser } from '../support/browser';
import { temporalTestEnv } from '../support/temporal';
import { decide } from '../support/decide';

const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');

const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(2)>',
  "' onmouseover='alert(3)",
  '&lt;already-escaped&gt; & <b>bold</b>',
  '</svg></figure><iframe src="https://evil.example/"></iframe>',
  '| cell | break |\n# heading\n- list',
  '[link](https://evil.example/) ![img](https://evil.example/x.png) `code` **bold** _em_ <https://evil.example/>',
];

function days(n: number, from = Date.UTC(2025, 0, 1)): string[] {
  return Array.from({ length: n }, (_, i) => new Date(from + i * 86_400_000).toISOString().slice(0, 10));
}

function points(labels: string[], base: number, pct: number): ReportPoint[] {
  return labels.map((partition, i) => {
    const old = base + 1000 * Math.sin(i / 3) + 37.25 * i;
    const neu = old * (1 + pct / 100);
    return {
      partition,
      old,
      new: neu,
      delta: neu - old,
      deltaPct: old === 0 ? null : (100 * (neu - old)) / Math.abs(old),
      oldRows: 30,
      newRows: 30,
    };
  });
}

/** A report of a rolled-back backfill whose every free-text field is hostile. */
function hostileFixture(): ReportData {
  const labels = days(60);
  const sumOf = (ps: ReportPoint[], k: 'old' | 'new') => ps.reduce((a, p) => a + p[k], 0);
  const net = points(labels, 200_000, -1.1);
  const weird = points(labels, 5_000, 0);
  const measureCol = 'net_revenue"><script>alert(4)</script>';
  return {
    version: 1,
    generatedAt: '2026-06-20T08:00:00.000Z',
    spec: {
      backfillId: 'hostile-fixture',
      owner: HOSTILE[1]!,
      target: {
        table: 'finance.daily_revenue', partitionKey: 'revenue_date', uniqueKey: ['revenue_date', 'merchant_id'],
        shadow: 'finance.daily_revenue_v2',
      },
      snapshot: 'finance.daily_revenue_pre',
      range: { start: '2025-01-01', end: '2025-03-01', grain: 'day' },
      reason: { issue: HOSTILE[0]!, change: HOSTILE[5]! },
      codeVersion: 'git:`8f3`' + HOSTILE[2]!,
      measures: [
        { column: measureCol, expected: { min: -1.5, max: -0.8 }, absTolerance: 0.005 },
        { column: 'order_count', expected: { min: 0, max: 0 }, absTolerance: 0.005 },
      ],
      publish: { mode: 'range', view: null },
      rollback: { windowMs: 14 * 86_400_000, cleanup: 'after_signoff' },
      approval: { approvers: [HOSTILE[3]!, 'finance-controller'], allowOwner: false, timeoutMs: 7 * 86_400_000 },
    },
    state: 'rolled_back',
    stateSince: '2026-06-19T12:00:00.000Z',
    plan: {
      recordedAt: '2026-06-18T09:00:00.000Z', startedBy: HOSTILE[4]!, partitions: 60, batches: 2, rows: 1800,
      bytes: null, seconds: null, representativePartition: '2025-01-15', emptyPartitions: 0, warnings: [HOSTILE[6]!],
    },
    batches: {
      planned: 2, checkpointed: 2, passed: 1, failed: 0, accepted: 1, stale: 0,
      items: [
        { index: 0, first: '2025-01-01', last: '2025-01-30', partitions: 30, rowsWritten: 900, verdict: 'passed',
          accepted: null, failures: [], warnings: [],
          measures: [{ column: measureCol, oldSum: 1, newSum: 0.99, deltaPct: -1, cumulativeDeltaPct: -1 }],
          rows: { old: 900, new: 900 }, codeVersion: 'x', stale: false,
          startedAt: null, finishedAt: '2026-06-18T10:00:00.000Z' },
        { index: 1, first: '2025-01-31', last: '2025-03-01', partitions: 30, rowsWritten: 900, verdict: 'accepted',
          accepted: { by: HOSTILE[0]!, reason: HOSTILE[1]!, at: '2026-06-18T11:00:00.000Z' },
          failures: [HOSTILE[4]!], warnings: [HOSTILE[2]!],
          measures: [{ column: measureCol, oldSum: 1, newSum: 0.97, deltaPct: -3, cumulativeDeltaPct: -2 }],
          rows: { old: 900, new: 900 }, codeVersion: 'x', stale: false,
          startedAt: null, finishedAt: '2026-06-18T11:00:00.000Z' },
      ],
    },
    coverage: { partitions: 60, rows: { old: 1800, new: 1800 } },
    measures: [
      { column: measureCol, oldSum: sumOf(net, 'old'), newSum: sumOf(net, 'new'),
        delta: sumOf(net, 'new') - sumOf(net, 'old'), deltaPct: -1.1, expected: { min: -1.5, max: -0.8 },
        withinExpected: true },
      { column: 'order_count', oldSum: 18_000, newSum: 18_050, delta: 50, deltaPct: 0.2777,
        expected: { min: 0, max: 0 }, withinExpected: false },
    ],
    series: [
      {
        column: measureCol,
        points: net,
        changePoints: [
          {
            measure: measureCol, partition: '2025-02-01', kind: 'jump', before: -1.1, after: -3.2, magnitude: 2.1,
            message: `${measureCol} delta% drops from -1.10% to -3.20% at 2025-02-01 ${HOSTILE[6]}`,
          },
        ],
      },
      { column: 'order_count', points: weird, changePoints: [] },
    ],
    topChangedRows: [
      { key: { revenue_date: '2025-01-02', merchant_id: HOSTILE[0]! }, measure: measureCol,
        oldValue: 100, newValue: 90, delta: -10, batch: 1 },
      { key: { revenue_date: '2025-01-03', merchant_id: null }, measure: 'order_count',
        oldValue: null, newValue: 2, delta: 2, batch: 2 },
    ],
    warnings: [HOSTILE[2]!, HOSTILE[6]!],
    proof: { partition: '2025-01-15', rowsWritten: 30, rowHash: HOSTILE[0]!, at: '2026-06-18T09:30:00.000Z' },
    approval: {
      approvers: [HOSTILE[3]!, 'finance-controller'],
      approved: { by: 'finance-controller', comment: HOSTILE[5]!, at: '2026-06-19T09:00:00.000Z' },
      rejected: null,
      refused: [{ by: HOSTILE[0]!, kind: 'approve', problem: HOSTILE[1]!, at: '2026-06-19T08:00:00.000Z' }],
    },
    release: {
      releaseId: 'hostile-fixture-release', dataset: 'finance.daily_revenue', backfillId: 'hostile-fixture',
      publishedAt: '2026-06-19T10:00:00.000Z',
      sourceRange: { start: '2025-01-01', end: '2025-03-01', grain: 'day' }, codeVersion: HOSTILE[2]!,
      approvedBy: 'finance-controller',
      restorePoint: 'finance.daily_revenue_pre', rollbackExpiresAt: '2026-07-03T10:00:00.000Z', publishMode: 'range',
      status: 'rolled_back',
    },
    rollback: {
      windowMs: 14 * 86_400_000, cleanup: 'after_signoff', expiresAt: '2026-07-03T10:00:00.000Z', status: 'rolled_back',
      rolledBack: { by: HOSTILE[3]!, reason: HOSTILE[4]!, at: '2026-06-19T12:00:00.000Z', rowsRestored: 1800 },
      signedOff: null, cleanedUp: null,
    },
    timeline: HOSTILE.map((text, i) => ({
      at: `2026-06-18T0${i}:00:00.000Z`, actor: text, action: i % 2 ? 'approved' : text, note: text,
    })),
  };
}

/** Elements that fetch something from elsewhere or run code: never in a report, whatever its text. */
const FOREIGN_TAGS = [/<script/i, /<link/i, /<iframe/i, /<img/i, /<object/i, /<embed/i, /@import/i, /url\(/i];
/** No address at all: checked on a report whose text holds none. */
const ADDRESSES = [/https?:\/\//i, /\ssrc=/i, /\shref=/i];
/** In the page: nothing that could load or link anything. */
const FOREIGN_ELEMENTS = 'script, link, iframe, img, object, embed, [src], [href], [onerror], [onmouseover], [onload]';

/** The SVG DOM this file reads in the page (the project's tsconfig has no DOM lib). */
interface Polyline {
  points: { numberOfItems: number; getItem(i: number): { x: number; y: number } };
  getBBox(): { width: number; height: number };
}
interface BrowserWindow {
  getComputedStyle(e: unknown): { stroke: string };
}

let browser: Browser;
let page: Page;
const requests: string[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  // Nothing in a report may reach the network: every request is refused and recorded.
  await page.route('**/*', async (route) => {
    requests.push(route.request().url());
    await route.abort();
  });
});

afterAll(async () => {
  await browser?.close();
  expect(requests).toEqual([]);
});

describe('escapeHtml', () => {
  it('leaves no markup characters, and the browser reads the original text back', async () => {
    for (const s of HOSTILE) {
      const escaped = escapeHtml(s);
      expect(escaped).not.toMatch(/[<>"']/);
      expect(escaped.replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toContain('&');
      await page.setContent(`<p title="${escaped}">${escaped}</p>`);
      expect(await page.locator('p').textContent()).toBe(s);
      expect(await page.locator('p').getAttribute('title')).toBe(s);
    }
    expect(escapeHtml('a & b')).toBe('a &amp; b');
    expect(escapeHtml(42)).toBe('42');
  });
});

describe('escapeMarkdown', () => {
  it('neutralises emphasis, code, links, HTML, table pipes and line breaks, ' +
    'and keeps words like net_revenue bare', () => {
    expect(escapeMarkdown('net_revenue')).toBe('net_revenue');
    expect(escapeMarkdown('_em_ *b* `c` [l](u) <b> a|b ~s~')).toBe(
      '\\_em\\_ \\*b\\* \\`c\\` \\[l\\](u) \\<b\\> a\\|b \\~s\\~',
    );
    expect(escapeMarkdown('# title')).toBe('\\# title');
    expect(escapeMarkdown('- item')).toBe('\\- item');
    expect(escapeMarkdown('2025. a year')).toBe('2025\\. a year');
    expect(escapeMarkdown('one\n# two\r\n| three')).toBe('one # two \\| three');
    expect(escapeMarkdown('&lt; and & and &#60;')).toBe('\\&lt; and & and \\&#60;');
    expect(escapeMarkdown('C:\\path')).toBe('C:\\\\path');
  });
});

describe('renderReportHtml on hostile text', () => {
  const html = renderReportHtml(hostileFixture());

  it('is one self-contained file: no external resource, no script', async () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    for (const pattern of FOREIGN_TAGS) expect(html).not.toMatch(pattern);
    expect(html.match(/<style>/g)).toHaveLength(1);
    await page.setContent(html);
    expect(await page.locator(FOREIGN_ELEMENTS).count()).toBe(0);
  });

  it('shows every hostile string as text, never as markup', async () => {
    await page.setContent(html);
    expect(await page.locator('b').count()).toBe(0);
    const text = (await page.locator('body').textContent())!;
    for (const s of HOSTILE) expect(text).toContain(s);
    // Attribute values hold the hostile measure name intact instead of breaking out of the attribute.
    const measures = await page
      .locator('svg.chart')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-measure')));
    expect(measures).toEqual(['net_revenue"><script>alert(4)</script>', 'order_count']);
    expect(await page.locator('h1').textContent()).toBe(`${HOSTILE[0]}: ${HOSTILE[5]}`);
  });

  it('marks the accepted batch, the out-of-range measure and the rollback', async () => {
    await page.setContent(html);
    expect(await page.locator('table.batches tr.accepted').count()).toBe(1);
    expect(await page.locator('table.measures tr.out').count()).toBe(1);
    expect(await page.locator('table.measures tr.out code').textContent()).toBe('order_count');
    expect(await page.locator('.state.rolled_back strong').textContent()).toBe('Rolled back');
    expect(await page.locator('#rollback').textContent()).toContain('1,800 rows restored');
  });

  it('lists the custom checks with their failures and the monitors with their breaches, in HTML and Markdown',
    async () => {
      const data: ReportData = {
        ...hostileFixture(),
        checks: [
          { name: 'gross-matches-events', description: 'gross equals the events', severity: 'fail', batches: 9,
            failed: 1, firstFailure: 'gross-matches-events returned 2 rows in batch 4, first: d=2025-01-22' },
          { name: 'few-refunds', description: 'refunds stay rare', severity: 'warn', batches: 9, failed: 0,
            firstFailure: null },
        ],
        monitors: [{
          name: 'monthly-net-revenue', description: 'months moved more than 2%', onBreach: 'rollback', breaches: 1,
          latest: 'breached at 2026-06-20T10:00:00Z: monthly-net-revenue breached: 3, expected at most 0' }],
      };
      await page.setContent(renderReportHtml(data));
      expect(await page.locator('table.checks tr.failed').count()).toBe(1);
      expect(await page.locator('table.checks tr.failed').textContent()).toContain('returned 2 rows in batch 4');
      expect(await page.locator('#monitors').textContent()).toContain('breached: 3, expected at most 0');
      const md = renderReportMarkdown(data);
      expect(md).toContain('failed 1 of 9 batches');
      expect(md).toContain('passed in 9 batches');
      expect(md).toContain('1 breach; breached at 2026-06-20T10:00:00Z');
    });

  it('draws a long range in buckets of consecutive partitions, at most MAX_CHART_POINTS points a line', async () => {
    const data = hostileFixture();
    const labels = Array.from({ length: 2000 }, (_, i) =>
      new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10),
    );
    data.series = [{ column: 'order_count', points: points(labels, 1000, 0.5) }];
    await page.setContent(renderReportHtml(data));
    const counts = await page
      .locator('svg.chart polyline.series-old, svg.chart polyline.series-new')
      .evaluateAll((els) => els.map((e) => (e as unknown as Polyline).points.numberOfItems));
    expect(counts).toEqual([667, 667]); // 2000 days in buckets of 3
    expect(counts.every((n) => n <= MAX_CHART_POINTS)).toBe(true);
    expect(await page.locator('svg.chart title').textContent()).toMatch(/per 3 days/);
  });
});

/** A partition-by-partition series at `grain` from its delta%: production 1,000 a partition. */
function seriesOf(column: string, grain: Grain, start: string, deltas: Array<number | null>): ReportSeries {
  const first = partitionOrdinal(start, grain)!;
  const points = deltas.map((pct, i): ReportPoint => {
    const neu = 1000 * (1 + (pct ?? 0) / 100);
    return {
      partition: partitionLabel(first + i, grain),
      old: 1000,
      new: neu,
      delta: neu - 1000,
      deltaPct: pct === null ? null : (100 * (neu - 1000)) / 1000,
      oldRows: 10,
      newRows: 10,
    };
  });
  return { column, points, changePoints: changePoints(points, { grain, measure: column }) };
}

/** The FX case: 0.00% until the bug starts on Mar 1, then about +1.48%. */
function fxDeltas(n: number, perDay: number): number[] {
  let seed = 7;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  return Array.from({ length: n }, (_, i) => (i < 59 * perDay ? 0 : 1.48 + (rnd() - 0.5) * 0.6));
}

function withSeries(series: ReportSeries[], grain: Grain): ReportData {
  const data = hostileFixture();
  data.spec.range = { start: '2026-01-01', end: '2026-03-31', grain };
  data.series = series;
  return data;
}

describe('renderReportHtml: units, ticks and change-points on the charts', () => {
  it('names the bucket size in the unit when the data arrived bucketed, as a run\'s report does', async () => {
    // 92 days of hours, bucketed by the worker to REPORT_POINTS (3 hours a point) before the renderer sees them.
    const hours = seriesOf('revenue_usd', 'hour', '2026-01-01T00:00', fxDeltas(92 * 24, 24));
    const carried = { ...hours, points: bucketPoints(hours.points, REPORT_POINTS) };
    expect(carried.points).toHaveLength(736);
    await page.setContent(renderReportHtml(withSeries([carried], 'hour')));
    const chart = page.locator('svg.chart');
    expect(await chart.locator('text.unit').textContent()).toBe('sum of revenue_usd per 3 hours');
    expect(await chart.locator('> title').textContent()).toMatch(/^revenue_usd per 3 hours:/);
    // Ten years of hours: the worker's buckets of 88, summed again by twos to fit MAX_CHART_POINTS.
    const decade = seriesOf('revenue_usd', 'hour', '2016-01-01T00:00', Array.from({ length: 87_600 }, () => 1));
    const twice = { ...decade, points: bucketPoints(decade.points, REPORT_POINTS) };
    await page.setContent(renderReportHtml(withSeries([twice], 'hour')));
    expect(await page.locator('svg.chart text.unit').textContent()).toBe('sum of revenue_usd per 176 hours');
    // Unbucketed: one partition a point.
    const days = seriesOf('revenue_usd', 'day', '2026-01-01', fxDeltas(90, 1));
    await page.setContent(renderReportHtml(withSeries([days], 'day')));
    expect(await page.locator('svg.chart text.unit').textContent()).toBe('sum of revenue_usd per day');
  });

  it('labels y ticks distinctly on a narrow range: 1,765 to 1,780, not 1.77k three times', async () => {
    expect(tickLabels([1765, 1770, 1775, 1780])).toEqual(['1,765', '1,770', '1,775', '1,780']);
    expect(tickLabels([199_500, 200_000, 200_500])).toEqual(['199.5k', '200.0k', '200.5k']);
    expect(tickLabels([1_200_000, 1_400_000])).toEqual(['1.2M', '1.4M']);
    expect(tickLabels([1.482, 1.484, 1.486], '%')).toEqual(['+1.482%', '+1.484%', '+1.486%']);
    expect(tickLabels([-1, 0, 1], '%')).toEqual(['-1%', '0%', '+1%']);
    const data = withSeries([seriesOf('revenue_usd', 'day', '2026-01-01', fxDeltas(90, 1))], 'day');
    // Sums between 1,765 and 1,778 a day, barely changed: a tight band of values.
    data.series[0]!.points = data.series[0]!.points.map((p, i) => {
      const old = 1765 + (i % 14);
      const neu = old * 1.00083;
      return { ...p, old, new: neu, delta: neu - old, deltaPct: (100 * (neu - old)) / old };
    });
    await page.setContent(renderReportHtml(data));
    const sums = await page.locator('svg.chart text.y-tick').allTextContents();
    expect(sums).toEqual(['1,765', '1,770', '1,775', '1,780']);
    const deltas = await page.locator('svg.delta-chart text.y-tick').allTextContents();
    expect(new Set(deltas).size).toBe(deltas.length);
    expect(deltas.length).toBeGreaterThan(1);
  });

  it('marks the day the FX bug starts on the chart, numbered as the Change-points section lists it', async () => {
    const fx = seriesOf('amount_usd', 'day', '2026-01-01', fxDeltas(90, 1));
    expect(fx.changePoints!.map((p) => p.partition)).toEqual(['2026-03-01']);
    const data = withSeries([fx, seriesOf('order_count', 'day', '2026-01-01', Array(90).fill(0))], 'day');
    const html = renderReportHtml(data);
    for (const pattern of FOREIGN_TAGS) expect(html).not.toMatch(pattern);
    await page.setContent(html);
    const marker = page.locator('svg.delta-chart[data-measure="amount_usd"] g.change-point');
    expect(await marker.count()).toBe(1);
    expect(await marker.getAttribute('data-partition')).toBe('2026-03-01');
    expect(await marker.locator('text.change-point-label').textContent()).toBe('1');
    expect(await marker.locator('title').textContent()).toMatch(
      /^1\. amount_usd delta% jumps from \+0\.00% to \+1\.\d\d% at 2026-03-01/,
    );
    // On the 60th point of the line (Mar 1 is day 60), in the sums chart too.
    const x = await marker.locator('line').getAttribute('x1');
    const path = page.locator('svg.delta-chart[data-measure="amount_usd"] path.series-delta');
    expect((await path.getAttribute('d'))!.split(/[ML]/).filter(Boolean)[59]!.split(',')[0]).toBe(x);
    expect(await page.locator('svg.chart[data-measure="amount_usd"] g.change-point line').getAttribute('x1')).toBe(x);
    expect(await page.locator('svg[data-measure="order_count"] g.change-point').count()).toBe(0);
    const rows = page.locator('#change-points table.change-points tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.locator('td').allTextContents()).toEqual([
      '1', 'amount_usd', '2026-03-01', 'jump', '0.00%', expect.stringMatching(/^\+1\.\d\d%$/),
      fx.changePoints![0]!.message,
    ]);
    expect(await page.locator('.summary').textContent()).toContain(
      'Read the 1 change-point, 2 warnings and 1 accepted batch below before relying on it.',
    );
    const md = renderReportMarkdown(data);
    expect(md).toContain(`**Change-points**\n\n- Jump: ${fx.changePoints![0]!.message}\n`);
  });

  it('marks an hourly change-point in the bucket that holds it', async () => {
    const hours = seriesOf('revenue_usd', 'hour', '2026-01-01T00:00', fxDeltas(92 * 24, 24));
    expect(hours.changePoints!.map((p) => p.partition)).toEqual(['2026-03-01T00:00:00']);
    const carried = { ...hours, points: bucketPoints(hours.points, REPORT_POINTS) };
    await page.setContent(renderReportHtml(withSeries([carried], 'hour')));
    const marker = page.locator('svg.delta-chart g.change-point');
    expect(await marker.getAttribute('data-partition')).toBe('2026-03-01T00:00:00');
    // 59 days of 8 buckets: the bucket starting at Mar 1 00:00 is point 472.
    expect(carried.points[472]!.partition).toBe('2026-03-01T00:00:00');
    const path = (await page.locator('svg.delta-chart path.series-delta').getAttribute('d'))!;
    const x = await marker.locator('line').getAttribute('x1');
    expect(path.split(/[ML]/).filter(Boolean)[472]!.split(',')[0]).toBe(x);
  });

  it('says when no change-point was found, and nothing for data gathered before they were computed', async () => {
    const flat = withSeries([seriesOf('amount_usd', 'day', '2026-01-01', Array(90).fill(1.2))], 'day');
    await page.setContent(renderReportHtml(flat));
    expect(await page.locator('#change-points').textContent()).toContain('No jump or outlier partition');
    expect(renderReportMarkdown(flat)).not.toContain('Change-points');
    flat.series[0]!.changePoints = undefined;
    await page.setContent(renderReportHtml(flat));
    expect(await page.locator('#change-points').count()).toBe(0);
  });
});

describe('renderReportMarkdown on hostile text', () => {
  const md = renderReportMarkdown(hostileFixture());

  it('keeps every line structure its own: one heading, an intact table, no injected links, images or HTML', () => {
    const lines = md.split('\n');
    expect(lines.filter((l) => l.startsWith('#'))).toHaveLength(1);
    expect(lines[0]).toMatch(/^## \\<script\\>alert\(1\)\\<\/script\\>: \\\| cell \\\| break \\\| # heading - list$/);
    const table = lines.filter((l) => l.startsWith('|'));
    expect(table).toHaveLength(4); // header, rule, two measures
    for (const row of table) expect(row.split(/(?<!\\)\|/).length).toBe(9);
    // Code spans render their content literally; everywhere else markup characters are escaped.
    const prose = md.replace(/(`+)[^`].*?\1/g, '');
    expect(prose).not.toMatch(/(?<!\\)<(script|img|b|iframe)/);
    expect(prose).not.toMatch(/(?<!\\)\[link\]/);
    expect(md).toContain('**OUT OF RANGE**');
  });
});

describe('writeReport', () => {
  it('writes <backfill_id>.html and <backfill_id>.md, and refuses an id that is not a slug', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'backfill-report-')), 'reports');
    const data = hostileFixture();
    const { htmlPath, markdownPath } = writeReport(data, dir);
    expect(htmlPath).toBe(join(dir, 'hostile-fixture.html'));
    expect(markdownPath).toBe(join(dir, 'hostile-fixture.md'));
    expect(readFileSync(htmlPath, 'utf8')).toBe(renderReportHtml(data));
    expect(readFileSync(markdownPath, 'utf8')).toBe(renderReportMarkdown(data));
    expect(() => writeReport({ ...data, spec: { ...data.spec, backfillId: '../escape' } }, dir)).toThrow(/backfill_id/);
  });
});

describe('the report of a real published backfill', () => {
  let env: Env;
  let l: Lab;
  let data: ReportData;

  beforeAll(async () => {
    env = await temporalTestEnv();
    l = await lab(env);
    const spec = testSpec('report-render');
    const handle = await l.start(spec, 'data-engineer');
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'deltas as expected' });
    await waitForStatus(handle, (s) => s.state === 'published');
    data = (await gatherReportData(l.warehouse, spec.backfill_id))!;
    await handle.terminate('report test over');
  });

  afterAll(async () => {
    await l?.stop();
    await env?.connection.close();
  });

  it('announces it in Markdown: heading, summary with net effect, release and rollback window, measures table', () => {
    const md = renderReportMarkdown(data);
    const release = data.release!;
    const lines = md.split('\n');
    expect(lines[0]).toBe('## FIN-2841: Correct tax-inclusive revenue calculation');
    expect(md).toContain('**Published**');
    const summary = lines.find((l) => l.startsWith('Correct tax-inclusive revenue calculation (FIN-2841)'))!;
    expect(summary).toContain(`backfill ${data.spec.backfillId} recomputed 59 daily partitions of ` +
      `finance.daily_revenue, 2025-01-01 to 2025-02-28 with code git:8f31c2a.`);
    const net = data.measures.find((x) => x.column === 'net_revenue')!;
    expect(summary).toMatch(new RegExp(`net_revenue -${Math.abs(net.deltaPct!).toFixed(2)}% \\(`));
    expect(summary).toContain('gross_revenue unchanged');
    expect(summary).toContain(`Published as release ${release.releaseId} at ` +
      `${release.publishedAt.slice(0, 16).replace('T', ' ')} UTC, approved by finance-controller`);
    expect(summary).toContain(`rolled back until ${release.rollbackExpiresAt.slice(0, 16).replace('T', ' ')} UTC`);
    expect(summary.split(/(?<=\.) (?=[A-Z])/).length).toBeLessThanOrEqual(4);
    expect(md).toContain('| Measure | Before | After | Difference | Change | Expected |  |');
    expect(md).toMatch(/\| `net_revenue` \| [\d,.]+ \| [\d,.]+ \| -[\d,.]+ \| -1\.\d\d% \| -1\.5% to -0\.8% \| ok \|/);
    expect(md).toMatch(/\| `gross_revenue` \| [\d,.]+ \| [\d,.]+ \| 0 \| (\+|-)?0\.\d+% \| 0% \| ok \|/);
    expect(md).not.toContain('Needs a look');
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'report.md'), md);
  });

  it('draws, in Chromium, a chart per measure with the before and after series over every day', async () => {
    const html = renderReportHtml(data);
    for (const pattern of [...FOREIGN_TAGS, ...ADDRESSES]) expect(html).not.toMatch(pattern);
    writeFileSync(join(ARTIFACTS, 'report.html'), html);
    await page.setContent(html);
    expect(await page.locator(FOREIGN_ELEMENTS).count()).toBe(0);
    for (const measure of data.spec.measures.map((x) => x.column)) {
      const chart = page.locator(`svg.chart[data-measure="${measure}"]`);
      expect(await chart.count()).toBe(1);
      const drawn = await chart.evaluate((svg) =>
        (['series-old', 'series-new'] as const).map((cls) => {
          const line = svg.querySelector(`polyline.${cls}`) as unknown as Polyline;
          const box = line.getBBox();
          const ys = Array.from({ length: line.points.numberOfItems }, (_, i) => line.points.getItem(i).y);
          return {
            points: line.points.numberOfItems,
            width: box.width,
            height: box.height,
            ys,
            stroke: (globalThis as unknown as BrowserWindow).getComputedStyle(line).stroke,
          };
        }),
      );
      const [old, neu] = drawn;
      expect(old!.points).toBe(59);
      expect(neu!.points).toBe(59);
      for (const d of drawn) {
        expect(d.width).toBeGreaterThan(500);
        expect(d.height).toBeGreaterThan(10);
        expect(d.stroke).not.toBe('none');
      }
      expect(old!.stroke).not.toBe(neu!.stroke);
      if (measure === 'net_revenue') {
        // The fix lowers net revenue every day: the new line lies below the old one (larger y).
        expect(neu!.ys.every((y, i) => y > old!.ys[i]!)).toBe(true);
      } else {
        expect(neu!.ys).toEqual(old!.ys);
      }
      expect(
        await page.locator(`svg.delta-chart[data-measure="${measure}"] path.series-delta`).getAttribute('d'),
      ).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){58}$/);
      // Month ticks: January and February 2025.
      expect(await chart.locator('text.x-tick').allTextContents()).toEqual(['Jan 2025', 'Feb']);
    }
    expect(await page.locator('table.batches tbody tr').count()).toBe(9);
    expect(await page.locator('table.top-rows tbody tr').count()).toBe(data.topChangedRows.length);
    expect(await page.locator('table.timeline tbody tr').count()).toBe(data.timeline.length);
    expect(await page.locator('#release').textContent()).toContain(data.release!.releaseId);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({ path: join(ARTIFACTS, 'report.pdf'), format: 'A4', printBackground: true });
    expect(pdf.length).toBeGreaterThan(10_000);
    await page.emulateMedia({ media: 'screen' });
  });
});
