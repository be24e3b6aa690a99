/**
 * Fingerprint of a table slice: row count, distinct unique keys, exact sum per measure, and an
 * order-independent hash of all (non-audit) columns. Two slices with equal fingerprints hold the
 * same rows with overwhelming probability; this is the basis of the idempotency proof and of
 * reconciliation.
 */
import type { BackfillSpec } from '../domain/spec/schema';
import type { TableName } from './identifiers';
import type { Db, FingerprintSpec, QueryOptions } from './warehouse';

export interface Fingerprint {
  rows: number;
  distinctKeys: number;
  /** Exact sums as decimal text (null when the slice is empty), keyed by measure column. */
  sums: Record<string, string | null>;
  rowHash: string;
  /**
   * For float columns left out of the row hash: the sum of each value times a weight from its
   * row's key. Values moved between rows change it; summation order changes it only by noise.
   */
  keyedSums?: Record<string, string | null>;
}

export async function fingerprint(
  db: Db,
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
  const keyed = spec.keyedMeasures ?? [];
  const keyedSums: Record<string, string | null> = {};
  keyed.forEach((m, i) => {
    const v = row[`keyed_${i}`];
    keyedSums[m] = v === null || v === undefined ? null : String(v);
  });
  return {
    rows: Number(row.row_count),
    distinctKeys: Number(row.distinct_keys),
    sums,
    rowHash: String(row.row_hash),
    ...(keyed.length ? { keyedSums } : {}),
  };
}

/** What a spec fingerprints in `table` over [from, to): its unique key, its measures, every non-audit column hashed. */
export function fingerprintSpec(
  spec: BackfillSpec,
  table: TableName,
  columns: readonly string[],
  from: string,
  to: string,
): FingerprintSpec {
  return {
    table,
    partitionKey: spec.target.partition_key,
    grain: spec.source_range.grain,
    from,
    to,
    uniqueKey: spec.target.unique_key ?? [spec.target.partition_key],
    measures: spec.measures.map((m) => m.column),
    hashColumns: columns.filter((c) => !spec.target.audit_columns.includes(c)),
  };
}

/** Names of the fields that differ between two fingerprints, exactly (empty when identical). */
export function fingerprintDifferences(a: Fingerprint, b: Fingerprint): string[] {
  return compareFingerprints(a, b).differences;
}

/** Column types whose sums depend on summation order (IEEE floats), as either engine names them. */
const FLOAT_TYPE = /^(double|double precision|float|float4|float8|real)$/i;

export function isFloatType(type: string): boolean {
  return FLOAT_TYPE.test(type.trim());
}

/** Relative difference below which two float sums are the same sum in another order. */
export const FLOAT_RELATIVE = 1e-9;

export interface FingerprintComparison {
  /** Differences in what is deterministic: rows, keys, row hash, exact sums, floats beyond tolerance. */
  differences: string[];
  /** Float measures whose sums differ only within tolerance (summation order), one line each. */
  floatNoise: string[];
  /** The float sums among `differences`: beyond tolerance, with their relative change. */
  floatDrift: Array<{ measure: string; relative: number }>;
}

/**
 * Compares two fingerprints exactly, except the sums of `floatMeasures`: the sum of a DOUBLE
 * depends on the order rows are added in, so those may differ by `tolerance(measure)` or by a
 * relative FLOAT_RELATIVE, whichever is larger, and are then reported as noise, not a difference.
 */
export function compareFingerprints(
  a: Fingerprint,
  b: Fingerprint,
  floatMeasures: ReadonlySet<string> = new Set(),
  tolerance: (measure: string) => number = () => 0,
): FingerprintComparison {
  const differences: string[] = [];
  const floatNoise: string[] = [];
  const floatDrift: FingerprintComparison['floatDrift'] = [];
  if (a.rows !== b.rows) differences.push(`row count ${a.rows} vs ${b.rows}`);
  if (a.distinctKeys !== b.distinctKeys) differences.push(`distinct keys ${a.distinctKeys} vs ${b.distinctKeys}`);
  const sums = (label: string, p: Record<string, string | null>, q: Record<string, string | null>) => {
    for (const m of new Set([...Object.keys(p), ...Object.keys(q)])) {
      // undefined (the measure is absent) and null (an empty slice) are different answers.
      const x = p[m];
      const y = q[m];
      if (x === y) continue;
      const line = `${label}(${m}) ${x} vs ${y}`;
      const [u, v] = [Number(x), Number(y)];
      if (
        floatMeasures.has(m) &&
        typeof x === 'string' &&
        typeof y === 'string' &&
        Number.isFinite(u) &&
        Number.isFinite(v)
      ) {
        const scale = Math.max(Math.abs(u), Math.abs(v));
        if (Math.abs(u - v) <= Math.max(tolerance(m), FLOAT_RELATIVE * scale)) {
          floatNoise.push(line);
          continue;
        }
        floatDrift.push({ measure: m, relative: Math.abs(u - v) / scale });
      }
      differences.push(line);
    }
  };
  sums('sum', a.sums, b.sums);
  sums('keyed sum', a.keyedSums ?? {}, b.keyedSums ?? {});
  if (a.rowHash !== b.rowHash) differences.push('row hash');
  return { differences, floatNoise, floatDrift };
}
