import { describe, expect, it } from 'vitest';
import {
  editDistance,
  formatDeltaRange,
  parseBytes,
  parseClock,
  parseDeltaRange,
  parseDuration,
  parseFraction,
} from '../../../domain/spec/values';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['90s', 90_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['1.5h', 5_400_000],
    [' 30 m ', 1_800_000],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '15', 'm', '0s', '0m', '-5m', '5 minutes', '5M', '1y', '1h30m', 'ten m'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe('parseBytes', () => {
  it.each([
    ['500 GB', 500e9],
    ['2TB', 2e12],
    ['2 tb', 2e12],
    ['1.5 TiB', 1.5 * 2 ** 40],
    ['1 KiB', 1024],
    ['10 MB', 10e6],
    ['1 PB', 1e15],
    ['1B', 1],
  ] as const)('%j → %d bytes', (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes);
  });

  it('accepts a positive finite number of bytes as is', () => {
    expect(parseBytes(1234)).toBe(1234);
    expect(parseBytes(0)).toBeNull();
    expect(parseBytes(-1)).toBeNull();
    expect(parseBytes(Number.POSITIVE_INFINITY)).toBeNull();
    expect(parseBytes(Number.NaN)).toBeNull();
  });

  it.each(['', 'GB', '0 GB', '-1 GB', '2 XB', '2 gigabytes', '1,000 GB'])('refuses %j', (text) => {
    expect(parseBytes(text)).toBeNull();
  });
});

describe('parseDeltaRange / formatDeltaRange', () => {
  it('reads "to" and ".." ranges, low first', () => {
    expect(parseDeltaRange('-1.5% to -0.8%')).toEqual({ min: -1.5, max: -0.8 });
    expect(parseDeltaRange('-1.5%..-0.8%')).toEqual({ min: -1.5, max: -0.8 });
    expect(parseDeltaRange(' -1.5 %  ..  -0.8 % ')).toEqual({ min: -1.5, max: -0.8 });
    expect(parseDeltaRange('-2% to +3%')).toEqual({ min: -2, max: 3 });
    expect(parseDeltaRange('1% to 1%')).toEqual({ min: 1, max: 1 });
  });

  it('reads a single percentage as an exact expectation', () => {
    expect(parseDeltaRange('0%')).toEqual({ min: 0, max: 0 });
    expect(parseDeltaRange('-0.5%')).toEqual({ min: -0.5, max: -0.5 });
    expect(parseDeltaRange('+2%')).toEqual({ min: 2, max: 2 });
  });

  it('refuses an inverted range', () => {
    expect(parseDeltaRange('-0.8% to -1.5%')).toBeNull();
    expect(parseDeltaRange('1%..0%')).toBeNull();
  });

  it.each(['', '0', '-1.5 to -0.8', '-1.5% - -0.8%', '-1.5% to', 'to -0.8%', 'about 1%', '1%%', '-1.5%...-0.8%'])(
    'refuses malformed %j',
    (text) => {
      expect(parseDeltaRange(text)).toBeNull();
    },
  );

  it('formats what it parses back to an equivalent text', () => {
    for (const text of ['-1.5% to -0.8%', '0%', '-2% to 3%']) {
      const r = parseDeltaRange(text)!;
      expect(parseDeltaRange(formatDeltaRange(r))).toEqual(r);
    }
    expect(formatDeltaRange({ min: -1.5, max: -0.8 })).toBe('-1.5% to -0.8%');
    expect(formatDeltaRange({ min: 0, max: 0 })).toBe('0%');
  });
});

describe('parseFraction', () => {
  it('takes numbers in 0..1 and percentages up to 100%', () => {
    expect(parseFraction(0)).toBe(0);
    expect(parseFraction(0.01)).toBe(0.01);
    expect(parseFraction(1)).toBe(1);
    expect(parseFraction('1%')).toBe(0.01);
    expect(parseFraction(' 0.5 % ')).toBe(0.005);
    expect(parseFraction('100%')).toBe(1);
  });

  it('refuses values outside 0..1 and malformed text', () => {
    for (const v of [-0.01, 1.01, 5, '101%', '-1%', '0.01', 'one percent', '']) {
      expect(parseFraction(v), JSON.stringify(v)).toBeNull();
    }
  });
});

describe('parseClock', () => {
  it('turns HH:MM into minutes after midnight', () => {
    expect(parseClock('00:00')).toBe(0);
    expect(parseClock('01:30')).toBe(90);
    expect(parseClock('23:59')).toBe(23 * 60 + 59);
    expect(parseClock(' 02:00 ')).toBe(120);
  });

  it.each(['24:00', '12:60', '1:30', '01:3', '0130', '01:30:00', '', 'noon'])('refuses %j', (text) => {
    expect(parseClock(text)).toBeNull();
  });
});

describe('editDistance', () => {
  it('is the Levenshtein distance', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('partitons_per_batch', 'partitions_per_batch')).toBe(1);
    expect(editDistance('flaw', 'lawn')).toBe(2);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('is symmetric', () => {
    for (const [a, b] of [['max_concurency', 'max_concurrency'], ['order', 'oredr'], ['grain', 'grian'], ['x', 'yyyy']] as const) {
      expect(editDistance(a, b)).toBe(editDistance(b, a));
    }
  });
});
