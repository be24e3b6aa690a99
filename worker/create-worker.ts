/**
 * Builds the backfill worker over an injected warehouse, so tests run the same worker against an
 * in-memory DuckDB and the real dev server.
 */
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../activities';
import { TASK_QUEUE } from '../contracts/settings';
import type { Driver } from '../warehouse/warehouse';

export interface BackfillWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  warehouse: Driver;
  taskQueue?: string;
  clock?: () => Date;
  /** For live-pipeline visibility queries (execution.live_pipeline.visibility_query). */
  client?: Client;
  /** A pre-built bundle (tests build one per file instead of one per worker). */
  workflowBundle?: WorkflowBundleOption;
}

/** The bundler reads TypeScript directly; no build step. */
export const workflowsPath = join(__dirname, '..', 'workflows', 'index.ts');

export function createBackfillWorker(opts: BackfillWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    activities: createActivities({ warehouse: opts.warehouse, clock: opts.clock, temporal: opts.client ? { client: opts.client } : undefined }),
  });
}
