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
});
