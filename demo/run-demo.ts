/**
 * `npm run demo` — the main job on the embedded default. Seeds the FIN-2841 tax-bug warehouse in
 * DuckDB, prints the plan for examples/revenue-tax-fix.yaml, then (unless --only-plan) starts a
 * Temporal dev server with its UI and a worker, runs the backfill workflow and prints its status.
 */
import { NativeConnection } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { Command } from 'commander';
import { resolve } from 'node:path';
import { loadRunnableSpec } from '../client/load-spec';
import { formatPlan, formatSeconds } from '../client/format';
import { startBackfill } from '../client/start-backfill';
import { workflowUiUrl } from '../client/temporal';
import { isBackfillFailure } from '../contracts/errors';
import { statusQuery } from '../contracts/messages';
import { startDevServer } from '../scripts/dev-server';
import { estimatePlan } from '../warehouse/plan-estimates';
import { openDuckDb } from '../warehouse/duckdb/driver';
import { DEFAULT_DUCKDB_PATH } from '../warehouse/open';
import { createBackfillWorker } from '../worker/create-worker';
import { seedRevenueScenario } from './revenue-scenario';

const SPEC = resolve(__dirname, '..', 'examples', 'revenue-tax-fix.yaml');

async function main(): Promise<void> {
  const opts = new Command('demo')
    .description('Seed the tax-bug scenario, plan the backfill, and run it on a local Temporal dev server.')
    .option('--only-plan', 'seed and print the plan, start nothing')
    .option('--scale <n>', 'scenario size multiplier (1, 10, 100)', (v) => Number(v), 1)
    .option('--db <path>', 'DuckDB file', DEFAULT_DUCKDB_PATH)
    .option('--keep-open', 'keep the dev server, its UI and the worker running until Ctrl-C')
    .parse()
    .opts<{ onlyPlan?: boolean; scale: number; db: string; keepOpen?: boolean }>();

  const { spec } = loadRunnableSpec(SPEC);
  const warehouse = await openDuckDb({ path: opts.db });
  const seeded = await seedRevenueScenario(warehouse, { scale: opts.scale, replace: true });
  console.log(
    `Seeded ${opts.db}: ${seeded.events.toLocaleString('en-US')} revenue events, ${seeded.dailyRows.toLocaleString('en-US')} rows in ` +
      `${spec.target.table} (${seeded.merchants} merchants, ${seeded.days} days, buggy tax logic up to ${spec.source_range.end}) in ${formatSeconds(seeded.ms / 1000)}.\n`,
  );
  const plan = await estimatePlan(warehouse, spec, { sample: true });
  console.log(formatPlan(plan, { engine: warehouse.dialect.name, maxRows: 10 }));
  if (opts.onlyPlan) {
    await warehouse.close();
    return;
  }

  console.log('\nStarting a Temporal dev server with its UI…');
  const server = await startDevServer({ headless: false });
  const native = await NativeConnection.connect({ address: server.address });
  const worker = await createBackfillWorker({ connection: native, namespace: server.namespace, warehouse });
  const running = worker.run();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  try {
    const handle = await startBackfill(client, spec, { startedBy: 'demo' });
    const ui = server.uiUrl ? workflowUiUrl(server.namespace, handle.workflowId, { TEMPORAL_UI_URL: server.uiUrl }) : null;
    console.log(`Started workflow ${handle.workflowId}`);
    if (ui) console.log(`  UI: ${ui}${opts.keepOpen ? '' : '  (run with --keep-open to keep the server and UI up afterwards)'}`);
    await handle.result();
    const status = await handle.query(statusQuery);
    console.log(`\n${status.backfillId}: ${status.state} — ${status.phase}`);
    console.log(`  partitions ${status.partitions.done}/${status.partitions.total}, batches ${status.batches.done}/${status.batches.total}`);
    if (opts.keepOpen) {
      console.log(`\nDev server ${server.address}, UI ${server.uiUrl}. Ctrl-C to stop.`);
      await new Promise<void>((done) => process.once('SIGINT', () => done()));
    }
  } finally {
    worker.shutdown();
    await running;
    await native.close();
    await connection.close();
    await server.stop();
    await warehouse.close();
  }
}

main().catch((e: unknown) => {
  console.error(isBackfillFailure(e) ? `error (${e.code}): ${e.message}` : e);
  process.exit(1);
});
