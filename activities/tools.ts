/**
 * What the CLI asks of the worker while the worker holds the warehouse (DuckDB allows one writing
 * process per file): a plan's estimates, a read-only look at tables, a finished backfill's report
 * data, a release's report data, and a preview. Only the preview writes (its own scratch table);
 * each runs inside a short workflow (workflows/tools.ts).
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { ReleaseReportData, ReportData } from '../contracts/report';
import { bucketPoints, REPORT_POINTS } from '../domain/report-points';
import type { Plan } from '../domain/plan';
import type { BackfillSpec } from '../domain/spec/schema';
import { compileTransform, readOnlySelectProblems, SQL_LIMITS } from '../domain/transform-sql';
import type { PreviewResult } from '../domain/preview';
import { previewPlan } from '../warehouse/plan-estimates';
import { previewBackfill } from '../warehouse/preview';
import { gatherReleaseReportData } from '../warehouse/release-report-data';
import { queryReadOnly, type Driver, type Row } from '../warehouse/warehouse';
import type { Toolkit } from './context';
import { reportForWorkflow } from './operator';

export interface SqlRequest {
  sql: string;
  /** Rows returned at most (1..SQL_LIMITS.rows); one more is read to tell whether there were more. */
  limit: number;
}

export interface SqlResult {
  columns: string[];
  /** Cells as the JSON the driver read (bigints as text). */
  rows: Array<Record<string, unknown>>;
  truncated: boolean;
}

/**
 * `sql` checked, wrapped in a row limit and run in a read-only transaction where the engine has one
 * (DuckDB: a write that got past the checks, such as nextval(), fails and nothing persists; Snowflake
 * has none, its role's grants guard it); shared by the worker's activity, on the file it holds
 * read-write, and the CLI's direct path, which also opens the file read-only.
 */
export async function readOnlyQuery(db: Pick<Driver, 'transaction'>, req: SqlRequest): Promise<SqlResult> {
  const problems = readOnlySelectProblems(req.sql);
  if (problems.length) {
    throw new BackfillFailure(BackfillError.InvalidRequest, `sql: the statement ${problems.join('; ')}.`, { problems });
  }
  if (!Number.isInteger(req.limit) || req.limit < 1 || req.limit > SQL_LIMITS.rows) {
    throw new BackfillFailure(BackfillError.InvalidRequest, `--limit: a whole number 1..${SQL_LIMITS.rows}`);
  }
  // Trailing comments and `;` dropped the way a transform's are, so the SELECT nests as a subquery.
  const body = compileTransform(req.sql, () => '').sql;
  const rows: Row[] = await queryReadOnly(db, `SELECT * FROM (\n${body}\n) AS backfill_sql LIMIT ${req.limit + 1}`);
  const plain = rows.slice(0, req.limit).map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof (v as unknown) === 'bigint' ? String(v) : v])));
  return { columns: Object.keys(rows[0] ?? {}), rows: plain, truncated: rows.length > req.limit };
}

/** Points a release's report carries through Temporal, over every measure of every node. */
export const RELEASE_REPORT_POINTS = 3_000;
/** Points a series keeps however many nodes share the budget (a chart still reads as a line). */
const MIN_SERIES_POINTS = 100;

/**
 * Points per series within `total`: short series keep every point, what they leave is shared evenly
 * by the longer ones (none above REPORT_POINTS, none below MIN_SERIES_POINTS unless it is shorter).
 */
export function seriesBudgets(lengths: number[], total = RELEASE_REPORT_POINTS): number[] {
  const out = lengths.map(() => 0);
  let left = total;
  let count = lengths.length;
  for (const i of lengths.map((_, j) => j).sort((a, b) => lengths[a]! - lengths[b]!)) {
    const share = Math.max(MIN_SERIES_POINTS, Math.floor(left / count));
    out[i] = Math.min(lengths[i]!, share, REPORT_POINTS);
    left -= out[i]!;
    count--;
  }
  return out;
}

/** A release's report as an activity returns it: every node's series bucketed within RELEASE_REPORT_POINTS. */
export async function releaseReportForWorkflow(db: Driver, releaseId: string): Promise<ReleaseReportData | null> {
  const data = await gatherReleaseReportData(db, releaseId, { tag: { backfillId: releaseId, phase: 'report' } });
  if (!data) return null;
  const budgets = seriesBudgets(data.nodes.flatMap((n) => n?.series.map((s) => s.points.length) ?? []));
  let k = 0;
  const nodes = data.nodes.map((n) =>
    n && { ...n, series: n.series.map((s) => ({ ...s, points: bucketPoints(s.points, budgets[k++]!) })) });
  return { ...data, nodes };
}

export function toolActivities({ db, now }: Toolkit) {
  return {
    /** The plan `backfill plan` prints (warehouse/plan-estimates.ts previewPlan); nothing is recorded. */
    async estimatePlanForCli(spec: BackfillSpec, sample: boolean): Promise<Plan> {
      return previewPlan(db, spec, sample);
    },

    /** `backfill sql`: one SELECT, checked, row-limited. */
    async readOnlySql(req: SqlRequest): Promise<SqlResult> {
      return readOnlyQuery(db, req);
    },

    /** `backfill report` for a backfill whose workflow has ended, read by the worker that holds the file. */
    async reportDataById(backfillId: string): Promise<ReportData | null> {
      return reportForWorkflow(db, backfillId);
    },

    /** `backfill report <release_id>`: the release's record, lineage and every node's report; reads only. */
    async releaseReportById(releaseId: string): Promise<ReleaseReportData | null> {
      return releaseReportForWorkflow(db, releaseId);
    },

    /**
     * `backfill preview` while the worker holds the file: the one tool that writes, and only its
     * scratch table and that table's ownership record (warehouse/preview.ts); production is read.
     */
    async previewForCli(spec: BackfillSpec, req: { partitions: number }): Promise<PreviewResult> {
      return previewBackfill(db, spec, { partitions: req.partitions, now });
    },
  };
}
