/**
 * Wording and figures of a release graph's report, shared by its HTML page and its Markdown
 * announcement: where the release stands, the announcement's sentences, and the lineage table's
 * rows. Everything here returns plain, unescaped text: each renderer escapes for its own format.
 */
import type { LineageNode } from '../../contracts/release';
import type { ReleaseReportData, ReportData, ReportState } from '../../contracts/report';
import { effect, STATE_LABELS, unchanged, when } from './format';

/** Where the release stands: its record's status, and while it runs, its decision and its nodes' states. */
export function releaseState(r: ReleaseReportData): ReportState {
  const { lineage } = r;
  switch (lineage.status) {
    case 'signed_off':
      return 'completed';
    case 'rolled_back':
      return 'rolled_back';
    case 'published':
      return windowEnded(r) ? 'completed' : 'published';
    case 'failed':
      return r.approval.rejected ? 'rejected' : 'failed';
    case 'running': {
      if (r.approval.approved) return 'approved';
      const states = r.nodes.map((n) => n?.state ?? 'planned');
      if (states.some((s) => s === 'halted')) return 'halted';
      if (states.length && states.every((s) => s === 'awaiting_approval')) return 'awaiting_approval';
      return 'running';
    }
  }
}

/** The release was published and its rollback window has passed (signoff aside). */
function windowEnded(r: ReleaseReportData): boolean {
  const expires = r.lineage.publish ? Date.parse(r.lineage.publish.rollbackExpiresAt) : NaN;
  return Number.isFinite(expires) && Date.parse(r.generatedAt) >= expires;
}

/** The release's title: its issue and the change. */
export const releaseTitle = (r: ReleaseReportData): string =>
  `${r.lineage.reason.issue}: ${r.lineage.reason.change}`;

/** A node's heading in the report: "1. daily_revenue: finance.daily_revenue". */
export const nodeHeading = (node: LineageNode, index: number): string => `${index + 1}. ${node.id}: ${node.target}`;

/** The release's range: from the earliest node's start to the latest node's end (labels are ISO). */
export function releaseRange(r: ReleaseReportData): { start: string; end: string } | null {
  const ranges = r.lineage.nodes.map((n) => n.range);
  if (!ranges.length) return null;
  return {
    start: ranges.map((x) => x.start).reduce((a, b) => (b < a ? b : a)),
    end: ranges.map((x) => x.end).reduce((a, b) => (b > a ? b : a)),
  };
}

/** The code version every node ran, when they share one. */
function sharedCodeVersion(r: ReleaseReportData): string | null {
  const versions = [...new Set(r.lineage.nodes.map((n) => n.codeVersion))];
  return versions.length === 1 ? versions[0]! : null;
}

/** How a node's measures moved: those that changed or left their expected range; or that none did, or none counted. */
export function nodeEffect(data: ReportData): string {
  if (data.coverage.partitions === 0) return 'nothing reconciled';
  const moved = data.measures.filter((m) => !unchanged(data, m) || !m.withinExpected);
  if (!moved.length) return data.measures.length ? 'no measure changed' : 'no measures declared';
  return moved.map((m) => effect(data, m)).join(', ');
}

const plural = (n: number, word: string, many = `${word}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`;

/** The first line of an error, cut to a sentence's length. */
function gist(text: string, max = 300): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * The announcement in three to five sentences: what changed and why, over which tables, the net
 * effect per node, where the release stands, and what the node sections hold that needs a look.
 */
export function releaseSummarySentences(r: ReleaseReportData): string[] {
  const { lineage: l } = r;
  const range = releaseRange(r);
  const code = sharedCodeVersion(r);
  const out = [
    `${l.reason.change} (${l.reason.issue}): release ${l.releaseId} recomputed ` +
      `${plural(l.nodes.length, 'table')} in dependency order (${l.nodes.map((n) => n.id).join(' → ')})` +
      `${range ? `, ${range.start} to ${range.end}` : ''}${code ? ` with code ${code}` : ''}.`,
  ];
  const effects = l.nodes
    .map((n, i) => ({ n, data: r.nodes[i] }))
    .filter((x): x is { n: LineageNode; data: ReportData } => !!x.data && x.data.measures.length > 0)
    .map(({ n, data }) => `${n.id} ${nodeEffect(data)}`);
  if (effects.length) out.push(`Net effect: ${effects.join('; ')}.`);
  out.push(stateSentence(r));
  const warnings = r.nodes.reduce((a, n) => a + (n?.warnings.length ?? 0), 0);
  const accepted = r.nodes.reduce((a, n) => a + (n?.batches.accepted ?? 0), 0);
  const changePoints = r.nodes.reduce(
    (a, n) => a + (n?.series.reduce((b, s) => b + (s.changePoints?.length ?? 0), 0) ?? 0), 0);
  const parts = [
    changePoints ? plural(changePoints, 'change-point') : '',
    warnings ? plural(warnings, 'warning') : '',
    accepted ? plural(accepted, 'accepted batch', 'accepted batches') : '',
  ].filter(Boolean);
  if (parts.length) {
    const listed = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0];
    out.push(`Read the ${listed} in the node sections below before relying on it.`);
  }
  return out;
}

function stateSentence(r: ReleaseReportData): string {
  const { lineage: l, approval } = r;
  const p = l.publish;
  const published = p ? `Published in one transaction at ${when(p.publishedAt)}, approved once by ${p.approvedBy}` : '';
  switch (releaseState(r)) {
    case 'published':
      return `${published}; every table can be rolled back together until ${when(p!.rollbackExpiresAt)}.`;
    case 'completed':
      return `${published}; ` + (l.signoff
        ? `signed off by ${l.signoff.by} at ${when(l.signoff.at)}, so the rollback window is closed.`
        : `the rollback window ended ${when(p?.rollbackExpiresAt ?? null)}.`);
    case 'rolled_back':
      return `${published || 'Published'}, then rolled back` +
        `${l.rollback ? ` by ${l.rollback.by} at ${when(l.rollback.at)}` : ''}: every table is back to its ` +
        `pre-release result.`;
    case 'rejected':
      return `Rejected by ${approval.rejected!.by} at ${when(approval.rejected!.at)}; production is untouched.`;
    case 'failed':
      return `Failed before publishing${l.error ? `: ${gist(l.error)}` : ''}; production is untouched.`;
    case 'approved':
      return `Approved once by ${approval.approved!.by} at ${when(approval.approved!.at)}; not published yet.`;
    case 'awaiting_approval':
      return `Every node reconciled; awaiting one approval for all ${plural(l.nodes.length, 'table')} from ` +
        `${approval.approvers.join(' or ') || 'an approver'}; production is untouched.`;
    case 'halted': {
      const halted = l.nodes.filter((_, i) => r.nodes[i]?.state === 'halted').map((n) => n.id);
      return `Halted at ${halted.join(', ')}, waiting for an operator; production is untouched.`;
    }
    default:
      return `In progress: ${l.nodes.map((n, i) => {
        const b = r.nodes[i]?.batches;
        return `${n.id} ${b ? `${b.passed + b.accepted} of ${b.planned}` : 'no'} batches reconciled`;
      }).join(', ')}; production is untouched.`;
  }
}

/** The state box's second line: until when a rollback is possible, or what ended the release. */
export function releaseStateDetail(r: ReleaseReportData): string {
  const { lineage: l } = r;
  switch (releaseState(r)) {
    case 'published':
      return `rollback possible until ${when(l.publish!.rollbackExpiresAt)}`;
    case 'completed':
      return l.signoff ? `signed off by ${l.signoff.by}` : 'rollback window ended';
    case 'rolled_back':
      return l.rollback ? `by ${l.rollback.by}, ${when(l.rollback.at)}` : '';
    case 'approved':
      return `by ${r.approval.approved!.by}, ${when(r.approval.approved!.at)}`;
    case 'rejected':
      return `by ${r.approval.rejected!.by}, ${when(r.approval.rejected!.at)}`;
    case 'failed':
      return 'nothing published';
    default:
      return `started ${when(l.startedAt)} by ${l.startedBy}`;
  }
}

/** One node in the lineage table, as text. */
export interface LineageRow {
  node: LineageNode;
  heading: string;
  /** Upstream nodes (read from their shadows) and production inputs. */
  reads: string[];
  /** "26 batches, 181 partitions". */
  batches: string;
  /** "25 passed, 1 accepted", or "none". */
  verdicts: string;
  /** Where the node's own report stands; null when it recorded no plan. */
  state: string | null;
  /** "4,000 rows replaced by 4,000" once published; and "4,000 rows restored" once rolled back. */
  published: string | null;
}

const VERDICT_ORDER = ['passed', 'accepted', 'failed'];

export function lineageRows(r: ReleaseReportData): LineageRow[] {
  const { lineage: l } = r;
  return l.nodes.map((node, i) => {
    const b = l.batches[node.id];
    const verdicts = Object.entries(b?.verdicts ?? {})
      .sort(([a], [c]) => rank(a) - rank(c) || a.localeCompare(c))
      .map(([k, v]) => `${v.toLocaleString('en-US')} ${k}`);
    const rows = l.publish?.nodes.find((x) => x.id === node.id);
    const restored = l.rollback?.nodes.find((x) => x.id === node.id);
    const count = (x: number) => x.toLocaleString('en-US');
    const data = r.nodes[i];
    return {
      node,
      heading: nodeHeading(node, i),
      reads: [...node.upstream.map((u) => `${u} (node)`), ...node.inputs],
      batches: b ? `${plural(b.batches, 'batch', 'batches')}, ${plural(b.partitions, 'partition')}` : 'none',
      verdicts: verdicts.join(', ') || 'none',
      state: data ? STATE_LABELS[data.state] : null,
      published: [
        rows ? `${count(rows.rowsDeleted)} rows replaced by ${count(rows.rowsInserted)}` : '',
        restored ? `${count(restored.rowsRestored)} rows restored` : '',
      ].filter(Boolean).join('; ') || null,
    };
  });
}

function rank(verdict: string): number {
  const i = VERDICT_ORDER.indexOf(verdict);
  return i < 0 ? VERDICT_ORDER.length : i;
}
