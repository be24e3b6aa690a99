/**
 * Client connection settings, with errors that say what to do. Precedence: flags, then the
 * TEMPORAL_* environment, then a Temporal envconfig profile (TOML: --profile / TEMPORAL_PROFILE,
 * file from TEMPORAL_CONFIG_FILE or ~/.config/temporalio/temporal.toml — address, namespace, TLS,
 * API key for Temporal Cloud), then the local dev server defaults.
 */
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { DEFAULT_NAMESPACE, DEFAULT_TEMPORAL_ADDRESS, DEFAULT_UI_PORT } from '../contracts/settings';

export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  /** envconfig profile name. */
  profile?: string;
  apiKey?: string;
  tls?: boolean;
}

export interface ResolvedConnection {
  options: ConnectionOptions & { address: string };
  namespace: string;
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  let profile: ReturnType<typeof loadClientConnectConfig>;
  try {
    profile = loadClientConnectConfig({
      profile: flags.profile,
      // An empty or blank variable counts as unset (as a shell's `TEMPORAL_ADDRESS=` means).
      overrideEnvVars: Object.fromEntries(
        Object.entries(env)
          .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].trim() !== '')
          .map(([k, v]) => [k, v.trim()]),
      ),
    });
  } catch (e) {
    throw new BackfillFailure(
      BackfillError.InvalidConfig,
      `Temporal profile${flags.profile ? ` "${flags.profile}"` : ''} could not be loaded: ${(e as Error).message}. ` +
        'Check TEMPORAL_CONFIG_FILE / ~/.config/temporalio/temporal.toml, or pass --address and --namespace.',
    );
  }
  const fromProfile = profile.connectionOptions as ConnectionOptions;
  const apiKey = flags.apiKey ?? (typeof fromProfile.apiKey === 'string' ? fromProfile.apiKey : undefined);
  return {
    options: {
      ...fromProfile,
      address: flags.address ?? fromProfile.address ?? DEFAULT_TEMPORAL_ADDRESS,
      ...(apiKey ? { apiKey } : {}),
      // An API key (Temporal Cloud) implies TLS unless told otherwise.
      ...(flags.tls !== undefined ? { tls: flags.tls } : apiKey && fromProfile.tls === undefined ? { tls: true } : {}),
    },
    namespace: flags.namespace ?? profile.namespace ?? DEFAULT_NAMESPACE,
  };
}

/**
 * The same settings for the worker's NativeConnection (the worker and the CLI share this module):
 * address, TLS (server CA, server name, client certificate for mTLS), API key and gRPC metadata.
 */
export function nativeConnectionOptions({ options }: ResolvedConnection): NativeConnectionOptions {
  const { address, tls, apiKey, metadata } = options;
  if (typeof apiKey === 'function') {
    throw new BackfillFailure(BackfillError.InvalidConfig, 'the worker takes an API key as text (TEMPORAL_API_KEY).');
  }
  return { address, ...(tls !== undefined && { tls }), ...(apiKey && { apiKey }), ...(metadata && { metadata }) };
}

export async function connectClient(
  flags: ConnectionFlags,
): Promise<{ client: Client; connection: Connection; address: string; namespace: string }> {
  const { options, namespace } = resolveConnection(flags);
  try {
    const connection = await Connection.connect({ ...options, connectTimeout: '5s' });
    return { client: new Client({ connection, namespace }), connection, address: options.address, namespace };
  } catch (e) {
    throw new BackfillFailure(
      BackfillError.TemporalUnavailable,
      `cannot reach Temporal at ${options.address} (${e instanceof Error ? e.message : e}); ` +
        `start it with \`npm run temporal:dev\`, ` +
        'or set --address / TEMPORAL_ADDRESS (or a --profile) for another server.',
    );
  }
}

/** Link to a workflow in the Temporal UI (TEMPORAL_UI_URL overrides the dev server default). */
export function workflowUiUrl(namespace: string, workflowId: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = (env.TEMPORAL_UI_URL ?? `http://localhost:${DEFAULT_UI_PORT}`).replace(/\/$/, '');
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
