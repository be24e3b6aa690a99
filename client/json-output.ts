/**
 * The shape of every `--json` output: one object with `schema_version` (bumped when a field is
 * renamed or removed; added fields do not bump it), `kind` (status, plan, list, sql, trusted_key,
 * preview), and the value with its keys in snake_case like the spec's, numbers without float noise.
 * `sql` rows keep their column names as the query wrote them. The fields are those of the
 * TypeScript interfaces named in the README (BackfillStatus, Plan, ListedBackfill, PreviewResult),
 * each key snake_cased: `partitions.done`, `backfill_id`, `last_verdict.rows_written`.
 */
export const JSON_SCHEMA_VERSION = 1;

export type JsonKind =
  | 'status' | 'plan' | 'list' | 'sql' | 'trusted_key' | 'preview' | 'release_status' | 'release_plan' | 'lineage';

/** camelCase → snake_case for identifier-like keys; data used as keys (dates, column names) is left as is. */
export function snakeKey(key: string): string {
  return /^[a-z][a-zA-Z0-9]*$/.test(key) ? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : key;
}

/** A float to 12 significant digits (past that, a computed ratio is float noise): 120724719.47000004 → 120724719.47. */
export function denoised(n: number): number {
  return Number.isFinite(n) && !Number.isInteger(n) ? Number(n.toPrecision(12)) : n;
}

function convert(value: unknown, keys: (k: string) => string = snakeKey): unknown {
  if (typeof value === 'number') return denoised(value);
  if (Array.isArray(value)) return value.map((v) => convert(v, keys));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [keys(k), convert(v, keys)]));
  }
  return value;
}

export function jsonOutput(kind: JsonKind, value: unknown): string {
  const asIs = (k: string) => k;
  const body = kind === 'list'
    ? { items: convert(value) }
    : kind === 'sql'
      ? (convert(value, asIs) as Record<string, unknown>)
      : (convert(value) as Record<string, unknown>);
  return JSON.stringify({ schema_version: JSON_SCHEMA_VERSION, kind, ...body }, null, 2);
}
