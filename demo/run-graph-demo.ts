/**
 * `npm run demo -- --graph`: the FIN-2841 fix as a release graph on the demo warehouse. Daily
 * revenue is recomputed, monthly revenue from its shadow, merchant lifetime value from that; each
 * node reconciled against its own expectations, one approval, one publish of the three tables in
 * one transaction, the release record and `backfill lineage`.
 */
import type { Client } from '@temporalio/client';
import { resolve } from 'node:path';
import { loadGraphFile } from '../client/load-graph';
import { formatGraphPlan, formatLineage, formatReleaseStatus } from '../client/release-format';
import { startRelease } from '../client/start-backfill';
import { workflowUiUrl } from '../client/temporal';
import { approveUpdate, releaseStatusQuery } from '../contracts/messages';
import type { ReleaseGraph, ReleaseStatus } from '../contracts/release';
import { upstreamWaits } from '../domain/graph/plan';
import { allPartitions } from '../domain/plan';
import { estimatePlan } from '../warehouse/plan-estimates';
import { lineageOf } from '../warehouse/release-graph';
import type { Driver } from '../warehouse/warehouse';
import { resetDemoBackfill } from './reset';

export const GRAPH_SPEC = resolve(__dirname, '..', 'examples', 'revenue-release.yaml');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The graph as the demo runs it: the rollback window shortened, no pause windows. */
export function demoGraph(windowMs: number): ReleaseGraph {
  const { graph } = loadGraphFile(GRAPH_SPEC);
  return {
    ...graph,
    nodes: graph.nodes.map((n) => ({
      ...n,
      spec: {
        ...n.spec,
        execution: { ...n.spec.execution, pause_windows: [] },
        rollback: { ...n.spec.rollback, window: windowMs },
      },
    })),
  };
}

/** Forgets the demo release's earlier run (its nodes' tables and control rows) before the warehouse is reseeded. */
export async function resetDemoGraph(db: Driver, graph: ReleaseGraph): Promise<string[]> {
  const dropped: string[] = [];
  for (const n of graph.nodes) dropped.push(...(await resetDemoBackfill(db, n.spec)).dropped);
  await db.execute({
    sql: `DELETE FROM backfill_control.release_graphs WHERE release_id = ${db.dialect.placeholder(1)}`,
    params: [graph.release_id],
  }).catch(() => 0);
  await db.execute({
    sql: `DELETE FROM backfill_control.audit_log WHERE backfill_id = ${db.dialect.placeholder(1)}`,
    params: [graph.release_id],
  }).catch(() => 0);
  return dropped;
}

export async function printGraphPlan(db: Driver, graph: ReleaseGraph): Promise<void> {
  const plans = [];
  for (const n of graph.nodes) {
    const spec = n.spec.transform ? { ...n.spec, transform: { ...n.spec.transform, sql: n.planSql } } : n.spec;
    const plan = await estimatePlan(db, spec, { sample: true });
    const waits = n.upstream.length
      ? allPartitions(n.spec).map((partition) => ({ partition, waits: upstreamWaits(graph, n.id, partition) }))
      : [];
    plans.push({ id: n.id, plan, waits });
  }
  console.log(formatGraphPlan(graph, plans, db.dialect.name));
}

async function follow(
  client: Client,
  workflowId: string,
  until: (s: ReleaseStatus) => boolean,
): Promise<ReleaseStatus> {
  const handle = client.workflow.getHandle(workflowId);
  let shown = '';
  for (;;) {
    let s: ReleaseStatus | null = null;
    try {
      s = await handle.query(releaseStatusQuery);
    } catch (e) {
      if (!/not found|no.*query|did not register/i.test(String(e))) throw e;
    }
    if (s) {
      const line = `[${s.state}] ${s.nodes.map((n) => `${n.node} ${n.state} ${n.batches.done}/${n.batches.total}`)
        .join(' · ')}`;
      if (line !== shown) console.log(`  ${line}`);
      shown = line;
      if (until(s)) return s;
    }
    await sleep(250);
  }
}

/** Runs the release on a started dev server and worker; returns the final status. */
export async function runGraphDemo(opts: {
  client: Client;
  db: Driver;
  graph: ReleaseGraph;
  namespace: string;
  uiUrl: string | null;
  approveAs?: string;
}): Promise<ReleaseStatus> {
  const { client, graph } = opts;
  const handle = await startRelease(client, graph, { startedBy: 'demo' });
  const ui = opts.uiUrl ? workflowUiUrl(opts.namespace, handle.workflowId, { TEMPORAL_UI_URL: opts.uiUrl }) : null;
  console.log(`Started release workflow ${handle.workflowId}${ui ? `\n  UI: ${ui}` : ''}\n`);
  const waiting = await follow(client, handle.workflowId, (s) => s.state === 'awaiting_approval' ||
    s.state === 'failed' || s.nodes.some((n) => n.state === 'halted'));
  if (waiting.state !== 'awaiting_approval') {
    throw new Error(`the release stopped before approval:\n${formatReleaseStatus(waiting)}`);
  }
  console.log(`\n${formatReleaseStatus(waiting)}\n`);
  const digest = waiting.decisionDigest ?? undefined;
  const approver = opts.approveAs;
  if (approver) {
    console.log(`Approving the whole release as ${approver} (--approve-as)…`);
    await handle.executeUpdate(approveUpdate, {
      args: [{ by: approver, comment: 'demo approval: every node within its expected deltas', digest }],
    });
  } else {
    const first = graph.nodes[0]!.spec.approval!.approvers[0];
    console.log('Waiting for one approval of the release. In the Temporal UI open the release workflow' +
      (ui ? `:\n  ${ui}` : '') + `\n  and send the signal "approve" with {"by": "${first}", "comment": "reviewed", ` +
      `"digest": "${digest}"}; or rerun with --approve-as ${first}.`);
  }
  const published = await follow(client, handle.workflowId, (s) => s.state === 'published' || s.state === 'failed');
  if (published.state !== 'published') throw new Error(`not published: ${published.state} — ${published.phase}`);
  console.log('\nRelease record (backfill_control.release_graphs, written in the one publish transaction):');
  console.log(JSON.stringify(published.record?.publish, null, 2).replace(/^/gm, '  '));
  const lineage = await client.workflow.getHandle(handle.workflowId).query(releaseStatusQuery)
    .then(() => lineageOf(opts.db, graph.release_id));
  if (lineage) console.log(`\n$ backfill lineage ${graph.release_id}\n${formatLineage(lineage)}`);
  const end = await follow(client, handle.workflowId, (s) => !s.rollback.open || s.state !== 'published');
  console.log(`\nrelease ${end.releaseId}: ${end.state} — ${end.phase}`);
  return end;
}
