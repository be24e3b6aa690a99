import { describe, expect, it } from 'vitest';
import {
  activePauseWindow,
  budgetDecision,
  chargeBudget,
  estimateFinish,
  formatBytes,
  nextUtcMidnight,
  utcDay,
  type BudgetState,
} from '../../domain/throttle';

const at = (iso: string) => Date.parse(iso);
const HOUR = 3_600_000;
const GB = 1e9;
const TB = 1e12;

describe('activePauseWindow', () => {
  const nightly = { start: '01:00', end: '03:00' };

  it('returns the window containing now, with its end today', () => {
    expect(activePauseWindow(at('2026-11-21T02:15:30Z'), [nightly])).toEqual({
      window: nightly,
      endsAtMs: at('2026-11-21T03:00:00Z'),
    });
  });

  it('includes the start and excludes the end', () => {
    expect(activePauseWindow(at('2026-11-21T01:00:00Z'), [nightly])?.endsAtMs).toBe(at('2026-11-21T03:00:00Z'));
    expect(activePauseWindow(at('2026-11-21T02:59:59.999Z'), [nightly])).not.toBeNull();
    expect(activePauseWindow(at('2026-11-21T03:00:00Z'), [nightly])).toBeNull();
    expect(activePauseWindow(at('2026-11-21T00:59:59.999Z'), [nightly])).toBeNull();
  });

  it('returns null with no windows or outside all of them', () => {
    expect(activePauseWindow(at('2026-11-21T02:00:00Z'), [])).toBeNull();
    expect(activePauseWindow(at('2026-11-21T12:00:00Z'), [nightly, { start: '20:00', end: '21:00' }])).toBeNull();
  });

  describe('a window crossing midnight (23:00–01:00)', () => {
    const late = { start: '23:00', end: '01:00' };

    it('before midnight ends the next day', () => {
      expect(activePauseWindow(at('2026-11-21T23:30:00Z'), [late]))
        .toEqual({ window: late, endsAtMs: at('2026-11-22T01:00:00Z') });
    });

    it('after midnight ends the same day (the occurrence started yesterday)', () => {
      expect(activePauseWindow(at('2026-11-22T00:00:00Z'), [late])?.endsAtMs).toBe(at('2026-11-22T01:00:00Z'));
      expect(activePauseWindow(at('2026-11-22T00:59:00Z'), [late])?.endsAtMs).toBe(at('2026-11-22T01:00:00Z'));
    });

    it('is not active in the daytime gap', () => {
      expect(activePauseWindow(at('2026-11-22T01:00:00Z'), [late])).toBeNull();
      expect(activePauseWindow(at('2026-11-22T12:00:00Z'), [late])).toBeNull();
      expect(activePauseWindow(at('2026-11-22T22:59:59Z'), [late])).toBeNull();
    });

    it('ends at midnight when end is 00:00', () => {
      const toMidnight = { start: '22:00', end: '00:00' };
      expect(activePauseWindow(at('2026-11-21T23:59:00Z'), [toMidnight])?.endsAtMs).toBe(at('2026-11-22T00:00:00Z'));
      expect(activePauseWindow(at('2026-11-22T00:00:00Z'), [toMidnight])).toBeNull();
    });

    it('works across a month and year boundary', () => {
      expect(activePauseWindow(at('2026-12-31T23:10:00Z'), [late])?.endsAtMs).toBe(at('2027-01-01T01:00:00Z'));
    });
  });

  it('treats start == end as empty, not as a whole day', () => {
    const empty = { start: '05:00', end: '05:00' };
    expect(activePauseWindow(at('2026-11-21T05:00:00Z'), [empty])).toBeNull();
    expect(activePauseWindow(at('2026-11-21T17:00:00Z'), [empty])).toBeNull();
  });

  it('ignores windows that are not "HH:MM" (the spec parser reports them)', () => {
    expect(activePauseWindow(at('2026-11-21T02:00:00Z'), [{ start: '1am', end: '03:00' }])).toBeNull();
  });

  describe('chaining', () => {
    it('chains adjacent windows to the end of the whole stretch', () => {
      const a = { start: '01:00', end: '02:00' };
      const b = { start: '02:00', end: '03:30' };
      expect(activePauseWindow(at('2026-11-21T01:15:00Z'), [a, b]))
        .toEqual({ window: a, endsAtMs: at('2026-11-21T03:30:00Z') });
      // Listed in the other order, the same stretch.
      expect(activePauseWindow(at('2026-11-21T01:15:00Z'), [b, a])?.endsAtMs).toBe(at('2026-11-21T03:30:00Z'));
    });

    it('chains overlapping windows, including one that ends before the other', () => {
      const windows = [
        { start: '01:00', end: '02:30' },
        { start: '02:00', end: '03:00' },
        { start: '01:30', end: '01:45' },
      ];
      expect(activePauseWindow(at('2026-11-21T01:35:00Z'), windows)?.endsAtMs).toBe(at('2026-11-21T03:00:00Z'));
    });

    it('reports the window that contains now, not one chained later', () => {
      const a = { start: '01:00', end: '02:00' };
      const b = { start: '02:00', end: '03:00' };
      expect(activePauseWindow(at('2026-11-21T02:30:00Z'), [a, b]))
        .toEqual({ window: b, endsAtMs: at('2026-11-21T03:00:00Z') });
    });

    it('chains across midnight', () => {
      const windows = [
        { start: '22:00', end: '00:00' },
        { start: '00:00', end: '01:00' },
        { start: '00:45', end: '02:00' },
      ];
      expect(activePauseWindow(at('2026-11-21T22:30:00Z'), windows)?.endsAtMs).toBe(at('2026-11-22T02:00:00Z'));
      expect(activePauseWindow(at('2026-11-22T00:30:00Z'), windows)?.endsAtMs).toBe(at('2026-11-22T02:00:00Z'));
    });

    it('does not chain over a gap', () => {
      const windows = [
        { start: '01:00', end: '02:00' },
        { start: '02:01', end: '03:00' },
      ];
      expect(activePauseWindow(at('2026-11-21T01:30:00Z'), windows)?.endsAtMs).toBe(at('2026-11-21T02:00:00Z'));
    });

    it('stops one day after now when the windows cover the whole day', () => {
      const windows = [
        { start: '00:00', end: '12:00' },
        { start: '12:00', end: '00:00' },
      ];
      const now = at('2026-11-21T05:00:00Z');
      expect(activePauseWindow(now, windows)?.endsAtMs).toBe(now + 24 * HOUR);
    });
  });
});

describe('utcDay and nextUtcMidnight', () => {
  it('name the UTC day', () => {
    expect(utcDay(at('2026-11-21T00:00:00Z'))).toBe('2026-11-21');
    expect(utcDay(at('2026-11-21T23:59:59.999Z'))).toBe('2026-11-21');
    // 01:00 in UTC+02:00 is still the previous UTC day.
    expect(utcDay(at('2026-11-22T01:00:00+02:00'))).toBe('2026-11-21');
  });

  it('find the next UTC midnight, strictly after now', () => {
    expect(nextUtcMidnight(at('2026-11-21T13:45:00Z'))).toBe(at('2026-11-22T00:00:00Z'));
    expect(nextUtcMidnight(at('2026-11-21T00:00:00Z'))).toBe(at('2026-11-22T00:00:00Z'));
    expect(nextUtcMidnight(at('2026-12-31T23:59:59.999Z'))).toBe(at('2027-01-01T00:00:00Z'));
    expect(nextUtcMidnight(at('2028-02-28T12:00:00Z'))).toBe(at('2028-02-29T00:00:00Z'));
  });
});

describe('chargeBudget', () => {
  const day1 = at('2026-11-21T10:00:00Z');
  const day2 = at('2026-11-22T00:00:01Z');

  it('starts a fresh state on the day of now', () => {
    expect(chargeBudget({ day: null, spentToday: 0 }, day1, 150 * GB))
      .toEqual({ day: '2026-11-21', spentToday: 150 * GB });
  });

  it('adds to the same day', () => {
    expect(chargeBudget({ day: '2026-11-21', spentToday: 1 * TB }, day1, 150 * GB))
      .toEqual({ day: '2026-11-21', spentToday: 1.15 * TB });
  });

  it('resets when the day changed', () => {
    expect(chargeBudget({ day: '2026-11-21', spentToday: 1.9 * TB }, day2, 150 * GB))
      .toEqual({ day: '2026-11-22', spentToday: 150 * GB });
  });

  it('does not mutate the given state', () => {
    const state: BudgetState = { day: '2026-11-21', spentToday: 5 };
    const next = chargeBudget(state, day1, 7);
    expect(state).toEqual({ day: '2026-11-21', spentToday: 5 });
    expect(next).not.toBe(state);
    expect(next.spentToday).toBe(12);
  });

  it('counts negative or non-finite estimates as nothing', () => {
    expect(chargeBudget({ day: '2026-11-21', spentToday: 5 }, day1, -3).spentToday).toBe(5);
    expect(chargeBudget({ day: '2026-11-21', spentToday: 5 }, day1, Number.NaN).spentToday).toBe(5);
  });
});

describe('budgetDecision', () => {
  const now = at('2026-11-21T18:30:00Z');
  const today = '2026-11-21';

  it('runs without a budget', () => {
    const state = { day: today, spentToday: 50 * TB };
    expect(budgetDecision(undefined, state, now, 10 * TB)).toEqual({ run: true, oversize: false, left: null });
    expect(budgetDecision(null, state, now, 10 * TB)).toEqual({ run: true, oversize: false, left: null });
  });

  it('runs while the batch fits, reporting what is left before it', () => {
    expect(budgetDecision(2 * TB, { day: today, spentToday: 1 * TB }, now, 150 * GB))
      .toEqual({ run: true, oversize: false, left: 1 * TB });
  });

  it('runs a batch that uses the budget exactly', () => {
    expect(budgetDecision(2 * TB, { day: today, spentToday: 1.85 * TB }, now, 150 * GB))
      .toMatchObject({ run: true, oversize: false });
  });

  it('waits for the next UTC midnight when the batch would overspend, with a readable reason', () => {
    const d = budgetDecision(2 * TB, { day: today, spentToday: 1.9 * TB }, now, 150 * GB);
    expect(d).toEqual({
      run: false,
      resumeAtMs: at('2026-11-22T00:00:00Z'),
      left: 100 * GB,
      reason:
        'daily scan budget 2 TB spent (1.9 TB today, 100 GB left); next batch needs ~150 GB; ' +
        'resuming at 2026-11-22T00:00:00.000Z',
    });
  });

  it('reports nothing left, not a negative amount, when already overspent', () => {
    const d = budgetDecision(2 * TB, { day: today, spentToday: 2.5 * TB }, now, 1 * GB);
    expect(d).toMatchObject({ run: false, left: 0 });
  });

  it('forgets yesterday: a new UTC day starts from zero', () => {
    const yesterday = { day: '2026-11-20', spentToday: 2 * TB };
    expect(budgetDecision(2 * TB, yesterday, now, 150 * GB)).toEqual({ run: true, oversize: false, left: 2 * TB });
  });

  it('runs an oversize batch when nothing is spent today, and says so', () => {
    expect(budgetDecision(2 * TB, { day: today, spentToday: 0 }, now, 3 * TB))
      .toEqual({ run: true, oversize: true, left: 2 * TB });
    expect(budgetDecision(2 * TB, { day: null, spentToday: 0 }, now, 3 * TB))
      .toEqual({ run: true, oversize: true, left: 2 * TB });
    expect(budgetDecision(2 * TB, { day: '2026-11-20', spentToday: 1 * TB }, now, 3 * TB))
      .toMatchObject({ run: true, oversize: true });
  });

  it('holds an oversize batch until midnight once something is spent, then runs it', () => {
    const spent = chargeBudget({ day: null, spentToday: 0 }, now, 1 * GB);
    const wait = budgetDecision(2 * TB, spent, now, 3 * TB);
    expect(wait.run).toBe(false);
    if (wait.run) return;
    expect(budgetDecision(2 * TB, spent, wait.resumeAtMs, 3 * TB)).toEqual({ run: true, oversize: true, left: 2 * TB });
  });
});

describe('estimateFinish', () => {
  const now = at('2026-11-21T12:00:00Z');

  it('is null until something is done', () => {
    expect(estimateFinish(now, 0, 0, 100)).toBeNull();
    expect(estimateFinish(now, 5_000, 0, 100)).toBeNull();
  });

  it('extrapolates the pace per partition', () => {
    // 10 partitions in 20 minutes → 2 min each; 30 left → 60 minutes.
    expect(estimateFinish(now, 20 * 60_000, 10, 30)).toBe(now + HOUR);
  });

  it('is now when nothing is left', () => {
    expect(estimateFinish(now, 20 * 60_000, 10, 0)).toBe(now);
  });

  it('is a whole millisecond', () => {
    expect(Number.isInteger(estimateFinish(now, 1_000, 3, 1))).toBe(true);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [999, '999 B'],
    [1_000, '1 KB'],
    [12e6, '12 MB'],
    [12.4e6, '12 MB'],
    [150 * GB, '150 GB'],
    [500 * GB, '500 GB'],
    [1.2 * TB, '1.2 TB'],
    [1.25 * TB, '1.3 TB'],
    [2 * TB, '2 TB'],
    [9.96 * GB, '10 GB'],
    [999.6 * GB, '1 TB'],
    [2.5e15, '2.5 PB'],
    [3e18, '3000 PB'],
    [-1.5 * GB, '-1.5 GB'],
  ])('%d → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
