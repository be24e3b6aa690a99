/**
 * Fingerprint of a table slice: row count, distinct unique keys, exact sum per measure, and an
 * order-independent hash of all (non-audit) columns. Two slices with equal fingerprints hold the
 * same rows with overwhelming probability; this is the basis of the idempotency proof and of
 * reconciliation.
 */
import type { Driver, FingerprintSpec, QueryOptions, Session } from './warehouse';

export interface Fingerprint {
  rows: number;
  distinctKeys: number;
  /** Exact sums as decimal text (null when the slice is empty), keyed by measure column. */
  sums: Record<string, string | null>;
  rowHash: string;
}

export async function fingerprint(
  db: Pick<Driver, 'dialect'> & Session,
  spec: FingerprintSpec,
  opts?: QueryOptions,
): Promise<Fingerprint> {
  const [row] = await db.query(db.dialect.fingerprint(spec), opts);
  if (!row) throw new Error('fingerprint query returned no row');
  const sums: Record<string, string | null> = {};
  spec.measures.forEach((m, i) => {
    const v = row[`measure_${i}`];
    sums[m] = v === null || v === undefined ? null : String(v);
  });
  return {
    rows: Number(row.row_count),
    distinctKeys: Number(row.distinct_keys),
    sums,
    rowHash: String(row.row_hash),
  };
}

/** Names of the fields that differ between two fingerprints (empty when identical). */
export function fingerprintDifferences(a: Fingerprint, b: Fingerprint): string[] {
  const diffs: string[] = [];
  if (a.rows !== b.rows) diffs.push(`row count ${a.rows} vs ${b.rows}`);
  if (a.distinctKeys !== b.distinctKeys) diffs.push(`distinct keys ${a.distinctKeys} vs ${b.distinctKeys}`);
  for (const m of new Set([...Object.keys(a.sums), ...Object.keys(b.sums)])) {
    if (a.sums[m] !== b.sums[m]) diffs.push(`sum(${m}) ${a.sums[m]} vs ${b.sums[m]}`);
  }
  if (a.rowHash !== b.rowHash) diffs.push('row hash');
  return diffs;
}
