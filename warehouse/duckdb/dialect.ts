/**
 * DuckDB SQL text. Stateless: every method returns SQL for already-validated identifiers.
 * DuckDB has no zero-copy clone or SWAP, so a restore point is a CTAS copy and a swap is three
 * renames, which DuckDB runs transactionally.
 */
import type { TableName } from '../identifiers';
import { reconcileSql } from '../reconcile-sql';
import type { Dialect, PartitionGrain, Statement } from '../warehouse';

/** DuckDB's dialect, with the storage metadata its driver reads for scan estimates. */
export interface DuckDbDialect extends Dialect {
  /**
   * Bytes each column of `table` occupies in the database file and the rows they hold, from
   * pragma_storage_info: columns `column`, `bytes`, `rows` (the same on every row). Only
   * checkpointed segments have blocks; no rows, or `rows` 0, when nothing of the table is on disk yet.
   */
  tableStorage(table: TableName): Statement;
}

const quoteIdent = (part: string): string => `"${part.replace(/"/g, '""')}"`;

const table = (t: TableName): string =>
  [t.database, t.schema, t.name].filter((p): p is string => Boolean(p)).map(quoteIdent).join('.');

const boundValue = (index: number, grain: PartitionGrain): string =>
  `CAST($${index} AS ${grain === 'hour' ? 'TIMESTAMP' : 'DATE'})`;

/** Partition start of a key value, as the ISO text the planner uses for partition labels. */
function partitionLabel(column: string, grain: PartitionGrain): string {
  switch (grain) {
    case 'hour':
      return `strftime(date_trunc('hour', ${column}), '%Y-%m-%dT%H:00:00')`;
    case 'month':
      return `strftime(date_trunc('month', ${column}), '%Y-%m-%d')`;
    case 'day':
      return `strftime(CAST(${column} AS DATE), '%Y-%m-%d')`;
  }
}

const reconcile = reconcileSql({
  quoteIdent,
  table,
  boundValue,
  partitionLabel,
  distinctKeys: (keys) =>
    keys.length === 1 ? `COUNT(DISTINCT ${keys[0]})` : `COUNT(DISTINCT row(${keys.join(', ')}))`,
  sumText: (column) => `CAST(SUM(${column}) AS VARCHAR)`,
  // Summing 64-bit row hashes as HUGEINT is order-independent and, unlike XOR, duplicates do not cancel.
  rowHash: (columns) => `CAST(COALESCE(SUM(CAST(hash(${columns.join(', ')}) AS HUGEINT)), 0) AS VARCHAR)`,
  keyWeight: (keys) => `(hash(${keys.join(', ')}) % 1000) / 1000.0`,
});

export const duckDbDialect: DuckDbDialect = {
  name: 'duckdb',
  quoteIdent,
  table,
  placeholder: (index) => `$${index}`,
  boundValue,
  transactionalDdl: true,
  floatIsDouble: false,

  createSchema: (schema) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,
  cloneTable: (target, source) => `CREATE TABLE ${table(target)} AS SELECT * FROM ${table(source)}`,
  createTableLike: (target, source) => `CREATE TABLE ${table(target)} AS SELECT * FROM ${table(source)} LIMIT 0`,
  swapTables: (a, b) => {
    const parking = `${a.name}__swap`;
    return [
      `ALTER TABLE ${table(a)} RENAME TO ${quoteIdent(parking)}`,
      `ALTER TABLE ${table(b)} RENAME TO ${quoteIdent(a.name)}`,
      `ALTER TABLE ${table({ ...a, name: parking })} RENAME TO ${quoteIdent(b.name)}`,
    ];
  },
  dropTable: (name) => `DROP TABLE IF EXISTS ${table(name)}`,
  createOrReplaceView: (view, source) => `CREATE OR REPLACE VIEW ${table(view)} AS SELECT * FROM ${table(source)}`,
  begin: () => 'BEGIN TRANSACTION',
  commit: () => 'COMMIT',
  rollback: () => 'ROLLBACK',
  // Any write in it fails ("transaction is launched in read-only mode"), nextval() included.
  beginReadOnly: () => 'BEGIN TRANSACTION READ ONLY',

  ...reconcile,

  describeTable(t): Statement {
    return {
      sql:
        `SELECT column_name AS "name", data_type AS "type", is_nullable = 'YES' AS "nullable" ` +
        // DuckDB matches identifiers case-insensitively, even quoted ones: so does the lookup.
        `FROM information_schema.columns WHERE lower(table_schema) = lower($1) AND lower(table_name) = lower($2)` +
        (t.database ? ` AND lower(table_catalog) = lower($3)` : '') +
        ` ORDER BY ordinal_position`,
      params: t.database ? [t.schema, t.name, t.database] : [t.schema, t.name],
    };
  },

  currentDatabase: () => 'SELECT current_database() AS db',

  views(database): Statement {
    // duckdb_views() keeps the CREATE VIEW text as DuckDB prints it back (names as written, comments dropped).
    return {
      sql:
        `SELECT schema_name AS "schema", view_name AS "name", sql AS "sql" FROM duckdb_views() ` +
        `WHERE NOT internal AND ` +
        (database ? `lower(database_name) = lower($1)` : `database_name = current_database()`) +
        ` ORDER BY schema_name, view_name`,
      params: database ? [database] : [],
    };
  },

  // Profiled, so it runs the (read-only) statement: see DuckDbDriver.explain for why.
  explain: (sql) => `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,

  tableStorage(t): Statement {
    // A segment's size is the gap to the next segment of the table in its block, or to the end of
    // the block (which counts a partly filled block in full: at most one block too many per block
    // the table shares); segments stored as a constant have no block and take no space.
    const blockSize = `get_block_size(${t.database ? '$2' : 'current_database()'})`;
    return {
      sql:
        `WITH segments AS (SELECT column_name, row_group_id, start + count AS row_end, block_id, ` +
        `coalesce(lead(block_offset) OVER (PARTITION BY block_id ORDER BY block_offset), ${blockSize}) ` +
        `- block_offset ` +
        `+ len(additional_block_ids) * ${blockSize} AS size ` +
        `FROM pragma_storage_info($1) WHERE persistent) ` +
        `SELECT column_name AS "column", coalesce(sum(size) FILTER (WHERE block_id >= 0), 0) AS "bytes", ` +
        `(SELECT sum(n) FROM (SELECT max(row_end) AS n FROM segments GROUP BY row_group_id)) AS "rows" ` +
        `FROM segments GROUP BY column_name`,
      // pragma_storage_info takes the qualified name as text: quoted here, bound as a value.
      params: t.database ? [table(t), t.database] : [table(t)],
    };
  },
};
