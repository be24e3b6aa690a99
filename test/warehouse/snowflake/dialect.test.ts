/**
 * Snowflake SQL text, asserted exactly (SQL and bound parameters, kysely style). Whether Snowflake
 * accepts it is for the live test (SNOWFLAKE_ACCOUNT); the wire emulator runs it in CI.
 */
import { describe, expect, it } from 'vitest';
import { snowflakeDialect as d } from '../../../warehouse/snowflake/dialect';
import type { FingerprintSpec } from '../../../warehouse/warehouse';

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
const range = `"REVENUE_DATE" >= CAST(:1 AS DATE) AND "REVENUE_DATE" < CAST(:2 AS DATE)`;

describe('snowflake dialect', () => {
  it('quotes plain names in upper case (what unquoted names fold to) and uses :N placeholders', () => {
    expect(d.name).toBe('snowflake');
    expect(d.quoteIdent('revenue_date')).toBe('"REVENUE_DATE"');
    expect(d.quoteIdent('a"b')).toBe('"A""B"');
    expect(d.table(revenue)).toBe('"FINANCE"."DAILY_REVENUE"');
    expect(d.table({ database: 'analytics', ...revenue })).toBe('"ANALYTICS"."FINANCE"."DAILY_REVENUE"');
    expect(d.placeholder(3)).toBe(':3');
    expect(d.boundValue(1, 'day')).toBe('CAST(:1 AS DATE)');
    expect(d.boundValue(2, 'hour')).toBe('CAST(:2 AS TIMESTAMP_NTZ)');
    expect(d.transactionalDdl).toBe(false);
  });

  it('uses zero-copy CLONE, LIKE, SWAP WITH and COPY GRANTS', () => {
    expect(d.cloneTable({ schema: 'finance', name: 'pre_fix' }, revenue)).toBe(
      'CREATE TABLE "FINANCE"."PRE_FIX" CLONE "FINANCE"."DAILY_REVENUE"',
    );
    expect(d.createTableLike(v2, revenue)).toBe(
      'CREATE TABLE "FINANCE"."DAILY_REVENUE_V2" LIKE "FINANCE"."DAILY_REVENUE"',
    );
    expect(d.swapTables(revenue, v2)).toEqual([
      'ALTER TABLE "FINANCE"."DAILY_REVENUE" SWAP WITH "FINANCE"."DAILY_REVENUE_V2"',
    ]);
    expect(d.createOrReplaceView({ schema: 'finance', name: 'current' }, v2)).toBe(
      'CREATE OR REPLACE VIEW "FINANCE"."CURRENT" COPY GRANTS AS SELECT * FROM "FINANCE"."DAILY_REVENUE_V2"',
    );
    expect(d.dropTable(v2)).toBe('DROP TABLE IF EXISTS "FINANCE"."DAILY_REVENUE_V2"');
    expect([d.begin(), d.commit(), d.rollback()]).toEqual(['BEGIN TRANSACTION', 'COMMIT', 'ROLLBACK']);
    expect(d.beginReadOnly()).toBeNull(); // Snowflake has no read-only transaction
    expect(d.createSchema('backfill_control')).toBe('CREATE SCHEMA IF NOT EXISTS "BACKFILL_CONTROL"');
  });

  it('fingerprints with COUNT(DISTINCT …) over the key and HASH_AGG over the hashed columns', () => {
    expect(d.fingerprint(spec)).toEqual({
      sql:
        'SELECT COUNT(*) AS "row_count", COUNT(DISTINCT "REVENUE_DATE", "MERCHANT_ID") AS "distinct_keys" ' +
        ', TO_VARCHAR(SUM("NET_REVENUE")) AS "measure_0" , TO_VARCHAR(SUM("ORDER_COUNT")) AS "measure_1" ' +
        ', TO_VARCHAR(COALESCE(HASH_AGG("REVENUE_DATE", "MERCHANT_ID", "NET_REVENUE", "ORDER_COUNT"), 0)) ' +
        'AS "row_hash" ' +
        `FROM "FINANCE"."DAILY_REVENUE" WHERE ${range}`,
      params: ['2025-01-01', '2025-01-08'],
    });
  });

  it.each([
    ['day', `TO_CHAR(CAST("REVENUE_DATE" AS DATE), 'YYYY-MM-DD')`, 'DATE'],
    ['month', `TO_CHAR(DATE_TRUNC('MONTH', "REVENUE_DATE"), 'YYYY-MM-DD')`, 'DATE'],
    ['hour', `TO_CHAR(DATE_TRUNC('HOUR', "REVENUE_DATE"), 'YYYY-MM-DD"T"HH24":00:00"')`, 'TIMESTAMP_NTZ'],
  ] as const)('labels %s partitions as the planner writes them', (grain, label, type) => {
    expect(d.rowsPerPartition(revenue, 'revenue_date', grain, 'a', 'b')).toEqual({
      sql:
        `SELECT ${label} AS "partition_start", COUNT(*) AS "row_count" FROM "FINANCE"."DAILY_REVENUE" ` +
        `WHERE "REVENUE_DATE" >= CAST(:1 AS ${type}) AND "REVENUE_DATE" < CAST(:2 AS ${type}) GROUP BY 1 ORDER BY 1`,
      params: ['a', 'b'],
    });
  });

  it('partition stats, changed rows and the catalog lookup bind every value', () => {
    expect(d.partitionStats({ ...spec, measures: ['net_revenue'], notNull: ['merchant_id'] })).toEqual({
      sql:
        `SELECT TO_CHAR(CAST("REVENUE_DATE" AS DATE), 'YYYY-MM-DD') AS "partition_start", COUNT(*) AS "row_count", ` +
        `COUNT(DISTINCT "REVENUE_DATE", "MERCHANT_ID") AS "distinct_keys", TO_VARCHAR(SUM("NET_REVENUE")) ` +
        `AS "measure_0", COUNT(*) - COUNT("MERCHANT_ID") AS "nulls_0" FROM "FINANCE"."DAILY_REVENUE" WHERE ${range} ` +
        `GROUP BY 1 ORDER BY 1`,
      params: ['2025-01-01', '2025-01-08'],
    });
    const changed = d.changedRows({ ...spec, before: revenue, after: v2, measures: ['net_revenue'], limit: 5.7 });
    expect(changed.params).toEqual(['2025-01-01', '2025-01-08']);
    expect(changed.sql).toContain('FULL OUTER JOIN (SELECT * FROM "FINANCE"."DAILY_REVENUE_V2" WHERE ');
    expect(changed.sql).toContain('USING ("REVENUE_DATE", "MERCHANT_ID")');
    expect(changed.sql).toContain('WHERE o."NET_REVENUE" IS DISTINCT FROM n."NET_REVENUE"');
    expect(changed.sql.endsWith('LIMIT 5)')).toBe(true);
    expect(d.describeTable(revenue)).toEqual({
      sql:
        `SELECT LOWER(COLUMN_NAME) AS "name", DATA_TYPE AS "type", IS_NULLABLE = 'YES' AS "nullable" FROM ` +
        `INFORMATION_SCHEMA.COLUMNS WHERE UPPER(TABLE_SCHEMA) = :1 AND UPPER(TABLE_NAME) = :2 ` +
        `ORDER BY ORDINAL_POSITION`,
      params: ['FINANCE', 'DAILY_REVENUE'],
    });
    expect(d.describeTable({ database: 'analytics', ...revenue }).sql).toContain(
      'FROM "ANALYTICS".INFORMATION_SCHEMA.COLUMNS',
    );
    expect(d.explain('SELECT 1')).toBe('EXPLAIN USING JSON SELECT 1');
  });
});
