/**
 * Snapshot, shadow and partition rewrites on a real DuckDB seeded with the tax-bug scenario.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../client/load-spec';
import { BackfillError, isBackfillFailure } from '../../contracts/errors';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import type { BackfillSpec } from '../../domain/spec/schema';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { fingerprint, fingerprintSpec } from '../../warehouse/fingerprint';
import { columnNames, describeTable } from '../../warehouse/catalog';
import { createShadow, createSnapshot, proveIdempotency, rewritePartition, tablesOf } from '../../warehouse/shadow';
import { AT, claimed } from '../support/owned';

const base = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
const day = { start: '2025-06-15', end: '2025-06-16' };
let db: DuckDbDriver;
let columns: string[];
let n = 0;

/** A spec with its own shadow and snapshot tables, so tests do not share state. */
function specWith(patch: (s: BackfillSpec) => BackfillSpec = (s) => s): BackfillSpec {
  n += 1;
  return patch({
    ...base,
    target: { ...base.target, shadow_table: `finance.shadow_t${n}` },
    rollback: { ...base.rollback, snapshot: `finance.snapshot_t${n}` },
  });
}

const withSql = (sql: string) => (s: BackfillSpec): BackfillSpec => ({ ...s, transform: { ...s.transform!, sql } });

async function sliceFingerprint(spec: BackfillSpec, which: 'target' | 'shadow' | 'snapshot', from: string, to: string) {
  return fingerprint(db, fingerprintSpec(spec, tablesOf(spec)[which], columns, from, to));
}

const countIn = async (table: string, p = day) =>
  Number((await db.query({ sql: `SELECT count(*) AS n FROM ${table} WHERE revenue_date >= CAST($1 AS DATE) ` +
    `AND revenue_date < CAST($2 AS DATE)`, params: [p.start, p.end] }))[0]!.n);

let productionBefore: Awaited<ReturnType<typeof sliceFingerprint>>;

beforeAll(async () => {
  db = await openDuckDb({ path: ':memory:' });
  await seedRevenueScenario(db);
  columns = await columnNames(db, base.target.table);
  productionBefore = await sliceFingerprint(base, 'target', '2024-01-01', '2027-01-01');
});

afterAll(async () => {
  // Nothing in this file may write production.
  expect(await sliceFingerprint(base, 'target', '2024-01-01', '2027-01-01')).toEqual(productionBefore);
  await db.close();
});

describe('createSnapshot', () => {
  it('copies the trusted result once, and refuses a restore point changed since it was taken', async () => {
    const spec = await claimed(db, specWith());
    expect(await createSnapshot(db, spec, AT)).toBe(true);
    expect(await sliceFingerprint(spec, 'snapshot', '2024-01-01', '2027-01-01')).toEqual(productionBefore);
    expect(await createSnapshot(db, spec, AT)).toBe(false);
    await db.execute(`DELETE FROM finance.snapshot_t${n} WHERE revenue_date = DATE '2025-06-15'`);
    const error = await createSnapshot(db, spec, AT).catch((e: unknown) => e);
    expect(isBackfillFailure(error, BackfillError.NotAllowed), String(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /finance\.snapshot_t\d+ is not the snapshot .* changed since it was taken/,
    );
    expect(await countIn(`finance.snapshot_t${n}`)).toBe(0);
  });

  it('creates nothing without a claim', async () => {
    const spec = specWith();
    const error = await createSnapshot(db, spec, AT).catch((e: unknown) => e);
    expect(isBackfillFailure(error, BackfillError.NotAllowed), String(error)).toBe(true);
    expect((await describeTable(db, spec.rollback.snapshot)).length).toBe(0);
  });
});

describe('createShadow', () => {
  it('creates an empty table with the target columns, once', async () => {
    const spec = specWith();
    expect(await createShadow(db, await claimed(db, spec), AT)).toBe(true);
    expect(await createShadow(db, await claimed(db, spec), AT)).toBe(false);
    expect((await describeTable(db, spec.target.shadow_table)).map((c) => c.name)).toEqual(
      (await describeTable(db, spec.target.table)).map((c) => c.name),
    );
    expect(await countIn(spec.target.shadow_table, { start: '2024-01-01', end: '2027-01-01' })).toBe(0);
  });
});

describe('rewritePartition', () => {
  it('writes the partition with the grain unchanged, and a rerun replaces rather than duplicates', async () => {
    const spec = specWith();
    await createShadow(db, await claimed(db, spec), AT);
    const first = await rewritePartition(db, spec, day, columns);
    expect(first.rowsWritten).toBe(await countIn(spec.target.table));
    const again = await rewritePartition(db, spec, day, columns);
    expect(again.rowsWritten).toBe(first.rowsWritten);
    expect(await countIn(spec.target.shadow_table)).toBe(first.rowsWritten);
    const fixed = await sliceFingerprint(spec, 'shadow', day.start, day.end);
    const old = await sliceFingerprint(spec, 'target', day.start, day.end);
    expect(Number(fixed.sums.net_revenue)).toBeLessThan(Number(old.sums.net_revenue));
    expect(fixed.sums.gross_revenue).toBe(old.sums.gross_revenue);
  });

  it('runs DELETE and INSERT in one transaction: a failing INSERT keeps the previous rows', async () => {
    const spec = specWith();
    await createShadow(db, await claimed(db, spec), AT);
    const { rowsWritten } = await rewritePartition(db, spec, day, columns);
    const broken = withSql(
      base.transform!.sql.replace("'FIN-2841' AS backfill_id", "CAST(CAST('x' AS INTEGER) AS VARCHAR) AS backfill_id"),
    )(spec);
    const error = await rewritePartition(db, broken, day, columns).catch((e: unknown) => e);
    expect(isBackfillFailure(error, BackfillError.WarehousePermanent)).toBe(true);
    expect(await countIn(spec.target.shadow_table)).toBe(rowsWritten);
  });

  it('refuses a transform that returns rows outside the partition, writing nothing', async () => {
    const spec = specWith(
      withSql(
        base.transform!.sql.replace('revenue_date < :partition_end', 'revenue_date < :partition_end + INTERVAL 1 DAY'),
      ),
    );
    await createShadow(db, await claimed(db, spec), AT);
    const error = await rewritePartition(db, spec, day, columns).catch((e: unknown) => e);
    expect(isBackfillFailure(error, BackfillError.TransformOutOfPartition)).toBe(true);
    expect((error as Error).message).toContain('2025-06-15');
    expect(await countIn(spec.target.shadow_table, { start: '2024-01-01', end: '2027-01-01' })).toBe(0);
  });
});

describe('proveIdempotency', () => {
  it('passes for the corrected transform (recalculated_at is an audit column)', async () => {
    const spec = specWith();
    await createShadow(db, await claimed(db, spec), AT);
    await rewritePartition(db, spec, { start: '2025-06-14', end: '2025-06-15' }, columns);
    const proof = await proveIdempotency(db, spec, day);
    expect(proof.first).toEqual(proof.second);
    expect(proof.first.rows).toBe(proof.rowsWritten);
    expect(proof.first.distinctKeys).toBe(proof.first.rows);
  });

  it('fails with NotIdempotent when the current time lands in a fingerprinted column', async () => {
    const spec = specWith((s) => ({ ...s, target: { ...s.target, audit_columns: ['backfill_id'] } }));
    await createShadow(db, await claimed(db, spec), AT);
    const error = await proveIdempotency(db, spec, day).catch((e: unknown) => e);
    expect(isBackfillFailure(error, BackfillError.NotIdempotent)).toBe(true);
    expect((error as Error).message).toContain('row hash');
  });

  it('fails with NotIdempotent for a transform using random() in a measure', async () => {
    const spec = specWith(withSql(base.transform!.sql.replace(
      'CAST(sum(gross_amount - tax_amount) AS DECIMAL(18, 2)) AS net_revenue',
      'CAST(sum(gross_amount - tax_amount) + random() AS DECIMAL(18, 2)) AS net_revenue',
    )));
    expect(spec.transform!.sql).toContain('random()');
    await createShadow(db, await claimed(db, spec), AT);
    const error = await proveIdempotency(db, spec, day).catch((e: unknown) => e);
    expect(isBackfillFailure(error, BackfillError.NotIdempotent)).toBe(true);
    expect((error as Error).message).toMatch(/sum\(net_revenue\)/);
  });
});
