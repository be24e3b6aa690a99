/**
 * A backfill worker in its own process, so a test can kill it with SIGKILL mid-batch the way a
 * machine dies. Args: <temporal address> <namespace> <task queue> <duckdb file> [workflow bundle file]
 * (the run's shared bundle; without it the worker bundles the workflows itself).
 * With SLOW_BATCH=<index>, every statement and transaction of that batch waits 3 s first (a slow
 * batch, on the real warehouse), so a test can kill the worker while that batch's activity runs.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import type { Driver, QueryOptions } from '../../warehouse/warehouse';
import { createBackfillWorker } from '../../worker/create-worker';

const SLOW_MS = 3_000;

function slowed(db: Driver, batchIndex: number): Driver {
  const wait = async (o?: QueryOptions) => {
    if (o?.tag?.phase === 'batch' && o.tag.batch === batchIndex) await new Promise((r) => setTimeout(r, SLOW_MS));
  };
  return {
    dialect: db.dialect,
    pricePerHour: db.pricePerHour,
    query: async (s, o) => (await wait(o), db.query(s, o)),
    execute: async (s, o) => (await wait(o), db.execute(s, o)),
    transaction: async (fn, o) => (await wait(o), db.transaction(fn, o)),
    explain: (s, o) => db.explain(s, o),
    ...(db.resultColumns ? { resultColumns: (s, o) => db.resultColumns!(s, o) } : {}),
    close: () => db.close(),
  };
}

async function main(): Promise<void> {
  const [address, namespace, taskQueue, dbPath, bundlePath] = process.argv.slice(2);
  if (!address || !namespace || !taskQueue || !dbPath) {
    throw new Error('usage: worker-process <address> <namespace> <task queue> <duckdb file> [workflow bundle file]');
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const duckdb = await openDuckDb({ path: dbPath });
  const slow = process.env.SLOW_BATCH;
  const warehouse = slow === undefined ? duckdb : slowed(duckdb, Number(slow));
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
