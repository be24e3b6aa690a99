/**
 * Batch reconciliation over the runbook's spec: structural, aggregate (batch band, running total,
 * partition band, the whole range), custom and row-level checks, with the figures and places each
 * message must name.
 */
import { describe, expect, it } from 'vitest';
import {
  addBatch,
  batchName,
  emptyCumulative,
  isAcceptable,
  judgeDelta,
  judgeRange,
  partitionDeltaSeries,
  reconcileBatch,
  summarizeVerdict,
  type BatchEvidence,
  type BatchVerdict,
  type ChangedRow,
  type Check,
  type CumulativeTotals,
  type PartitionComparison,
  type ReconcileSpec,
} from '../../domain/reconcile';
import { partitionLabel, partitionOrdinal, type Grain } from '../../domain/partitions';
import { parseSpec } from '../../domain/spec/parse';
import { edited, type Raw } from '../support/spec-fixtures';

const REQUIRED = ['revenue_date', 'merchant_id', 'gross_revenue', 'net_revenue'];

/** The seed spec (net_revenue -1.5% to -0.8%) plus gross_revenue at 0%, parsed as a run would. */
function specWith(edit?: (s: Raw) => void): ReconcileSpec {
  const r = parseSpec(
    edited((s) => {
      s.validation.measures = { gross_revenue: { expected_delta: '0%' } };
      s.validation.not_null = REQUIRED;
      s.validation.sample_rows = 5;
      edit?.(s);
    }),
  );
  if (!r.ok) throw new Error(`test spec is invalid: ${JSON.stringify(r.issues)}`);
  return r.spec;
}

const SPEC = specWith();
/** net_revenue with abs_tolerance 0: the expected range alone decides. */
const STRICT_NET = specWith(
  (s) =>
    (s.validation.measures = {
      gross_revenue: { expected_delta: '0%' },
      net_revenue: { expected_delta: '-1.5% to -0.8%', abs_tolerance: 0 },
    }),
);

function labels(first: string, n: number, grain: Grain = 'day'): string[] {
  const o = partitionOrdinal(first, grain)!;
  return Array.from({ length: n }, (_, i) => partitionLabel(o + i, grain));
}

/** 100 rows, net_revenue 1000 → 988 (-1.2%), gross_revenue 1200 with float noise of 1e-7. */
function comparison(partition: string, over: Partial<PartitionComparison> = {}): PartitionComparison {
  return {
    partition,
    oldRows: 100,
    newRows: 100,
    newDistinctKeys: 100,
    nullViolations: Object.fromEntries(REQUIRED.map((c) => [c, 0])),
    oldSums: { net_revenue: '1000.00', gross_revenue: '1200.00' },
    newSums: { net_revenue: '988.00', gross_revenue: '1200.0000001' },
    ...over,
  };
}

/** Net revenue old → new for one partition, gross unchanged. */
const net = (oldSum: string, newSum: string): Partial<PartitionComparison> => ({
  oldSums: { net_revenue: oldSum, gross_revenue: '1200.00' },
  newSums: { net_revenue: newSum, gross_revenue: '1200.00' },
});

function evidence(
  batchIndex: number,
  planned: string[],
  edit: (p: string, i: number) => Partial<PartitionComparison> = () => ({}),
  topChangedRows: ChangedRow[] = [],
): BatchEvidence {
  return {
    batchIndex,
    plannedPartitions: planned,
    partitions: planned.map((p, i) => comparison(p, edit(p, i))),
    topChangedRows,
  };
}

function check(v: BatchVerdict, name: string, measure?: string): Check {
  const found = v.checks.filter((c) => c.name === name && (measure === undefined || c.measure === measure));
  expect(found, `exactly one ${name} check${measure ? ` for ${measure}` : ''}`).toHaveLength(1);
  return found[0]!;
}

const failedNames = (v: BatchVerdict) => v.checks.filter((c) => !c.passed && c.severity === 'fail').map((c) => c.name);

const WEEK = labels('2025-06-09', 7);

describe('the spec reconciliation reads', () => {
  it('holds expected deltas in percent and the row tolerance as a fraction', () => {
    expect(SPEC.measures).toEqual([
      { column: 'net_revenue', expected_delta: { min: -1.5, max: -0.8 }, abs_tolerance: 0.005 },
      { column: 'gross_revenue', expected_delta: { min: 0, max: 0 }, abs_tolerance: 0.005 },
    ]);
    expect(SPEC.validation.row_count_tolerance).toBe(0);
    expect(specWith((s) => (s.validation.row_count_tolerance = '1%')).validation.row_count_tolerance).toBe(0.01);
  });
});

describe('a batch that reconciles', () => {
  const v = reconcileBatch(SPEC, evidence(3, WEEK), emptyCumulative());

  it('passes every check, with gross_revenue float noise inside abs_tolerance', () => {
    expect(v.passed).toBe(true);
    expect(v.checks.filter((c) => !c.passed)).toEqual([]);
    expect(v.checks.map((c) => `${c.kind}/${c.name}${c.measure ? `:${c.measure}` : ''}`)).toEqual([
      'structural/partitions-present',
      'structural/row-count',
      'structural/unique-key',
      'structural/not-null',
      'aggregate/measure-delta:net_revenue',
      'aggregate/measure-delta-cumulative:net_revenue',
      'aggregate/measure-delta:gross_revenue',
      'aggregate/measure-delta-cumulative:gross_revenue',
      'row-level/top-changed',
    ]);
    expect(check(v, 'measure-delta', 'gross_revenue').message)
      .toMatch(/gross_revenue unchanged in batch 4 .*within abs_tolerance 0\.005/);
  });

  it('reports each measure with batch and cumulative deltas in percent', () => {
    expect(v.measures).toHaveLength(2);
    const [netM, grossM] = v.measures;
    expect(netM)
      .toMatchObject({ column: 'net_revenue', oldSum: 7000, newSum: 6916, expected: { min: -1.5, max: -0.8 } });
    expect(netM!.deltaPct).toBeCloseTo(-1.2, 10);
    expect(netM!.cumulativeDeltaPct).toBeCloseTo(-1.2, 10);
    expect(grossM!.column).toBe('gross_revenue');
    expect(grossM!.deltaPct).toBeGreaterThan(0);
    expect(grossM!.deltaPct).toBeLessThan(1e-6);
    expect(v.rows).toEqual({ old: 700, new: 700 });
  });

  it('summarizes in one line', () => {
    expect(summarizeVerdict(v))
      .toBe('batch 4 passed: net_revenue -1.20% (cum -1.20%), gross_revenue 0.00% (cum 0.00%), rows 700=700');
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(v))).toEqual(v);
  });
});

describe('structural: partitions present', () => {
  it('fails when a planned partition has production rows but none in the shadow, naming it with its counts', () => {
    const v = reconcileBatch(
      SPEC,
      evidence(4, WEEK, (p) =>
        p === '2025-06-11'
          ? { newRows: 0, newDistinctKeys: 0, newSums: { net_revenue: null, gross_revenue: null } }
          : {},
      ),
      emptyCumulative(),
    );
    const c = check(v, 'partitions-present');
    expect(v.passed).toBe(false);
    expect(c).toMatchObject({ kind: 'structural', passed: false, severity: 'fail', partition: '2025-06-11' });
    expect(c.message)
      .toContain('1 of 7 planned partitions are missing from the shadow: 2025-06-11 (production 100 rows, shadow 0)');
    expect(c.message).toMatch(/rerun/);
    expect(summarizeVerdict(v)).toMatch(/^batch 5 FAILED: 1 of 7 planned partitions are missing/);
  });

  it('fails when a planned partition was not compared at all', () => {
    const e = evidence(4, WEEK);
    e.partitions = e.partitions.filter((c) => c.partition !== '2025-06-15');
    const c = check(reconcileBatch(SPEC, e, emptyCumulative()), 'partitions-present');
    expect(c.passed).toBe(false);
    expect(c.message).toContain('2025-06-15 (no comparison was made)');
  });

  it('accepts a partition that is empty in production and in the shadow', () => {
    const empty = {
      oldRows: 0,
      newRows: 0,
      newDistinctKeys: 0,
      oldSums: { net_revenue: null, gross_revenue: null },
      newSums: { net_revenue: null, gross_revenue: null },
    };
    const v = reconcileBatch(SPEC, evidence(4, WEEK, (p) => (p === '2025-06-12' ? empty : {})), emptyCumulative());
    expect(v.passed).toBe(true);
    expect(check(v, 'partitions-present').message).toContain('(1 empty in production and shadow)');
  });

  it('fails on evidence for a partition outside the plan, or a batch with no planned partitions', () => {
    const e = evidence(4, WEEK);
    e.partitions.push(comparison('2025-06-16'));
    const c = check(reconcileBatch(SPEC, e, emptyCumulative()), 'partitions-present');
    expect(c.passed).toBe(false);
    expect(c.message).toContain("outside batch 5's plan: 2025-06-16");

    const none = reconcileBatch(SPEC, evidence(5, []), emptyCumulative());
    expect(none.passed).toBe(false);
    expect(check(none, 'partitions-present').message).toContain('batch 6 has no planned partitions');
  });
});

describe('structural: row count', () => {
  const offByOne = (p: string) => (p === '2025-06-13' ? { oldRows: 1000, newRows: 999, newDistinctKeys: 999 } : {});

  it('is exact at tolerance 0: one row fewer fails, naming the partition and both counts', () => {
    const v = reconcileBatch(SPEC, evidence(6, WEEK, offByOne), emptyCumulative());
    const c = check(v, 'row-count');
    expect(v.passed).toBe(false);
    expect(failedNames(v)).toEqual(['row-count']);
    expect(c).toMatchObject({ passed: false, severity: 'fail', partition: '2025-06-13' });
    expect(c.message).toContain('row_count_tolerance 0 (exact)');
    expect(c.message).toContain('2025-06-13: production 1000, shadow 999 (-1, allowed ±0)');
  });

  it('allows tolerance × production rows: 1% of 1000 is 10', () => {
    const spec = specWith((s) => (s.validation.row_count_tolerance = 0.01));
    const rows = (newRows: number) => (p: string) =>
      p === '2025-06-13' ? { oldRows: 1000, newRows, newDistinctKeys: newRows } : {};
    expect(reconcileBatch(spec, evidence(6, WEEK, offByOne), emptyCumulative()).passed).toBe(true);
    expect(reconcileBatch(spec, evidence(6, WEEK, rows(1010)), emptyCumulative()).passed).toBe(true);
    const over = reconcileBatch(spec, evidence(6, WEEK, rows(1011)), emptyCumulative());
    expect(over.passed).toBe(false);
    expect(check(over, 'row-count').message).toContain('production 1000, shadow 1011 (+11, allowed ±10)');
  });

  it('does not lose a row to float error in the tolerance (0.29 × 100 is 28.999…)', () => {
    const spec = specWith((s) => (s.validation.row_count_tolerance = 0.29));
    const v = reconcileBatch(
      spec,
      evidence(6, WEEK, (p) => (p === '2025-06-13' ? { newRows: 71, newDistinctKeys: 71 } : {})),
      emptyCumulative(),
    );
    expect(check(v, 'row-count').passed).toBe(true);
  });
});

describe('structural: unique key and required fields', () => {
  it('fails on duplicate keys, naming the partition and the duplicate count', () => {
    const v = reconcileBatch(
      SPEC,
      evidence(7, WEEK, (p) => (p === '2025-06-14' ? { newDistinctKeys: 98 } : {})),
      emptyCumulative(),
    );
    const c = check(v, 'unique-key');
    expect(v.passed).toBe(false);
    expect(c).toMatchObject({ passed: false, partition: '2025-06-14' });
    expect(c.message).toContain('2025-06-14: 100 rows but 98 distinct keys (2 duplicate rows)');
  });

  it('fails on NULLs in a required column, naming partition, column and count', () => {
    const nulls = { ...Object.fromEntries(REQUIRED.map((c) => [c, 0])), net_revenue: 3 };
    const v = reconcileBatch(
      SPEC,
      evidence(7, WEEK, (p) => (p === '2025-06-10' ? { nullViolations: nulls } : {})),
      emptyCumulative(),
    );
    const c = check(v, 'not-null');
    expect(v.passed).toBe(false);
    expect(failedNames(v)).toEqual(['not-null']);
    expect(c).toMatchObject({ passed: false, partition: '2025-06-10' });
    expect(c.message).toContain('2025-06-10: net_revenue has 3 NULLs');
  });

  it('fails when a required column was not counted, rather than passing unchecked', () => {
    const v = reconcileBatch(
      SPEC,
      evidence(7, WEEK, (p) => (p === '2025-06-10' ? { nullViolations: { revenue_date: 0 } } : {})),
      emptyCumulative(),
    );
    const c = check(v, 'not-null');
    expect(c.passed).toBe(false);
    expect(c.message).toContain('2025-06-10: no NULL count for required column merchant_id');
  });
});

describe('aggregate: measure delta, batch and cumulative', () => {
  /** 70 partitions before this batch, net_revenue at `pct`% overall. */
  const before = (pct: number): CumulativeTotals => ({
    ...emptyCumulative(),
    oldSums: { net_revenue: 70_000, gross_revenue: 84_000 },
    newSums: { net_revenue: 70_000 * (1 + pct / 100), gross_revenue: 84_000 },
    oldRows: 7000,
    newRows: 7000,
    partitions: 70,
  });

  it('fails a batch outside its range even when the cumulative delta is within', () => {
    const v = reconcileBatch(SPEC, evidence(10, WEEK, () => net('1000.00', '980.00')), before(-1.2));
    const batch = check(v, 'measure-delta', 'net_revenue');
    const cum = check(v, 'measure-delta-cumulative', 'net_revenue');
    expect(v.passed).toBe(false);
    expect(failedNames(v)).toEqual(['measure-delta']);
    expect(batch).toMatchObject({ kind: 'aggregate', passed: false, severity: 'fail', measure: 'net_revenue' });
    expect(batch.message)
      .toContain('net_revenue changed -2.00% in batch 11 (production 7000, shadow 6860, difference -140)');
    expect(batch.message)
      .toContain('outside the expected -1.5% to -0.8% (validation.revenue_delta_expected; abs_tolerance 0.005)');
    expect(cum.passed).toBe(true);
    expect(v.measures[0]!.cumulativeDeltaPct).toBeCloseTo((100 * (69_160 + 6860 - 77_000)) / 77_000, 10);
  });

  it('warns, without failing the batch, when the running total drifts outside the range while the batch is within',
    () => {
    const v = reconcileBatch(SPEC, evidence(10, WEEK), before(-1.7));
    const cum = check(v, 'measure-delta-cumulative', 'net_revenue');
    // The whole range is judged (and fails) at the completion check: judgeRange.
    expect(v.passed).toBe(true);
    expect(cum).toMatchObject({ passed: false, severity: 'warn' });
    expect(check(v, 'measure-delta', 'net_revenue').passed).toBe(true);
    expect(cum.message).toMatch(
      /net_revenue changed -1\.65% over the 77 partitions reconciled so far .*outside the expected -1\.5% to -0\.8%/,
    );
  });

  it('names the measures path when the range is set there', () => {
    const v = reconcileBatch(
      SPEC,
      evidence(10, WEEK, () => ({ newSums: { net_revenue: '988.00', gross_revenue: '1212.00' } })),
      emptyCumulative(),
    );
    const c = check(v, 'measure-delta', 'gross_revenue');
    expect(c.passed).toBe(false);
    expect(c.message).toContain('gross_revenue changed +1.00% in batch 11');
    expect(c.message).toContain('outside the expected 0% (validation.measures.gross_revenue.expected_delta');
  });

  it('treats a delta on a bound as inside, despite float error', () => {
    // 100 * (1.0835 - 1.1) / 1.1 is -1.5000000000000164 in floating point; exactly -1.5 in decimal.
    const v = reconcileBatch(SPEC, evidence(11, ['2025-06-09'], () => net('1.1', '1.0835')), emptyCumulative());
    expect(v.measures[0]!.deltaPct!).toBeLessThan(-1.5);
    expect(check(v, 'measure-delta', 'net_revenue').passed).toBe(true);
    // Without abs_tolerance only the float slack keeps the bound inside.
    expect(
      check(
        reconcileBatch(STRICT_NET, evidence(11, ['2025-06-09'], () => net('1.1', '1.0835')), emptyCumulative()),
        'measure-delta',
        'net_revenue',
      ).passed,
    ).toBe(true);
  });

  it('fails just outside a bound, printing enough digits to show it', () => {
    const v = reconcileBatch(STRICT_NET, evidence(11, ['2025-06-09'], () => net('1000', '992.001')), emptyCumulative());
    const c = check(v, 'measure-delta', 'net_revenue');
    expect(c.passed).toBe(false);
    expect(c.message).toContain('changed -0.7999% in batch 12');
  });

  it('treats a difference within abs_tolerance as unchanged whatever the percentage, and only then', () => {
    const tiny = () => ({
      oldSums: { net_revenue: '1000', gross_revenue: '1.000' },
      newSums: { net_revenue: '988', gross_revenue: '1.004' },
    });
    expect(
      check(
        reconcileBatch(SPEC, evidence(12, ['2025-06-09'], tiny), emptyCumulative()),
        'measure-delta',
        'gross_revenue',
      ).passed,
    ).toBe(true);
    const strict = specWith((s) => (s.validation.measures.gross_revenue.abs_tolerance = 0.001));
    const c = check(
      reconcileBatch(strict, evidence(12, ['2025-06-09'], tiny), emptyCumulative()),
      'measure-delta',
      'gross_revenue',
    );
    expect(c.passed).toBe(false);
    expect(c.message)
      .toContain('gross_revenue changed +0.40% in batch 13 (production 1, shadow 1.004, difference +0.004)');
  });

  it('measures a negative production sum against its magnitude, so a fall stays negative', () => {
    const v = reconcileBatch(SPEC, evidence(12, ['2025-06-09'], () => net('-1000', '-1012')), emptyCumulative());
    expect(v.measures[0]!.deltaPct).toBeCloseTo(-1.2, 10);
    expect(check(v, 'measure-delta', 'net_revenue').passed).toBe(true);
  });

  it('handles a production sum of 0: no percentage, and only abs_tolerance can pass', () => {
    const zero = (newSum: string | null) => () => ({
      oldSums: { net_revenue: '0', gross_revenue: null },
      newSums: { net_revenue: newSum, gross_revenue: null },
    });
    const same = reconcileBatch(SPEC, evidence(13, ['2025-06-09'], zero('0.0000001')), emptyCumulative());
    expect(same.passed).toBe(true);
    expect(same.measures[0]!.deltaPct).toBeNull();
    expect(summarizeVerdict(same)).toContain('net_revenue n/a (production 0)');

    const strict = specWith(
      (s) =>
        (s.validation.measures = {
          gross_revenue: { expected_delta: '0%' },
          net_revenue: { expected_delta: '-1.5% to -0.8%', abs_tolerance: 0 },
        }),
    );
    expect(reconcileBatch(strict, evidence(13, ['2025-06-09'], zero('0.0000001')), emptyCumulative()).passed)
      .toBe(false);

    const grown = reconcileBatch(SPEC, evidence(13, ['2025-06-09'], zero('5')), emptyCumulative());
    const c = check(grown, 'measure-delta', 'net_revenue');
    expect(c.passed).toBe(false);
    expect(c.message).toContain('from a production sum of 0 (production 0, shadow 5, difference +5)');
  });

  it('fails, naming the partition, when a sum is missing or not a number', () => {
    const bad = reconcileBatch(
      SPEC,
      evidence(14, WEEK, (p) => (p === '2025-06-12' ? { newSums: { net_revenue: 'abc', gross_revenue: '1200' } } : {})),
      emptyCumulative(),
    );
    expect(bad.passed).toBe(false);
    expect(check(bad, 'measure-delta', 'net_revenue').message)
      .toContain('2025-06-12 shadow sum of net_revenue is "abc", not a number');
    expect(check(bad, 'measure-delta-cumulative', 'net_revenue').passed).toBe(false);
    expect(JSON.parse(JSON.stringify(bad.cumulative))).toEqual(bad.cumulative);

    const absent = reconcileBatch(
      SPEC,
      evidence(14, WEEK, (p) => (p === '2025-06-12' ? { oldSums: { net_revenue: '1000' } } : {})),
      emptyCumulative(),
    );
    expect(check(absent, 'measure-delta', 'gross_revenue').message)
      .toContain('2025-06-12 production has no sum of gross_revenue');
    expect(check(absent, 'measure-delta', 'net_revenue').passed).toBe(true);
  });
});

describe('aggregate: cumulative totals', () => {
  it('accumulate over three batches', () => {
    const batches = [
      evidence(0, labels('2024-12-01', 7), () => net('1000', '990')),
      evidence(1, labels('2024-12-08', 7), () => net('2000', '1976')),
      evidence(2, labels('2024-12-15', 7), (_p, i) => ({
        ...net('500', '494'),
        oldRows: 50 + i,
        newRows: 50 + i,
        newDistinctKeys: 50 + i,
      })),
    ];
    let cumulative = emptyCumulative();
    const verdicts: BatchVerdict[] = [];
    for (const e of batches) {
      const v = reconcileBatch(SPEC, e, cumulative);
      verdicts.push(v);
      cumulative = v.cumulative;
    }
    expect(verdicts.map((v) => v.passed)).toEqual([true, true, true]);
    expect(cumulative).toMatchObject({
      oldSums: { net_revenue: 24_500, gross_revenue: 25_200 },
      newSums: { net_revenue: 24_220, gross_revenue: 25_200 },
      oldRows: 1400 + 7 * 50 + 21,
      newRows: 1400 + 7 * 50 + 21,
      partitions: 21,
    });
    expect(verdicts.map((v) => v.measures[0]!.deltaPct)).toEqual([-1, -1.2, -1.2]);
    expect(verdicts[1]!.measures[0]!.cumulativeDeltaPct).toBeCloseTo((100 * (6930 + 13_832 - 21_000)) / 21_000, 12);
    expect(verdicts[2]!.measures[0]!.cumulativeDeltaPct).toBeCloseTo((100 * (24_220 - 24_500)) / 24_500, 12);
    expect(summarizeVerdict(verdicts[2]!)).toMatch(/^batch 3 passed: net_revenue -1\.20% \(cum -1\.14%\)/);
  });

  it('addBatch adds only planned partitions and leaves the totals it was given alone', () => {
    const before = emptyCumulative();
    const e = evidence(0, ['2025-06-09', '2025-06-10']);
    e.partitions.push(comparison('2025-06-20'));
    const after = addBatch(before, e);
    expect(after).toMatchObject({ oldRows: 200, newRows: 200, partitions: 2, oldSums: { net_revenue: 2000 } });
    expect(before).toEqual(emptyCumulative());
  });
});

describe('row level: top changed rows', () => {
  const row = (merchant: number, delta: number, measure = 'net_revenue'): ChangedRow => ({
    key: { revenue_date: '2025-06-09', merchant_id: merchant },
    measure,
    oldValue: 100,
    newValue: 100 + delta,
    delta,
  });

  it('keeps the largest absolute deltas first, capped at sample_rows, leaving out float noise', () => {
    const rows = [
      row(1, -1),
      row(2, 7.5),
      row(3, -12.25),
      row(4, 0.5),
      row(5, -3),
      row(6, 2),
      row(7, -0.75),
      row(8, 0.0000001, 'gross_revenue'),
    ];
    const v = reconcileBatch(SPEC, evidence(2, WEEK, () => ({}), rows), emptyCumulative());
    const c = check(v, 'top-changed');
    expect(v.topChangedRows.map((r) => r.delta)).toEqual([-12.25, 7.5, -3, 2, -1]);
    expect(c).toMatchObject({ kind: 'row-level', passed: true, severity: 'warn', measure: 'net_revenue' });
    expect(c.message).toContain('kept the 5 largest of 7 changed rows in batch 3');
    expect(c.message).toContain('largest: net_revenue -12.25 at revenue_date=2025-06-09, merchant_id=3 (100 → 87.75)');
    expect(c.message).toContain('1 row within abs_tolerance left out as float noise');
    expect(v.passed).toBe(true);
  });

  it('keeps none when sample_rows is 0, and still passes', () => {
    const spec = specWith((s) => (s.validation.sample_rows = 0));
    const v = reconcileBatch(spec, evidence(2, WEEK, () => ({}), [row(1, -4)]), emptyCumulative());
    expect(v.topChangedRows).toEqual([]);
    expect(check(v, 'top-changed').message).toContain('validation.sample_rows is 0');
    expect(v.passed).toBe(true);
  });
});

describe('summarizeVerdict on failure', () => {
  it('leads with the first failing check and counts the others', () => {
    const v = reconcileBatch(
      SPEC,
      evidence(12, WEEK, (p) =>
        p === '2025-06-13' ? { newRows: 99, newDistinctKeys: 98, ...net('1000', '900') } : {},
      ),
      emptyCumulative(),
    );
    expect(failedNames(v)).toEqual(['row-count', 'unique-key', 'measure-delta']);
    const line = summarizeVerdict(v);
    expect(line).toMatch(new RegExp('^batch 13 FAILED: row counts differ beyond row_count_tolerance 0 \\(exact\\) ' +
      'in 1 of 7 partitions of batch 13: 2025-06-13: production 100, shadow 99'));
    expect(line).toContain('(+2 more failed: unique-key, measure-delta)');
    expect(line).not.toContain('\n');
  });
});

describe('aggregate: expectations mean what they say', () => {
  it('fails a measure that did not change when the spec expects it to move, saying the fix did not take effect', () => {
    const v = reconcileBatch(SPEC, evidence(3, WEEK, () => net('1000.00', '1000.00')), emptyCumulative());
    const c = check(v, 'measure-delta', 'net_revenue');
    expect(v.passed).toBe(false);
    expect(failedNames(v)).toEqual(['measure-delta']);
    expect(c.message).toContain(
      'net_revenue did not change in batch 4 (production 7000, shadow 7000, difference 0), ' +
        'but validation.revenue_delta_expected expects -1.5% to -0.8%; ' +
        'the fix did not take effect — check the transform',
    );
    expect(check(v, 'measure-delta-cumulative', 'net_revenue').message)
      .toContain('net_revenue did not change over the 7 partitions reconciled so far');
    expect(summarizeVerdict(v)).toMatch(/^batch 4 FAILED: net_revenue did not change in batch 4/);
  });

  it('fails an unchanged measure even with float noise inside abs_tolerance, and a negative one too', () => {
    const noise = reconcileBatch(SPEC, evidence(3, WEEK, () => net('1000.00', '1000.000001')), emptyCumulative());
    expect(check(noise, 'measure-delta', 'net_revenue')).toMatchObject({ passed: false });
    expect(check(noise, 'measure-delta', 'net_revenue').message).toContain('did not change in batch 4');
    const negative = reconcileBatch(SPEC, evidence(3, ['2025-06-09'], () => net('-1000', '-1000')), emptyCumulative());
    expect(check(negative, 'measure-delta', 'net_revenue').passed).toBe(false);
  });

  it('passes a change within the expected range', () => {
    const v = reconcileBatch(SPEC, evidence(3, WEEK, () => net('1000', '990')), emptyCumulative());
    const c = check(v, 'measure-delta', 'net_revenue');
    expect(v.passed).toBe(true);
    expect(c.message).toContain(
      'net_revenue changed -1.00% in batch 4 (production 7000, shadow 6930, difference -70), ' +
        'within the expected -1.5% to -0.8%',
    );
  });

  it('passes within abs_tolerance of either bound, and fails just beyond it', () => {
    // 1000 at -0.8% is 992 and at -1.5% is 985; abs_tolerance is 0.005.
    const at = (newSum: string) =>
      check(
        reconcileBatch(
          SPEC,
          evidence(3, ['2025-06-09'], () => net('1000', newSum)),
          emptyCumulative(),
        ),
        'measure-delta',
        'net_revenue',
      );
    expect(at('992.004').passed).toBe(true);
    expect(at('992.004').message).toContain('within abs_tolerance 0.005 of the expected -1.5% to -0.8%');
    expect(at('984.996').passed).toBe(true);
    expect(at('992.006').passed).toBe(false);
    expect(at('984.994').passed).toBe(false);
    expect(at('984.994').message).toContain('outside the expected -1.5% to -0.8%');
  });

  it('fails a change in the wrong direction', () => {
    const c = check(
      reconcileBatch(SPEC, evidence(3, WEEK, () => net('1000', '1010')), emptyCumulative()),
      'measure-delta',
      'net_revenue',
    );
    expect(c.passed).toBe(false);
    expect(c.message).toContain('net_revenue changed +1.00% in batch 4');
    expect(c.message).toContain('outside the expected -1.5% to -0.8%');
  });

  it('judgeDelta: the difference must lie in [min% × |old| − tol, max% × |old| + tol]', () => {
    const m = { expected_delta: { min: -1.5, max: -0.8 }, abs_tolerance: 0.5 };
    expect(judgeDelta(m, 1000, 1000)).toEqual({ deltaPct: 0, withinTolerance: true, passed: false });
    expect(judgeDelta(m, 1000, 992.5).passed).toBe(true);
    expect(judgeDelta(m, 1000, 992.6).passed).toBe(false);
    expect(judgeDelta(m, 1000, 984.5).passed).toBe(true);
    expect(judgeDelta(m, 1000, 984.4).passed).toBe(false);
    // With old 0 the interval is [-tol, +tol] whatever the range.
    expect(judgeDelta(m, 0, 0)).toEqual({ deltaPct: null, withinTolerance: true, passed: true });
    expect(judgeDelta(m, 0, -0.5).passed).toBe(true);
    expect(judgeDelta(m, 0, 0.6).passed).toBe(false);
    // A "0%" range passes a difference within abs_tolerance, and nothing beyond it.
    const zero = { expected_delta: { min: 0, max: 0 }, abs_tolerance: 0.5 };
    expect(judgeDelta(zero, 1e6, 1e6 + 0.5).passed).toBe(true);
    expect(judgeDelta(zero, 1e6, 1e6 + 0.51).passed).toBe(false);
  });
});

describe('acceptable: only aggregate failures may be accepted by a person', () => {
  it('is false for a batch that passed', () => {
    expect(reconcileBatch(SPEC, evidence(3, WEEK), emptyCumulative()).acceptable).toBe(false);
  });

  it('is true when only aggregate checks failed', () => {
    const v = reconcileBatch(SPEC, evidence(3, WEEK, () => net('1000', '980')), emptyCumulative());
    expect(v.passed).toBe(false);
    expect(failedNames(v)).toEqual(['measure-delta']);
    expect(v.acceptable).toBe(true);
  });

  it.each([
    [
      'partitions-present',
      (p: string) =>
        p === '2025-06-11'
          ? { newRows: 0, newDistinctKeys: 0, newSums: { net_revenue: null, gross_revenue: null } }
          : {},
    ],
    ['row-count', (p: string) => (p === '2025-06-11' ? { newRows: 99, newDistinctKeys: 99 } : {})],
    ['unique-key', (p: string) => (p === '2025-06-11' ? { newDistinctKeys: 98 } : {})],
    [
      'not-null',
      (p: string) =>
        p === '2025-06-11'
          ? { nullViolations: { ...Object.fromEntries(REQUIRED.map((c) => [c, 0])), merchant_id: 1 } }
          : {},
    ],
  ] as const)('is false when %s failed', (name, edit) => {
    const v = reconcileBatch(SPEC, evidence(3, WEEK, edit), emptyCumulative());
    expect(failedNames(v)).toContain(name);
    expect(v.acceptable).toBe(false);
  });

  it('is false when a structural check failed alongside aggregate ones', () => {
    const v = reconcileBatch(
      SPEC,
      evidence(3, WEEK, (p) => (p === '2025-06-13' ? { newRows: 99, newDistinctKeys: 99, ...net('1000', '900') } : {})),
      emptyCumulative(),
    );
    expect(failedNames(v)).toEqual(['row-count', 'measure-delta']);
    expect(v.acceptable).toBe(false);
  });

  it('isAcceptable: passed checks and warnings never block; a failed check blocks unless aggregate', () => {
    const c = (kind: Check['kind'], passed: boolean, severity: Check['severity']): Check => ({
      kind,
      name: 'x',
      passed,
      severity,
      message: '',
    });
    expect(isAcceptable(c('structural', true, 'fail'))).toBe(true);
    expect(isAcceptable(c('structural', false, 'warn'))).toBe(true);
    expect(isAcceptable(c('aggregate', false, 'fail'))).toBe(true);
    expect(isAcceptable(c('structural', false, 'fail'))).toBe(false);
    expect(isAcceptable(c('row-level', false, 'fail'))).toBe(false);
  });
});

describe('structural: validation.allow_empty_partitions', () => {
  /** The fix removes test users: 2025-06-11 held only their rows, with no revenue. */
  const emptiedBy = (p: string) =>
    p === '2025-06-11'
      ? {
          newRows: 0,
          newDistinctKeys: 0,
          oldSums: { net_revenue: '0', gross_revenue: '0' },
          newSums: { net_revenue: null, gross_revenue: null },
        }
      : {};
  const ALLOW = specWith((s) => (s.validation.allow_empty_partitions = true));

  it('when false (the default), fails an emptied partition and says how a legitimate fix can allow it', () => {
    expect(SPEC.validation.allow_empty_partitions).toBe(false);
    const v = reconcileBatch(SPEC, evidence(3, WEEK, emptiedBy), emptyCumulative());
    expect(failedNames(v)).toEqual(['partitions-present', 'row-count']);
    expect(v.acceptable).toBe(false);
    for (const name of ['partitions-present', 'row-count']) {
      expect(check(v, name).message).toContain('set validation.allow_empty_partitions: true in a new run');
    }
    expect(v.checks.some((c) => c.name === 'emptied-partitions')).toBe(false);
  });

  it('does not offer the hint when a partition is missing for another reason', () => {
    const e = evidence(3, WEEK);
    e.partitions = e.partitions.filter((c) => c.partition !== '2025-06-15');
    expect(check(reconcileBatch(SPEC, e, emptyCumulative()), 'partitions-present').message)
      .not.toContain('allow_empty_partitions');
  });

  it('when true, passes an emptied partition and lists it in a warning for the approver', () => {
    const v = reconcileBatch(ALLOW, evidence(3, WEEK, emptiedBy), emptyCumulative());
    expect(v.passed).toBe(true);
    expect(v.checks.map((c) => c.name).slice(0, 4))
      .toEqual(['partitions-present', 'row-count', 'emptied-partitions', 'unique-key']);
    expect(check(v, 'partitions-present')).toMatchObject({ passed: true });
    expect(check(v, 'partitions-present').message).toContain('1 emptied by the fix');
    expect(check(v, 'row-count').passed).toBe(true);
    expect(check(v, 'row-count').message)
      .toContain('in the 6 compared partitions of batch 4 that the fix did not empty (1 emptied');
    const w = check(v, 'emptied-partitions');
    expect(w).toMatchObject({ kind: 'structural', severity: 'warn', passed: false, partition: '2025-06-11' });
    expect(w.message).toContain(
      '1 of 7 planned partitions of batch 4 hold no rows in the shadow: 2025-06-11 (production 100 rows, shadow 0)',
    );
    expect(summarizeVerdict(v)).toMatch(/^batch 4 passed: .*; 1 warning: emptied-partitions$/);
  });

  it('when true, still fails a partition that was not compared or that lost only some rows', () => {
    const e = evidence(3, WEEK, emptiedBy);
    e.partitions = e.partitions.filter((c) => c.partition !== '2025-06-15');
    expect(failedNames(reconcileBatch(ALLOW, e, emptyCumulative()))).toEqual(['partitions-present']);
    const partial = reconcileBatch(
      ALLOW,
      evidence(3, WEEK, (p) => (p === '2025-06-12' ? { newRows: 1, newDistinctKeys: 1 } : {})),
      emptyCumulative(),
    );
    expect(failedNames(partial)).toEqual(['row-count']);
  });

  it('when true and nothing was emptied, the warning check passes', () => {
    const c = check(reconcileBatch(ALLOW, evidence(3, WEEK), emptyCumulative()), 'emptied-partitions');
    expect(c).toMatchObject({ passed: true, severity: 'warn' });
    expect(c.message).toContain('no planned partition of batch 4 was emptied');
  });
});

describe('batch numbers in messages count from 1', () => {
  it('batchName', () => {
    expect(batchName(0)).toBe('batch 1');
    expect(batchName(78)).toBe('batch 79');
  });

  it('every message of the first batch says batch 1, while batchIndex stays 0', () => {
    const rows: ChangedRow[] = [
      { key: { merchant_id: 1 }, measure: 'net_revenue', oldValue: 10, newValue: 9, delta: -1 },
    ];
    const failing = evidence(
      0,
      labels('2024-12-01', 7),
      (p) => (p === '2024-12-03' ? { newRows: 99, newDistinctKeys: 98, ...net('1000', '1000') } : {}),
      rows,
    );
    failing.partitions.push(comparison('2025-06-16'));
    for (const v of [
      reconcileBatch(SPEC, failing, emptyCumulative()),
      reconcileBatch(SPEC, evidence(0, labels('2024-12-01', 7), () => ({}), rows), emptyCumulative()),
    ]) {
      expect(v.batchIndex).toBe(0);
      const texts = [...v.checks.map((c) => c.message), summarizeVerdict(v)];
      const numbers = texts.flatMap((t) => [...t.matchAll(/batch (\d+)/g)].map((m) => m[1]));
      expect(numbers.length).toBeGreaterThan(3);
      expect(new Set(numbers)).toEqual(new Set(['1']));
    }
  });
});

describe('expectation scopes: the whole range, one batch, one partition', () => {
  /** The FX case: the whole range moves +3%..+6%, single batches +1.5%..+5.5%, partitions more. */
  const FX = specWith((s) => {
    s.validation.revenue_delta_expected = undefined;
    s.validation.measures = {
      net_revenue: { expected_delta: '+3% to +6%', batch_delta: '+1% to +8%', partition_delta: '0% to +12%' },
    };
  });
  /** net_revenue +pct% in every partition of the batch. */
  const moved = (pct: number) => () => net('1000.00', (1000 * (1 + pct / 100)).toFixed(2));

  it('judges a batch on batch_delta when set: +2% passes a batch although the range expects +3% to +6%', () => {
    const v = reconcileBatch(FX, evidence(0, WEEK, moved(2)), emptyCumulative());
    expect(v.passed).toBe(true);
    expect(check(v, 'measure-delta', 'net_revenue').message).toContain('within the batch band +1% to +8%');
    // The running total is outside the whole range's expectation: a warning, with the user's signs.
    expect(check(v, 'measure-delta-cumulative', 'net_revenue')).toMatchObject({ passed: false, severity: 'warn' });
    expect(check(v, 'measure-delta-cumulative', 'net_revenue').message)
      .toContain('outside the expected +3% to +6% (validation.measures.net_revenue.expected_delta');
    expect(v.measures[0]!.expected).toEqual({ min: 1, max: 8 });
  });

  it('halts a batch outside batch_delta, naming the batch band and its path', () => {
    const v = reconcileBatch(FX, evidence(4, WEEK, moved(9)), emptyCumulative());
    expect(failedNames(v)).toEqual(['measure-delta']);
    expect(check(v, 'measure-delta', 'net_revenue').message).toContain(
      'outside the batch band +1% to +8% (validation.measures.net_revenue.batch_delta; abs_tolerance 0.005)');
    expect(check(v, 'measure-delta', 'net_revenue').message).toContain('correct the batch band');
    expect(v.acceptable).toBe(true);
  });

  it('without batch_delta, a batch is judged on expected_delta (the seed spec still stops early)', () => {
    const seedLike = specWith((s) => {
      s.validation.revenue_delta_expected = undefined;
      s.validation.measures = { net_revenue: { expected_delta: '+3% to +6%' } };
    });
    const v = reconcileBatch(seedLike, evidence(0, WEEK, moved(2)), emptyCumulative());
    expect(failedNames(v)).toEqual(['measure-delta']);
    expect(check(v, 'measure-delta', 'net_revenue').message)
      .toContain('outside the expected +3% to +6% (validation.measures.net_revenue.expected_delta;');
  });

  it('halts on partitions outside partition_delta, naming each with its delta', () => {
    const v = reconcileBatch(FX, evidence(2, WEEK, (p) => (p === '2025-06-11' ? net('1000.00', '1150.00')
      : p === '2025-06-13' ? net('1000.00', '990.00') : moved(4)())), emptyCumulative());
    expect(failedNames(v)).toEqual(['measure-delta-partition']);
    const c = check(v, 'measure-delta-partition', 'net_revenue');
    expect(c).toMatchObject({ kind: 'aggregate', partition: '2025-06-11' });
    expect(c.message).toContain('2 partitions of batch 3 outside the partition band 0% to +12% ' +
      '(validation.measures.net_revenue.partition_delta): 2025-06-11 +15.00%; 2025-06-13 -1.00%');
    expect(v.acceptable).toBe(true);
  });

  it('has no partition check without partition_delta', () => {
    const v = reconcileBatch(SPEC, evidence(2, WEEK), emptyCumulative());
    expect(v.checks.some((c) => c.name === 'measure-delta-partition')).toBe(false);
  });

  it('judgeRange: the whole range against expected_delta, failing outside it with the signs kept', () => {
    const parts = (pct: number) => WEEK.map((p) => ({ ...evidence(0, [p]).partitions[0]!, ...moved(pct)() }));
    expect(judgeRange(FX, parts(4.2)).map((c) => c.passed)).toEqual([true]);
    const [low] = judgeRange(FX, parts(1.5));
    expect(low).toMatchObject({ name: 'measure-delta-range', passed: false, severity: 'fail', kind: 'aggregate' });
    expect(low!.message).toContain('net_revenue changed +1.50% over the whole range (7 partitions)');
    expect(low!.message).toContain('outside the expected +3% to +6%');
  });

  it('partitionDeltaSeries: per measure, in partition order, null where no percentage applies', () => {
    const parts = evidence(0, WEEK, (p, i) => (i === 1 ? { newRows: 0 } : moved(i)())).partitions.reverse();
    const series = partitionDeltaSeries(FX.measures, parts).net_revenue!;
    expect(series.map((x) => x.partition)).toEqual(WEEK);
    expect(series[1]!.deltaPct).toBeNull();
    expect(series[3]!.deltaPct).toBeCloseTo(3, 10);
  });
});

describe('custom checks (validation.checks)', () => {
  const CHECKED = specWith((s) => {
    s.validation.checks = [
      { name: 'gross-matches-events', description: 'gross revenue equals the events per day',
        sql: 'SELECT d FROM {{shadow}} WHERE d >= :partition_start AND d < :partition_end AND gross < 0' },
      { name: 'few-refunds', description: 'refunds stay rare', severity: 'warn',
        sql: 'SELECT d FROM {{target}} WHERE d >= :partition_start AND d < :partition_end' },
    ];
  });
  const withResults = (custom: BatchEvidence['custom']) => ({ ...evidence(5, WEEK), custom });

  it('passes on zero rows, and records each as a custom check', () => {
    const v = reconcileBatch(CHECKED, withResults([
      { name: 'gross-matches-events', rows: [], more: false }, { name: 'few-refunds', rows: [], more: false },
    ]), emptyCumulative());
    expect(v.passed).toBe(true);
    expect(check(v, 'gross-matches-events')).toMatchObject({ kind: 'custom', passed: true, severity: 'fail' });
  });

  it('fails on returned rows, keeps them in the check, and is never acceptable', () => {
    const rows = [{ d: '2025-06-11', diff: '12.5' }];
    const v = reconcileBatch(CHECKED, withResults([
      { name: 'gross-matches-events', rows, more: true }, { name: 'few-refunds', rows, more: false },
    ]), emptyCumulative());
    expect(failedNames(v)).toEqual(['gross-matches-events']);
    const c = check(v, 'gross-matches-events');
    expect(c.rows).toEqual(rows);
    expect(c.message).toContain('gross-matches-events (gross revenue equals the events per day) returned more than ' +
      '1 row in batch 6, first: d=2025-06-11, diff=12.5');
    expect(v.acceptable).toBe(false);
    expect(check(v, 'few-refunds')).toMatchObject({ passed: false, severity: 'warn' });
    expect(check(v, 'few-refunds').message).toContain('(warning: the batch is not failed)');
  });

  it('fails a check that could not run, or for which no result came, saying so', () => {
    const v = reconcileBatch(CHECKED, withResults([
      { name: 'gross-matches-events', rows: [], more: false, error: 'Binder Error: column "gross" not found' },
    ]), emptyCumulative());
    expect(check(v, 'gross-matches-events').message).toContain('failed to run for batch 6: Binder Error');
    expect(check(v, 'few-refunds').message).toContain('did not run for batch 6');
  });
});
