/**
 * The shape of the reconciliation statements (fingerprint, rows per partition, partition stats,
 * changed rows), shared by every dialect. A dialect supplies only what differs between engines:
 * quoting, bound values, the partition label, distinct-key counting, exact sums as text and the
 * order-independent row hash.
 */
import type { TableName } from './identifiers';
import type { ChangedRowsSpec, FingerprintSpec, PartitionGrain, PartitionStatsSpec, Statement } from './warehouse';

export interface SqlFragments {
  quoteIdent(part: string): string;
  table(name: TableName): string;
  boundValue(index: number, grain: PartitionGrain): string;
  /** A key value's partition start as the ISO text the planner uses for labels. */
  partitionLabel(column: string, grain: PartitionGrain): string;
  /** Count of distinct values of the (already quoted) key columns. */
  distinctKeys(keys: readonly string[]): string;
  /** Exact sum of a quoted column as text (no float rounding on the way out). */
  sumText(column: string): string;
  /** Order-independent hash of whole rows over the quoted columns, as text; '0' for no rows. */
  rowHash(columns: readonly string[]): string;
  /** A weight in [0, 1) that depends only on the (quoted) key columns' values. */
  keyWeight(keys: readonly string[]): string;
}

export function reconcileSql(f: SqlFragments) {
  const range = (column: string, grain: PartitionGrain) =>
    `${column} >= ${f.boundValue(1, grain)} AND ${column} < ${f.boundValue(2, grain)}`;
  const quoted = (columns: readonly string[]) => columns.map(f.quoteIdent);

  return {
    fingerprint(spec: FingerprintSpec): Statement {
      return {
        sql: [
          `SELECT COUNT(*) AS "row_count", ${f.distinctKeys(quoted(spec.uniqueKey))} AS "distinct_keys"`,
          ...spec.measures.map((m, i) => `, ${f.sumText(f.quoteIdent(m))} AS "measure_${i}"`),
          // Each value weighted by its row's key: moving values between rows changes this sum,
          // adding them in another order does not (beyond float noise).
          ...(spec.keyedMeasures ?? []).map(
            (m, i) => `, ${f.sumText(`${f.quoteIdent(m)} * ${f.keyWeight(quoted(spec.uniqueKey))}`)} AS "keyed_${i}"`,
          ),
          `, ${f.rowHash(quoted(spec.hashColumns))} AS "row_hash"`,
          `FROM ${f.table(spec.table)} WHERE ${range(f.quoteIdent(spec.partitionKey), spec.grain)}`,
        ].join(' '),
        params: [spec.from, spec.to],
      };
    },

    rowsPerPartition(t: TableName, partitionKey: string, grain: PartitionGrain, from: string, to: string): Statement {
      const key = f.quoteIdent(partitionKey);
      return {
        sql:
          `SELECT ${f.partitionLabel(key, grain)} AS "partition_start", COUNT(*) AS "row_count" ` +
          `FROM ${f.table(t)} WHERE ${range(key, grain)} GROUP BY 1 ORDER BY 1`,
        params: [from, to],
      };
    },

    partitionStats(spec: PartitionStatsSpec): Statement {
      const key = f.quoteIdent(spec.partitionKey);
      const select = (t: TableName, side: 'new' | 'old' | null) => {
        const checked = side !== 'old';
        const columns = [
          ...(side ? [`'${side}' AS "side"`] : []),
          `${f.partitionLabel(key, spec.grain)} AS "partition_start"`,
          `COUNT(*) AS "row_count"`,
          `${checked ? f.distinctKeys(quoted(spec.uniqueKey)) : 'NULL'} AS "distinct_keys"`,
          ...spec.measures.map((m, i) => `${f.sumText(f.quoteIdent(m))} AS "measure_${i}"`),
          ...spec.notNull.map((c, i) => `${checked ? `COUNT(*) - COUNT(${f.quoteIdent(c)})` : 'NULL'} AS "nulls_${i}"`),
        ];
        const label = side ? 2 : 1;
        return `SELECT ${columns.join(', ')} FROM ${f.table(t)} WHERE ${range(key, spec.grain)} GROUP BY ${label}`;
      };
      // Both sides share the bound range ($1, $2), so the parameters stay two.
      const sql = spec.alongside
        ? `${select(spec.table, 'new')} UNION ALL ${select(spec.alongside, 'old')} ORDER BY 1, 2`
        : `${select(spec.table, null)} ORDER BY 1`;
      return { sql, params: [spec.from, spec.to] };
    },

    changedRows(spec: ChangedRowsSpec): Statement {
      const key = f.quoteIdent(spec.partitionKey);
      const keys = quoted(spec.uniqueKey).join(', ');
      const slice = (t: TableName) => `(SELECT * FROM ${f.table(t)} WHERE ${range(key, spec.grain)})`;
      const limit = Math.max(0, Math.floor(spec.limit));
      const measures = spec.measures.map(f.quoteIdent);
      // One join of both slices; each measure then keeps its own largest changes.
      const sides = measures.map((m, i) =>
        `CAST(o.${m} AS DOUBLE) AS "old_${i}", CAST(n.${m} AS DOUBLE) AS "new_${i}", ` +
        `o.${m} IS DISTINCT FROM n.${m} AS "changed_${i}"`);
      const joined =
        `SELECT ${keys}, ${sides.join(', ')} FROM ${slice(spec.before)} AS o FULL OUTER JOIN ${slice(spec.after)} ` +
        `AS n USING (${keys}) WHERE ${measures.map((m) => `o.${m} IS DISTINCT FROM n.${m}`).join(' OR ')}`;
      const changed = f.quoteIdent('changed');
      const perMeasure = measures.map((_, i) => {
        const delta = `COALESCE("new_${i}", 0) - COALESCE("old_${i}", 0)`;
        return `(SELECT ${i} AS "measure_index", ${keys}, "old_${i}" AS "old_value", "new_${i}" AS "new_value", ` +
          `${delta} AS "delta" FROM ${changed} WHERE "changed_${i}" ORDER BY ABS(${delta}) DESC, 2 LIMIT ${limit})`;
      });
      return { sql: `WITH ${changed} AS (${joined}) ${perMeasure.join(' UNION ALL ')}`, params: [spec.from, spec.to] };
    },
  };
}
