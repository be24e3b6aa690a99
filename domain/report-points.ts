/** The report's per-partition series, bounded for the trip through Temporal. */
import type { ReportPoint } from '../contracts/report';

/** Points per measure a report carries through Temporal (the HTML draws at most 800). */
export const REPORT_POINTS = 1000;

/**
 * Consecutive points summed into at most `max` buckets, each labelled by its first partition and
 * counting the partitions it sums, so a chart can say "per 3 hours" rather than "per hour".
 */
export function bucketPoints(points: ReportPoint[], max: number): ReportPoint[] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: ReportPoint[] = [];
  for (let i = 0; i < points.length; i += size) {
    const group = points.slice(i, i + size);
    const old = group.reduce((a, p) => a + p.old, 0);
    const now = group.reduce((a, p) => a + p.new, 0);
    out.push({
      ...group[0]!,
      old,
      new: now,
      delta: now - old,
      deltaPct: old === 0 ? null : (100 * (now - old)) / Math.abs(old),
      oldRows: group.reduce((a, p) => a + p.oldRows, 0),
      newRows: group.reduce((a, p) => a + p.newRows, 0),
      partitions: group.reduce((a, p) => a + (p.partitions ?? 1), 0),
    });
  }
  return out;
}
