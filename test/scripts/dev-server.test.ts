import net from 'node:net';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BackfillError, type BackfillFailure, isBackfillFailure } from '../../contracts/errors';
import { SEARCH_ATTRIBUTES } from '../../contracts/settings';
import { devServerArgs, freePort, startDevServer } from '../../scripts/dev-server';
import { temporalTestEnv } from '../support/temporal';

type Env = Awaited<ReturnType<typeof temporalTestEnv>>;

/** SEARCH_ATTRIBUTES uses the CLI's spelling (KeywordList); the API's enum uses KEYWORD_LIST. */
function apiTypeName(cliType: string): 'TEXT' | 'KEYWORD' | 'INT' | 'DOUBLE' | 'BOOL' | 'DATETIME' | 'KEYWORD_LIST' {
  return cliType.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() as ReturnType<typeof apiTypeName>;
}

describe('the shared dev server (test/global-setup.ts)', () => {
  let env: Env;
  beforeAll(async () => {
    env = await temporalTestEnv();
  });
  afterAll(async () => {
    await env?.connection.close();
  });

  it('is a real server on loopback that answers GetSystemInfo', async () => {
    expect(inject('temporalAddress')).toMatch(/^127\.0\.0\.1:\d+$/);
    const info = await env.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^\d+\.\d+/);
  });

  it('registers every search attribute with its declared type', async () => {
    const { customAttributes } = await env.connection.operatorService.listSearchAttributes({
      namespace: env.namespace,
    });
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
      const expected = encodeSearchAttributeIndexedValueType(apiTypeName(type));
      expect(expected, `${name}: unknown type ${type}`).toBeDefined();
      expect(customAttributes?.[name], name).toBe(expected);
    }
  });
});

describe('devServerArgs', () => {
  it('binds loopback, never port 0, and passes search attributes and JSON dynamic config', () => {
    const args = devServerArgs({ port: 7400, uiPort: null, namespace: 'ns', dynamicConfig: { a: 'x', b: 2 } });
    expect(args.slice(0, 6)).toEqual(['server', 'start-dev', '--ip', '127.0.0.1', '--port', '7400']);
    expect(args).toContain('--headless');
    expect(args).not.toContain('--ui-port');
    expect(args.join(' ')).toContain('--dynamic-config-value a="x" --dynamic-config-value b=2');
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect(args).toContain(`${name}=${type}`);
    expect(devServerArgs({ port: 7400, uiPort: 8400, namespace: 'ns' })).toEqual(
      expect.arrayContaining(['--ui-port', '8400']),
    );
  });
});

describe('startDevServer failures', () => {
  it('fails fast with the server output when its port is taken', async () => {
    const port = await freePort();
    // The readiness probe may connect to the blocker and get no gRPC answer; drop those sockets.
    const sockets = new Set<net.Socket>();
    const blocker = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const error = await startDevServer({ port, headless: true, startTimeoutMs: 30_000 }).catch((e: unknown) => e);
      expect(isBackfillFailure(error, BackfillError.TemporalUnavailable)).toBe(true);
      expect((error as BackfillFailure).message).toMatch(/exited early/);
      expect((error as BackfillFailure).message).toMatch(/address already in use/i);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
