/**
 * Release graphs on real parts: the example graph (examples/revenue-release.yaml, daily revenue →
 * monthly revenue → merchant lifetime value) under a fresh release id, and waiting on a release's
 * status query.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { loadGraphText } from '../../client/load-graph';
import { releaseStatusQuery } from '../../contracts/messages';
import type { ReleaseGraph, ReleaseStatus } from '../../contracts/release';

export const EXAMPLE_GRAPH = resolve(__dirname, '..', '..', 'examples', 'revenue-release.yaml');
/** The example's targets, in its (topological) node order. */
export const EXAMPLE_TARGETS = ['finance.daily_revenue', 'finance.monthly_revenue', 'finance.merchant_ltv_monthly'];

let counter = 0;

/** The example graph under a fresh release id, without its UTC pause window; `edit` changes the YAML text. */
export function exampleGraph(name: string, edit: (yaml: string) => string = (y) => y): ReleaseGraph {
  const id = `rg-${name}-${process.pid % 10_000}-${Date.now().toString(36)}-${counter++}`;
  const text = edit(readFileSync(EXAMPLE_GRAPH, 'utf8')
    .replace(/^release_id: .*$/m, `release_id: ${id}`)
    .replace(/^ {2}pause_windows:\n.*\n/m, ''));
  return loadGraphText(text, EXAMPLE_GRAPH).graph;
}

/** Polls the release's status query until `done` holds; fails with the last status when it never does. */
export async function waitForRelease(
  handle: WorkflowHandle,
  done: (s: ReleaseStatus) => boolean,
  timeoutMs = 150_000,
): Promise<ReleaseStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ReleaseStatus | undefined;
  for (;;) {
    try {
      last = await handle.query(releaseStatusQuery);
      if (done(last)) return last;
    } catch (e) {
      // The first workflow task may not have run yet.
      if (!/not found|no.*query|did not register/i.test(String(e))) throw e;
    }
    if (Date.now() > deadline) throw new Error(`timed out; last status: ${JSON.stringify(last, null, 1)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
