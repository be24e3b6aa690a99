/**
 * Seeds the FIN-2841 revenue scenario into a DuckDB file:
 *   npx tsx demo/seed.ts [--db .data/warehouse.duckdb] [--scale 1] [--replace]
 */
import { Command, InvalidArgumentError } from 'commander';
import { openDuckDb } from '../warehouse/duckdb/driver';
import { SCENARIO, merchantCount, seedRevenueScenario } from './revenue-scenario';

function parseScale(text: string): number {
  const scale = Number(text);
  try {
    merchantCount(scale);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
  return scale;
}

async function main(): Promise<void> {
  const program = new Command('seed')
    .description(
      `Create ${SCENARIO.sourceTable} and ${SCENARIO.targetTable} for ` +
        `${SCENARIO.backfillStart}..${SCENARIO.liveEnd}, with the pre-FIN-2841 tax bug up to ${SCENARIO.backfillEnd}.`,
    )
    .option('--db <path>', 'DuckDB database file', '.data/warehouse.duckdb')
    .option('--scale <n>', 'multiplies the number of merchants', parseScale, 1)
    .option('--replace', 'drop and recreate the scenario tables', false)
    .parse();
  const opts = program.opts<{ db: string; scale: number; replace: boolean }>();

  const db = await openDuckDb({ path: opts.db });
  try {
    const r = await seedRevenueScenario(db, { scale: opts.scale, replace: opts.replace });
    const n = (x: number) => x.toLocaleString('en-US');
    console.log(
      `Revenue scenario ready in ${opts.db} (scale ${opts.scale}): ${n(r.events)} events, ` +
        `${n(r.dailyRows)} daily rows over ${n(r.days)} days, ${n(r.merchants)} merchants, ` +
        `${(r.ms / 1000).toFixed(2)} s.`,
    );
  } finally {
    await db.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
