/**
 * The plan: partitions of the range at the grain, batches of partitions_per_batch in a stable order,
 * and estimates. One pure module used by the CLI (plan), the plan activity and the workflow: the
 * workflow asks for batch i's partitions by index, so the partition list never enters history.
 */
import {
  partitionAtOrdinal, partitionCount, partitionOrdinal, rangeOrdinals, type Grain, type Partition,
} from './partitions';

/** The subset of the spec planning reads; BackfillSpec satisfies it. */
export interface PlanInput {
  backfill_id: string;
  source_range: { start: string; end: string; grain: Grain };
  execution: {
    partitions_per_batch: number;
    max_concurrency: number;
    order: 'oldest_first' | 'newest_first';
    batch_mode?: 'auto' | 'partition';
  };
}

export interface PlanShape {
  firstOrdinal: number;
  lastOrdinal: number;
  partitions: number;
  batches: number;
}

export function planShape(spec: PlanInput): PlanShape {
  const { start, end, grain } = spec.source_range;
  const range = rangeOrdinals(start, end, grain);
  if (range === null || range.last < range.first) {
    throw new Error(`source_range ${start}..${end} is not a valid ${grain} range; validate the spec first`);
  }
  const partitions = partitionCount(range);
  return {
    firstOrdinal: range.first,
    lastOrdinal: range.last,
    partitions,
    batches: Math.ceil(partitions / spec.execution.partitions_per_batch),
  };
}

/** Inclusive ordinals of batch `index`, in the spec's order (newest_first walks back from the end). */
export function batchOrdinals(
  spec: PlanInput,
  index: number,
  shape = planShape(spec),
): { first: number; last: number } {
  if (!Number.isInteger(index) || index < 0 || index >= shape.batches) {
    throw new Error(`batch ${index} is outside the plan (0..${shape.batches - 1})`);
  }
  const k = spec.execution.partitions_per_batch;
  if (spec.execution.order === 'newest_first') {
    const last = shape.lastOrdinal - index * k;
    return { first: Math.max(shape.firstOrdinal, last - k + 1), last };
  }
  const first = shape.firstOrdinal + index * k;
  return { first, last: Math.min(shape.lastOrdinal, first + k - 1) };
}

/** The partitions of batch `index`, oldest first within the batch. */
export function batchPartitions(spec: PlanInput, index: number, shape = planShape(spec)): Partition[] {
  const { first, last } = batchOrdinals(spec, index, shape);
  const out: Partition[] = [];
  for (let o = first; o <= last; o++) out.push(partitionAtOrdinal(o, spec.source_range.grain));
  return out;
}

/** The index of the batch that holds `partition` (a label of the plan's grain), or null outside the plan. */
export function batchOf(spec: PlanInput, partition: string, shape = planShape(spec)): number | null {
  const o = partitionOrdinal(partition, spec.source_range.grain);
  if (o === null || o < shape.firstOrdinal || o > shape.lastOrdinal) return null;
  const k = spec.execution.partitions_per_batch;
  return spec.execution.order === 'newest_first'
    ? Math.floor((shape.lastOrdinal - o) / k)
    : Math.floor((o - shape.firstOrdinal) / k);
}

/** How the plan expects batches to be rewritten; preparation decides (and status says) for the run. */
export function batchModeNote(spec: PlanInput): string {
  return spec.execution.batch_mode === 'partition'
    ? 'partition by partition: execution.batch_mode is partition'
    : 'one DELETE + INSERT per batch if preparation proves the transform decomposable on the representative ' +
      'batch (its output over the batch equals the union of its partitions\' outputs); ' +
      'otherwise partition by partition';
}

/** Every partition of the plan, in plan order. */
export function allPartitions(spec: PlanInput): Partition[] {
  const shape = planShape(spec);
  return Array.from({ length: shape.batches }, (_, i) => batchPartitions(spec, i, shape)).flat();
}

/** What the warehouse told the planner. */
export interface PlanEstimates {
  /** Existing rows in the target per partition start (missing = 0). */
  rowsByPartition: Record<string, number>;
  /**
   * A measured or explained read of the transform for one partition; with `reads`, the median of
   * several reads (each per existing row, times the partition's rows), stated for `partition`.
   */
  sample: SampleRead & {
    /** The reads the figures above are the median of (absent: one read, the figures themselves). */
    reads?: SampleRead[];
  } | null;
  pricePerHour: { amount: number; unit: string } | null;
}

export interface BatchPlan {
  index: number;
  first: string;
  last: string;
  partitions: number;
  rows: number;
  bytes: number | null;
  seconds: number | null;
}

export interface PlanTotals {
  partitions: number;
  batches: number;
  rows: number;
  bytes: number | null;
  seconds: number | null;
  cost: { amount: number; unit: string } | null;
}

export interface Plan {
  backfillId: string;
  grain: Grain;
  order: PlanInput['execution']['order'];
  range: { start: string; end: string };
  partitionsPerBatch: number;
  maxConcurrency: number;
  /** How batches will be rewritten (batchModeNote). */
  batchMode: string;
  /** Partition used for the idempotency proof and the estimate sample. */
  representativePartition: string;
  emptyPartitions: number;
  batches: BatchPlan[];
  totals: PlanTotals;
  sample: PlanEstimates['sample'];
  /** Things the approver should know before running (e.g. Time Travel shorter than the rollback window). */
  warnings: string[];
}

/**
 * The non-empty partition whose row count is the median (earliest on ties): typical enough to
 * prove idempotency on, and not an empty day where every check passes vacuously.
 */
export function representativePartition(spec: PlanInput, rowsByPartition: Record<string, number>): string {
  const partitions = allPartitions(spec).map((p) => p.start);
  const nonEmpty = partitions.filter((p) => (rowsByPartition[p] ?? 0) > 0).sort();
  if (nonEmpty.length === 0) return [...partitions].sort()[Math.floor(partitions.length / 2)]!;
  const byRows = [...nonEmpty].sort((a, b) => rowsByPartition[a]! - rowsByPartition[b]! || a.localeCompare(b));
  return byRows[Math.floor((byRows.length - 1) / 2)]!;
}

/** One read of the transform for a partition: rows read, bytes scanned (and their basis), seconds. */
export interface SampleRead {
  partition: string;
  rows: number | null;
  bytes: number | null;
  /** What the bytes come from, as the warehouse says ("storage size of the columns read from staging.events"). */
  bytesBasis?: string;
  seconds: number | null;
  measured: boolean;
}

/** How many partitions the plan reads to estimate bytes and time (one read alone was noise: 3 ms to 100 ms). */
export const SAMPLE_READS = 3;

/**
 * The partitions to read for the estimates: the representative one, and the non-empty partitions
 * at the lower and upper quartile of rows, so a small and a large day temper a single odd read.
 */
export function samplePartitions(spec: PlanInput, rowsByPartition: Record<string, number>): string[] {
  const representative = representativePartition(spec, rowsByPartition);
  const all = allPartitions(spec).map((p) => p.start);
  const nonEmpty = all.filter((p) => (rowsByPartition[p] ?? 0) > 0);
  const byRows = [...(nonEmpty.length ? nonEmpty : all)]
    .sort((a, b) => (rowsByPartition[a] ?? 0) - (rowsByPartition[b] ?? 0) || a.localeCompare(b));
  const quartile = (q: number) => byRows[Math.floor((byRows.length - 1) * q)]!;
  const picked = [representative];
  for (const p of [quartile(0.25), quartile(0.75), ...byRows]) {
    if (picked.length >= Math.min(SAMPLE_READS, all.length)) break;
    if (!picked.includes(p)) picked.push(p);
  }
  return picked;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Several reads as one sample for the representative partition (the first read): each read's
 * bytes and seconds per existing row of its partition, the median of those, times the
 * representative's rows (a partition with no rows yet counts as one row). Null where any read lacks it.
 * The bytes' basis is the reads' (each different one once).
 */
export function combineReads(reads: SampleRead[], rowsByPartition: Record<string, number>): PlanEstimates['sample'] {
  if (reads.length === 0) return null;
  const rowsOf = (p: string) => Math.max(1, rowsByPartition[p] ?? 0);
  const first = reads[0]!;
  const per = (pick: (r: SampleRead) => number | null) =>
    reads.some((r) => pick(r) === null) ? null : median(reads.map((r) => pick(r)! / rowsOf(r.partition)));
  const scaled = (v: number | null) => (v === null ? null : v * rowsOf(first.partition));
  const bases = [...new Set(reads.flatMap((r) => (r.bytesBasis ? [r.bytesBasis] : [])))];
  return {
    partition: first.partition,
    rows: first.rows,
    bytes: scaled(per((r) => r.bytes)),
    ...(bases.length && { bytesBasis: bases.join('; ') }),
    seconds: scaled(per((r) => r.seconds)),
    measured: reads.every((r) => r.measured),
    reads,
  };
}

const sumOrNull = (values: Array<number | null>): number | null =>
  values.some((v) => v === null) ? null : values.reduce<number>((a, v) => a + (v ?? 0), 0);

export function buildPlan(spec: PlanInput, estimates: PlanEstimates): Plan {
  const shape = planShape(spec);
  const { sample } = estimates;
  const sampleRows = sample ? (estimates.rowsByPartition[sample.partition] ?? 0) : 0;
  // Scale the sample by each partition's existing rows; an empty sample partition counts as typical.
  const scale = (rows: number) => (sampleRows > 0 ? rows / sampleRows : 1);
  const perPartition = (rows: number, v: number | null | undefined) =>
    v === null || v === undefined ? null : v * scale(rows);

  const batches: BatchPlan[] = [];
  let emptyPartitions = 0;
  for (let i = 0; i < shape.batches; i++) {
    const parts = batchPartitions(spec, i, shape);
    const rows = parts.map((p) => estimates.rowsByPartition[p.start] ?? 0);
    emptyPartitions += rows.filter((r) => r === 0).length;
    const seconds = sumOrNull(rows.map((r) => perPartition(r, sample?.seconds)));
    const lanes = Math.min(spec.execution.max_concurrency, parts.length);
    batches.push({
      index: i,
      first: parts[0]!.start,
      last: parts[parts.length - 1]!.start,
      partitions: parts.length,
      rows: rows.reduce((a, b) => a + b, 0),
      bytes: sample ? sumOrNull(rows.map((r) => perPartition(r, sample.bytes))) : null,
      seconds: sample && seconds !== null ? seconds / lanes : null,
    });
  }
  const seconds = sample ? sumOrNull(batches.map((b) => b.seconds)) : null;
  const price = estimates.pricePerHour;
  return {
    backfillId: spec.backfill_id,
    grain: spec.source_range.grain,
    order: spec.execution.order,
    range: { start: spec.source_range.start, end: spec.source_range.end },
    partitionsPerBatch: spec.execution.partitions_per_batch,
    maxConcurrency: spec.execution.max_concurrency,
    batchMode: batchModeNote(spec),
    representativePartition: representativePartition(spec, estimates.rowsByPartition),
    emptyPartitions,
    batches,
    sample,
    warnings: [],
    totals: {
      partitions: shape.partitions,
      batches: shape.batches,
      rows: batches.reduce((a, b) => a + b.rows, 0),
      bytes: sample ? sumOrNull(batches.map((b) => b.bytes)) : null,
      seconds,
      cost: price && seconds !== null ? { amount: (seconds / 3600) * price.amount, unit: price.unit } : null,
    },
  };
}

/** The plan without its per-batch list: what the workflow keeps in history and shows in status. */
export type PlanSummary = Omit<Plan, 'batches'>;

export function summarize(plan: Plan): PlanSummary {
  const { batches: _b, ...summary } = plan;
  return summary;
}
