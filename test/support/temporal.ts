import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';

/**
 * Connects to the run's shared dev server (see test/global-setup.ts). The caller closes
 * `connection`, typically in afterAll. Use unique workflow IDs and task queues per test file:
 * all files share one server.
 */
export async function temporalTestEnv(): Promise<{
  address: string;
  namespace: string;
  connection: Connection;
  client: Client;
}> {
  const address = inject('temporalAddress');
  const namespace = inject('temporalNamespace');
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  return { address, namespace, connection, client };
}
