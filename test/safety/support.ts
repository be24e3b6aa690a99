/**
 * What "production untouched" means in the safety tests, measured on the real DuckDB: the
 * fingerprint of finance.daily_revenue over the whole table and every column (audit columns
 * included), the set of tables and views outside backfill_control, and a row digest of each of them.
 */
import { expect } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { partitionAtOrdinal, rangeOrdinals } from '../../domain/partitions';
import type { BackfillSpec } from '../../domain/spec/schema';
import { columnNames } from '../../warehouse/catalog';
import { CONTROL_SCHEMA, ControlStore, type AuditEntry } from '../../warehouse/control-store';
import { fingerprint, type Fingerprint, fingerprintSpec } from '../../warehouse/fingerprint';
import { parseTableName } from '../../warehouse/identifiers';
import { createShadow, createSnapshot, rewritePartition } from '../../warehouse/shadow';
import type { Driver } from '../../warehouse/warehouse';
import { exampleSpec } from '../support/backfill-harness';
import { AT, claimed } from '../support/owned';

export const PRODUCTION = 'finance.daily_revenue';
/** Wider than any partition the scenario holds (2024-12-01 .. 2026-06-14). */
export const WHOLE = { from: '0001-01-01', to: '9999-12-31' } as const;

/** Every table and view outside the control schema, as 'schema.name', sorted. */
export async function tableSet(db: Driver): Promise<string[]> {
  const rows = await db.query({
    sql: `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables ` +
      `WHERE lower(table_schema) <> $1 ORDER BY 1`,
    params: [CONTROL_SCHEMA],
  });
  return rows.map((r) => String(r.name));
}

/** Row count and an order-independent hash of whole rows (duplicates do not cancel), per table. */
export async function tableDigests(
  db: Driver,
  tables?: string[],
): Promise<Record<string, { rows: number; hash: string }>> {
  const out: Record<string, { rows: number; hash: string }> = {};
  for (const name of tables ?? (await tableSet(db))) {
    const [row] = await db.query(
      `SELECT count(*) AS n, CAST(coalesce(sum(CAST(hash(t) AS HUGEINT)), 0) AS VARCHAR) ` +
        `AS h FROM ${db.dialect.table(parseTableName(name))} AS t`,
    );
    out[name] = { rows: Number(row!.n), hash: String(row!.h) };
  }
  return out;
}

/**
 * Production's fingerprint over [from, to) (the whole table by default) with EVERY column in the row
 * hash, so a changed recalculated_at or backfill_id counts as a change too.
 */
export async function productionFingerprint(
  db: Driver,
  range: { from: string; to: string } = WHOLE,
): Promise<Fingerprint> {
  const spec = exampleSpec();
  const columns = await columnNames(db, PRODUCTION);
  expect(columns.length, `${PRODUCTION} exists`).toBeGreaterThan(0);
  return fingerprint(db, {
    ...fingerprintSpec(spec, parseTableName(PRODUCTION), columns, range.from, range.to),
    hashColumns: columns,
  });
}

export interface WarehouseState {
  production: Fingerprint;
  tables: string[];
  digests: Record<string, { rows: number; hash: string }>;
}

export async function warehouseState(db: Driver): Promise<WarehouseState> {
  const tables = await tableSet(db);
  return { production: await productionFingerprint(db), tables, digests: await tableDigests(db, tables) };
}

/**
 * After a run that must not have written anything but its own tables: production's fingerprint is
 * the same, exactly `added` tables appeared (nothing vanished), and every table that existed before
 * holds the same rows — except those in `changed`, which the caller checks itself.
 */
export async function expectOnlyAdded(
  db: Driver,
  before: WarehouseState,
  added: string[],
  changed: string[] = [],
): Promise<WarehouseState> {
  const after = await warehouseState(db);
  if (!changed.includes(PRODUCTION)) expect(after.production, 'production fingerprint').toEqual(before.production);
  expect(after.tables).toEqual([...before.tables, ...added].sort());
  for (const name of before.tables) {
    if (changed.includes(name)) continue;
    expect(after.digests[name], `${name} unchanged`).toEqual(before.digests[name]);
  }
  return after;
}

/** The tables a spec creates for itself (shadow and restore point), as tableSet spells them. */
export const ownTables = (spec: BackfillSpec): string[] =>
  [spec.target.shadow_table, spec.rollback.snapshot].map((n) => {
    const t = parseTableName(n);
    return `${t.schema}.${t.name}`;
  });

export async function auditOf(db: Driver, backfillId: string): Promise<AuditEntry[]> {
  return new ControlStore(db).auditTrail(backfillId);
}

export const count = (entries: AuditEntry[], action: string): number =>
  entries.filter((e) => e.action === action).length;

/** Polls the audit log until `done` holds (handlers audit through an activity, after the signal returns). */
export async function waitForAudit(
  db: Driver,
  backfillId: string,
  done: (entries: AuditEntry[]) => boolean,
  timeoutMs = 30_000,
): Promise<AuditEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entries = await auditOf(db, backfillId);
    if (done(entries)) return entries;
    if (Date.now() > deadline) {
      throw new Error(`audit log never matched; it holds: ${JSON.stringify(entries.map((e) => [e.action, e.actor]))}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The ApplicationFailure an update was refused with; fails the test when the update was not refused. */
export async function updateRefusal(p: Promise<unknown>): Promise<ApplicationFailure> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'the update was refused').toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (e as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

/**
 * What the workflow does before approval, done directly (no worker): claim the spec's tables, take
 * the restore point, create the shadow and rewrite every day of the range into it with the transform.
 */
export async function prepareDirect(db: Driver, spec: BackfillSpec): Promise<BackfillSpec> {
  expect(spec.source_range.grain).toBe('day');
  await createSnapshot(db, await claimed(db, spec), AT);
  await createShadow(db, await claimed(db, spec), AT);
  const columns = await columnNames(db, spec.target.table);
  const r = rangeOrdinals(spec.source_range.start, spec.source_range.end, 'day')!;
  for (let o = r.first; o <= r.last; o++) await rewritePartition(db, spec, partitionAtOrdinal(o, 'day'), columns);
  return spec;
}
