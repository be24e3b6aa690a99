/**
 * The worker process's settings, read once from the environment and checked, so a typo fails at
 * start with the variable's name instead of as a worker polling the wrong queue. temporal-dev.yml
 * sets these variables; test/temporal-dev.test.ts parses its values with this same function.
 */
import type { LogLevel } from '@temporalio/common';
import { resolveConnection, type ResolvedConnection } from '../client/temporal';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { DEFAULT_TEMPORAL_ADDRESS, TASK_QUEUE } from '../contracts/settings';

export const DEFAULT_SDK_METRICS_ADDRESS = '0.0.0.0:9464';
export const DEFAULT_METRICS_ADDRESS = '0.0.0.0:9465';
/** The value that turns a metrics endpoint off. */
export const OFF = 'off';

const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

export interface BindAddress {
  host: string;
  port: number;
}

export interface WorkerSettings {
  /** The frontend, host:port (TEMPORAL_ADDRESS, or the envconfig profile's). */
  address: string;
  /** TEMPORAL_NAMESPACE, or the profile's. */
  namespace: string;
  /**
   * How to reach Temporal, resolved exactly as the CLI resolves it (client/temporal.ts): the
   * TEMPORAL_* environment (TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
   * TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH for mTLS, TEMPORAL_TLS_SERVER_NAME, …), then the
   * envconfig profile (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE), then the local dev server.
   */
  connection: ResolvedConnection;
  /**
   * BACKFILL_TASK_QUEUE. The CLI starts backfills on TASK_QUEUE, so a worker on another queue only
   * serves clients that pass that queue explicitly.
   */
  taskQueue: string;
  /** BACKFILL_METRICS_SDK_ADDRESS: the Temporal runtime's Prometheus exporter; null when off. */
  sdkMetrics: BindAddress | null;
  /** BACKFILL_METRICS_ADDRESS: the backfill counters at /metrics; null when off. */
  metrics: BindAddress | null;
  /** BACKFILL_LOG_LEVEL: the lowest level written to stdout. */
  logLevel: LogLevel;
  /**
   * BACKFILL_TRUSTED_KEYS: the file of public keys that may sign decisions (activities/trusted-keys.ts),
   * read at every signed decision; null when unset (decisions of specs that require signatures are refused).
   */
  trustedKeys: string | null;
}

function invalid(name: string, raw: string, expected: string): never {
  throw new BackfillFailure(BackfillError.InvalidConfig, `${name}="${raw}": expected ${expected}.`, {
    variable: name,
    value: raw,
  });
}

/** `host:port` (IPv6 hosts in brackets: `[::]:9464`); port 0 asks the OS for a free one. */
export function parseBindAddress(raw: string, name: string): BindAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    invalid(
      name,
      raw,
      `host:port such as ${name.includes('SDK') ? DEFAULT_SDK_METRICS_ADDRESS : DEFAULT_METRICS_ADDRESS}, or "${OFF}"`,
    );
  }
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** host:port text again, brackets restored for IPv6. */
export function formatBindAddress(a: BindAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

function optionalAddress(env: NodeJS.ProcessEnv, name: string, fallback: string): BindAddress | null {
  const raw = env[name]?.trim() || fallback;
  return raw.toLowerCase() === OFF ? null : parseBindAddress(raw, name);
}

export function workerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const connection = resolveConnection({}, env);
  const { address } = connection.options;
  if (!/^[^\s/]+:\d{1,5}$/.test(address)) {
    invalid('TEMPORAL_ADDRESS', address, `host:port such as ${DEFAULT_TEMPORAL_ADDRESS}`);
  }
  const rawLevel = env.BACKFILL_LOG_LEVEL?.trim() || 'INFO';
  const logLevel = LOG_LEVELS.find((l) => l === rawLevel.toUpperCase());
  if (!logLevel) invalid('BACKFILL_LOG_LEVEL', rawLevel, `one of ${LOG_LEVELS.join(', ')}`);
  return {
    address,
    namespace: connection.namespace,
    connection,
    taskQueue: env.BACKFILL_TASK_QUEUE?.trim() || TASK_QUEUE,
    sdkMetrics: optionalAddress(env, 'BACKFILL_METRICS_SDK_ADDRESS', DEFAULT_SDK_METRICS_ADDRESS),
    metrics: optionalAddress(env, 'BACKFILL_METRICS_ADDRESS', DEFAULT_METRICS_ADDRESS),
    logLevel,
    trustedKeys: env.BACKFILL_TRUSTED_KEYS?.trim() || null,
  };
}
