/**
 * The worker process: owns the warehouse connection (DuckDB allows one writing process per file)
 * and runs workflows and activities for the backfills task queue until SIGINT/SIGTERM.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { isBackfillFailure } from '../contracts/errors';
import { DEFAULT_NAMESPACE, DEFAULT_TEMPORAL_ADDRESS, TASK_QUEUE } from '../contracts/settings';
import { openWarehouse, warehouseConfigFromEnv } from '../warehouse/open';
import { createBackfillWorker } from './create-worker';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS ?? DEFAULT_TEMPORAL_ADDRESS;
  const namespace = process.env.TEMPORAL_NAMESPACE ?? DEFAULT_NAMESPACE;
  const config = warehouseConfigFromEnv();
  const warehouse = await openWarehouse(config);
  const connection = await NativeConnection.connect({ address });
  // A client connection for visibility queries (is the live pipeline running?).
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  const worker = await createBackfillWorker({ connection, namespace, warehouse, client });
  console.log(`backfill worker: task queue ${TASK_QUEUE} on ${address}/${namespace}, warehouse ${config.engine}:${config.path}`);
  try {
    await worker.run();
  } finally {
    await connection.close();
    await clientConnection.close();
    await warehouse.close();
  }
}

main().catch((e) => {
  console.error(isBackfillFailure(e) ? `${e.code}: ${e.message}` : e);
  process.exit(1);
});
