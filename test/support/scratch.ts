/**
 * A scratch copy of what a user starts from, for tests that run the CLI or the worker bin on files:
 * the FIN-2841 warehouse in a DuckDB file, and the example spec under a new backfill_id.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { EXAMPLES, type Raw } from './spec-fixtures';

/** A DuckDB file in `dir` seeded with the FIN-2841 scenario; returns its path. */
export async function seededWarehouse(dir: string): Promise<string> {
  const path = join(dir, 'warehouse.duckdb');
  const db = await openDuckDb({ path });
  await seedRevenueScenario(db);
  await db.close();
  return path;
}

/**
 * examples/revenue-tax-fix.yaml written to `dir/<name>.yaml` under backfill_id `id`, its SQL copied
 * beside it; `edit` changes the parsed spec first (a narrower range, no live pipeline, …).
 */
export function exampleSpecFile(dir: string, name: string, id: string, edit: (raw: Raw) => void = () => {}): string {
  cpSync(join(EXAMPLES, 'sql'), join(dir, 'sql'), { recursive: true });
  const raw = parse(readFileSync(join(EXAMPLES, 'revenue-tax-fix.yaml'), 'utf8')) as Raw;
  raw.backfill_id = id;
  edit(raw);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(raw));
  return file;
}

/** Two weeks, no live-pipeline query or pause windows: reaches approval in a few seconds. */
export const twoWeeks = (raw: Raw): void => {
  raw.source_range = { ...raw.source_range, start: '2025-01-01', end: '2025-01-14' };
  raw.execution = { ...raw.execution, pause_windows: [], pause_during_live_pipeline: false };
  delete raw.execution.live_pipeline;
};
