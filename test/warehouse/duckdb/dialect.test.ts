/**
 * DuckDB SQL text, asserted exactly (SQL and bound parameters, kysely style), then run against a
 * real in-memory DuckDB so the text is not only what we wrote but also what the engine accepts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duckDbDialect as d } from '../../../warehouse/duckdb/dialect';
import { openDuckDb, type DuckDbDriver } from '../../../warehouse/duckdb/driver';
import type { FingerprintSpec, PartitionGrain } from '../../../warehouse/warehouse';

const revenue = { schema: 'finance', name: 'daily_revenue' };
const v2 = { schema: 'finance', name: 'daily_revenue_v2' };

const spec: FingerprintSpec = {
  table: revenue,
  partitionKey: 'revenue_date',
  grain: 'day',
  from: '2025-01-01',
  to: '2025-01-08',
  uniqueKey: ['revenue_date', 'merchant_id'],
  measures: ['net_revenue', 'order_count'],
  hashColumns: ['revenue_date', 'merchant_id', 'net_revenue', 'order_count'],
};

describe('quoting and placeholders', () => {
  it('double-quotes identifiers and doubles embedded quotes', () => {
    expect(d.name).toBe('duckdb');
    expect(d.quoteIdent('revenue_date')).toBe('"revenue_date"');
    expect(d.quoteIdent('a"b')).toBe('"a""b"');
    expect(d.table(revenue)).toBe('"finance"."daily_revenue"');
    expect(d.table({ database: 'wh', ...revenue })).toBe('"wh"."finance"."daily_revenue"');
    expect(d.placeholder(1)).toBe('$1');
    expect(d.placeholder(12)).toBe('$12');
  });

  it.each([
    ['hour', 'CAST($1 AS TIMESTAMP)'],
    ['day', 'CAST($1 AS DATE)'],
    ['month', 'CAST($1 AS DATE)'],
  ] as const)('boundValue at %s grain is %s', (grain, sql) => {
    expect(d.boundValue(1, grain)).toBe(sql);
    expect(d.boundValue(2, grain)).toBe(sql.replace('$1', '$2'));
  });
});

describe('statement text', () => {
  it('fingerprint: counts, distinct composite keys, exact sums as text, summed row hash; bounds bound', () => {
    expect(d.fingerprint(spec)).toEqual({
      sql:
        'SELECT COUNT(*) AS "row_count", COUNT(DISTINCT row("revenue_date", "merchant_id")) AS "distinct_keys"' +
        ' , CAST(SUM("net_revenue") AS VARCHAR) AS "measure_0"' +
        ' , CAST(SUM("order_count") AS VARCHAR) AS "measure_1"' +
        ' , CAST(COALESCE(SUM(CAST(hash("revenue_date", "merchant_id", "net_revenue", "order_count") AS HUGEINT)), ' +
        '0) AS VARCHAR) AS "row_hash" FROM "finance"."daily_revenue" WHERE "revenue_date" >= CAST($1 AS DATE) ' +
        'AND "revenue_date" < CAST($2 AS DATE)',
      params: ['2025-01-01', '2025-01-08'],
    });
  });

  it('fingerprint: a single key is counted directly; no measures; hour bounds as TIMESTAMP', () => {
    const s = d.fingerprint({
      ...spec,
      uniqueKey: ['id'],
      measures: [],
      hashColumns: ['id'],
      partitionKey: 'ts',
      grain: 'hour',
      from: '2025-01-01T00:00:00',
      to: '2025-01-01T01:00:00',
    });
    expect(s).toEqual({
      sql:
        'SELECT COUNT(*) AS "row_count", COUNT(DISTINCT "id") AS "distinct_keys"' +
        ' , CAST(COALESCE(SUM(CAST(hash("id") AS HUGEINT)), 0) AS VARCHAR) AS "row_hash"' +
        ' FROM "finance"."daily_revenue" WHERE "ts" >= CAST($1 AS TIMESTAMP) AND "ts" < CAST($2 AS TIMESTAMP)',
      params: ['2025-01-01T00:00:00', '2025-01-01T01:00:00'],
    });
  });

  it.each([
    ['day', `strftime(CAST("k" AS DATE), '%Y-%m-%d')`, 'DATE'],
    ['hour', `strftime(date_trunc('hour', "k"), '%Y-%m-%dT%H:00:00')`, 'TIMESTAMP'],
    ['month', `strftime(date_trunc('month', "k"), '%Y-%m-%d')`, 'DATE'],
  ] as const)('rowsPerPartition at %s grain', (grain, label, type) => {
    expect(d.rowsPerPartition(revenue, 'k', grain, 'A', 'B')).toEqual({
      sql:
        `SELECT ${label} AS "partition_start", COUNT(*) AS "row_count" FROM "finance"."daily_revenue" ` +
        `WHERE "k" >= CAST($1 AS ${type}) AND "k" < CAST($2 AS ${type}) GROUP BY 1 ORDER BY 1`,
      params: ['A', 'B'],
    });
  });

  it('describeTable binds schema and table (and catalog when given), matched case-insensitively as ' +
    'DuckDB resolves names', () => {
    const head = `SELECT column_name AS "name", data_type AS "type", is_nullable = 'YES' AS "nullable" FROM ` +
      `information_schema.columns`;
    const where = 'WHERE lower(table_schema) = lower($1) AND lower(table_name) = lower($2)';
    expect(d.describeTable(revenue)).toEqual({
      sql: `${head} ${where} ORDER BY ordinal_position`,
      params: ['finance', 'daily_revenue'],
    });
    expect(d.describeTable({ database: 'wh', ...revenue })).toEqual({
      sql: `${head} ${where} AND lower(table_catalog) = lower($3) ORDER BY ordinal_position`,
      params: ['finance', 'daily_revenue', 'wh'],
    });
  });

  it('cloneTable copies data; createTableLike copies only columns', () => {
    const snap = { schema: 'finance', name: 'daily_revenue_pre_FIN_2841' };
    expect(d.cloneTable(snap, revenue)).toBe(
      'CREATE TABLE "finance"."daily_revenue_pre_FIN_2841" AS SELECT * FROM "finance"."daily_revenue"',
    );
    expect(d.createTableLike(v2, revenue)).toBe(
      'CREATE TABLE "finance"."daily_revenue_v2" AS SELECT * FROM "finance"."daily_revenue" LIMIT 0',
    );
  });

  it('swapTables is three renames through a parking name', () => {
    expect(d.swapTables(revenue, v2)).toEqual([
      'ALTER TABLE "finance"."daily_revenue" RENAME TO "daily_revenue__swap"',
      'ALTER TABLE "finance"."daily_revenue_v2" RENAME TO "daily_revenue"',
      'ALTER TABLE "finance"."daily_revenue__swap" RENAME TO "daily_revenue_v2"',
    ]);
  });

  it('schema, drop, view and transaction statements', () => {
    expect(d.createSchema('backfill_control')).toBe('CREATE SCHEMA IF NOT EXISTS "backfill_control"');
    expect(d.dropTable(v2)).toBe('DROP TABLE IF EXISTS "finance"."daily_revenue_v2"');
    expect(d.createOrReplaceView({ schema: 'finance', name: 'current' }, v2)).toBe(
      'CREATE OR REPLACE VIEW "finance"."current" AS SELECT * FROM "finance"."daily_revenue_v2"',
    );
    expect([d.begin(), d.commit(), d.rollback()]).toEqual(['BEGIN TRANSACTION', 'COMMIT', 'ROLLBACK']);
    expect(d.beginReadOnly()).toBe('BEGIN TRANSACTION READ ONLY');
    expect(d.explain('SELECT 1')).toBe('EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1');
  });

  it('reads storage sizes with the qualified name (and catalog) bound, never spliced', () => {
    const three = d.tableStorage({ database: 'lake', schema: 'finance', name: 'daily_revenue' });
    expect(three.params).toEqual(['"lake"."finance"."daily_revenue"', 'lake']);
    expect(three.sql).toContain('FROM pragma_storage_info($1) WHERE persistent');
    expect(three.sql).toContain('get_block_size($2)');
    const two = d.tableStorage(revenue);
    expect(two.params).toEqual(['"finance"."daily_revenue"']);
    expect(two.sql).toContain('get_block_size(current_database())');
    expect(two.sql).not.toContain('daily_revenue');
  });
});

describe('the text runs on DuckDB', () => {
  let db: DuckDbDriver;
  beforeAll(async () => {
    db = await openDuckDb({ path: ':memory:' });
    await db.execute(d.createSchema('finance'));
    await db.execute(`CREATE TABLE finance.daily_revenue (revenue_date DATE, merchant_id VARCHAR, ` +
      `net_revenue DECIMAL(18, 2), order_count BIGINT, ts TIMESTAMP)`);
    await db.execute(`INSERT INTO finance.daily_revenue VALUES
      ('2024-12-31', 'M1', 1.00, 1, '2024-12-31 23:30'),
      ('2025-01-01', 'M1', 10.50, 2, '2025-01-01 00:10'),
      ('2025-01-01', 'M2', 20.25, 3, '2025-01-01 00:50'),
      ('2025-01-07', 'M1', 5.00, 1, '2025-01-01 01:00'),
      ('2025-01-08', 'M1', 99.00, 9, '2025-02-01 00:00')`);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('fingerprint reads only [from, to)', async () => {
    const [row] = await db.query(d.fingerprint(spec));
    expect(row).toMatchObject({ row_count: '3', distinct_keys: '3', measure_0: '35.75', measure_1: '6' });
    expect(String(row!.row_hash)).toMatch(/^-?\d+$/);
  });

  it.each([
    ['day', 'revenue_date', '2025-01-01', '2025-01-08', [['2025-01-01', '2'], ['2025-01-07', '1']]],
    ['hour', 'ts', '2025-01-01T00:00:00', '2025-01-01T02:00:00',
      [['2025-01-01T00:00:00', '2'], ['2025-01-01T01:00:00', '1']]],
    ['month', 'revenue_date', '2025-01-01', '2025-02-01', [['2025-01-01', '4']]],
  ] as const)('rowsPerPartition at %s grain labels partitions as the planner does', async (
    grain, key, from, to, expected,
  ) => {
    const rows = await db.query(d.rowsPerPartition(revenue, key, grain as PartitionGrain, from, to));
    expect(rows.map((r) => [r.partition_start, String(r.row_count)])).toEqual(expected);
  });

  it('describeTable lists columns in order with types and nullability', async () => {
    const rows = await db.query(d.describeTable(revenue));
    expect(rows.map((r) => [r.name, r.type, r.nullable])).toEqual([
      ['revenue_date', 'DATE', true],
      ['merchant_id', 'VARCHAR', true],
      ['net_revenue', 'DECIMAL(18,2)', true],
      ['order_count', 'BIGINT', true],
      ['ts', 'TIMESTAMP', true],
    ]);
    expect(await db.query(d.describeTable({ schema: 'finance', name: 'nope' }))).toEqual([]);
  });

  it('tableStorage finds nothing on disk for an in-memory table (the driver then uses type widths)', async () => {
    expect(await db.query(d.tableStorage(revenue))).toEqual([]);
  });

  it('clone, create-like and swap behave as named, the swap inside one transaction', async () => {
    const snap = { schema: 'finance', name: 'snap' };
    const shadow = { schema: 'finance', name: 'shadow' };
    await db.execute(d.cloneTable(snap, revenue));
    await db.execute(d.createTableLike(shadow, revenue));
    await db.execute(`INSERT INTO finance.shadow SELECT * FROM finance.daily_revenue WHERE merchant_id = 'M2'`);
    const count = async (t: string) => Number((await db.query(`SELECT count(*) AS n FROM ${t}`))[0]!.n);
    expect(await count('finance.snap')).toBe(5);
    expect(await count('finance.shadow')).toBe(1);

    await db.transaction(async (tx) => {
      for (const s of d.swapTables(snap, shadow)) await tx.execute(s);
    });
    expect(await count('finance.snap')).toBe(1);
    expect(await count('finance.shadow')).toBe(5);
    expect(await db.query(`SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%__swap'`)).toEqual(
      [],
    );

    await db.execute(d.dropTable(snap));
    await db.execute(d.dropTable(snap)); // IF EXISTS: idempotent
    await db.execute(d.dropTable(shadow));
  });
});

describe('reconciliation statements', () => {
  it('partitionStats groups by partition label with sums, distinct keys and NULL counts, bounds bound', () => {
    const stmt = d.partitionStats({
      table: revenue, partitionKey: 'revenue_date', grain: 'day', from: '2025-01-01', to: '2025-01-08',
      uniqueKey: ['revenue_date', 'merchant_id'], measures: ['net_revenue'], notNull: ['merchant_id'],
    });
    expect(stmt.sql).toBe(
      `SELECT strftime(CAST("revenue_date" AS DATE), '%Y-%m-%d') AS "partition_start", COUNT(*) AS "row_count", ` +
        `COUNT(DISTINCT row("revenue_date", "merchant_id")) AS "distinct_keys", CAST(SUM("net_revenue") AS VARCHAR) ` +
        `AS "measure_0", COUNT(*) - COUNT("merchant_id") AS "nulls_0" FROM "finance"."daily_revenue" ` +
        `WHERE "revenue_date" >= CAST($1 AS DATE) AND "revenue_date" < CAST($2 AS DATE) GROUP BY 1 ORDER BY 1`,
    );
    expect(stmt.params).toEqual(['2025-01-01', '2025-01-08']);
  });

  it('changedRows full-joins both slices on the unique key once, then each measure keeps its largest changes, ' +
    'limit inlined as an integer', () => {
    const stmt = d.changedRows({
      before: revenue, after: v2, partitionKey: 'revenue_date', grain: 'day', from: '2025-01-01', to: '2025-01-08',
      uniqueKey: ['revenue_date', 'merchant_id'], measures: ['net_revenue', 'order_count'], limit: 100.7,
    });
    expect(stmt.sql).toContain(`FROM (SELECT * FROM "finance"."daily_revenue" WHERE "revenue_date" >= CAST($1 AS ` +
      `DATE) AND "revenue_date" < CAST($2 AS DATE)) AS o FULL OUTER JOIN (SELECT * ` +
      `FROM "finance"."daily_revenue_v2" WHERE`);
    expect(stmt.sql).toContain(
      'USING ("revenue_date", "merchant_id") WHERE o."net_revenue" IS DISTINCT FROM n."net_revenue" OR ' +
        'o."order_count" IS DISTINCT FROM n."order_count"',
    );
    expect(stmt.sql.match(/FULL OUTER JOIN/g)).toHaveLength(1);
    expect(stmt.sql).toContain('(SELECT 0 AS "measure_index", "revenue_date", "merchant_id", "old_0" AS "old_value"');
    expect(stmt.sql).toContain(' UNION ALL (SELECT 1 AS "measure_index"');
    expect(stmt.sql).toMatch(/ORDER BY ABS\(.*\) DESC, 2 LIMIT 100\)$/);
    expect(stmt.params).toEqual(['2025-01-01', '2025-01-08']);
  });
});
