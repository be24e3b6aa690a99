/**
 * A release graph's report (`backfill report <release_id>`) on real parts: the example graph
 * (examples/revenue-release.yaml: daily revenue → monthly revenue → merchant lifetime value) run end
 * to end on the shared dev server by the real worker over a DuckDB seeded with the revenue scenario
 * (demo/revenue-scenario.ts), then the report gathered from that warehouse and rendered as HTML
 * (read back in Chromium, every request refused) and Markdown: the release's header and lineage,
 * then one section per node in topological order, each that node's reconciliation report. Also
 * through the worker (the CLI's path while a worker holds the DuckDB file), for a rolled-back
 * release, and for releases that halted and failed before publishing.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELEASE_REPORT_POINTS, seriesBudgets } from '../../activities/tools';
import { renderReleaseReportHtml, renderReleaseReportMarkdown, writeReleaseReport } from '../../client/report';
import { percent } from '../../client/report/format';
import { startRelease } from '../../client/start-backfill';
import * as m from '../../contracts/messages';
import type { ReleaseGraph } from '../../contracts/release';
import type { ReleaseReportData } from '../../contracts/report';
import { workflowIdFor } from '../../contracts/settings';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { gatherReleaseReportData } from '../../warehouse/release-report-data';
import type { Driver } from '../../warehouse/warehouse';
import { useLabs, type Lab } from '../support/backfill-harness';
import { exampleGraph, waitForRelease } from '../support/release-harness';
import { launchBrowser } from '../support/browser';
import { backfillWith } from '../support/cli';
import { decide } from '../support/decide';

const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
const NODES = ['daily_revenue', 'monthly_revenue', 'merchant_ltv_monthly'];
const SLOW = 300_000;
/** Nothing in the page may load or link anything (as test/client/report.test.ts checks a backfill's). */
const FOREIGN_TAGS = [/<script/i, /<link/i, /<iframe/i, /<img/i, /<object/i, /<embed/i, /@import/i, /url\(/i];
const ADDRESSES = [/https?:\/\//i, /\ssrc=/i, /\shref=/i];
const FOREIGN_ELEMENTS = 'script, link, iframe, img, object, embed, [src], [href], [onerror], [onmouseover], [onload]';

const { env, newLab } = useLabs();
/** The example graph under a fresh release id; `edit` changes the parsed graph. */
function testGraph(name: string, edit: (g: ReleaseGraph) => void = () => undefined): ReleaseGraph {
  const graph = exampleGraph(`rr-${name}`);
  edit(graph);
  return graph;
}

async function gathered(db: Driver, id: string): Promise<ReleaseReportData> {
  const data = await gatherReleaseReportData(db, id);
  expect(data, `release ${id} in backfill_control.release_graphs`).not.toBeNull();
  return data!;
}

interface Published {
  lab: Lab;
  graph: ReleaseGraph;
  digest: string;
  published: ReleaseReportData;
  viaWorker: ReleaseReportData | null;
  rolledBack: ReleaseReportData;
}

/** Start, one approval, one publish (report gathered), then one rollback (gathered again). */
async function runPublished(): Promise<Published> {
  const lab = await newLab();
  const graph = testGraph('published');
  const handle = await startRelease(env().client, graph, { startedBy: 'vitest', taskQueue: lab.taskQueue });
  const waiting = await waitForRelease(handle, (s) => s.state === 'awaiting_approval' || s.state === 'failed');
  expect(waiting.state, waiting.error ?? waiting.phase).toBe('awaiting_approval');
  await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'all three nodes reviewed' });
  const done = await waitForRelease(handle, (s) => s.state === 'published' || s.state === 'failed');
  expect(done.state, done.error ?? '').toBe('published');
  const published = await gathered(lab.warehouse, graph.release_id);
  const viaWorker = await env().client.workflow.execute('releaseReportThroughWorker', {
    taskQueue: lab.taskQueue, args: [graph.release_id], workflowId: `release-report-${graph.release_id}`,
  }) as ReleaseReportData | null;
  await decide(handle, m.rollbackUpdate, { by: 'finance-data', reason: 'report test: restore' });
  const rolled = await waitForRelease(handle, (s) => s.state === 'rolled_back' || s.state === 'failed');
  expect(rolled.state, rolled.error ?? '').toBe('rolled_back');
  const rolledBack = await gathered(lab.warehouse, graph.release_id);
  return { lab, graph, digest: waiting.decisionDigest!, published, viaWorker, rolledBack };
}

/** The middle node's expectations cannot hold: it halts at batch 1; aborting it fails the release before publish. */
async function runFailed(): Promise<{ graph: ReleaseGraph; halted: ReleaseReportData; failed: ReleaseReportData }> {
  const lab = await newLab();
  const graph = testGraph('failed', (g) => {
    const net = g.nodes[1]!.spec.measures.find((x) => x.column === 'net_revenue')!;
    net.expected_delta = { min: 5, max: 6 };
    net.batch_delta = { min: 5, max: 6 };
  });
  const handle = await startRelease(env().client, graph, { startedBy: 'vitest', taskQueue: lab.taskQueue });
  await waitForRelease(handle, (s) => s.nodes[1]!.state === 'halted' && s.nodes[0]!.state === 'awaiting_approval');
  const halted = await gathered(lab.warehouse, graph.release_id);
  const node = env().client.workflow.getHandle(workflowIdFor(graph.nodes[1]!.spec.backfill_id));
  await node.executeUpdate(m.resolveUpdate, { args: [{ action: 'abort', by: 'oncall', reason: 'wrong band' }] });
  await waitForRelease(handle, (s) => s.state === 'failed');
  await handle.result().catch(() => undefined);
  const failed = await gathered(lab.warehouse, graph.release_id);
  return { graph, halted, failed };
}

let run: Published;
let failing: Awaited<ReturnType<typeof runFailed>>;
let browser: Browser;
let page: Page;
const requests: string[] = [];

beforeAll(async () => {
  [run, failing] = await Promise.all([runPublished(), runFailed()]);
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.route('**/*', async (route) => {
    requests.push(route.request().url());
    await route.abort();
  });
}, SLOW);

afterAll(async () => {
  await browser?.close();
  expect(requests).toEqual([]);
});

/** The Markdown of each node's section: from its "### n. id" heading to the next, or to the closing line. */
function markdownSections(md: string): Array<{ heading: string; body: string }> {
  const parts = md.split(/^(?=### )/m).slice(1);
  return parts.map((p) => ({ heading: p.split('\n')[0]!, body: p }));
}

/** A node's measures as its section shows them: the Measure column and the Change column of each row. */
async function measureRows(node: string): Promise<string[][]> {
  return page.locator(`#node-${node} #${node}-measures table.measures tbody tr`).evaluateAll((rows) =>
    rows.map((r) => {
      const cells = Array.from((r as unknown as { cells: ArrayLike<{ textContent: string | null }> }).cells);
      return [cells[0]!.textContent ?? '', cells[4]!.textContent ?? ''];
    }));
}

/** What every node's section must show: its own measures, each with the delta its report carries. */
async function expectNodeSectionsHtml(data: ReleaseReportData, html: string): Promise<void> {
  for (const pattern of [...FOREIGN_TAGS, ...ADDRESSES]) expect(html).not.toMatch(pattern);
  expect(html.match(/<style>/g)).toHaveLength(1);
  await page.setContent(html);
  expect(await page.locator(FOREIGN_ELEMENTS).count()).toBe(0);
  expect(await page.locator('section.node').evaluateAll((s) =>
    s.map((x) => (x as unknown as { id: string }).id))).toEqual(NODES.map((n) => `node-${n}`));
  // Ids stay unique with several reports on one page.
  const ids = await page.locator('[id]').evaluateAll((s) => s.map((x) => (x as unknown as { id: string }).id));
  expect(new Set(ids).size).toBe(ids.length);
  for (const [i, node] of NODES.entries()) {
    const report = data.nodes[i]!;
    expect(report.spec.backfillId).toBe(`${data.lineage.releaseId}--${node}`);
    const section = page.locator(`#node-${node}`);
    expect(await section.locator('header h2').first().textContent()).toBe(
      `${i + 1}. ${node}: ${data.lineage.nodes[i]!.target}`);
    expect(await measureRows(node)).toEqual(
      report.measures.map((x) => [x.column, percent(x.deltaPct)]));
    expect(await section.locator('svg.chart').count()).toBe(report.series.length);
    expect(await section.locator(`#${node}-batches table.batches tbody tr`).count()).toBe(report.batches.items.length);
    // The release's one decision, in every node's section.
    const decided = data.approval.approved ?? data.approval.rejected;
    if (decided) expect(await section.locator(`#${node}-approval`).textContent()).toContain(decided.by);
  }
}

describe('a published release', () => {
  it('is gathered from the warehouse: the record, the lineage and one report per node, in topological order', () => {
    const { published: data, graph, digest } = run;
    expect(data.lineage.status).toBe('published');
    expect(data.lineage.nodes.map((n) => n.id)).toEqual(NODES);
    expect(data.nodes.map((n) => n?.spec.backfillId)).toEqual(graph.nodes.map((n) => n.spec.backfill_id));
    expect(data.nodes.map((n) => n?.state)).toEqual(['published', 'published', 'published']);
    expect(data.lineage.publish!.approvedBy).toBe('finance-controller');
    expect(data.lineage.publish!.approval?.digest).toBe(digest);
    expect(data.approval.approved).toMatchObject({ by: 'finance-controller', comment: 'all three nodes reviewed' });
    for (const n of data.nodes) expect(n!.approval.approved).toEqual(data.approval.approved);
    const daily = data.nodes[0]!.measures.find((x) => x.column === 'net_revenue')!;
    expect(daily.deltaPct!).toBeGreaterThan(-1.5);
    expect(daily.deltaPct!).toBeLessThan(-0.8);
    for (const n of data.nodes) expect(n!.measures.every((x) => x.withinExpected), n!.spec.backfillId).toBe(true);
  });

  it('reads the same through the worker that holds the warehouse (releaseReportThroughWorker)', () => {
    const { published: direct, viaWorker } = run;
    expect(viaWorker).not.toBeNull();
    expect(viaWorker!.lineage).toEqual(direct.lineage);
    expect(viaWorker!.approval).toEqual(direct.approval);
    expect(viaWorker!.nodes.map((n) => [n!.spec, n!.state, n!.measures, n!.series.map((s) => s.points.length)]))
      .toEqual(direct.nodes.map((n) => [n!.spec, n!.state, n!.measures, n!.series.map((s) => s.points.length)]));
  });

  it('renders HTML: the release header and lineage, then one section per node with its measures\' deltas', async () => {
    const data = run.published;
    const html = renderReleaseReportHtml(data);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'release-report.html'), html);
    writeFileSync(join(ARTIFACTS, 'release-report.json'), JSON.stringify(data, null, 1));
    await expectNodeSectionsHtml(data, html);
    expect(await page.locator('h1').allTextContents()).toEqual([`${data.lineage.reason.issue}: ` +
      `${data.lineage.reason.change}`]);
    expect(await page.locator('body > main > header .state strong').textContent()).toBe('Published');
    const record = await page.locator('#release-record').textContent();
    expect(record).toContain(data.lineage.releaseId);
    expect(record).toContain(data.lineage.graphHash);
    expect(record).toContain('finance-controller');
    expect(record).toContain('all three nodes reviewed');
    expect(record).toContain(run.digest);
    const summary = await page.locator('body > main > header .summary').textContent();
    expect(summary).toContain(`release ${data.lineage.releaseId} recomputed 3 tables in dependency order ` +
      '(daily_revenue → monthly_revenue → merchant_ltv_monthly)');
    expect(summary).toContain('approved once by finance-controller');
    const rows = page.locator('#lineage table.lineage tbody tr');
    expect(await rows.locator('.node-id').allTextContents()).toEqual(NODES);
    for (const [i, node] of data.lineage.nodes.entries()) {
      const row = rows.nth(i);
      const b = data.lineage.batches[node.id]!;
      const text = async (cls: string) => row.locator(`.${cls}`).allTextContents();
      expect(await text('target')).toEqual([node.target]);
      expect(await text('transform-hash')).toEqual([node.transformHash]);
      expect(await text('code-version')).toEqual(['code git:8f31c2a']);
      expect((await text('batches'))[0]).toContain(`${b.batches} batch`);
      expect(await text('verdicts')).toEqual([`${b.verdicts.passed} passed`]);
      expect(await text('node-state')).toEqual(['Published']);
      expect((await text('published'))[0]).toMatch(/^[\d,]+ rows replaced by [\d,]+$/);
    }
    expect(await rows.nth(0).locator('.read').allTextContents()).toEqual(['staging.revenue_events']);
    expect(await rows.nth(1).locator('.read').allTextContents()).toEqual(['daily_revenue (node)']);
    // No column runs off the page.
    const box = await page.locator('#lineage table.lineage').boundingBox();
    const main = await page.locator('main').boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(main!.x + main!.width);
    await page.screenshot({ path: join(ARTIFACTS, 'release-report.png'), fullPage: true });
  });

  it('renders Markdown: the header with the approver and status, the lineage, then one section per node', () => {
    const data = run.published;
    const md = renderReleaseReportMarkdown(data);
    writeFileSync(join(ARTIFACTS, 'release-report.md'), md);
    const lines = md.split('\n');
    expect(lines[0]).toBe(`## ${data.lineage.reason.issue}: ${data.lineage.reason.change}`);
    expect(lines[2]).toMatch(new RegExp(`^\\*\\*Published\\*\\* · release \`${data.lineage.releaseId}\` · 3 tables`));
    expect(lines[2]).toContain(`graph \`${data.lineage.graphHash}\``);
    expect(md).toContain('approved once by finance-controller');
    expect(md).toContain('Approved once by finance-controller at ');
    expect(md).toContain('("all three nodes reviewed")');
    for (const [i, node] of data.lineage.nodes.entries()) {
      expect(md).toContain(`| ${i + 1} | \`${node.id}\` | \`${node.target}\` |`);
    }
    const sections = markdownSections(md);
    expect(sections.map((s) => s.heading)).toEqual(
      data.lineage.nodes.map((n, i) => `### ${i + 1}. ${n.id}: \`${n.target}\``));
    for (const [i, s] of sections.entries()) {
      const report = data.nodes[i]!;
      expect(s.body).toContain('**Published** · ');
      for (const x of report.measures) {
        expect(s.body).toMatch(new RegExp(`\\| \`${x.column}\` \\|[^\\n]*\\| ${percent(x.deltaPct)
          .replace(/[+.]/g, (c) => `\\${c}`)} \\|`));
      }
    }
    expect(sections[2]!.body).toContain('`lifetime_net_revenue`');
    expect(sections[0]!.body).not.toContain('lifetime_net_revenue');
    expect(lines.filter((l) => /^#{1,2} /.test(l))).toHaveLength(1);
    expect(lines.at(-2)).toMatch(/^_Generated .* from the backfill control schema\._$/);
  });

  it('shows the rollback from the record once the release is rolled back', async () => {
    const data = run.rolledBack;
    expect(data.lineage.status).toBe('rolled_back');
    const html = renderReleaseReportHtml(data);
    await expectNodeSectionsHtml(data, html);
    expect(await page.locator('body > main > header .state strong').textContent()).toBe('Rolled back');
    expect(await page.locator('#release-record').textContent()).toContain('report test: restore');
    const md = renderReleaseReportMarkdown(data);
    expect(md.split('\n')[2]).toMatch(/^\*\*Rolled back\*\* · /);
    expect(md).toContain('Rolled back by finance-data at ');
    expect(md).toContain('every table is back to its pre-release result');
    for (const s of markdownSections(md)) expect(s.body).toContain('**Rolled back** · ');
  });

  it('is what `backfill report <release_id>` writes while a worker holds the warehouse', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'release-report-'));
    // The CLI finds this file locked (held by this process), so it asks the lab's worker, which has the data.
    const dbPath = join(dir, 'held.duckdb');
    const held = await openDuckDb({ path: dbPath });
    try {
      const out = join(dir, 'reports');
      const r = await backfillWith({
        BACKFILL_WAREHOUSE: dbPath,
        TEMPORAL_ADDRESS: env().address,
        TEMPORAL_NAMESPACE: env().namespace,
        TEMPORAL_CONFIG_FILE: join(dir, 'no-profile.toml'),
        BACKFILL_TASK_QUEUE: run.lab.taskQueue,
      }, 'report', run.graph.release_id, '--out', out);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`a worker holds ${dbPath}`);
      expect(r.stdout.split('\n')[0]).toBe(`## ${run.graph.reason.issue}: ${run.graph.reason.change}`);
      expect(r.stdout).toContain(`wrote ${join(out, `${run.graph.release_id}.html`)}`);
      const md = readFileSync(join(out, `${run.graph.release_id}.md`), 'utf8');
      expect(md.split('\n')[2]).toMatch(/^\*\*Rolled back\*\* · /);
      expect(markdownSections(md).map((s) => s.heading.replace(/:.*/, ''))).toEqual(
        NODES.map((n, i) => `### ${i + 1}. ${n}`));
      await page.setContent(readFileSync(join(out, `${run.graph.release_id}.html`), 'utf8'));
      expect(await page.locator('section.node').count()).toBe(3);
    } finally {
      await held.close();
    }
    // And a name that is neither a backfill nor a release is refused, as before (the file is free now).
    const missing = await backfillWith({}, 'report', 'no-such-release', '--warehouse', dbPath, '--out', dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no plan and no release for no-such-release');
  });
});

describe('a release that failed before publish', () => {
  it('while halted: the header says which node halted; every node has its section', async () => {
    const data = failing.halted;
    expect(data.lineage.status).toBe('running');
    const html = renderReleaseReportHtml(data);
    await page.setContent(html);
    expect(await page.locator('body > main > header .state strong').textContent()).toBe('Halted');
    expect(await page.locator('body > main > header .summary').textContent())
      .toContain('Halted at monthly_revenue, waiting for an operator; production is untouched.');
    expect(await page.locator('section.node').count()).toBe(3);
    expect(await page.locator('#node-monthly_revenue .state strong').textContent()).toBe('Halted');
    expect(await page.locator('#node-monthly_revenue table.batches tr.failed').count()).toBeGreaterThan(0);
  });

  it('renders its failure from the record, no publish, and one section per node in order', async () => {
    const data = failing.failed;
    expect(data.lineage.status).toBe('failed');
    expect(data.lineage.publish).toBeUndefined();
    expect(data.lineage.error).toMatch(/abort/i);
    expect(data.lineage.nodes.map((n) => n.id)).toEqual(NODES);
    // Every node stopped with its release, the one that halted and the ones that waited for approval or upstream.
    expect(data.nodes.map((n) => n?.state)).toEqual(['failed', 'failed', 'failed']);
    const html = renderReleaseReportHtml(data);
    writeFileSync(join(ARTIFACTS, 'release-report-failed.html'), html);
    for (const pattern of [...FOREIGN_TAGS, ...ADDRESSES]) expect(html).not.toMatch(pattern);
    await page.setContent(html);
    expect(await page.locator(FOREIGN_ELEMENTS).count()).toBe(0);
    expect(await page.locator('body > main > header .state strong').textContent()).toBe('Failed');
    const summary = await page.locator('body > main > header .summary').textContent();
    expect(summary).toMatch(/Failed before publishing: .*abort.*; production is untouched\./i);
    expect(summary).toContain('monthly_revenue nothing reconciled');
    expect(await page.locator('#node-daily_revenue .state strong').textContent()).toBe('Failed');
    expect(await page.locator('section.node').evaluateAll((s) =>
      s.map((x) => (x as unknown as { id: string }).id))).toEqual(NODES.map((n) => `node-${n}`));
    expect(await page.locator('#release-record').textContent()).not.toContain('Published');
    // Each node that planned has its report, with its own measures; the daily node reconciled in full.
    const daily = data.nodes[0]!;
    expect(await measureRows('daily_revenue')).toEqual(daily.measures.map((x) => [x.column, percent(x.deltaPct)]));
    expect(await page.locator('#node-monthly_revenue table.batches tr.failed').count()).toBeGreaterThan(0);
    for (const [i, n] of data.nodes.entries()) {
      if (n) expect(n.release, NODES[i]).toBeNull();
    }

    const md = renderReleaseReportMarkdown(data);
    writeFileSync(join(ARTIFACTS, 'release-report-failed.md'), md);
    expect(md.split('\n')[2]).toMatch(/^\*\*Failed\*\* · /);
    expect(md).toMatch(/Error: .*abort/i);
    expect(md).not.toContain('Published every node');
    expect(md).not.toMatch(/awaiting approval/i);
    expect(markdownSections(md).map((s) => s.heading)).toEqual(
      data.lineage.nodes.map((n, i) => `### ${i + 1}. ${n.id}: \`${n.target}\``));
    expect(markdownSections(md)[1]!.body).toMatch(/Batch 1 \(.*\) failed: /);

    const dir = mkdtempSync(join(tmpdir(), 'release-report-'));
    const { htmlPath, markdownPath } = writeReleaseReport(data, dir);
    expect(htmlPath).toBe(join(dir, `${data.lineage.releaseId}.html`));
    expect(readFileSync(markdownPath, 'utf8')).toBe(md);
    expect(() => writeReleaseReport({ ...data, lineage: { ...data.lineage, releaseId: '../escape' } }, dir))
      .toThrow(/release_id/);
  });
});

/** A node that recorded no plan still gets its section (the release stopped before it planned). */
describe('a node without a plan', () => {
  it('has a section saying so, in its place', async () => {
    const data: ReleaseReportData = { ...failing.failed, nodes: [failing.failed.nodes[0]!, null, null] };
    const html = renderReleaseReportHtml(data);
    await page.setContent(html);
    expect(await page.locator('section.node').count()).toBe(3);
    expect(await page.locator('#node-monthly_revenue').textContent()).toContain('No plan recorded');
    const md = renderReleaseReportMarkdown(data);
    expect(markdownSections(md).map((x) => x.heading.replace(/:.*/, ''))).toEqual(
      NODES.map((n, i) => `### ${i + 1}. ${n}`));
    expect(markdownSections(md)[2]!.body).toContain('No plan recorded');
  });
});

describe('the release report through Temporal', () => {
  it('keeps every point of short series and shares the rest of the budget among the long ones', () => {
    // The example: three daily series, six monthly ones: every point fits.
    const example = [181, 181, 181, 6, 6, 6, 6, 6, 6];
    expect(seriesBudgets(example)).toEqual(example);
    // Ten years by day in three nodes of three measures, beside a monthly node: bounded, the monthly kept whole.
    const long = [...Array<number>(9).fill(3652), 120, 120, 120];
    const budgets = seriesBudgets(long);
    expect(budgets.slice(9)).toEqual([120, 120, 120]);
    const daily = budgets.slice(0, 9);
    expect(Math.max(...daily) - Math.min(...daily)).toBeLessThanOrEqual(1);
    expect(Math.min(...daily)).toBe(Math.floor((RELEASE_REPORT_POINTS - 360) / 9));
    expect(budgets.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(RELEASE_REPORT_POINTS);
    // However many nodes, a chart keeps enough points to read as a line.
    expect(Math.min(...seriesBudgets(Array<number>(90).fill(3652)))).toBe(100);
  });
});
