/**
 * One full backfill of examples/revenue-tax-fix.yaml on an already seeded DuckDB file, in its own process
 * (a Temporal Runtime installs once per process): bench/peers.ts times this whole command.
 *   node dist/project-run.cjs <file.duckdb> <scale>   (bundled by scripts/built.cjs; tsx runs it as well)
 * With PEERS_TEMPORAL_ADDRESS (and PEERS_TEMPORAL_NAMESPACE) it uses that running Temporal server, as a
 * production worker does; otherwise it starts its own dev server. The worker (bundle from the cache),
 * the client and DuckDB start here, inside the timed command.
 * Prints one line `PEERS_RESULT {"fullMs":…,"state":…,"steps":{…}}`: ms since process start at each step.
 */
import { benchSpec, runFullBackfill, StatementTally } from '../backfill';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { duckDbSettings } from '../../warehouse/open';

/** Milliseconds since this process started. */
const sinceStart = () => Math.round(performance.now());

async function main(): Promise<void> {
  const steps: Record<string, number> = { 'modules loaded': sinceStart() };
  const [file, scaleArg] = process.argv.slice(2);
  const scale = Number(scaleArg);
  if (!file || !Number.isFinite(scale) || scale <= 0) throw new Error('usage: project-run.ts <file.duckdb> <scale>');
  const address = process.env.PEERS_TEMPORAL_ADDRESS;
  const temporal = address ? { address, namespace: process.env.PEERS_TEMPORAL_NAMESPACE ?? 'default' } : undefined;
  const tally = new StatementTally();
  // Opened as the worker opens it (warehouse/open.ts): DuckDB's buffer pool capped.
  const db = await openDuckDb({ path: file, onStatement: tally.onStatement, settings: duckDbSettings() });
  try {
    const full = await runFullBackfill(db, benchSpec(scale), tally, {
      temporal,
      history: false,
      onStep: (step) => (steps[step] = sinceStart()),
    });
    steps['worker stopped'] = sinceStart();
    console.log(`PEERS_RESULT ${JSON.stringify({ fullMs: full.fullMs, state: full.final.state, steps })}`);
  } finally {
    await db.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
