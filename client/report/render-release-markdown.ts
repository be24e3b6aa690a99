/**
 * A release graph's announcement as Markdown, paste-ready like a backfill's (render-markdown.ts):
 * the release's heading, state and summary, the lineage table, the one approval, publish and
 * rollback, then one section per node in topological order, each the node's own announcement a
 * heading level down. Values are user input, so they are escaped.
 */
import type { ReleaseReportData } from '../../contracts/report';
import { STATE_LABELS, when } from './format';
import {
  lineageRows, releaseRange, releaseState, releaseSummarySentences,
} from './release-format';
import { code, escapeMarkdown as e, listed, renderReportSectionMarkdown, table } from './render-markdown';

/** The one approval, the one publish, the rollback and signoff, from the release's record, in a sentence or two. */
function recordLine(r: ReleaseReportData): string | null {
  const { lineage: l, approval: a } = r;
  const p = l.publish;
  const approved = a.approved ?? (p ? { by: p.approvedBy, at: p.publishedAt, comment: null } : null);
  const parts: string[] = [];
  if (approved) {
    const digest = p?.approval?.digest;
    parts.push(`Approved once by ${e(approved.by)} at ${when(approved.at)}` +
      `${approved.comment ? ` ("${e(approved.comment)}")` : ''}` +
      `${digest ? ` on decision digest ${code(`${digest.slice(0, 12)}…`)}` : ''}.`);
  }
  if (a.rejected) parts.push(`Rejected by ${e(a.rejected.by)} at ${when(a.rejected.at)}.`);
  if (p) {
    parts.push(`Published every node in one transaction at ${when(p.publishedAt)}; ` +
      `rollback window until ${when(p.rollbackExpiresAt)}.`);
  }
  if (l.rollback) {
    parts.push(`Rolled back by ${e(l.rollback.by)} at ${when(l.rollback.at)}: ${e(l.rollback.reason)}.`);
  }
  if (l.signoff) parts.push(`Signed off by ${e(l.signoff.by)} at ${when(l.signoff.at)}.`);
  if (l.error) parts.push(`Error: ${e(l.error)}`);
  return parts.length ? parts.join(' ') : null;
}

export function renderReleaseReportMarkdown(r: ReleaseReportData): string {
  const { lineage: l } = r;
  const state = releaseState(r);
  const range = releaseRange(r);
  const lines: string[] = [];
  lines.push(`## ${e(l.reason.issue)}: ${e(l.reason.change)}`);
  lines.push('');
  lines.push(
    `**${STATE_LABELS[state]}** · release ${code(l.releaseId)} · ${l.nodes.length} tables` +
      `${range ? ` · ${e(range.start)} to ${e(range.end)}` : ''} · graph ${code(l.graphHash)} · owner ${e(l.owner)}`,
  );
  lines.push('');
  lines.push(releaseSummarySentences(r).map(e).join(' '));
  lines.push('');
  lines.push(
    ...table(
      ['#', 'Node', 'Table', 'Reads', 'Transform', 'Code', 'Batches', 'Verdicts', 'Published'],
      ['r', 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l'],
      lineageRows(r).map((row, i) => [
        String(i + 1),
        code(row.node.id, true),
        code(row.node.target, true),
        row.reads.map((x) => e(x)).join(', ') || 'none',
        code(row.node.transformHash, true),
        row.node.codeVersion ? code(row.node.codeVersion, true) : 'n/a',
        e(row.batches),
        e(row.verdicts),
        row.published ? e(row.published) : '—',
      ]),
    ),
  );
  lines.push('');
  const record = recordLine(r);
  if (record) {
    lines.push(record);
    lines.push('');
  }
  if (r.approval.refused.length) {
    lines.push('**Refused**');
    lines.push('');
    lines.push(...listed(r.approval.refused.map((x) =>
      `${x.kind} by ${e(x.by)} at ${when(x.at)}: ${e(x.problem)}`)));
    lines.push('');
  }
  for (const [i, node] of l.nodes.entries()) {
    const data = r.nodes[i];
    const title = `${i + 1}. ${e(node.id)}: ${code(node.target)}`;
    if (data) {
      lines.push(...renderReportSectionMarkdown(data, 3, title));
    } else {
      lines.push(`### ${title}`);
      lines.push('');
      lines.push(`No plan recorded for ${code(node.backfillId)}: the release stopped before this node planned, ` +
        'so nothing of it was written.');
      lines.push('');
    }
  }
  lines.push(`_Generated ${when(r.generatedAt)} from the backfill control schema._`);
  return `${lines.join('\n')}\n`;
}
