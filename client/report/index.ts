/**
 * The reconciliation report a data owner publishes: gather it from the control schema
 * (warehouse/report-data.ts), then render one self-contained HTML file and a paste-ready Markdown
 * announcement.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReportData } from '../../contracts/report';
import { renderReportHtml } from './render-html';
import { renderReportMarkdown } from './render-markdown';

export type { ReportData } from '../../contracts/report';
export { escapeHtml, renderReportHtml } from './render-html';
export { escapeMarkdown, renderReportMarkdown } from './render-markdown';

/** Writes `<backfill_id>.html` and `<backfill_id>.md` into `dir` (created if missing). */
export function writeReport(data: ReportData, dir: string): { htmlPath: string; markdownPath: string } {
  // The spec allows only slugs as backfill_id; a hand-made report must not write outside `dir`.
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(data.spec.backfillId)) {
    throw new Error(
      `report for backfill "${data.spec.backfillId}": a backfill_id is lowercase letters, digits, "-" and "_"; ` +
        `it names the report files.`,
    );
  }
  mkdirSync(dir, { recursive: true });
  const htmlPath = join(dir, `${data.spec.backfillId}.html`);
  const markdownPath = join(dir, `${data.spec.backfillId}.md`);
  writeFileSync(htmlPath, renderReportHtml(data));
  writeFileSync(markdownPath, renderReportMarkdown(data));
  return { htmlPath, markdownPath };
}
