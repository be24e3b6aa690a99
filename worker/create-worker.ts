/**
 * Builds the backfill worker over an injected warehouse, so tests run the same worker against an
 * in-memory DuckDB and the real dev server.
 */
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type BackfillMetrics } from '../activities';
import { TASK_QUEUE } from '../contracts/settings';
import type { Driver } from '../warehouse/warehouse';
import { backfillLogAttributes } from './logging';
import { workflowBundle } from './workflow-bundle';

export interface BackfillWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  warehouse: Driver;
  taskQueue?: string;
  clock?: () => Date;
  /** For live-pipeline visibility queries (execution.live_pipeline.visibility_query). */
  client?: Client;
  /** A pre-built bundle (the tests build one per run and share it). */
  workflowBundle?: WorkflowBundleOption;
  /** Where the activities count partitions, rows, batches and pauses (worker/metrics.ts); not counted when absent. */
  metrics?: BackfillMetrics;
  /** BACKFILL_TRUSTED_KEYS: who may sign decisions. */
  trustedKeysFile?: string;
}

export async function createBackfillWorker(opts: BackfillWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    // Built once per version of the workflow code and kept under .data/ (worker/workflow-bundle.ts).
    workflowBundle: opts.workflowBundle ?? await workflowBundle(),
    activities: createActivities({
      warehouse: opts.warehouse,
      clock: opts.clock,
      temporal: opts.client ? { client: opts.client } : undefined,
      metrics: opts.metrics,
      trustedKeysFile: opts.trustedKeysFile,
    }),
    // Every activity log line carries the backfill_id (worker/logging.ts).
    interceptors: { activity: [backfillLogAttributes] },
  });
}
