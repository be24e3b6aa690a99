/**
 * A release graph's report as one self-contained HTML page, like a backfill's (render-html.ts:
 * inline CSS and SVG, no script, nothing loaded from elsewhere): the release's header, its record
 * (the one approval, the one publish, the rollback), the lineage table, then one section per node
 * in topological order, each the node's own reconciliation report with its ids prefixed by the node
 * id and its headings a level down. Every piece of data goes through escapeHtml.
 */
import type { ReleaseReportData, ReportDecision } from '../../contracts/report';
import { STATE_LABELS, when } from './format';
import {
  code, CSS, dl, escapeHtml as h, heading, htmlPage, renderReportContentHtml, section, table, type Layout,
} from './render-html';
import {
  lineageRows, nodeHeading, releaseRange, releaseState, releaseStateDetail, releaseSummarySentences, releaseTitle,
} from './release-format';

const PAGE: Layout = { idPrefix: '', depth: 0 };

/** The node sections stand out from each other; on paper each starts a page. */
const RELEASE_CSS = `
section.node{margin-top:48px;padding-top:4px;border-top:3px solid var(--ink)}
section.node>header>h2{font-size:21px;line-height:1.25;margin:10px 0 6px;padding:0;border:0}
section.node h3{font-size:16px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
section.node h4{font-size:13.5px;margin:14px 0 6px}
table.lineage td{overflow-wrap:anywhere}
table.lineage .transform-hash{white-space:nowrap}
table.lineage .read,table.lineage .published,table.lineage .muted{font-size:12px}
.badge.running,.badge.signed_off{color:var(--muted)}
@media print{section.node{break-before:page;page-break-before:always}}
`;

function decision(d: ReportDecision | null): string | null {
  return d ? `${h(d.by)}, ${h(when(d.at))}${d.comment ? ` — <q>${h(d.comment)}</q>` : ''}` : null;
}

function recordSection(r: ReleaseReportData): string {
  const { lineage: l, approval: a } = r;
  const p = l.publish;
  const proof = p?.approval ?? null;
  return dl([
    ['Release', code(l.releaseId)],
    ['Status', `<span class="badge ${h(l.status)}">${h(l.status.replace('_', ' '))}</span>`],
    ['Issue', h(l.reason.issue)],
    ['Change', h(l.reason.change)],
    ['Owner', h(l.owner)],
    ['Started', h(`${when(l.startedAt)} by ${l.startedBy}`)],
    ['Graph hash', code(l.graphHash)],
    ['Approvers', a.approvers.length ? h(a.approvers.join(', ')) : '<span class="muted">none listed</span>'],
    ['Approved by', decision(a.approved) ?? (p ? h(p.approvedBy) : null)],
    ['Rejected by', decision(a.rejected)],
    ['Decision digest', proof?.digest ? code(proof.digest) : null],
    ['Signed with key', proof?.keyId ? code(proof.keyId) : null],
    ['Published', p ? h(`${when(p.publishedAt)}, every node in one transaction`) : null],
    ['Rollback until', p ? h(when(p.rollbackExpiresAt)) : null],
    ['Rolled back', l.rollback ? h(`by ${l.rollback.by}, ${when(l.rollback.at)} — ${l.rollback.reason}`) : null],
    ['Signed off', l.signoff ? h(`by ${l.signoff.by}, ${when(l.signoff.at)}`) : null],
    ['Error', l.error ? h(l.error) : null],
  ]);
}

/** Text in a classed element, so each fact of a cell can be read on its own. */
const part = (cls: string, html: string, tag = 'div') => `<${tag} class="${cls}">${html}</${tag}>`;
const muted = (text: string) => `<span class="muted">${h(text)}</span>`;

function lineageSection(r: ReleaseReportData): string {
  return table(
    'lineage',
    ['#', 'Node', 'Reads', 'Transform', 'Batches and verdicts', 'State'],
    lineageRows(r).map((row, i) => ({
      cls: row.verdicts.includes('failed') ? 'failed' : '',
      cells: [
        h(i + 1),
        part('node-id', h(row.node.id), 'strong') + part('target', code(row.node.target)) +
          part('muted', h(`${row.node.range.start} to ${row.node.range.end} by ${row.node.grain}, ` +
            `${row.node.publishMode} publish`)),
        row.reads.length ? row.reads.map((x) => part('read', h(x))).join('') : muted('none declared'),
        part('transform-hash', code(row.node.transformHash)) +
          part('code-version', row.node.codeVersion ? `code ${code(row.node.codeVersion)}` : muted('no code version')),
        part('batches', h(row.batches)) + part('verdicts', h(row.verdicts)),
        part('node-state', row.state ? h(row.state) : muted('no plan recorded')) +
          (row.published ? part('published', h(row.published)) : ''),
      ],
    })),
    [0],
  );
}

function decisionsSection(r: ReleaseReportData): string {
  const refused = r.approval.refused.length
    ? heading(PAGE, 3, 'Refused') + table(
      'refusals',
      ['Who', 'Kind', 'When', 'Why'],
      r.approval.refused.map((x) => ({ cells: [h(x.by), h(x.kind), h(when(x.at)), h(x.problem)] })),
    )
    : '';
  const log = table(
    'release-timeline',
    ['When (UTC)', 'Actor', 'Action', 'Detail'],
    r.timeline.map((e) => ({
      cells: [h(e.at.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')), h(e.actor), code(e.action), e.note ? h(e.note) : ''],
    })),
  );
  return refused + log;
}

function nodeSection(r: ReleaseReportData, i: number): string {
  const node = r.lineage.nodes[i]!;
  const data = r.nodes[i];
  const title = nodeHeading(node, i);
  const body = data
    ? renderReportContentHtml(data, { idPrefix: `${node.id}-`, depth: 1 }, title)
    : `<header>${heading(PAGE, 2, h(title))}</header><p class="muted">${h(
      `No plan recorded for ${node.backfillId}: the release stopped before this node planned, ` +
        `so nothing of it was written.`)}</p>`;
  return `<section class="node" id="${h(`node-${node.id}`)}" data-node="${h(node.id)}">${body}</section>`;
}

export function renderReleaseReportHtml(r: ReleaseReportData): string {
  const { lineage: l } = r;
  const state = releaseState(r);
  const range = releaseRange(r);
  const header =
    `<header>${heading(PAGE, 1, h(releaseTitle(r)))}` +
    `<p class="subtitle">release ${code(l.releaseId)} · ${h(`${l.nodes.length} tables in dependency order`)}` +
    `${range ? ` · ${h(`${range.start} to ${range.end}`)}` : ''} · graph ${code(l.graphHash)}</p>` +
    `<div class="state ${h(state)}"><strong>${h(STATE_LABELS[state])}</strong>` +
    `<span class="muted">${h(releaseStateDetail(r))}</span></div>` +
    `<div class="summary">${releaseSummarySentences(r).map((s) => `<p>${h(s)}</p>`).join('')}</div></header>`;
  const decisions = r.timeline.length || r.approval.refused.length
    ? section(PAGE, 'decisions', 'Release decisions', decisionsSection(r))
    : '';
  return htmlPage(
    `${releaseTitle(r)} — release report`,
    header +
      section(PAGE, 'release-record', 'Release', recordSection(r)) +
      section(PAGE, 'lineage', 'Lineage', lineageSection(r)) +
      decisions +
      l.nodes.map((_, i) => nodeSection(r, i)).join('') +
      `<footer>${h(`Generated ${when(r.generatedAt)} from the backfill control schema ` +
        `(release report version ${r.version}).`)}</footer>`,
    CSS + RELEASE_CSS,
  );
}
