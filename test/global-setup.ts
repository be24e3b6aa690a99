import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { DEFAULT_NAMESPACE } from '../contracts/settings';
import * as cli from '../scripts/built.cjs';
import { startDevServer } from '../scripts/dev-server';
import { workflowBundle } from '../worker/workflow-bundle';

/**
 * The integration tier's one setup: starts one headless dev server for the whole run and builds
 * the workflow bundle once, through the workers' cache (webpack is the slow part of starting a
 * worker; a run after no change of the workflow code reuses the last build), then hands both to the
 * tests: the server's address, and the path of the bundle file (test/support/backfill-harness.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The server's own warnings (shutdown chatter, dial retries) would drown test output; a failed
  // start still reports its output tail in the error.
  const log = (line: string) => {
    if (!line.startsWith('[temporal]')) process.stderr.write(`[global-setup] ${line}\n`);
  };
  // The CLI's bundle (bin/backfill.cjs runs it): built once here, not by several test files at once.
  if (cli.stale()) cli.build();
  const dir = await mkdtemp(join(tmpdir(), 'safe-backfill-bundle-'));
  let bundlePath = join(dir, 'workflow-bundle.js');
  const bundling = Date.now();
  const building = workflowBundle()
    .then(async (bundle) => {
      if ('code' in bundle) await writeFile(bundlePath, bundle.code);
      else bundlePath = bundle.codePath;
    })
    .then(() => log(`Workflow bundle ready in ${Date.now() - bundling} ms: ${bundlePath}`));
  const starting = startDevServer({
    headless: true,
    namespace: DEFAULT_NAMESPACE,
    // Far below the server default (4,096 events) so tests reach continue-as-new quickly.
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 200 },
    startTimeoutMs: 120_000,
    log,
  });
  const [built, started] = await Promise.allSettled([building, starting]);
  if (built.status === 'rejected' || started.status === 'rejected') {
    if (started.status === 'fulfilled') await started.value.stop();
    await rm(dir, { recursive: true, force: true });
    throw built.status === 'rejected' ? built.reason : (started as PromiseRejectedResult).reason;
  }
  const server = started.value;
  project.provide('temporalAddress', server.address);
  project.provide('temporalNamespace', server.namespace);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await server.stop();
    log(`Temporal dev server at ${server.address} stopped`);
    await rm(dir, { recursive: true, force: true });
  };
}
