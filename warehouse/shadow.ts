/**
 * The writes a backfill makes before publish: the restore point, the shadow table, and partition
 * rewrites into the shadow. Production is only read here. Every operation is idempotent, because
 * activities run at least once.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { Partition } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';
import { compileTransform } from '../domain/transform-sql';
import { fingerprint, fingerprintDifferences, type Fingerprint } from './fingerprint';
import { columnNames, tableExists } from './catalog';
import { parseTableName, type TableName } from './identifiers';
import type { Driver, FingerprintSpec, QueryOptions } from './warehouse';

/** Bounds wide enough to cover any partition, for "everything outside this partition". */
const BEFORE_ALL = '0001-01-01';
const AFTER_ALL = '9999-12-31';

export interface ShadowTables {
  target: TableName;
  shadow: TableName;
  snapshot: TableName;
}

export function tablesOf(spec: BackfillSpec): ShadowTables {
  return {
    target: parseTableName(spec.target.table, 'target.table'),
    shadow: parseTableName(spec.target.shadow_table, 'target.shadow_table'),
    snapshot: parseTableName(spec.rollback.snapshot, 'rollback.snapshot'),
  };
}

/** Creates `table` with `create` unless it exists; returns whether it was created now. */
async function createOnce(db: Driver, table: TableName, create: string, opts?: QueryOptions): Promise<boolean> {
  if (await tableExists(db, table, opts)) return false;
  await db.execute(create, opts);
  return true;
}

/** The restore point: a copy of the trusted result, taken once and never overwritten. */
export function createSnapshot(db: Driver, spec: BackfillSpec, opts?: QueryOptions): Promise<boolean> {
  const t = tablesOf(spec);
  return createOnce(db, t.snapshot, db.dialect.cloneTable(t.snapshot, t.target), opts);
}

/**
 * The shadow, where corrected history is built. Range publish copies only the range out of it, so it
 * starts empty; view and swap publish it as a whole table, so it starts as a full copy of the target.
 */
export function createShadow(db: Driver, spec: BackfillSpec, opts?: QueryOptions): Promise<boolean> {
  const t = tablesOf(spec);
  const create = spec.publish.mode === 'range' ? db.dialect.createTableLike(t.shadow, t.target) : db.dialect.cloneTable(t.shadow, t.target);
  return createOnce(db, t.shadow, create, opts);
}

export function fingerprintSpec(spec: BackfillSpec, table: TableName, columns: readonly string[], from: string, to: string): FingerprintSpec {
  return {
    table,
    partitionKey: spec.target.partition_key,
    grain: spec.source_range.grain,
    from,
    to,
    uniqueKey: spec.target.unique_key ?? [spec.target.partition_key],
    measures: spec.measures.map((m) => m.column),
    hashColumns: columns.filter((c) => !spec.target.audit_columns.includes(c)),
  };
}

export interface RewriteResult {
  partition: string;
  rowsWritten: number;
}

/**
 * Rewrites one partition of the shadow: DELETE then INSERT from the transform inside ONE explicit
 * transaction, so a failed insert never leaves the partition empty (dbt-adapters#1931). Rows the
 * transform returns outside the partition abort the transaction. `columns` are the target's
 * (catalog.columnNames), read once by the caller rather than once per partition.
 */
export async function rewritePartition(
  db: Driver,
  spec: BackfillSpec,
  partition: Partition,
  columns: readonly string[],
  opts: QueryOptions = {},
): Promise<RewriteResult> {
  if (!spec.transform) throw new BackfillFailure(BackfillError.SpecNotRunnable, 'transform: the spec has no transform; add transform.sql or transform.sql_file.');
  const { shadow } = tablesOf(spec);
  const d = db.dialect;
  const grain = spec.source_range.grain;
  const list = columns.map(d.quoteIdent).join(', ');
  const key = d.quoteIdent(spec.target.partition_key);
  const inPartition = `${key} >= ${d.boundValue(1, grain)} AND ${key} < ${d.boundValue(2, grain)}`;
  const bounds = [partition.start, partition.end];
  const transform = compileTransform(spec.transform.sql, (i) => d.boundValue(i, grain));
  return db.transaction(async (tx) => {
    await tx.execute({ sql: `DELETE FROM ${d.table(shadow)} WHERE ${inPartition}`, params: bounds });
    const inserted = await tx.execute({
      sql: `INSERT INTO ${d.table(shadow)} (${list}) SELECT ${list} FROM (${transform.sql}) AS transformed`,
      params: bounds,
    });
    const [row] = await tx.query({ sql: `SELECT count(*) AS n FROM ${d.table(shadow)} WHERE ${inPartition}`, params: bounds });
    const inside = Number(row?.n ?? 0);
    if (inside !== inserted) {
      throw new BackfillFailure(
        BackfillError.TransformOutOfPartition,
        `transform: for partition ${partition.start} it returned ${inserted - inside} of ${inserted} rows outside ` +
          `[${partition.start}, ${partition.end}); filter on :partition_start and :partition_end. Nothing was written.`,
        { partition: partition.start },
      );
    }
    return { partition: partition.start, rowsWritten: inserted };
  }, opts);
}

export interface IdempotencyProof {
  partition: string;
  first: Fingerprint;
  second: Fingerprint;
  rowsWritten: number;
}

/**
 * Step 2 of the runbook: rewrite one partition into the shadow twice. Row count, distinct keys,
 * measure sums and row hash must match, and nothing outside the partition may change. A transform
 * using random() or the current time in a non-audit column fails here, before any batch runs.
 */
export async function proveIdempotency(db: Driver, spec: BackfillSpec, partition: Partition, opts: QueryOptions = {}): Promise<IdempotencyProof> {
  const { shadow } = tablesOf(spec);
  const columns = await columnNames(db, spec.target.table, opts);
  const slice = (from: string, to: string) => fingerprint(db, fingerprintSpec(spec, shadow, columns, from, to), opts);
  const outside = async () => [await slice(BEFORE_ALL, partition.start), await slice(partition.end, AFTER_ALL)];

  const outsideBefore = await outside();
  const { rowsWritten } = await rewritePartition(db, spec, partition, columns, opts);
  const first = await slice(partition.start, partition.end);
  await rewritePartition(db, spec, partition, columns, opts);
  const second = await slice(partition.start, partition.end);
  const outsideAfter = await outside();

  const differences = fingerprintDifferences(first, second);
  if (differences.length) {
    throw new BackfillFailure(
      BackfillError.NotIdempotent,
      `idempotency proof failed on ${partition.start}: rewriting it twice changed ${differences.join(', ')}. ` +
        `The transform is not deterministic (random(), the current time or an unordered window in a non-audit column?); ` +
        `fix it, or list per-run stamp columns in target.audit_columns.`,
      { partition: partition.start, differences },
    );
  }
  const moved = outsideBefore.flatMap((fp, i) => fingerprintDifferences(fp, outsideAfter[i]!));
  if (moved.length) {
    throw new BackfillFailure(
      BackfillError.NotIdempotent,
      `idempotency proof failed on ${partition.start}: rows outside the partition changed (${moved.join(', ')}).`,
      { partition: partition.start, differences: moved },
    );
  }
  return { partition: partition.start, first, second, rowsWritten };
}
