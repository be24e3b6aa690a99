/**
 * One full backfill of examples/revenue-tax-fix.yaml on an already seeded DuckDB file, in its own process
 * (a Temporal Runtime installs once per process): bench/peers.ts times this whole command.
 *   tsx bench/peers/project-run.ts <file.duckdb> <scale>
 * Prints one line `PEERS_RESULT {"fullMs":…,"state":…}`.
 */
import { benchSpec, runFullBackfill, StatementTally } from '../backfill';
import { openDuckDb } from '../../warehouse/duckdb/driver';

async function main(): Promise<void> {
  const [file, scaleArg] = process.argv.slice(2);
  const scale = Number(scaleArg);
  if (!file || !Number.isFinite(scale) || scale <= 0) throw new Error('usage: project-run.ts <file.duckdb> <scale>');
  const tally = new StatementTally();
  const db = await openDuckDb({ path: file, onStatement: tally.onStatement });
  try {
    const full = await runFullBackfill(db, benchSpec(scale), tally);
    console.log(`PEERS_RESULT ${JSON.stringify({ fullMs: full.fullMs, state: full.final.state })}`);
  } finally {
    await db.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
