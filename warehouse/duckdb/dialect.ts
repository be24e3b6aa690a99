/**
 * DuckDB SQL text. Stateless: every method returns SQL for already-validated identifiers.
 * DuckDB has no zero-copy clone or SWAP, so a restore point is a CTAS copy and a swap is three
 * renames, which DuckDB runs transactionally.
 */
import type { TableName } from '../identifiers';
import type { ChangedRowsSpec, Dialect, FingerprintSpec, PartitionGrain, PartitionStatsSpec, Statement } from '../warehouse';

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

const rangeFilter = (column: string, grain: PartitionGrain): string =>
  `${column} >= ${boundValue(1, grain)} AND ${column} < ${boundValue(2, grain)}`;

export const duckDbDialect: Dialect = {
  name: 'duckdb',
  quoteIdent,
  table,
  placeholder: (index) => `$${index}`,
  boundValue,
  transactionalDdl: true,

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

  fingerprint(spec: FingerprintSpec): Statement {
    const keys = spec.uniqueKey.map(quoteIdent);
    const distinctKeys = keys.length === 1 ? `count(DISTINCT ${keys[0]})` : `count(DISTINCT row(${keys.join(', ')}))`;
    const sums = spec.measures.map((m, i) => `CAST(sum(${quoteIdent(m)}) AS VARCHAR) AS "measure_${i}"`);
    // Summing 64-bit row hashes as HUGEINT is order-independent and, unlike XOR, duplicates do not cancel.
    const rowHash = `CAST(coalesce(sum(CAST(hash(${spec.hashColumns.map(quoteIdent).join(', ')}) AS HUGEINT)), 0) AS VARCHAR)`;
    return {
      sql: [
        `SELECT count(*) AS "row_count", ${distinctKeys} AS "distinct_keys"`,
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
        `SELECT ${partitionLabel(key, grain)} AS "partition_start", count(*) AS "row_count" ` +
        `FROM ${table(t)} WHERE ${rangeFilter(key, grain)} GROUP BY 1 ORDER BY 1`,
      params: [from, to],
    };
  },

  partitionStats(spec: PartitionStatsSpec): Statement {
    const key = quoteIdent(spec.partitionKey);
    const keys = spec.uniqueKey.map(quoteIdent);
    const distinctKeys = keys.length === 1 ? `count(DISTINCT ${keys[0]})` : `count(DISTINCT row(${keys.join(', ')}))`;
    const columns = [
      `${partitionLabel(key, spec.grain)} AS "partition_start"`,
      `count(*) AS "row_count"`,
      `${distinctKeys} AS "distinct_keys"`,
      ...spec.measures.map((m, i) => `CAST(sum(${quoteIdent(m)}) AS VARCHAR) AS "measure_${i}"`),
      ...spec.notNull.map((c, i) => `count(*) - count(${quoteIdent(c)}) AS "nulls_${i}"`),
    ];
    return {
      sql: `SELECT ${columns.join(', ')} FROM ${table(spec.table)} WHERE ${rangeFilter(key, spec.grain)} GROUP BY 1 ORDER BY 1`,
      params: [spec.from, spec.to],
    };
  },

  changedRows(spec: ChangedRowsSpec): Statement {
    const key = quoteIdent(spec.partitionKey);
    const m = quoteIdent(spec.measure);
    const slice = (t: TableName) => `(SELECT * FROM ${table(t)} WHERE ${rangeFilter(key, spec.grain)})`;
    const oldValue = `CAST(o.${m} AS DOUBLE)`;
    const newValue = `CAST(n.${m} AS DOUBLE)`;
    return {
      sql:
        `SELECT ${spec.uniqueKey.map(quoteIdent).join(', ')}, ${oldValue} AS "old_value", ${newValue} AS "new_value", ` +
        `coalesce(${newValue}, 0) - coalesce(${oldValue}, 0) AS "delta" ` +
        `FROM ${slice(spec.before)} AS o FULL OUTER JOIN ${slice(spec.after)} AS n USING (${spec.uniqueKey.map(quoteIdent).join(', ')}) ` +
        `WHERE o.${m} IS DISTINCT FROM n.${m} ORDER BY abs(coalesce(${newValue}, 0) - coalesce(${oldValue}, 0)) DESC, 1 ` +
        `LIMIT ${Math.max(0, Math.floor(spec.limit))}`,
      params: [spec.from, spec.to],
    };
  },

  describeTable(t): Statement {
    return {
      sql:
        `SELECT column_name AS "name", data_type AS "type", is_nullable = 'YES' AS "nullable" ` +
        `FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2` +
        (t.database ? ` AND table_catalog = $3` : '') +
        ` ORDER BY ordinal_position`,
      params: t.database ? [t.schema, t.name, t.database] : [t.schema, t.name],
    };
  },

  // Profiled, so it runs the (read-only) statement: see DuckDbDriver.explain for why.
  explain: (sql) => `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
};
