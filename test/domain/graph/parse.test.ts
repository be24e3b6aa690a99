/**
 * parseGraph (domain/graph/parse.ts): each node becomes a BackfillSpec through parseSpec, refs resolve
 * to the upstream node's shadow (spec) or production table (planSql), nodes come out in dependency
 * order, and every refusal names the node's YAML path and says what to do.
 */
import { describe, expect, it } from 'vitest';
import { GRAPH_LIMITS, SPEC_LIMITS } from '../../../contracts/limits';
import {
  nodeBackfillId,
  parseGraph,
  scanRefs,
  snapshotTableFor,
} from '../../../domain/graph/parse';
import { shadowTableFor, type SpecIssue } from '../../../domain/spec/parse';
import {
  baseGraph,
  DAILY_SQL,
  editedGraph,
  graphIssues,
  LTV_SQL,
  MONTHLY_SQL,
  node,
  parsed,
} from '../../support/graph-fixtures';

const RELEASE = 'revenue-release-2025-h1';
const shadowOf = (table: string, id: string) => shadowTableFor(table, nodeBackfillId(RELEASE, id));

/** The one issue at `path`. */
function issueAt(issues: SpecIssue[], path: string): SpecIssue {
  const at = issues.filter((i) => i.path === path);
  expect(at, JSON.stringify(issues, null, 2)).toHaveLength(1);
  return at[0]!;
}

describe('a valid graph', () => {
  const graph = parsed(baseGraph());
  const [daily, monthly, ltv] = graph.nodes;

  it('keeps the release fields and lists the nodes in dependency order with their upstream ids', () => {
    expect(graph).toMatchObject({
      release_id: RELEASE,
      owner: 'finance-data',
      reason: { issue: 'FIN-2841' },
      source_range: { start: '2025-01-01', end: '2025-06-30', grain: 'day' },
    });
    expect(graph.nodes.map((n) => [n.id, n.upstream])).toEqual([
      ['daily_revenue', []],
      ['monthly_revenue', ['daily_revenue']],
      ['merchant_ltv_monthly', ['monthly_revenue']],
    ]);
    expect(daily!.inputs).toEqual(['staging.revenue_events']);
    expect(monthly!.inputs).toEqual([]);
  });

  it("makes each node a backfill spec: <release_id>--<id>, the release's owner, reason, approval and rollback", () => {
    expect(daily!.spec.backfill_id).toBe(`${RELEASE}--daily_revenue`);
    for (const n of graph.nodes) {
      expect(n.spec.owner).toBe('finance-data');
      expect(n.spec.reason.change).toBe('Correct tax-inclusive revenue calculation');
      expect(n.spec.approval?.approvers).toEqual(['finance-controller']);
      expect(n.spec.rollback.window).toBe(14 * 86_400_000);
      expect(n.spec.rollback.cleanup).toBe('after_signoff');
    }
  });

  it('derives the shadow and snapshot names from the release and the node', () => {
    expect(daily!.spec.target.shadow_table)
      .toBe('finance.daily_revenue__shadow_revenue_release_2025_h1__daily_revenue');
    expect(daily!.spec.rollback.snapshot).toBe('finance.daily_revenue_pre_revenue_release_2025_h1');
    expect(snapshotTableFor('finance.x', 'a-b-c')).toBe('finance.x_pre_a_b_c');
  });

  it("maps the release's range to each node's grain, inclusive", () => {
    expect(daily!.spec.source_range).toMatchObject({ start: '2025-01-01', end: '2025-06-30', grain: 'day' });
    expect(monthly!.spec.source_range).toMatchObject({ start: '2025-01-01', end: '2025-06-01', grain: 'month' });
    expect(ltv!.spec.source_range.max_partitions).toBe(1000);
  });

  it("merges execution field by field: the node's own fields over the release's defaults", () => {
    expect(daily!.spec.execution)
      .toMatchObject({ partitions_per_batch: 7, max_concurrency: 2, query_timeout: 900_000 });
    expect(monthly!.spec.execution).toMatchObject({ partitions_per_batch: 1, max_concurrency: 2 });
  });

  it("resolves refs to the upstream node's shadow in the spec, and to its production table in planSql", () => {
    expect(monthly!.spec.transform!.sql).toBe(
      MONTHLY_SQL.replace("{{ ref('finance.daily_revenue') }}", shadowOf('finance.daily_revenue', 'daily_revenue')),
    );
    expect(monthly!.planSql).toBe(MONTHLY_SQL.replace("{{ ref('finance.daily_revenue') }}", 'finance.daily_revenue'));
    expect(ltv!.spec.transform!.sql).toContain(`FROM ${shadowOf('finance.monthly_revenue', 'monthly_revenue')}\n`);
    expect(ltv!.planSql).toContain('FROM finance.monthly_revenue\n');
    expect(daily!.planSql).toBe(DAILY_SQL);
    expect(daily!.spec.transform!.sql).toBe(DAILY_SQL);
    expect(ltv!.spec.transform!.sql).not.toContain('{{');
  });
});

describe('refs', () => {
  it('allow whitespace variants, either quote and any case of the table name', () => {
    for (const ref of [
      "{{ref('finance.daily_revenue')}}",
      '{{  ref ( "finance.daily_revenue" )  }}',
      "{{\n  ref('FINANCE.Daily_Revenue')\n}}",
      "{{ REF( 'finance.daily_revenue' ) }}",
    ]) {
      const g = parsed(editedGraph((s) => {
        s.nodes[1].transform.sql = MONTHLY_SQL.replace("{{ ref('finance.daily_revenue') }}", ref);
      }));
      expect(g.nodes[1]!.upstream, ref).toEqual(['daily_revenue']);
      expect(g.nodes[1]!.spec.transform!.sql).toContain(`FROM ${shadowOf('finance.daily_revenue', 'daily_revenue')}\n`);
      expect(g.nodes[1]!.planSql).toContain('FROM finance.daily_revenue\n');
    }
  });

  it('in a comment or a string literal are text, not dependencies, and are left as written', () => {
    const sql = `-- was {{ ref('finance.merchant_ltv_monthly') }}\n${DAILY_SQL} AND 'x' <> '{{ ref("a.b") }}'`;
    const g = parsed(editedGraph((s) => {
      s.nodes[0].transform.sql = sql;
    }));
    expect(g.nodes[0]!.upstream).toEqual([]);
    expect(g.nodes[0]!.spec.transform!.sql).toBe(sql);
    expect(scanRefs(sql)).toEqual({ refs: [], strays: [] });
  });

  it('list each upstream node once, in the order of first use', () => {
    const sql = "SELECT * FROM {{ ref('finance.monthly_revenue') }} m JOIN {{ ref('finance.daily_revenue') }} d " +
      "USING (merchant_id) JOIN {{ ref('finance.monthly_revenue') }} m2 USING (merchant_id) " +
      'WHERE revenue_month >= :partition_start AND revenue_month < :partition_end';
    const g = parsed(editedGraph((s) => {
      s.nodes[2].transform.sql = sql;
    }));
    expect(g.nodes[2]!.upstream).toEqual(['monthly_revenue', 'daily_revenue']);
    expect(g.nodes[2]!.planSql).toBe(sql.replace(/\{\{ ref\('([^']+)'\) \}\}/g, '$1'));
  });

  it('refuses a ref to a table no node writes, naming the node path and the node tables', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[1].transform.sql = MONTHLY_SQL.replace('finance.daily_revenue', 'finance.daily_revenu');
    }));
    const issue = issueAt(issues, 'nodes[1].transform.sql');
    expect(issue.message).toContain("{{ ref('finance.daily_revenu') }} names no node of this release");
    expect(issue.message).toContain(
      'ref one of finance.daily_revenue, finance.monthly_revenue, finance.merchant_ltv_monthly',
    );
    expect(issue.message).toContain('list it in nodes[1].inputs');
  });

  it('refuses an unknown ref in a sql_file at nodes[i].transform.sql_file', () => {
    const files: Record<string, string> = { 'sql/monthly.sql': MONTHLY_SQL.replace('daily_revenue', 'weekly') };
    const issues = graphIssues(
      editedGraph((s) => {
        s.nodes[1].transform = { sql_file: 'sql/monthly.sql', code_version: 'git:1' };
      }),
      { readSqlFile: (p) => files[p]! },
    );
    expect(issueAt(issues, 'nodes[1].transform.sql_file').message).toContain("{{ ref('finance.weekly') }}");
  });

  it('reads sql_file through the reader and resolves its refs, keeping sql_file on the spec', () => {
    const read: string[] = [];
    const g = parsed(
      editedGraph((s) => {
        s.nodes[1].transform = { sql_file: 'sql/monthly.sql', code_version: 'git:1' };
      }),
      { readSqlFile: (p) => (read.push(p), MONTHLY_SQL) },
    );
    expect(read).toEqual(['sql/monthly.sql']);
    expect(g.nodes[1]!.spec.transform).toMatchObject({ sql_file: 'sql/monthly.sql', code_version: 'git:1' });
    expect(g.nodes[1]!.spec.transform!.sql).toContain(shadowOf('finance.daily_revenue', 'daily_revenue'));
  });

  it('refuses a sql_file that cannot be read, at its path, with the reader\'s advice', () => {
    const issues = graphIssues(
      editedGraph((s) => {
        s.nodes[1].transform = { sql_file: 'sql/missing.sql', code_version: 'git:1' };
      }),
      {
        readSqlFile: () => {
          throw new Error('no such file (ENOENT); the path is relative to the spec file');
        },
      },
    );
    expect(issueAt(issues, 'nodes[1].transform.sql_file').message)
      .toBe('cannot read "sql/missing.sql": no such file (ENOENT); the path is relative to the spec file');
    const noReader = graphIssues(editedGraph((s) => {
      s.nodes[1].transform = { sql_file: 'sql/monthly.sql', code_version: 'git:1' };
    }));
    expect(issueAt(noReader, 'nodes[1].transform.sql_file').message).toContain('client/load-graph.ts');
  });

  it('refuses any other {{ }} placeholder before the transform rules see it', () => {
    for (const stray of ['{{ shadow }}', "{{ ref(finance.daily_revenue) }}", "{{ source('finance.daily_revenue') }}"]) {
      const issues = graphIssues(editedGraph((s) => {
        s.nodes[1].transform.sql = MONTHLY_SQL.replace("{{ ref('finance.daily_revenue') }}", stray);
      }));
      const issue = issueAt(issues, 'nodes[1].transform.sql');
      expect(issue.message, stray).toContain(`uses "${stray}"`);
      expect(issue.message).toContain("the only placeholder in a release's transform is {{ ref('schema.table') }}");
    }
    const unclosed = graphIssues(editedGraph((s) => {
      s.nodes[1].transform.sql = `${MONTHLY_SQL} AND {{ ref('finance.daily_revenue')`;
    }));
    expect(issueAt(unclosed, 'nodes[1].transform.sql').message).toMatch(/^uses "\{\{/);
  });

  it('still applies the transform rules after substitution', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[1].transform.sql = "SELECT * FROM {{ ref('finance.daily_revenue') }} WHERE d >= :partition_start";
    }));
    expect(issueAt(issues, 'nodes[1].transform.sql').message)
      .toBe('must filter on :partition_end so that it reads and returns one partition');
  });

  it("warns when a transform names another node's table without a ref, unless it is listed in inputs", () => {
    const sql = MONTHLY_SQL.replace("{{ ref('finance.daily_revenue') }}", 'finance.daily_revenue');
    const r = parseGraph(editedGraph((s) => {
      s.nodes[1].transform.sql = sql;
    }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.graph.nodes.map((n) => n.id)).toEqual(['daily_revenue', 'monthly_revenue', 'merchant_ltv_monthly']);
    expect(r.graph.nodes[1]!.upstream).toEqual([]);
    const warning = r.warnings.find((w) => w.path === 'nodes[1].transform.sql');
    expect(warning?.message).toContain("reads finance.daily_revenue by name, which is production's published rows");
    expect(warning?.message).toContain("write {{ ref('finance.daily_revenue') }}");
    const declared = parseGraph(editedGraph((s) => {
      s.nodes[1].transform.sql = sql;
      s.nodes[1].inputs = ['finance.daily_revenue'];
    }));
    expect(declared.ok && declared.warnings.filter((w) => w.path === 'nodes[1].transform.sql')).toEqual([]);
  });
});

describe('dependency order', () => {
  it('puts every node after the nodes it refs, whatever the written order', () => {
    const g = parsed(editedGraph((s) => {
      s.nodes.reverse();
    }));
    expect(g.nodes.map((n) => n.id)).toEqual(['daily_revenue', 'monthly_revenue', 'merchant_ltv_monthly']);
  });

  it('keeps the written order among independent nodes (stable)', () => {
    const g = parsed(editedGraph((s) => {
      s.nodes = [
        node('finance.monthly_revenue', MONTHLY_SQL, { grain: 'month' }),
        node('finance.fx_daily_revenue', DAILY_SQL.replace('revenue_date', 'revenue_date')),
        node('finance.daily_revenue', DAILY_SQL),
        node('finance.audit_daily_revenue', DAILY_SQL),
      ];
    }));
    expect(g.nodes.map((n) => n.id))
      .toEqual(['fx_daily_revenue', 'daily_revenue', 'monthly_revenue', 'audit_daily_revenue']);
  });
});

describe('refusals naming the node and the field', () => {
  const cyclic = (a: string, b: string) =>
    editedGraph((s) => {
      s.nodes[0].transform.sql = DAILY_SQL.replace('staging.revenue_events', `{{ ref('${a}') }}`);
      s.nodes[0].inputs = [];
      if (b) s.nodes[2].transform.sql = LTV_SQL.replace('finance.monthly_revenue', b);
    });

  it('a self-ref is a cycle of one node', () => {
    const issue = issueAt(graphIssues(cyclic('finance.daily_revenue', '')), 'nodes[0].transform.sql');
    expect(issue.message).toContain("{{ ref('finance.daily_revenue') }} is this node's own target.table");
    expect(issue.message).toContain('a cycle (daily_revenue → daily_revenue)');
    expect(issue.message).toContain('name finance.daily_revenue directly and list it in nodes[0].inputs');
  });

  it('a cycle is listed from its first node, each node reading the one before it', () => {
    const issue = issueAt(graphIssues(cyclic('finance.monthly_revenue', '')), 'nodes[0].transform.sql');
    expect(issue.message).toBe(
      'is in a cycle: daily_revenue → monthly_revenue → daily_revenue (each node reads the one before it); a ' +
        'release runs its nodes in dependency order, so a node cannot depend on itself: remove one of these refs, ' +
        "e.g. {{ ref('finance.monthly_revenue') }} here",
    );
  });

  it('a longer cycle names every node once, and a node downstream of it is not blamed', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[0].transform.sql =
        DAILY_SQL.replace('staging.revenue_events', "{{ ref('finance.merchant_ltv_monthly') }}");
      s.nodes.push(node('finance.report', "SELECT * FROM {{ ref('finance.merchant_ltv_monthly') }} " +
        'WHERE revenue_month >= :partition_start AND revenue_month < :partition_end', { grain: 'month' }));
    }));
    const cycles = issues.filter((i) => i.message.startsWith('is in a cycle'));
    expect(cycles).toHaveLength(1);
    expect(cycles[0]!.path).toBe('nodes[0].transform.sql');
    expect(cycles[0]!.message)
      .toContain('daily_revenue → monthly_revenue → merchant_ltv_monthly → daily_revenue');
  });

  it('a node finer than a node it refs (month → day) is refused at its grain', () => {
    const issues = graphIssues(editedGraph((s) => {
      delete s.nodes[2].grain;
    }));
    const issue = issueAt(issues, 'nodes[2].grain');
    expect(issue.message).toBe(
      'is day, finer than nodes[1] (monthly_revenue, month) which it refs; a node\'s grain must be the same as or ' +
        "coarser than each upstream node's (hour < day < month), so that each of its partitions waits for whole " +
        'upstream partitions: set grain: month',
    );
  });

  it('accepts hour → day → month', () => {
    const g = parsed(editedGraph((s) => {
      s.source_range = { start: '2025-01-01T00:00', end: '2025-06-30T23:00', grain: 'hour', max_partitions: 5000 };
      s.nodes[0].grain = 'day';
      s.nodes.unshift(node('finance.hourly_revenue', DAILY_SQL.replace('revenue_date >=', 'revenue_hour >=')));
      s.nodes[1].transform.sql = DAILY_SQL.replace('staging.revenue_events', "{{ ref('finance.hourly_revenue') }}");
      s.nodes[1].inputs = [];
    }));
    expect(g.nodes.map((n) => `${n.id}:${n.spec.source_range.grain}`))
      .toEqual(['hourly_revenue:hour', 'daily_revenue:day', 'monthly_revenue:month', 'merchant_ltv_monthly:month']);
    expect(g.nodes[0]!.spec.source_range).toMatchObject({ start: '2025-01-01T00:00:00', end: '2025-06-30T23:00:00' });
    expect(g.nodes[1]!.spec.source_range).toMatchObject({ start: '2025-01-01', end: '2025-06-30' });
  });

  it("a node finer than the release's grain is refused, saying how to write the range", () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[0].grain = 'hour';
    }));
    expect(issueAt(issues, 'nodes[0].grain').message).toBe(
      "is hour, finer than the release's source_range.grain day; write source_range at the finest grain of any " +
        'node: grain: hour, start: 2025-01-01T00:00, end: 2025-06-30T23:00',
    );
  });

  it('a month node needs the range to start and end on whole months, and says what to write', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.source_range = { start: '2025-01-15', end: '2025-06-20' };
    }));
    for (const path of ['nodes[1].grain', 'nodes[2].grain']) {
      expect(issueAt(issues, path).message).toBe(
        'is month, so the node rewrites whole months, but source_range.start 2025-01-15 is inside a month; start ' +
          "on a month's first day, e.g. start: 2025-01-01 (or 2025-02-01); and source_range.end 2025-06-20 is " +
          "inside a month; end on a month's last day, e.g. end: 2025-06-30 (or 2025-05-31)",
      );
    }
    expect(issues.some((i) => i.path.startsWith('nodes[0]'))).toBe(false);
  });

  it('a release written by month maps to month nodes as is', () => {
    const g = parsed(editedGraph((s) => {
      s.source_range = { start: '2025-01', end: '2025-06', grain: 'month' };
      s.nodes = s.nodes.slice(1);
      s.nodes[0].transform.sql = DAILY_SQL.replace('revenue_date >=', 'revenue_month >=');
    }));
    expect(g.nodes[0]!.spec.source_range).toMatchObject({ start: '2025-01-01', end: '2025-06-01', grain: 'month' });
  });

  it('two nodes on one table', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[2].target.table = 'FINANCE.daily_revenue';
      s.nodes[2].id = 'daily_again';
      s.nodes[2].grain = 'day';
      s.nodes[2].target.partition_key = 'revenue_date';
    }));
    expect(issueAt(issues, 'nodes[2].target.table').message).toBe(
      'FINANCE.daily_revenue is also the target of nodes[0] (daily_revenue); a release rewrites each table once: ' +
        'merge the two transforms into one node, or release them separately',
    );
    expect(issues.filter((i) => i.path.startsWith('nodes[2].rollback'))).toEqual([]);
  });

  it('duplicate node ids, written or defaulted', () => {
    const written = graphIssues(editedGraph((s) => {
      s.nodes[2].id = 'monthly_revenue';
    }));
    expect(issueAt(written, 'nodes[2].id').message)
      .toBe('"monthly_revenue" is also the id of nodes[1]; give each node its own id, e.g. id: monthly_revenue_2');
    const defaulted = graphIssues(editedGraph((s) => {
      s.nodes[2].target.table = 'archive.monthly_revenue';
    }));
    expect(issueAt(defaulted, 'nodes[2].id').message).toContain(
      '"monthly_revenue" (its default, the last part of target.table) is also the id of nodes[1]',
    );
  });

  it('a default id that is not a node id', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[2].target.table = 'finance.merchant_lifetime_value_by_month_and_region';
    }));
    expect(issueAt(issues, 'nodes[2].id').message).toBe(
      'is not set, and its default "merchant_lifetime_value_by_month_and_region" (the last part of target.table) ' +
        'is not a node id; set id: 1–30 lowercase letters, digits or "_", e.g. merchant_lifetime_value_by_mon',
    );
  });

  it("a node's target, shadow or snapshot equal to another node's (any of them, any case)", () => {
    const shadowIsTarget = graphIssues(editedGraph((s) => {
      s.nodes[1].target.shadow_table = 'Finance.Daily_Revenue';
    }));
    expect(issueAt(shadowIsTarget, 'nodes[1].target.shadow_table').message).toBe(
      '"Finance.Daily_Revenue" is also nodes[0].target.table; every table of a release must be distinct, so ' +
        'name another one here or there',
    );
    const snapshotIsShadow = graphIssues(editedGraph((s) => {
      s.nodes[2].rollback = { snapshot: shadowOf('finance.monthly_revenue', 'monthly_revenue') };
    }));
    expect(issueAt(snapshotIsShadow, 'nodes[2].rollback.snapshot').message)
      .toContain('is also nodes[1].target.shadow_table');
    const snapshotIsSnapshot = graphIssues(editedGraph((s) => {
      s.nodes[1].rollback = { snapshot: 'finance.pre_release' };
      s.nodes[2].rollback = { snapshot: 'finance.PRE_RELEASE' };
    }));
    expect(issueAt(snapshotIsSnapshot, 'nodes[2].rollback.snapshot').message)
      .toContain('is also nodes[1].rollback.snapshot');
  });

  it('an input that is a table the release creates', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[2].inputs = ['staging.fx_rates', shadowOf('finance.daily_revenue', 'daily_revenue')];
    }));
    expect(issueAt(issues, 'nodes[2].inputs[1]').message).toContain(
      "is nodes[0].target.shadow_table, a table this release creates; to read daily_revenue's corrected rows " +
        "write {{ ref('finance.daily_revenue') }}",
    );
  });

  it(`more than ${GRAPH_LIMITS.nodes} nodes, or none`, () => {
    const many = graphIssues(editedGraph((s) => {
      s.nodes = Array.from({ length: 21 }, (_, i) => node(`finance.t${i}`, DAILY_SQL));
    }));
    expect(many).toEqual([{
      path: 'nodes',
      message: 'lists 21 nodes, above the maximum 20; split the release into several, each a fix and the tables ' +
        'derived from it',
    }]);
    const none = graphIssues(editedGraph((s) => {
      s.nodes = [];
    }));
    expect(issueAt(none, 'nodes').message).toMatch(/^must list at least one node/);
  });

  it('a release_id too long for <release_id>--<node id>, and a node id that is not a slug', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.release_id = 'r'.repeat(61);
      s.nodes[0].id = 'Daily-Revenue';
    }));
    expect(issueAt(issues, 'release_id').message).toContain('must be 3–60 lowercase letters');
    expect(issueAt(issues, 'nodes[0].id').message).toContain('must be 1–30 lowercase letters, digits or "_"');
  });

  it('unknown fields in the release and in a node, with hints from the graph schema', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[1].tagret = s.nodes[1].target;
      delete s.nodes[1].target;
      s.rollback.snapshot = 'finance.x';
    }));
    expect(issueAt(issues, 'nodes[1].tagret').message).toContain('did you mean target?');
    expect(issueAt(issues, 'rollback.snapshot').message).toMatch(/^unknown field.*known fields: window, cleanup/);
  });
});

describe("a single spec's rules, re-pathed to the graph", () => {
  it("puts a node's own problems under nodes[i]", () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[1].target.unique_key = ['merchant_id'];
      s.nodes[2].validation.revenue_delta_expected = '-1%';
      s.nodes[2].validation.measures = { net_revenue: { expected_delta: '-2%' } };
    }));
    expect(issueAt(issues, 'nodes[1].target.unique_key').message)
      .toBe('must include the partition key revenue_month, so a key never spans partitions');
    expect(issueAt(issues, 'nodes[2].validation.revenue_delta_expected').message)
      .toContain('disagrees with validation.measures.net_revenue.expected_delta');
  });

  it("puts a problem of a field the release gives every node at the release's path, once", () => {
    const issues = graphIssues(editedGraph((s) => {
      delete s.execution.partitions_per_batch;
      s.nodes[1].execution = { partitions_per_batch: 1 };
    }));
    expect(issues).toEqual([{
      path: 'execution.partitions_per_batch',
      message: "is required (number); set it in execution (for every node) or in each node's execution",
    }]);
    const noExecution = graphIssues(editedGraph((s) => {
      delete s.execution;
      delete s.nodes[1].execution;
    }));
    expect(issueAt(noExecution, 'execution').message).toContain('is required; set it in execution (for every node)');
  });

  it('reports schema problems at the level that wrote them', () => {
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[1].execution.max_concurrency = 0;
      s.rollback.window = '200d';
      s.approval.approvers = [];
      s.source_range.end = '2024-12-31';
    }));
    expect(issueAt(issues, 'nodes[1].execution.max_concurrency').message).toMatch(/must be at least 1/);
    expect(issueAt(issues, 'rollback.window').message).toContain('is above the maximum 90d');
    expect(issueAt(issues, 'approval.approvers').message).toMatch(/at least one approver/);
    const range = graphIssues(editedGraph((s) => {
      s.source_range.end = '2024-12-31';
    }));
    expect(issueAt(range, 'source_range.end').message).toBe(
      '2024-12-31 is before start 2025-01-01; the range is inclusive and must not be inverted',
    );
  });

  it('passes node monitors and the release operators through, and checks them as a spec does', () => {
    const g = parsed(editedGraph((s) => {
      s.rollback.operators = ['data-platform-oncall'];
      s.nodes[1].rollback = {
        monitors: [{ name: 'months', description: 'no month lost', sql: 'SELECT COUNT(*) FROM {{target}}', min: 1 }],
      };
    }));
    expect(g.nodes[1]!.spec.rollback.operators).toEqual(['data-platform-oncall']);
    expect(g.nodes[1]!.spec.rollback.monitors.map((m) => m.name)).toEqual(['months']);
    const issues = graphIssues(editedGraph((s) => {
      s.nodes[1].rollback = { monitors: [{ name: 'months', description: 'x', sql: 'SELECT 1' }] };
    }));
    expect(issueAt(issues, 'nodes[1].rollback.monitors[0]').message).toMatch(/needs a threshold/);
  });

  it('refuses a "__proto__" key with its graph path', () => {
    const g = JSON.parse(JSON.stringify(baseGraph()).replace('"validation":{', '"validation":{"__proto__":{},'));
    expect(graphIssues(g)).toContainEqual({
      path: 'nodes[0].validation.__proto__',
      message: expect.stringMatching(/^is a "__proto__" key, which a JavaScript object cannot hold as data/),
    });
  });
});

describe('the graph payload', () => {
  it(`is refused above ${GRAPH_LIMITS.payloadBytes} bytes as JSON, naming the largest node`, () => {
    const pad = `-- ${'x'.repeat(SPEC_LIMITS.sqlChars - 2_000)}\n`;
    const issues = graphIssues(editedGraph((s) => {
      s.nodes = Array.from({ length: 20 }, (_, i) => node(`finance.t${i}`, `${pad}${DAILY_SQL}`));
      s.nodes[7].transform.sql = `${pad}${DAILY_SQL} AND 1 = 1`;
    }));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('nodes[7]');
    expect(issues[0]!.message).toMatch(
      new RegExp(`^the parsed release is \\d+ bytes as JSON \\(.+\\), above the maximum ${GRAPH_LIMITS.payloadBytes} ` +
        'bytes \\(1.5 MiB\\); nodes\\[7\\] \\(t7\\) is .+ of it: shorten its transform, or split the release$'),
    );
  });
});
