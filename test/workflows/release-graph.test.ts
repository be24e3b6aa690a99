/**
 * Release graphs on real parts: the dev server, the real worker and workflow bundle, DuckDB (and the
 * Snowflake emulator through snowflake-sdk). The example graph (examples/revenue-release.yaml):
 * daily revenue → monthly revenue → merchant lifetime value, one approval, one publish.
 */
import { describe, expect, it } from 'vitest';
import { startRelease } from '../../client/start-backfill';
import * as m from '../../contracts/messages';
import type { ReleaseGraph } from '../../contracts/release';
import { workflowIdFor } from '../../contracts/settings';
import { ControlStore } from '../../warehouse/control-store';
import { lineageOf } from '../../warehouse/release-graph';
import type { Driver } from '../../warehouse/warehouse';
import { useLabs, type Lab } from '../support/backfill-harness';
import { EXAMPLE_TARGETS, exampleGraph, waitForRelease } from '../support/release-harness';
import { decide } from '../support/decide';
import { tableDigests, tableSet, updateRefusal } from '../safety/support';

const { env, newLab } = useLabs();
const SLOW = 240_000;
const TARGETS = EXAMPLE_TARGETS;
const testGraph = exampleGraph;

const start = (l: Lab, graph: ReleaseGraph) =>
  startRelease(env().client, graph, { startedBy: 'vitest', taskQueue: l.taskQueue });

async function sumOf(db: Driver, sql: string): Promise<number> {
  const [row] = await db.query(sql);
  return Number(Object.values(row!)[0]);
}

describe.each(['duckdb', 'snowflake'] as const)('release graph on %s', (engine) => {
  it('runs the nodes in dependency order, each reading its upstream shadow, and publishes and rolls back all at once',
    async () => {
      const l = await newLab({ engine });
      const db = l.backing;
      const graph = testGraph('publish');
      const before = await tableDigests(db, TARGETS);
      const handle = await start(l, graph);
      const waiting = await waitForRelease(handle, (s) => s.state === 'awaiting_approval' || s.state === 'failed');
      expect(waiting.state, waiting.error ?? waiting.phase).toBe('awaiting_approval');
      expect(waiting.nodes.map((n) => [n.node, n.state])).toEqual([
        ['daily_revenue', 'awaiting_approval'], ['monthly_revenue', 'awaiting_approval'],
        ['merchant_ltv_monthly', 'awaiting_approval'],
      ]);
      for (const n of waiting.nodes) {
        expect(n.summary!.measures.every((x) => x.withinExpected), `${n.node} within expectations`).toBe(true);
      }

      // Dependency order: no month was checkpointed before the last day of that month passed.
      const store = new ControlStore(db);
      const [daily, monthly, ltv] = graph.nodes.map((n) => n.spec);
      const days = await store.checkpoints(daily!.backfill_id);
      for (const c of await store.checkpoints(monthly!.backfill_id)) {
        const monthEnd = new Date(Date.parse(`${c.lastPartition.slice(0, 7)}-01T00:00:00Z`));
        monthEnd.setUTCMonth(monthEnd.getUTCMonth() + 1);
        const lastDay = new Date(monthEnd.getTime() - 86_400_000).toISOString().slice(0, 10);
        const covering = days.find((d) => d.firstPartition <= lastDay && d.lastPartition >= lastDay)!;
        expect(Date.parse(c.startedAt!), `${c.firstPartition} after ${covering.lastPartition}`)
          .toBeGreaterThanOrEqual(Date.parse(covering.finishedAt));
      }

      // The monthly shadow sums the corrected daily shadow, not production's daily rows.
      const month = `revenue_month = DATE '2025-03-01'`;
      const days3 = `revenue_date >= DATE '2025-03-01' AND revenue_date < DATE '2025-04-01'`;
      const monthlyShadow =
        await sumOf(db, `SELECT sum(net_revenue) FROM ${monthly!.target.shadow_table} WHERE ${month}`);
      const dailyShadow = await sumOf(db, `SELECT sum(net_revenue) FROM ${daily!.target.shadow_table} WHERE ${days3}`);
      const dailyProduction = await sumOf(db, `SELECT sum(net_revenue) FROM finance.daily_revenue WHERE ${days3}`);
      expect(monthlyShadow).toBeCloseTo(dailyShadow, 2);
      expect(Math.abs(monthlyShadow - dailyProduction)).toBeGreaterThan(1);

      // One approval; one publish of every node.
      const digest = waiting.decisionDigest!;
      expect(digest).toMatch(/^[0-9a-f]{64}$/);
      await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'all three nodes reviewed' });
      const published = await waitForRelease(handle, (s) => s.state === 'published' || s.state === 'failed');
      expect(published.state, published.error ?? '').toBe('published');
      for (const n of [daily!, monthly!, ltv!]) {
        const key = n.target.partition_key;
        const range = `${key} >= DATE '2025-01-01' AND ${key} < DATE '2025-07-01'`;
        const cols = key === 'revenue_date' ? 'net_revenue' : key === 'revenue_month' && n === ltv
          ? 'lifetime_net_revenue' : 'net_revenue';
        expect(await sumOf(db, `SELECT sum(${cols}) FROM ${n.target.table} WHERE ${range}`), n.target.table)
          .toBeCloseTo(await sumOf(db, `SELECT sum(${cols}) FROM ${n.target.shadow_table} WHERE ${range}`), 2);
      }
      const lineage = (await lineageOf(db, graph.release_id))!;
      expect(lineage.status).toBe('published');
      expect(lineage.nodes.map((n) => [n.id, n.upstream])).toEqual([
        ['daily_revenue', []], ['monthly_revenue', ['daily_revenue']], ['merchant_ltv_monthly', ['monthly_revenue']],
      ]);
      for (const n of lineage.nodes) {
        expect(n.transformHash).toMatch(/^[0-9a-f]{16}$/);
        expect(n.codeVersion).toBe('git:8f31c2a');
        expect(lineage.batches[n.id]!.verdicts.passed).toBeGreaterThan(0);
      }
      expect(lineage.publish!.nodes.map((n) => n.target)).toEqual(TARGETS);
      expect(lineage.publish!.approval?.digest).toBe(digest);
      expect(lineage.frozenInputs.daily_revenue).toHaveProperty(['staging.revenue_events']);

      // One rollback restores every node exactly.
      await decide(handle, m.rollbackUpdate, { by: 'finance-data', reason: 'release test: restore' });
      const rolled = await waitForRelease(handle, (s) => s.state === 'rolled_back' || s.state === 'failed');
      expect(rolled.state, rolled.error ?? '').toBe('rolled_back');
      await handle.result();
      // The release's own history does not grow with batches: node starts, a few signals per node.
      const { events } = await handle.fetchHistory();
      // (142 here for 3 nodes; a signal per batch would add about 150.)
      expect(events!.length).toBeLessThan(40 + 40 * graph.nodes.length);
      expect(await tableDigests(db, TARGETS)).toEqual(before);
      expect((await lineageOf(db, graph.release_id))!.status).toBe('rolled_back');
      for (const n of graph.nodes) expect(await store.leaseOf(n.spec.target.table)).toBeNull();
    }, SLOW);

  it('refuses the whole publish when the last node\'s INSERT fails: every table stays as it was', async () => {
    const l = await newLab({ engine });
    const db = l.backing;
    const graph = testGraph('atomic');
    const handle = await start(l, graph);
    const waiting = await waitForRelease(handle, (s) => s.state === 'awaiting_approval' || s.state === 'failed');
    expect(waiting.state, waiting.error ?? waiting.phase).toBe('awaiting_approval');
    const ltv = graph.nodes[2]!.spec;
    // A NOT NULL column the validation does not check: the structural re-check passes, the INSERT fails.
    await db.execute(`ALTER TABLE ${ltv.target.table} ALTER COLUMN lifetime_order_count SET NOT NULL`);
    await db.execute(`UPDATE ${ltv.target.shadow_table} SET lifetime_order_count = NULL ` +
      `WHERE revenue_month = DATE '2025-06-01'`);
    const tables = await tableSet(db);
    const before = await tableDigests(db, tables);
    await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'go' });
    const failed = await waitForRelease(handle, (s) => s.state === 'failed');
    expect(failed.error).toMatch(/NOT NULL|null/i);
    expect(failed.phase).toMatch(/production untouched/);
    await handle.result().catch(() => undefined);
    expect(await tableSet(db)).toEqual(tables);
    expect(await tableDigests(db, tables)).toEqual(before);
    const store = new ControlStore(db);
    for (const n of graph.nodes) {
      expect(await store.releaseOf(n.spec.backfill_id), `${n.id} has no release row`).toBeNull();
      expect(await store.leaseOf(n.spec.target.table)).toBeNull();
    }
    expect((await lineageOf(db, graph.release_id))!.status).toBe('failed');
  }, SLOW);
  it('a halt in the middle node stops the nodes that read it, not the ones it reads', async () => {
    const l = await newLab({ engine });
    const graph = testGraph('halt');
    const monthly = graph.nodes[1]!.spec;
    const net = monthly.measures.find((x) => x.column === 'net_revenue')!;
    net.expected_delta = { min: 5, max: 6 };
    net.batch_delta = { min: 5, max: 6 };
    const digests = await tableDigests(l.backing, TARGETS);
    const handle = await start(l, graph);
    const halted = await waitForRelease(handle, (s) =>
      s.nodes[1]!.state === 'halted' && s.nodes[0]!.state === 'awaiting_approval');
    expect(halted.nodes[1]!.halt!.batch).toBe(1);
    expect(halted.state).toBe('running');
    expect(halted.phase).toMatch(/halted: monthly_revenue/);
    // Its dependant waits: nothing of it was written, and it says what it waits for.
    const ltv = halted.nodes[2]!;
    expect(ltv.batches.done).toBe(0);
    const child = env().client.workflow.getHandle(workflowIdFor(graph.nodes[2]!.spec.backfill_id));
    const ltvStatus = await child.query(m.statusQuery);
    expect(ltvStatus.phase).toMatch(/waiting for upstream partitions: monthly_revenue 0 of \d+ months/);
    // Aborting the node stops the release; nothing was published and every lease is released.
    const node = env().client.workflow.getHandle(workflowIdFor(monthly.backfill_id));
    await node.executeUpdate(m.resolveUpdate, { args: [{ action: 'abort', by: 'oncall', reason: 'wrong band' }] });
    const failed = await waitForRelease(handle, (s) => s.state === 'failed');
    expect(failed.error).toMatch(/abort/i);
    await handle.result().catch(() => undefined);
    expect(await tableDigests(l.backing, TARGETS)).toEqual(digests);
    const store = new ControlStore(l.backing);
    for (const n of graph.nodes) expect(await store.leaseOf(n.spec.target.table)).toBeNull();
  }, SLOW);

  it('refuses view or swap publishing of several nodes where DDL autocommits, before any write', async () => {
    const l = await newLab({ engine });
    const graph = testGraph('modes');
    const monthly = graph.nodes[1]!.spec;
    monthly.publish = { ...monthly.publish, mode: 'swap' };
    const tables = await tableSet(l.backing);
    const handle = await start(l, graph);
    if (engine === 'snowflake') {
      const failed = await waitForRelease(handle, (s) => s.state === 'failed');
      expect(failed.error)
        .toMatch(/nodes\[1\]\.publish\.mode: monthly_revenue publishes in swap mode.*use mode: range/);
      expect(await tableSet(l.backing)).toEqual(tables);
    } else {
      // DuckDB's DDL is transactional: the swap joins the one publish transaction.
      const waiting = await waitForRelease(handle, (s) => s.state === 'awaiting_approval' || s.state === 'failed');
      expect(waiting.state, waiting.error ?? '').toBe('awaiting_approval');
      await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'swap' });
      const published = await waitForRelease(handle, (s) => s.state === 'published' || s.state === 'failed');
      expect(published.state, published.error ?? '').toBe('published');
    }
  }, SLOW);
});

describe('release graph signoff', () => {
  it('signs off the release, drops every node\'s shadow and restore point, and keeps the lineage', async () => {
    const l = await newLab();
    const graph = testGraph('signoff');
    const tables = await tableSet(l.backing);
    const handle = await start(l, graph);
    const waiting = await waitForRelease(handle, (s) => s.state === 'awaiting_approval' || s.state === 'failed');
    expect(waiting.state, waiting.error ?? waiting.phase).toBe('awaiting_approval');
    await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'ok' });
    await waitForRelease(handle, (s) => s.state === 'published');
    // Only who may: the owner, an approver or who started it.
    expect((await updateRefusal(decide(handle, m.signoffUpdate, { by: 'stranger' }))).message)
      .toMatch(/not an approver/);
    await decide(handle, m.signoffUpdate, { by: 'finance-data', comment: 'numbers confirmed' });
    const done = await waitForRelease(handle, (s) => s.state === 'completed' || s.state === 'failed');
    expect(done.state, done.error ?? '').toBe('completed');
    expect(done.nodes.map((n) => n.state)).toEqual(['completed', 'completed', 'completed']);
    await handle.result();
    // Every node's own tables are gone; production tables stay, corrected.
    expect(await tableSet(l.backing)).toEqual(tables);
    const lineage = (await lineageOf(l.backing, graph.release_id))!;
    expect(lineage.status).toBe('signed_off');
    expect(lineage.signoff?.by).toBe('finance-data');
    expect(lineage.nodes.map((n) => lineage.batches[n.id]!.batches)).toEqual([26, 6, 6]);
    const store = new ControlStore(l.backing);
    for (const n of graph.nodes) {
      expect((await store.releaseOf(n.spec.backfill_id))?.status).toBe('signed_off');
      expect(await store.leaseOf(n.spec.target.table)).toBeNull();
    }
  }, SLOW);
});

describe('release graph halts and refusals', () => {
  it('refuses a node whose output no longer matches its target before any write, naming the column', async () => {
    const l = await newLab();
    await l.backing.execute('ALTER TABLE finance.monthly_revenue ADD COLUMN legacy_flag BOOLEAN');
    const tables = await tableSet(l.backing);
    const digests = await tableDigests(l.backing, tables);
    const graph = testGraph('compat');
    const handle = await start(l, graph);
    const failed = await waitForRelease(handle, (s) => s.state === 'failed');
    expect(failed.error).toMatch(/nodes\[1\]\.transform \(monthly_revenue\).*legacy_flag/);
    expect(await tableSet(l.backing)).toEqual(tables);
    expect(await tableDigests(l.backing, tables)).toEqual(digests);
  }, SLOW);

  it('halts a node whose frozen input changed mid-run, saying what changed', async () => {
    const l = await newLab();
    const graph = testGraph('frozen');
    const handle = await start(l, graph);
    const daily = env().client.workflow.getHandle(workflowIdFor(graph.nodes[0]!.spec.backfill_id));
    // Paused before its first batch (the pause lands while it prepares), then the input changes.
    await waitForRelease(handle, (s) => s.state === 'running');
    await daily.signal(m.pauseSignal, { by: 'vitest', reason: 'hold before batch 1' });
    await new Promise((r) => setTimeout(r, 1500));
    await l.backing.execute('ALTER TABLE staging.revenue_events ADD COLUMN fx_rate DOUBLE');
    await daily.signal(m.resumeSignal, { by: 'vitest' });
    const halted = await waitForRelease(handle, (s) => s.nodes[0]!.state === 'halted');
    expect(halted.nodes[0]!.halt!.reason).toMatch(/staging\.revenue_events: column fx_rate( DOUBLE)? added/);
    await handle.executeUpdate(m.cancelUpdate, { args: [{ by: 'vitest', reason: 'schema changed' }] });
    await waitForRelease(handle, (s) => s.state === 'failed');
  }, SLOW);
});
