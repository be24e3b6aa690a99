/**
 * The walking skeleton on real parts: the shared Temporal dev server, a real worker bundling the
 * real workflow code, and a real (in-memory) DuckDB seeded with the tax-bug scenario.
 */
import { NativeConnection, type Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../client/load-spec';
import { startBackfill } from '../../client/start-backfill';
import { BackfillError, isBackfillFailure } from '../../contracts/errors';
import { statusQuery } from '../../contracts/messages';
import { BackfillStateKey, BackfillTargetKey } from '../../contracts/search-attributes';
import { workflowIdFor } from '../../contracts/settings';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import type { BackfillSpec } from '../../domain/spec/schema';
import { createBackfillWorker } from '../../worker/create-worker';
import { ControlStore } from '../../warehouse/control-store';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { temporalTestEnv } from '../support/temporal';

const taskQueue = `backfill-skeleton-${process.pid}`;
let env: Awaited<ReturnType<typeof temporalTestEnv>>;
let nativeConnection: NativeConnection;
let warehouse: DuckDbDriver;
let worker: Worker;
let running: Promise<void>;

const baseSpec = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
/** A unique backfill_id per test so reruns of the suite never collide on workflow IDs. */
const specWith = (suffix: string, patch: Partial<BackfillSpec> = {}): BackfillSpec => ({
  ...baseSpec,
  backfill_id: `${baseSpec.backfill_id}-${suffix}-${Date.now().toString(36)}`,
  ...patch,
});

beforeAll(async () => {
  env = await temporalTestEnv();
  warehouse = await openDuckDb({ path: ':memory:' });
  await seedRevenueScenario(warehouse);
  nativeConnection = await NativeConnection.connect({ address: env.address });
  worker = await createBackfillWorker({ connection: nativeConnection, namespace: env.namespace, warehouse, taskQueue });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await nativeConnection?.close();
  await env?.connection.close();
  await warehouse?.close();
});

describe('backfillWorkflow (walking skeleton)', () => {
  it('plans the seed range, records the plan in the control schema and answers the status query', async () => {
    const spec = specWith('plan');
    const handle = await startBackfill(env.client, spec, { startedBy: 'vitest', taskQueue });
    expect(handle.workflowId).toBe(workflowIdFor(spec.backfill_id));

    const result = await handle.result();
    expect(result.state).toBe('completed');
    expect(result.partitions.total).toBe(547);
    expect(result.batches.total).toBe(79);
    expect(result.plan?.totals.rows).toBeGreaterThan(0);
    expect(result.plan?.totals.bytes).toBeGreaterThan(0);

    // The query answers after completion too, from the same plain-JSON state.
    const status = await handle.query(statusQuery);
    expect(status).toEqual(result);
    expect(JSON.parse(JSON.stringify(status))).toEqual(status);

    const recorded = await new ControlStore(warehouse).recordedPlan(spec.backfill_id);
    expect(recorded?.batches).toHaveLength(79);
    expect(recorded?.batches[0]).toMatchObject({ first_partition: '2024-12-01', last_partition: '2024-12-07', partitions: '7' });
    expect(recorded?.batches[78]).toMatchObject({ first_partition: '2026-05-31', last_partition: '2026-05-31', partitions: '1' });
    const audit = await new ControlStore(warehouse).auditTrail(spec.backfill_id);
    expect(audit.map((a) => [a.action, a.actor])).toEqual([['planned', 'vitest']]);

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(BackfillStateKey)).toBe('completed');
    expect(description.typedSearchAttributes.get(BackfillTargetKey)).toBe('finance.daily_revenue');
  });

  it('refuses a duplicate start of the same backfill_id with a clear error', async () => {
    const spec = specWith('dup');
    const first = await startBackfill(env.client, spec, { startedBy: 'vitest', taskQueue });
    await first.result();
    const second = await startBackfill(env.client, spec, { startedBy: 'vitest', taskQueue }).catch((e: unknown) => e);
    expect(isBackfillFailure(second, BackfillError.TargetLeased)).toBe(true);
    expect(String((second as Error).message)).toContain(spec.backfill_id);
  });

  it('fails without retrying when the spec names a column the target lacks, and says which YAML path', async () => {
    const spec = specWith('missing-col', { target: { ...baseSpec.target, unique_key: ['revenue_date', 'merchant_idx'] } });
    const handle = await startBackfill(env.client, spec, { startedBy: 'vitest', taskQueue });
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause?.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(BackfillError.MissingObject);
    expect((cause as ApplicationFailure).message).toContain('target.unique_key[1]');
    const status = await handle.query(statusQuery);
    expect(status.state).toBe('failed');
    // Non-retryable: one attempt only.
    const history = await handle.fetchHistory();
    const started = history.events?.filter((e) => e.activityTaskStartedEventAttributes) ?? [];
    expect(started).toHaveLength(1);
    expect(started[0]?.activityTaskStartedEventAttributes?.attempt).toBe(1);
  });

  it('fails with InvalidSpec, without retrying the workflow task, when started with an inverted range', async () => {
    // A client that skips `backfill start`'s zod parse can still hand the workflow a bad spec.
    const spec = specWith('inverted', { source_range: { ...baseSpec.source_range, start: '2026-05-31', end: '2024-12-01' } });
    const handle = await env.client.workflow.start('backfillWorkflow', {
      workflowId: workflowIdFor(spec.backfill_id),
      taskQueue,
      args: [{ spec, startedBy: 'vitest' }],
    });
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(BackfillError.InvalidSpec);
    expect((cause as ApplicationFailure).message).toContain('2026-05-31..2024-12-01');
  });
});
