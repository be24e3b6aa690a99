// Usage: npx tsx test/workflows/histories/record.ts [--only <scenario>] [--address host:port] [--namespace ns]
/**
 * Records the histories that test/workflows/replay.test.ts replays against the current workflow
 * code. Each scenario runs on real parts (a Temporal dev server, a real worker with the real
 * workflow bundle, an in-memory DuckDB seeded with the tax-bug scenario), is driven to its end with
 * real signals and updates, and every run of its chain is saved as JSON
 * (`<scenario>.json`, or `<scenario>-run<N>.json` when it continued as new).
 *
 * test/support/backfill-harness.ts cannot be imported here: it imports vitest, whose CommonJS
 * entry throws outside the vitest runner. So this file builds its small setup from the same
 * lower-level pieces the harness uses (createBackfillWorker, seedRevenueScenario, startBackfill).
 *
 * Without --address it starts its own headless dev server with continue-as-new suggested at 200
 * events (as test/global-setup.ts does); a server given by --address must be set up the same way,
 * or the continue-as-new scenario fails because it never continued.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { startBackfill } from '../../../client/start-backfill';
import * as m from '../../../contracts/messages';
import { DEFAULT_NAMESPACE } from '../../../contracts/settings';
import type { BackfillStatus, BatchesView } from '../../../contracts/status';
import { seedRevenueScenario } from '../../../demo/revenue-scenario';
import type { BackfillSpec } from '../../../domain/spec/schema';
import { startDevServer } from '../../../scripts/dev-server';
import { openDuckDb } from '../../../warehouse/duckdb/driver';
import { createBackfillWorker } from '../../../worker/create-worker';
import type { backfillWorkflow } from '../../../workflows';
import { testSpec } from '../../support/test-spec';
import { decide, decideBySignal } from '../../support/decide';

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof backfillWorkflow>;
type History = Awaited<ReturnType<Handle['fetchHistory']>>;

const ROOT = resolve(__dirname, '..', '..', '..');
const OUT = __dirname;
const SUGGEST_CONTINUE_AS_NEW_AT = 200;
const LIFECYCLE_NET_RANGE = { min: -1.135, max: -0.8 };
/** 30 batches: ~280 events, so the server suggests continue-as-new once (9 batches of 7 days are ~155 events). */
const CAN_PARTITIONS_PER_BATCH = 2;

async function waitFor(
  handle: Handle,
  what: string,
  done: (s: BackfillStatus) => boolean,
  timeoutMs = 120_000,
): Promise<BackfillStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: BackfillStatus | undefined;
  for (;;) {
    try {
      last = await handle.query(m.statusQuery);
      if (done(last)) return last;
    } catch (e) {
      if (!/not found|no.*query|did not register/i.test(String(e))) throw e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every run of the handle's chain, first to last, following continue-as-new. */
async function saveChain(client: Client, handle: Handle, scenario: string): Promise<string[]> {
  const histories: string[] = [];
  let runId: string | undefined = handle.firstExecutionRunId;
  while (runId) {
    const history: History = await client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    histories.push(historyToJSON(history));
    const last = history.events?.[history.events.length - 1];
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  // A re-recorded chain may have another length: no stale run of this scenario may stay behind.
  const ours = (f: string) => f === `${scenario}.json` || (f.startsWith(`${scenario}-run`) && f.endsWith('.json'));
  for (const f of readdirSync(OUT).filter(ours)) rmSync(join(OUT, f));
  return histories.map((json, i) => {
    const file = join(OUT, histories.length === 1 ? `${scenario}.json` : `${scenario}-run${i + 1}.json`);
    writeFileSync(file, `${json}\n`);
    return file;
  });
}

interface Scenario {
  spec: () => BackfillSpec;
  drive: (handle: Handle) => Promise<BackfillStatus>;
  /** Runs the chain must have, at least. */
  minRuns: number;
}

const scenarios: Record<string, Scenario> = {
  /** A halt accepted via resolve, operator pause and resume, approval, publish, rollback within the window. */
  lifecycle: {
    minRuns: 1,
    // net_revenue's expected range is tightened to exclude one batch only (the example says
    // -1.5%..-0.8%): on the seeded data batch 4 moves -1.142%, the others -1.068%..-1.128% (the
    // script prints them), so batch 4 halts and the rest pass.
    spec: () => testSpec('history-lifecycle', (s) => {
      const tight = (x: BackfillSpec['measures'][number]) => ({ ...x, expected_delta: LIFECYCLE_NET_RANGE });
      s.measures = s.measures.map((x) => (x.column === 'net_revenue' ? tight(x) : x));
    }),
    async drive(handle) {
      const halted = await waitFor(handle, 'the halt', (s) => s.state === 'halted');
      console.log(`  halted at batch ${halted.halt!.batch}: ${halted.halt!.reason.slice(0, 160)}`);
      await decide(handle, m.resolveUpdate,
        { action: 'accept', by: 'head-of-finance-data', reason: 'recorded history: accepted on purpose' });
      await handle.signal(m.pauseSignal, { by: 'oncall', reason: 'warehouse maintenance' });
      const paused = await waitFor(handle, 'the operator pause', (s) => s.state === 'paused' || s.state === 'halted');
      if (paused.state !== 'paused') throw new Error(`expected one halt only, halted again: ${paused.halt?.reason}`);
      console.log(`  paused before batch ${paused.batches.done + 1}`);
      await handle.signal(m.resumeSignal, { by: 'oncall', reason: 'maintenance over' });
      const waiting = await waitFor(handle, 'approval', (s) => s.state === 'awaiting_approval' || s.state === 'halted');
      if (waiting.state !== 'awaiting_approval') {
        throw new Error(`expected one halt only, halted again: ${waiting.halt?.reason}`);
      }
      await decide(handle, m.approveUpdate,
        { by: 'finance-controller', comment: 'one batch accepted, rest within range' });
      await waitFor(handle, 'publish', (s) => s.state === 'published');
      await decide(handle, m.rollbackUpdate,
        { by: 'finance-controller', reason: 'recorded history: rollback within the window' });
      return handle.result();
    },
  },
  /** Long enough to continue as new (2-day batches), then approval, publish and signoff (cleanup) to completion. */
  'continue-as-new': {
    minRuns: 2,
    spec: () => testSpec('history-continue-as-new', (s) => {
      s.execution.partitions_per_batch = CAN_PARTITIONS_PER_BATCH;
    }),
    async drive(handle) {
      await waitFor(handle, 'approval', (s) => s.state === 'awaiting_approval', 300_000);
      await decideBySignal(handle, m.approveSignal, { by: 'finance-controller', comment: 'deltas as expected' });
      await waitFor(handle, 'publish', (s) => s.state === 'published');
      await decideBySignal(handle, m.signoffSignal, { by: 'head-of-finance-data', comment: 'announced' });
      return handle.result();
    },
  },
};

function netDeltas(batches: BatchesView): string {
  return batches.items
    .map((b) => {
      const net = b.measures.find((x) => x.column === 'net_revenue')?.deltaPct;
      return `${b.index + 1}:${net?.toFixed(3)}(${b.verdict})`;
    })
    .join(' ');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { address: { type: 'string' }, namespace: { type: 'string' }, only: { type: 'string', multiple: true } },
  });
  const only = values.only ?? Object.keys(scenarios);
  for (const name of only) {
    if (!scenarios[name]) throw new Error(`unknown scenario ${name}; one of ${Object.keys(scenarios).join(', ')}`);
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });

  const server = values.address
    ? null
    : await startDevServer({
        headless: true,
        namespace: DEFAULT_NAMESPACE,
        dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_CONTINUE_AS_NEW_AT },
        startTimeoutMs: 120_000,
        log: (line) => !line.startsWith('[temporal]') && console.error(line),
      });
  const address = values.address ?? server!.address;
  const namespace = values.namespace ?? server?.namespace ?? DEFAULT_NAMESPACE;
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  try {
    for (const name of only) {
      const scenario = scenarios[name]!;
      console.log(`${name}:`);
      // A lab of its own, as the harness gives each test: its own warehouse and task queue.
      const warehouse = await openDuckDb({ path: ':memory:' });
      await seedRevenueScenario(warehouse);
      const connection = await NativeConnection.connect({ address });
      const taskQueue = `record-${name}-${process.pid}-${Date.now().toString(36)}`;
      const worker = await createBackfillWorker({ connection, namespace, warehouse, taskQueue, client });
      const running = worker.run();
      try {
        const handle = await startBackfill(client, scenario.spec(), { startedBy: 'recorder', taskQueue });
        const result = await scenario.drive(handle);
        console.log(`  net_revenue delta per batch: ${netDeltas(await handle.query(m.batchesQuery))}`);
        const files = await saveChain(client, handle, name);
        if (files.length < scenario.minRuns) {
          throw new Error(`${name}: ${files.length} run(s), expected at least ${scenario.minRuns}; ` +
            `is continue-as-new suggested at ${SUGGEST_CONTINUE_AS_NEW_AT} events?`);
        }
        const saved = files.map((f) => f.slice(ROOT.length + 1)).join(', ');
        console.log(`  ${result.state}; continued as new ${result.continuedAsNew} time(s); saved ${saved}`);
      } finally {
        worker.shutdown();
        await running.catch(() => undefined);
        await connection.close();
        await warehouse.close();
      }
    }
  } finally {
    await clientConnection.close();
    await server?.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
