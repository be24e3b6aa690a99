/**
 * Builds the backfill worker over an injected warehouse, so tests run the same worker against an
 * in-memory DuckDB and the real dev server.
 */
import { join } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { TASK_QUEUE } from '../contracts/settings';
import type { Driver } from '../warehouse/warehouse';

export interface BackfillWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  warehouse: Driver;
  taskQueue?: string;
  clock?: () => Date;
}

/** The bundler reads TypeScript directly; no build step. */
export const workflowsPath = join(__dirname, '..', 'workflows', 'index.ts');

export function createBackfillWorker(opts: BackfillWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    workflowsPath,
    activities: createActivities({ warehouse: opts.warehouse, clock: opts.clock }),
  });
}
