/**
 * domain/graph/plan.ts: the order nodes run in (stable, cycles listed), what a node's partition waits
 * for upstream (a month waits for its days, a day for its hours, the same grain for the same
 * partition), and the plan's lines.
 */
import { describe, expect, it } from 'vitest';
import { graphPlanLines, isGraphSpec, topologicalOrder, upstreamWaits } from '../../../domain/graph/plan';
import { baseGraph, DAILY_SQL, editedGraph, node, parsed } from '../../support/graph-fixtures';

const n = (id: string, ...upstream: string[]) => ({ id, upstream });

describe('topologicalOrder', () => {
  it('places every node after its upstream nodes, keeping the written order among independent ones', () => {
    expect(topologicalOrder([n('c', 'b'), n('b', 'a'), n('a')])).toEqual({ ok: true, order: ['a', 'b', 'c'] });
    expect(topologicalOrder([n('x'), n('d', 'a'), n('a'), n('y')]))
      .toEqual({ ok: true, order: ['x', 'a', 'd', 'y'] });
    // A diamond: both middle nodes in written order, the join last.
    expect(topologicalOrder([n('join', 'right', 'left'), n('right', 'root'), n('left', 'root'), n('root')]))
      .toEqual({ ok: true, order: ['root', 'right', 'left', 'join'] });
  });

  it('ignores upstream ids that name no node, and repeated ones', () => {
    expect(topologicalOrder([n('b', 'a', 'a', 'ghost'), n('a')])).toEqual({ ok: true, order: ['a', 'b'] });
    expect(topologicalOrder([])).toEqual({ ok: true, order: [] });
  });

  it('lists each cycle once, closed, from its first written node, each node reading the one before it', () => {
    expect(topologicalOrder([n('a', 'b'), n('b', 'a')])).toEqual({ ok: false, cycles: [['a', 'b', 'a']] });
    // c reads b, b reads a, a reads c: data flows a → b → c → a.
    expect(topologicalOrder([n('c', 'b'), n('a', 'c'), n('b', 'a')]))
      .toEqual({ ok: false, cycles: [['c', 'a', 'b', 'c']] });
    expect(topologicalOrder([n('solo', 'solo')])).toEqual({ ok: false, cycles: [['solo', 'solo']] });
  });

  it('reports separate cycles separately, and not the nodes merely downstream of one', () => {
    const r = topologicalOrder([
      n('ok'), n('a', 'b'), n('b', 'a', 'ok'), n('down', 'b'), n('x', 'y'), n('y', 'x'), n('after', 'down', 'y'),
    ]);
    expect(r).toEqual({ ok: false, cycles: [['a', 'b', 'a'], ['x', 'y', 'x']] });
  });
});

describe('upstreamWaits', () => {
  const graph = parsed(baseGraph());

  it('a month waits for the days inside it', () => {
    expect(upstreamWaits(graph, 'monthly_revenue', { start: '2025-01-01', end: '2025-02-01' })).toEqual([
      { node: 'daily_revenue', grain: 'day', range: { start: '2025-01-01', end: '2025-02-01' }, partitions: 31 },
    ]);
    expect(upstreamWaits(graph, 'monthly_revenue', { start: '2025-02-01', end: '2025-03-01' })[0]!.partitions)
      .toBe(28);
  });

  it('the same grain waits for the same partition', () => {
    expect(upstreamWaits(graph, 'merchant_ltv_monthly', { start: '2025-03-01', end: '2025-04-01' })).toEqual([
      { node: 'monthly_revenue', grain: 'month', range: { start: '2025-03-01', end: '2025-04-01' }, partitions: 1 },
    ]);
  });

  it('a batch of several partitions waits for all of theirs', () => {
    expect(upstreamWaits(graph, 'monthly_revenue', { start: '2024-02-01', end: '2024-04-01' })).toEqual([
      { node: 'daily_revenue', grain: 'day', range: { start: '2024-02-01', end: '2024-04-01' }, partitions: 60 },
    ]);
  });

  it('a node without upstream nodes waits for nothing', () => {
    expect(upstreamWaits(graph, 'daily_revenue', { start: '2025-01-01', end: '2025-01-02' })).toEqual([]);
  });

  it('a day waits for its 24 hours, one wait per upstream node in ref order', () => {
    const hourly = parsed(editedGraph((s) => {
      s.source_range = { start: '2025-01-01T00:00', end: '2025-01-31T23:00', grain: 'hour' };
      s.nodes = [
        node('finance.hourly_revenue', DAILY_SQL),
        node('finance.hourly_fees', DAILY_SQL),
        node('finance.daily_revenue', "SELECT * FROM {{ ref('finance.hourly_revenue') }} JOIN " +
          "{{ ref('finance.hourly_fees') }} USING (h) WHERE h >= :partition_start AND h < :partition_end",
        { grain: 'day' }),
      ];
    }));
    expect(upstreamWaits(hourly, 'daily_revenue', { start: '2025-01-05', end: '2025-01-06' })).toEqual([
      {
        node: 'hourly_revenue',
        grain: 'hour',
        range: { start: '2025-01-05T00:00:00', end: '2025-01-06T00:00:00' },
        partitions: 24,
      },
      {
        node: 'hourly_fees',
        grain: 'hour',
        range: { start: '2025-01-05T00:00:00', end: '2025-01-06T00:00:00' },
        partitions: 24,
      },
    ]);
  });

  it('refuses an unknown node or a range that is not partitions of the node', () => {
    expect(() => upstreamWaits(graph, 'weekly', { start: '2025-01-01', end: '2025-02-01' }))
      .toThrow('release revenue-release-2025-h1 has no node "weekly"; its nodes are daily_revenue, monthly_revenue');
    expect(() => upstreamWaits(graph, 'monthly_revenue', { start: '2025-02-01', end: '2025-02-01' }))
      .toThrow(/is not a range of month partitions of node monthly_revenue/);
    expect(() => upstreamWaits(graph, 'monthly_revenue', { start: 'soon', end: '2025-02-01' })).toThrow(RangeError);
  });
});

describe('isGraphSpec', () => {
  it('is true for an object with release_id and nodes, false for a backfill spec or anything else', () => {
    expect(isGraphSpec(baseGraph())).toBe(true);
    expect(isGraphSpec({ release_id: 'x', nodes: [] })).toBe(true);
    expect(isGraphSpec({ backfill_id: 'x', target: {} })).toBe(false);
    expect(isGraphSpec({ nodes: [] })).toBe(false);
    for (const v of [null, undefined, 'nodes', 1, [], [{ release_id: 'x', nodes: [] }]]) {
      expect(isGraphSpec(v)).toBe(false);
    }
  });
});

describe('graphPlanLines', () => {
  it('lists the nodes in run order with their partitions, reads and waits', () => {
    const lines = graphPlanLines(parsed(baseGraph()));
    expect(lines[0]).toBe(
      'Release revenue-release-2025-h1: 3 nodes over 2025-01-01 .. 2025-06-30 (inclusive, day), in this order:',
    );
    expect(lines).toContain(
      '  1. daily_revenue: finance.daily_revenue (181 day partitions), built in ' +
        'finance.daily_revenue__shadow_revenue_release_2025_h1__daily_revenue',
    );
    expect(lines).toContain('     reads staging.revenue_events (production)');
    expect(lines).toContain(
      '     after daily_revenue (reads its corrected finance.daily_revenue): each month waits for the days inside ' +
        'it (31 for 2025-01-01)',
    );
    expect(lines).toContain(
      '     after monthly_revenue (reads its corrected finance.monthly_revenue): each month waits for the same month',
    );
  });
});

describe('upstreamWaits with waits_for: range_to_date', () => {
  it('waits for every upstream partition from the range start to its end (a running total)', async () => {
    const { loadGraphFile } = await import('../../../client/load-graph');
    const { graph } = loadGraphFile(`${__dirname}/../../../examples/revenue-release.yaml`);
    const ltv = graph.nodes.find((x) => x.id === 'merchant_ltv_monthly')!;
    expect(ltv.waitsFor).toBe('range_to_date');
    expect(upstreamWaits(graph, ltv.id, { start: '2025-03-01', end: '2025-04-01' })).toEqual([
      { node: 'monthly_revenue', grain: 'month', range: { start: '2025-01-01', end: '2025-04-01' }, partitions: 3 },
    ]);
    // The monthly node itself waits only for its own month's days.
    expect(upstreamWaits(graph, 'monthly_revenue', { start: '2025-03-01', end: '2025-04-01' })[0]!.range)
      .toEqual({ start: '2025-03-01', end: '2025-04-01' });
  });
});
