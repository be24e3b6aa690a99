/**
 * The reconciliation report a data owner publishes: gather it from the control schema
 * (warehouse/report-data.ts), then render one self-contained HTML file and a paste-ready Markdown
 * announcement. A release graph's report (warehouse/release-report-data.ts) is the same pair of
 * files: the release's header and lineage, then one section per node, each that node's report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReleaseReportData, ReportData } from '../../contracts/report';
import { renderReportHtml } from './render-html';
import { renderReportMarkdown } from './render-markdown';
import { renderReleaseReportHtml } from './render-release-html';
import { renderReleaseReportMarkdown } from './render-release-markdown';

export type { ReleaseReportData, ReportData } from '../../contracts/report';
export { escapeHtml, renderReportHtml } from './render-html';
export { escapeMarkdown, renderReportMarkdown } from './render-markdown';
export { renderReleaseReportHtml } from './render-release-html';
export { renderReleaseReportMarkdown } from './render-release-markdown';

/** `<id>.html` and `<id>.md` in `dir` (created if missing), written with `html` and `markdown`. */
function writePair(kind: string, id: string, dir: string, html: () => string, markdown: () => string) {
  // Ids are slugs (the spec's backfill_id, the graph's release_id); a hand-made report must not write outside `dir`.
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(id)) {
    throw new Error(
      `report for ${kind} "${id}": a ${kind === 'backfill' ? 'backfill_id' : 'release_id'} is lowercase letters, ` +
        `digits, "-" and "_"; it names the report files.`,
    );
  }
  mkdirSync(dir, { recursive: true });
  const htmlPath = join(dir, `${id}.html`);
  const markdownPath = join(dir, `${id}.md`);
  writeFileSync(htmlPath, html());
  writeFileSync(markdownPath, markdown());
  return { htmlPath, markdownPath };
}

/** Writes `<backfill_id>.html` and `<backfill_id>.md` into `dir` (created if missing). */
export function writeReport(data: ReportData, dir: string): { htmlPath: string; markdownPath: string } {
  return writePair('backfill', data.spec.backfillId, dir,
    () => renderReportHtml(data), () => renderReportMarkdown(data));
}

/** Writes `<release_id>.html` and `<release_id>.md` into `dir` (created if missing). */
export function writeReleaseReport(data: ReleaseReportData, dir: string): { htmlPath: string; markdownPath: string } {
  return writePair('release', data.lineage.releaseId, dir,
    () => renderReleaseReportHtml(data), () => renderReleaseReportMarkdown(data));
}
