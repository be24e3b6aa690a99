import { describe, expect, it } from 'vitest';
import { expectation, judgeMonitor, nextDue, type MonitorSpec } from '../../domain/monitors';

const monitor = (over: Partial<MonitorSpec> = {}): MonitorSpec => ({
  name: 'monthly-net-revenue', description: 'months moved more than 2%', sql: 'SELECT 0',
  tolerance: 0, interval: 3_600_000, on_breach: 'block', max: 0, ...over,
});
const AT = '2026-06-20T10:00:00.000Z';

describe('judgeMonitor', () => {
  it('passes within the threshold and breaches beyond it, naming the value and the expectation', () => {
    expect(judgeMonitor(monitor(), 0, AT))
      .toMatchObject({ ok: true, value: 0, message: 'monthly-net-revenue: 0, expected at most 0' });
    expect(judgeMonitor(monitor(), 3, AT)).toMatchObject({
      ok: false, onBreach: 'block',
      message: 'monthly-net-revenue (months moved more than 2%) breached: 3, expected at most 0',
    });
  });

  it('checks an expected value within its tolerance, and a min..max band', () => {
    const equals = monitor({ max: undefined, equals: 100, tolerance: 0.5 });
    expect(judgeMonitor(equals, 100.4, AT).ok).toBe(true);
    expect(judgeMonitor(equals, 100.6, AT).ok).toBe(false);
    const band = monitor({ min: 10, max: 20 });
    expect([9, 10, 20, 21].map((v) => judgeMonitor(band, v, AT).ok)).toEqual([false, true, true, false]);
    expect(expectation(band)).toBe('between 10 and 20');
    expect(expectation(equals)).toBe('100 ± 0.5');
  });

  it('breaches when the value cannot be read, saying why', () => {
    expect(judgeMonitor(monitor(), null, AT).message).toContain('could not be read: the query returned no row');
    expect(judgeMonitor(monitor(), null, AT, 'Catalog Error: table x').message)
      .toContain('could not be read: Catalog Error: table x; expected at most 0');
  });
});

describe('nextDue', () => {
  it('is each monitor\'s interval after the evaluation', () => {
    expect(nextDue([monitor(), monitor({ name: 'export', interval: 60_000 })], Date.parse(AT))).toEqual({
      'monthly-net-revenue': '2026-06-20T11:00:00.000Z', export: '2026-06-20T10:01:00.000Z',
    });
  });
});
