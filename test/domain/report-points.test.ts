import { describe, expect, it } from 'vitest';
import { bucketPoints } from '../../domain/report-points';
import type { ReportPoint } from '../../contracts/report';

const point = (i: number): ReportPoint => ({
  partition: `p${i}`,
  old: 10,
  new: 9,
  delta: -1,
  deltaPct: -10,
  oldRows: 2,
  newRows: 2,
});

describe('bucketPoints (report data carried through Temporal)', () => {
  it('keeps a short series as it is', () => {
    const pts = Array.from({ length: 5 }, (_, i) => point(i));
    expect(bucketPoints(pts, 10)).toBe(pts);
  });

  it('sums consecutive points into at most max buckets, labelled by the first, totals unchanged', () => {
    const pts = Array.from({ length: 3652 }, (_, i) => point(i));
    const out = bucketPoints(pts, 1000);
    expect(out.length).toBeLessThanOrEqual(1000);
    expect(out[0]).toMatchObject({ partition: 'p0', old: 40, new: 36, delta: -4, deltaPct: -10, oldRows: 8 });
    expect(out.reduce((a, p) => a + p.old, 0)).toBe(36520);
    expect(out.reduce((a, p) => a + p.newRows, 0)).toBe(7304);
  });

  it('counts the partitions each bucket sums, so a chart can name the bucket size; buckets of buckets add up', () => {
    // 2,208 hours (three months) in buckets of 3: what a report made during a run receives.
    const hours = bucketPoints(Array.from({ length: 2208 }, (_, i) => point(i)), 1000);
    expect(hours).toHaveLength(736);
    expect(hours.every((p) => p.partitions === 3)).toBe(true);
    const again = bucketPoints(hours, 400);
    expect(again[0]!.partitions).toBe(6);
    expect(again.reduce((a, p) => a + p.partitions!, 0)).toBe(2208);
    // A last, shorter bucket says so.
    const uneven = bucketPoints(Array.from({ length: 7 }, (_, i) => point(i)), 3);
    expect(uneven.map((p) => p.partitions)).toEqual([3, 3, 1]);
  });
});
