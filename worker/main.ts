/**
 * The worker process: owns the warehouse connection (DuckDB allows one writing process per file)
 * and runs workflows and activities for the backfills task queue until SIGINT/SIGTERM. Logs are
 * JSON lines on stdout; Prometheus scrapes the SDK's metrics and the backfill counters on two ports
 * (settings in worker/worker-settings.ts).
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { BackfillError, BackfillFailure, isBackfillFailure } from '../contracts/errors';
import { nativeConnectionOptions } from '../client/temporal';
import { openWarehouse, warehouseConfigFromEnv } from '../warehouse/open';
import { createBackfillWorker } from './create-worker';
import { createJsonLogger } from './logging';
import { Metrics } from './metrics';
import { serveMetrics, type MetricsServer } from './metrics-server';
import { formatBindAddress, workerSettingsFromEnv } from './worker-settings';

async function main(): Promise<void> {
  const settings = workerSettingsFromEnv();
  const { address, namespace, taskQueue } = settings;
  const logger = createJsonLogger({ level: settings.logLevel });
  const sdkMetrics = settings.sdkMetrics && formatBindAddress(settings.sdkMetrics);
  try {
    Runtime.install({
      logger,
      telemetryOptions: {
        // Core's own warnings go through the same JSON logger instead of straight to the console.
        logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } },
        ...(sdkMetrics && { metrics: { prometheus: { bindAddress: sdkMetrics } } }),
      },
    });
  } catch (e) {
    throw new BackfillFailure(
      BackfillError.InvalidConfig,
      `The Temporal runtime did not start${sdkMetrics ? ` with its metrics exporter on ${sdkMetrics}` : ''}: ` +
        `${(e as Error).message}. ` +
        'Set BACKFILL_METRICS_SDK_ADDRESS to a free host:port, or to "off".',
    );
  }

  const metrics = new Metrics();
  let metricsServer: MetricsServer | null = null;
  if (settings.metrics) {
    metricsServer = await serveMetrics(metrics.registry, settings.metrics).catch((e: Error) => {
      throw new BackfillFailure(
        BackfillError.InvalidConfig,
        `${e.message}. Set BACKFILL_METRICS_ADDRESS to a free host:port, or to "off".`,
      );
    });
  }
  const config = warehouseConfigFromEnv();
  const warehouse = await openWarehouse(config);
  // TLS, mTLS, API key or profile: the same settings the CLI resolves (client/temporal.ts).
  const unreachable = (e: unknown) => {
    throw new BackfillFailure(
      BackfillError.TemporalUnavailable,
      `cannot reach Temporal at ${address} (${e instanceof Error ? e.message : String(e)}); start it with ` +
        '`npm run temporal:dev`, or set TEMPORAL_ADDRESS, TEMPORAL_TLS_* / TEMPORAL_API_KEY or TEMPORAL_PROFILE.',
    );
  };
  const connection = await NativeConnection.connect(nativeConnectionOptions(settings.connection)).catch(unreachable);
  // A client connection for visibility queries (is the live pipeline running?).
  const clientConnection = await Connection.connect({ ...settings.connection.options, connectTimeout: '10s' })
    .catch(unreachable);
  const client = new Client({ connection: clientConnection, namespace });
  const worker = await createBackfillWorker({
    connection, namespace, warehouse, client, taskQueue, metrics, trustedKeysFile: settings.trustedKeys ?? undefined,
  });
  const tls = Boolean(settings.connection.options.tls) || Boolean(settings.connection.options.apiKey);
  logger.info(
    `backfill worker: task queue ${taskQueue} on ${address}/${namespace}${tls ? ' (TLS)' : ''}, ` +
      `warehouse ${config.engine}:${config.path}`,
    {
      taskQueue,
      address,
      namespace,
      tls,
      warehouse: `${config.engine}:${config.path}`,
      metrics: metricsServer?.url ?? null,
      sdkMetrics: sdkMetrics ? `http://${sdkMetrics}/metrics` : null,
    },
  );
  try {
    await worker.run();
  } finally {
    await connection.close();
    await clientConnection.close();
    await warehouse.close();
    await metricsServer?.close();
  }
}

main().catch((e) => {
  console.error(isBackfillFailure(e) ? `${e.code}: ${e.message}` : e);
  process.exit(1);
});
