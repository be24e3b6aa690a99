/**
 * `backfill` — the operator CLI. Each command loads input once at the edge (zod), talks to the
 * warehouse or Temporal, and maps failures to an exit code with a message that says what to do.
 */
import { Argument, Command, Option } from 'commander';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { BackfillError, BackfillFailure, backfillFailureIn, isBackfillFailure } from '../contracts/errors';
import type { ReleaseReportData, ReportData } from '../contracts/report';
import type { Plan } from '../domain/plan';
import { PREVIEW_LIMITS, previewPartitionsProblem, type PreviewResult } from '../domain/preview';
import { readOnlySelectProblems, SQL_LIMITS } from '../domain/transform-sql';
import type { SqlResult } from '../activities/tools';
import { TASK_QUEUE } from '../contracts/settings';
import { BACKFILL_STATES } from '../domain/lifecycle';
import { version } from '../package.json';
import { ExitCode, exitCodeFor } from './exit-codes';
import { jsonOutput } from './json-output';
import type { Client } from '@temporalio/client';
import type { ConnectionFlags } from './temporal';
import type { DigestedDecision } from '../domain/decision-digest';
import type { BackfillStatus, DecisionProof } from '../contracts/status';
import type { Lineage, ReleaseStatus, UpstreamWait } from '../contracts/release';
import type { Partition } from '../domain/partitions';

const isRelease = (s: BackfillStatus | ReleaseStatus): s is ReleaseStatus => (s as ReleaseStatus).kind === 'release';

/**
 * What a command needs, loaded when it runs: the Temporal client (~0.3 s to load), DuckDB and the
 * warehouse code, zod and the spec loader are not paid for by `--help` or `--version`. require(),
 * not import(): the bundle (scripts/built.cjs) and tsx's CommonJS hook both resolve it lazily.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- deliberate, see above */
const need = {
  spec: async () => require('./load-spec') as typeof import('./load-spec'),
  graph: async () => ({
    ...(require('./load-graph') as typeof import('./load-graph')),
    ...(require('../domain/graph/plan') as typeof import('../domain/graph/plan')),
    allPartitions: (require('../domain/plan') as typeof import('../domain/plan')).allPartitions,
    ...(require('./release-format') as typeof import('./release-format')),
  }),
  schema: async () => ({
    ...(require('zod') as typeof import('zod')),
    ...(require('../domain/spec/schema') as typeof import('../domain/spec/schema')),
    ...(require('../domain/spec/field-docs') as typeof import('../domain/spec/field-docs')),
  }),
  graphSchema: async () => ({
    ...(require('zod') as typeof import('zod')),
    ...(require('../domain/graph/schema') as typeof import('../domain/graph/schema')),
    ...(require('../domain/graph/field-docs') as typeof import('../domain/graph/field-docs')),
  }),
  temporal: async () => require('./temporal') as typeof import('./temporal'),
  op: async () => require('./operate') as typeof import('./operate'),
  start: async () => require('./start-backfill') as typeof import('./start-backfill'),
  warehouse: async () => require('../warehouse/open') as typeof import('../warehouse/open'),
  plan: async () => ({
    ...(require('../warehouse/plan-estimates') as typeof import('../warehouse/plan-estimates')),
    ...(require('./format') as typeof import('./format')),
  }),
  tools: async () => require('../activities/tools') as typeof import('../activities/tools'),
  lineage: async () => require('../warehouse/release-graph') as typeof import('../warehouse/release-graph'),
  preview: async () => ({
    ...(require('../warehouse/preview') as typeof import('../warehouse/preview')),
    ...(require('./preview-format') as typeof import('./preview-format')),
  }),
  terminal: async () => require('./terminal') as typeof import('./terminal'),
  keys: async () => require('./keys') as typeof import('./keys'),
  report: async () => ({
    ...(require('../warehouse/report-data') as typeof import('../warehouse/report-data')),
    ...(require('../warehouse/release-report-data') as typeof import('../warehouse/release-report-data')),
    ...(require('./report') as typeof import('./report')),
  }),
};
/* eslint-enable @typescript-eslint/no-require-imports */

const program = new Command()
  .name('backfill')
  .description('Safe, bounded, reversible warehouse backfills as durable Temporal workflows.')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError()
  // A usage error (unknown option, missing argument, bad choice) is bad input: exit 2, as every other
  // refusal of input; --help and --version exit 0. Subcommands inherit this (set before they exist).
  .exitOverride((err) => process.exit(err.exitCode === 0 ? ExitCode.ok : ExitCode.badInput))
  .addHelpText('after', [
    '',
    'Exit codes: 0 ok · 1 unexpected · 2 bad input (usage, invalid spec, missing table or column, unknown',
    'backfill) · 3 unreachable or locked (Temporal, no worker, the DuckDB file) · 4 refused (leased target,',
    'duplicate start, a refused decision) · 5 (watch) the backfill halted or failed; (preview) a check failed.',
  ].join('\n'));

const warehouseOption = () =>
  new Option(
    '--warehouse <where>',
    'a DuckDB file, snowflake (SNOWFLAKE_* variables) or snowflake:<config file> ' +
      '(default: $BACKFILL_WAREHOUSE or .data/warehouse.duckdb)',
  );
const addressOption = () =>
  new Option('--address <host:port>', 'Temporal frontend (default: $TEMPORAL_ADDRESS, the profile, or 127.0.0.1:7233)');
const namespaceOption = () =>
  new Option('--namespace <ns>', 'Temporal namespace (default: $TEMPORAL_NAMESPACE, the profile, or default)');

/** Temporal connection flags on a command: address, namespace, envconfig profile, Cloud API key, TLS. */
function connected(cmd: Command): Command {
  return cmd
    .addOption(addressOption())
    .addOption(namespaceOption())
    .addOption(
      new Option('--profile <name>', 'Temporal envconfig profile (TOML; default: $TEMPORAL_PROFILE or "default")'),
    )
    .addOption(
      new Option('--api-key <key>', 'API key, e.g. for Temporal Cloud (default: $TEMPORAL_API_KEY or the profile)'),
    )
    .addOption(new Option('--tls', 'use TLS (implied by an API key)'));
}

type Connected = ConnectionFlags;

type Operate = Awaited<ReturnType<typeof need.op>>;

/** Connects, hands the command the client and the operator verbs, and closes the connection. */
async function withClient<T>(flags: Connected, fn: (client: Client, op: Operate) => Promise<T>): Promise<T> {
  const [op, { connectClient }] = await Promise.all([need.op(), need.temporal()]);
  const { client, connection } = await connectClient(flags);
  try {
    return await fn(client, op);
  } finally {
    await connection.close();
  }
}

/**
 * The warehouse opened read-only for a look, or null when it is a DuckDB file a worker holds (one
 * writing process per file): the caller then asks the worker, through a short workflow.
 */
async function openReadOnly(where: string | undefined) {
  const { openWarehouse, warehouseConfigFromEnv } = await need.warehouse();
  const config = warehouseConfigFromEnv(where ? { ...process.env, BACKFILL_WAREHOUSE: where } : process.env);
  try {
    return await openWarehouse({ ...config, readOnly: true });
  } catch (e) {
    if (config.engine === 'duckdb' && isBackfillFailure(e, BackfillError.WarehouseLocked)) {
      console.error(`note: a worker holds ${config.path}; reading it through the worker`);
      return null;
    }
    throw e;
  }
}

/** Runs one of workflows/tools.ts on the worker's task queue and returns its result (refusals as they are). */
async function throughWorker<T>(flags: Connected, workflow: string, args: unknown[]): Promise<T> {
  return withClient(flags, async (client, op) => {
    const taskQueue = process.env.BACKFILL_TASK_QUEUE?.trim() || TASK_QUEUE;
    await op.requireWorker(client, taskQueue);
    try {
      return (await client.workflow.execute(workflow, {
        taskQueue, args, workflowId: `backfill-cli-${workflow}-${randomUUID()}`, workflowExecutionTimeout: '15 minutes',
      })) as T;
    } catch (e) {
      const found = backfillFailureIn(e);
      if (found) throw new BackfillFailure(found.type, found.message);
      throw e;
    }
  });
}

const MAX_START_WAIT_S = 600;
function parseWait(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > MAX_START_WAIT_S) {
    throw new BackfillFailure(
      BackfillError.InvalidRequest,
      `--wait: "${text}" is not a whole number of seconds 0..${MAX_START_WAIT_S}`,
    );
  }
  return n;
}

/** A release graph spec (release_id and nodes at the top level) rather than a single backfill's. */
function isGraphFile(file: string): boolean {
  try {
    const head = readFileSync(file, { encoding: 'utf8', flag: 'r' }).slice(0, 200_000);
    return /^release_id\s*:/m.test(head) && /^nodes\s*:/m.test(head);
  } catch {
    return false;
  }
}

const by = (description: string) => new Option('--by <name>', description).makeOptionMandatory();
const defaultBy = process.env.USER ?? 'cli';

program
  .command('validate')
  .description('Check a spec: every problem is reported with its YAML path and line.')
  .argument('<spec>', 'backfill spec (YAML)')
  .option('--runnable', 'also require it to be runnable (exit 2 if it is valid but cannot run yet)')
  .action(async (file: string, opts: { runnable?: boolean }) => {
    if (isGraphFile(file)) {
      const { graph, warnings } = (await need.graph()).loadGraphFile(file);
      console.log(`✓ ${file}: valid release graph ${graph.release_id} (${graph.nodes.length} nodes in dependency ` +
        `order: ${graph.nodes.map((n) => `${n.id} ${n.spec.target.table} by ${n.spec.source_range.grain}`)
          .join(' → ')})`);
      for (const w of warnings) console.log(`  warning: ${w.path}: ${w.message}`);
      return;
    }
    const { spec, warnings, notRunnable } = (await need.spec()).loadSpecFile(file);
    const what =
      `${spec.backfill_id} (${spec.target.table}, ` +
      `${spec.source_range.start}..${spec.source_range.end} by ${spec.source_range.grain})`;
    console.log(
      notRunnable.length
        ? `! ${file}: valid but not runnable: ${what}`
        : `✓ ${file}: valid spec ${what}`,
    );
    for (const w of warnings) console.log(`  warning: ${w.path}: ${w.message}`);
    for (const p of notRunnable) console.log(`  not runnable: ${p.path}: ${p.message}`);
    if (notRunnable.length && opts.runnable) process.exitCode = ExitCode.badInput;
  });

connected(program
  .command('plan')
  .description('Partitions, batches and estimated rows, bytes, time and cost; nothing is written. ' +
    'While a worker holds the DuckDB file, the worker reads it.')
  .argument('<spec>', 'backfill spec (YAML)')
  .option('--json', 'print the plan as JSON')
  .option('--no-sample', 'skip the sample read of one partition (no byte or time estimates)')
  .option('--max-rows <n>', 'show at most this many batch rows', (v) => Number(v))
  .addOption(warehouseOption()))
  .action(async (
    file: string,
    opts: { json?: boolean; sample: boolean; maxRows?: number; warehouse?: string } & Connected,
  ) => {
    if (isGraphFile(file)) return planGraph(file, opts);
    const { spec } = (await need.spec()).loadSpecFile(file);
    const { previewPlan, formatPlan } = await need.plan();
    const print = (plan: Plan, engine: string) =>
      console.log(opts.json ? jsonOutput('plan', plan) : formatPlan(plan, { engine, maxRows: opts.maxRows }));
    const db = await openReadOnly(opts.warehouse);
    if (!db) {
      print(await throughWorker<Plan>(opts, 'planThroughWorker', [spec, opts.sample]), 'duckdb');
      return;
    }
    try {
      print(await previewPlan(db, spec, opts.sample), db.dialect.name);
    } finally {
      await db.close();
    }
  });

connected(program
  .command('sql')
  .description('Look at tables: one SELECT, refused if it could write, row-limited; read-only on the file, ' +
    'or through the worker while it holds it.')
  .argument('<select>', 'a SELECT (or WITH … SELECT), quoted')
  .option('--limit <rows>', `rows to print, 1..${SQL_LIMITS.rows}`, (v) => Number(v), SQL_LIMITS.defaultRows)
  .option('--json', 'print the rows as JSON')
  .addOption(warehouseOption()))
  .action(async (sql: string, opts: { limit: number; json?: boolean; warehouse?: string } & Connected) => {
    const problems = readOnlySelectProblems(sql);
    if (problems.length) {
      throw new BackfillFailure(BackfillError.InvalidRequest, `sql: the statement ${problems.join('; ')}.`);
    }
    const req = { sql, limit: opts.limit };
    const db = await openReadOnly(opts.warehouse);
    let result: SqlResult;
    if (!db) result = await throughWorker<SqlResult>(opts, 'sqlThroughWorker', [req]);
    else {
      try {
        result = await (await need.tools()).readOnlyQuery(db, req);
      } finally {
        await db.close();
      }
    }
    if (opts.json) return console.log(jsonOutput('sql', result));
    const cell = (v: unknown) =>
      (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
    const { table } = await need.terminal();
    console.log(table(result.columns, result.rows.map((r) => result.columns.map((c) => cell(r[c]))), { maxWidth: 40 }));
    console.log(`(${result.rows.length} row${result.rows.length === 1 ? '' : 's'}` +
      `${result.truncated ? `; more not shown, raise --limit (at most ${SQL_LIMITS.rows})` : ''})`);
  });

/**
 * The warehouse opened read-write, for `preview` (it writes its scratch table), or null when it is a
 * DuckDB file a worker holds: the preview then runs on the worker. A missing file is not created.
 */
async function openWritable(where: string | undefined) {
  const { openWarehouse, warehouseConfigFromEnv } = await need.warehouse();
  const config = warehouseConfigFromEnv(where ? { ...process.env, BACKFILL_WAREHOUSE: where } : process.env);
  if (config.engine === 'duckdb' && config.path !== ':memory:' && !existsSync(config.path)) {
    throw new BackfillFailure(
      BackfillError.MissingObject,
      `the DuckDB file ${config.path} does not exist; pass --warehouse (or set BACKFILL_WAREHOUSE), ` +
        'or seed the demo with `npm run demo -- --only-plan`.',
    );
  }
  try {
    return await openWarehouse(config);
  } catch (e) {
    if (config.engine === 'duckdb' && isBackfillFailure(e, BackfillError.WarehouseLocked)) {
      console.error(`note: a worker holds ${config.path}; previewing through the worker`);
      return null;
    }
    throw e;
  }
}

function parsePreviewPartitions(text: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : text;
  const problem = previewPartitionsProblem(n);
  if (problem) throw new BackfillFailure(BackfillError.InvalidRequest, problem);
  return n as number;
}

connected(program
  .command('preview')
  .description('A quick look before the run: rewrites a sample of partitions into a scratch table, runs every ' +
    'check and expectation on them, prints the verdicts and an estimate of the full run, and drops the table. ' +
    'No lease, no snapshot, production untouched; exit 5 when a check fails. While a worker holds the DuckDB ' +
    'file, the worker runs it.')
  .argument('<spec>', 'backfill spec (YAML)')
  .option(
    '--partitions <n>',
    `partitions to rewrite, ${PREVIEW_LIMITS.minPartitions}..${PREVIEW_LIMITS.maxPartitions}: the first, the last, ` +
      'the representative one and the rest spread between',
    parsePreviewPartitions,
    PREVIEW_LIMITS.defaultPartitions,
  )
  .option('--json', 'print the result as JSON')
  .addOption(warehouseOption()))
  .action(async (file: string, opts: { partitions: number; json?: boolean; warehouse?: string } & Connected) => {
    const { spec } = (await need.spec()).loadRunnableSpec(file);
    const { previewBackfill, formatPreview } = await need.preview();
    const db = await openWritable(opts.warehouse);
    let result: PreviewResult;
    if (!db) {
      const req = { partitions: opts.partitions };
      result = await throughWorker<PreviewResult>(opts, 'previewThroughWorker', [spec, req]);
    } else {
      try {
        result = await previewBackfill(db, spec, { partitions: opts.partitions });
      } finally {
        await db.close();
      }
    }
    console.log(opts.json ? jsonOutput('preview', result) : formatPreview(result));
    if (!result.passed) process.exitCode = ExitCode.stopped;
  });

program
  .command('schema')
  .description('Print the JSON Schema of the spec, for editor autocompletion.')
  .option('--graph', 'the JSON Schema of a release graph spec instead')
  .action(async (opts: { graph?: boolean }) => {
    if (opts.graph) {
      const { toJSONSchema, graphSchema, describeGraphSchema } = await need.graphSchema();
      const schema = describeGraphSchema(toJSONSchema(graphSchema, { io: 'input', unrepresentable: 'any' }));
      console.log(JSON.stringify({ title: 'Release graph spec', ...schema }, null, 2));
      return;
    }
    const { toJSONSchema, specSchema, describeSchema } = await need.schema();
    const schema = describeSchema(toJSONSchema(specSchema, { io: 'input', unrepresentable: 'any' }));
    console.log(JSON.stringify({ title: 'Backfill spec', ...schema }, null, 2));
  });

connected(program.command('start'))
  .description('Start the backfill workflow for a spec; prints the workflow ID and the UI link.')
  .argument('<spec>', 'backfill spec (YAML)')
  .option('--by <name>', 'who starts it, for the audit log', defaultBy)
  .option(
    '--wait <seconds>',
    `how long to wait for the pre-flight (plan, lease, table ownership), 0..${MAX_START_WAIT_S}; 0 returns at once`,
    parseWait,
    30,
  )
  .action(async (file: string, opts: { by: string; wait: number } & Connected) => {
    if (isGraphFile(file)) return startGraph(file, opts);
    const { spec } = (await need.spec()).loadRunnableSpec(file);
    const { connectClient, workflowUiUrl } = await need.temporal();
    const op = await need.op();
    const { awaitPreflight, startBackfill } = await need.start();
    const { client, connection, namespace } = await connectClient(opts);
    try {
      const taskQueue = process.env.BACKFILL_TASK_QUEUE?.trim() || TASK_QUEUE;
      // Nothing is started that no worker would run: exit 3 now rather than a workflow that waits.
      await op.requireWorker(client, taskQueue);
      const handle = await startBackfill(client, spec, { startedBy: opts.by, taskQueue });
      const preflight = opts.wait > 0 ? await awaitPreflight(handle, opts.wait * 1000) : 'pending';
      console.log(
        `started ${spec.backfill_id}${preflight === 'passed' ? ': planned, target leased, tables owned' : ''}`,
      );
      console.log(`  workflow ID: ${handle.workflowId}`);
      console.log(`  run ID:      ${handle.firstExecutionRunId}`);
      console.log(`  UI:          ${workflowUiUrl(namespace, handle.workflowId)}`);
      if (preflight === 'pending' && opts.wait > 0) {
        console.log(
          `  the pre-flight did not finish within ${opts.wait} s; the worker on task queue ${taskQueue} ` +
            `may be busy: \`backfill status ${spec.backfill_id}\` shows where it is`,
        );
      }
    } finally {
      await connection.close();
    }
  });

connected(program
  .command('status')
  .description("Query a backfill's state and progress.")
  .argument('<backfill-id>', 'the spec\'s backfill_id')
  .option('--json', 'print the status as JSON'))
  .action(async (id: string, opts: { json?: boolean } & Connected) => {
    const op = await need.op();
    const { client, connection } = await (await need.temporal()).connectClient(opts);
    try {
      const status = await op.status(client, id);
      if (isRelease(status)) {
        const { formatReleaseStatus } = await need.graph();
        const live = await liveRelease(client, op, status);
        // The envelope's kind (release_status) says what it is; the status's own `kind` would overwrite it.
        const { kind: _kind, ...body } = live;
        console.log(opts.json ? jsonOutput('release_status', body) : formatReleaseStatus(live));
        return;
      }
      if (opts.json) console.log(jsonOutput('status', status));
      else {
        console.log(`${status.backfillId}: ${status.state} — ${status.phase}`);
        console.log(`  target ${status.target}, ${status.range.start}..${status.range.end} by ${status.range.grain}`);
        console.log(
          `  partitions ${status.partitions.done}/${status.partitions.total}, ` +
            `batches ${status.batches.done}/${status.batches.total}`,
        );
        if (status.eta) console.log(`  ETA ${status.eta} (concurrency ${status.concurrency})`);
        if (status.proof?.batchMode) console.log(`  batches rewritten ${status.proof.batchMode.reason}`);
        if (status.pause) {
          console.log(
            `  paused (${status.pause.kind}): ` +
              `${status.pause.reason}${status.pause.until ? ` — until ${status.pause.until}` : ''}`,
          );
        }
        if (status.halt) {
          console.log(`  halted: ${status.halt.reason}; resolve with ${status.halt.options.join(' | ')}`);
        }
        if (status.lastVerdict) {
          console.log(`  last batch ${status.lastVerdict.index + 1}: ${status.lastVerdict.verdict}`);
        }
        if (status.state === 'awaiting_approval' && status.approval) {
          console.log(`  approvers: ${status.approval.approvers.join(', ')}; deadline ${status.approval.deadline}`);
        }
        for (const r of status.monitors?.results ?? []) {
          console.log(`  monitor ${r.ok ? r.message : `BREACHED: ${r.message}`} (at ${r.at})`);
        }
        if (status.decisionDigest) {
          console.log(`  decision digest ${status.decisionDigest}` +
            `${status.signaturesRequired ? ' (decisions must be signed: --key)' : ''}`);
        }
        if (status.release) {
          console.log(
            `  release ${status.release.releaseId} (${status.release.status}); ` +
              `rollback window until ${status.release.rollbackExpiresAt}`,
          );
        }
        if (status.error) console.log(`  error: ${status.error}`);
      }
    } finally {
      await connection.close();
    }
  });

connected(program
  .command('watch')
  .description('Live progress (partitions, rate, ETA, phase, pause or halt reason) ' +
    'until the backfill waits for a person or ends.')
  .argument('<backfill-id>', "the spec's backfill_id")
  .option('--interval <ms>', 'poll interval', (v) => Number(v), 500))
  .action(async (id: string, opts: { interval: number } & Connected) => {
    if (await withClient(opts, async (client, op) => isRelease(await op.status(client, id)))) {
      return watchRelease(id, opts);
    }
    const { watchDisplay, stateText } = await need.terminal();
    const final = await withClient(opts, async (client, op) => {
      const display = watchDisplay(op.progressLine);
      try {
        return await op.watch(client, id, { intervalMs: opts.interval, onStatus: display.show });
      } finally {
        display.stop();
      }
    });
    console.log(`${final.backfillId}: ${stateText(final.state)} — ${final.phase}`);
    if (final.state === 'halted' || final.state === 'failed') process.exitCode = ExitCode.stopped;
  });

/**
 * A release's status with each running node's own progress: the release hears from a node only when
 * its state changes (its history stays short), so batches and phase come from the node itself.
 */
async function liveRelease(client: Client, op: Operate, s: ReleaseStatus): Promise<ReleaseStatus> {
  const nodes = await Promise.all(s.nodes.map(async (n) => {
    if (!['preparing', 'running', 'paused', 'halted'].includes(n.state)) return n;
    const own = await op.status(client, n.backfillId, false).catch(() => null);
    return own ? { ...n, state: own.state, phase: own.phase, batches: own.batches, partitions: own.partitions } : n;
  }));
  return { ...s, nodes };
}

/** `watch` of a release: its nodes' progress until it waits for a person or ends. */
async function watchRelease(id: string, opts: { interval: number } & Connected): Promise<void> {
  const final = await withClient(opts, async (client, op) => {
    let shown = '';
    for (;;) {
      const s = await liveRelease(client, op, (await op.status(client, id, false)) as unknown as ReleaseStatus);
      const line = `${s.state}: ${s.nodes.map((n) => `${n.node} ${n.state} ${n.batches.done}/${n.batches.total}`)
        .join(' · ')}`;
      if (line !== shown) console.log(line);
      shown = line;
      const waits = s.nodes.some((n) => n.state === 'halted');
      if (waits || ['awaiting_approval', 'published', ...op.ENDS].includes(s.state)) return s;
      await new Promise((r) => setTimeout(r, Math.max(100, opts.interval)));
    }
  });
  console.log((await need.graph()).formatReleaseStatus(final));
  if (final.state === 'failed' || final.nodes.some((n) => n.state === 'halted')) process.exitCode = ExitCode.stopped;
}

connected(program
  .command('list')
  .description('Backfills on the server, from their search attributes (newest first).')
  .option('--state <state>', `only this state (${BACKFILL_STATES.join(', ')})`)
  .option('--json', 'print as JSON'))
  .action(async (opts: { state?: string; json?: boolean } & Connected) => {
    const rows = await withClient(opts, (client, op) => op.list(client, { state: opts.state }));
    if (opts.json) return console.log(jsonOutput('list', rows));
    if (rows.length === 0) return console.log(opts.state ? `no backfills in state ${opts.state}` : 'no backfills');
    const { table, stateText } = await need.terminal();
    console.log(table(['BACKFILL', 'STATE', 'TARGET', 'OWNER', 'WORKFLOW', 'STARTED'], rows.map((r) =>
      [r.backfillId, stateText(r.state ?? '?'), r.target ?? '', r.owner ?? '', r.status, r.startTime])));
  });

connected(program
  .command('pause')
  .description('Stop starting batches after the current one.')
  .argument('<backfill-id>')
  .requiredOption('--reason <text>', 'why (shown in status and the audit log)')
  .option('--by <name>', 'who pauses', defaultBy))
  .action(async (id: string, opts: { reason: string; by: string } & Connected) => {
    await withClient(opts, (client, op) => op.pause(client, id, { by: opts.by, reason: opts.reason }));
    console.log(`pause sent to ${id}; it takes effect before the next batch (\`backfill status ${id}\`)`);
  });

connected(program
  .command('resume')
  .description('Lift an operator pause.')
  .argument('<backfill-id>')
  .option('--reason <text>', 'why')
  .option('--by <name>', 'who resumes', defaultBy))
  .action(async (id: string, opts: { reason?: string; by: string } & Connected) => {
    await withClient(opts, (client, op) => op.resume(client, id, { by: opts.by, reason: opts.reason }));
    console.log(`resume sent to ${id}`);
  });

/** The decision digest and signing key of a decision that acts on what a person read. */
interface ProofFlags {
  digest?: string;
  key?: string;
  print?: boolean;
}

/** --digest and --key on a decision that acts on what a person read (approve, reject, accept, rollback, signoff). */
function proven(cmd: Command): Command {
  return cmd
    .option('--digest <hex>', 'the decision digest `backfill status` prints for the state you read (its first ' +
      '12+ characters); the decision is refused if the state has changed since')
    .option('--key <file>', 'sign the decision with a key from `backfill keygen` ' +
      '(required when the spec sets approval.require_signature)')
    .option('--print', "print the decision's JSON (digest and signature included) to paste into the Temporal " +
      "UI's signal form, and send nothing");
}

/**
 * Sends a decision built (digest, signature) from the flags and prints the acknowledgement; with
 * --print, prints the JSON instead, for the UI's signal form (a signed decision from the UI).
 */
async function decideFromCli<T extends object>(
  id: string,
  flags: ProofFlags & Connected,
  build: (client: Client, op: Operate) => Promise<T>,
  send: (client: Client, op: Operate, req: T) => Promise<{ message: string }>,
): Promise<void> {
  const said = await withClient(flags, async (client, op) => {
    const req = await build(client, op);
    return flags.print ? JSON.stringify(req) : `${id}: ${(await send(client, op, req)).message}`;
  });
  console.log(said);
}

/**
 * Adds the digest of the state decided on (and a signature with --key) to a decision. The digest
 * comes from the person (--digest, read from `status`): a decision without one decides on nothing
 * read, and one that no longer matches is refused here and again by the workflow.
 */
async function withProof<T extends { by: string }>(
  client: Client,
  op: Operate,
  id: string,
  decision: DigestedDecision,
  req: T,
  text: string | undefined,
  flags: ProofFlags,
): Promise<T & DecisionProof> {
  const status = await op.status(client, id);
  const current = status.decisionDigest;
  // Runs started before decisions carried digests decide without one.
  if (current === undefined) return req;
  const verb = decision === 'accept' ? 'resolve accept' : decision;
  const given = flags.digest?.trim().toLowerCase();
  if (!given) {
    throw new BackfillFailure(
      BackfillError.InvalidRequest,
      `${verb} needs --digest: the decision digest \`backfill status ${id}\` prints for the state you are deciding ` +
        'on. Read the status and the report first, then pass it (its first 12 characters are enough).',
    );
  }
  if (!/^[0-9a-f]{12,64}$/.test(given)) {
    throw new BackfillFailure(
      BackfillError.InvalidRequest,
      `--digest must be 12 to 64 hex characters (the decision digest \`backfill status ${id}\` prints), got ` +
        `"${given.slice(0, 80)}"`,
    );
  }
  if (current !== null && !current.startsWith(given)) {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `${verb} refused: the state changed since you looked (you passed ${given.slice(0, 12)}…, the state now has ` +
        `${current.slice(0, 12)}…); read \`backfill status ${id}\` and the report again, ` +
        'and decide on what is there now',
    );
  }
  // No decision open (a wrong state): the workflow's refusal says why.
  const digest = current ?? given;
  if (!flags.key) return { ...req, digest };
  const keys = await need.keys();
  const key = await keys.readKeyFile(flags.key);
  const signature = keys.signDecision(key, {
    backfillId: isRelease(status) ? status.releaseId : status.backfillId,
    decision, by: req.by, digest, text: text ?? null,
  });
  return { ...req, digest, key_id: key.key_id, signature };
}

for (const [name, verb] of [['approve', 'Approve publishing'], ['reject', 'Reject: nothing is published']] as const) {
  connected(proven(program
    .command(name)
    .description(`${verb} (listed approvers only; a refusal is an immediate error).`)
    .argument('<backfill-id>')
    .addOption(by('your name as listed in approval.approvers'))
    .option('--comment <text>', 'recorded with the decision')))
    .action(async (id: string, opts: { by: string; comment?: string } & ProofFlags & Connected) => {
      await decideFromCli(id, opts,
        (client, op) => withProof(client, op, id, name, { by: opts.by, comment: opts.comment }, opts.comment, opts),
        (client, op, req) => op[name](client, id, req));
    });
}

program
  .command('keygen')
  .description('Make a key pair for signing decisions: the private key goes to --out (only you can read it), ' +
    "and the entry printed goes into the worker's trusted keys file (BACKFILL_TRUSTED_KEYS).")
  .requiredOption('--name <name>', 'who the key belongs to: the "by" you decide as')
  .requiredOption('--out <file>', 'where to write the private key (never overwritten)')
  .option('--json', 'print the trusted keys entry as JSON')
  .action(async (opts: { name: string; out: string; json?: boolean }) => {
    const entry = await (await need.keys()).keygen(opts.name, opts.out);
    if (opts.json) return console.log(jsonOutput('trusted_key', entry));
    console.log(`wrote ${opts.out} (mode 600): your private key; keep it to yourself.`);
    console.log("Add this entry under `keys:` in the worker's trusted keys file (BACKFILL_TRUSTED_KEYS):");
    console.log(`  - key_id: ${entry.key_id}\n    name: ${entry.name}\n    public_key: ${entry.public_key}`);
  });

connected(proven(program
  .command('resolve')
  .description('After a halt: retry the batch, abort the backfill, or accept the failed verdict (with a reason; ' +
    'accept takes --digest, and --key when signatures are required).')
  .argument('<backfill-id>')
  .addArgument(new Argument('<action>').choices(['retry', 'abort', 'accept']))
  .addOption(by('who decides'))
  .option('--reason <text>', 'required for accept and abort')))
  .action(async (
    id: string,
    action: 'retry' | 'abort' | 'accept',
    opts: { by: string; reason?: string } & ProofFlags & Connected,
  ) => {
    const req = { action, by: opts.by, reason: opts.reason };
    await decideFromCli(id, opts,
      async (client, op) => (action === 'accept' ? withProof(client, op, id, 'accept', req, opts.reason, opts) : req),
      (client, op, proven) => op.resolve(client, id, proven));
  });

// Two decisions that take who and why: roll back a release, or cancel before anything is published.
for (const [name, description, who, why] of [
  ['rollback', 'Within the rollback window: restore the pre-publish result atomically.', 'who rolls back', 'why'],
  ['cancel', 'Stop a backfill before anything is published: production untouched, the lease released.',
    'who cancels', 'why (the audit log keeps it)'],
] as const) {
  const cmd = program
    .command(name)
    .description(description)
    .argument('<backfill-id>')
    .addOption(by(who))
    .requiredOption('--reason <text>', why);
  // A rollback acts on the release the person read; a cancel stops a run before anything is published.
  connected(name === 'rollback' ? proven(cmd) : cmd)
    .action(async (id: string, opts: { by: string; reason: string } & ProofFlags & Connected) => {
      const req = { by: opts.by, reason: opts.reason };
      await decideFromCli(id, opts,
        async (client, op) => (name === 'rollback' ? withProof(client, op, id, name, req, opts.reason, opts) : req),
        (client, op, proven) => op[name](client, id, proven));
    });
}

connected(proven(program
  .command('signoff')
  .description('Confirm the release: the rollback window closes and the snapshot and shadow are dropped.')
  .argument('<backfill-id>')
  .addOption(by('an approver, the owner or the starter'))
  .option('--comment <text>', 'recorded with the signoff')))
  .action(async (id: string, opts: { by: string; comment?: string } & ProofFlags & Connected) => {
    const req = { by: opts.by, comment: opts.comment };
    await decideFromCli(id, opts,
      (client, op) => withProof(client, op, id, 'signoff', req, opts.comment, opts),
      (client, op, proven) => op.signoff(client, id, proven));
  });

connected(program
  .command('lineage')
  .description("A release graph's lineage: each node's inputs, transform hash, code version, batches and verdicts, " +
    'and what was published or rolled back (kept in the control schema after cleanup).')
  .argument('<release-id>', "the graph spec's release_id")
  .option('--json', 'print it as JSON (for export)')
  .addOption(warehouseOption()))
  .action(async (id: string, opts: { json?: boolean; warehouse?: string } & Connected) => {
    const db = await openReadOnly(opts.warehouse);
    let lineage: Lineage | null;
    if (!db) lineage = await throughWorker<Lineage | null>(opts, 'lineageThroughWorker', [id]);
    else {
      try {
        lineage = await (await need.lineage()).lineageOf(db, id);
      } finally {
        await db.close();
      }
    }
    if (!lineage) {
      throw new BackfillFailure(BackfillError.UnknownBackfill,
        `no release ${id} in backfill_control.release_graphs; check the release_id, or pass --warehouse for the ` +
          'warehouse it ran on.');
    }
    console.log(opts.json ? jsonOutput('lineage', lineage) : (await need.graph()).formatLineage(lineage));
  });

/** `plan` of a release graph: every node's plan in dependency order, with what each partition waits for. */
async function planGraph(file: string, opts: { json?: boolean; sample: boolean; warehouse?: string } & Connected) {
  const g = await need.graph();
  const { graph } = g.loadGraphFile(file);
  const { previewPlan } = await need.plan();
  const db = await openReadOnly(opts.warehouse);
  const plans: Array<{ id: string; plan: Plan; waits: Array<{ partition: Partition; waits: UpstreamWait[] }> }> = [];
  try {
    for (const n of graph.nodes) {
      // Estimated on the production tables its refs replace (the shadows do not exist yet).
      const spec = n.spec.transform ? { ...n.spec, transform: { ...n.spec.transform, sql: n.planSql } } : n.spec;
      const plan = db ? await previewPlan(db, spec, opts.sample)
        : await throughWorker<Plan>(opts, 'planThroughWorker', [spec, opts.sample]);
      const waits = n.upstream.length
        ? g.allPartitions(n.spec).map((partition) => ({ partition, waits: g.upstreamWaits(graph, n.id, partition) }))
        : [];
      plans.push({ id: n.id, plan, waits });
    }
  } finally {
    await db?.close();
  }
  console.log(opts.json ? jsonOutput('release_plan', { release_id: graph.release_id, nodes: plans })
    : g.formatGraphPlan(graph, plans, db?.dialect.name ?? 'duckdb'));
}

/** `start` of a release graph: one release workflow, which starts one backfill per node. */
async function startGraph(file: string, opts: { by: string; wait: number } & Connected) {
  const { graph } = (await need.graph()).loadGraphFile(file);
  const { connectClient, workflowUiUrl } = await need.temporal();
  const op = await need.op();
  const { startRelease } = await need.start();
  const { client, connection, namespace } = await connectClient(opts);
  try {
    const taskQueue = process.env.BACKFILL_TASK_QUEUE?.trim() || TASK_QUEUE;
    await op.requireWorker(client, taskQueue);
    const handle = await startRelease(client, graph, { startedBy: opts.by, taskQueue });
    console.log(`started release ${graph.release_id}: ${graph.nodes.map((n) => n.id).join(' → ')}`);
    console.log(`  workflow ID: ${handle.workflowId}`);
    console.log(`  UI:          ${workflowUiUrl(namespace, handle.workflowId)}`);
    console.log(`  nodes:       ${graph.nodes.map((n) => n.spec.backfill_id).join(', ')} ` +
      '(each a backfill: status, pause, resume, resolve by its id)');
  } finally {
    await connection.close();
  }
}

connected(program
  .command('report')
  .description('Write the reconciliation report: a self-contained HTML page and a Markdown announcement. For a ' +
    "release graph's id: the release's header and lineage, then one section per node.")
  .argument('<backfill-id>', 'a backfill_id, or a release_id')
  .option('--out <dir>', 'where to write <id>.html and <id>.md', 'reports')
  .addOption(warehouseOption()
    .default(undefined, 'read the warehouse directly instead of asking the running workflow')))
  .action(async (id: string, opts: { out: string; warehouse?: string } & Connected) => {
    const found = opts.warehouse
      ? await reportFromWarehouse(id, opts.warehouse, opts)
      : await reportFromWorkflow(id, opts);
    if (!found) {
      throw new BackfillFailure(
        BackfillError.UnknownBackfill,
        `the control schema has no plan and no release for ${id}; check the id, or pass --warehouse for the ` +
          'warehouse it ran on.',
      );
    }
    const r = await need.report();
    const { htmlPath, markdownPath } = found.kind === 'release'
      ? r.writeReleaseReport(found.data, opts.out)
      : r.writeReport(found.data, opts.out);
    const markdown = found.kind === 'release'
      ? r.renderReleaseReportMarkdown(found.data)
      : r.renderReportMarkdown(found.data);
    console.log(markdown.split('\n').slice(0, 6).join('\n'));
    console.log(`\nwrote ${htmlPath}\nwrote ${markdownPath}`);
  });

type FoundReport = { kind: 'backfill'; data: ReportData } | { kind: 'release'; data: ReleaseReportData };

/**
 * While the workflow runs, its worker (which owns the warehouse) reads the report's data. A release
 * workflow answers no report update (refused: not allowed), so a release id is read from the
 * warehouse, as a backfill whose workflow has ended is.
 */
async function reportFromWorkflow(id: string, flags: Connected): Promise<FoundReport | null> {
  try {
    const data = await withClient(flags, (client, op) => op.reportData(client, id));
    return data && { kind: 'backfill', data };
  } catch (e) {
    if (isBackfillFailure(e, BackfillError.NotAllowed) || isBackfillFailure(e, BackfillError.UnknownBackfill)) {
      // The workflow has ended (or was never on this server): read the warehouse this CLI is configured for.
      return reportFromWarehouse(id, undefined, flags);
    }
    throw e;
  }
}

/**
 * A backfill's report (its recorded plan), else a release's (backfill_control.release_graphs): read
 * directly, or through the worker that holds the DuckDB file. The backfill is asked first, so a
 * worker deployed before release reports still serves every backfill's.
 */
async function reportFromWarehouse(id: string, where: string | undefined, flags: Connected = {}):
  Promise<FoundReport | null> {
  const { gatherReportData, gatherReleaseReportData } = await need.report();
  const db = await openReadOnly(where);
  const read = db
    ? { backfill: () => gatherReportData(db, id), release: () => gatherReleaseReportData(db, id) }
    : {
      backfill: () => throughWorker<ReportData | null>(flags, 'reportThroughWorker', [id]),
      release: () => throughWorker<ReleaseReportData | null>(flags, 'releaseReportThroughWorker', [id]),
    };
  try {
    const data = await read.backfill();
    if (data) return { kind: 'backfill', data };
    const release = await read.release();
    return release && { kind: 'release', data: release };
  } finally {
    await db?.close();
  }
}

// --help names the options a command cannot run without.
for (const cmd of program.commands) {
  for (const o of cmd.options) {
    if (o.mandatory && !o.description.endsWith('(required)')) o.description = `${o.description} (required)`;
  }
}

program.parseAsync(process.argv).catch((e: unknown) => {
  if (isBackfillFailure(e)) {
    console.error(`error (${e.code}): ${e.message}`);
    process.exit(exitCodeFor(e.code));
  }
  console.error(e instanceof Error ? `error: ${e.message}` : e);
  process.exit(ExitCode.unexpected);
});
