/**
 * A backfill worker in its own process, so a test can kill it with SIGKILL mid-batch the way a
 * machine dies. Args: <temporal address> <namespace> <task queue> <duckdb file> [workflow bundle file]
 * (the run's shared bundle; without it the worker bundles the workflows itself).
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { createBackfillWorker } from '../../worker/create-worker';

async function main(): Promise<void> {
  const [address, namespace, taskQueue, dbPath, bundlePath] = process.argv.slice(2);
  if (!address || !namespace || !taskQueue || !dbPath) {
    throw new Error('usage: worker-process <address> <namespace> <task queue> <duckdb file> [workflow bundle file]');
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const warehouse = await openDuckDb({ path: dbPath });
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  const workflowBundle = bundlePath ? { codePath: bundlePath } : undefined;
  const worker = await createBackfillWorker({ connection, namespace, warehouse, taskQueue, client, workflowBundle });
  console.log('worker ready');
  await worker.run();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
