/**
 * What reconciliation needs from the warehouse for one batch: per-partition statistics of
 * production (old) and shadow (new), and the largest changed rows joined on the unique key.
 * The verdict itself is pure (domain/reconcile.ts).
 */
import type { Partition } from '../domain/partitions';
import { isStatementRefusal } from '../contracts/errors';
import { SPEC_LIMITS } from '../contracts/limits';
import type { BatchEvidence, ChangedRow, CustomCheckResult, PartitionComparison } from '../domain/reconcile';
import { compileTransform, resolveCheckTables } from '../domain/transform-sql';
import type { BackfillSpec } from '../domain/spec/schema';
import { tablesOf } from './shadow';
import { queryReadOnly, type Db, type Driver, type PartitionStatsSpec, type QueryOptions, type Row } from './warehouse';
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
  const custom = await customCheckResults(db, spec, from, to, opts);
  return {
    batchIndex, partitions: comparisons, plannedPartitions: partitions.map((p) => p.start), topChangedRows,
    ...(custom.length ? { custom } : {}),
  };
}

/** A failing row's value for the checkpoint: text, bounded. */
function cellText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const text = v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * Runs each validation.checks[] SELECT over the batch's range (:partition_start/:partition_end bound,
 * {{shadow}} and {{target}} resolved), read-only, and keeps its first failing rows. A check that cannot run
 * is a result with its error, so the batch fails with what went wrong instead of the activity retrying.
 */
export async function customCheckResults(
  db: Driver,
  spec: BackfillSpec,
  from: string,
  to: string,
  opts?: QueryOptions,
): Promise<CustomCheckResult[]> {
  const checks = spec.validation.checks ?? [];
  if (!checks.length) return [];
  const { target, shadow } = tablesOf(spec);
  const tables = { shadow: db.dialect.table(shadow), target: db.dialect.table(target) };
  const kept = SPEC_LIMITS.checkRowsKept;
  const results: CustomCheckResult[] = [];
  for (const c of checks) {
    const compiled = compileTransform(resolveCheckTables(c.sql, tables), (i) =>
      db.dialect.boundValue(i, spec.source_range.grain));
    try {
      const rows = await queryReadOnly(
        db, { sql: `SELECT * FROM (${compiled.sql}) failing_rows LIMIT ${kept + 1}`, params: [from, to] }, opts);
      results.push({
        name: c.name,
        rows: rows.slice(0, kept).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, cellText(v)]))),
        more: rows.length > kept,
      });
    } catch (e) {
      if (!isStatementRefusal(e) || opts?.signal?.aborted) throw e;
      results.push({ name: c.name, rows: [], more: false, error: (e as Error).message.slice(0, 500) });
    }
  }
  return results;
}
