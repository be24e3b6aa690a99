/**
 * What reconciliation needs from the warehouse for one batch: per-partition statistics of
 * production (old) and shadow (new), and the largest changed rows joined on the unique key.
 * The verdict itself is pure (domain/reconcile.ts).
 */
import type { Partition } from '../domain/partitions';
import type { BatchEvidence, ChangedRow, PartitionComparison } from '../domain/reconcile';
import type { BackfillSpec } from '../domain/spec/schema';
import { tablesOf } from './shadow';
import type { Db, Driver, PartitionStatsSpec, QueryOptions, Row } from './warehouse';
import type { TableName } from './identifiers';

/** One partition's statistics in one table: what reconciliation compares. */
export interface PartitionStats {
  rows: number;
  distinctKeys: number;
  sums: Record<string, string | null>;
  nulls: Record<string, number>;
}
type Stats = PartitionStats;

/** Per-partition statistics of both sides of a batch, keyed by partition label. */
export interface BatchStats {
  /** Production's (old). */
  before: Record<string, Stats>;
  /** The shadow's (new). */
  after: Record<string, Stats>;
}

/**
 * Statistics of every partition in [from, to) of the shadow and of production, in one statement
 * whatever the number of partitions. Pass a transaction's session to read its uncommitted rows.
 * Keys and NULLs are counted on the shadow only: production's are what they are.
 */
export async function batchStats(db: Db, spec: BackfillSpec, from: string, to: string, opts?: QueryOptions) {
  const { target, shadow } = tablesOf(spec);
  const both = { ...statsSpec(spec, shadow, from, to), alongside: target };
  const rows = await db.query(db.dialect.partitionStats(both), opts);
  const out: BatchStats = { before: {}, after: {} };
  for (const r of rows) (r.side === 'old' ? out.before : out.after)[String(r.partition_start)] = statsOf(spec, r);
  return out;
}

/** Statistics of every partition of `table` in [from, to) alone (tests compare with batchStats). */
export async function statsByPartition(
  db: Db,
  spec: BackfillSpec,
  table: TableName,
  from: string,
  to: string,
  opts?: QueryOptions,
) {
  const rows = await db.query(db.dialect.partitionStats(statsSpec(spec, table, from, to)), opts);
  // (A Record, so a partition absent from the table reads as emptyStats.)
  return Object.fromEntries(rows.map((r) => [String(r.partition_start), statsOf(spec, r)]));
}

const statsSpec = (spec: BackfillSpec, table: TableName, from: string, to: string): PartitionStatsSpec => ({
  table, partitionKey: spec.target.partition_key, grain: spec.source_range.grain, from, to,
  uniqueKey: spec.target.unique_key ?? [spec.target.partition_key], measures: spec.measures.map((m) => m.column),
  notNull: spec.validation.not_null,
});

function statsOf(spec: BackfillSpec, r: Row): Stats {
  return {
    rows: Number(r.row_count),
    distinctKeys: Number(r.distinct_keys ?? r.row_count),
    sums: Object.fromEntries(
      spec.measures.map((m, i) => [m.column, r[`measure_${i}`] === null ? null : String(r[`measure_${i}`])]),
    ),
    nulls: Object.fromEntries(spec.validation.not_null.map((c, i) => [c, Number(r[`nulls_${i}`] ?? 0)])),
  };
}

function emptyStats(spec: BackfillSpec): Stats {
  return {
    rows: 0,
    distinctKeys: 0,
    sums: Object.fromEntries(spec.measures.map((m) => [m.column, null])),
    nulls: Object.fromEntries(spec.validation.not_null.map((c) => [c, 0])),
  };
}

const changedRow = (keys: readonly string[], measure: string) => (r: Row): ChangedRow => ({
  key: Object.fromEntries(keys.map((k) => [k, r[k] as string | number | null])),
  measure,
  oldValue: r.old_value === null ? null : Number(r.old_value),
  newValue: r.new_value === null ? null : Number(r.new_value),
  delta: Number(r.delta),
});

/**
 * A batch's evidence in a fixed number of statements whatever its size: both sides' statistics in
 * one (or `stats`, read by the rewrite inside its transaction), then the changed rows of every
 * measure in one.
 */
export async function gatherBatchEvidence(
  db: Driver,
  spec: BackfillSpec,
  batchIndex: number,
  partitions: Partition[],
  opts?: QueryOptions,
  stats?: BatchStats,
): Promise<BatchEvidence> {
  const { target, shadow } = tablesOf(spec);
  const from = partitions[0]!.start;
  const to = partitions[partitions.length - 1]!.end;
  const { before, after } = stats ?? await batchStats(db, spec, from, to, opts);
  const comparisons: PartitionComparison[] = partitions.map((p) => {
    const o = before[p.start] ?? emptyStats(spec);
    const n = after[p.start] ?? emptyStats(spec);
    return {
      partition: p.start,
      oldRows: o.rows,
      newRows: n.rows,
      newDistinctKeys: n.distinctKeys,
      nullViolations: n.nulls,
      oldSums: o.sums,
      newSums: n.sums,
    };
  });
  const keys = spec.target.unique_key ?? [spec.target.partition_key];
  const topChangedRows: ChangedRow[] = [];
  const measures = spec.measures.map((m) => m.column);
  if (measures.length) {
    const rows = await db.query(
      db.dialect.changedRows({
        before: target, after: shadow, partitionKey: spec.target.partition_key, grain: spec.source_range.grain,
        from, to, uniqueKey: keys, measures, limit: spec.validation.sample_rows,
      }),
      opts,
    );
    for (const [i, m] of measures.entries()) {
      topChangedRows.push(...rows.filter((r) => Number(r.measure_index) === i).map(changedRow(keys, m)));
    }
  }
  return { batchIndex, partitions: comparisons, plannedPartitions: partitions.map((p) => p.start), topChangedRows };
}
