/**
 * What a release graph implies, pure and deterministic (the release workflow may call it): the order
 * nodes run in, and which upstream partitions a node's partition waits for. Grains only ever map
 * from finer to coarser (domain/graph/parse.ts refuses the rest), so a partition of a node always
 * holds whole partitions of each upstream node.
 */
import type { ReleaseGraph, ReleaseNode, UpstreamWait } from '../../contracts/release';
import {
  ordinalAtMs,
  ordinalStartMs,
  partitionCount,
  partitionLabel,
  partitionOrdinal,
  rangeOrdinals,
  type Grain,
  type Partition,
} from '../partitions';

/** A node as far as ordering goes: its id and the ids it reads. */
export interface OrderedNode {
  id: string;
  upstream: readonly string[];
}

/**
 * Either every id in dependency order, or the cycles that prevent one. A cycle is listed in data
 * order, closed, starting from its node that comes first in the input: [a, b, a] means b reads a
 * and a reads b.
 */
export type TopologicalOrder = { ok: true; order: string[] } | { ok: false; cycles: string[][] };

/**
 * Kahn's algorithm, stable: of the nodes whose upstream nodes are all placed, the one listed first
 * goes next, so independent nodes keep the order they were written in. Ids in `upstream` that name
 * no node are ignored (the parser has refused them).
 */
export function topologicalOrder(nodes: readonly OrderedNode[]): TopologicalOrder {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const ups = nodes.map((n) => [...new Set(n.upstream)].map((u) => index.get(u)).filter((u) => u !== undefined));
  const placed = new Set<number>();
  const order: string[] = [];
  for (;;) {
    const next = nodes.findIndex((_, i) => !placed.has(i) && ups[i]!.every((u) => placed.has(u)));
    if (next === -1) break;
    placed.add(next);
    order.push(nodes[next]!.id);
  }
  if (order.length === nodes.length) return { ok: true, order };

  // Left over: nodes on a cycle, and nodes downstream of one. Walking upstream from any of them stays
  // among them and must come back to a node it has seen: that loop is a cycle.
  const left = new Set(nodes.map((_, i) => i).filter((i) => !placed.has(i)));
  const cycles: string[][] = [];
  const prune = () => {
    for (let changed = true; changed;) {
      changed = false;
      for (const i of left) {
        if (ups[i]!.every((u) => !left.has(u))) {
          left.delete(i);
          changed = true;
        }
      }
    }
  };
  prune();
  while (left.size) {
    const walk: number[] = [];
    let at = Math.min(...left);
    while (!walk.includes(at)) {
      walk.push(at);
      at = ups[at]!.find((u) => left.has(u))!;
    }
    const loop = walk.slice(walk.indexOf(at)).reverse(); // data order: each reads the one before it
    const first = loop.indexOf(Math.min(...loop));
    const rotated = [...loop.slice(first), ...loop.slice(0, first)];
    cycles.push([...rotated, rotated[0]!].map((i) => nodes[i]!.id));
    for (const i of loop) left.delete(i);
    prune();
  }
  return { ok: false, cycles };
}

const grainOf = (node: ReleaseNode) => node.spec.source_range.grain as Grain;

function nodeById(graph: ReleaseGraph, id: string): ReleaseNode {
  const node = graph.nodes.find((n) => n.id === id);
  if (!node) {
    throw new RangeError(
      `release ${graph.release_id} has no node ${JSON.stringify(id)}; ` +
        `its nodes are ${graph.nodes.map((n) => n.id).join(', ')}`,
    );
  }
  return node;
}

/**
 * What `partition` of node `nodeId` waits for: for each upstream node, the upstream partitions that
 * lie inside it, as one half-open range at the upstream's grain. A month waits for the days (or
 * hours) inside it; at the same grain a partition waits for the same partition. `partition` may
 * also be a batch's whole range [start, end) at the node's grain.
 */
export function upstreamWaits(graph: ReleaseGraph, nodeId: string, partition: Partition): UpstreamWait[] {
  const node = nodeById(graph, nodeId);
  const grain = grainOf(node);
  const first = partitionOrdinal(partition.start, grain);
  const end = partitionOrdinal(partition.end, grain);
  if (first === null || end === null || end <= first) {
    throw new RangeError(
      `[${partition.start}, ${partition.end}) is not a range of ${grain} partitions of node ${nodeId}`,
    );
  }
  const startMs = ordinalStartMs(first, grain);
  const endMs = ordinalStartMs(end, grain);
  return node.upstream.map((id) => {
    const upstream = nodeById(graph, id);
    const up = grainOf(upstream);
    // range_to_date: from the upstream node's first partition (its range's start).
    const a = node.waitsFor === 'range_to_date'
      ? partitionOrdinal(upstream.spec.source_range.start, up)!
      : ordinalAtMs(startMs, up);
    const b = ordinalAtMs(endMs - 1, up) + 1;
    return {
      node: id,
      grain: up,
      range: { start: partitionLabel(a, up), end: partitionLabel(b, up) },
      partitions: b - a,
    };
  });
}

/** Whether `input` (a spec file's data) is a release graph spec rather than a single backfill spec. */
export function isGraphSpec(input: unknown): boolean {
  return typeof input === 'object' && input !== null && !Array.isArray(input) &&
    'nodes' in input && 'release_id' in input;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The release's plan in a few lines: each node in run order, its range, what it reads and waits for. */
export function graphPlanLines(graph: ReleaseGraph): string[] {
  const { start, end, grain } = graph.source_range;
  const lines = [
    `Release ${graph.release_id}: ${plural(graph.nodes.length, 'node')} over ${start} .. ${end} ` +
      `(inclusive, ${grain}), in this order:`,
  ];
  graph.nodes.forEach((node, i) => {
    const g = grainOf(node);
    const r = rangeOrdinals(node.spec.source_range.start, node.spec.source_range.end, g);
    const count = r ? partitionCount(r) : 0;
    lines.push(
      `  ${i + 1}. ${node.id}: ${node.spec.target.table} (${plural(count, `${g} partition`)}), ` +
        `built in ${node.spec.target.shadow_table}`,
    );
    if (node.inputs.length) lines.push(`     reads ${node.inputs.join(', ')} (production)`);
    const sample = r ? { start: partitionLabel(r.first, g), end: partitionLabel(r.first + 1, g) } : null;
    const waits = sample ? upstreamWaits(graph, node.id, sample) : [];
    for (const w of waits) {
      const up = nodeById(graph, w.node);
      lines.push(
        `     after ${w.node} (reads its corrected ${up.spec.target.table}): ` +
          (w.grain === g
            ? `each ${g} waits for the same ${g}`
            : `each ${g} waits for the ${w.grain}s inside it (${w.partitions} for ${sample!.start})`),
      );
    }
  });
  return lines;
}
