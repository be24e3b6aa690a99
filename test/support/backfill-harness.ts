/**
 * Real parts for lifecycle tests: the shared Temporal dev server, a real worker running the real
 * workflow bundle, and a real DuckDB seeded with the tax-bug scenario. Each `lab()` has its own
 * in-memory warehouse and task queue, so tests never share a lease or a table.
 */
import { DefaultLogger, NativeConnection, Runtime, type Worker, type WorkflowBundlePath } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { startBackfill } from '../../client/start-backfill';
import { statusQuery } from '../../contracts/messages';
import { backfillFailureIn } from '../../contracts/errors';
import type { BackfillStatus } from '../../contracts/status';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import type { BackfillSpec } from '../../domain/spec/schema';
import { fingerprint, fingerprintSpec } from '../../warehouse/fingerprint';
import { columnNames } from '../../warehouse/catalog';
import { tablesOf } from '../../warehouse/shadow';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { openSnowflake } from '../../warehouse/snowflake/driver';
import type { Driver } from '../../warehouse/warehouse';
import { startSnowflakeEmulator, type SnowflakeEmulator } from './snowflake-emulator';
import { createBackfillWorker } from '../../worker/create-worker';
import type { backfillWorkflow } from '../../workflows';
import { temporalTestEnv } from './temporal';
import { afterAll, beforeAll, inject } from 'vitest';

export type Env = Awaited<ReturnType<typeof temporalTestEnv>>;
export type BackfillHandle = WorkflowHandle<typeof backfillWorkflow>;

// Worker state changes at INFO drown the test output; warnings and errors still show.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // already installed in this process
}

/**
 * The file of bundled workflow code that test/global-setup.ts built once for the whole run
 * (webpack is the slow part of starting a worker); pass it to a worker process that must not
 * bundle on its own.
 */
export function workflowBundlePath(): string {
  const codePath = inject('workflowBundlePath');
  if (!codePath) {
    throw new Error('no shared workflow bundle: this test needs the integration project (test/global-setup.ts)');
  }
  return codePath;
}

/** The run's one workflow bundle, as Worker.create and Worker.runReplayHistory take it. */
export async function workflowBundle(): Promise<WorkflowBundlePath> {
  return { codePath: workflowBundlePath() };
}

export { batchMode, exampleSpec, testSpec } from './test-spec';

let counter = 0;

export interface Lab {
  /** What the worker writes through. */
  warehouse: Driver;
  /**
   * The DuckDB underneath (the warehouse itself, or the emulator's backing store): read it back
   * with the DuckDB dialect.
   */
  backing: Driver;
  emulator: SnowflakeEmulator | null;
  taskQueue: string;
  worker: Worker;
  start(spec: BackfillSpec, startedBy?: string): ReturnType<typeof startBackfill>;
  stop(): Promise<void>;
}

export interface LabOptions {
  /** Statement log of the lab's warehouse (the DuckDB driver's onStatement hook). */
  onStatement?: Parameters<typeof openDuckDb>[0]['onStatement'];
  /** The activities' clock. */
  clock?: () => Date;
  /**
   * The warehouse the worker writes through: the embedded DuckDB, or the real snowflake-sdk driver
   * against the local wire emulator (built on its own DuckDB, seeded the same way).
   */
  engine?: 'duckdb' | 'snowflake';
  /** The worker's trusted keys file (BACKFILL_TRUSTED_KEYS), for signed decisions. */
  trustedKeys?: string;
  /** Seeds the warehouse (default: the revenue tax-bug scenario). */
  seed?: (db: Driver) => Promise<unknown>;
}

interface LabWarehouse {
  warehouse: Driver;
  backing: Driver;
  emulator: SnowflakeEmulator | null;
  close(): Promise<void>;
}

async function openLabWarehouse(opts: LabOptions): Promise<LabWarehouse> {
  if (opts.engine === 'snowflake') {
    const emulator = await startSnowflakeEmulator();
    await (opts.seed ?? seedRevenueScenario)(emulator.backing);
    const warehouse = await openSnowflake({
      account: 'emulator', user: 'backfill', warehouse: 'BACKFILL_WH', database: 'ANALYTICS',
      auth: { kind: 'password', password: 'emulator' }, accessUrl: emulator.accessUrl, maxConnections: 4,
    });
    const close = async () => {
      await warehouse.close();
      await emulator.close();
    };
    return { warehouse, backing: emulator.backing, emulator, close };
  }
  const db = await openDuckDb({ path: ':memory:', onStatement: opts.onStatement });
  await (opts.seed ?? seedRevenueScenario)(db);
  return { warehouse: db, backing: db, emulator: null, close: () => db.close() };
}

export async function lab(env: Env, opts: LabOptions = {}): Promise<Lab> {
  const opened = await openLabWarehouse(opts);
  const { warehouse } = opened;
  const taskQueue = `lab-${process.pid}-${Date.now().toString(36)}-${counter++}`;
  const connection = await NativeConnection.connect({ address: env.address });
  const worker = await createBackfillWorker({
    connection, namespace: env.namespace, warehouse, taskQueue, client: env.client, clock: opts.clock,
    trustedKeysFile: opts.trustedKeys,
    workflowBundle: await workflowBundle(),
  });
  const running = worker.run();
  return {
    warehouse,
    backing: opened.backing,
    emulator: opened.emulator,
    taskQueue,
    worker,
    start: (spec, startedBy = 'vitest') => startBackfill(env.client, spec, { startedBy, taskQueue }),
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
      await opened.close();
    },
  };
}

/**
 * A test file's labs: registers the file's hooks (one Temporal client, every lab stopped at the
 * end) and hands out a fresh lab per call, so no test shares a lease or a table with another.
 */
export function useLabs(): { env: () => Env; newLab: (opts?: LabOptions) => Promise<Lab> } {
  let env: Env | undefined;
  const labs: Lab[] = [];
  beforeAll(async () => {
    env = await temporalTestEnv();
  });
  afterAll(async () => {
    for (const l of labs) await l.stop();
    await env?.connection.close();
  });
  return {
    env: () => env!,
    async newLab(opts) {
      const l = await lab(env!, opts);
      labs.push(l);
      return l;
    },
  };
}

/** Polls the status query until `done` holds; fails with the last status when it never does. */
export async function waitForStatus(
  handle: BackfillHandle,
  done: (s: BackfillStatus) => boolean,
  timeoutMs = 45_000,
): Promise<BackfillStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: BackfillStatus | undefined;
  for (;;) {
    try {
      last = await handle.query(statusQuery);
      if (done(last)) return last;
    } catch (e) {
      // The first workflow task may not have run yet.
      if (!/not found|no.*query|did not register/i.test(String(e))) throw e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting; last status: ${JSON.stringify(last, null, 1)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Fingerprint of the spec's range in one of its tables (audit columns left out of the row hash). */
export async function rangeFingerprint(
  db: Driver,
  spec: BackfillSpec,
  which: 'target' | 'shadow' | 'snapshot',
  range?: { from: string; to: string },
) {
  const tables = tablesOf(spec);
  const columns = await columnNames(db, spec.target.table);
  const from = range?.from ?? spec.source_range.start;
  const to = range?.to ?? nextDay(spec.source_range.end);
  return fingerprint(db, fingerprintSpec(spec, tables[which], columns, from, to));
}

export function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** The backfill-vocabulary type a workflow failed with, however deeply Temporal wrapped it. */
export async function failureTypeOf(handle: BackfillHandle): Promise<string | undefined> {
  const error = await handle.result().then(() => undefined, (e: unknown) => e);
  return backfillFailureIn(error)?.type;
}
