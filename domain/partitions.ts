/**
 * Partition arithmetic at a grain, in UTC, as plain ISO strings. Pure and deterministic: the
 * workflow computes batch contents from the spec with these functions, so the partition list never
 * has to travel through workflow history, and it is never derived from the clock.
 */
export type Grain = 'hour' | 'day' | 'month';

/** A half-open partition [start, end) with ISO labels: 2025-06-15, 2025-06-01, 2025-06-15T07:00:00. */
export interface Partition {
  start: string;
  end: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const HOUR = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2})(?::00(?::00)?)?$/;
const MONTH = /^(\d{4})-(\d{2})(?:-01)?$/;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function validDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d && y >= 1900 && y <= 2999;
}

/** What a boundary at this grain must look like, for error messages. */
export function boundaryFormat(grain: Grain): string {
  switch (grain) {
    case 'hour':
      return 'YYYY-MM-DDTHH:00 (UTC)';
    case 'day':
      return 'YYYY-MM-DD';
    case 'month':
      return 'YYYY-MM';
  }
}

/**
 * Ordinal of the partition containing `text` at `grain` (hours, days or months since the epoch),
 * or null when `text` is not a valid boundary at that grain.
 */
export function partitionOrdinal(text: string, grain: Grain): number | null {
  if (grain === 'month') {
    const m = MONTH.exec(text);
    if (!m) return null;
    const [y, mo] = [Number(m[1]), Number(m[2])];
    return validDate(y, mo, 1) ? (y - 1970) * 12 + (mo - 1) : null;
  }
  const m = (grain === 'day' ? DATE : HOUR).exec(text);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!validDate(y, mo, d)) return null;
  const days = Date.UTC(y, mo - 1, d) / DAY_MS;
  if (grain === 'day') return days;
  const h = Number(m[4]);
  return h <= 23 ? days * 24 + h : null;
}

/** ISO label of the partition with this ordinal. */
export function partitionLabel(ordinal: number, grain: Grain): string {
  if (grain === 'month') {
    const y = 1970 + Math.floor(ordinal / 12);
    return `${y}-${pad((((ordinal % 12) + 12) % 12) + 1)}-01`;
  }
  const t = new Date(ordinal * (grain === 'day' ? DAY_MS : HOUR_MS));
  const date = `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
  return grain === 'day' ? date : `${date}T${pad(t.getUTCHours())}:00:00`;
}

export function partitionAtOrdinal(ordinal: number, grain: Grain): Partition {
  return { start: partitionLabel(ordinal, grain), end: partitionLabel(ordinal + 1, grain) };
}

/** An inclusive range of partitions, as ordinals. */
export interface OrdinalRange {
  first: number;
  last: number;
}

export function rangeOrdinals(start: string, end: string, grain: Grain): OrdinalRange | null {
  const first = partitionOrdinal(start, grain);
  const last = partitionOrdinal(end, grain);
  return first === null || last === null ? null : { first, last };
}

export function partitionCount(r: OrdinalRange): number {
  return Math.max(0, r.last - r.first + 1);
}

/** Grains from finest to coarsest: a coarser partition holds whole partitions of every finer grain. */
export const GRAIN_ORDER: readonly Grain[] = ['hour', 'day', 'month'];

/** Whether a partition at `grain` is made of whole partitions at `finer` (true for the same grain). */
export const isSameOrCoarser = (grain: Grain, finer: Grain): boolean =>
  GRAIN_ORDER.indexOf(grain) >= GRAIN_ORDER.indexOf(finer);

/** Start of the partition with this ordinal, in milliseconds since the epoch (UTC). */
export function ordinalStartMs(ordinal: number, grain: Grain): number {
  if (grain === 'month') return Date.UTC(1970 + Math.floor(ordinal / 12), ((ordinal % 12) + 12) % 12, 1);
  return ordinal * (grain === 'day' ? DAY_MS : HOUR_MS);
}

/** Ordinal of the partition at `grain` that contains the instant `ms` (UTC). */
export function ordinalAtMs(ms: number, grain: Grain): number {
  if (grain === 'month') {
    const t = new Date(ms);
    return (t.getUTCFullYear() - 1970) * 12 + t.getUTCMonth();
  }
  return Math.floor(ms / (grain === 'day' ? DAY_MS : HOUR_MS));
}
