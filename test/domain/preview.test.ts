import { describe, expect, it } from 'vitest';
import { allPartitions, type PlanInput } from '../../domain/plan';
import {
  PREVIEW_LIMITS, previewEstimate, previewPartitionsProblem, previewSample, previewTableFor,
} from '../../domain/preview';

const spec = (start: string, end: string, order: PlanInput['execution']['order'] = 'oldest_first'): PlanInput => ({
  backfill_id: 'x',
  source_range: { start, end, grain: 'day' },
  execution: { partitions_per_batch: 7, max_concurrency: 2, order },
});

describe('previewSample', () => {
  const year = spec('2025-01-01', '2025-12-31');

  it('takes the first, the last and the representative partition, the rest spread evenly, oldest first', () => {
    const sample = previewSample(year, '2025-06-15', 7).map((p) => p.start);
    expect(sample).toEqual([
      '2025-01-01', '2025-03-15', '2025-05-27', '2025-06-15', '2025-08-07', '2025-10-19', '2025-12-31',
    ]);
    expect(new Set(sample).size).toBe(7);
  });

  it('moves a spread partition that is already taken to its nearest free neighbour', () => {
    // 5 of 9 days: the spread points are indexes 3 and 5; the representative holds index 3, so 4 is taken.
    const sample = previewSample(spec('2025-01-01', '2025-01-09'), '2025-01-04', 5).map((p) => p.start);
    expect(sample).toEqual(['2025-01-01', '2025-01-04', '2025-01-05', '2025-01-06', '2025-01-09']);
  });

  it('with fewer partitions, the representative comes first, then the first and the last', () => {
    expect(previewSample(year, '2025-06-15', 1).map((p) => p.start)).toEqual(['2025-06-15']);
    expect(previewSample(year, '2025-06-15', 2).map((p) => p.start)).toEqual(['2025-01-01', '2025-06-15']);
    expect(previewSample(year, '2025-06-15', 3).map((p) => p.start))
      .toEqual(['2025-01-01', '2025-06-15', '2025-12-31']);
  });

  it('takes a short range whole, whatever the plan order; partitions keep their bounds', () => {
    const week = spec('2025-01-01', '2025-01-05', 'newest_first');
    const sample = previewSample(week, '2025-01-03', 7);
    expect(sample).toEqual([...allPartitions(week)].sort((a, b) => a.start.localeCompare(b.start)));
    expect(sample[0]).toEqual({ start: '2025-01-01', end: '2025-01-02' });
  });

  it('is the same sample for newest_first and oldest_first', () => {
    const a = previewSample(year, '2025-06-15', 12);
    const b = previewSample(spec('2025-01-01', '2025-12-31', 'newest_first'), '2025-06-15', 12);
    expect(b).toEqual(a);
  });
});

describe('previewPartitionsProblem', () => {
  it('takes whole numbers 1..50 and says what is wrong otherwise', () => {
    expect(PREVIEW_LIMITS.defaultPartitions).toBe(7);
    for (const n of [1, 7, 50]) expect(previewPartitionsProblem(n)).toBeNull();
    expect(previewPartitionsProblem(0)).toBe('--partitions: 0 is not a whole number 1..50; write e.g. 7');
    expect(previewPartitionsProblem(51)).toContain('51 is not a whole number 1..50');
    expect(previewPartitionsProblem(2.5)).toContain('2.5 is not');
    expect(previewPartitionsProblem(Number.NaN)).toContain('NaN is not');
    expect(previewPartitionsProblem('seven')).toContain('"seven" is not');
  });
});

describe('previewTableFor', () => {
  it('names the scratch table beside the target after the backfill', () => {
    expect(previewTableFor('finance.daily_revenue', 'revenue-tax-fix-2026-06'))
      .toBe('finance.daily_revenue_preview_revenue_tax_fix_2026_06');
  });
});

describe('previewEstimate', () => {
  it('is the mean measured seconds per partition × partitions ÷ max_concurrency', () => {
    const e = previewEstimate(
      [{ rewriteSeconds: 0.03, checkSeconds: 0.01 }, { rewriteSeconds: 0.05, checkSeconds: 0.03 }],
      547,
      2,
    );
    expect(e.secondsPerPartition).toBeCloseTo(0.06, 12);
    expect(e.seconds).toBeCloseTo((0.06 * 547) / 2, 9);
    expect(e).toMatchObject({ partitions: 547, maxConcurrency: 2 });
  });
});
