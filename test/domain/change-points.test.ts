/**
 * Change-points in a measure's per-partition delta%: the FX case (a bug that starts on Mar 1) at day
 * and hour grain, and the series that must stay quiet — noise, month edges, trends, short or empty.
 * Noise comes from a seeded generator, so every run sees the same series.
 */
import { describe, expect, it } from 'vitest';
import { changePoints, MAX_CHANGE_POINTS, type ChangePoint } from '../../domain/change-points';
import { partitionLabel, partitionOrdinal, type Grain } from '../../domain/partitions';

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform noise in [-half, +half]. */
const noise = (rnd: () => number, half: number) => (rnd() * 2 - 1) * half;

/** Standard normal noise (Box–Muller). */
const gauss = (rnd: () => number) => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());

/** `n` partition labels from `start` at `grain`, as the planner writes them. */
function labels(start: string, n: number, grain: Grain): string[] {
  const first = partitionOrdinal(start, grain)!;
  return Array.from({ length: n }, (_, i) => partitionLabel(first + i, grain));
}

type Series = Array<{ partition: string; deltaPct: number | null }>;

const series = (ls: string[], f: (label: string, i: number) => number | null): Series =>
  ls.map((partition, i) => ({ partition, deltaPct: f(partition, i) }));

const where = (points: ChangePoint[]) => points.map((p) => `${p.kind}@${p.partition}`);

/** The FX case by day: 0.00% through February, about +1.48% from the day the bug starts. */
function fxDays(seed: number, noiseBefore = 0): Series {
  const rnd = random(seed);
  return series(labels('2026-01-01', 90, 'day'), (p) =>
    p < '2026-03-01' ? noise(rnd, noiseBefore) : 1.48 + noise(rnd, 0.3),
  );
}

/**
 * The FX case by hour, where every hour holds one currency: the last hour of each day holds one that
 * moves +12.74%, the first one that moves -3%, so each month edge crosses from +12.74% to -3.00% (what
 * the month-boundary check flagged). From Mar 1 every hour moves a further +1.48%, with noise.
 */
function fxHours(seed: number): Series {
  const rnd = random(seed);
  const currency = (hour: number) => (hour === 23 ? 12.74 : hour === 0 ? -3 : hour % 5 === 0 ? -0.5 : 0.2);
  return series(labels('2026-01-01T00:00', 90 * 24, 'hour'), (p) => {
    const hour = Number(p.slice(11, 13));
    return currency(hour) + (p < '2026-03-01' ? 0 : 1.48 + noise(rnd, 0.3));
  });
}

describe('changePoints: the day a bug starts', () => {
  it('flags the first day of the FX bug at day grain, and no month edge', () => {
    const found = changePoints(fxDays(1), { grain: 'day', measure: 'amount_usd', expected: { min: 3, max: 6 } });
    expect(where(found)).toEqual(['jump@2026-03-01']);
    const [jump] = found;
    expect(jump!.measure).toBe('amount_usd');
    expect(jump!.before).toBe(0);
    expect(jump!.after).toBeCloseTo(1.48, 0);
    expect(jump!.magnitude).toBeCloseTo(jump!.after - jump!.before, 9);
    expect(jump!.message).toBe(
      `amount_usd delta% jumps from +0.00% to +${jump!.after.toFixed(2)}% at 2026-03-01 ` +
        '(median of 7 days before vs after; expected +3% to +6%): ' +
        'a discontinuity the change may not explain — confirm its cause before approving',
    );
  });

  it('finds the same day on every seed when the old result is noisy too', () => {
    for (let seed = 1; seed <= 25; seed++) {
      expect(where(changePoints(fxDays(seed, 0.3), { grain: 'day', measure: 'amount_usd' })), `seed ${seed}`).toEqual([
        'jump@2026-03-01',
      ]);
    }
  });

  it('flags the first hour of the FX bug at hour grain, and none of the month edges the old check flagged', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const found = changePoints(fxHours(seed), { grain: 'hour', measure: 'amount_usd' });
      expect(found, `seed ${seed}`).toHaveLength(1);
      const [jump] = found;
      expect(jump!.kind).toBe('jump');
      // The daily pattern of currencies does not pull the split towards the hours where it peaks.
      expect(jump!.partition).toBe('2026-03-01T00:00:00');
      expect(jump!.after - jump!.before).toBeCloseTo(1.48, 0);
      expect(jump!.message).toContain('(median of 24 hours before vs after)');
    }
    // The series does cross every month edge from +12.74% to -3.00%: the edges are there to be flagged.
    const fx = fxHours(1);
    const at = (p: string) => fx.find((x) => x.partition === p)!.deltaPct;
    expect([at('2026-01-31T23:00:00'), at('2026-02-01T00:00:00')]).toEqual([12.74, -3]);
  });

  it('reports a drop with its signs, and finds it after partitions without a percentage', () => {
    const rnd = random(7);
    const found = changePoints(
      series(labels('2025-01-01', 60, 'day'), (p, i) =>
        i % 9 === 4 ? null : p < '2025-02-10' ? -1.2 : -5 + noise(rnd, 0.2),
      ),
      { grain: 'day', measure: 'net_revenue' },
    );
    // 2025-02-10 has no percentage (every 9th day from the 5th): the new level starts on the 11th.
    expect(where(found)).toEqual(['jump@2025-02-11']);
    expect(found[0]!.message).toMatch(/^net_revenue delta% drops from -1\.20% to -\d\.\d\d% at 2025-02-11 /);
    expect(found[0]!.magnitude).toBeGreaterThan(3);
  });

  it('starts an hourly jump at the first hour that has a percentage when nights are empty', () => {
    const rnd = random(3);
    const found = changePoints(
      series(labels('2026-02-01T00:00', 40 * 24, 'hour'), (p) => {
        const hour = Number(p.slice(11, 13));
        return hour < 6 ? null : (p < '2026-03-01' ? 0 : 2) + noise(rnd, 0.3);
      }),
      { grain: 'hour', measure: 'amount_usd' },
    );
    expect(where(found)).toEqual(['jump@2026-03-01T06:00:00']);
  });

  it('flags a jump on top of a trend, and only the jump', () => {
    const found = changePoints(
      series(labels('2026-01-01', 90, 'day'), (_, i) => 0.05 * i + (i >= 40 ? 3 : 0)),
      { grain: 'day', measure: 'm' },
    );
    expect(where(found)).toEqual(['jump@2026-02-10']);
  });
});

describe('changePoints: outlier partitions', () => {
  it('flags a single partition far from its neighbours as an outlier, not as two jumps', () => {
    const rnd = random(5);
    const found = changePoints(
      series(labels('2026-01-01', 90, 'day'), (p) => -1.1 + noise(rnd, 0.1) + (p === '2026-02-10' ? -30 : 0)),
      { grain: 'day', measure: 'net_revenue' },
    );
    expect(where(found)).toEqual(['outlier@2026-02-10']);
    expect(found[0]!.before).toBeCloseTo(-1.1, 0);
    expect(found[0]!.after).toBeCloseTo(-31.1, 0);
    expect(found[0]!.message).toBe(
      `net_revenue delta% is -${(-found[0]!.after).toFixed(2)}% at 2026-02-10 ` +
        `against -${(-found[0]!.before).toFixed(2)}% around it (median of the 3 days either side): ` +
        'a trough that can mean a partial rewrite — check this partition before approving',
    );
  });

  it('judges an hour against the same hour of the days around it', () => {
    const rnd = random(6);
    // Every 13:00 holds a currency that moves +5%: an ordinary hour, not a spike. One 13:00 moves +25%.
    const found = changePoints(
      series(labels('2026-01-01T00:00', 30 * 24, 'hour'), (p) =>
        (p.slice(11, 13) === '13' ? 5 : 0) + noise(rnd, 0.3) + (p === '2026-01-15T13:00:00' ? 20 : 0),
      ),
      { grain: 'hour', measure: 'amount_usd' },
    );
    expect(where(found)).toEqual(['outlier@2026-01-15T13:00:00']);
    expect(found[0]!.message).toContain('(median of the same hour on the 3 days either side): a spike');
  });

  it(`keeps at most ${MAX_CHANGE_POINTS}, the largest, in partition order`, () => {
    const rnd = random(8);
    // Fifteen spikes, one every 50 days, each larger than the last.
    const found = changePoints(
      series(labels('2024-01-01', 750, 'day'), (_, i) => noise(rnd, 0.1) + (i % 50 === 25 ? 5 + i / 50 : 0)),
      { grain: 'day', measure: 'm' },
    );
    expect(found).toHaveLength(MAX_CHANGE_POINTS);
    expect(found.every((p) => p.kind === 'outlier')).toBe(true);
    const order = found.map((p) => p.partition);
    expect(order).toEqual([...order].sort());
    // The largest are the last ten: from day 275 on.
    expect(order[0]).toBe(labels('2024-01-01', 276, 'day')[275]);
  });

  it('takes spikes on more than one partition in twenty for the measure\'s spread, not outliers', () => {
    const rnd = random(9);
    // Hours that each hold one of several currencies at random: one in eight moves +12.74%.
    const found = changePoints(
      series(labels('2026-03-01T00:00', 30 * 24, 'hour'), () => (rnd() < 0.125 ? 12.74 : 0) + noise(rnd, 0.3)),
      { grain: 'hour', measure: 'amount_usd' },
    );
    expect(found).toEqual([]);
  });

  it('judges what is ordinary where the partition is: an exact old result, then currencies at random', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const rnd = random(seed);
      // Three months unchanged, then one hour in four moves +12.74%: rare over the range, ordinary in February.
      const found = changePoints(
        series(labels('2025-11-01T00:00', 120 * 24, 'hour'), (p) =>
          p < '2026-02-01' ? 0 : (rnd() < 0.25 ? 12.74 : 0) + noise(rnd, 0.3),
        ),
        { grain: 'hour', measure: 'amount_usd' },
      );
      expect(where(found), `seed ${seed}`).toEqual([]);
    }
  });
});

describe('changePoints: series that must stay quiet', () => {
  it('flags nothing in noise around a constant, at day, hour and month grain', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rnd = random(seed);
      expect(
        changePoints(series(labels('2025-01-01', 365, 'day'), () => -1.1 + 0.3 * gauss(rnd)), {
          grain: 'day',
          measure: 'm',
        }),
        `day, seed ${seed}`,
      ).toEqual([]);
      // Adjacent hours differ by up to 2 points: noise at hourly grain, not a shift.
      expect(
        changePoints(series(labels('2026-01-01T00:00', 92 * 24, 'hour'), () => 4.2 + noise(rnd, 1)), {
          grain: 'hour',
          measure: 'm',
        }),
        `hour, seed ${seed}`,
      ).toEqual([]);
      expect(
        changePoints(series(labels('2022-01', 48, 'month'), () => 2 + 0.3 * gauss(rnd)), {
          grain: 'month',
          measure: 'm',
        }),
        `month, seed ${seed}`,
      ).toEqual([]);
    }
  });

  it('flags no month edge of an hourly series whose hours differ by currency', () => {
    // The old check's case: +12.74% on every last hour, -3.00% on every first; nothing changes.
    const found = changePoints(
      series(labels('2026-01-01T00:00', 90 * 24, 'hour'), (p) => {
        const hour = Number(p.slice(11, 13));
        return hour === 23 ? 12.74 : hour === 0 ? -3 : 0;
      }),
      { grain: 'hour', measure: 'amount_usd' },
    );
    expect(found).toEqual([]);
  });

  it('flags no jump in a linear trend, gentle or steep, with or without noise', () => {
    const rnd = random(4);
    const days = labels('2026-01-01', 90, 'day');
    expect(changePoints(series(days, (_, i) => (3 * i) / 89), { grain: 'day', measure: 'm' })).toEqual([]);
    const day = { grain: 'day', measure: 'm' } as const;
    expect(changePoints(series(days, (_, i) => (3 * i) / 89 + noise(rnd, 0.2)), day)).toEqual([]);
    // 10 points over the range: 0.8 points a week, above the day floor, yet no discontinuity.
    expect(changePoints(series(days, (_, i) => (10 * i) / 89 + 0.2 * gauss(rnd)), day)).toEqual([]);
  });

  it('says nothing of an all-null series or one too short to have a shape', () => {
    const day = { grain: 'day', measure: 'm' } as const;
    expect(changePoints(series(labels('2025-01-01', 60, 'day'), () => null), day)).toEqual([]);
    expect(changePoints([], { grain: 'day', measure: 'm' })).toEqual([]);
    const four = series(labels('2025-01-01', 4, 'day'), (_, i) => (i < 2 ? 0 : 50));
    expect(changePoints(four, { grain: 'day', measure: 'm' })).toEqual([]);
    // Nulls do not count towards the five: still too short.
    const sparse = series(labels('2025-01-01', 12, 'day'), (_, i) => (i % 3 === 0 ? (i < 6 ? 0 : 50) : null));
    expect(changePoints(sparse, { grain: 'day', measure: 'm' })).toEqual([]);
  });

  it('flags a clear step in a short series once each side holds a few partitions', () => {
    const six = series(labels('2025-01-01', 6, 'day'), (_, i) => (i < 3 ? 0 : 5));
    expect(where(changePoints(six, { grain: 'day', measure: 'm' }))).toEqual(['jump@2025-01-04']);
    // An hourly step needs a whole day either side: 30 hours are not enough.
    const hours = series(labels('2025-01-01T00:00', 30, 'hour'), (_, i) => (i < 15 ? 0 : 5));
    expect(changePoints(hours, { grain: 'hour', measure: 'm' })).toEqual([]);
  });

  it('is deterministic and leaves its input alone', () => {
    const input = fxDays(2, 0.3);
    const copy = structuredClone(input);
    const a = changePoints(input, { grain: 'day', measure: 'amount_usd' });
    expect(changePoints(input, { grain: 'day', measure: 'amount_usd' })).toEqual(a);
    expect(input).toEqual(copy);
  });
});
