/**
 * Starts `temporal server start-dev` on 127.0.0.1 with the project's search attributes and waits
 * until it answers real gRPC calls. Used by the test global setup and by `npm run temporal:dev`.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { DEFAULT_NAMESPACE, DEFAULT_TEMPORAL_ADDRESS, DEFAULT_UI_PORT, SEARCH_ATTRIBUTES } from '../contracts/settings';
import { findTemporalCli } from './temporal-cli';

const HOST = '127.0.0.1';
const STOP_GRACE_MS = 10_000;

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  headless?: boolean;
  /** Persist state across restarts in this SQLite file; in-memory when omitted. */
  dbFilename?: string;
  namespace?: string;
  dynamicConfig?: Record<string, string | number | boolean>;
  log?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface DevServer {
  /** host:port of the frontend gRPC service. */
  address: string;
  /** Web UI, or null when headless. */
  uiUrl: string | null;
  namespace: string;
  stop(): Promise<void>;
}

export function devServerArgs(opts: {
  port: number;
  uiPort: number | null;
  namespace: string;
  dbFilename?: string;
  dynamicConfig?: Record<string, string | number | boolean>;
}): string[] {
  const args = ['server', 'start-dev', '--ip', HOST, '--port', String(opts.port)];
  args.push(...(opts.uiPort === null ? ['--headless'] : ['--ui-port', String(opts.uiPort)]));
  args.push('--log-level', 'warn', '--namespace', opts.namespace);
  if (opts.dbFilename) args.push('--db-filename', opts.dbFilename);
  // The version check phones home; offline it only adds noise and delay.
  args.push('--dynamic-config-value', 'frontend.enableServerVersionCheck=false');
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
    // The CLI parses each value as JSON, so strings need their quotes.
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
    args.push('--search-attribute', `${name}=${type}`);
  }
  return args;
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const log = opts.log ?? (() => {});
  const cli = await findTemporalCli({ install: true, log });
  const dbFilename = opts.dbFilename ? path.resolve(opts.dbFilename) : undefined;
  if (dbFilename) await mkdir(path.dirname(dbFilename), { recursive: true });

  // A port we picked can be taken before the server binds it (other test runs pick ports too).
  const portsArePicked = opts.port === undefined || (!opts.headless && opts.uiPort === undefined);
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const uiPort = opts.headless ? null : (opts.uiPort ?? (await freePort([port])));
    try {
      return await launch(cli, { ...opts, port, uiPort, dbFilename, log });
    } catch (e) {
      const portTaken = e instanceof BackfillFailure && e.details.portTaken === true;
      if (!portTaken || !portsArePicked || attempt >= 3) throw e;
      log(`Port ${port} or ${uiPort} was taken before the server bound it; retrying with new ports`);
    }
  }
}

async function launch(
  cli: string,
  opts: Omit<DevServerOptions, 'port' | 'uiPort'> & { port: number; uiPort: number | null; log: (l: string) => void },
): Promise<DevServer> {
  const { port, uiPort, log } = opts;
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const args = devServerArgs({
    port,
    uiPort,
    namespace,
    dbFilename: opts.dbFilename,
    dynamicConfig: opts.dynamicConfig,
  });
  const address = `${HOST}:${port}`;
  log(`Starting ${cli} ${args.join(' ')}`);
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split(/\r?\n/)) {
      if (!line.trim()) continue;
      output.push(line);
      if (output.length > 40) output.shift();
      log(`[temporal] ${line}`);
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', (e) => {
      spawnError = e;
      resolve({ code: null, signal: null });
    });
  });

  // If the parent dies without calling stop(), do not leave an orphaned server holding the port.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null || spawnError) return;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killTimer);
    })();
    return stopping;
  };

  const started = Date.now();
  const giveUp = new AbortController();
  const outcome = await Promise.race([
    waitUntilReady(address, namespace, started + timeoutMs, giveUp.signal),
    exited.then((exit) => ({ kind: 'exited' as const, exit })),
  ]);
  giveUp.abort();
  if (outcome.kind !== 'ready') {
    await stop();
    const outputTail = output.join('\n');
    const how =
      outcome.kind === 'timeout'
        ? `did not become ready within ${timeoutMs} ms (last error: ${outcome.lastError})`
        : spawnError
          ? `could not be started (${spawnError.message})`
          : `exited early (code ${outcome.exit.code}${outcome.exit.signal ? `, signal ${outcome.exit.signal}` : ''})`;
    throw new BackfillFailure(
      BackfillError.TemporalUnavailable,
      `Temporal dev server on ${address} ${how}.` + (outputTail ? `\nServer output (last lines):\n${outputTail}` : ''),
      { address, cli, outputTail, portTaken: /address already in use/i.test(outputTail) },
    );
  }

  const uiUrl = uiPort === null ? null : `http://${HOST}:${uiPort}`;
  log(`Temporal dev server ready at ${address} (namespace ${namespace}) in ${Date.now() - started} ms`);
  return { address, uiUrl, namespace, stop };
}

/**
 * Polls until the frontend answers GetSystemInfo and the namespace is describable; the port
 * accepting connections is not enough, the namespace is registered slightly later.
 */
async function waitUntilReady(
  address: string,
  namespace: string,
  deadline: number,
  signal: AbortSignal,
): Promise<{ kind: 'ready' } | { kind: 'timeout'; lastError: string }> {
  let lastError = 'none';
  while (!signal.aborted && Date.now() < deadline) {
    // lazy() so that a failed attempt still leaves us a handle to close; a channel leaked by a
    // failed connect() keeps reconnecting in the background.
    const connection = Connection.lazy({ address });
    try {
      const callDeadline = Math.min(deadline, Date.now() + 3_000);
      const service = connection.workflowService;
      await connection.withDeadline(callDeadline, () => service.getSystemInfo({}));
      await connection.withDeadline(callDeadline, () => service.describeNamespace({ namespace }));
      return { kind: 'ready' };
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
      await new Promise((r) => setTimeout(r, 250));
    } finally {
      await connection.close().catch(() => {});
    }
  }
  return { kind: 'timeout', lastError };
}

/** Asks the OS for a free port on 127.0.0.1; the dev server refuses `--port 0`. */
export function freePort(avoid: number[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => {
        if (!port) reject(new Error('could not pick a free port'));
        else if (avoid.includes(port)) freePort(avoid).then(resolve, reject);
        else resolve(port);
      });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'ui-port': { type: 'string' },
      'db-filename': { type: 'string' },
    },
  });
  const toPort = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`--${flag} must be a port number, got "${v}"`);
    return n;
  };
  let stopping = false;
  // The ports and the persistent state file the worker, the CLI and the README expect
  // (contracts/settings.ts), so `npm run temporal:dev` then `npm run worker` just works.
  const server = await startDevServer({
    port: toPort('port', values.port) ?? Number(DEFAULT_TEMPORAL_ADDRESS.split(':')[1]),
    uiPort: toPort('ui-port', values['ui-port']) ?? DEFAULT_UI_PORT,
    dbFilename: values['db-filename'] ?? path.join(__dirname, '..', '.data', 'temporal-dev.db'),
    // The server's shutdown chatter (failed polls, dial errors) is expected; hide it.
    log: (line) => {
      if (!(stopping && line.startsWith('[temporal]'))) console.error(line);
    },
  });
  console.log(`Temporal address: ${server.address}`);
  console.log(`Temporal UI:      ${server.uiUrl}`);
  console.log(`Namespace:        ${server.namespace}`);
  console.log('Press Ctrl+C to stop.');
  const shutdown = (signal: string) => {
    stopping = true;
    console.error(`${signal} received, stopping the dev server…`);
    void server.stop().then(() => {
      console.error('Stopped.');
      process.exit(0);
    });
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
