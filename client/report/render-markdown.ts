/**
 * The announcement as Markdown, paste-ready for a GitHub issue or a Slack post: a heading, the
 * summary, the measures table, what needs a look (warnings, accepted or failed batches, refused
 * approvals), the change-points in the per-partition change, and the release record. Spec values
 * are user input, so they are escaped.
 */
import type { ReportData } from '../../contracts/report';
import {
  amount,
  decimalsFor,
  expectedRange,
  percent,
  signedAmount,
  STATE_LABELS,
  summarySentences,
  unchanged,
  when,
  duration,
} from './format';

/**
 * `text` as inline GitHub Markdown that renders literally: no emphasis, code, links, HTML, entities
 * or table breaks, and no block syntax at its start. Characters that cannot start markup where they
 * stand (an underscore inside a word, as in net_revenue) stay bare, so the text also reads cleanly
 * where Markdown is not rendered.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\`*[\]<>|~]|&(?=#?\w+;)|_(?![A-Za-z0-9])|(?<![A-Za-z0-9])_/g, (c) => `\\${c}`)
    .replace(/^([#>+-]|\d+(?=[.)]))/, (c) => (/^\d/.test(c) ? `${c}\\` : `\\${c}`));
}

/**
 * Inline code whose fence is longer than any run of backticks inside. In a table cell a pipe ends
 * the cell even inside code, so there it is escaped (GitHub renders `\|` in a cell as a pipe).
 */
export function code(text: string, inTable = false): string {
  const clean = inTable ? text.replace(/\s+/g, ' ').replace(/\|/g, '\\|') : text.replace(/\s+/g, ' ');
  const longest = Math.max(0, ...(clean.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = clean.startsWith('`') || clean.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}

export function table(header: string[], align: Array<'l' | 'r'>, rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `| ${align.map((a) => (a === 'r' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** At most this many items in a list; the HTML report has them all. */
const LISTED = 10;

export function listed(items: string[]): string[] {
  const shown = items.slice(0, LISTED).map((i) => `- ${i}`);
  if (items.length > LISTED) shown.push(`- …and ${items.length - LISTED} more (see the HTML report)`);
  return shown;
}

export function renderReportMarkdown(data: ReportData): string {
  const lines = renderReportSectionMarkdown(data);
  lines.push(`_Generated ${when(data.generatedAt)} from the backfill control schema._`);
  return `${lines.join('\n')}\n`;
}

/**
 * A report's announcement without its closing line: a heading of `level` (`title` is Markdown,
 * already escaped; default the issue and the change), the summary, the measures, what needs a look
 * and the release record. A release's announcement has one per node, a level down.
 */
export function renderReportSectionMarkdown(data: ReportData, level = 2, title?: string): string[] {
  const { spec, release, rollback } = data;
  const e = escapeMarkdown;
  const lines: string[] = [];
  lines.push(`${'#'.repeat(level)} ${title ?? `${e(spec.reason.issue)}: ${e(spec.reason.change)}`}`);
  lines.push('');
  lines.push(
    `**${STATE_LABELS[data.state]}** · ${code(spec.target.table)} · ` +
      `${e(spec.range.start)} to ${e(spec.range.end)} (${spec.range.grain}) · ` +
      `backfill ${code(spec.backfillId)}${spec.codeVersion ? ` · code ${code(spec.codeVersion)}` : ''} · ` +
      `owner ${e(spec.owner)}`,
  );
  lines.push('');
  lines.push(summarySentences(data).map(e).join(' '));
  lines.push('');

  if (data.measures.length) {
    lines.push(
      ...table(
        ['Measure', 'Before', 'After', 'Difference', 'Change', 'Expected', ''],
        ['l', 'r', 'r', 'r', 'r', 'l', 'l'],
        data.measures.map((m) => [
          code(m.column, true),
          amount(m.oldSum, decimalsFor(m.oldSum, m.newSum)),
          amount(m.newSum, decimalsFor(m.oldSum, m.newSum)),
          unchanged(data, m) ? '0' : signedAmount(m.delta, decimalsFor(m.oldSum, m.newSum)),
          percent(m.deltaPct),
          expectedRange(m.expected),
          m.withinExpected ? 'ok' : '**OUT OF RANGE**',
        ]),
      ),
    );
    lines.push('');
    lines.push(
      `Rows: ${data.coverage.rows.old.toLocaleString('en-US')} before, ` +
        `${data.coverage.rows.new.toLocaleString('en-US')} after, over ` +
        `${data.coverage.partitions.toLocaleString('en-US')} ` +
        `of ${data.plan.partitions.toLocaleString('en-US')} partitions; ` +
        `${data.batches.passed} of ${data.batches.planned} batches ` +
        `passed${data.batches.accepted ? `, ${data.batches.accepted} accepted` : ''}` +
        `${data.batches.failed ? `, ${data.batches.failed} failed` : ''}.` +
        (data.proof ? ` Idempotency proven on ${e(data.proof.partition)} (rewritten twice, identical).` : ''),
    );
    lines.push('');
  }

  const attention = data.batches.items.filter((b) => !b.stale && b.verdict !== 'passed');
  if (data.warnings.length || attention.length || data.approval.refused.length) {
    lines.push('**Needs a look**');
    lines.push('');
    lines.push(
      ...listed([
        ...attention.map((b) =>
          b.verdict === 'accepted'
            ? `Batch ${b.index + 1} (${e(b.first)} to ${e(b.last)}) failed and was accepted ` +
              `by ${e(b.accepted?.by ?? 'an operator')}: ${e(b.accepted?.reason ?? '')}`
            : `Batch ${b.index + 1} (${e(b.first)} to ${e(b.last)}) ` +
              `failed: ${e(b.failures[0] ?? 'see the checkpoint')}`,
        ),
        ...data.warnings.map((w) => `Warning: ${e(w)}`),
        ...data.approval.refused.map((r) => `Refused ${r.kind} by ${e(r.by)} at ${when(r.at)}: ${e(r.problem)}`),
      ]),
    );
    lines.push('');
  }

  const checks = data.checks ?? [];
  if (checks.length) {
    lines.push('**Custom checks**');
    lines.push('');
    lines.push(...listed(checks.map((c) => `${code(c.name)} (${e(c.description)}, ${c.severity}): ` +
      (c.failed ? `failed ${c.failed} of ${c.batches} batches; first: ${e(c.firstFailure ?? '')}` :
        `passed in ${c.batches} batches`))));
    lines.push('');
  }
  const monitors = data.monitors ?? [];
  if (monitors.some((m) => m.latest)) {
    lines.push('**Monitors after publish**');
    lines.push('');
    lines.push(...listed(monitors.map((m) => `${code(m.name)} (${e(m.description)}): ` +
      `${m.breaches} breach${m.breaches === 1 ? '' : 'es'}${m.latest ? `; ${e(m.latest)}` : ''}`)));
    lines.push('');
  }

  const changePoints = data.series.flatMap((s) => s.changePoints ?? []);
  if (changePoints.length) {
    lines.push('**Change-points**');
    lines.push('');
    lines.push(...listed(changePoints.map((p) => `${p.kind === 'jump' ? 'Jump' : 'Outlier'}: ${e(p.message)}`)));
    lines.push('');
  }

  if (release) {
    lines.push(
      `Release ${code(release.releaseId)} (${release.status.replace('_', ' ')}): ` +
        `published ${when(release.publishedAt)} by ${release.publishMode} publish, ` +
        `approved by ${e(release.approvedBy)}` +
        `${data.approval.approved?.comment ? ` ("${e(data.approval.approved.comment)}")` : ''}; ` +
        `restore point ${code(release.restorePoint)}, ` +
        `rollback window ${duration(rollback.windowMs)} until ${when(release.rollbackExpiresAt)}.` +
        (rollback.rolledBack
          ? ` Rolled back by ${e(rollback.rolledBack.by)} at ${when(rollback.rolledBack.at)}` +
            `${rollback.rolledBack.reason ? `: ${e(rollback.rolledBack.reason)}` : ''}.`
          : '') +
        (rollback.signedOff
          ? ` Signed off by ${e(rollback.signedOff.by)} at ${when(rollback.signedOff.at)}` +
            `${rollback.signedOff.comment ? `: ${e(rollback.signedOff.comment)}` : ''}.`
          : ''),
    );
    lines.push('');
  }
  return lines;
}
