/**
 * Parsers for the human-friendly values a spec holds (durations, sizes, percentage ranges).
 * Each returns null on bad input so the schema can report the YAML path with an example.
 */
import { excerpt } from '../../contracts/limits';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const DURATION_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * "90s", "15m", "2h", "7d", "1w" → milliseconds exactly as written: possibly fractional ("0.4ms"),
 * zero or beyond any timer ("99999999999w", Infinity for absurdly many digits). Null if malformed.
 * The schema compares this with each field's bounds, so "0.4ms" is reported as too short rather than
 * rounded to 0 (which downstream code reads as "no timeout").
 */
export function durationMs(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
}

/**
 * "90s", "15m", "2h", "7d", "1w" → whole milliseconds, at least 1 and a safe integer; null if
 * malformed, zero, under 1 ms after rounding, or too large to count exactly.
 */
export function parseDuration(text: string): number | null {
  const ms = durationMs(text);
  if (ms === null) return null;
  const whole = Math.round(ms);
  return whole >= 1 && Number.isSafeInteger(whole) ? whole : null;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|PB|KiB|MiB|GiB|TiB|PiB)$/i;
const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, pib: 2 ** 50,
};

/** "500 GB", "2TB", "1.5 TiB" or a plain number of bytes → bytes. */
export function parseBytes(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : null;
  const m = SIZE.exec(value.trim());
  if (!m) return null;
  const bytes = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  return bytes > 0 ? bytes : null;
}

/** An expected change of a measure, in percent of the old value: { min: -1.5, max: -0.8 }. */
export interface DeltaRange {
  min: number;
  max: number;
}

const PERCENT = String.raw`([+-]?\d+(?:\.\d+)?)\s*%`;
const RANGE = new RegExp(`^${PERCENT}\\s*(?:to|\\.\\.)\\s*${PERCENT}$`);
const SINGLE = new RegExp(`^${PERCENT}$`);

/** "-1.5% to -0.8%", "-1.5%..-0.8%" or "0%" (no change) → a range; null if malformed or inverted. */
export function parseDeltaRange(text: string): DeltaRange | null {
  const t = text.trim();
  const single = SINGLE.exec(t);
  if (single) {
    const v = Number(single[1]);
    return { min: v, max: v };
  }
  const m = RANGE.exec(t);
  if (!m) return null;
  const range = { min: Number(m[1]), max: Number(m[2]) };
  return range.min <= range.max ? range : null;
}

/** A range as people write it, signs kept: "+3% to +6%", "-1.5% to -0.8%", "0%". */
export function formatDeltaRange(r: DeltaRange): string {
  const signed = (v: number) => `${v > 0 ? '+' : ''}${v}%`;
  return r.min === r.max ? signed(r.min) : `${signed(r.min)} to ${signed(r.max)}`;
}

/** A tolerance as a fraction: 0, 0.01, "1%" → 0.01. */
export function parseFraction(value: string | number): number | null {
  if (typeof value === 'number') return value >= 0 && value <= 1 ? value : null;
  const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(value.trim());
  if (!m) return null;
  const f = Number(m[1]) / 100;
  return f <= 1 ? f : null;
}

/** "HH:MM" → minutes after midnight UTC. */
export function parseClock(text: string): number | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/**
 * A value as a message shows it, on one short line: strings quoted and cut to an excerpt, NaN and
 * Infinity by name (JSON would print null), a list or map that contains itself (YAML aliases) named.
 */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(excerpt(value));
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return excerpt(JSON.stringify(value));
  } catch {
    return Array.isArray(value) ? 'a list that contains itself' : 'a map that contains itself';
  }
}

const MIB = 1024 * 1024;

/** A size in binary units for messages about files and payloads: "1 MiB", "1.5 MiB", "12 KiB", "80 B". */
export function formatBinarySize(bytes: number): string {
  const [unit, size] = bytes >= MIB ? ['MiB', MIB] : bytes >= 1024 ? ['KiB', 1024] : ['B', 1];
  return `${Math.round((bytes / size) * 10) / 10} ${unit}`;
}

/** Levenshtein distance, for "did you mean" hints on unknown keys. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}
