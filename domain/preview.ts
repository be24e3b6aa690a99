/**
 * `backfill preview`: which partitions a shallow replay rewrites, what its scratch table is called,
 * and how its measured times become an estimate of the full run. Pure; the warehouse side is
 * warehouse/preview.ts.
 */
import type { Check, ChangedRow } from './reconcile';
import { allPartitions, type PlanInput } from './plan';
import type { Grain, Partition } from './partitions';

/** `--partitions`: how many partitions a preview rewrites. */
export const PREVIEW_LIMITS = { defaultPartitions: 7, minPartitions: 1, maxPartitions: 50 } as const;

/** Why `n` is not a partition count a preview takes, or null when it is. */
export function previewPartitionsProblem(n: unknown): string | null {
  const { minPartitions: min, maxPartitions: max } = PREVIEW_LIMITS;
  return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max
    ? null
    : `--partitions: ${typeof n === 'number' ? String(n) : JSON.stringify(n)} is not a whole number ${min}..${max}; ` +
      `write e.g. ${PREVIEW_LIMITS.defaultPartitions}`;
}

/**
 * The scratch table a preview writes: beside the target, named after the backfill so one
 * backfill's previews reuse one name and the ownership record says whose it is.
 */
export function previewTableFor(table: string, backfillId: string): string {
  return `${table}_preview_${backfillId.replace(/-/g, '_')}`;
}

/**
 * The partitions a preview rewrites, oldest first: the representative one (the plan's median
 * partition by rows, where the idempotency proof runs), the first and the last of the range, then
 * the rest spread evenly between them (each moved to the nearest partition not yet taken). With
 * fewer partitions than that, they come in that order of priority; a range of at most `n`
 * partitions is rewritten whole.
 */
export function previewSample(spec: PlanInput, representative: string, n: number): Partition[] {
  const all = allPartitions(spec).sort((a, b) => a.start.localeCompare(b.start));
  if (n >= all.length) return all;
  const picked = new Set<number>();
  const rep = all.findIndex((p) => p.start === representative);
  for (const i of [rep, 0, all.length - 1]) if (i >= 0 && picked.size < n) picked.add(i);
  const rest = n - picked.size;
  for (let k = 1; k <= rest; k++) {
    const at = Math.round((k * (all.length - 1)) / (rest + 1));
    for (let d = 0; ; d++) {
      if (at + d < all.length && !picked.has(at + d)) {
        picked.add(at + d);
        break;
      }
      if (at - d >= 0 && !picked.has(at - d)) {
        picked.add(at - d);
        break;
      }
    }
  }
  return [...picked].sort((a, b) => a - b).map((i) => all[i]!);
}

/** One rewritten partition: its rows, its measures' sums on both sides, what it took. */
export interface PreviewPartition {
  partition: string;
  oldRows: number;
  newRows: number;
  measures: Array<{ column: string; oldSum: number; newSum: number; deltaPct: number | null }>;
  /** Rewriting it into the scratch table. */
  rewriteSeconds: number;
  /** Reading its evidence (both sides' statistics, the changed rows). */
  checkSeconds: number;
}

/** A measure over the whole sample, as the run would judge a batch of these partitions. */
export interface PreviewMeasure {
  column: string;
  oldSum: number;
  newSum: number;
  deltaPct: number | null;
  expected: { min: number; max: number };
  /** No fail-severity check of this measure failed. */
  passed: boolean;
}

/** What the full run would take, from the preview's measured times: an estimate. */
export interface PreviewEstimate {
  /** Measured seconds per rewritten partition (rewrite and checks), the mean over the sample. */
  secondsPerPartition: number;
  partitions: number;
  maxConcurrency: number;
  /** secondsPerPartition × partitions ÷ maxConcurrency. */
  seconds: number;
}

export interface PreviewResult {
  backfillId: string;
  target: string;
  /** The scratch table, dropped before the preview returned. */
  scratchTable: string;
  range: { start: string; end: string };
  grain: Grain;
  /** Partitions in the range, and the plan's representative one. */
  totalPartitions: number;
  representativePartition: string;
  partitions: PreviewPartition[];
  /** Every fail-severity check passed. */
  passed: boolean;
  /** The verdict of the sample judged as one batch (domain/reconcile.ts reconcileBatch). */
  checks: Check[];
  measures: PreviewMeasure[];
  rows: { old: number; new: number };
  /** The largest changes (at most PREVIEW_CHANGED_ROWS). */
  topChangedRows: ChangedRow[];
  estimate: PreviewEstimate;
  /** What the plan warns about (e.g. Time Travel shorter than the rollback window). */
  warnings: string[];
  /** The preview itself, end to end. */
  seconds: number;
}

/** Changed rows a preview shows; the run keeps validation.sample_rows per batch for the report. */
export const PREVIEW_CHANGED_ROWS = 10;

/** Seconds per partition measured × partitions ÷ max_concurrency. */
export function previewEstimate(
  measured: ReadonlyArray<Pick<PreviewPartition, 'rewriteSeconds' | 'checkSeconds'>>,
  partitions: number,
  maxConcurrency: number,
): PreviewEstimate {
  const total = measured.reduce((a, p) => a + p.rewriteSeconds + p.checkSeconds, 0);
  const secondsPerPartition = measured.length ? total / measured.length : 0;
  return {
    secondsPerPartition,
    partitions,
    maxConcurrency,
    seconds: (secondsPerPartition * partitions) / Math.max(1, maxConcurrency),
  };
}
