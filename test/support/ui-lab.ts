/**
 * A test file's own Temporal dev server WITH its Web UI (the suite's shared server is headless), a
 * lab on it (the real worker, the real workflow bundle, a seeded warehouse) and a Chromium page on
 * the UI: what the UI tests drive. Registers the file's hooks; the getter is valid inside tests.
 */
import { Client, Connection } from '@temporalio/client';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { lab, type Lab, type LabOptions } from './backfill-harness';
import { launchBrowser } from './browser';
import { openUiPage } from './temporal-ui';

export interface UiLab {
  uiUrl: string;
  namespace: string;
  client: Client;
  lab: Lab;
  page: Page;
}

export function useUiLab(opts: LabOptions = {}): () => UiLab {
  let server: DevServer | undefined;
  let connection: Connection | undefined;
  let l: Lab | undefined;
  let browser: Browser | undefined;
  let ready: UiLab | undefined;

  beforeAll(async () => {
    server = await startDevServer({ headless: false, startTimeoutMs: 120_000 });
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: server.namespace });
    l = await lab({ address: server.address, namespace: server.namespace, connection, client }, opts);
    browser = await launchBrowser();
    const page = await openUiPage(browser, server.uiUrl!);
    ready = { uiUrl: server.uiUrl!, namespace: server.namespace, client, lab: l, page };
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await l?.stop();
    await connection?.close();
    await server?.stop();
  });

  return () => {
    if (!ready) throw new Error('the UI lab is not ready: call its getter inside a test');
    return ready;
  };
}
