/**
 * The measured full backfill of `npm run bench`, in a process of its own so that its peak RSS is the
 * worker's (the worker, its DuckDB and the bench's Temporal client; the dev server is a separate
 * process), not the seeding's or the floor's:
 *   tsx bench/full-run.ts <file.duckdb> <spec.json>
 * The file must be seeded and closed by the caller (DuckDB locks it). Prints one line
 * `BENCH_RESULT {…}` (FullRunResult) on stdout; everything else goes to stderr.
 */
import { readFileSync } from 'node:fs';
import type { BackfillSpec } from '../domain/spec/schema';
import { openDuckDb } from '../warehouse/duckdb/driver';
import { duckDbSettings } from '../warehouse/open';
import { RESULT_PREFIX, runFullBackfill, StatementTally, type FullRunResult } from './backfill';

async function main(): Promise<void> {
  const [file, specFile] = process.argv.slice(2);
  if (!file || !specFile) throw new Error('usage: full-run.ts <file.duckdb> <spec.json>');
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as BackfillSpec;
  const tally = new StatementTally();
  // Opened as the worker opens it (warehouse/open.ts): DuckDB's buffer pool capped.
  const db = await openDuckDb({ path: file, onStatement: tally.onStatement, settings: duckDbSettings() });
  let result: FullRunResult;
  try {
    const maxRssBeforeKiB = process.resourceUsage().maxRSS;
    const full = await runFullBackfill(db, spec, tally);
    const proof = full.final.proof as { batchMode?: { mode: string; reason: string } } | null;
    result = {
      ...full,
      final: {
        state: full.final.state,
        partitions: full.final.partitions.total,
        batches: full.final.batches.total,
        continuedAsNew: full.final.continuedAsNew,
        batchMode: proof?.batchMode ? { mode: proof.batchMode.mode, reason: proof.batchMode.reason } : null,
      },
      statements: tally.rows(),
      maxRssBeforeKiB,
      maxRssKiB: 0,
    };
  } finally {
    await db.close();
  }
  result.maxRssKiB = process.resourceUsage().maxRSS;
  console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
