/**
 * Schema rules, exercised through parseSpec on plain objects (what a YAML loader hands over).
 * The base object is the runbook article's block (examples/seed-original.yaml), so every case is one
 * edit away from a spec known to validate.
 */
import { describe, expect, it } from 'vitest';
import { edited, seed } from '../../support/spec-fixtures';
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
    expect(spec.rollback).toEqual({ snapshot: 'finance.daily_revenue_pre_FIN_2841', window: 7 * 86_400_000, cleanup: 'after_signoff' });
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

  it.each(['finance.daily_revenue', 'db.finance.daily_revenue', '_x.Y_2', 'FINANCE.DAILY_REVENUE'])('accepts table %j', (name) => {
    const { spec } = parsed(edited((s) => { s.target.table = name; }));
    expect(spec.target.table).toBe(name);
  });

  it.each(['"revenue_date"', 'revenue_date;', 'revenue date', 'finance.revenue_date', 'revenue_date--', 'a/*b*/', 'a\\b', '1st', ''])(
    'refuses column %j at target.partition_key',
    (name) => {
      issueAt(edited((s) => { s.target.partition_key = name; }), 'target.partition_key');
    },
  );

  it('checks every list of columns, naming the element', () => {
    issueAt(edited((s) => { s.target.unique_key = ['revenue_date', 'merchant_id; --']; }), 'target.unique_key[1]');
    issueAt(edited((s) => { s.target.audit_columns = ["x'"]; }), 'target.audit_columns[0]');
    issueAt(edited((s) => { s.validation.not_null = ['ok', 'not ok']; }), 'validation.not_null[1]');
  });

  it('checks the other table names and measure names', () => {
    issueAt(edited((s) => { s.rollback.snapshot = 'finance.x;y'; }), 'rollback.snapshot');
    issueAt(edited((s) => { s.target.shadow_table = 'finance."v2"'; }), 'target.shadow_table');
    issueAt(edited((s) => { s.publish = { mode: 'view', view: 'finance.v /* */' }; }), 'publish.view');
    const m = issueAt(edited((s) => { s.validation.measures = { 'net;revenue': { expected_delta: '0%' } }; }), 'validation.measures.net;revenue');
    expect(m.message).toContain('net;revenue');
  });

  it('refuses a column listed twice', () => {
    const issue = issueAt(edited((s) => { s.target.unique_key = ['revenue_date', 'revenue_date']; }), 'target.unique_key');
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
    issueAt(edited((s) => { s.source_range = { start: '2025-01-01T00:00', end: '2025-01-01T24:00', grain: 'hour' }; }), 'source_range.end');
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
    const { spec } = parsed(edited((s) => { s.validation.measures = { net_revenue: { expected_delta: '-1.5%..-0.8%' } }; }));
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
    const inverted = issueAt(edited((s) => { s.validation.revenue_delta_expected = '-0.8% to -1.5%'; }), 'validation.revenue_delta_expected');
    expect(inverted.message).toContain('-1.5% to -0.8%');
    issueAt(edited((s) => { s.validation.measures = { gross_revenue: { expected_delta: 'none' } }; }), 'validation.measures.gross_revenue.expected_delta');
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
    const issue = issueAt(edited((s) => { delete s.execution.partitions_per_batch; }), 'execution.partitions_per_batch');
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
    expect(spec.execution.live_pipeline).toEqual({ visibility_query: "WorkflowType = 'x'", signals: true, poll_interval: 60_000 });

    expect(issueAt(edited((s) => { s.execution.query_timeout = '15 minutes'; }), 'execution.query_timeout').message).toContain('30m');
    expect(issueAt(edited((s) => { s.execution.daily_scan_budget = 'lots'; }), 'execution.daily_scan_budget').message).toContain('2 TB');
    issueAt(edited((s) => { s.execution.pause_windows = [{ start: '01:00', end: '24:00' }]; }), 'execution.pause_windows[0].end');
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
    issueAt(edited((s) => { s.transform = { sql: 'SELECT 1', sql_file: 'a.sql', code_version: 'git:1' }; }), 'transform.sql');
    issueAt(edited((s) => { s.transform = { code_version: 'git:1' }; }), 'transform.sql');
  });

  it('refuses a non-object spec at the top level', () => {
    for (const input of [null, [], 'backfill_id: x', 42]) {
      expect(issuesOf(input).map((i) => i.path)).toEqual(['']);
    }
  });
});
