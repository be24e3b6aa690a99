/**
 * The backfill counters end to end: a real worker (createBackfillWorker with a Metrics registry)
 * on the shared dev server runs a backfill over a seeded DuckDB to awaiting_approval, and the
 * /metrics endpoint, scraped over HTTP, agrees with what the workflow reports.
 */
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackfill } from '../../client/start-backfill';
import * as m from '../../contracts/messages';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { createBackfillWorker } from '../../worker/create-worker';
import { Metrics } from '../../worker/metrics';
import { serveMetrics, type MetricsServer } from '../../worker/metrics-server';
import { testSpec, waitForStatus, workflowBundle, type Env } from '../support/backfill-harness';
import { temporalTestEnv } from '../support/temporal';
import { parseExposition } from './exposition';

let env: Env;
let db: DuckDbDriver;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
let server: MetricsServer;
const metrics = new Metrics();
const taskQueue = `worker-metrics-${process.pid}-${Date.now().toString(36)}`;

beforeAll(async () => {
  env = await temporalTestEnv();
  db = await openDuckDb({ path: ':memory:' });
  await seedRevenueScenario(db);
  connection = await NativeConnection.connect({ address: env.address });
  worker = await createBackfillWorker({
    connection,
    namespace: env.namespace,
    warehouse: db,
    taskQueue,
    client: env.client,
    metrics,
    workflowBundle: await workflowBundle(),
  });
  running = worker.run();
  // Port 0: test files run in parallel processes and must not fight over 9465.
  server = await serveMetrics(metrics.registry, { host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running?.catch(() => undefined);
  await connection?.close();
  await server?.close();
  await db?.close();
  await env?.connection.close();
});

const scrape = async () => {
  const res = await fetch(server.url);
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
};

describe('worker metrics', () => {
  it('counts every partition, row and batch of a run to awaiting_approval, scraped from /metrics', async () => {
    const spec = testSpec('metrics');
    const handle = await startBackfill(env.client, spec, { startedBy: 'vitest', taskQueue });
    const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    const batches = await handle.query(m.batchesQuery);
    await handle.terminate('test over');

    const id = { backfill_id: spec.backfill_id };
    const p = await scrape();
    expect(waiting.partitions).toEqual({ done: 59, total: 59 });
    expect(p.value('backfill_partitions_rewritten_total', id)).toBe(waiting.partitions.total);

    const rows = p.value('backfill_rows_written_total', id)!;
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBe(batches.items.reduce((a, b) => a + b.rowsWritten, 0));

    expect(p.value('backfill_batches_total', { ...id, verdict: 'passed' })).toBe(waiting.batches.total);
    expect(p.value('backfill_batches_total', { ...id, verdict: 'failed' })).toBeUndefined();
    expect(p.value('backfill_validation_failures_total', id)).toBeUndefined();
    expect(p.value('backfill_batch_seconds_count', id)).toBe(waiting.batches.total);
    expect(p.value('backfill_batch_seconds_bucket', { ...id, le: '+Inf' })).toBe(waiting.batches.total);
    expect(p.value('backfill_batch_seconds_sum', id)).toBeGreaterThan(0);

    // Same basis as the workflow's daily scan budget: the plan's bytes per partition.
    const bytes = p.value('backfill_bytes_scanned_total', id)!;
    expect(waiting.plan?.totals.bytes).toBeGreaterThan(0);
    expect(Number.isInteger(bytes)).toBe(true);
    expect(Math.abs(bytes - batches.items.reduce((a, b) => a + b.bytesScanned, 0))).toBeLessThanOrEqual(1);
    expect(Math.abs(bytes - waiting.plan!.totals.bytes!)).toBeLessThanOrEqual(1);
  });
});
