/**
 * Schema rules, exercised through parseSpec on plain objects (what a YAML loader hands over).
 * The base object is the runbook article's block (examples/seed-original.yaml), so every case is one
 * edit away from a spec known to validate.
 */
import { describe, expect, it } from 'vitest';
import { edited, seed, type Raw } from '../../support/spec-fixtures';
import { DURATION_BOUNDS, SPEC_LIMITS, type DurationField } from '../../../contracts/limits';
import { partitionLabel, partitionOrdinal } from '../../../domain/partitions';
import { parseSpec, type SpecIssue } from '../../../domain/spec/parse';
import { DEFAULT_MAX_PARTITIONS } from '../../../domain/spec/schema';

function issuesOf(input: unknown): SpecIssue[] {
  const r = parseSpec(input);
  if (r.ok) throw new Error(`expected the spec to be refused, but it parsed: ${JSON.stringify(r.spec)}`);
  return r.issues;
}

function parsed(input: unknown) {
  const r = parseSpec(input);
  if (!r.ok) throw new Error(`expected the spec to parse, got ${JSON.stringify(r.issues)}`);
  return r;
}

/** The one issue at `path` (there must be exactly one there). */
function issueAt(input: unknown, path: string): SpecIssue {
  const issues = issuesOf(input);
  const at = issues.filter((i) => i.path === path);
  expect(at, `issues: ${JSON.stringify(issues)}`).toHaveLength(1);
  return at[0]!;
}

describe('the seed block as written', () => {
  it('validates with defaults applied and units converted', () => {
    const { spec } = parsed(seed());
    expect(spec.source_range).toEqual({
      start: '2024-12-01',
      end: '2026-05-31',
      grain: 'day',
      max_partitions: DEFAULT_MAX_PARTITIONS,
      allow_large_range: false,
    });
    expect(spec.execution.order).toBe('oldest_first');
    expect(spec.execution.query_timeout).toBe(30 * 60_000);
    expect(spec.execution.pause_windows).toEqual([]);
    expect(spec.validation.row_count_tolerance).toBe(0);
    expect(spec.validation.revenue_delta_expected).toEqual({ min: -1.5, max: -0.8 });
    expect(spec.validation.revenue_measure).toBe('net_revenue');
    expect(spec.publish).toEqual({ mode: 'range' });
    expect(spec.rollback).toEqual({
      snapshot: 'finance.daily_revenue_pre_FIN_2841',
      window: 7 * 86_400_000,
      cleanup: 'after_signoff',
      operators: [],
      monitors: [],
    });
    expect(spec.validation.allow_empty_partitions).toBe(false);
    expect(spec.target.audit_columns).toEqual([]);
  });

  it('is plain JSON (no Date, Map or class instances survive)', () => {
    const { spec } = parsed(seed());
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });

  it('accepts a Date boundary from a YAML 1.1 loader as the same ISO day', () => {
    const { spec } = parsed(edited((s) => {
      s.source_range.start = new Date(Date.UTC(2024, 11, 1));
    }));
    expect(spec.source_range.start).toBe('2024-12-01');
  });
});

describe('identifiers', () => {
  const hostileTables = [
    'finance.daily_revenue; drop table x',
    'finance."daily_revenue"',
    "finance.daily_revenue'",
    'finance.daily_revenue -- comment',
    'finance.daily_revenue--x',
    'finance./*x*/daily_revenue',
    'finance.daily\\revenue',
    'finance.daily revenue',
    'finance.`daily_revenue`',
    'a.b.c.d',
    'finance..daily_revenue',
    '.daily_revenue',
    'finance.',
    'finance.1daily',
    'daily_revenue',
    '',
  ];

  it.each(hostileTables)('refuses table %j at target.table with an example of a plain name', (name) => {
    const issue = issueAt(edited((s) => { s.target.table = name; }), 'target.table');
    expect(issue.message).toContain('finance.daily_revenue');
  });

  it.each(['finance.daily_revenue', 'db.finance.daily_revenue', '_x.Y_2', 'FINANCE.DAILY_REVENUE'])(
    'accepts table %j',
    (name) => {
      const { spec } = parsed(edited((s) => { s.target.table = name; }));
      expect(spec.target.table).toBe(name);
    },
  );

  it.each([
    '"revenue_date"',
    'revenue_date;',
    'revenue date',
    'finance.revenue_date',
    'revenue_date--',
    'a/*b*/',
    'a\\b',
    '1st',
    '',
  ])('refuses column %j at target.partition_key', (name) => {
    issueAt(edited((s) => { s.target.partition_key = name; }), 'target.partition_key');
  });

  it('checks every list of columns, naming the element', () => {
    issueAt(edited((s) => { s.target.unique_key = ['revenue_date', 'merchant_id; --']; }), 'target.unique_key[1]');
    issueAt(edited((s) => { s.target.audit_columns = ["x'"]; }), 'target.audit_columns[0]');
    issueAt(edited((s) => { s.validation.not_null = ['ok', 'not ok']; }), 'validation.not_null[1]');
  });

  it('checks the other table names and measure names', () => {
    issueAt(edited((s) => { s.rollback.snapshot = 'finance.x;y'; }), 'rollback.snapshot');
    issueAt(edited((s) => { s.target.shadow_table = 'finance."v2"'; }), 'target.shadow_table');
    issueAt(edited((s) => { s.publish = { mode: 'view', view: 'finance.v /* */' }; }), 'publish.view');
    const m = issueAt(
      edited((s) => { s.validation.measures = { 'net;revenue': { expected_delta: '0%' } }; }),
      'validation.measures.net;revenue',
    );
    expect(m.message).toContain('net;revenue');
  });

  it('refuses a column listed twice', () => {
    const issue = issueAt(
      edited((s) => { s.target.unique_key = ['revenue_date', 'revenue_date']; }),
      'target.unique_key',
    );
    expect(issue.message).toMatch(/twice/);
  });
});

describe('tables must be distinct', () => {
  it('refuses a snapshot that is the target (case-insensitively)', () => {
    const issue = issueAt(edited((s) => { s.rollback.snapshot = 'Finance.Daily_Revenue'; }), 'rollback.snapshot');
    expect(issue.message).toContain('target.table');
  });

  it('refuses a shadow that is the target', () => {
    issueAt(edited((s) => { s.target.shadow_table = 'finance.daily_revenue'; }), 'target.shadow_table');
  });

  it('refuses a derived shadow that collides with the snapshot', () => {
    const issue = issueAt(
      edited((s) => { s.rollback.snapshot = 'finance.daily_revenue__shadow_revenue_tax_fix_2026_06'; }),
      'target.shadow_table',
    );
    expect(issue.message).toContain('collides');
  });
});

describe('source_range', () => {
  it.each([
    ['start', '2025-02-30'],
    ['start', '2025-13-01'],
    ['end', '2026-02-29'],
    ['end', 'June 2026'],
  ] as const)('refuses an invalid %s %j at source_range.%s with the format', (key, value) => {
    const issue = issueAt(edited((s) => { s.source_range[key] = value; }), `source_range.${key}`);
    expect(issue.message).toContain('YYYY-MM-DD');
  });

  it('refuses an inverted range at source_range.end', () => {
    const issue = issueAt(edited((s) => { s.source_range.end = '2024-11-30'; }), 'source_range.end');
    expect(issue.message).toMatch(/before start/);
  });

  it('accepts a one-partition range', () => {
    parsed(edited((s) => { s.source_range.end = s.source_range.start; }));
  });

  it('refuses hour 24 at hour grain', () => {
    issueAt(
      edited((s) => { s.source_range = { start: '2025-01-01T00:00', end: '2025-01-01T24:00', grain: 'hour' }; }),
      'source_range.end',
    );
  });

  it('refuses an unknown grain', () => {
    const issue = issueAt(edited((s) => { s.source_range.grain = 'week'; }), 'source_range.grain');
    expect(issue.message).toContain('"day"');
  });

  it('caps partitions at max_partitions (default 1000) unless allow_large_range', () => {
    const hours = (end: string) => ({ start: '2025-01-01T00:00', end, grain: 'hour' });
    // 2025-01-01T00 + 999 h = 2025-02-11T15:00 → exactly 1000 partitions.
    parsed(edited((s) => { s.source_range = hours('2025-02-11T15:00'); }));
    const issue = issueAt(edited((s) => { s.source_range = hours('2025-02-11T16:00'); }), 'source_range');
    expect(issue.message).toContain('1001');
    expect(issue.message).toContain('max_partitions (1000)');
    expect(issue.message).toContain('allow_large_range');
    parsed(edited((s) => { s.source_range = { ...hours('2025-02-11T16:00'), allow_large_range: true }; }));
    parsed(edited((s) => { s.source_range = { ...hours('2025-02-11T16:00'), max_partitions: 1001 }; }));
  });

  it('applies a lowered max_partitions to the seed range', () => {
    const issue = issueAt(edited((s) => { s.source_range.max_partitions = 546; }), 'source_range');
    expect(issue.message).toContain('547 day partitions');
    parsed(edited((s) => { s.source_range.max_partitions = 547; }));
  });

  it('refuses a max_partitions that is not a positive whole number', () => {
    issueAt(edited((s) => { s.source_range.max_partitions = 0; }), 'source_range.max_partitions');
    issueAt(edited((s) => { s.source_range.max_partitions = 2.5; }), 'source_range.max_partitions');
  });
});

describe('validation', () => {
  it('refuses revenue_delta_expected that disagrees with measures.<revenue_measure>.expected_delta', () => {
    const issue = issueAt(
      edited((s) => { s.validation.measures = { net_revenue: { expected_delta: '-1% to -0.5%' } }; }),
      'validation.revenue_delta_expected',
    );
    expect(issue.message).toContain('validation.measures.net_revenue.expected_delta');
  });

  it('accepts the two when they agree, and lists the measure once', () => {
    const { spec } = parsed(
      edited((s) => { s.validation.measures = { net_revenue: { expected_delta: '-1.5%..-0.8%' } }; }),
    );
    expect(spec.measures.filter((m) => m.column === 'net_revenue')).toHaveLength(1);
  });

  it('compares against the configured revenue_measure', () => {
    issueAt(
      edited((s) => {
        s.validation.revenue_measure = 'net_amount';
        s.validation.measures = { net_amount: { expected_delta: '0%' } };
      }),
      'validation.revenue_delta_expected',
    );
  });

  it('refuses an inverted or malformed delta range, with an example', () => {
    const inverted = issueAt(
      edited((s) => { s.validation.revenue_delta_expected = '-0.8% to -1.5%'; }),
      'validation.revenue_delta_expected',
    );
    expect(inverted.message).toContain('-1.5% to -0.8%');
    issueAt(
      edited((s) => { s.validation.measures = { gross_revenue: { expected_delta: 'none' } }; }),
      'validation.measures.gross_revenue.expected_delta',
    );
  });

  it('refuses a tolerance outside 0..1', () => {
    issueAt(edited((s) => { s.validation.row_count_tolerance = 2; }), 'validation.row_count_tolerance');
    issueAt(edited((s) => { s.validation.row_count_tolerance = '150%'; }), 'validation.row_count_tolerance');
    const { spec } = parsed(edited((s) => { s.validation.row_count_tolerance = '1%'; }));
    expect(spec.validation.row_count_tolerance).toBe(0.01);
  });
});

describe('publish', () => {
  it('refuses mode view without publish.view', () => {
    const issue = issueAt(edited((s) => { s.publish = { mode: 'view' }; }), 'publish.view');
    expect(issue.message).toMatch(/required when publish.mode is view/);
  });

  it('accepts mode view with a distinct view', () => {
    const { spec } = parsed(edited((s) => { s.publish = { mode: 'view', view: 'finance.daily_revenue_current' }; }));
    expect(spec.publish).toEqual({ mode: 'view', view: 'finance.daily_revenue_current' });
  });

  it('refuses a view that is the target', () => {
    issueAt(edited((s) => { s.publish = { mode: 'view', view: 'finance.daily_revenue' }; }), 'publish.view');
  });

  it('refuses an unknown mode', () => {
    issueAt(edited((s) => { s.publish = { mode: 'merge' }; }), 'publish.mode');
  });
});

describe('execution', () => {
  it.each([
    ['partitions_per_batch', 0, /at least 1/],
    ['partitions_per_batch', 10_001, /at most 10000/],
    ['partitions_per_batch', 1.5, /must be a whole number of partitions/],
    ['max_concurrency', -1, /at least 1/],
    ['max_concurrency', 65, /at most 64/],
    ['max_concurrency', '2', /number/],
  ] as const)('refuses %s = %j', (key, value, message) => {
    const issue = issueAt(edited((s) => { s.execution[key] = value; }), `execution.${key}`);
    expect(issue.message).toMatch(message);
  });

  it('refuses a missing required number as required', () => {
    const issue = issueAt(
      edited((s) => { delete s.execution.partitions_per_batch; }),
      'execution.partitions_per_batch',
    );
    expect(issue.message).toMatch(/is required/);
  });

  it('converts durations and sizes, and refuses bad ones with an example', () => {
    const { spec } = parsed(edited((s) => {
      s.execution.query_timeout = '15m';
      s.execution.daily_scan_budget = '2 TB';
      s.execution.live_pipeline = { visibility_query: "WorkflowType = 'x'" };
      s.execution.pause_windows = [{ start: '01:00', end: '02:00' }];
    }));
    expect(spec.execution.query_timeout).toBe(900_000);
    expect(spec.execution.daily_scan_budget).toBe(2e12);
    expect(spec.execution.live_pipeline)
      .toEqual({ visibility_query: "WorkflowType = 'x'", signals: true, poll_interval: 60_000 });

    expect(issueAt(edited((s) => { s.execution.query_timeout = '15 minutes'; }), 'execution.query_timeout').message)
      .toContain('30m');
    expect(issueAt(edited((s) => { s.execution.daily_scan_budget = 'lots'; }), 'execution.daily_scan_budget').message)
      .toContain('2 TB');
    issueAt(
      edited((s) => { s.execution.pause_windows = [{ start: '01:00', end: '24:00' }]; }),
      'execution.pause_windows[0].end',
    );
  });

  it('refuses an unknown order', () => {
    issueAt(edited((s) => { s.execution.order = 'random'; }), 'execution.order');
  });
});

describe('target keys', () => {
  it('requires the unique key to include the partition key', () => {
    const issue = issueAt(edited((s) => { s.target.unique_key = ['merchant_id']; }), 'target.unique_key');
    expect(issue.message).toContain('revenue_date');
  });

  it('refuses the partition key as an audit column', () => {
    issueAt(edited((s) => { s.target.audit_columns = ['revenue_date']; }), 'target.audit_columns');
  });

  it('refuses an empty unique key', () => {
    const issues = issuesOf(edited((s) => { s.target.unique_key = []; }));
    expect(issues).toContainEqual({ path: 'target.unique_key', message: 'must list at least one column' });
  });
});

describe('other fields', () => {
  it.each(['X', 'ab', '-abc', 'Revenue', 'a b c', 'x'.repeat(101)])('refuses backfill_id %j', (id) => {
    issueAt(edited((s) => { s.backfill_id = id; }), 'backfill_id');
  });

  it('requires owner and reason to be non-empty', () => {
    issueAt(edited((s) => { s.owner = ''; }), 'owner');
    issueAt(edited((s) => { s.reason.issue = ''; }), 'reason.issue');
    issueAt(edited((s) => { delete s.reason.change; }), 'reason.change');
  });

  it('refuses approval without approvers', () => {
    issueAt(edited((s) => { s.approval = { approvers: [] }; }), 'approval.approvers');
  });

  it('refuses a transform with both or neither of sql and sql_file', () => {
    issueAt(
      edited((s) => { s.transform = { sql: 'SELECT 1', sql_file: 'a.sql', code_version: 'git:1' }; }),
      'transform.sql',
    );
    issueAt(edited((s) => { s.transform = { code_version: 'git:1' }; }), 'transform.sql');
  });

  it('refuses a non-object spec at the top level', () => {
    for (const input of [null, [], 'backfill_id: x', 42]) {
      expect(issuesOf(input).map((i) => i.path)).toEqual(['']);
    }
  });
});

describe('new fields', () => {
  it('parses validation.allow_empty_partitions (default false)', () => {
    expect(parsed(seed()).spec.validation.allow_empty_partitions).toBe(false);
    expect(
      parsed(edited((s) => { s.validation.allow_empty_partitions = true; })).spec.validation.allow_empty_partitions,
    ).toBe(true);
    issueAt(edited((s) => { s.validation.allow_empty_partitions = 'yes'; }), 'validation.allow_empty_partitions');
  });

  it('parses rollback.operators (default [])', () => {
    expect(parsed(seed()).spec.rollback.operators).toEqual([]);
    const { spec } = parsed(edited((s) => { s.rollback.operators = ['data-platform-oncall', 'finance-data-eng']; }));
    expect(spec.rollback.operators).toEqual(['data-platform-oncall', 'finance-data-eng']);
    issueAt(edited((s) => { s.rollback.operators = ['ok', 7]; }), 'rollback.operators[1]');
  });
});

/** Sets the duration field `field` (a DURATION_BOUNDS key) on a spec that has every section it needs. */
/** Where a bounded duration is written: a monitor's interval sits in the rollback.monitors list. */
const MONITOR = 'rollback.monitors.interval';
const pathOf = (field: DurationField) => (field === MONITOR ? 'rollback.monitors[0].interval' : field);

function withDuration(field: DurationField, value: unknown) {
  return edited((s) => {
    s.approval = { approvers: ['finance-controller'] };
    s.execution.live_pipeline = {};
    if (field === MONITOR) {
      s.rollback.monitors = [{ name: 'watched', description: 'a total', sql: 'SELECT 1', max: 1, interval: value }];
      return;
    }
    const path = field.split('.');
    let at = s;
    for (const key of path.slice(0, -1)) at = at[key];
    at[path.at(-1)!] = value;
  });
}

function durationOf(spec: ReturnType<typeof parsed>['spec'], field: DurationField): unknown {
  if (field === MONITOR) return spec.rollback.monitors[0]!.interval;
  return field.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], spec);
}

describe('duration bounds (DURATION_BOUNDS, per field)', () => {
  const fields = Object.keys(DURATION_BOUNDS) as DurationField[];

  it('covers the five duration fields', () => {
    expect(fields.sort()).toEqual([
      'approval.timeout', 'execution.live_pipeline.poll_interval', 'execution.query_timeout',
      'rollback.monitors.interval', 'rollback.window',
    ]);
  });

  it.each(fields)('%s accepts exactly its minimum and maximum', (field) => {
    const { min, max } = DURATION_BOUNDS[field];
    expect(durationOf(parsed(withDuration(field, `${min}ms`)).spec, field)).toBe(min);
    expect(durationOf(parsed(withDuration(field, `${max}ms`)).spec, field)).toBe(max);
  });

  it.each(fields)('%s refuses "99999999999w" (an invalid Date in a workflow task) naming the maximum', (field) => {
    const issue = issueAt(withDuration(field, '99999999999w'), pathOf(field));
    expect(issue.message).toMatch(/^"99999999999w" is above the maximum \d+[dhms]; write e\.g\. "\d+[dhm]"$/);
  });

  it.each(fields)('%s refuses one millisecond past its maximum, and one below its minimum', (field) => {
    const { min, max } = DURATION_BOUNDS[field];
    expect(issueAt(withDuration(field, `${max + 1}ms`), pathOf(field)).message).toContain('above the maximum');
    expect(issueAt(withDuration(field, `${min - 1}ms`), pathOf(field)).message).toContain('below the minimum 1s');
  });

  it.each(fields)('%s refuses 0, a fraction of a millisecond and absurdly many digits', (field) => {
    expect(issueAt(withDuration(field, '0s'), pathOf(field)).message).toContain('below the minimum');
    expect(issueAt(withDuration(field, '0.4ms'), pathOf(field)).message).toContain('below the minimum');
    expect(issueAt(withDuration(field, `${'9'.repeat(400)}s`), pathOf(field)).message).toContain('above the maximum');
  });

  it('words the refusal with the field, the bound and an example', () => {
    expect(issueAt(withDuration('execution.query_timeout', '0.4ms'), 'execution.query_timeout').message)
      .toBe('"0.4ms" is below the minimum 1s; write e.g. "30m"');
    expect(issueAt(withDuration('execution.query_timeout', '8d'), 'execution.query_timeout').message)
      .toBe('"8d" is above the maximum 7d; write e.g. "30m"');
    expect(
      issueAt(withDuration('execution.live_pipeline.poll_interval', '2d'), 'execution.live_pipeline.poll_interval')
        .message,
    ).toBe('"2d" is above the maximum 1d; write e.g. "1m"');
    expect(issueAt(withDuration('approval.timeout', '91d'), 'approval.timeout').message)
      .toBe('"91d" is above the maximum 90d; write e.g. "7d"');
    expect(issueAt(withDuration('rollback.window', '13w'), 'rollback.window').message)
      .toBe('"13w" is above the maximum 90d; write e.g. "7d"');
  });

  it('refuses a query_timeout beyond Node\'s timer (2^31-1 ms, 24.8 days)', () => {
    issueAt(withDuration('execution.query_timeout', '25d'), 'execution.query_timeout');
    expect(DURATION_BOUNDS['execution.query_timeout'].max).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('rounds an accepted fractional duration to whole milliseconds', () => {
    expect(parsed(withDuration('execution.query_timeout', '1.0004s')).spec.execution.query_timeout).toBe(1000);
    expect(parsed(withDuration('rollback.window', '1.5h')).spec.rollback.window).toBe(5_400_000);
  });
});

describe('number bounds', () => {
  const hours = (count: number) => {
    const first = partitionOrdinal('2020-01-01T00:00', 'hour')!;
    return { start: '2020-01-01T00:00', end: partitionLabel(first + count - 1, 'hour'), grain: 'hour' };
  };

  it(`caps source_range.max_partitions at ${SPEC_LIMITS.maxPartitions}`, () => {
    parsed(edited((s) => { s.source_range.max_partitions = SPEC_LIMITS.maxPartitions; }));
    const issue = issueAt(
      edited((s) => { s.source_range.max_partitions = SPEC_LIMITS.maxPartitions + 1; }),
      'source_range.max_partitions',
    );
    expect(issue.message).toContain(`at most ${SPEC_LIMITS.maxPartitions}`);
    expect(issue.message).toContain('write e.g. 1000');
  });

  it(`refuses more than ${SPEC_LIMITS.maxPartitions} partitions even with allow_large_range`, () => {
    parsed(edited((s) => { s.source_range = { ...hours(SPEC_LIMITS.maxPartitions), allow_large_range: true }; }));
    const issue = issueAt(
      edited((s) => { s.source_range = { ...hours(SPEC_LIMITS.maxPartitions + 1), allow_large_range: true }; }),
      'source_range',
    );
    expect(issue.message).toBe(
      `covers ${SPEC_LIMITS.maxPartitions + 1} hour partitions, above the maximum ${SPEC_LIMITS.maxPartitions} even ` +
        `with allow_large_range; split it into several backfills, e.g. one per year`,
    );
  });

  it('bounds abs_tolerance to a finite 0..1e15', () => {
    const at = (t: unknown) =>
      edited((s) => { s.validation.measures = { order_count: { expected_delta: '0%', abs_tolerance: t } }; });
    expect(parsed(at(SPEC_LIMITS.absTolerance)).spec.measures.find((m) => m.column === 'order_count')?.abs_tolerance)
      .toBe(1e15);
    expect(issueAt(at(1e16), 'validation.measures.order_count.abs_tolerance').message)
      .toBe('must be at most 1e15; write e.g. 0.005');
    expect(issueAt(at(-1), 'validation.measures.order_count.abs_tolerance').message).toContain('at least 0');
    expect(issueAt(at(Number.POSITIVE_INFINITY), 'validation.measures.order_count.abs_tolerance').message)
      .toBe('must be a finite number, got Infinity');
    expect(issueAt(at(Number.NaN), 'validation.measures.order_count.abs_tolerance').message)
      .toBe('must be a finite number, got NaN');
  });

  it(`bounds the percentages of an expected delta to ±${SPEC_LIMITS.percent}%`, () => {
    parsed(
      edited((s) => {
        s.validation.measures = {
          order_count: { expected_delta: `-${SPEC_LIMITS.percent}% to ${SPEC_LIMITS.percent}%` },
        };
      }),
    );
    const issue = issueAt(
      edited((s) => {
        s.validation.measures = { order_count: { expected_delta: `0% to ${SPEC_LIMITS.percent + 1}%` } };
      }),
      'validation.measures.order_count.expected_delta',
    );
    expect(issue.message).toBe(
      `"0% to ${SPEC_LIMITS.percent + 1}%" is beyond the maximum ±${SPEC_LIMITS.percent}%; ` +
        `write "-1.5% to -0.8%" (low first) or "0%"`,
    );
    issueAt(
      edited((s) => { s.validation.revenue_delta_expected = `-${'9'.repeat(400)}%`; }),
      'validation.revenue_delta_expected',
    );
  });

  it('bounds daily_scan_budget to 1 EB and refuses NaN and Infinity', () => {
    expect(parsed(edited((s) => { s.execution.daily_scan_budget = '1000 PB'; })).spec.execution.daily_scan_budget)
      .toBe(SPEC_LIMITS.bytes);
    const issue = issueAt(edited((s) => { s.execution.daily_scan_budget = '1001 PB'; }), 'execution.daily_scan_budget');
    expect(issue.message).toBe('"1001 PB" is above the maximum 1 EB (1e18 bytes); write e.g. "2 TB"');
    issueAt(edited((s) => { s.execution.daily_scan_budget = 1e19; }), 'execution.daily_scan_budget');
    issueAt(
      edited((s) => { s.execution.daily_scan_budget = Number.POSITIVE_INFINITY; }),
      'execution.daily_scan_budget',
    );
    expect(
      issueAt(edited((s) => { s.execution.daily_scan_budget = Number.NaN; }), 'execution.daily_scan_budget').message,
    ).toContain('finite');
  });

  it(`bounds max_concurrency to ${SPEC_LIMITS.concurrency} and refuses NaN and Infinity`, () => {
    parsed(edited((s) => { s.execution.max_concurrency = SPEC_LIMITS.concurrency; }));
    expect(
      issueAt(
        edited((s) => { s.execution.max_concurrency = SPEC_LIMITS.concurrency + 1; }),
        'execution.max_concurrency',
      ).message,
    ).toBe(`must be at most ${SPEC_LIMITS.concurrency} concurrent partitions; write e.g. 4`);
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(issueAt(edited((s) => { s.execution.max_concurrency = v; }), 'execution.max_concurrency').message)
        .toBe(`must be a finite number, got ${v}`);
    }
  });

  it('refuses NaN and Infinity in the other numbers', () => {
    issueAt(
      edited((s) => { s.execution.partitions_per_batch = Number.POSITIVE_INFINITY; }),
      'execution.partitions_per_batch',
    );
    issueAt(edited((s) => { s.source_range.max_partitions = Number.NaN; }), 'source_range.max_partitions');
    issueAt(edited((s) => { s.validation.sample_rows = Number.POSITIVE_INFINITY; }), 'validation.sample_rows');
    expect(
      issueAt(edited((s) => { s.validation.row_count_tolerance = Number.NaN; }), 'validation.row_count_tolerance')
        .message,
    ).toContain('finite');
  });
});

describe('string bounds', () => {
  const fields: Array<[path: string, max: number, set: (s: Raw, v: string) => void]> = [
    ['owner', SPEC_LIMITS.nameChars, (s, v) => { s.owner = v; }],
    ['approval.approvers[0]', SPEC_LIMITS.nameChars, (s, v) => { s.approval = { approvers: [v] }; }],
    ['rollback.operators[0]', SPEC_LIMITS.nameChars, (s, v) => { s.rollback.operators = [v]; }],
    ['reason.issue', SPEC_LIMITS.nameChars, (s, v) => { s.reason.issue = v; }],
    [
      'transform.code_version',
      SPEC_LIMITS.nameChars,
      (s, v) => {
        s.transform = { sql: 'SELECT * FROM s.e WHERE d >= :partition_start AND d < :partition_end', code_version: v };
      },
    ],
    ['reason.change', SPEC_LIMITS.textChars, (s, v) => { s.reason.change = v; }],
    [
      'execution.live_pipeline.visibility_query',
      SPEC_LIMITS.textChars,
      (s, v) => { s.execution.live_pipeline = { visibility_query: v }; },
    ],
  ];

  it.each(fields)('%s accepts %d characters and refuses one more, naming the bound', (path, max, set) => {
    parsed(edited((s) => set(s, 'x'.repeat(max))));
    const issue = issueAt(edited((s) => set(s, 'x'.repeat(max + 1))), path);
    expect(issue.message)
      .toMatch(new RegExp(`^is ${max + 1} characters, above the maximum ${max}; shorten it, e\\.g\\. .+`));
  });

  it.each(fields)('%s refuses a blank value', (path, _max, set) => {
    for (const blank of ['', '   ', '\t\n']) {
      expect(issueAt(edited((s) => set(s, blank)), path).message).toMatch(/e\.g\. .+; it is (empty|only blanks)$/);
    }
  });

  it(`bounds inline transform.sql to ${SPEC_LIMITS.sqlChars} characters`, () => {
    const sql = 'SELECT * FROM s.e WHERE d >= :partition_start AND d < :partition_end';
    const long = sql + ' '.repeat(SPEC_LIMITS.sqlChars + 1 - sql.length);
    const issue = issueAt(edited((s) => { s.transform = { sql: long, code_version: 'git:1' }; }), 'transform.sql');
    expect(issue.message)
      .toContain(`is ${SPEC_LIMITS.sqlChars + 1} characters, above the maximum ${SPEC_LIMITS.sqlChars}`);
    expect(issue.message.length).toBeLessThan(300);
  });

  it('keeps a refusal short when the value is huge', () => {
    const issue = issueAt(edited((s) => { s.target.table = `finance.${'x'.repeat(100_000)}`; }), 'target.table');
    expect(issue.message.length).toBeLessThan(300);
    expect(
      issueAt(edited((s) => { s.execution.query_timeout = 'x'.repeat(100_000); }), 'execution.query_timeout').message
        .length,
    ).toBeLessThan(300);
    expect(issueAt(edited((s) => { s.owner = ['y'.repeat(100_000)]; }), 'owner').message.length).toBeLessThan(300);
  });
});

describe('list bounds', () => {
  const cols = (n: number) => ['revenue_date', ...Array.from({ length: n - 1 }, (_, i) => `c${i}`)];
  const lists: Array<[path: string, max: number, fill: (s: Raw, n: number) => void]> = [
    [
      'approval.approvers',
      SPEC_LIMITS.approvers,
      (s, n) => { s.approval = { approvers: Array.from({ length: n }, (_, i) => `person-${i}`) }; },
    ],
    [
      'rollback.operators',
      SPEC_LIMITS.operators,
      (s, n) => { s.rollback.operators = Array.from({ length: n }, (_, i) => `oncall-${i}`); },
    ],
    ['validation.measures', SPEC_LIMITS.measures, (s, n) => {
      s.validation.measures = Object.fromEntries(
        Array.from({ length: n }, (_, i) => [`m${i}`, { expected_delta: '0%' }]),
      );
    }],
    ['target.unique_key', SPEC_LIMITS.columns, (s, n) => { s.target.unique_key = cols(n); }],
    ['target.audit_columns', SPEC_LIMITS.columns, (s, n) => { s.target.audit_columns = cols(n + 1).slice(1); }],
    ['validation.not_null', SPEC_LIMITS.columns, (s, n) => { s.validation.not_null = cols(n); }],
    ['execution.pause_windows', SPEC_LIMITS.pauseWindows, (s, n) => {
      s.execution.pause_windows = Array.from({ length: n }, (_, i) => ({
        start: `${String(i % 24).padStart(2, '0')}:00`,
        end: `${String(i % 24).padStart(2, '0')}:30`,
      }));
    }],
  ];

  it.each(lists)('%s accepts %d entries and refuses one more as a whole', (path, max, fill) => {
    parsed(edited((s) => fill(s, max)));
    const issue = issueAt(edited((s) => fill(s, max + 1)), path);
    expect(issue.message).toMatch(new RegExp(`^lists ${max + 1} \\w+, above the maximum ${max}; .+e\\.g\\. .+`));
  });

  it('reports an oversized list once, not once per bad entry', () => {
    expect(issuesOf(edited((s) => { s.approval = { approvers: Array(1000).fill(' ') }; }))).toEqual([
      {
        path: 'approval.approvers',
        message: expect.stringContaining(`lists 1000 approvers, above the maximum ${SPEC_LIMITS.approvers}`),
      },
    ]);
    const measures = issuesOf(edited((s) => {
      s.validation.measures = Object.fromEntries(
        Array.from({ length: 1000 }, (_, i) => [`m${i}`, { expected_delta: 'bad' }]),
      );
    }));
    expect(measures).toEqual([
      {
        path: 'validation.measures',
        message: expect.stringContaining(`lists 1000 measures, above the maximum ${SPEC_LIMITS.measures}`),
      },
    ]);
  });
});

describe('pause windows', () => {
  it.each([
    ['00:00', '00:00'],
    ['12:30', '12:30'],
    ['01:00', ' 01:00'],
  ])('refuses %s–%s, a window of zero length', (start, end) => {
    const issue = issueAt(
      edited((s) => { s.execution.pause_windows = [{ start: '01:00', end: '02:00' }, { start, end }]; }),
      'execution.pause_windows[1]',
    );
    expect(issue.message).toContain('a window of zero length');
    expect(issue.message).toContain('e.g. { start: "01:00", end: "03:00" }');
  });

  it('accepts a window that crosses midnight', () => {
    expect(
      parsed(edited((s) => { s.execution.pause_windows = [{ start: '23:00', end: '01:00' }]; })).spec.execution
        .pause_windows,
    ).toEqual([{ start: '23:00', end: '01:00' }]);
  });
});

describe('rollback.monitors', () => {
  const monitor = (over: Record<string, unknown> = {}) => ({
    name: 'monthly-net-revenue', description: 'monthly net revenue stays put',
    sql: 'SELECT COUNT(*) FROM {{target}} t JOIN {{snapshot}} s ON t.d = s.d', max: 0, ...over,
  });
  const withMonitors = (...monitors: unknown[]) => edited((s) => {
    s.rollback.monitors = monitors;
  });

  it('parses a monitor with its defaults: every hour, blocking signoff on a breach', () => {
    expect(parsed(withMonitors(monitor())).spec.rollback.monitors).toEqual([
      { ...monitor(), tolerance: 0, interval: 3_600_000, on_breach: 'block' },
    ]);
  });

  it.each([
    [{ max: undefined }, 'rollback.monitors[0]', 'needs a threshold (min, max) or an expected value (equals)'],
    [{ min: 5, max: 1 }, 'rollback.monitors[0].min', 'is above max (1)'],
    [{ sql: 'SELECT 1 FROM (COPY t TO \'x\')' }, 'rollback.monitors[0].sql', 'uses COPY'],
    [{ sql: 'SELECT 1 FROM {{shadow}}' }, 'rollback.monitors[0].sql', 'uses {{shadow}}'],
    [{ sql: 'SELECT 1 FROM t WHERE d >= :partition_start' }, 'rollback.monitors[0].sql', ':parameter'],
    [{ on_breach: 'page' }, 'rollback.monitors[0].on_breach', ''],
    [{ max: Number.NaN }, 'rollback.monitors[0].max', ''],
  ])('refuses %j at %s', (over, path, message) => {
    expect(issueAt(withMonitors(monitor(over)), path).message).toContain(message);
  });

  it('bounds the list at 10 monitors, as one refusal', () => {
    const issues = issuesOf(withMonitors(...Array.from({ length: 11 }, (_, i) => monitor({ name: `m${i}` }))));
    expect(issues).toEqual([{ path: 'rollback.monitors', message: expect.stringContaining('11') }]);
  });
});
