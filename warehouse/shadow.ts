/**
 * The writes a backfill makes before publish: the restore point, the shadow table, and partition
 * rewrites into the shadow. Production is only read here. Every operation is idempotent, because
 * activities run at least once.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { BackfillSpec } from '../domain/spec/schema';
import { compileTransform } from '../domain/transform-sql';
import { partitionAtOrdinal, rangeOrdinals, type Grain, type Partition } from '../domain/partitions';
import { compareFingerprints, fingerprint, fingerprintSpec, isFloatType, type Fingerprint } from './fingerprint';
import { columnNames, describeTable, tableExists } from './catalog';
import { parseTableName, type TableName } from './identifiers';
import { recordCreated, requireIntact, requireOwned, restorePointRecord } from './ownership';
import type { Driver, QueryOptions, Statement } from './warehouse';

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

/**
 * Creates this backfill's `role` table with `create`, only under a claim recorded before (see
 * warehouse/ownership.ts). A resumed run finds it created and checks it is still the table it
 * created; a crash between the CREATE and its record leaves the claim with the table present, which
 * is finished here. Returns whether the table was created now.
 */
async function createOwned(
  db: Driver,
  spec: BackfillSpec,
  role: 'shadow' | 'snapshot',
  table: TableName,
  create: string,
  at: string,
  opts?: QueryOptions,
): Promise<boolean> {
  const record = await requireOwned(db, spec, role, opts);
  if (record.status === 'created') {
    await requireIntact(
      db,
      spec,
      record,
      table,
      'Nothing was written; start the backfill under a new backfill_id (it takes new tables)',
      opts,
    );
    return false;
  }
  const created = !(await tableExists(db, table, opts));
  if (created) await db.execute(create, opts);
  const details = role === 'snapshot'
    ? await restorePointRecord(db, spec, table, publishedRange(spec.source_range), opts)
    : { columns: await columnNames(db, table, opts) };
  await recordCreated(db, spec, record, { ...details }, at, opts);
  return created;
}

/** An inclusive source_range as the half-open [start, end) that a publish replaces. */
export function publishedRange(range: { start: string; end: string; grain: string }): Partition {
  const grain = range.grain as Grain;
  const r = rangeOrdinals(range.start, range.end, grain);
  if (!r || r.last < r.first) {
    throw new BackfillFailure(
      BackfillError.InvalidSpec,
      `source_range: ${range.start} .. ${range.end} is not a valid ${range.grain} range.`,
    );
  }
  return { start: partitionAtOrdinal(r.first, grain).start, end: partitionAtOrdinal(r.last, grain).end };
}

/**
 * The restore point: a copy of the trusted result, taken once and never overwritten. Its
 * fingerprint over the range is recorded, so rollback can prove it restores from this copy.
 */
export function createSnapshot(db: Driver, spec: BackfillSpec, at: string, opts?: QueryOptions): Promise<boolean> {
  const t = tablesOf(spec);
  return createOwned(db, spec, 'snapshot', t.snapshot, db.dialect.cloneTable(t.snapshot, t.target), at, opts);
}

/**
 * The shadow, where corrected history is built. Range publish copies only the range out of it, so it
 * starts empty; view and swap publish it as a whole table, so it starts as a full copy of the target.
 */
export function createShadow(db: Driver, spec: BackfillSpec, at: string, opts?: QueryOptions): Promise<boolean> {
  const t = tablesOf(spec);
  const create =
    spec.publish.mode === 'range'
      ? db.dialect.createTableLike(t.shadow, t.target)
      : db.dialect.cloneTable(t.shadow, t.target);
  return createOwned(db, spec, 'shadow', t.shadow, create, at, opts);
}


export interface RewriteResult {
  partition: string;
  rowsWritten: number;
}

/**
 * The statements that rewrite a slice [from, to) of the shadow from the transform, the same for a
 * partition and for a whole batch: DELETE the slice, INSERT the transform's rows for it, count what
 * the slice then holds. `columns` are the target's (catalog.columnNames), read once by the caller.
 */
export function sliceRewrite(db: Pick<Driver, 'dialect'>, spec: BackfillSpec, columns: readonly string[]) {
  if (!spec.transform) {
    throw new BackfillFailure(
      BackfillError.SpecNotRunnable,
      'transform: the spec has no transform; add transform.sql or transform.sql_file.',
    );
  }
  const { shadow } = tablesOf(spec);
  const d = db.dialect;
  const grain = spec.source_range.grain;
  const list = columns.map(d.quoteIdent).join(', ');
  const key = d.quoteIdent(spec.target.partition_key);
  const inSlice = `${key} >= ${d.boundValue(1, grain)} AND ${key} < ${d.boundValue(2, grain)}`;
  const transform = compileTransform(spec.transform.sql, (i) => d.boundValue(i, grain));
  return {
    shadow,
    delete: (from: string, to: string): Statement => ({
      sql: `DELETE FROM ${d.table(shadow)} WHERE ${inSlice}`, params: [from, to],
    }),
    insert: (from: string, to: string): Statement => ({
      sql: `INSERT INTO ${d.table(shadow)} (${list}) SELECT ${list} FROM (${transform.sql}) AS transformed`,
      params: [from, to],
    }),
    count: (from: string, to: string): Statement => ({
      sql: `SELECT count(*) AS n FROM ${d.table(shadow)} WHERE ${inSlice}`, params: [from, to],
    }),
  };
}

/** What a transform returned outside the slice it was asked for: nothing was committed. */
export function outOfSlice(what: string, partition: Partition, inserted: number, inside: number): BackfillFailure {
  return new BackfillFailure(
    BackfillError.TransformOutOfPartition,
    `transform: for ${what} it returned ${inserted - inside} of ${inserted} rows outside ` +
      `[${partition.start}, ${partition.end}); filter on :partition_start and :partition_end. Nothing was written.`,
    { partition: partition.start },
  );
}

/**
 * Rewrites one partition of the shadow: DELETE then INSERT from the transform inside ONE explicit
 * transaction, so a failed insert never leaves the partition empty (dbt-adapters#1931). Rows the
 * transform returns outside the partition abort the transaction.
 */
export async function rewritePartition(
  db: Driver,
  spec: BackfillSpec,
  partition: Partition,
  columns: readonly string[],
  opts: QueryOptions = {},
): Promise<RewriteResult> {
  const slice = sliceRewrite(db, spec, columns);
  const { start, end } = partition;
  return db.transaction(async (tx) => {
    await tx.execute(slice.delete(start, end));
    const inserted = await tx.execute(slice.insert(start, end));
    const [row] = await tx.query(slice.count(start, end));
    const inside = Number(row?.n ?? 0);
    if (inside !== inserted) throw outOfSlice(`partition ${start}`, partition, inserted, inside);
    return { partition: start, rowsWritten: inserted };
  }, opts);
}

/** Fingerprints of the shadow over any slice, and how two of them compare, for the preparation proofs. */
export interface ShadowSlicer {
  /** The target's columns, in order. */
  columns: string[];
  /** Float columns (not audit columns): compared by their sums within tolerance, not in the row hash. */
  floats: Set<string>;
  take(from: string, to: string): Promise<Fingerprint>;
  compare(a: Fingerprint, b: Fingerprint): ReturnType<typeof compareFingerprints>;
}

export async function shadowSlicer(db: Driver, spec: BackfillSpec, opts: QueryOptions = {}): Promise<ShadowSlicer> {
  const { shadow } = tablesOf(spec);
  const info = await describeTable(db, spec.target.table, opts);
  const columns = info.map((c) => c.name);
  const floats = info
    .filter((c) => isFloatType(c.type) && !spec.target.audit_columns.includes(c.name))
    .map((c) => c.name);
  const measures = [...new Set([...spec.measures.map((m) => m.column), ...floats])];
  const tolerance = new Map(spec.measures.map((m) => [m.column, m.abs_tolerance]));
  return {
    columns,
    floats: new Set(floats),
    take: (from, to) =>
      fingerprint(db, {
        ...fingerprintSpec(spec, shadow, columns, from, to),
        measures,
        hashColumns: columns.filter((c) => !floats.includes(c) && !spec.target.audit_columns.includes(c)),
        keyedMeasures: floats,
      }, opts),
    compare: (a, b) => compareFingerprints(a, b, new Set(floats), (m) => tolerance.get(m) ?? 0),
  };
}

/** Relative change of a float sum below which it is a float artifact (summation order, a rounding tie). */
const FLOAT_ARTIFACT = 1e-6;

export interface IdempotencyProof {
  partition: string;
  first: Fingerprint;
  second: Fingerprint;
  rowsWritten: number;
  /** Float sums that differed between the rewrites only by summation order (within tolerance). */
  floatNoise: string[];
}

/**
 * Step 2 of the runbook: rewrite one partition into the shadow twice. What is deterministic must
 * match exactly — row count, distinct keys, exact sums, and a row hash of every non-float column —
 * and nothing outside the partition may change. Float columns are compared by their sums within
 * the measure's abs_tolerance: a DOUBLE sum depends on the order rows are added in, which is not
 * the transform's fault. A transform using random() or the current time in a non-audit column
 * fails here, before any batch runs.
 */
export async function proveIdempotency(
  db: Driver,
  spec: BackfillSpec,
  partition: Partition,
  opts: QueryOptions = {},
  /** The slicer the caller also uses for the decomposability proof; built here when absent. */
  slicer?: ShadowSlicer,
): Promise<IdempotencyProof> {
  const shadow = slicer ?? await shadowSlicer(db, spec, opts);
  const { columns, compare } = shadow;
  const slice = shadow.take;
  const outside = async () => [await slice(BEFORE_ALL, partition.start), await slice(partition.end, AFTER_ALL)];

  const outsideBefore = await outside();
  const { rowsWritten } = await rewritePartition(db, spec, partition, columns, opts);
  const first = await slice(partition.start, partition.end);
  await rewritePartition(db, spec, partition, columns, opts);
  const second = await slice(partition.start, partition.end);
  const outsideAfter = await outside();

  const { differences, floatNoise, floatDrift } = compare(first, second);
  if (differences.length) {
    // Rounding a float sum can land on either side of a tie: a tiny relative change of float
    // columns alone is a float artifact, not a non-deterministic transform.
    const floatOnly = floatDrift.length === differences.length && floatDrift.every((d) => d.relative <= FLOAT_ARTIFACT);
    const why = floatOnly
      ? `every non-float column is identical between the two rewrites, but the float column sums ` +
        `${differences.join(', ')} differ by more than abs_tolerance. A sum of DOUBLEs depends on the order rows are ` +
        `added in, and rounding a float can land on either side of a tie; ` +
        `store ${[...new Set(floatDrift.map((d) => d.measure))].join(', ')} as DECIMAL (e.g. CAST(… AS DECIMAL(18, ` +
        `2)) in the transform), or raise the measure's abs_tolerance.`
      : `rewriting it twice changed ${differences.join(', ')}. The transform is not deterministic (random(), ` +
        `the current time or an unordered window in a non-audit column?); fix it, or list per-run stamp columns in ` +
        `target.audit_columns.`;
    throw new BackfillFailure(BackfillError.NotIdempotent, `idempotency proof failed on ${partition.start}: ${why}`, {
      partition: partition.start,
      differences,
      floatOnly,
    });
  }
  const moved = outsideBefore.flatMap((fp, i) => compare(fp, outsideAfter[i]!).differences);
  if (moved.length) {
    throw new BackfillFailure(
      BackfillError.NotIdempotent,
      `idempotency proof failed on ${partition.start}: rows outside the partition changed (${moved.join(', ')}).`,
      { partition: partition.start, differences: moved },
    );
  }
  return { partition: partition.start, first, second, rowsWritten, floatNoise };
}
