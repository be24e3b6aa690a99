/**
 * Snowflake SQL text. Stateless: every method returns SQL for already-validated identifiers.
 *
 * Quoting contract: identifiers are plain names (warehouse/identifiers.ts), and Snowflake folds
 * unquoted names to upper case, so they are quoted in upper case — `"FINANCE"."DAILY_REVENUE"` is
 * the table a user created as finance.daily_revenue. Result columns come back upper case; the
 * driver lowers them, so callers read `row_count` on either engine.
 *
 * Snowflake primitives: zero-copy CLONE for the restore point, CREATE TABLE … LIKE for the shadow,
 * ALTER TABLE … SWAP WITH, CREATE OR REPLACE VIEW … COPY GRANTS (the view keeps its grants),
 * HASH_AGG for the order-independent row hash, EXPLAIN USING JSON for scan estimates. DDL
 * autocommits in Snowflake, so `transactionalDdl` is false: callers keep DDL out of transactions.
 */
import type { TableName } from '../identifiers';
import type { ChangedRowsSpec, Dialect, FingerprintSpec, PartitionGrain, PartitionStatsSpec, Statement } from '../warehouse';

const quoteIdent = (part: string): string => `"${part.toUpperCase().replace(/"/g, '""')}"`;

const table = (t: TableName): string =>
  [t.database, t.schema, t.name].filter((p): p is string => Boolean(p)).map(quoteIdent).join('.');

const boundValue = (index: number, grain: PartitionGrain): string =>
  `CAST(:${index} AS ${grain === 'hour' ? 'TIMESTAMP_NTZ' : 'DATE'})`;

/** Partition start of a key value, as the ISO text the planner uses for partition labels. */
function partitionLabel(column: string, grain: PartitionGrain): string {
  switch (grain) {
    case 'hour':
      // The literal tail is quoted too, so no part of it can be read as a format element.
      return `TO_CHAR(DATE_TRUNC('HOUR', ${column}), 'YYYY-MM-DD"T"HH24":00:00"')`;
    case 'month':
      return `TO_CHAR(DATE_TRUNC('MONTH', ${column}), 'YYYY-MM-DD')`;
    case 'day':
      return `TO_CHAR(CAST(${column} AS DATE), 'YYYY-MM-DD')`;
  }
}

const rangeFilter = (column: string, grain: PartitionGrain): string =>
  `${column} >= ${boundValue(1, grain)} AND ${column} < ${boundValue(2, grain)}`;

const distinctKeys = (keys: readonly string[]) => `COUNT(DISTINCT ${keys.map(quoteIdent).join(', ')})`;

export const snowflakeDialect: Dialect = {
  name: 'snowflake',
  quoteIdent,
  table,
  placeholder: (index) => `:${index}`,
  boundValue,
  transactionalDdl: false,

  createSchema: (schema) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,
  cloneTable: (target, source) => `CREATE TABLE ${table(target)} CLONE ${table(source)}`,
  createTableLike: (target, source) => `CREATE TABLE ${table(target)} LIKE ${table(source)}`,
  swapTables: (a, b) => [`ALTER TABLE ${table(a)} SWAP WITH ${table(b)}`],
  dropTable: (name) => `DROP TABLE IF EXISTS ${table(name)}`,
  createOrReplaceView: (view, source) => `CREATE OR REPLACE VIEW ${table(view)} COPY GRANTS AS SELECT * FROM ${table(source)}`,
  begin: () => 'BEGIN TRANSACTION',
  commit: () => 'COMMIT',
  rollback: () => 'ROLLBACK',

  fingerprint(spec: FingerprintSpec): Statement {
    const sums = spec.measures.map((m, i) => `TO_VARCHAR(SUM(${quoteIdent(m)})) AS "measure_${i}"`);
    // HASH_AGG is Snowflake's order-independent aggregate hash of whole rows.
    const rowHash = `TO_VARCHAR(COALESCE(HASH_AGG(${spec.hashColumns.map(quoteIdent).join(', ')}), 0))`;
    return {
      sql: [
        `SELECT COUNT(*) AS "row_count", ${distinctKeys(spec.uniqueKey)} AS "distinct_keys"`,
        ...sums.map((s) => `, ${s}`),
        `, ${rowHash} AS "row_hash"`,
        `FROM ${table(spec.table)} WHERE ${rangeFilter(quoteIdent(spec.partitionKey), spec.grain)}`,
      ].join(' '),
      params: [spec.from, spec.to],
    };
  },

  rowsPerPartition(t, partitionKey, grain, from, to): Statement {
    const key = quoteIdent(partitionKey);
    return {
      sql:
        `SELECT ${partitionLabel(key, grain)} AS "partition_start", COUNT(*) AS "row_count" ` +
        `FROM ${table(t)} WHERE ${rangeFilter(key, grain)} GROUP BY 1 ORDER BY 1`,
      params: [from, to],
    };
  },

  partitionStats(spec: PartitionStatsSpec): Statement {
    const key = quoteIdent(spec.partitionKey);
    const columns = [
      `${partitionLabel(key, spec.grain)} AS "partition_start"`,
      `COUNT(*) AS "row_count"`,
      `${distinctKeys(spec.uniqueKey)} AS "distinct_keys"`,
      ...spec.measures.map((m, i) => `TO_VARCHAR(SUM(${quoteIdent(m)})) AS "measure_${i}"`),
      ...spec.notNull.map((c, i) => `COUNT(*) - COUNT(${quoteIdent(c)}) AS "nulls_${i}"`),
    ];
    return {
      sql: `SELECT ${columns.join(', ')} FROM ${table(spec.table)} WHERE ${rangeFilter(key, spec.grain)} GROUP BY 1 ORDER BY 1`,
      params: [spec.from, spec.to],
    };
  },

  changedRows(spec: ChangedRowsSpec): Statement {
    const key = quoteIdent(spec.partitionKey);
    const m = quoteIdent(spec.measure);
    const keys = spec.uniqueKey.map(quoteIdent).join(', ');
    const slice = (t: TableName) => `(SELECT * FROM ${table(t)} WHERE ${rangeFilter(key, spec.grain)})`;
    const oldValue = `CAST(o.${m} AS DOUBLE)`;
    const newValue = `CAST(n.${m} AS DOUBLE)`;
    return {
      sql:
        `SELECT ${keys}, ${oldValue} AS "old_value", ${newValue} AS "new_value", ` +
        `COALESCE(${newValue}, 0) - COALESCE(${oldValue}, 0) AS "delta" ` +
        `FROM ${slice(spec.before)} AS o FULL OUTER JOIN ${slice(spec.after)} AS n USING (${keys}) ` +
        `WHERE o.${m} IS DISTINCT FROM n.${m} ORDER BY ABS(COALESCE(${newValue}, 0) - COALESCE(${oldValue}, 0)) DESC, 1 ` +
        `LIMIT ${Math.max(0, Math.floor(spec.limit))}`,
      params: [spec.from, spec.to],
    };
  },

  describeTable(t): Statement {
    // Names are stored upper case; compare upper case and hand back lower case, as the spec writes them.
    const infoSchema = t.database ? `${quoteIdent(t.database)}.INFORMATION_SCHEMA.COLUMNS` : 'INFORMATION_SCHEMA.COLUMNS';
    return {
      sql:
        `SELECT LOWER(COLUMN_NAME) AS "name", DATA_TYPE AS "type", IS_NULLABLE = 'YES' AS "nullable" ` +
        `FROM ${infoSchema} WHERE UPPER(TABLE_SCHEMA) = :1 AND UPPER(TABLE_NAME) = :2 ORDER BY ORDINAL_POSITION`,
      params: [t.schema.toUpperCase(), t.name.toUpperCase()],
    };
  },

  // Compiles only (nothing runs): bytesAssigned in the JSON plan is what the scan will read.
  explain: (sql) => `EXPLAIN USING JSON ${sql}`,
};
