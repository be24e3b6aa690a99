import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../client/load-spec';
import { partitionOrdinal } from '../../domain/partitions';
import {
  allPartitions,
  batchOrdinals,
  batchPartitions,
  buildPlan,
  combineReads,
  planShape,
  samplePartitions,
  representativePartition,
  summarize,
  type PlanEstimates,
  type PlanInput,
} from '../../domain/plan';

const EXAMPLE = fileURLToPath(new URL('../../examples/revenue-tax-fix.yaml', import.meta.url));
const spec = loadSpecFile(EXAMPLE).spec;
const withExecution = (
  execution: Partial<PlanInput['execution']>,
  range?: Partial<PlanInput['source_range']>,
): PlanInput => ({
  ...spec,
  source_range: { ...spec.source_range, ...range },
  execution: { ...spec.execution, ...execution },
});
const newest = withExecution({ order: 'newest_first' });

/** Days of the example range in order, from the partition module rather than the planner. */
function dayLabels(from: string, count: number): string[] {
  const first = Date.parse(`${from}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => new Date(first + i * 86_400_000).toISOString().slice(0, 10));
}

describe('planShape', () => {
  it('gives 547 partitions in 79 batches of 7 for the example spec', () => {
    expect(planShape(spec)).toEqual({
      firstOrdinal: partitionOrdinal('2024-12-01', 'day'),
      lastOrdinal: partitionOrdinal('2026-05-31', 'day'),
      partitions: 547,
      batches: 79,
    });
  });

  it('refuses an inverted or invalid range', () => {
    expect(() => planShape(withExecution({}, { start: '2026-06-01', end: '2026-05-31' })))
      .toThrow(/not a valid day range/);
    expect(() => planShape(withExecution({}, { end: '2026-02-30' }))).toThrow(/validate the spec first/);
  });
});

describe('batches, oldest first', () => {
  it('starts with 2024-12-01..2024-12-07 and ends with a one-partition batch on 2026-05-31', () => {
    expect(batchPartitions(spec, 0).map((p) => p.start)).toEqual(dayLabels('2024-12-01', 7));
    expect(batchPartitions(spec, 0)[6]).toEqual({ start: '2024-12-07', end: '2024-12-08' });
    expect(batchPartitions(spec, 78)).toEqual([{ start: '2026-05-31', end: '2026-06-01' }]);
    expect(batchPartitions(spec, 77).map((p) => p.start)).toEqual(dayLabels('2026-05-24', 7));
  });

  it('covers every partition exactly once, in order', () => {
    expect(allPartitions(spec).map((p) => p.start)).toEqual(dayLabels('2024-12-01', 547));
  });
});

describe('batches, newest first', () => {
  it('starts at the end of the range and leaves the short batch at the start', () => {
    expect(batchPartitions(newest, 0).map((p) => p.start)).toEqual(dayLabels('2026-05-25', 7));
    expect(batchOrdinals(newest, 0).last).toBe(partitionOrdinal('2026-05-31', 'day'));
    expect(batchPartitions(newest, 78)).toEqual([{ start: '2024-12-01', end: '2024-12-02' }]);
  });

  it('covers every partition exactly once', () => {
    const starts = allPartitions(newest).map((p) => p.start);
    expect(starts).toHaveLength(547);
    expect(new Set(starts).size).toBe(547);
    expect([...starts].sort()).toEqual(dayLabels('2024-12-01', 547));
  });
});

describe('batch disjointness across shapes', () => {
  const cases: Array<[string, PlanInput]> = [];
  for (const order of ['oldest_first', 'newest_first'] as const) {
    for (const k of [1, 3, 7, 10, 547, 1000]) {
      cases.push([`${order}, ${k} per batch, days`, withExecution({ order, partitions_per_batch: k })]);
    }
    cases.push([
      `${order}, hours`,
      withExecution(
        { order, partitions_per_batch: 5 },
        { start: '2025-03-30T00:00', end: '2025-04-01T02:00', grain: 'hour' },
      ),
    ]);
    cases.push([
      `${order}, months`,
      withExecution({ order, partitions_per_batch: 4 }, { start: '2024-11', end: '2026-02', grain: 'month' }),
    ]);
  }

  it.each(cases)('%s: batches are disjoint, contiguous and cover the range', (_, input) => {
    const shape = planShape(input);
    const seen = new Set<number>();
    for (let i = 0; i < shape.batches; i++) {
      const { first, last } = batchOrdinals(input, i, shape);
      expect(last - first + 1).toBeGreaterThan(0);
      expect(last - first + 1).toBeLessThanOrEqual(input.execution.partitions_per_batch);
      for (let o = first; o <= last; o++) {
        expect(seen.has(o), `ordinal ${o} in two batches`).toBe(false);
        seen.add(o);
      }
    }
    expect(seen.size).toBe(shape.partitions);
    expect(Math.min(...seen)).toBe(shape.firstOrdinal);
    expect(Math.max(...seen)).toBe(shape.lastOrdinal);
  });

  it('counts month and hour partitions across year and day ends', () => {
    expect(planShape(withExecution({}, { start: '2024-11', end: '2026-02', grain: 'month' })).partitions).toBe(16);
    const hours = withExecution(
      { partitions_per_batch: 24 },
      { start: '2025-12-31T00:00', end: '2026-01-01T23:00', grain: 'hour' },
    );
    expect(planShape(hours)).toMatchObject({ partitions: 48, batches: 2 });
    expect(batchPartitions(hours, 1)[0]).toEqual({ start: '2026-01-01T00:00:00', end: '2026-01-01T01:00:00' });
  });
});

describe('batchOrdinals', () => {
  it.each([-1, 79, 1.5, Number.NaN])('refuses batch index %d', (index) => {
    expect(() => batchOrdinals(spec, index)).toThrow(/outside the plan \(0\.\.78\)/);
  });
});

describe('representativePartition', () => {
  const tiny = withExecution({ partitions_per_batch: 2 }, { start: '2025-01-01', end: '2025-01-07' });

  it('picks the median non-empty partition', () => {
    const rows = {
      '2025-01-01': 0,
      '2025-01-02': 50,
      '2025-01-03': 10,
      '2025-01-04': 30,
      '2025-01-05': 0,
      '2025-01-06': 20,
      '2025-01-07': 40,
    };
    // Non-empty by rows: 10, 20, 30, 40, 50 → 30.
    expect(representativePartition(tiny, rows)).toBe('2025-01-04');
  });

  it('takes the lower median, earliest on ties', () => {
    expect(representativePartition(tiny, { '2025-01-02': 5, '2025-01-05': 9 })).toBe('2025-01-02');
    expect(representativePartition(tiny, { '2025-01-06': 7, '2025-01-03': 7, '2025-01-04': 7 })).toBe('2025-01-04');
    expect(representativePartition(tiny, { '2025-01-06': 7, '2025-01-03': 7 })).toBe('2025-01-03');
  });

  it('never picks an empty partition while a non-empty one exists', () => {
    expect(representativePartition(tiny, { '2025-01-07': 1 })).toBe('2025-01-07');
  });

  it('ignores rows outside the range', () => {
    expect(representativePartition(tiny, { '2024-12-31': 1000, '2025-02-01': 1000, '2025-01-03': 1 }))
      .toBe('2025-01-03');
  });

  it('falls back to the middle partition when all are empty', () => {
    expect(representativePartition(tiny, {})).toBe('2025-01-04');
  });
});

describe('estimate samples', () => {
  const tiny = withExecution(
    { partitions_per_batch: 3, max_concurrency: 2 },
    { start: '2025-01-01', end: '2025-01-07' },
  );
  const rows = { '2025-01-01': 100, '2025-01-02': 200, '2025-01-03': 0, '2025-01-04': 100, '2025-01-05': 400,
    '2025-01-06': 100, '2025-01-07': 300 };
  const read = (partition: string, seconds: number | null, bytes: number | null = 8 * (rows as never)[partition]) =>
    ({ partition, rows: 1000, bytes, seconds, measured: true });

  it('reads the representative partition and the quartiles of rows, three distinct partitions', () => {
    // The representative (median rows, earliest on ties), then the lower and upper quartiles.
    expect(samplePartitions(tiny, rows)).toEqual(['2025-01-06', '2025-01-04', '2025-01-02']);
    expect(samplePartitions(withExecution({}, { start: '2025-01-01', end: '2025-01-01' }), {})).toEqual(['2025-01-01']);
  });

  it('takes the median per existing row, stated for the first (representative) read; an outlier does not count', () => {
    // Per row: 0.01, 0.01 (the representative), and an outlier 1.0 — the median ignores it.
    const sample = combineReads([read('2025-01-04', 1), read('2025-01-01', 1), read('2025-01-07', 300)], rows)!;
    expect(sample).toMatchObject({ partition: '2025-01-04', seconds: 1, bytes: 800, measured: true });
    expect(sample.reads).toHaveLength(3);
    expect(combineReads([read('2025-01-04', 1), read('2025-01-01', null)], rows)!.seconds).toBeNull();
    expect(combineReads([], rows)).toBeNull();
  });

  it('keeps the basis the warehouse gave for the bytes, each different one once, and none when it gave none', () => {
    const storage = 'storage size of the columns read from staging.events';
    const widths = 'type widths of the columns read from staging.late (not in the database file yet)';
    const based = (partition: string, bytesBasis: string) => ({ ...read(partition, 1), bytesBasis });
    expect(combineReads([based('2025-01-04', storage), based('2025-01-01', storage)], rows)!.bytesBasis).toBe(storage);
    expect(combineReads([based('2025-01-04', storage), based('2025-01-01', widths)], rows)!.bytesBasis)
      .toBe(`${storage}; ${widths}`);
    expect(combineReads([read('2025-01-04', 1)], rows)).not.toHaveProperty('bytesBasis');
  });
});

describe('buildPlan', () => {
  const tiny = withExecution(
    { partitions_per_batch: 3, max_concurrency: 2 },
    { start: '2025-01-01', end: '2025-01-07' },
  );
  const rowsByPartition = {
    '2025-01-01': 100,
    '2025-01-02': 200,
    '2025-01-03': 0,
    '2025-01-04': 100,
    '2025-01-05': 400,
    '2025-01-06': 100,
    '2025-01-07': 300,
  };
  const sample = { partition: '2025-01-04', rows: 1000, bytes: 8000, seconds: 2, measured: true };

  it('without a sample: rows per batch, nulls for bytes, seconds and cost', () => {
    const plan = buildPlan(tiny, { rowsByPartition, sample: null, pricePerHour: { amount: 3, unit: 'credits' } });
    expect(plan.batches.map((b) => [b.first, b.last, b.partitions, b.rows, b.bytes, b.seconds])).toEqual([
      ['2025-01-01', '2025-01-03', 3, 300, null, null],
      ['2025-01-04', '2025-01-06', 3, 600, null, null],
      ['2025-01-07', '2025-01-07', 1, 300, null, null],
    ]);
    expect(plan.totals).toEqual({ partitions: 7, batches: 3, rows: 1200, bytes: null, seconds: null, cost: null });
    expect(plan.emptyPartitions).toBe(1);
    expect(plan.sample).toBeNull();
  });

  it('scales bytes and seconds by rows relative to the sample partition, and divides seconds by lanes', () => {
    const plan = buildPlan(tiny, { rowsByPartition, sample, pricePerHour: null });
    const [b0, b1, b2] = plan.batches;
    // Sample partition has 100 rows → 80 bytes and 0.02 s per row.
    expect(b0!.bytes).toBeCloseTo(300 * 80);
    expect(b1!.bytes).toBeCloseTo(600 * 80);
    expect(b2!.bytes).toBeCloseTo(300 * 80);
    // Seconds: scaled sum over partitions, divided by min(max_concurrency 2, partitions in batch).
    expect(b0!.seconds).toBeCloseTo((300 * 0.02) / 2);
    expect(b1!.seconds).toBeCloseTo((600 * 0.02) / 2);
    expect(b2!.seconds).toBeCloseTo(300 * 0.02); // one partition: one lane
    expect(plan.totals.bytes).toBeCloseTo(1200 * 80);
    expect(plan.totals.seconds).toBeCloseTo(3 + 6 + 6);
    expect(plan.totals.cost).toBeNull();
  });

  it('prices the seconds only when the warehouse has a price', () => {
    const plan = buildPlan(tiny, { rowsByPartition, sample, pricePerHour: { amount: 3.6, unit: 'credits' } });
    expect(plan.totals.cost?.unit).toBe('credits');
    expect(plan.totals.cost?.amount).toBeCloseTo((15 / 3600) * 3.6);
  });

  it('treats every partition as typical when the sample partition is empty', () => {
    const plan = buildPlan(tiny, {
      rowsByPartition,
      sample: { ...sample, partition: '2025-01-03' },
      pricePerHour: null,
    });
    expect(plan.batches.map((b) => b.bytes)).toEqual([3 * 8000, 3 * 8000, 8000]);
    expect(plan.batches.map((b) => b.seconds)).toEqual([3, 3, 2]);
  });

  it('keeps bytes or seconds null when the sample lacks them', () => {
    const plan = buildPlan(tiny, {
      rowsByPartition,
      sample: { ...sample, bytes: null },
      pricePerHour: { amount: 1, unit: 'USD' },
    });
    expect(plan.batches.every((b) => b.bytes === null)).toBe(true);
    expect(plan.totals.bytes).toBeNull();
    expect(plan.totals.seconds).toBeCloseTo(15);
    const noSeconds = buildPlan(tiny, {
      rowsByPartition,
      sample: { ...sample, seconds: null },
      pricePerHour: { amount: 1, unit: 'USD' },
    });
    expect(noSeconds.totals.seconds).toBeNull();
    expect(noSeconds.totals.cost).toBeNull();
  });

  it('describes the example plan', () => {
    const estimates: PlanEstimates = { rowsByPartition: {}, sample: null, pricePerHour: null };
    const plan = buildPlan(spec, estimates);
    expect(plan).toMatchObject({
      backfillId: 'revenue-tax-fix-2026-06',
      grain: 'day',
      order: 'oldest_first',
      range: { start: '2024-12-01', end: '2026-05-31' },
      partitionsPerBatch: 7,
      maxConcurrency: 2,
      emptyPartitions: 547,
    });
    expect(plan.batches).toHaveLength(79);
    expect(plan.batches[0]).toMatchObject({ index: 0, first: '2024-12-01', last: '2024-12-07', partitions: 7 });
    expect(plan.batches[78]).toMatchObject({ index: 78, first: '2026-05-31', last: '2026-05-31', partitions: 1 });
    expect(buildPlan(newest, estimates).batches[0]).toMatchObject({ first: '2026-05-25', last: '2026-05-31' });
  });

  it('summarize drops the batch list and keeps the rest as plain JSON', () => {
    const plan = buildPlan(tiny, { rowsByPartition, sample, pricePerHour: null });
    const summary = summarize(plan);
    expect(summary).not.toHaveProperty('batches');
    expect(summary.totals).toEqual(plan.totals);
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });
});
