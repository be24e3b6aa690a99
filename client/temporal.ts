/** Client connection settings from flags and environment, with errors that say what to do. */
import { Client, Connection } from '@temporalio/client';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { DEFAULT_NAMESPACE, DEFAULT_TEMPORAL_ADDRESS, DEFAULT_UI_PORT } from '../contracts/settings';

export interface ConnectionFlags {
  address?: string;
  namespace?: string;
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env) {
  return {
    address: flags.address ?? env.TEMPORAL_ADDRESS ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: flags.namespace ?? env.TEMPORAL_NAMESPACE ?? DEFAULT_NAMESPACE,
  };
}

export async function connectClient(flags: ConnectionFlags): Promise<{ client: Client; connection: Connection; address: string; namespace: string }> {
  const { address, namespace } = resolveConnection(flags);
  try {
    const connection = await Connection.connect({ address, connectTimeout: '5s' });
    return { client: new Client({ connection, namespace }), connection, address, namespace };
  } catch (e) {
    throw new BackfillFailure(
      BackfillError.TemporalUnavailable,
      `cannot reach Temporal at ${address} (${e instanceof Error ? e.message : e}); start it with \`npm run temporal:dev\` or set TEMPORAL_ADDRESS / --address.`,
    );
  }
}

/** Link to a workflow in the Temporal UI (TEMPORAL_UI_URL overrides the dev server default). */
export function workflowUiUrl(namespace: string, workflowId: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = (env.TEMPORAL_UI_URL ?? `http://localhost:${DEFAULT_UI_PORT}`).replace(/\/$/, '');
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
