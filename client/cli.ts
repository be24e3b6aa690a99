/**
 * `backfill` — the operator CLI. Each command loads input once at the edge (zod), talks to the
 * warehouse or Temporal, and maps failures to an exit code with a message that says what to do.
 */
import { Command, Option } from 'commander';
import { z } from 'zod';
import { isBackfillFailure } from '../contracts/errors';
import { statusQuery } from '../contracts/messages';
import { workflowIdFor } from '../contracts/settings';
import { specSchema } from '../domain/spec/schema';
import { estimatePlan } from '../warehouse/plan-estimates';
import { openWarehouse, warehouseConfigFromEnv } from '../warehouse/open';
import { ExitCode, exitCodeFor } from './exit-codes';
import { formatPlan } from './format';
import { loadRunnableSpec, loadSpecFile } from './load-spec';
import { startBackfill } from './start-backfill';
import { connectClient, workflowUiUrl } from './temporal';

const program = new Command()
  .name('backfill')
  .description('Safe, bounded, reversible warehouse backfills as durable Temporal workflows.')
  .showHelpAfterError();

const warehouseOption = () =>
  new Option('--warehouse <where>', 'a DuckDB file, snowflake (SNOWFLAKE_* variables) or snowflake:<config file> (default: $BACKFILL_WAREHOUSE or .data/warehouse.duckdb)');
const addressOption = () => new Option('--address <host:port>', 'Temporal frontend (default: $TEMPORAL_ADDRESS or 127.0.0.1:7233)');
const namespaceOption = () => new Option('--namespace <ns>', 'Temporal namespace (default: $TEMPORAL_NAMESPACE or default)');

program
  .command('validate')
  .description('Check a spec: every problem is reported with its YAML path and line.')
  .argument('<spec>', 'backfill spec (YAML)')
  .action((file: string) => {
    const { spec, warnings, notRunnable } = loadSpecFile(file);
    console.log(`✓ ${file}: valid spec ${spec.backfill_id} (${spec.target.table}, ${spec.source_range.start}..${spec.source_range.end} by ${spec.source_range.grain})`);
    for (const w of warnings) console.log(`  warning: ${w.path}: ${w.message}`);
    if (notRunnable.length) {
      console.log('  not runnable yet:');
      for (const p of notRunnable) console.log(`    - ${p.path}: ${p.message}`);
    }
  });

program
  .command('plan')
  .description('Partitions, batches and estimated rows, bytes, time and cost; nothing is written.')
  .argument('<spec>', 'backfill spec (YAML)')
  .option('--json', 'print the plan as JSON')
  .option('--no-sample', 'skip the sample read of one partition (no byte or time estimates)')
  .option('--max-rows <n>', 'show at most this many batch rows', (v) => Number(v))
  .addOption(warehouseOption())
  .action(async (file: string, opts: { json?: boolean; sample: boolean; maxRows?: number; warehouse?: string }) => {
    const { spec } = loadSpecFile(file);
    const config = warehouseConfigFromEnv(opts.warehouse ? { ...process.env, BACKFILL_WAREHOUSE: opts.warehouse } : process.env);
    const db = await openWarehouse({ ...config, readOnly: true });
    try {
      const plan = await estimatePlan(db, spec, { tag: { backfillId: spec.backfill_id, phase: 'plan' }, sample: opts.sample && Boolean(spec.transform), timeoutMs: spec.execution.query_timeout });
      console.log(opts.json ? JSON.stringify(plan, null, 2) : formatPlan(plan, { engine: db.dialect.name, maxRows: opts.maxRows }));
    } finally {
      await db.close();
    }
  });

program
  .command('schema')
  .description('Print the JSON Schema of the spec, for editor autocompletion.')
  .action(() => {
    const schema = z.toJSONSchema(specSchema, { io: 'input', unrepresentable: 'any' });
    console.log(JSON.stringify({ title: 'Backfill spec', ...schema }, null, 2));
  });

program
  .command('start')
  .description('Start the backfill workflow for a spec; prints the workflow ID and the UI link.')
  .argument('<spec>', 'backfill spec (YAML)')
  .option('--by <name>', 'who starts it, for the audit log', process.env.USER ?? 'cli')
  .addOption(addressOption())
  .addOption(namespaceOption())
  .action(async (file: string, opts: { by: string; address?: string; namespace?: string }) => {
    const { spec } = loadRunnableSpec(file);
    const { client, connection, namespace } = await connectClient(opts);
    try {
      const handle = await startBackfill(client, spec, { startedBy: opts.by });
      console.log(`started ${spec.backfill_id}`);
      console.log(`  workflow ID: ${handle.workflowId}`);
      console.log(`  run ID:      ${handle.firstExecutionRunId}`);
      console.log(`  UI:          ${workflowUiUrl(namespace, handle.workflowId)}`);
    } finally {
      await connection.close();
    }
  });

program
  .command('status')
  .description("Query a backfill's state and progress.")
  .argument('<backfill-id>', 'the spec\'s backfill_id')
  .option('--json', 'print the status as JSON')
  .addOption(addressOption())
  .addOption(namespaceOption())
  .action(async (id: string, opts: { json?: boolean; address?: string; namespace?: string }) => {
    const { client, connection } = await connectClient(opts);
    try {
      const status = await client.workflow.getHandle(workflowIdFor(id)).query(statusQuery);
      if (opts.json) console.log(JSON.stringify(status, null, 2));
      else {
        console.log(`${status.backfillId}: ${status.state} — ${status.phase}`);
        console.log(`  target ${status.target}, ${status.range.start}..${status.range.end} by ${status.range.grain}`);
        console.log(`  partitions ${status.partitions.done}/${status.partitions.total}, batches ${status.batches.done}/${status.batches.total}`);
        if (status.eta) console.log(`  ETA ${status.eta} (concurrency ${status.concurrency})`);
        if (status.pause) console.log(`  paused (${status.pause.kind}): ${status.pause.reason}${status.pause.until ? ` — until ${status.pause.until}` : ''}`);
        if (status.halt) console.log(`  halted: ${status.halt.reason}; resolve with ${status.halt.options.join(' | ')}`);
        if (status.lastVerdict) console.log(`  last batch ${status.lastVerdict.index + 1}: ${status.lastVerdict.verdict}`);
        if (status.state === 'awaiting_approval' && status.approval) console.log(`  approvers: ${status.approval.approvers.join(', ')}; deadline ${status.approval.deadline}`);
        if (status.release) console.log(`  release ${status.release.releaseId} (${status.release.status}); rollback window until ${status.release.rollbackExpiresAt}`);
        if (status.error) console.log(`  error: ${status.error}`);
      }
    } finally {
      await connection.close();
    }
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (isBackfillFailure(e)) {
    console.error(`error (${e.code}): ${e.message}`);
    process.exit(exitCodeFor(e.code));
  }
  console.error(e instanceof Error ? `error: ${e.message}` : e);
  process.exit(ExitCode.unexpected);
});
