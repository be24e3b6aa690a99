/**
 * A backfill writes and drops only tables it created. Before its first write it claims the names
 * of its shadow, restore point and (view mode) view in backfill_control.owned_tables; a name that
 * already holds a table it did not create, or that another backfill claimed, is refused, naming
 * the table and the fix. Names are compared in one canonical spelling (database.schema.table, lower
 * case), so no spelling of the target, of another backfill's table or of an existing table passes.
 * What identifies a created table (its columns; a restore point's fingerprint over the range) is
 * recorded, so rollback restores only from the restore point it took and cleanup drops only
 * tables that still match. A backfill that has published is never run again under its id.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { BackfillSpec } from '../domain/spec/schema';
import { describeTable, tableExists } from './catalog';
import { ACTIVE_CLAIM, CONTROL_SCHEMA, ControlStore, type OwnedRole, type OwnedTable } from './control-store';
import type { Partition } from '../domain/partitions';
import { compareFingerprints, fingerprint, fingerprintSpec, isFloatType, type Fingerprint } from './fingerprint';
import { formatTableName, parseTableName, type TableName } from './identifiers';
import type { Db, Driver, QueryOptions } from './warehouse';

/** The session's database (catalog) name, as the engine reports it. */
export async function currentDatabase(db: Db, opts?: QueryOptions): Promise<string> {
  const [row] = await db.query(db.dialect.currentDatabase(), opts);
  const name = row?.db;
  if (typeof name !== 'string' || name === '') {
    throw new BackfillFailure(BackfillError.WarehousePermanent, 'the warehouse session has no current database, ' +
      'so table names cannot be compared; set one (Snowflake: database in the config).');
  }
  return name;
}

/** database.schema.table in lower case: both engines fold unquoted names, and the dialects quote one case. */
export function canonicalOf(table: TableName, database: string): string {
  return [table.database ?? database, table.schema, table.name].join('.').toLowerCase();
}

/** A table the spec derives from its target, and the spec field that names it. */
export interface DerivedTable {
  role: OwnedRole;
  field: 'target.shadow_table' | 'rollback.snapshot' | 'publish.view';
  name: string;
  table: TableName;
}

export function derivedTables(spec: BackfillSpec): DerivedTable[] {
  const out: DerivedTable[] = [
    {
      role: 'shadow',
      field: 'target.shadow_table',
      name: spec.target.shadow_table,
      table: parseTableName(spec.target.shadow_table, 'target.shadow_table'),
    },
    {
      role: 'snapshot',
      field: 'rollback.snapshot',
      name: spec.rollback.snapshot,
      table: parseTableName(spec.rollback.snapshot, 'rollback.snapshot'),
    },
  ];
  if (spec.publish.mode === 'view' && spec.publish.view) {
    out.push({
      role: 'view',
      field: 'publish.view',
      name: spec.publish.view,
      table: parseTableName(spec.publish.view, 'publish.view'),
    });
  }
  return out;
}

/** What the ownership check found for one derived table. */
export interface DerivedTableState extends DerivedTable {
  canonical: string;
  /** This backfill's live record of the name (a resumed run), or null. */
  mine: OwnedTable | null;
  /** A view of the same target that an earlier, finished backfill pointed: taken over, not adopted blind. */
  handOver: OwnedTable | null;
  /** Claims of finished backfills whose table is gone (dropped by hand): the name is free again. */
  stale: OwnedTable[];
}

export interface OwnershipCheck {
  target: string;
  tables: DerivedTableState[];
}

const refuse = (
  code: (typeof BackfillError)[keyof typeof BackfillError],
  message: string,
  details: Record<string, unknown>,
): never => {
  throw new BackfillFailure(code, message, details);
};

/**
 * Read-only: refuses (BackfillFailure, nothing written) when the spec would run again after it
 * published, or would write or drop a table it does not own. Returns each derived table's state.
 */
export async function checkOwnership(db: Driver, spec: BackfillSpec, opts?: QueryOptions): Promise<OwnershipCheck> {
  const store = new ControlStore(db);
  const id = spec.backfill_id;

  // A fresh warehouse, or `plan` on a read-only file, has no control schema yet.
  if (await tableExists(db, store.table('releases'), opts)) {
    const release = await store.releaseOf(id, opts);
    if (release) {
      refuse(
        BackfillError.NotAllowed,
        `backfill ${id} already published release ${release.releaseId} into ${release.dataset} (status ` +
          `${release.status}, published ${release.publishedAt}); a backfill publishes once, and a new run under its ` +
          `id would adopt its checkpoints and tables. ` +
          (release.status === 'published'
            ? `To undo it, roll it back (\`backfill rollback ${id}\`) while its window is open; ` +
              `to publish a further correction, start it under a new backfill_id.`
            : `Start the new run under a new backfill_id.`),
        { releaseId: release.releaseId, status: release.status, backfillId: id },
      );
    }
  }

  const database = await currentDatabase(db, opts);
  const targetTable = parseTableName(spec.target.table, 'target.table');
  const target = canonicalOf(targetTable, database);
  const derived = derivedTables(spec).map((d) => ({ ...d, canonical: canonicalOf(d.table, database) }));

  const named: Array<{ field: string; name: string; canonical: string }> = [
    { field: 'target.table', name: spec.target.table, canonical: target },
    ...derived,
  ];
  for (const [i, a] of named.entries()) {
    const b = named.slice(0, i).find((x) => x.canonical === a.canonical);
    if (b) {
      refuse(
        BackfillError.InvalidSpec,
        `${a.field}: "${a.name}" is the same table as ${b.field} ("${b.name}", both ${a.canonical}); ` +
          `the target, shadow, restore point and view must be four different tables. ` +
          `Choose another name for ${a.field}.`,
        { field: a.field, table: a.name },
      );
    }
  }
  for (const d of named) {
    if (
      (d.field === 'target.table'
        ? targetTable
        : derived.find((x) => x.field === d.field)!.table
      ).schema.toLowerCase() === CONTROL_SCHEMA
    ) {
      refuse(
        BackfillError.InvalidSpec,
        `${d.field}: "${d.name}" is in ${CONTROL_SCHEMA}, the schema where backfills keep their own records; ` +
          `name a table in another schema.`,
        { field: d.field, table: d.name },
      );
    }
  }

  const owned = await tableExists(db, store.table('owned_tables'), opts);
  const ownersOf = async (canonical: string) =>
    owned ? (await store.ownersOf(canonical, db, opts)).filter((o) => ACTIVE_CLAIM.includes(o.status)) : [];

  const targetOwners = await ownersOf(target);
  if (targetOwners.length) {
    const o = targetOwners[0]!;
    refuse(
      BackfillError.NotAllowed,
      `target.table: "${spec.target.table}" is the ${o.role} that backfill ${o.backfillId} created for ` +
        `${o.targetTable}, not a production table; backfill the production table instead.`,
      { table: spec.target.table, owner: o.backfillId },
    );
  }

  const tables: DerivedTableState[] = [];
  for (const d of derived) {
    const holders = await ownersOf(d.canonical);
    const mine = holders.find((o) => o.backfillId === id) ?? null;
    const others = holders.filter((o) => o.backfillId !== id);
    let handOver: OwnedTable | null = null;
    const stale: OwnedTable[] = [];
    const exists = await tableExists(db, d.table, opts);
    if (mine && mine.role !== d.role) {
      refuse(
        BackfillError.NotAllowed,
        `${d.field}: "${d.name}" is recorded as this backfill's ${mine.role}, not its ${d.role}; ` +
          `a table keeps its role. Restore the spec's earlier names, or start under a new backfill_id.`,
        { field: d.field, table: d.name },
      );
    }
    for (const o of others) {
      if (d.role === 'view' && o.role === 'view' && o.targetTable === target && !mine) {
        handOver = o;
        continue;
      }
      // A backfill that no longer runs (no lease) and whose table is gone holds the name no more.
      if (!exists && !(await store.holdsLease(o.backfillId, opts))) {
        stale.push(o);
        continue;
      }
      const suggestion = d.role === 'shadow'
        ? 'the default (leave target.shadow_table out)'
        : `${formatTableName(targetTable)}_pre_${id.replace(/-/g, '_')}`;
      refuse(
        BackfillError.NotAllowed,
        `${d.field}: "${d.name}" is the ${o.role} of backfill ${o.backfillId} (recorded ${o.claimedAt}); ` +
          `a backfill never writes or drops another backfill's tables. Choose another name for ${d.field}, e.g. ` +
          `${suggestion}.`,
        { field: d.field, table: d.name, owner: o.backfillId },
      );
    }
    if (!mine && !handOver && exists) {
      refuse(
        BackfillError.NotAllowed,
        `${d.field}: "${d.name}" already exists and was not created by backfill ${id}; ` +
          `a backfill writes and drops only tables it created, ` +
          `so it will not ${d.role === 'view' ? 'repoint' : 'use, overwrite or drop'} it. ` +
          `Name a ${d.role === 'view' ? 'view' : 'table'} that does not exist ` +
          `yet${d.role === 'shadow' ? ' (or leave target.shadow_table out for the default)' : ''}, ` +
          `or drop this one yourself after checking nothing needs it.`,
        { field: d.field, table: d.name },
      );
    }
    tables.push({ ...d, mine, handOver, stale });
  }
  return { target, tables };
}

/**
 * Checks ownership and claims the free names for this backfill, before any table is written.
 * Idempotent: a resumed run finds its own claims. A claim race is settled inside one transaction.
 * Returns what the check found (`mine` as it was before this call).
 */
export async function claimTables(
  db: Driver,
  spec: BackfillSpec,
  at: string,
  opts?: QueryOptions,
): Promise<OwnershipCheck> {
  const store = new ControlStore(db);
  await store.ensure(opts);
  const check = await checkOwnership(db, spec, opts);
  const toClaim = check.tables.filter((t) => !t.mine);
  if (toClaim.length === 0) return check;
  await db.transaction(async (tx) => {
    for (const t of toClaim) {
      const freed = new Set([t.handOver?.backfillId, ...t.stale.map((o) => o.backfillId)]);
      const taken = (await store.ownersOf(t.canonical, tx)).find(
        (o) => ACTIVE_CLAIM.includes(o.status) && o.backfillId !== spec.backfill_id && !freed.has(o.backfillId),
      );
      if (taken) {
        refuse(BackfillError.NotAllowed, `${t.field}: "${t.name}" was just claimed by backfill ${taken.backfillId}; ` +
          `choose another name for ${t.field}.`, {
          field: t.field, table: t.name, owner: taken.backfillId,
        });
      }
      if (t.handOver) await store.setOwnedStatus(t.canonical, t.handOver.backfillId, 'handed_over', at, null, tx);
      for (const o of t.stale)
        await store.setOwnedStatus(
          t.canonical,
          o.backfillId,
          'dropped',
          at,
          { ...o.record, released: `table gone, reclaimed by ${spec.backfill_id}` },
          tx,
        );
      await store.claimTable(
        {
          canonicalName: t.canonical,
          backfillId: spec.backfill_id,
          tableName: t.name,
          role: t.role,
          targetTable: check.target,
          status: t.handOver ? 'created' : 'claimed',
          record: t.handOver ? { handedOverFrom: t.handOver.backfillId } : null,
          claimedAt: at,
          createdAt: t.handOver ? at : null,
          droppedAt: null,
        },
        tx,
      );
    }
  }, opts);
  return check;
}

/** This backfill's live record of the table the spec names for `role`, or null. */
export async function ownedRecord(
  db: Db,
  spec: BackfillSpec,
  role: OwnedRole,
  opts?: QueryOptions,
): Promise<OwnedTable | null> {
  const derived = derivedTables(spec).find((d) => d.role === role);
  if (!derived) return null;
  const canonical = canonicalOf(derived.table, await currentDatabase(db, opts));
  const owners = await new ControlStore(db as Driver).ownersOf(canonical, db, opts);
  return (
    owners.find((o) => o.backfillId === spec.backfill_id && o.role === role && ACTIVE_CLAIM.includes(o.status)) ?? null
  );
}

/** The live record, or a refusal saying the claim step never ran (nothing is written without one). */
export async function requireOwned(
  db: Db,
  spec: BackfillSpec,
  role: OwnedRole,
  opts?: QueryOptions,
): Promise<OwnedTable> {
  const record = await ownedRecord(db, spec, role, opts);
  if (record) return record;
  const field = FIELD_OF[role];
  return refuse(
    BackfillError.NotAllowed,
    `${field}: backfill ${spec.backfill_id} has no record of creating its ${role}, so it will not write or drop it; ` +
      `a backfill claims its tables in backfill_control.owned_tables before its first write (run it ` +
      `through the workflow).`,
    { field, role },
  );
}

/** What identifies a restore point later: its columns and its fingerprint over the backfill's range. */
export interface RestorePointRecord {
  columns: string[];
  floatMeasures: string[];
  range: Partition;
  fingerprint: Fingerprint;
}

export async function restorePointRecord(
  db: Db,
  spec: BackfillSpec,
  table: TableName,
  range: Partition,
  opts?: QueryOptions,
): Promise<RestorePointRecord> {
  const info = await describeTable(db, table, opts);
  const columns = info.map((c) => c.name);
  const floatMeasures = spec.measures
    .map((m) => m.column)
    .filter((m) => isFloatType(info.find((c) => c.name === m)?.type ?? ''));
  const fp = await fingerprint(db, fingerprintSpec(spec, table, columns, range.start, range.end), opts);
  return { columns, floatMeasures, range, fingerprint: fp };
}

/**
 * Why `table` is no longer what `recorded` says it was (columns, or a restore point's
 * fingerprint), or null when it still is. Float sums may differ by summation order.
 */
export async function identityProblem(
  db: Db,
  spec: BackfillSpec,
  table: TableName,
  recorded: Record<string, unknown> | null,
  opts?: QueryOptions,
): Promise<string | null> {
  const info = await describeTable(db, table, opts);
  if (info.length === 0) return 'it no longer exists';
  const columns = info.map((c) => c.name);
  const wanted = Array.isArray(recorded?.columns) ? (recorded.columns as string[]) : null;
  if (wanted && wanted.join(',') !== columns.join(',')) {
    return `its columns are (${columns.join(', ')}), not the (${wanted.join(', ')}) recorded when it was created`;
  }
  const fp = recorded?.fingerprint as Fingerprint | undefined;
  const range = recorded?.range as Partition | undefined;
  if (!fp || !range) return null;
  const now = await restorePointRecord(db, spec, table, range, opts);
  const tolerance = new Map(spec.measures.map((m) => [m.column, m.abs_tolerance]));
  const { differences } = compareFingerprints(
    fp,
    now.fingerprint,
    new Set((recorded?.floatMeasures as string[] | undefined) ?? []),
    (m) => tolerance.get(m) ?? 0,
  );
  return differences.length
    ? `its rows over ${range.start}..${range.end} changed since it was taken (${differences.join(', ')})`
    : null;
}

const FIELD_OF: Record<OwnedRole, DerivedTable['field'] | 'preview'> = {
  shadow: 'target.shadow_table',
  snapshot: 'rollback.snapshot',
  view: 'publish.view',
  // The preview's scratch table is named from target.table and backfill_id (warehouse/preview.ts).
  preview: 'preview',
};

/**
 * Refuses (NotAllowed, naming the field and table) unless `table` is the one `record` says this
 * backfill created, still as recorded. `consequence` says what the refusal spared and what to do.
 */
export async function requireIntact(
  db: Db,
  spec: BackfillSpec,
  record: OwnedTable,
  table: TableName,
  consequence: string,
  opts?: QueryOptions,
): Promise<void> {
  const problem =
    record.status === 'created'
      ? await identityProblem(db, spec, table, record.record, opts)
      : 'it was claimed but never recorded as created';
  if (!problem) return;
  const field = FIELD_OF[record.role];
  throw new BackfillFailure(
    BackfillError.NotAllowed,
    `${field}: ${formatTableName(table)} is not the ${record.role} backfill ${spec.backfill_id} created: ${problem}. ` +
      `${consequence}, after checking who changed this table.`,
    { field, table: formatTableName(table) },
  );
}

/** Marks this backfill's table created, with what identifies it. */
export async function recordCreated(
  db: Db,
  spec: BackfillSpec,
  record: OwnedTable,
  details: Record<string, unknown>,
  at: string,
  opts?: QueryOptions,
): Promise<void> {
  await new ControlStore(db as Driver).setOwnedStatus(
    record.canonicalName,
    spec.backfill_id,
    'created',
    at,
    details,
    db,
    opts,
  );
}

/** Marks this backfill's table dropped (cleanup). */
export async function recordDropped(
  db: Db,
  spec: BackfillSpec,
  record: OwnedTable,
  at: string,
  opts?: QueryOptions,
): Promise<void> {
  await new ControlStore(db as Driver).setOwnedStatus(
    record.canonicalName,
    spec.backfill_id,
    'dropped',
    at,
    null,
    db,
    opts,
  );
}
