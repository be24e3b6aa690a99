import type { TestProject } from 'vitest/node';
import { DEFAULT_NAMESPACE } from '../contracts/settings';
import { startDevServer } from '../scripts/dev-server';

/** Starts one headless dev server for the whole test run and hands its address to the tests. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The server's own warnings (shutdown chatter, dial retries) would drown test output; a failed
  // start still reports its output tail in the error.
  const log = (line: string) => {
    if (!line.startsWith('[temporal]')) process.stderr.write(`[global-setup] ${line}\n`);
  };
  const server = await startDevServer({
    headless: true,
    namespace: DEFAULT_NAMESPACE,
    // Far below the server default (4,096 events) so tests reach continue-as-new quickly.
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 200 },
    startTimeoutMs: 120_000,
    log,
  });
  project.provide('temporalAddress', server.address);
  project.provide('temporalNamespace', server.namespace);
  return async () => {
    await server.stop();
    log(`Temporal dev server at ${server.address} stopped`);
  };
}
