/**
 * The worker (`npm run worker`'s bin) and the CLI reach Temporal with the same connection settings
 * (client/temporal.ts): here through a TLS front that requires client certificates (mTLS), with
 * the TEMPORAL_TLS_* variables a production worker would set. A backfill started by the CLI over
 * TLS is taken and pre-flighted by the worker over TLS; without the client certificate, or
 * without TLS, the same CLI is refused and exits 3.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../client/exit-codes';
import { backfillWith } from '../support/cli';
import { exampleSpecFile, seededWarehouse, twoWeeks } from '../support/scratch';
import { temporalTestEnv } from '../support/temporal';
import { startWorkerBin, type WorkerBin } from '../support/worker-bin';
import { makeCertificates, startTlsProxy, type TlsProxy } from '../support/tls-proxy';

let env: Awaited<ReturnType<typeof temporalTestEnv>>;
let proxy: TlsProxy | undefined;
let worker: WorkerBin | undefined;
let workflowId: string | undefined;

beforeAll(async () => {
  env = await temporalTestEnv();
});
afterAll(async () => {
  if (workflowId) await env.client.workflow.getHandle(workflowId).terminate('tls test done').catch(() => undefined);
  await worker?.stop();
  await proxy?.close();
  await env?.connection.close();
});

describe('the worker and the CLI share their connection settings', () => {
  it('both connect through TLS with client certificates (mTLS); without them the CLI exits 3', async () => {
    const certs = makeCertificates();
    proxy = await startTlsProxy(env.address, certs, true);
    const dir = mkdtempSync(join(tmpdir(), 'backfill-tls-run-'));
    const dbPath = await seededWarehouse(dir);
    const id = `tls-${process.pid}-${Date.now().toString(36)}`;
    const specFile = exampleSpecFile(dir, 'spec', id, twoWeeks);

    const taskQueue = `tls-${process.pid}-${Date.now().toString(36)}`;
    const tls = {
      TEMPORAL_ADDRESS: proxy.address,
      TEMPORAL_NAMESPACE: env.namespace,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
      TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
      TEMPORAL_CONFIG_FILE: join(dir, 'no-profile.toml'),
      BACKFILL_TASK_QUEUE: taskQueue,
    };

    // The worker as `npm run worker` runs it, configured only through the environment.
    worker = await startWorkerBin({ ...tls, BACKFILL_WAREHOUSE: dbPath, BACKFILL_LOG_LEVEL: 'INFO' });
    expect(worker.log()).toContain(`on ${proxy.address}/${env.namespace} (TLS)`);

    // Started over TLS; the pre-flight (plan, lease, ownership) needs the worker, also over TLS.
    const started = await backfillWith(tls, 'start', specFile, '--by', 'vitest', '--wait', '60');
    expect(started.code, started.stderr).toBe(ExitCode.ok);
    expect(started.stdout).toContain('planned, target leased, tables owned');
    workflowId = /workflow ID: (\S+)/.exec(started.stdout)?.[1];
    expect(workflowId).toBeTruthy();
    const status = await backfillWith(tls, 'status', id);
    expect(status.code, status.stderr).toBe(ExitCode.ok);
    expect(status.stdout).toContain(id);
    // Every session through the front presented the client certificate.
    expect(proxy.sessions.length).toBeGreaterThanOrEqual(3);
    expect(new Set(proxy.sessions.map((s) => s.clientCn))).toEqual(new Set(['backfill-worker']));

    // No client certificate: the front refuses the handshake; no TLS at all: not a gRPC server to it.
    const refusedBefore = proxy.refused;
    const noCert = await backfillWith({ ...tls, TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '' },
      'status', id);
    expect(noCert.code, noCert.stderr).toBe(ExitCode.unavailable);
    expect(noCert.stderr).toContain(`cannot reach Temporal at ${proxy.address}`);
    expect(proxy.refused).toBeGreaterThan(refusedBefore);
    const plainEnv = { TEMPORAL_ADDRESS: proxy.address, TEMPORAL_NAMESPACE: env.namespace };
    const plain = await backfillWith({ ...plainEnv, TEMPORAL_CONFIG_FILE: tls.TEMPORAL_CONFIG_FILE }, 'status', id);
    expect(plain.code, plain.stderr).toBe(ExitCode.unavailable);
  });
});
