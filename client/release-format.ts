/**
 * Release graphs in the terminal: the status (one section per node), the lineage, and the plan in
 * topological order with what each downstream partition waits for. Batches are counted from 1.
 */
import type { Lineage, ReleaseGraph, ReleaseStatus, UpstreamWait } from '../contracts/release';
import type { Plan } from '../domain/plan';
import type { Partition } from '../domain/partitions';

const pct = (v: number | null) => (v === null ? 'n/a' : `${v >= 0 ? '+' : ''}${v.toFixed(3)}%`);
const n = (x: number) => x.toLocaleString('en-US');

export function formatReleaseStatus(s: ReleaseStatus): string {
  const lines = [
    `release ${s.releaseId}: ${s.state} — ${s.phase}`,
    `  ${s.range.start}..${s.range.end} by ${s.range.grain}; owner ${s.owner}; ` +
      `graph ${s.graphHash ?? '(not frozen yet)'}`,
  ];
  for (const node of s.nodes) {
    lines.push('');
    lines.push(`  [${node.node}] ${node.target} (${node.grain}) — ${node.state}: ${node.phase}`);
    lines.push(`    backfill ${node.backfillId}; batches ${node.batches.done}/${node.batches.total}, partitions ` +
      `${node.partitions.done}/${node.partitions.total}` +
      `${node.upstream.length ? `; reads ${node.upstream.join(', ')}` : ''}`);
    if (node.halt) {
      lines.push(`    halted at ${node.halt.batch === null ? 'the completion check' : `batch ${node.halt.batch}`}: ` +
        `${node.halt.reason} — backfill resolve ${node.backfillId} retry|abort|accept`);
    }
    if (node.summary) {
      const b = node.summary.batches;
      lines.push(`    reconciled: ${b.passed} passed, ${b.accepted} accepted of ${b.total} batches; rows ` +
        `${n(node.summary.rows.old)} → ${n(node.summary.rows.new)}`);
      for (const m of node.summary.measures) {
        lines.push(`      ${m.column}: ${pct(m.deltaPct)}${m.withinExpected ? '' : ' OUTSIDE EXPECTED'}`);
      }
    }
    if (node.error) lines.push(`    error: ${node.error}`);
  }
  lines.push('');
  if (s.state === 'awaiting_approval') {
    lines.push(`  approvers: ${s.approval.approvers.join(', ')}; deadline ${s.approval.deadline}`);
  }
  if (s.decisionDigest) {
    const signed = s.signaturesRequired ? ' (decisions must be signed: --key)' : '';
    lines.push(`  decision digest ${s.decisionDigest}${signed}`);
  }
  const p = s.record?.publish;
  const back = s.record?.rollback;
  const off = s.record?.signoff;
  if (p) {
    // Once rolled back or signed off, the rollback window is no longer open: not shown.
    lines.push(`  published ${p.publishedAt} by approval of ${p.approvedBy}` +
      `${back || off ? '' : `; rollback window until ${p.rollbackExpiresAt}`}`);
  }
  if (back) lines.push(`  rolled back ${back.at} by ${back.by}: ${back.reason}`);
  if (off) lines.push(`  signed off ${off.at} by ${off.by}`);
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  const r = s.lastRefusal;
  if (r) lines.push(`  last refusal: ${r.request} by ${r.by}: ${r.reason}`);
  if (s.error) lines.push(`  error: ${s.error}`);
  return lines.join('\n');
}

export function formatLineage(l: Lineage): string {
  const lines = [
    `release ${l.releaseId}: ${l.status} — ${l.reason.issue}: ${l.reason.change}`,
    `  owner ${l.owner}; started ${l.startedAt} by ${l.startedBy}; graph ${l.graphHash}`,
  ];
  if (l.publish) {
    lines.push(`  published ${l.publish.publishedAt}, approved by ${l.publish.approvedBy}` +
      `${l.publish.approval?.digest ? ` (digest ${l.publish.approval.digest.slice(0, 12)}…)` : ''}; ` +
      `rollback window until ${l.publish.rollbackExpiresAt}`);
  }
  if (l.rollback) lines.push(`  rolled back ${l.rollback.at} by ${l.rollback.by}: ${l.rollback.reason}`);
  if (l.signoff) lines.push(`  signed off ${l.signoff.at} by ${l.signoff.by}`);
  if (l.error) lines.push(`  error: ${l.error}`);
  for (const node of l.nodes) {
    const b = l.batches[node.id];
    const rows = l.publish?.nodes.find((x) => x.id === node.id);
    const restored = l.rollback?.nodes.find((x) => x.id === node.id);
    lines.push('');
    const range = `${node.range.start}..${node.range.end}`;
    lines.push(`  ${node.id}: ${node.target} (${node.grain}, ${range}, ${node.publishMode})`);
    const inputs = [...node.upstream.map((u) => `${u} (node, read from its shadow)`), ...node.inputs];
    lines.push(`    inputs: ${inputs.join(', ') || 'none declared'}`);
    const frozen = Object.keys(l.frozenInputs[node.id] ?? {});
    if (frozen.length) lines.push(`    schemas frozen at start: ${frozen.join(', ')}`);
    lines.push(`    transform ${node.transformHash}, code ${node.codeVersion ?? 'n/a'}; backfill ${node.backfillId}`);
    if (b) {
      const verdicts = Object.entries(b.verdicts).map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
      lines.push(`    batches ${b.batches} (${b.partitions} partitions): ${verdicts}`);
    }
    if (rows) lines.push(`    published: ${n(rows.rowsDeleted)} rows replaced by ${n(rows.rowsInserted)}`);
    if (restored) lines.push(`    rolled back: ${n(restored.rowsRestored)} rows restored`);
  }
  return lines.join('\n');
}

/** The waits of a downstream node's first partitions, e.g. "2025-01 waits for daily_revenue 2025-01-01..2025-02-01". */
export function waitLines(waits: Array<{ partition: Partition; waits: UpstreamWait[] }>, max = 3): string[] {
  const lines = waits.slice(0, max).map(({ partition, waits: w }) =>
    `      ${partition.start} waits for ${w.map((x) =>
      `${x.node} ${x.range.start}..${x.range.end} (${x.partitions} ${x.grain}${x.partitions === 1 ? '' : 's'})`)
      .join(' and ')}`);
  if (waits.length > max) lines.push(`      … and likewise for the other ${waits.length - max} partitions`);
  return lines;
}

export function formatGraphPlan(
  graph: ReleaseGraph,
  plans: Array<{ id: string; plan: Plan; waits: Array<{ partition: Partition; waits: UpstreamWait[] }> }>,
  engine: string,
): string {
  const lines = [
    `Release ${graph.release_id} (${engine}): ${graph.nodes.length} nodes in dependency order, ` +
      `${graph.source_range.start}..${graph.source_range.end}`,
    `  ${graph.reason.issue}: ${graph.reason.change}`,
  ];
  let rows = 0;
  let bytes = 0;
  let seconds = 0;
  for (const [i, { id, plan, waits }] of plans.entries()) {
    const node = graph.nodes.find((x) => x.id === id)!;
    const t = plan.totals;
    rows += t.rows ?? 0;
    bytes += t.bytes ?? 0;
    seconds += t.seconds ?? 0;
    lines.push('');
    lines.push(`  ${i + 1}. ${id}: ${node.spec.target.table} by ${node.spec.source_range.grain}, ` +
      `${node.spec.source_range.start}..${node.spec.source_range.end}`);
    lines.push(`     reads ${[...node.upstream.map((u) => `${u} (its shadow)`), ...node.inputs].join(', ') || '—'}`);
    lines.push(`     ${n(t.partitions)} partitions in ${n(t.batches)} batches; est. ${n(t.rows ?? 0)} rows, ` +
      `${n(Math.round(t.bytes ?? 0))} bytes, ${(t.seconds ?? 0).toFixed(1)} s` +
      `${t.cost ? `, ${t.cost.amount.toFixed(2)} ${t.cost.unit}` : ''}`);
    if (waits.length) lines.push(...waitLines(waits));
  }
  lines.push('');
  lines.push(`  Total: est. ${n(rows)} rows, ${n(Math.round(bytes))} bytes, ${seconds.toFixed(1)} s (nodes that ` +
    'do not wait for each other run at the same time). One approval, one publish of every node in one transaction.');
  return lines.join('\n');
}
