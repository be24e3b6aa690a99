/**
 * parseSpec's own work (unknown-key hints, sql_file, measures, derived names, warnings,
 * runnability) and the file edge in client/load-spec.ts over every example spec.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { EXAMPLES, SEED, edited, seed, type Raw } from '../../support/spec-fixtures';
import { loadRunnableSpec, loadSpecFile, loadSpecText, type LocatedIssue } from '../../../client/load-spec';
import { BackfillError, BackfillFailure } from '../../../contracts/errors';
import { SPEC_LIMITS } from '../../../contracts/limits';
import {
  formatPath,
  MAX_LISTED_ISSUES,
  parseSpec,
  protoKeyPaths,
  runnableProblems,
  shadowTableFor,
  type SpecIssue,
} from '../../../domain/spec/parse';
import { failureOf } from '../../support/failures';

const RUNNABLE = join(EXAMPLES, 'revenue-tax-fix.yaml');
const INVALID = join(EXAMPLES, 'invalid');


function issuesOf(input: unknown, readSqlFile?: (p: string) => string): SpecIssue[] {
  const r = parseSpec(input, readSqlFile ? { readSqlFile } : {});
  if (r.ok) throw new Error('expected the spec to be refused');
  return r.issues;
}


const locatedIssues = (f: BackfillFailure): LocatedIssue[] => (f.details.issues ?? []) as LocatedIssue[];

describe('formatPath', () => {
  it('writes YAML paths with dots and [index]', () => {
    expect(formatPath([])).toBe('');
    expect(formatPath(['execution', 'max_concurrency'])).toBe('execution.max_concurrency');
    expect(formatPath(['approval', 'approvers', 0])).toBe('approval.approvers[0]');
    expect(formatPath(['execution', 'pause_windows', 1, 'start'])).toBe('execution.pause_windows[1].start');
  });
});

describe('unknown keys', () => {
  it('are refused with a "did you mean" hint at the top level', () => {
    const issues = issuesOf(edited((s) => {
      s.ownr = s.owner;
      delete s.owner;
    }));
    const unknown = issues.find((i) => i.path === 'ownr');
    expect(unknown?.message).toMatch(/unknown field/);
    expect(unknown?.message).toContain('did you mean owner?');
  });

  it('are refused with a hint inside a section', () => {
    const issues = issuesOf(edited((s) => {
      s.execution.max_concurency = 2;
      delete s.execution.max_concurrency;
    }));
    expect(issues.find((i) => i.path === 'execution.max_concurency')?.message)
      .toContain('did you mean max_concurrency?');
  });

  it('list the known fields when nothing is close', () => {
    const issues = issuesOf(edited((s) => { s.zzzzzzzzzzz = 1; }));
    const message = issues.find((i) => i.path === 'zzzzzzzzzzz')?.message;
    expect(message).toContain('known fields: backfill_id, owner, source_range');
    expect(message).not.toContain('did you mean');
  });

  it('get a hint inside a measure (a record value)', () => {
    const issues = issuesOf(edited((s) => { s.validation.measures = { net_revenue: { expected_delt: '0%' } }; }));
    const message = issues.find((i) => i.path === 'validation.measures.net_revenue.expected_delt')?.message;
    expect(message).toContain('unknown field');
    // The measure schema's fields are expected_delta and abs_tolerance.
    expect(message).toContain('did you mean expected_delta?');
  });
});

describe('transform', () => {
  const withFile = (s: Raw) => { s.transform = { sql_file: 'sql/fix.sql', code_version: 'git:abc' }; };
  const goodSql = 'SELECT * FROM staging.e WHERE d >= :partition_start AND d < :partition_end';

  it('reads sql_file through the injected reader and keeps the file name', () => {
    const seen: string[] = [];
    const r = parseSpec(edited(withFile), { readSqlFile: (p) => { seen.push(p); return goodSql; } });
    expect(seen).toEqual(['sql/fix.sql']);
    expect(r.ok && r.spec.transform).toEqual({ sql: goodSql, sql_file: 'sql/fix.sql', code_version: 'git:abc' });
  });

  it('reports an unreadable sql_file at transform.sql_file with the reason', () => {
    const issues = issuesOf(edited(withFile), () => { throw new Error('ENOENT: no such file'); });
    expect(issues).toEqual([{ path: 'transform.sql_file', message: expect.stringContaining('ENOENT: no such file') }]);
    expect(issues[0]!.message).toContain('"sql/fix.sql"');
  });

  it('reports sql_file at transform.sql_file when no reader is given', () => {
    expect(issuesOf(edited(withFile)).map((i) => i.path)).toEqual(['transform.sql_file']);
  });

  it('reports transform problems at the field that holds the SQL', () => {
    const inline = issuesOf(edited((s) => { s.transform = { sql: 'DELETE FROM x', code_version: 'git:abc' }; }));
    expect(inline.map((i) => i.path)).toContain('transform.sql');
    expect(inline.every((i) => i.path === 'transform.sql')).toBe(true);
    const fromFile = issuesOf(edited(withFile), () => 'SELECT 1 WHERE d >= :partition_start');
    expect(fromFile).toEqual([{ path: 'transform.sql_file', message: expect.stringContaining(':partition_end') }]);
  });

  it('keeps inline SQL without a sql_file key', () => {
    const r = parseSpec(edited((s) => { s.transform = { sql: goodSql, code_version: 'git:abc' }; }));
    expect(r.ok && r.spec.transform).toEqual({ sql: goodSql, code_version: 'git:abc' });
  });
});

describe('measures', () => {
  it('folds revenue_delta_expected in as the revenue measure, first', () => {
    const r = parseSpec(
      edited((s) => { s.validation.measures = { order_count: { expected_delta: '0%', abs_tolerance: 0 } }; }),
    );
    expect(r.ok && r.spec.measures).toEqual([
      { column: 'net_revenue', expected_delta: { min: -1.5, max: -0.8 }, abs_tolerance: 0.005 },
      { column: 'order_count', expected_delta: { min: 0, max: 0 }, abs_tolerance: 0 },
    ]);
  });

  it('warns when nothing has an expected delta', () => {
    const r = parseSpec(edited((s) => { delete s.validation.revenue_delta_expected; }));
    expect(r.ok && r.spec.measures).toEqual([]);
    expect(r.ok && r.warnings.map((w) => w.path)).toContain('validation.measures');
  });
});

describe('derived names and warnings', () => {
  it('derives the shadow table from the target and backfill_id', () => {
    expect(shadowTableFor('finance.daily_revenue', 'revenue-tax-fix-2026-06'))
      .toBe('finance.daily_revenue__shadow_revenue_tax_fix_2026_06');
    const r = parseSpec(seed());
    expect(r.ok && r.spec.target.shadow_table).toBe('finance.daily_revenue__shadow_revenue_tax_fix_2026_06');
  });

  it('refuses a derived shadow name longer than 128 characters', () => {
    const issues = issuesOf(edited((s) => {
      s.backfill_id = 'x'.repeat(100);
      s.target.table = `finance.${'d'.repeat(100)}`;
    }));
    expect(issues.map((i) => i.path)).toEqual(['target.shadow_table']);
  });

  it('warns about pause_during_live_pipeline with nothing to watch, and not once a window is set', () => {
    const bare = parseSpec(seed());
    expect(bare.ok && bare.warnings.map((w) => w.path)).toEqual(['execution.pause_during_live_pipeline']);
    const windowed = parseSpec(edited((s) => { s.execution.pause_windows = [{ start: '01:00', end: '02:00' }]; }));
    expect(windowed.ok && windowed.warnings).toEqual([]);
  });
});

describe('runnableProblems', () => {
  it('names transform, target.unique_key and approval.approvers for the seed block', () => {
    const r = parseSpec(seed());
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(runnableProblems(r.spec).map((p) => p.path))
      .toEqual(['transform', 'target.unique_key', 'approval.approvers']);
  });
});

describe('examples/seed-original.yaml (the article block)', () => {
  it('validates as written but is not runnable', () => {
    const loaded = loadSpecFile(SEED);
    expect(loaded.file).toBe(SEED);
    expect(loaded.notRunnable.map((p) => p.path)).toEqual(['transform', 'target.unique_key', 'approval.approvers']);
    expect(loaded.spec.transform).toBeUndefined();
    expect(loaded.spec.measures).toEqual([
      { column: 'net_revenue', expected_delta: { min: -1.5, max: -0.8 }, abs_tolerance: 0.005 },
    ]);
    expect(loaded.spec.target.table).toBe('finance.daily_revenue');
    expect(loaded.spec.execution)
      .toMatchObject({ partitions_per_batch: 7, max_concurrency: 2, pause_during_live_pipeline: true });
  });

  it('is refused by loadRunnableSpec with SpecNotRunnable listing each missing path', () => {
    const failure = failureOf(() => loadRunnableSpec(SEED), BackfillError.SpecNotRunnable);
    expect((failure.details.issues as SpecIssue[]).map((i) => i.path))
      .toEqual(['transform', 'target.unique_key', 'approval.approvers']);
    expect(failure.message).toContain('valid but cannot run yet');
    for (const path of ['transform', 'target.unique_key', 'approval.approvers']) {
      expect(failure.message).toContain(path);
    }
  });
});

describe('examples/revenue-tax-fix.yaml', () => {
  it('validates and is runnable, with the transform read from examples/sql', () => {
    const loaded = loadRunnableSpec(RUNNABLE);
    expect(loaded.notRunnable).toEqual([]);
    expect(loaded.warnings).toEqual([]);
    const sql = readFileSync(join(EXAMPLES, 'sql', 'revenue-tax-fix.sql'), 'utf8');
    expect(loaded.spec.transform).toEqual({ sql, sql_file: 'sql/revenue-tax-fix.sql', code_version: 'git:8f31c2a' });
    expect(loaded.spec.target.shadow_table).toBe('finance.daily_revenue_v2');
    expect(loaded.spec.target.unique_key).toEqual(['revenue_date', 'merchant_id']);
    expect(loaded.spec.execution.query_timeout).toBe(15 * 60_000);
    expect(loaded.spec.execution.daily_scan_budget).toBe(2e12);
    expect(loaded.spec.approval).toEqual({
      approvers: ['finance-controller', 'head-of-finance-data'],
      allow_owner: false,
      timeout: 7 * 86_400_000,
      require_signature: false,
    });
    expect(loaded.spec.measures.map((m) => m.column)).toEqual(['net_revenue', 'gross_revenue', 'order_count']);
  });

  it('resolves sql_file against the spec file, not the working directory', () => {
    const text = readFileSync(RUNNABLE, 'utf8');
    // Same text, placed as if it lived elsewhere: the relative sql_file no longer resolves.
    const failure = failureOf(
      () => loadSpecText(text, join(EXAMPLES, 'invalid', 'moved.yaml')),
      BackfillError.InvalidSpec,
    );
    const issue = locatedIssues(failure).find((i) => i.path === 'transform.sql_file');
    expect(issue?.line).toBe(text.split('\n').findIndex((l) => l.includes('sql_file:')) + 1);
  });
});

describe('examples/invalid/*.yaml', () => {
  // graph-*.yaml are release graph specs, refused by client/load-graph.ts (test/client/load-graph.test.ts).
  const files = readdirSync(INVALID)
    .filter((f) => (f.endsWith('.yaml') || f.endsWith('.yml')) && !f.startsWith('graph-'))
    .sort();

  it('holds examples', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it.each(files)('%s is refused with InvalidSpec at its expected path and line', (file) => {
    const path = join(INVALID, file);
    const text = readFileSync(path, 'utf8');
    const expected = /^# expect-error-at: (\S+)\s*$/m.exec(text)?.[1];
    expect(expected, `${file} lacks a "# expect-error-at: <yaml path>" header`).toBeDefined();

    const failure = failureOf(() => loadSpecFile(path), BackfillError.InvalidSpec);
    const issue = locatedIssues(failure).find((i) => i.path === expected);
    expect(issue, `issues: ${JSON.stringify(failure.details.issues)}`).toBeDefined();
    expect(issue!.line).toEqual(expect.any(Number));
    expect(issue!.line).toBeGreaterThan(2);
    expect(issue!.line).toBeLessThanOrEqual(text.split('\n').length);
    expect(failure.message).toContain(path);
    expect(failure.message).toContain(`  - ${expected} (line ${issue!.line}): `);
  });

  it('places the line on the offending key', () => {
    const text = readFileSync(join(INVALID, 'negative-concurrency.yaml'), 'utf8');
    const failure = failureOf(
      () => loadSpecFile(join(INVALID, 'negative-concurrency.yaml')),
      BackfillError.InvalidSpec,
    );
    const line = text.split('\n').findIndex((l) => l.includes('max_concurrency: -1')) + 1;
    expect(locatedIssues(failure).find((i) => i.path === 'execution.max_concurrency')?.line).toBe(line);
  });
});

describe('loadSpecText / loadSpecFile failures', () => {
  const seedText = () => readFileSync(SEED, 'utf8');

  it('refuses YAML syntax errors with InvalidSpec and a line', () => {
    const failure = failureOf(
      () => loadSpecText('backfill_id: x\nowner: [a,\nreason: b\n', 'broken.yaml'),
      BackfillError.InvalidSpec,
    );
    const [issue] = locatedIssues(failure);
    expect(issue?.path).toBe('(yaml)');
    expect(issue?.line).toEqual(expect.any(Number));
    expect(failure.message).toContain('broken.yaml');
    expect(failure.message).toContain('fix the YAML syntax');
  });

  it('refuses a duplicate key with InvalidSpec at the second occurrence', () => {
    const text = `${seedText()}\nowner: someone-else\n`;
    const failure = failureOf(() => loadSpecText(text, 'dup.yaml'), BackfillError.InvalidSpec);
    const [issue] = locatedIssues(failure);
    expect(issue?.path).toBe('(yaml)');
    expect(issue?.line).toBe(text.split('\n').indexOf('owner: someone-else') + 1);
    expect(issue?.message).toMatch(/unique/i);
  });

  it('refuses an unknown key with its line and a hint', () => {
    const text = seedText().replace('  max_concurrency: 2', '  max_concurency: 2');
    const failure = failureOf(() => loadSpecText(text, join(EXAMPLES, 'typo.yaml')), BackfillError.InvalidSpec);
    const issue = locatedIssues(failure).find((i) => i.path === 'execution.max_concurency');
    expect(issue?.line).toBe(text.split('\n').indexOf('  max_concurency: 2') + 1);
    expect(failure.message).toContain('did you mean max_concurrency?');
  });

  it('refuses a missing sql_file at transform.sql_file', () => {
    const text = `${seedText()}\ntransform:\n  sql_file: sql/does-not-exist.sql\n  code_version: git:1\n`;
    const failure = failureOf(() => loadSpecText(text, join(EXAMPLES, 'x.yaml')), BackfillError.InvalidSpec);
    const issue = locatedIssues(failure).find((i) => i.path === 'transform.sql_file');
    expect(issue?.message).toContain('does-not-exist.sql');
    expect(issue?.line).toBe(text.split('\n').indexOf('  sql_file: sql/does-not-exist.sql') + 1);
  });

  it('refuses an unreadable spec file with InvalidSpec naming the path', () => {
    const missing = join(EXAMPLES, 'no-such-spec.yaml');
    const failure = failureOf(() => loadSpecFile(missing), BackfillError.InvalidSpec);
    expect(failure.message).toContain(missing);
    expect(failure.message).toContain('ENOENT');
  });
});

describe('"__proto__" keys', () => {
  it('are kept by the yaml package as an own property, which copying into an object would drop', () => {
    const measures = parseYaml('__proto__: { expected_delta: "0%" }\norder_count: { expected_delta: "0%" }\n');
    expect(Object.keys(measures)).toEqual(['__proto__', 'order_count']);
    expect(Object.getPrototypeOf(measures)).toBe(Object.prototype);
    // What a plain copy does with it (zod's record does the same): the entry is gone.
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(measures)) copy[k] = v;
    expect(Object.keys(copy)).toEqual(['order_count']);
  });

  it('are refused as a measure name with their path', () => {
    const issues = issuesOf(edited((s) => {
      s.validation.measures = parseYaml('__proto__: { expected_delta: "0%" }\norder_count: { expected_delta: "0%" }\n');
    }));
    expect(issues)
      .toEqual([{ path: 'validation.measures.__proto__', message: expect.stringContaining('"__proto__" key') }]);
    expect(issues[0]!.message).toContain('rename or remove it');
  });

  it('are refused anywhere in the document: top level, a section, a list entry', () => {
    const input = parseYaml(`${readFileSync(SEED, 'utf8')}\n__proto__: { owner: x }\n`);
    input.execution.pause_windows = [parseYaml('{ start: "01:00", end: "02:00", __proto__: 1 }')];
    input.reason = parseYaml('{ issue: FIN-1, change: fix, __proto__: {} }');
    expect(issuesOf(input).filter((i) => i.message.includes('__proto__')).map((i) => i.path).sort())
      .toEqual(['__proto__', 'execution.pause_windows[0].__proto__', 'reason.__proto__']);
  });

  it('are found in JSON input too, and shared or self-containing objects are walked once', () => {
    expect(protoKeyPaths(JSON.parse('{"a":[{"b":{"__proto__":1}}]}'))).toEqual([['a', 0, 'b', '__proto__']]);
    const loop: Record<string, unknown> = { x: 1 };
    loop.self = loop;
    expect(protoKeyPaths({ a: loop, b: loop })).toEqual([]);
    expect(protoKeyPaths({ constructor: 1, prototype: 2 })).toEqual([]);
  });
});

describe('refusals stay short and finite', () => {
  it(`lists at most ${MAX_LISTED_ISSUES} problems, then says how many more`, () => {
    const issues = issuesOf(edited((s) => {
      for (let i = 0; i < MAX_LISTED_ISSUES + 10; i++) s[`unknown_${i}`] = 1;
    }));
    expect(issues).toHaveLength(MAX_LISTED_ISSUES + 1);
    expect(issues.at(-1))
      .toEqual({ path: '(more)', message: '10 more problems not listed; fix the ones above and validate again' });
  });

  it('describes a list that contains itself (a YAML alias) instead of throwing', () => {
    const issues = issuesOf(edited((s) => { s.owner = parseYaml('&a [*a]'); }));
    expect(issues).toEqual([{ path: 'owner', message: 'must be string, got a list that contains itself' }]);
  });
});

describe('transform.sql_file content bounds', () => {
  const withFile = (s: Raw) => { s.transform = { sql_file: 'fix.sql', code_version: 'git:abc' }; };
  const goodSql = 'SELECT * FROM staging.e WHERE d >= :partition_start AND d < :partition_end';

  it('reports the reader\'s own refusal at transform.sql_file, prefixed with the path', () => {
    const issues = issuesOf(edited(withFile), () => {
      throw new Error('it is a directory, not a regular file; name a .sql file, e.g. sql/fix.sql');
    });
    expect(issues).toEqual([
      {
        path: 'transform.sql_file',
        message: 'cannot read "fix.sql": it is a directory, not a regular file; name a .sql file, e.g. sql/fix.sql',
      },
    ]);
  });

  it(`refuses SQL read from a file beyond ${SPEC_LIMITS.sqlChars} characters`, () => {
    const issues = issuesOf(edited(withFile), () => goodSql + ' '.repeat(SPEC_LIMITS.sqlChars));
    expect(issues).toEqual([
      { path: 'transform.sql_file', message: expect.stringContaining(`above the maximum ${SPEC_LIMITS.sqlChars}`) },
    ]);
  });

  it(`refuses a runtime spec larger than ${SPEC_LIMITS.specPayloadBytes} bytes as JSON, ` +
    `naming the largest part`, () => {
    // Under the character limit, but every newline doubles in JSON: about 2 MB of workflow input.
    const sql = goodSql + '\n'.repeat(1_000_000);
    expect(sql.length).toBeLessThanOrEqual(SPEC_LIMITS.sqlChars);
    const issues = issuesOf(edited(withFile), () => sql);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('transform');
    expect(issues[0]!.message).toMatch(new RegExp(
      '^the parsed spec is \\d+ bytes as JSON \\(1\\.9 MiB\\), above the maximum 1572864 bytes \\(1\\.5 MiB\\) ' +
        'that a workflow input may carry; transform \\(the SQL read from transform\\.sql_file\\) is 1\\.9 MiB of it, ' +
        'shorten it$',
    ));
  });

  it('accepts a runtime spec just under the payload bound', () => {
    const r = parseSpec(edited(withFile), { readSqlFile: () => goodSql + '\n'.repeat(700_000) });
    expect(r.ok, JSON.stringify(!r.ok && r.issues)).toBe(true);
    expect(new TextEncoder().encode(JSON.stringify(r.ok && r.spec)).byteLength)
      .toBeLessThanOrEqual(SPEC_LIMITS.specPayloadBytes);
  });
});

describe('validation.checks and the expectation scopes', () => {
  const check = (over: Record<string, unknown> = {}) => ({
    name: 'gross-matches-events',
    description: 'gross revenue equals the events per day',
    sql: 'SELECT revenue_date FROM {{shadow}} WHERE revenue_date >= :partition_start AND revenue_date < :partition_end',
    ...over,
  });
  const withChecks = (...checks: unknown[]) => edited((s) => {
    s.validation.checks = checks;
  });

  it('parses a check with severity fail by default, and the measure bands', () => {
    const r = parseSpec(edited((s) => {
      s.validation.checks = [check()];
      s.validation.measures = { gross_revenue: { expected_delta: '+3% to +6%', batch_delta: '+1% to +8%',
        partition_delta: '0% to +12%' } };
    }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.spec.validation.checks).toEqual([{ ...check(), severity: 'fail' }]);
    expect(r.spec.measures.find((m) => m.column === 'gross_revenue')).toMatchObject({
      expected_delta: { min: 3, max: 6 }, batch_delta: { min: 1, max: 8 }, partition_delta: { min: 0, max: 12 },
    });
  });

  it.each([
    [{ sql: 'DELETE FROM {{shadow}} WHERE d >= :partition_start AND d < :partition_end' }, 'must be a SELECT'],
    [{ sql: 'SELECT 1 FROM t WHERE d >= :partition_start' }, 'must filter on :partition_end'],
    [{ sql: 'SELECT 1 FROM {{prod}} WHERE d >= :partition_start AND d < :partition_end' }, 'uses {{prod}}'],
    [{ sql: 'SELECT nextval(\'s\') FROM t WHERE d >= :partition_start AND d < :partition_end; SELECT 2' },
      'more than one statement'],
    [{ sql: 'SELECT 1 FROM t WHERE d >= :partition_start AND d < :partition_end AND x IN (SELECT 1 FROM t ' +
      'WHERE (SELECT 1) = 1) UNION SELECT 1 FROM read_csv(\'x\') WHERE 1=1 AND EXISTS (SELECT 1 FROM t) ' +
      'AND 1 = (SELECT COUNT(*) FROM (COPY t TO \'f\'))' }, 'uses COPY'],
    [{ name: 'Bad Name' }, 'lowercase letters'],
    [{ severity: 'info' }, 'severity'],
  ])('refuses %j naming the field', (over, message) => {
    const issues = issuesOf(withChecks(check(over)));
    expect(issues.map((i) => `${i.path}: ${i.message}`).join('\n')).toContain(message);
    expect(issues[0]!.path).toMatch(/^validation\.checks\[0\]\./);
  });

  it('bounds the list: more than 20 checks is one refusal', () => {
    const issues = issuesOf(withChecks(...Array.from({ length: 21 }, (_, i) => check({ name: `c${i}` }))));
    expect(issues).toEqual([{ path: 'validation.checks', message: expect.stringContaining('21') }]);
  });
});
