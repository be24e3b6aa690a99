import { describe, expect, it } from 'vitest';
import {
  boundaryFormat,
  partitionAtOrdinal,
  partitionCount,
  partitionLabel,
  partitionOrdinal,
  rangeOrdinals,
  type Grain,
} from '../../domain/partitions';

describe('partitionOrdinal / partitionLabel at day grain', () => {
  it('counts days since the epoch', () => {
    expect(partitionOrdinal('1970-01-01', 'day')).toBe(0);
    expect(partitionOrdinal('1970-01-02', 'day')).toBe(1);
    expect(partitionOrdinal('2024-12-01', 'day')).toBe(20058);
    expect(partitionLabel(20058, 'day')).toBe('2024-12-01');
  });

  it('accepts leap days and rejects impossible dates', () => {
    expect(partitionOrdinal('2024-02-29', 'day')).not.toBeNull();
    for (const bad of [
      '2025-02-29', '2025-02-30', '2025-13-01', '2025-00-10', '2025-04-31', '2025-01-00', '2025-01-32',
    ]) {
      expect(partitionOrdinal(bad, 'day'), bad).toBeNull();
    }
  });

  it('rejects text that is not a plain date', () => {
    for (const bad of [
      '', '2025-1-01', '2025/01/01', '25-01-01', '2025-01-01T00:00', ' 2025-01-01', '2025-01', 'yesterday',
    ]) {
      expect(partitionOrdinal(bad, 'day'), JSON.stringify(bad)).toBeNull();
    }
  });

  it('rejects years outside 1900..2999', () => {
    expect(partitionOrdinal('1899-12-31', 'day')).toBeNull();
    expect(partitionOrdinal('3000-01-01', 'day')).toBeNull();
    expect(partitionOrdinal('1900-01-01', 'day')).not.toBeNull();
  });

  it('round-trips every day across a leap year and a year boundary', () => {
    const first = partitionOrdinal('2023-12-01', 'day')!;
    const last = partitionOrdinal('2025-03-01', 'day')!;
    for (let o = first; o <= last; o++) {
      const label = partitionLabel(o, 'day');
      expect(label).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(partitionOrdinal(label, 'day')).toBe(o);
    }
  });

  it('gives half-open partitions that cross month and year ends', () => {
    expect(partitionAtOrdinal(partitionOrdinal('2024-12-31', 'day')!, 'day'))
      .toEqual({ start: '2024-12-31', end: '2025-01-01' });
    expect(partitionAtOrdinal(partitionOrdinal('2024-02-28', 'day')!, 'day'))
      .toEqual({ start: '2024-02-28', end: '2024-02-29' });
    expect(partitionAtOrdinal(partitionOrdinal('2025-02-28', 'day')!, 'day'))
      .toEqual({ start: '2025-02-28', end: '2025-03-01' });
  });
});

describe('partitionOrdinal / partitionLabel at hour grain', () => {
  it('accepts the hour spellings and labels with full seconds', () => {
    const o = partitionOrdinal('2025-06-15T07:00', 'hour');
    expect(o).toBe(partitionOrdinal('2025-06-15 07', 'hour'));
    expect(o).toBe(partitionOrdinal('2025-06-15T07:00:00', 'hour'));
    expect(o).toBe(partitionOrdinal('2025-06-15', 'day')! * 24 + 7);
    expect(partitionLabel(o!, 'hour')).toBe('2025-06-15T07:00:00');
  });

  it('rejects hour 24, minutes other than 00 and bad dates', () => {
    for (const bad of [
      '2025-06-15T24:00', '2025-06-15T25', '2025-06-15T07:30', '2025-06-15T07:00:01', '2025-02-30T01:00', '2025-06-15',
    ]) {
      expect(partitionOrdinal(bad, 'hour'), bad).toBeNull();
    }
    expect(partitionOrdinal('2025-06-15T23:00', 'hour')).not.toBeNull();
    expect(partitionOrdinal('2025-06-15T00:00', 'hour')).not.toBeNull();
  });

  it('rolls 23:00 over into the next day, month and year', () => {
    const o = partitionOrdinal('2025-12-31T23:00', 'hour')!;
    expect(partitionAtOrdinal(o, 'hour')).toEqual({ start: '2025-12-31T23:00:00', end: '2026-01-01T00:00:00' });
  });

  it('round-trips two days of hours', () => {
    const first = partitionOrdinal('2024-02-28T00', 'hour')!;
    for (let o = first; o < first + 48; o++) expect(partitionOrdinal(partitionLabel(o, 'hour'), 'hour')).toBe(o);
    expect(partitionLabel(first + 47, 'hour')).toBe('2024-02-29T23:00:00');
  });
});

describe('partitionOrdinal / partitionLabel at month grain', () => {
  it('counts months since the epoch and accepts YYYY-MM and YYYY-MM-01', () => {
    expect(partitionOrdinal('1970-01', 'month')).toBe(0);
    expect(partitionOrdinal('2025-06', 'month')).toBe(55 * 12 + 5);
    expect(partitionOrdinal('2025-06-01', 'month')).toBe(partitionOrdinal('2025-06', 'month'));
    expect(partitionLabel(55 * 12 + 5, 'month')).toBe('2025-06-01');
  });

  it('rejects month 13, month 00 and days other than the first', () => {
    for (const bad of ['2025-13', '2025-00', '2025-06-15', '2025-06-02', '2025-6', '2025']) {
      expect(partitionOrdinal(bad, 'month'), bad).toBeNull();
    }
  });

  it('does month arithmetic across years', () => {
    expect(partitionAtOrdinal(partitionOrdinal('2024-12', 'month')!, 'month'))
      .toEqual({ start: '2024-12-01', end: '2025-01-01' });
    expect(partitionOrdinal('2026-01', 'month')! - partitionOrdinal('2024-11', 'month')!).toBe(14);
    expect(partitionLabel(partitionOrdinal('2024-11', 'month')! + 14, 'month')).toBe('2026-01-01');
  });

  it('labels months before the epoch', () => {
    expect(partitionLabel(-1, 'month')).toBe('1969-12-01');
    expect(partitionLabel(-12, 'month')).toBe('1969-01-01');
    expect(partitionOrdinal('1969-12', 'month')).toBe(-1);
  });

  it('round-trips 30 years of months', () => {
    const first = partitionOrdinal('2000-01', 'month')!;
    for (let o = first; o < first + 360; o++) expect(partitionOrdinal(partitionLabel(o, 'month'), 'month')).toBe(o);
  });
});

describe('rangeOrdinals / partitionCount', () => {
  it('counts the runbook range inclusively: 547 days', () => {
    const r = rangeOrdinals('2024-12-01', '2026-05-31', 'day');
    expect(r).not.toBeNull();
    expect(partitionCount(r!)).toBe(547);
  });

  it('counts hours and months inclusively', () => {
    expect(partitionCount(rangeOrdinals('2025-01-01T00:00', '2025-01-01T23:00', 'hour')!)).toBe(24);
    expect(partitionCount(rangeOrdinals('2024-12', '2026-05', 'month')!)).toBe(18);
    expect(partitionCount(rangeOrdinals('2025-03-09', '2025-03-09', 'day')!)).toBe(1);
  });

  it('is null when either end is invalid, and counts an inverted range as zero', () => {
    expect(rangeOrdinals('2025-02-30', '2025-03-01', 'day')).toBeNull();
    expect(rangeOrdinals('2025-03-01', '2025-13-01', 'day')).toBeNull();
    const inverted = rangeOrdinals('2025-03-02', '2025-03-01', 'day')!;
    expect(inverted.last).toBeLessThan(inverted.first);
    expect(partitionCount(inverted)).toBe(0);
  });
});

describe('boundaryFormat', () => {
  it('names a format each grain actually accepts', () => {
    const examples: Record<Grain, string> = { hour: '2025-06-15T07:00', day: '2025-06-15', month: '2025-06' };
    for (const grain of ['hour', 'day', 'month'] as const) {
      expect(boundaryFormat(grain)).toContain('YYYY-MM');
      expect(partitionOrdinal(examples[grain], grain)).not.toBeNull();
    }
    expect(boundaryFormat('hour')).toContain('HH');
    expect(boundaryFormat('day')).toBe('YYYY-MM-DD');
    expect(boundaryFormat('month')).toBe('YYYY-MM');
  });
});
