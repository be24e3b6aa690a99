/** Release graph specs as a YAML loader returns them, for tests that edit one field. */
import { parseGraph } from '../../domain/graph/parse';
import type { ParseOptions, SpecIssue } from '../../domain/spec/parse';
import type { ReleaseGraph } from '../../contracts/release';

/** A graph spec as a YAML loader returns it: edited freely before parsing. */
export type RawGraph = any;

export const DAILY_SQL =
  'SELECT revenue_date, merchant_id, sum(gross_amount - tax_amount) AS net_revenue FROM staging.revenue_events\n' +
  'WHERE revenue_date >= :partition_start AND revenue_date < :partition_end GROUP BY ALL';

export const MONTHLY_SQL =
  "SELECT CAST(date_trunc('month', revenue_date) AS DATE) AS revenue_month, merchant_id, " +
  'sum(net_revenue) AS net_revenue\n' +
  "FROM {{ ref('finance.daily_revenue') }}\n" +
  'WHERE revenue_date >= :partition_start AND revenue_date < :partition_end GROUP BY ALL';

export const LTV_SQL =
  'SELECT revenue_month, merchant_id, sum(net_revenue) OVER (PARTITION BY merchant_id ORDER BY revenue_month) ' +
  'AS lifetime_net_revenue\n' +
  "FROM {{ref(\"finance.monthly_revenue\")}}\n" +
  'WHERE revenue_month < :partition_end QUALIFY revenue_month >= :partition_start';

/** A node with the fields every node needs; `extra` is merged over it. */
export const node = (table: string, sql: string | undefined, extra: Record<string, unknown> = {}): RawGraph => ({
  target: { table, partition_key: table.endsWith('daily_revenue') ? 'revenue_date' : 'revenue_month' },
  ...(sql === undefined ? {} : { transform: { sql, code_version: 'git:8f31c2a' } }),
  validation: { row_count_tolerance: 0 },
  ...extra,
});

/** Daily → monthly → lifetime value, written in that order, over 2025-01-01 .. 2025-06-30 by day. */
export function baseGraph(): RawGraph {
  return {
    release_id: 'revenue-release-2025-h1',
    owner: 'finance-data',
    reason: { issue: 'FIN-2841', change: 'Correct tax-inclusive revenue calculation' },
    source_range: { start: '2025-01-01', end: '2025-06-30', grain: 'day' },
    approval: { approvers: ['finance-controller'] },
    rollback: { window: '14d' },
    execution: { partitions_per_batch: 7, max_concurrency: 2, query_timeout: '15m' },
    nodes: [
      node('finance.daily_revenue', DAILY_SQL, { inputs: ['staging.revenue_events'] }),
      node('finance.monthly_revenue', MONTHLY_SQL, { grain: 'month', execution: { partitions_per_batch: 1 } }),
      node('finance.merchant_ltv_monthly', LTV_SQL, { grain: 'month' }),
    ],
  };
}

export function editedGraph(edit: (g: RawGraph) => void): RawGraph {
  const g = baseGraph();
  edit(g);
  return g;
}

/** The parsed graph, or a thrown Error listing the issues. */
export function parsed(input: RawGraph, options: ParseOptions = {}): ReleaseGraph {
  const r = parseGraph(input, options);
  if (!r.ok) {
    throw new Error(`expected the graph to parse:\n${r.issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  }
  return r.graph;
}

/** The issues of a refused graph. */
export function graphIssues(input: RawGraph, options: ParseOptions = {}): SpecIssue[] {
  const r = parseGraph(input, options);
  if (r.ok) throw new Error('expected the graph to be refused');
  return r.issues;
}
