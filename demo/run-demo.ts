/**
 * `npm run demo` — the main job on the embedded default. Seeds the FIN-2841 tax-bug warehouse in
 * DuckDB, prints the plan for examples/revenue-tax-fix.yaml, starts a Temporal dev server with its
 * UI and a worker, and runs the backfill: batch-by-batch progress, the reconciliation summary at
 * "awaiting approval", then an approval from the Temporal UI (or `--approve-as <name>`), the
 * atomic publish and its release record, and a short rollback window.
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { Command } from 'commander';
import { resolve } from 'node:path';
import { loadRunnableSpec } from '../client/load-spec';
import { formatPlan, formatSeconds } from '../client/format';
import { startBackfill } from '../client/start-backfill';
import { workflowUiUrl } from '../client/temporal';
import { isBackfillFailure } from '../contracts/errors';
import { approveUpdate, batchesQuery, reportQuery, statusQuery } from '../contracts/messages';
import type { BackfillStatus, BatchSummary } from '../contracts/status';
import { reportLines } from '../domain/report';
import { parseDuration } from '../domain/spec/values';
import { startDevServer } from '../scripts/dev-server';
import { estimatePlan } from '../warehouse/plan-estimates';
import { openDuckDb } from '../warehouse/duckdb/driver';
import { DEFAULT_DUCKDB_PATH } from '../warehouse/open';
import { createBackfillWorker } from '../worker/create-worker';
import type { backfillWorkflow } from '../workflows';
import type { WorkflowHandle } from '@temporalio/client';
import { seedRevenueScenario } from './revenue-scenario';
import { resetDemoBackfill } from './reset';
import { demoGraph, printGraphPlan, resetDemoGraph, runGraphDemo } from './run-graph-demo';

const SPEC = resolve(__dirname, '..', 'examples', 'revenue-tax-fix.yaml');

interface DemoOptions {
  onlyPlan?: boolean;
  scale: number;
  db: string;
  keepOpen?: boolean;
  headless?: boolean;
  approveAs?: string;
  rollbackWindow: string;
  graph?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (v: number | null) => (v === null ? 'n/a' : `${v >= 0 ? '+' : ''}${v.toFixed(3)}%`);

function batchLine(b: BatchSummary, total: number): string {
  const measures = b.measures.map((m) => `${m.column} ${pct(m.deltaPct)}`).join(', ');
  const rows = b.rows.old === b.rows.new ? `${b.rows.new} rows` : `rows ${b.rows.old}→${b.rows.new}`;
  return `  batch ${String(b.index + 1).padStart(String(total).length)}/${total} ${b.first}..${b.last} ${b.verdict}: ` +
    `${measures}; ${rows}${b.warnings.length ? ` (${b.warnings.length} warning)` : ''}`;
}

/** Prints each batch verdict as it lands and every change of state, until `until` holds. */
const shown = { batch: -1, phase: '', mode: false };
async function follow(
  handle: WorkflowHandle<typeof backfillWorkflow>,
  until: (s: BackfillStatus) => boolean,
): Promise<BackfillStatus> {
  for (;;) {
    const status = await handle.query(statusQuery);
    const batches = await handle.query(batchesQuery);
    for (const b of batches.items) {
      const n = batches.total - batches.items.length + batches.items.indexOf(b);
      if (n > shown.batch) {
        console.log(batchLine(b, status.batches.total));
        shown.batch = n;
      }
    }
    const mode = status.proof?.batchMode;
    if (mode && !shown.mode) {
      console.log(`Batches rewritten ${mode.reason}`);
      shown.mode = true;
    }
    const phase = `${status.state}: ${status.phase}`;
    if (phase !== shown.phase && !(status.state === 'running' && shown.phase.startsWith('running'))) {
      console.log(`[${status.state}] ${status.phase}`);
      shown.phase = phase;
    }
    if (until(status)) return status;
    await sleep(200);
  }
}

async function main(): Promise<void> {
  const opts = new Command('demo')
    .description('Seed the tax-bug scenario, plan the backfill, and run it on a local Temporal dev server.')
    .option('--only-plan', 'seed and print the plan, start nothing')
    .option('--scale <n>', 'scenario size multiplier (1, 10, 100)', (v) => Number(v), 1)
    .option('--db <path>', 'DuckDB file', DEFAULT_DUCKDB_PATH)
    .option(
      '--approve-as <name>',
      'approve as this demo approver instead of waiting for the Temporal UI (e.g. finance-controller)',
    )
    .option('--rollback-window <duration>', "the demo's rollback window (the spec says 14d)", '30s')
    .option('--headless', 'start the dev server without its web UI')
    .option('--graph', 'run the release graph examples/revenue-release.yaml instead: daily revenue → monthly ' +
      'revenue → merchant lifetime value, one approval, one publish')
    .option('--keep-open', 'keep the dev server, its UI and the worker running until Ctrl-C at the end')
    .parse()
    .opts<DemoOptions>();
  const windowMs = parseDuration(opts.rollbackWindow);
  if (windowMs === null) {
    throw new Error(`--rollback-window: "${opts.rollbackWindow}" is not a duration; write e.g. 30s or 5m`);
  }

  const { spec } = loadRunnableSpec(SPEC);
  const warehouse = await openDuckDb({ path: opts.db });
  if (opts.graph) return graphDemo(opts, windowMs, warehouse);
  // A fresh demo: the demo's own backfill is forgotten explicitly (its recorded tables dropped, its
  // control rows deleted) before the scenario is reseeded; other backfills in the file are untouched.
  const reset = await resetDemoBackfill(warehouse, spec);
  if (reset.dropped.length) {
    console.log(
      `Reset the demo's backfill ${spec.backfill_id}: dropped ${reset.dropped.join(', ')} and its control rows.`,
    );
  }
  const seeded = await seedRevenueScenario(warehouse, { scale: opts.scale, replace: true });
  console.log(
    `Seeded ${opts.db}: ${seeded.events.toLocaleString('en-US')} revenue events, ` +
      `${seeded.dailyRows.toLocaleString('en-US')} rows in ${spec.target.table} (${seeded.merchants} merchants, ` +
      `${seeded.days} days, buggy tax logic up to ${spec.source_range.end}) in ${formatSeconds(seeded.ms / 1000)}.\n`,
  );
  const plan = await estimatePlan(warehouse, spec, { sample: true });
  console.log(formatPlan(plan, { engine: warehouse.dialect.name, maxRows: 10 }));
  if (opts.onlyPlan) {
    await warehouse.close();
    return;
  }

  // The demo keeps the spec but not its UTC pause window (it would hold the run for an hour at
  // 01:00) and shortens the rollback window so the whole lifecycle fits in a minute.
  const demoSpec = {
    ...spec,
    execution: { ...spec.execution, pause_windows: [] },
    rollback: { ...spec.rollback, window: windowMs },
  };
  console.log(
    `\nDemo settings: no pause windows, rollback window ${opts.rollbackWindow}; everything else as in ${SPEC}.`,
  );
  await withDevServer(opts, warehouse, async ({ client, server }) => {
    const handle = await startBackfill(client, demoSpec, { startedBy: 'demo' });
    const ui = server.uiUrl
      ? workflowUiUrl(server.namespace, handle.workflowId, { TEMPORAL_UI_URL: server.uiUrl })
      : null;
    console.log(`Started workflow ${handle.workflowId} on the dev server at ${server.address} (namespace ` +
      `${server.namespace})${ui ? `\n  UI: ${ui}` : ''}\n`);

    const waiting = await follow(
      handle,
      (s) => s.state === 'awaiting_approval' || s.state === 'failed' || s.state === 'halted',
    );
    if (waiting.state !== 'awaiting_approval') {
      throw new Error(`the backfill stopped before approval: ${waiting.state} — ${waiting.phase}`);
    }
    const report = await handle.query(reportQuery);
    console.log(`\nReconciliation over ${report.partitions.done} partitions (${report.batches.passed} batches ` +
      `passed, ${report.rows.old} rows → ${report.rows.new}):`);
    for (const line of reportLines(report)) console.log(`  ${line}`);
    for (const w of report.warnings.slice(0, 3)) console.log(`  warning: ${w}`);

    // What the approver decides on: the digest of the reconciled state they read.
    const digest = waiting.decisionDigest ?? undefined;
    console.log(`  decision digest ${digest ?? '(none)'}`);
    if (opts.approveAs) {
      console.log(`\nApproving as ${opts.approveAs} (--approve-as)…`);
      await handle.executeUpdate(approveUpdate, {
        args: [{ by: opts.approveAs, comment: 'demo approval: deltas within the expected ranges', digest }],
      });
    } else {
      const approver = spec.approval!.approvers[0];
      console.log(
        '\nWaiting for approval. In the Temporal UI open the workflow' +
          (ui ? `:\n  ${ui}` : ' (start the demo without --headless for the UI)'),
      );
      console.log(`  choose "Send a Signal", signal name: approve, input (JSON):\n  {"by": "${approver}", "comment": ` +
        `"reconciliation reviewed", "digest": "${digest}"}`);
      console.log(`  approvers: ${spec.approval!.approvers.join(', ')} (the owner ${spec.owner} may not approve). ` +
        `Or rerun with --approve-as ${approver}.`);
    }

    const published = await follow(handle, (s) => s.state === 'published' || s.state === 'failed');
    if (published.state !== 'published') throw new Error(`not published: ${published.state} — ${published.phase}`);
    console.log('\nRelease record (backfill_control.releases, written in the publish transaction):');
    console.log(JSON.stringify(published.release, null, 2).replace(/^/gm, '  '));
    // Runbook step 7: the spec's monitors are evaluated right after publish.
    if (spec.rollback.monitors.length) {
      const watched = await follow(handle, (x) => (x.monitors?.results.length ?? 0) > 0 || x.state !== 'published');
      for (const r of watched.monitors?.results ?? []) {
        console.log(`Monitor ${r.ok ? 'ok' : 'BREACHED'}: ${r.message} (next at ${watched.monitors!.next[r.name]})`);
      }
    }
    const released = published.decisionDigest ?? '';
    console.log(`\nRollback window open until ${published.rollback.expiresAt}. To roll back, send signal "rollback" ` +
      `with {"by": "you", "reason": "why", "digest": "${released}"};`);
    console.log('to confirm the release early, signal "signoff" with ' +
      `{"by": "finance-controller", "digest": "${released}"}.`);

    const end = await follow(handle, (s) => !s.rollback.open || s.state !== 'published');
    const final = await handle.query(statusQuery);
    console.log(`\n${final.backfillId}: ${final.state} — ${final.phase}`);
    console.log(`  partitions ${final.partitions.done}/${final.partitions.total}, ` +
      `batches ${final.batches.done}/${final.batches.total}, continued-as-new ${final.continuedAsNew}×`);
    if (end.state === 'published') {
      console.log(`  ${spec.rollback.snapshot} and ${spec.target.shadow_table} stay until a signoff ` +
        `(rollback.cleanup: ${spec.rollback.cleanup}).`);
    }
  });
}

/**
 * Starts a Temporal dev server (with its UI unless --headless) and a worker on `warehouse`, runs
 * `fn`, keeps them up with --keep-open until Ctrl-C, then stops everything and closes the warehouse.
 */
async function withDevServer(
  opts: DemoOptions,
  warehouse: Awaited<ReturnType<typeof openDuckDb>>,
  fn: (ctx: { client: Client; server: Awaited<ReturnType<typeof startDevServer>> }) => Promise<void>,
): Promise<void> {
  console.log('Starting a Temporal dev server…');
  // The worker's INFO lines (bundling, state changes) would bury the progress; warnings still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = await startDevServer({ headless: opts.headless ?? false });
  const native = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const worker = await createBackfillWorker({ connection: native, namespace: server.namespace, warehouse, client });
  const running = worker.run();
  try {
    await fn({ client, server });
    if (opts.keepOpen) {
      console.log(`\nDev server ${server.address}${server.uiUrl ? `, UI ${server.uiUrl}` : ''}. Ctrl-C to stop.`);
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

/** `--graph`: the release graph on the same demo warehouse, dev server and worker. */
async function graphDemo(opts: DemoOptions, windowMs: number, warehouse: Awaited<ReturnType<typeof openDuckDb>>) {
  const graph = demoGraph(windowMs);
  const dropped = await resetDemoGraph(warehouse, graph);
  if (dropped.length) console.log(`Reset the demo release ${graph.release_id}: dropped ${dropped.join(', ')}.`);
  const seeded = await seedRevenueScenario(warehouse, { scale: opts.scale, replace: true });
  console.log(`Seeded ${opts.db}: ${seeded.events.toLocaleString('en-US')} revenue events; daily, monthly and ` +
    `merchant lifetime revenue with the pre-FIN-2841 tax bug, in ${formatSeconds(seeded.ms / 1000)}.\n`);
  await printGraphPlan(warehouse, graph);
  if (opts.onlyPlan) return warehouse.close();
  console.log(`\nDemo settings: no pause windows, rollback window ${opts.rollbackWindow}.`);
  await withDevServer(opts, warehouse, async ({ client, server }) => {
    await runGraphDemo({
      client, db: warehouse, graph, namespace: server.namespace, uiUrl: server.uiUrl ?? null, approveAs: opts.approveAs,
    });
  });
}

main().catch((e: unknown) => {
  console.error(
    isBackfillFailure(e) ? `error (${e.code}): ${e.message}` : e instanceof Error ? `error: ${e.message}` : e,
  );
  process.exit(1);
});
