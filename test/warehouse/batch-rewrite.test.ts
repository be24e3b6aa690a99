/**
 * Set-based batches on a real in-memory DuckDB seeded with the tax-bug scenario: one DELETE + INSERT
 * over a batch's range writes exactly what the partition-by-partition rewrite writes, in one
 * transaction of a fixed number of statements; rows outside the range commit nothing; and the
 * decomposability proof tells a transform that reads only its partition from one with a window
 * over its whole input.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackfillError, isBackfillFailure } from '../../contracts/errors';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import type { Partition } from '../../domain/partitions';
import { batchPartitions } from '../../domain/plan';
import type { BackfillSpec } from '../../domain/spec/schema';
import { batchStats, statsByPartition } from '../../warehouse/batch-evidence';
import { proveDecomposable, rewriteBatch, type BatchMode } from '../../warehouse/batch-rewrite';
import { columnNames } from '../../warehouse/catalog';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { fingerprint, fingerprintSpec } from '../../warehouse/fingerprint';
import { createShadow, shadowSlicer, tablesOf } from '../../warehouse/shadow';
import type { StatementEvent } from '../../warehouse/warehouse';
import { AT, claimed } from '../support/owned';
import { testSpec } from '../support/test-spec';

let db: DuckDbDriver;
let columns: string[];
let statements: StatementEvent[] = [];

/** The example transform (testSpec: 2025-01-01..2025-02-28, 9 batches of 7) with its own shadow. */
const spec = (name: string, patch?: (s: BackfillSpec) => void) => testSpec(`rewrite-${name}`, patch);

/** The same transform, but tax_amount holds the total tax of everything the transform read: a window over its input. */
const WINDOWED = (s: BackfillSpec) => {
  const sql = s.transform!.sql.replace(
    'CAST(sum(tax_amount) AS DECIMAL(18, 2)) AS tax_amount',
    'CAST(sum(sum(tax_amount)) OVER () AS DECIMAL(18, 2)) AS tax_amount',
  );
  if (sql === s.transform!.sql) throw new Error('the example transform changed: the window was not put in');
  s.transform = { ...s.transform!, sql };
};

/** Batch 5 (counted from 1): 2025-01-29..2025-02-04, across a month boundary. */
const BATCH = 4;

async function shadowOf(s: BackfillSpec): Promise<BackfillSpec> {
  await createShadow(db, await claimed(db, s), AT);
  return s;
}

const rangeOf = (partitions: readonly Partition[]) => ({
  from: partitions[0]!.start,
  to: partitions[partitions.length - 1]!.end,
});

/** Fingerprint of the shadow (audit columns out of the row hash) over `partitions`, or a wider slice. */
function shadowPrint(s: BackfillSpec, partitions: readonly Partition[], wider?: { from: string; to: string }) {
  const { from, to } = wider ?? rangeOf(partitions);
  return fingerprint(db, fingerprintSpec(s, tablesOf(s).shadow, columns, from, to));
}

const rewrite = (s: BackfillSpec, partitions: readonly Partition[], mode: BatchMode) =>
  rewriteBatch(db, s, partitions, columns, { mode, concurrency: 2 });

/** The first word of every statement the driver ran. */
const kinds = (events: readonly StatementEvent[]) => events.map((e) => e.sql.trim().split(/\s+/)[0]!.toUpperCase());

const tables = async () =>
  (await db.query(
    `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables ORDER BY 1`,
  )).map((r) => String(r.t));

beforeAll(async () => {
  db = await openDuckDb({ path: ':memory:', onStatement: (e) => statements.push(e) });
  await seedRevenueScenario(db);
  columns = await columnNames(db, 'finance.daily_revenue');
});
beforeEach(() => {
  statements = [];
});
afterAll(async () => db?.close());

describe('rewriteBatch in range mode', () => {
  it('writes exactly the rows partition mode writes, in one transaction of five statements', async () => {
    const partitions = batchPartitions(spec('probe'), BATCH);
    expect(partitions.map((p) => p.start)).toEqual([
      '2025-01-29', '2025-01-30', '2025-01-31', '2025-02-01', '2025-02-02', '2025-02-03', '2025-02-04',
    ]);
    const each = await shadowOf(spec('each'));
    const whole = await shadowOf(spec('whole'));
    const byPartition = await rewrite(each, partitions, 'partition');

    statements = [];
    const byRange = await rewrite(whole, partitions, 'range');
    expect(kinds(statements)).toEqual(['BEGIN', 'DELETE', 'INSERT', 'SELECT', 'COMMIT']);
    expect(statements.every((e) => e.inTransaction && e.error === undefined)).toBe(true);

    expect(await shadowPrint(whole, partitions)).toEqual(await shadowPrint(each, partitions));
    expect(byRange.partitionRows).toEqual(byPartition.partitionRows);
    expect(Object.keys(byRange.partitionRows)).toEqual(partitions.map((p) => p.start));
    expect(Object.values(byRange.partitionRows).every((n) => n > 0)).toBe(true);
    const { from, to } = rangeOf(partitions);
    // The statistics read inside the transaction are the shadow's as committed, and partition mode's;
    // production's, read in the same statement, are production's alone (no keys or NULLs counted).
    expect(byRange.stats!.after).toEqual(await statsByPartition(db, whole, tablesOf(whole).shadow, from, to));
    expect(byRange.stats!.after).toEqual(await statsByPartition(db, each, tablesOf(each).shadow, from, to));
    expect(byRange.stats!.after).toEqual((await batchStats(db, each, from, to)).after);
    const production = await statsByPartition(db, whole, tablesOf(whole).target, from, to);
    expect(byRange.stats!.before).toEqual(
      Object.fromEntries(Object.entries(production).map(([p, st]) => [p, { ...st, distinctKeys: st.rows }])),
    );
    expect(Object.keys(byRange.stats!.before).length).toBeGreaterThan(0);
    expect(byPartition.stats).toBeUndefined();
  });

  it('runs the same five statements for a one-partition batch', async () => {
    const one = batchPartitions(spec('probe'), 0).slice(0, 1);
    const each = await shadowOf(spec('one-each'));
    const whole = await shadowOf(spec('one-whole'));
    const byPartition = await rewrite(each, one, 'partition');
    statements = [];
    const byRange = await rewrite(whole, one, 'range');
    expect(kinds(statements)).toEqual(['BEGIN', 'DELETE', 'INSERT', 'SELECT', 'COMMIT']);
    expect(byRange.partitionRows).toEqual(byPartition.partitionRows);
    expect(await shadowPrint(whole, one)).toEqual(await shadowPrint(each, one));
  });

  it('is idempotent: a rerun writes the same rows and no duplicate keys', async () => {
    const s = await shadowOf(spec('rerun'));
    const partitions = batchPartitions(s, BATCH);
    const first = await rewrite(s, partitions, 'range');
    const once = await shadowPrint(s, partitions);
    const again = await rewrite(s, partitions, 'range');
    const twice = await shadowPrint(s, partitions);
    expect(again.partitionRows).toEqual(first.partitionRows);
    expect(twice).toEqual(once);
    expect(twice.distinctKeys).toBe(twice.rows);
    expect(twice.rows).toBe(Object.values(first.partitionRows).reduce((a, b) => a + b, 0));
  });

  it('refuses a transform that returns rows outside the range and commits nothing', async () => {
    const good = await shadowOf(spec('outside'));
    const partitions = batchPartitions(good, BATCH);
    await rewrite(good, partitions, 'range');
    // One day on either side of the batch, to see that nothing leaked past it either.
    const around = { from: '2025-01-28', to: '2025-02-06' };
    const before = await shadowPrint(good, partitions, around);
    const leaky: BackfillSpec = {
      ...good,
      transform: {
        ...good.transform!,
        sql: good.transform!.sql.replace(
          'revenue_date < :partition_end', 'revenue_date < :partition_end + INTERVAL 1 DAY',
        ),
      },
    };
    expect(leaky.transform!.sql).not.toBe(good.transform!.sql);

    statements = [];
    const error = await rewrite(leaky, partitions, 'range').catch((e: unknown) => e);
    expect(isBackfillFailure(error, BackfillError.TransformOutOfPartition), String(error)).toBe(true);
    expect((error as Error).message).toContain('for 2025-01-29 .. 2025-02-04');
    expect((error as Error).message).toContain('outside [2025-01-29, 2025-02-05)');
    expect((error as Error).message).toContain('Nothing was written');
    expect(kinds(statements)).toEqual(['BEGIN', 'DELETE', 'INSERT', 'SELECT', 'ROLLBACK']);
    expect(await shadowPrint(good, partitions, around)).toEqual(before);
  });
});

describe('proveDecomposable', () => {
  it('proves the example transform decomposable, leaving the batch written once', async () => {
    const s = await shadowOf(spec('proof'));
    const partitions = batchPartitions(s, BATCH);
    const tablesBefore = await tables();
    const proof = await proveDecomposable(db, s, partitions, await shadowSlicer(db, s));
    expect(proof).toMatchObject({ decomposable: true, differences: [] });
    expect(proof.rows.range).toBe(proof.rows.partitions);
    expect(proof.rows.range).toBeGreaterThan(0);
    const written = await shadowPrint(s, partitions);
    expect(written.rows).toBe(proof.rows.range);
    expect(written.distinctKeys).toBe(written.rows);
    // Outside the batch the proof wrote nothing, and it left no table behind.
    expect((await shadowPrint(s, partitions, { from: '2024-01-01', to: '2027-01-01' })).rows).toBe(written.rows);
    expect(await tables()).toEqual(tablesBefore);
  });

  it('finds a window over the whole input not decomposable, and leaves the shadow as partition mode writes it',
    async () => {
      const s = await shadowOf(spec('window', WINDOWED));
      const partitions = batchPartitions(s, BATCH);
      const reference = await shadowOf(spec('window-reference', WINDOWED));
      await rewrite(reference, partitions, 'partition');
      const tablesBefore = await tables();

      const proof = await proveDecomposable(db, s, partitions, await shadowSlicer(db, s));
      expect(await tables()).toEqual(tablesBefore);
      expect(proof.decomposable).toBe(false);
      expect(proof.differences.length).toBeGreaterThan(0);
      expect(proof.differences.join('; ')).toMatch(/row ?hash|rowHash/i);
      // Same rows and keys either way: only the windowed column differs.
      expect(proof.rows.range).toBe(proof.rows.partitions);

      const left = await shadowPrint(s, partitions);
      expect(left).toEqual(await shadowPrint(reference, partitions));
      const rangeWritten = await shadowOf(spec('window-range', WINDOWED));
      await rewrite(rangeWritten, partitions, 'range');
      expect((await shadowPrint(rangeWritten, partitions)).rowHash).not.toBe(left.rowHash);
    });
});
