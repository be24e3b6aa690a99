/**
 * A backfill worker in its own process, so a test can kill it with SIGKILL mid-batch the way a
 * machine dies. Args: <temporal address> <namespace> <task queue> <duckdb file>.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { createBackfillWorker } from '../../worker/create-worker';

async function main(): Promise<void> {
  const [address, namespace, taskQueue, dbPath] = process.argv.slice(2);
  if (!address || !namespace || !taskQueue || !dbPath) throw new Error('usage: worker-process <address> <namespace> <task queue> <duckdb file>');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const warehouse = await openDuckDb({ path: dbPath });
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  const worker = await createBackfillWorker({ connection, namespace, warehouse, taskQueue, client });
  console.log('worker ready');
  await worker.run();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
