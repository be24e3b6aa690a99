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
import { reconcileSql } from '../reconcile-sql';
import type { Dialect, PartitionGrain, Statement } from '../warehouse';

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

const reconcile = reconcileSql({
  quoteIdent,
  table,
  boundValue,
  partitionLabel,
  distinctKeys: (keys) => `COUNT(DISTINCT ${keys.join(', ')})`,
  sumText: (column) => `TO_VARCHAR(SUM(${column}))`,
  // HASH_AGG is Snowflake's order-independent aggregate hash of whole rows.
  rowHash: (columns) => `TO_VARCHAR(COALESCE(HASH_AGG(${columns.join(', ')}), 0))`,
  keyWeight: (keys) => `MOD(ABS(HASH(${keys.join(', ')})), 1000) / 1000.0`,
});

export const snowflakeDialect: Dialect = {
  name: 'snowflake',
  quoteIdent,
  table,
  placeholder: (index) => `:${index}`,
  boundValue,
  transactionalDdl: false,
  floatIsDouble: true,

  createSchema: (schema) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,
  cloneTable: (target, source) => `CREATE TABLE ${table(target)} CLONE ${table(source)}`,
  createTableLike: (target, source) => `CREATE TABLE ${table(target)} LIKE ${table(source)}`,
  swapTables: (a, b) => [`ALTER TABLE ${table(a)} SWAP WITH ${table(b)}`],
  dropTable: (name) => `DROP TABLE IF EXISTS ${table(name)}`,
  createOrReplaceView: (view, source) =>
    `CREATE OR REPLACE VIEW ${table(view)} COPY GRANTS AS SELECT * FROM ${table(source)}`,
  begin: () => 'BEGIN TRANSACTION',
  commit: () => 'COMMIT',
  rollback: () => 'ROLLBACK',
  // Snowflake has no read-only transaction, and ROLLBACK would not undo what a SELECT can change
  // (a sequence's NEXTVAL; DDL autocommits): read-only rests on the statement rules and the role's grants.
  beginReadOnly: () => null,

  ...reconcile,

  describeTable(t): Statement {
    // Names are stored upper case; compare upper case and hand back lower case, as the spec writes them.
    const infoSchema = t.database
      ? `${quoteIdent(t.database)}.INFORMATION_SCHEMA.COLUMNS`
      : 'INFORMATION_SCHEMA.COLUMNS';
    return {
      sql:
        `SELECT LOWER(COLUMN_NAME) AS "name", DATA_TYPE AS "type", IS_NULLABLE = 'YES' AS "nullable" ` +
        `FROM ${infoSchema} WHERE UPPER(TABLE_SCHEMA) = :1 AND UPPER(TABLE_NAME) = :2 ORDER BY ORDINAL_POSITION`,
      params: [t.schema.toUpperCase(), t.name.toUpperCase()],
    };
  },

  currentDatabase: () => 'SELECT CURRENT_DATABASE() AS "db"',

  views(database): Statement {
    // Names lower case, as describeTable hands them back; the INFORMATION_SCHEMA's own views left out.
    const infoSchema = database ? `${quoteIdent(database)}.INFORMATION_SCHEMA.VIEWS` : 'INFORMATION_SCHEMA.VIEWS';
    return {
      sql:
        `SELECT LOWER(TABLE_SCHEMA) AS "schema", LOWER(TABLE_NAME) AS "name", VIEW_DEFINITION AS "sql" ` +
        `FROM ${infoSchema} WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA' ORDER BY TABLE_SCHEMA, TABLE_NAME`,
      params: [],
    };
  },

  // Compiles only (nothing runs): bytesAssigned in the JSON plan is the storage size of the
  // micro-partitions left to scan after pruning.
  explain: (sql) => `EXPLAIN USING JSON ${sql}`,
};
