/**
 * The file edge of release graph specs (client/load-graph.ts), over the same helpers as a backfill
 * spec's (client/spec-yaml.ts): the example release loads, every examples/invalid/graph-*.yaml is
 * refused at its expected path and line, sql_file is read relative to the graph spec and kept in its
 * folder, and YAML limits and file checks apply. Real files in a temporary folder; no server.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadGraphFile, loadGraphText, loadRunnableGraph, type LoadedGraph } from '../../client/load-graph';
import type { LocatedIssue } from '../../client/load-spec';
import { BackfillError, type BackfillFailure } from '../../contracts/errors';
import { SPEC_LIMITS } from '../../contracts/limits';
import { failureOf } from '../support/failures';
import { baseGraph, editedGraph, MONTHLY_SQL, type RawGraph } from '../support/graph-fixtures';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const INVALID = join(EXAMPLES, 'invalid');

const invalid = (fn: () => unknown): BackfillFailure => failureOf(fn, BackfillError.InvalidSpec);
const issuesOf = (f: BackfillFailure) => (f.details.issues ?? []) as LocatedIssue[];

/** The one issue at `path`. */
function issueAt(f: BackfillFailure, path: string): LocatedIssue {
  const at = issuesOf(f).filter((i) => i.path === path);
  expect(at, f.message).toHaveLength(1);
  return at[0]!;
}

/** 1-based line of the first line containing `text`. */
const lineOf = (yaml: string, text: string) => nthLine(yaml, text, 1);

/** 1-based line of the `n`th line containing `text`. */
function nthLine(yaml: string, text: string, n: number): number {
  const lines = yaml.split('\n').map((l, i) => [l, i + 1] as const).filter(([l]) => l.includes(text));
  return lines[n - 1]?.[1] ?? 0;
}

let dir: string;

beforeAll(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'load-graph-')), 'specs');
  mkdirSync(join(dir, 'sql'), { recursive: true });
  writeFileSync(join(dir, 'sql', 'monthly.sql'), MONTHLY_SQL);
});

function written(graph: RawGraph, name = 'release.yaml'): { file: string; text: string } {
  const text = stringify(graph);
  const file = join(dir, name);
  writeFileSync(file, text);
  return { file, text };
}

describe('examples/revenue-release.yaml', () => {
  let loaded: LoadedGraph;
  beforeAll(() => {
    loaded = loadRunnableGraph(join(EXAMPLES, 'revenue-release.yaml'));
  });

  it('loads as a runnable release of three nodes in dependency order, without warnings', () => {
    const { graph } = loaded;
    expect(graph.release_id).toBe('revenue-release-2025-h1');
    expect(graph.nodes.map((n) => [n.id, n.spec.target.table, n.spec.source_range.grain, n.upstream])).toEqual([
      ['daily_revenue', 'finance.daily_revenue', 'day', []],
      ['monthly_revenue', 'finance.monthly_revenue', 'month', ['daily_revenue']],
      ['merchant_ltv_monthly', 'finance.merchant_ltv_monthly', 'month', ['monthly_revenue']],
    ]);
    expect(loaded.warnings).toEqual([]);
    expect(loaded.notRunnable).toEqual([]);
  });

  it('reads each sql_file relative to the graph spec and resolves its refs', () => {
    const [daily, monthly, ltv] = loaded.graph.nodes;
    expect(daily!.spec.transform!.sql).toBe(readFileSync(join(EXAMPLES, 'sql', 'revenue-tax-fix.sql'), 'utf8'));
    expect(monthly!.spec.transform!.sql_file).toBe('sql/monthly-revenue.sql');
    expect(monthly!.spec.transform!.sql).toContain(`FROM ${daily!.spec.target.shadow_table}\n`);
    expect(monthly!.planSql).toContain('FROM finance.daily_revenue\n');
    expect(ltv!.spec.transform!.sql).toContain(`FROM ${monthly!.spec.target.shadow_table}\n`);
    expect(ltv!.inputs).toEqual(['finance.monthly_revenue']);
  });

  it("gives every node the single example's expectations on net revenue, and the months whole months", () => {
    const [daily, monthly] = loaded.graph.nodes;
    const net = (m: { column: string }) => m.column === 'net_revenue';
    expect(daily!.spec.measures.find(net)?.expected_delta).toEqual({ min: -1.5, max: -0.8 });
    expect(monthly!.spec.measures.find(net)?.expected_delta).toEqual({ min: -1.5, max: -0.8 });
    expect(monthly!.spec.source_range).toMatchObject({ start: '2025-01-01', end: '2025-06-01' });
    expect(monthly!.spec.target.unique_key).toEqual(['revenue_month', 'merchant_id']);
  });
});

describe('examples/invalid/graph-*.yaml', () => {
  const files = readdirSync(INVALID).filter((f) => f.startsWith('graph-') && f.endsWith('.yaml')).sort();

  it('holds the cycle, unknown ref, month → day and duplicate table examples', () => {
    expect(files).toEqual([
      'graph-cycle.yaml', 'graph-duplicate-table.yaml', 'graph-month-to-day.yaml', 'graph-unknown-ref.yaml',
    ]);
  });

  it.each(files)('%s is refused with InvalidSpec at its expected path and line', (file) => {
    const path = join(INVALID, file);
    const text = readFileSync(path, 'utf8');
    const expected = /^# expect-error-at: (\S+)\s*$/m.exec(text)?.[1];
    expect(expected, `${file} lacks a "# expect-error-at: <yaml path>" header`).toBeDefined();
    const failure = invalid(() => loadGraphFile(path));
    const issue = issueAt(failure, expected!);
    expect(issue.line).toBeGreaterThan(2);
    expect(issue.line).toBeLessThanOrEqual(text.split('\n').length);
    expect(failure.message).toContain(`${path}: the release spec is invalid`);
    expect(failure.message).toContain(`  - ${expected} (line ${issue.line}): `);
  });

  it('puts each refusal on the line of the node field it names', () => {
    const unknown = readFileSync(join(INVALID, 'graph-unknown-ref.yaml'), 'utf8');
    expect(issueAt(invalid(() => loadGraphFile(join(INVALID, 'graph-unknown-ref.yaml'))), 'nodes[1].transform.sql')
      .line).toBe(nthLine(unknown, 'sql: |', 2));
    const dup = readFileSync(join(INVALID, 'graph-duplicate-table.yaml'), 'utf8');
    expect(issueAt(invalid(() => loadGraphFile(join(INVALID, 'graph-duplicate-table.yaml'))), 'nodes[1].target.table')
      .line).toBe(nthLine(dup, 'target: { table: finance.daily_revenue', 2));
  });
});

describe('loadGraphText / loadGraphFile', () => {
  it('reads sql_file relative to the graph spec', () => {
    const { file } = written(editedGraph((g) => {
      g.nodes[1].transform = { sql_file: 'sql/monthly.sql', code_version: 'git:1' };
    }));
    const { graph } = loadGraphFile(file);
    expect(graph.nodes[1]!.spec.transform).toMatchObject({ sql_file: 'sql/monthly.sql' });
    expect(graph.nodes[1]!.upstream).toEqual(['daily_revenue']);
  });

  it("refuses a sql_file outside the graph spec's folder at nodes[i].transform.sql_file, on its line", () => {
    const { file, text } = written(editedGraph((g) => {
      g.nodes[1].transform = { sql_file: '../../etc/passwd', code_version: 'git:1' };
    }), 'outside.yaml');
    const issue = issueAt(invalid(() => loadGraphFile(file)), 'nodes[1].transform.sql_file');
    expect(issue.message).toContain("is outside the spec's folder");
    expect(issue.line).toBe(lineOf(text, 'sql_file: ../../etc/passwd'));
  });

  it('locates a problem of a field the release gives every node on the release\'s line', () => {
    const { file, text } = written(editedGraph((g) => {
      delete g.execution.partitions_per_batch;
    }), 'no-batch.yaml');
    const issue = issueAt(invalid(() => loadGraphFile(file)), 'execution.partitions_per_batch');
    expect(issue.line).toBe(lineOf(text, 'execution:'));
  });

  it('locates a defaulted field (a node grain not written) on its node', () => {
    const { file, text } = written(editedGraph((g) => {
      delete g.nodes[2].grain;
    }), 'grain.yaml');
    const issue = issueAt(invalid(() => loadGraphFile(file)), 'nodes[2].grain');
    expect(issue.line).toBeGreaterThanOrEqual(lineOf(text, 'finance.merchant_ltv_monthly') - 3);
    expect(issue.line).toBeLessThanOrEqual(lineOf(text, 'finance.merchant_ltv_monthly'));
  });

  it('refuses duplicate keys and YAML syntax errors with their lines', () => {
    const text = stringify(baseGraph()).replace('owner: finance-data\n', 'owner: finance-data\nowner: someone\n');
    const f = invalid(() => loadGraphText(text, 'dup.yaml'));
    expect(issuesOf(f)).toEqual([{
      path: '(yaml)',
      line: lineOf(text, 'owner: someone'),
      message: 'Map keys must be unique: "owner" is given twice in this map; keep one',
    }]);
    expect(f.message).toMatch(/^dup\.yaml: the release spec is invalid \(1 problem\):/);
    expect(issuesOf(invalid(() => loadGraphText('release_id: [unclosed\n', 'bad.yaml')))[0]!.message)
      .toMatch(/fix the YAML syntax$/);
  });

  it('refuses more YAML aliases than the limit, before expanding them', () => {
    const aliases = Array.from({ length: SPEC_LIMITS.yamlAliases + 1 }, (_, i) => `  - *a${i % 1}`).join('\n');
    const text = `${stringify(baseGraph())}x: &a0 1\ny:\n${aliases}\n`;
    expect(issuesOf(invalid(() => loadGraphText(text, 'aliases.yaml')))[0]!.message)
      .toContain(`uses more than ${SPEC_LIMITS.yamlAliases} YAML aliases`);
  });

  it('checks the file before reading it', () => {
    expect(invalid(() => loadGraphFile(dir)).message)
      .toBe(`${dir}: the release spec file is a directory, not a regular file; give the path of a YAML file, ` +
        'e.g. examples/revenue-release.yaml');
    expect(invalid(() => loadGraphFile(join(dir, 'missing.yaml'))).message)
      .toBe(`${join(dir, 'missing.yaml')}: cannot read the release spec file (ENOENT); check the path`);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, 'x'.repeat(SPEC_LIMITS.specFileBytes + 1));
    expect(invalid(() => loadGraphFile(big)).message).toContain('the release spec file is 1048577 bytes');
  });
});

describe('loadRunnableGraph', () => {
  it('refuses a valid graph that cannot run yet with SpecNotRunnable, at the graph paths', () => {
    const { file } = written(editedGraph((g) => {
      delete g.approval;
      delete g.nodes[2].transform;
    }), 'not-runnable.yaml');
    expect(loadGraphFile(file).notRunnable.map((p) => p.path)).toEqual([
      'approval.approvers', 'nodes[0].target.unique_key', 'nodes[1].target.unique_key',
      'nodes[2].transform', 'nodes[2].target.unique_key',
    ]);
    const failure = failureOf(() => loadRunnableGraph(file), BackfillError.SpecNotRunnable);
    expect(failure.message).toContain('the release spec is valid but cannot run yet (5 problems)');
    expect(failure.message).toMatch(/ {2}- approval\.approvers \(line \d+\): is missing; list who may approve/);
  });
});
