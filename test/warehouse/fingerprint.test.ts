import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { fingerprint, fingerprintDifferences, type Fingerprint } from '../../warehouse/fingerprint';
import type { FingerprintSpec } from '../../warehouse/warehouse';

type Row = [date: string, merchant: string, net: string, orders: number, recalculatedAt: string];

const ROWS: Row[] = [
  ['2025-01-01', 'M1', '10.50', 2, '2025-01-02 02:00:00'],
  ['2025-01-01', 'M2', '20.25', 3, '2025-01-02 02:00:00'],
  ['2025-01-02', 'M1', '7.00', 1, '2025-01-03 02:00:00'],
  ['2025-01-02', 'M3', '0.01', 1, '2025-01-03 02:00:00'],
  ['2025-01-03', 'M2', '99.99', 9, '2025-01-04 02:00:00'],
];
/** Outside the fingerprinted slice [2025-01-01, 2025-01-04). */
const OUTSIDE: Row = ['2025-01-04', 'M1', '1000.00', 100, '2025-01-05 02:00:00'];

const specFor = (name: string): FingerprintSpec => ({
  table: { schema: 'f', name },
  partitionKey: 'revenue_date',
  grain: 'day',
  from: '2025-01-01',
  to: '2025-01-04',
  uniqueKey: ['revenue_date', 'merchant_id'],
  measures: ['net_revenue', 'order_count'],
  hashColumns: ['revenue_date', 'merchant_id', 'net_revenue', 'order_count'],
});

describe('fingerprint on DuckDB', () => {
  let db: DuckDbDriver;
  let n = 0;

  /** A fresh table holding `rows` inserted in the given order; returns its fingerprint. */
  async function fingerprintOf(rows: Row[], spec: Partial<FingerprintSpec> = {}): Promise<Fingerprint> {
    const name = `t${n++}`;
    await db.execute(
      `CREATE TABLE f.${name} (revenue_date DATE, merchant_id VARCHAR, net_revenue DECIMAL(18, 2), ` +
        `order_count BIGINT, recalculated_at TIMESTAMP)`,
    );
    for (const r of rows) {
      await db.execute({ sql: `INSERT INTO f.${name} VALUES (CAST($1 AS DATE), $2, CAST($3 AS DECIMAL(18, 2)), $4, ` +
        `CAST($5 AS TIMESTAMP))`, params: r });
    }
    return fingerprint(db, { ...specFor(name), ...spec });
  }

  beforeAll(async () => {
    db = await openDuckDb({ path: ':memory:' });
    await db.execute('CREATE SCHEMA f');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('reads counts and exact sums of the slice only', async () => {
    const fp = await fingerprintOf([...ROWS, OUTSIDE]);
    expect(fp).toEqual({
      rows: 5,
      distinctKeys: 5,
      sums: { net_revenue: '137.75', order_count: '16' },
      rowHash: expect.stringMatching(/^-?\d+$/),
    });
    expect(fp.rowHash).not.toBe('0');
  });

  it('is independent of insertion order', async () => {
    const a = await fingerprintOf(ROWS);
    const b = await fingerprintOf([...ROWS].reverse());
    const c = await fingerprintOf([ROWS[2]!, ROWS[4]!, ROWS[0]!, ROWS[3]!, ROWS[1]!]);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(fingerprintDifferences(a, b)).toEqual([]);
  });

  it('ignores rows outside the slice', async () => {
    expect(await fingerprintOf([...ROWS, OUTSIDE])).toEqual(await fingerprintOf(ROWS));
  });

  it('changes row count and hash, not distinct keys, when a row is duplicated', async () => {
    const base = await fingerprintOf(ROWS);
    const dup = await fingerprintOf([...ROWS, ROWS[1]!]);
    expect(dup.rows).toBe(base.rows + 1);
    expect(dup.distinctKeys).toBe(base.distinctKeys);
    expect(dup.rowHash).not.toBe(base.rowHash);
    expect(fingerprintDifferences(base, dup)).toEqual([
      'row count 5 vs 6',
      'sum(net_revenue) 137.75 vs 158.00',
      'sum(order_count) 16 vs 19',
      'row hash',
    ]);
  });

  it('does not let a pair of duplicates cancel out (unlike an XOR hash)', async () => {
    const base = await fingerprintOf(ROWS);
    const twice = await fingerprintOf([...ROWS, ROWS[3]!, ROWS[3]!]);
    expect(twice.rowHash).not.toBe(base.rowHash);
  });

  it('changes the hash and the sum when one value changes, naming both', async () => {
    const base = await fingerprintOf(ROWS);
    const changed = ROWS.map((r, i): Row => (i === 2 ? [r[0], r[1], '7.01', r[3], r[4]] : r));
    const after = await fingerprintOf(changed);
    expect(after.rows).toBe(base.rows);
    expect(after.sums.order_count).toBe(base.sums.order_count);
    expect(after.sums.net_revenue).toBe('137.76');
    expect(after.rowHash).not.toBe(base.rowHash);
    expect(fingerprintDifferences(base, after)).toEqual(['sum(net_revenue) 137.75 vs 137.76', 'row hash']);
  });

  it('changes only the hash when values move between rows but sums stay equal', async () => {
    const base = await fingerprintOf(ROWS);
    const swapped = ROWS.map((r, i): Row =>
      i === 0 ? [r[0], r[1], '20.25', r[3], r[4]] : i === 1 ? [r[0], r[1], '10.50', r[3], r[4]] : r,
    );
    const after = await fingerprintOf(swapped);
    expect(fingerprintDifferences(base, after)).toEqual(['row hash']);
  });

  it('ignores audit columns left out of hashColumns, and notices them when hashed', async () => {
    const restamped = ROWS.map((r): Row => [r[0], r[1], r[2], r[3], '2026-06-20 10:00:00']);
    expect(await fingerprintOf(restamped)).toEqual(await fingerprintOf(ROWS));

    const withAudit = { hashColumns: [...specFor('x').hashColumns, 'recalculated_at'] };
    const a = await fingerprintOf(ROWS, withAudit);
    const b = await fingerprintOf(restamped, withAudit);
    expect(fingerprintDifferences(a, b)).toEqual(['row hash']);
  });

  it('counts a reused key once in distinct keys', async () => {
    const clash = ROWS.map((r, i): Row => (i === 1 ? [r[0], 'M1', r[2], r[3], r[4]] : r));
    const fp = await fingerprintOf(clash);
    expect(fp.rows).toBe(5);
    expect(fp.distinctKeys).toBe(4);
  });

  it('gives zero rows, null sums and a zero hash for an empty slice', async () => {
    expect(await fingerprintOf([OUTSIDE])).toEqual({
      rows: 0,
      distinctKeys: 0,
      sums: { net_revenue: null, order_count: null },
      rowHash: '0',
    });
  });
});

describe('fingerprintDifferences', () => {
  const fp: Fingerprint = { rows: 2, distinctKeys: 2, sums: { a: '1.00', b: '2' }, rowHash: '123' };

  it('is empty for identical fingerprints', () => {
    expect(fingerprintDifferences(fp, { ...fp, sums: { ...fp.sums } })).toEqual([]);
  });

  it('names every differing field in a fixed order', () => {
    expect(
      fingerprintDifferences(fp, { rows: 3, distinctKeys: 1, sums: { a: '1.50', b: '2' }, rowHash: '124' }),
    ).toEqual(['row count 2 vs 3', 'distinct keys 2 vs 1', 'sum(a) 1.00 vs 1.50', 'row hash']);
  });

  it('names a measure present on one side only, and null sums', () => {
    expect(fingerprintDifferences(fp, { ...fp, sums: { a: '1.00' } })).toEqual(['sum(b) 2 vs undefined']);
    expect(fingerprintDifferences({ ...fp, sums: { a: null, b: '2' } }, fp)).toEqual(['sum(a) null vs 1.00']);
  });
});
