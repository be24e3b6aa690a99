import { describe, expect, it } from 'vitest';
import {
  durationMs,
  editDistance,
  formatBinarySize,
  formatDeltaRange,
  parseBytes,
  parseClock,
  parseDeltaRange,
  parseDuration,
  parseFraction,
  shown,
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

  it('never returns 0: a fraction of a millisecond that rounds to 0 is refused', () => {
    expect(parseDuration('0.4ms')).toBeNull();
    expect(parseDuration('0.0001s')).toBeNull();
    expect(parseDuration('0.6ms')).toBe(1);
  });

  it('never returns a number too large to count exactly, or Infinity', () => {
    // 99999999999w is 6.0e19 ms, beyond Number.MAX_SAFE_INTEGER (9.0e15).
    expect(parseDuration('99999999999w')).toBeNull();
    expect(parseDuration('14000w')).toBe(14_000 * 604_800_000);
    expect(parseDuration(`${'9'.repeat(400)}s`)).toBeNull();
    for (const text of ['1ms', '0.5ms', '1.5s', '7d', '99999999999w', '9999999999999999d', `${'9'.repeat(400)}w`]) {
      const ms = parseDuration(text);
      if (ms !== null) expect(Number.isSafeInteger(ms) && ms >= 1, `${text} → ${ms}`).toBe(true);
    }
  });
});

describe('durationMs', () => {
  it('keeps the value as written, so the schema can compare it with each bound before rounding', () => {
    expect(durationMs('0.4ms')).toBe(0.4);
    expect(durationMs('0s')).toBe(0);
    expect(durationMs('99999999999w')).toBe(99_999_999_999 * 604_800_000);
    expect(durationMs(`${'9'.repeat(400)}s`)).toBe(Number.POSITIVE_INFINITY);
    expect(durationMs('15m')).toBe(900_000);
  });

  it('returns null for malformed text', () => {
    for (const text of ['', '-1s', '5 minutes', 'NaNs', 'Infinitys', '1e3s']) expect(durationMs(text), text).toBeNull();
  });
});

describe('shown', () => {
  it('quotes strings and cuts long ones to an excerpt', () => {
    expect(shown('0.4ms')).toBe('"0.4ms"');
    const long = shown('x'.repeat(10_000));
    expect(long.length).toBeLessThan(120);
    expect(long).toContain('9920 more characters');
  });

  it('names NaN and Infinity instead of printing null', () => {
    expect(shown(Number.NaN)).toBe('NaN');
    expect(shown(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(shown(null)).toBe('null');
    expect(shown([1, 'a'])).toBe('[1,"a"]');
  });

  it('names a list or map that contains itself (a YAML alias can build one) instead of throwing', () => {
    const list: unknown[] = [];
    list.push(list);
    const map: Record<string, unknown> = {};
    map.self = map;
    expect(shown(list)).toBe('a list that contains itself');
    expect(shown(map)).toBe('a map that contains itself');
  });
});

describe('formatBinarySize', () => {
  it('writes binary units with at most one decimal', () => {
    expect(formatBinarySize(1024 * 1024)).toBe('1 MiB');
    expect(formatBinarySize(1.5 * 1024 * 1024)).toBe('1.5 MiB');
    expect(formatBinarySize(12 * 1024)).toBe('12 KiB');
    expect(formatBinarySize(80)).toBe('80 B');
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
    for (const [a, b] of [
      ['max_concurency', 'max_concurrency'],
      ['order', 'oredr'],
      ['grain', 'grian'],
      ['x', 'yyyy'],
    ] as const) {
      expect(editDistance(a, b)).toBe(editDistance(b, a));
    }
  });
});
