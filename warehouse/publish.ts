/**
 * Publish and rollback: the only code that writes production tables. Each step is ONE transaction
 * that also writes or updates the release row, so the row says "published" exactly when production
 * holds the corrected data. A retry after the commit finds the row and writes nothing; a failure
 * before it leaves production as it was. Auditing is the caller's job.
 */
import type { CleanupResult } from '../contracts/run';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { ApprovalProof, ReleaseRecord } from '../contracts/status';
import type { Partition } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';
import { columnNames } from './catalog';
import { ControlStore, isoTimestamp, type AuditEntry } from './control-store';
import { formatTableName, parseTableName, type TableName } from './identifiers';
import { fingerprint, fingerprintDifferences, fingerprintSpec } from './fingerprint';
import { canonicalOf, currentDatabase, identityProblem, recordDropped, requireIntact, requireOwned } from './ownership';
import { publishedRange, tablesOf } from './shadow';
import {
  inTx,
  type Db,
  type Dialect,
  type Driver,
  type PartitionGrain,
  type QueryOptions,
  type Session,
} from './warehouse';

export interface PublishRequest {
  releaseId: string;
  approvedBy: string;
  /** What was approved (digest) and with which key, kept in the release record. */
  approval?: ApprovalProof | null;
  /** ISO instant. */
  publishedAt: string;
  /** ISO instant. */
  rollbackExpiresAt: string;
  /** Extra detail for the `published` audit entry, written in the publish transaction. */
  auditDetail?: Record<string, unknown>;
}

export interface PublishResult {
  release: ReleaseRecord;
  /** Range rows production no longer serves (0 when alreadyPublished: this call wrote nothing). */
  rowsDeleted: number;
  /** Range rows production serves from the shadow (0 when alreadyPublished). */
  rowsInserted: number;
  alreadyPublished: boolean;
}

export interface RollbackRequest {
  releaseId: string;
  by: string;
  reason: string;
  at: string;
  /** Extra detail for the `rolled_back` audit entry, written in the rollback transaction. */
  auditDetail?: Record<string, unknown>;
}

export interface RollbackResult {
  release: ReleaseRecord;
  /** Range rows production serves from the restore point (0 when alreadyRolledBack). */
  rowsRestored: number;
  alreadyRolledBack: boolean;
}

export { publishedRange };

/** SQL over one table's slice of the range; every statement binds [start, end) as $1, $2. */
export class RangeSql {
  private readonly key: string;
  private readonly from: string;
  private readonly to: string;
  readonly params: string[];

  constructor(
    private readonly d: Dialect,
    partitionKey: string,
    grain: PartitionGrain,
    range: Partition,
    private readonly columns: readonly string[],
  ) {
    this.key = d.quoteIdent(partitionKey);
    this.from = d.boundValue(1, grain);
    this.to = d.boundValue(2, grain);
    this.params = [range.start, range.end];
  }

  private get inside(): string {
    return `${this.key} >= ${this.from} AND ${this.key} < ${this.to}`;
  }

  /** Rows with a NULL key are outside every range, so whole-table copies keep them too. */
  private get outside(): string {
    return `(${this.key} IS NULL OR ${this.key} < ${this.from} OR ${this.key} >= ${this.to})`;
  }

  private copy(into: TableName, from: TableName, where: string) {
    const list = this.columns.map(this.d.quoteIdent).join(', ');
    return {
      sql: `INSERT INTO ${this.d.table(into)} (${list}) SELECT ${list} FROM ${this.d.table(from)} WHERE ${where}`,
      params: this.params,
    };
  }

  /** Replaces `into`'s range with `from`'s. */
  async replaceRange(tx: Session, into: TableName, from: TableName): Promise<{ deleted: number; inserted: number }> {
    const deleted = await tx.execute({
      sql: `DELETE FROM ${this.d.table(into)} WHERE ${this.inside}`,
      params: this.params,
    });
    const inserted = await tx.execute(this.copy(into, from, this.inside));
    return { deleted, inserted };
  }

  /** Makes `into` hold `from`'s rows outside the range (rows the backfill did not correct). */
  async replaceOutside(tx: Session, into: TableName, from: TableName): Promise<void> {
    await tx.execute({ sql: `DELETE FROM ${this.d.table(into)} WHERE ${this.outside}`, params: this.params });
    await tx.execute(this.copy(into, from, this.outside));
  }

  async count(tx: Session, table: TableName): Promise<number> {
    const [row] = await tx.query({
      sql: `SELECT count(*) AS n FROM ${this.d.table(table)} WHERE ${this.inside}`,
      params: this.params,
    });
    return Number(row?.n ?? 0);
  }
}

function requireText(value: string, where: string): void {
  if (!value?.trim()) {
    throw new BackfillFailure(BackfillError.InvalidRequest, `${where} is required and must not be blank.`, { where });
  }
}

/** The target, shadow and restore point must exist, and the shadow must have the target's columns. */
export async function guardPublish(db: Driver, spec: BackfillSpec, opts?: QueryOptions): Promise<string[]> {
  const t = tablesOf(spec);
  const mode = spec.publish.mode;
  const target = await columnNames(db, t.target, opts);
  if (target.length === 0) {
    throw new BackfillFailure(
      BackfillError.MissingObject,
      `target.table: ${spec.target.table} does not exist; nothing can be published to it.`,
      { table: spec.target.table },
    );
  }
  const shadow = await columnNames(db, t.shadow, opts);
  if (shadow.length === 0) {
    throw new BackfillFailure(
      BackfillError.MissingObject,
      `target.shadow_table: ${spec.target.shadow_table} does not exist, so there is no corrected data to publish; ` +
        `re-run the backfill's batches (it was dropped, or the backfill never ran). Production was not touched.`,
      { table: spec.target.shadow_table },
    );
  }
  const missing = target.filter((c) => !shadow.includes(c));
  // View and swap serve the shadow as a whole table, so an extra column would reach consumers.
  const extra = mode === 'range' ? [] : shadow.filter((c) => !target.includes(c));
  if (missing.length || extra.length) {
    throw new BackfillFailure(
      BackfillError.MissingObject,
      `target.shadow_table: ${spec.target.shadow_table} does not have the columns of ${spec.target.table}` +
        (missing.length ? `; it lacks ${missing.join(', ')}` : '') +
        (extra.length ? `; it has extra ${extra.join(', ')}` : '') +
        `. Recreate the shadow and re-run the batches. Production was not touched.`,
      { table: spec.target.shadow_table, missing, extra },
    );
  }
  // In view mode the restore point is the target itself, which publish never writes.
  if (mode !== 'view' && (await columnNames(db, t.snapshot, opts)).length === 0) {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `rollback.snapshot: the restore point ${spec.rollback.snapshot} does not exist, so a publish could not be ` +
        `rolled back; refusing to write ${spec.target.table}. Take the snapshot (the backfill's snapshot ` +
        `step) before publishing.`,
      { table: spec.rollback.snapshot },
    );
  }
  // Publish serves only tables this backfill created, still as it recorded them.
  const owned: Array<['shadow' | 'snapshot', TableName]> = [['shadow', t.shadow]];
  if (mode !== 'view') owned.push(['snapshot', t.snapshot]);
  for (const [role, table] of owned) {
    const consequence =
      (role === 'snapshot' ? 'A publish from here could not be rolled back to the pre-publish result. ' : '') +
      'Production was not touched; start the backfill under a new backfill_id';
    await requireIntact(db, spec, await requireOwned(db, spec, role, opts), table, consequence, opts);
  }
  if (mode === 'view') await requireOwned(db, spec, 'view', opts);
  return target;
}

/**
 * Publish re-checks the shadow's range itself, inside its transaction, whatever the checkpoints say:
 * unique keys, no NULL in validation.not_null, and every partition that has rows in production
 * has rows in the shadow (unless validation.allow_empty_partitions). A failure here would lose or
 * duplicate production rows, so no operator decision can wave it through.
 */
async function structuralProblems(tx: Db, spec: BackfillSpec, range: Partition): Promise<string[]> {
  const t = tablesOf(spec);
  const d = tx.dialect;
  const grain = spec.source_range.grain;
  const uniqueKey = spec.target.unique_key ?? [spec.target.partition_key];
  const notNull = spec.validation.not_null ?? [];
  const stats = await tx.query(
    d.partitionStats({
      table: t.shadow,
      partitionKey: spec.target.partition_key,
      grain,
      from: range.start,
      to: range.end,
      uniqueKey,
      measures: [],
      notNull,
    }),
  );
  const production = await tx.query(
    d.rowsPerPartition(t.target, spec.target.partition_key, grain, range.start, range.end),
  );
  const inShadow = new Map(stats.map((r) => [String(r.partition_start), r]));
  const problems: string[] = [];
  const duplicated = stats.filter((r) => Number(r.row_count) !== Number(r.distinct_keys));
  if (duplicated.length) {
    const extra = duplicated.reduce((a, r) => a + Number(r.row_count) - Number(r.distinct_keys), 0);
    problems.push(`${extra} rows repeat a key (${uniqueKey.join(', ')}) in ${duplicated.length} partitions, ` +
      `first ${String(duplicated[0]!.partition_start)}`);
  }
  for (const [i, column] of notNull.entries()) {
    const withNulls = stats.filter((r) => Number(r[`nulls_${i}`] ?? 0) > 0);
    if (withNulls.length) {
      problems.push(
        `${column} is NULL in ${withNulls.length} partitions, first ${String(withNulls[0]!.partition_start)}`,
      );
    }
  }
  if (!spec.validation.allow_empty_partitions) {
    const missing = production.filter(
      (r) => Number(r.row_count) > 0 && Number(inShadow.get(String(r.partition_start))?.row_count ?? 0) === 0,
    );
    if (missing.length) {
      problems.push(`${missing.length} partitions have rows in production and none in the shadow, ` +
        `first ${String(missing[0]!.partition_start)}`);
    }
  }
  return problems;
}

export async function refuseUnsound(tx: Db, spec: BackfillSpec, range: Partition): Promise<void> {
  const problems = await structuralProblems(tx, spec, range);
  if (problems.length === 0) return;
  throw new BackfillFailure(
    BackfillError.IncompleteShadow,
    `publish refused: the shadow ${spec.target.shadow_table} over ${range.start}..${range.end} would lose or ` +
      `duplicate production rows: ${problems.join('; ')}. Production was not touched. ` +
      `Rerun the affected batches (a fix that legitimately empties partitions sets ` +
      `validation.allow_empty_partitions: true in a new run).`,
    { problems },
  );
}

export const auditEntry = (
  spec: BackfillSpec,
  actor: string,
  action: string,
  at: string,
  detail: Record<string, unknown>,
): AuditEntry => ({ backfillId: spec.backfill_id, at, actor, action, detail });

/**
 * A swap must leave both names in place. An engine whose swap is renames cannot move a table across
 * schemas, so a shadow in another schema would take the target's name there: refuse inside the
 * transaction, which rolls the renames back.
 */
export async function checkSwapped(tx: Session, d: Dialect, spec: BackfillSpec): Promise<void> {
  const t = tablesOf(spec);
  for (const [name, table] of [[spec.target.table, t.target], [spec.target.shadow_table, t.shadow]] as const) {
    if ((await tx.query(d.describeTable(table))).length === 0) {
      throw new BackfillFailure(
        BackfillError.NotAllowed,
        `swap of ${spec.target.table} and ${spec.target.shadow_table} would leave no table named ${name}, ` +
          `so it was undone; on ${d.name} keep target.shadow_table in the schema of target.table. ` +
          `Production was not touched.`,
        { table: name },
      );
    }
  }
}

/** What a publish finds when the release is already recorded: the same result, or a refusal. */
function existingPublish(release: ReleaseRecord, spec: BackfillSpec): PublishResult {
  if (release.backfillId !== spec.backfill_id) {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `release ${release.releaseId} belongs to backfill ${release.backfillId}, not ${spec.backfill_id}; ` +
        `publish under a release id of this backfill.`,
      { releaseId: release.releaseId, backfillId: release.backfillId },
    );
  }
  if (release.status === 'rolled_back') {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `release ${release.releaseId} of ${release.dataset} was rolled back; a rolled-back release is not published ` +
        `again. Publish under a new release id if the correction should go out after all.`,
      { releaseId: release.releaseId, status: release.status },
    );
  }
  return { release, rowsDeleted: 0, rowsInserted: 0, alreadyPublished: true };
}

/**
 * Publishes the shadow's corrected range in one transaction, per publish.mode:
 * - range: DELETE the range from the target, INSERT it from the shadow.
 * - view: bring the shadow's rows outside the range up to date from the target, then point
 *   publish.view at the shadow. The target is not written (it is the restore point).
 * - swap: bring the shadow's rows outside the range up to date, then swap it with the target.
 * The release row is written in the same transaction. Idempotent by releaseId.
 */
export async function publish(
  db: Driver,
  spec: BackfillSpec,
  req: PublishRequest,
  opts: QueryOptions = {},
): Promise<PublishResult> {
  requireText(req.releaseId, 'releaseId');
  requireText(req.approvedBy, 'approvedBy');
  const store = new ControlStore(db);
  await store.ensure(opts);
  // A retry after the commit answers before the guards: by then the swap or a cleanup may have
  // changed the tables the guards look at.
  const previous = await store.release(req.releaseId, db, opts);
  if (previous && !(previous.status === 'publishing' && !db.dialect.transactionalDdl)) {
    return existingPublish(previous, spec);
  }

  const view = viewOf(spec);
  const sql = await publishSql(db, spec, opts);
  const release = releaseRecordOf(spec, req);

  if (spec.publish.mode !== 'range' && !db.dialect.transactionalDdl) {
    return publishWithAutocommitDdl(db, spec, release, sql, view, req, opts);
  }

  return db.transaction(async (tx) => {
    const existing = await store.release(req.releaseId, tx);
    if (existing) return existingPublish(existing, spec);
    const { rowsDeleted, rowsInserted } = await publishInTx(db, tx, spec, sql);
    await store.recordRelease(release, tx);
    // The decision is in the audit log exactly when production changed: same transaction.
    await store.audit(auditEntry(spec, req.approvedBy, 'published', release.publishedAt, {
      ...req.auditDetail, releaseId: release.releaseId, rowsDeleted, rowsInserted,
    }), tx);
    return { release, rowsDeleted, rowsInserted, alreadyPublished: false };
  }, opts);
}

const viewOf = (spec: BackfillSpec): TableName | null =>
  spec.publish.mode === 'view' ? parseTableName(spec.publish.view ?? '', 'publish.view') : null;

/** The checks before a publish (guardPublish) and the range statements over the target's columns. */
export async function publishSql(db: Driver, spec: BackfillSpec, opts?: QueryOptions): Promise<RangeSql> {
  const columns = await guardPublish(db, spec, opts);
  const range = publishedRange(spec.source_range);
  return new RangeSql(db.dialect, spec.target.partition_key, spec.source_range.grain, range, columns);
}

/** The release row a publish of `spec` writes. */
export function releaseRecordOf(
  spec: BackfillSpec,
  req: Pick<PublishRequest, 'releaseId' | 'approvedBy' | 'approval' | 'publishedAt' | 'rollbackExpiresAt'>,
): ReleaseRecord {
  const view = viewOf(spec);
  return {
    releaseId: req.releaseId,
    dataset: view ? formatTableName(view) : spec.target.table,
    backfillId: spec.backfill_id,
    publishedAt: isoTimestamp(req.publishedAt, 'publishedAt'),
    sourceRange: { start: spec.source_range.start, end: spec.source_range.end, grain: spec.source_range.grain },
    codeVersion: spec.transform?.code_version ?? null,
    approvedBy: req.approvedBy,
    ...(req.approval ? { approval: req.approval } : {}),
    restorePoint: view ? spec.target.table : spec.rollback.snapshot,
    rollbackExpiresAt: isoTimestamp(req.rollbackExpiresAt, 'rollbackExpiresAt'),
    publishMode: spec.publish.mode,
    status: 'published',
  };
}

/**
 * One table's publish inside the caller's transaction (one backfill's, or every node's of a
 * release): the structural re-check, then per publish.mode the range replaced (range), or the
 * shadow brought up to date outside the range and served (view: repointed; swap: swapped).
 */
export async function publishInTx(
  db: Driver,
  tx: Session,
  spec: BackfillSpec,
  sql: RangeSql,
): Promise<{ rowsDeleted: number; rowsInserted: number }> {
  const t = tablesOf(spec);
  await refuseUnsound(inTx(db, tx), spec, publishedRange(spec.source_range));
  if (spec.publish.mode === 'range') {
    const { deleted, inserted } = await sql.replaceRange(tx, t.target, t.shadow);
    return { rowsDeleted: deleted, rowsInserted: inserted };
  }
  await sql.replaceOutside(tx, t.shadow, t.target);
  const rowsDeleted = await sql.count(tx, t.target);
  const rowsInserted = await sql.count(tx, t.shadow);
  const view = viewOf(spec);
  if (view) {
    await tx.execute(db.dialect.createOrReplaceView(view, t.shadow));
  } else {
    for (const statement of db.dialect.swapTables(t.target, t.shadow)) await tx.execute(statement);
    await checkSwapped(tx, db.dialect, spec);
  }
  return { rowsDeleted, rowsInserted };
}

/**
 * View and swap publish where DDL autocommits (Snowflake): the DDL cannot share a transaction
 * with the sync and the release row, so the release is recorded as `publishing` with the sync, the
 * one-statement DDL runs (a view repoint or SWAP WITH is atomic by itself), and the release is then
 * marked `published`. A retry finds `publishing` and finishes: a repoint is simply repeated; a swap
 * is repeated only while the target's range still equals the restore point's, i.e. it did not happen.
 */
async function publishWithAutocommitDdl(
  db: Driver,
  spec: BackfillSpec,
  release: ReleaseRecord,
  sql: RangeSql,
  view: TableName | null,
  req: PublishRequest,
  opts: QueryOptions,
): Promise<PublishResult> {
  const store = new ControlStore(db);
  const t = tablesOf(spec);
  const counts = await db.transaction(async (tx) => {
    const existing = await store.release(release.releaseId, tx);
    if (existing && existing.status !== 'publishing') return existingPublish(existing, spec);
    if (existing) return null;
    await refuseUnsound(inTx(db, tx), spec, publishedRange(spec.source_range));
    await sql.replaceOutside(tx, t.shadow, t.target);
    const rowsDeleted = await sql.count(tx, t.target);
    const rowsInserted = await sql.count(tx, t.shadow);
    await store.recordRelease({ ...release, status: 'publishing' }, tx);
    return { rowsDeleted, rowsInserted };
  }, opts);
  if (counts && 'alreadyPublished' in counts) return counts;
  if (view) {
    await db.execute(db.dialect.createOrReplaceView(view, t.shadow), opts);
  } else if (counts || (await sameRange(db, spec, t.target, t.snapshot, opts))) {
    for (const statement of db.dialect.swapTables(t.target, t.shadow)) await db.execute(statement, opts);
  }
  const recorded = await db.transaction(async (tx) => {
    const existing = (await store.release(release.releaseId, tx))!;
    if (existing.status === 'publishing') {
      await store.setReleaseStatus(release.releaseId, 'published', tx);
      await store.audit(
        auditEntry(spec, req.approvedBy, 'published', release.publishedAt, {
          ...req.auditDetail,
          releaseId: release.releaseId,
          rowsDeleted: counts?.rowsDeleted ?? null,
          rowsInserted: counts?.rowsInserted ?? null,
        }),
        tx,
      );
    }
    return { ...existing, status: 'published' as const };
  }, opts);
  return {
    release: recorded,
    rowsDeleted: counts?.rowsDeleted ?? 0,
    rowsInserted: counts?.rowsInserted ?? 0,
    alreadyPublished: counts === null,
  };
}

/** Whether two tables hold the same rows over the spec's range (row hash of the non-audit columns). */
async function sameRange(
  db: Driver,
  spec: BackfillSpec,
  a: TableName,
  b: TableName,
  opts: QueryOptions,
): Promise<boolean> {
  const columns = await columnNames(db, a, opts);
  const range = publishedRange(spec.source_range);
  const [fa, fb] = await Promise.all(
    [a, b].map((t) => fingerprint(db, fingerprintSpec(spec, t, columns, range.start, range.end), opts)),
  );
  return fingerprintDifferences(fa!, fb!).length === 0;
}

/** The release a rollback may act on; refuses unknown, foreign and signed-off releases. */
function rollbackable(release: ReleaseRecord | null, releaseId: string, spec: BackfillSpec): ReleaseRecord {
  if (!release) {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `release ${releaseId} is not recorded in backfill_control.releases: nothing was published under it, ` +
        `so there is nothing to roll back.`,
      { releaseId },
    );
  }
  if (release.backfillId !== spec.backfill_id) {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `release ${releaseId} belongs to backfill ${release.backfillId}, not ${spec.backfill_id}; ` +
        `roll it back with that backfill's spec.`,
      { releaseId, backfillId: release.backfillId },
    );
  }
  if (release.status === 'signed_off') {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `release ${releaseId} of ${release.dataset} was signed off, which closed its rollback window (its restore ` +
        `point may be gone). To undo it now, run a new backfill.`,
      { releaseId, status: release.status },
    );
  }
  return release;
}

/**
 * Undoes a release in one transaction, driven by its record: range and swap restore the range of
 * the target from the restore point (the snapshot); view points the view back at the target.
 * Idempotent: a rolled-back release is returned as is.
 */
export async function rollbackRelease(
  db: Driver,
  spec: BackfillSpec,
  req: RollbackRequest,
  opts: QueryOptions = {},
): Promise<RollbackResult> {
  requireText(req.by, 'by');
  requireText(req.reason, 'reason');
  const store = new ControlStore(db);
  const seen = rollbackable(await store.release(req.releaseId, db, opts), req.releaseId, spec);
  if (seen.status === 'rolled_back') return { release: seen, rowsRestored: 0, alreadyRolledBack: true };

  const restore = await restoreSql(db, spec, seen, opts);

  // Where DDL autocommits, the repoint runs first on its own (it is one atomic statement, and
  // repeating it is harmless); the release is marked rolled back after it.
  const ddlApart = seen.publishMode === 'view' && !db.dialect.transactionalDdl;
  if (ddlApart) await db.execute(db.dialect.createOrReplaceView(restore.dataset, restore.target), opts);

  return db.transaction(async (tx) => {
    const release = rollbackable(await store.release(req.releaseId, tx), req.releaseId, spec);
    if (release.status === 'rolled_back') return { release, rowsRestored: 0, alreadyRolledBack: true };
    const rowsRestored = await restoreInTx(db, tx, spec, release, restore, !ddlApart);
    await store.setReleaseStatus(release.releaseId, 'rolled_back', tx);
    await store.audit(auditEntry(spec, req.by, 'rolled_back', isoTimestamp(req.at, 'at'), {
      ...req.auditDetail, releaseId: release.releaseId, reason: req.reason, rowsRestored,
    }), tx);
    return { release: { ...release, status: 'rolled_back' as const }, rowsRestored, alreadyRolledBack: false };
  }, opts);
}

/** What a rollback of `release` writes: its tables, from its record, checked to exist, and the range statements. */
export interface RestoreSql {
  /** range/swap: the target; view: the view. */
  dataset: TableName;
  /** range/swap: the snapshot; view: the target. */
  restorePoint: TableName;
  target: TableName;
  sql: RangeSql;
}

export async function restoreSql(
  db: Driver,
  spec: BackfillSpec,
  seen: ReleaseRecord,
  opts?: QueryOptions,
): Promise<RestoreSql> {
  const dataset = parseTableName(seen.dataset, `release ${seen.releaseId} dataset`);
  const restorePoint = parseTableName(seen.restorePoint, `release ${seen.releaseId} restore point`);
  const target = seen.publishMode === 'view' ? restorePoint : dataset;
  const columns = await columnNames(db, target, opts);
  if (columns.length === 0) {
    throw new BackfillFailure(
      BackfillError.MissingObject,
      `${formatTableName(target)} does not exist; release ${seen.releaseId} cannot be rolled back onto it.`,
      { table: formatTableName(target) },
    );
  }
  if (seen.publishMode !== 'view' && (await columnNames(db, restorePoint, opts)).length === 0) {
    throw new BackfillFailure(
      BackfillError.MissingObject,
      `the restore point ${seen.restorePoint} of release ${seen.releaseId} does not exist (cleaned up?), ` +
        `so it cannot be rolled back; restore ${seen.dataset} from warehouse backups or time travel. ` +
        `Nothing was written.`,
      { table: seen.restorePoint },
    );
  }
  const grain = seen.sourceRange.grain as PartitionGrain;
  const sql = new RangeSql(db.dialect, spec.target.partition_key, grain, publishedRange(seen.sourceRange), columns);
  return { dataset, restorePoint, target, sql };
}

/**
 * One release's restore inside the caller's transaction (a backfill's, or every node's of a
 * release): view points the view back at the target (unless `repoint` is false: done apart);
 * range and swap restore the range from the verified restore point. Returns the rows restored.
 */
export async function restoreInTx(
  db: Driver,
  tx: Session,
  spec: BackfillSpec,
  release: ReleaseRecord,
  r: RestoreSql,
  repoint = true,
): Promise<number> {
  if (release.publishMode === 'view') {
    if (repoint) await tx.execute(db.dialect.createOrReplaceView(r.dataset, r.target));
    return r.sql.count(tx, r.target);
  }
  await verifyRestorePoint(inTx(db, tx), spec, release, r.restorePoint);
  return (await r.sql.replaceRange(tx, r.target, r.restorePoint)).inserted;
}

/**
 * A rollback restores only from the restore point this backfill took: recorded as its snapshot, the
 * table the release names, and still holding over the range exactly the rows fingerprinted when it
 * was taken. Anything else would "restore" someone else's data, so it is refused, nothing written.
 */
export async function verifyRestorePoint(
  tx: Db,
  spec: BackfillSpec,
  release: ReleaseRecord,
  restorePoint: TableName,
): Promise<void> {
  const record = await requireOwned(tx, spec, 'snapshot');
  if (canonicalOf(restorePoint, await currentDatabase(tx)) !== record.canonicalName) {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `rollback refused: release ${release.releaseId} names the restore point ${release.restorePoint}, ` +
        `but the one backfill ${spec.backfill_id} took is ${record.tableName}. Nothing was written; ` +
        `restore ${release.dataset} from warehouse backups or Time Travel.`,
      { releaseId: release.releaseId, table: release.restorePoint },
    );
  }
  await requireIntact(tx, spec, record, restorePoint,
    `Rollback refused: restoring from it would not bring back the pre-publish result. Nothing was written; ` +
      `restore ${release.dataset} from warehouse backups or Time Travel`);
}

/** Closes a release's rollback window: 'published' → 'signed_off'. Idempotent. */
export async function signoffRelease(db: Driver, releaseId: string, opts: QueryOptions = {}): Promise<ReleaseRecord> {
  const store = new ControlStore(db);
  return db.transaction(async (tx) => {
    const release = await store.release(releaseId, tx);
    if (!release) {
      throw new BackfillFailure(
        BackfillError.NotAllowed,
        `release ${releaseId} is not recorded in backfill_control.releases; there is nothing to sign off.`,
        { releaseId },
      );
    }
    if (release.status === 'signed_off') return release;
    if (release.status !== 'published') {
      throw new BackfillFailure(
        BackfillError.NotAllowed,
        `release ${releaseId} is ${release.status}; only a published release can be signed off.`,
        { releaseId, status: release.status },
      );
    }
    await store.setReleaseStatus(releaseId, 'signed_off', tx);
    return { ...release, status: 'signed_off' as const };
  }, opts);
}

/**
 * Drops the backfill's own tables — only those recorded as created by this backfill and still as
 * recorded (columns; the restore point's fingerprint): the snapshot, and the shadow unless a view
 * still serves it (view mode, release not rolled back). Never the target or the view. A table that
 * no longer matches its record is kept and reported. Idempotent.
 */
export async function cleanupBackfillTables(
  db: Driver,
  spec: BackfillSpec,
  at: string,
  opts: QueryOptions = {},
): Promise<CleanupResult> {
  const store = new ControlStore(db);
  await store.ensure(opts);
  let shadowServed = false;
  if (spec.publish.mode === 'view') {
    const release = await store.releaseOf(spec.backfill_id, opts);
    shadowServed = release !== null && release.status !== 'rolled_back';
  }
  // The restore point first, as the runbook takes it first; the view is never dropped.
  // A preview's scratch table is still recorded only when a preview died before dropping it.
  const order = { snapshot: 0, shadow: 1, preview: 2, view: 3 } as const;
  const records = (await store.ownedBy(spec.backfill_id, db, opts))
    .filter((r) => r.role !== 'view' && !(r.role === 'preview' && r.status === 'dropped'))
    .sort((a, b) => order[a.role] - order[b.role]);
  const database = await currentDatabase(db, opts);
  const never = new Set(
    [spec.target.table, spec.publish.view].filter(Boolean).map((n) => canonicalOf(parseTableName(n!), database)),
  );
  const result: CleanupResult = { dropped: [], kept: [] };
  for (const record of records) {
    const table = parseTableName(record.tableName, record.role);
    if (record.status === 'dropped' || record.status === 'handed_over') {
      if (record.status === 'dropped') result.dropped.push(record.tableName);
      continue;
    }
    if (never.has(record.canonicalName)) {
      result.kept.push({ table: record.tableName, why: 'it is the target or the view' });
      continue;
    }
    if (record.role === 'shadow' && shadowServed) {
      result.kept.push({ table: record.tableName, why: `${spec.publish.view} serves it` });
      continue;
    }
    const exists = (await columnNames(db, table, opts)).length > 0;
    const problem = !exists
      ? null
      : record.status === 'created'
        ? await identityProblem(db, spec, table, record.record, opts)
        : null;
    if (problem) {
      result.kept.push({
        table: record.tableName,
        why: `it is no longer the ${record.role} this backfill created: ${problem}; drop it by hand after checking`,
      });
      continue;
    }
    if (exists) await db.execute(db.dialect.dropTable(table), opts);
    await recordDropped(db, spec, record, at, opts);
    result.dropped.push(record.tableName);
  }
  return result;
}
