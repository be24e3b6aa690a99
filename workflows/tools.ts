/**
 * Short workflows through which the CLI reads the warehouse while a worker holds it (DuckDB allows
 * one writing process per file): `plan`, `sql`, `report` for an ended backfill or a release,
 * `lineage`, and `preview`.
 * One activity each, no state; read-only but for the preview's scratch table; a refused request
 * fails at once (not retried).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ToolActivities } from '../activities';
import type { SqlRequest, SqlResult } from '../activities/tools';
import { nonRetryableErrorTypes } from '../contracts/errors';
import type { Lineage } from '../contracts/release';
import type { ReleaseReportData, ReportData } from '../contracts/report';
import type { Plan } from '../domain/plan';
import type { PreviewResult } from '../domain/preview';
import type { BackfillSpec } from '../domain/spec/schema';

const tools = proxyActivities<ToolActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes },
});

export async function planThroughWorker(spec: BackfillSpec, sample: boolean): Promise<Plan> {
  return tools.estimatePlanForCli(spec, sample);
}

export async function sqlThroughWorker(req: SqlRequest): Promise<SqlResult> {
  return tools.readOnlySql(req);
}

export async function reportThroughWorker(backfillId: string): Promise<ReportData | null> {
  return tools.reportDataById(backfillId);
}

/** `backfill report <release_id>`: the release's record and lineage and every node's report; read-only. */
export async function releaseReportThroughWorker(releaseId: string): Promise<ReleaseReportData | null> {
  return tools.releaseReportById(releaseId);
}

/** `backfill preview`: writes only its scratch table (dropped before it returns) and that table's record. */
export async function previewThroughWorker(spec: BackfillSpec, req: { partitions: number }): Promise<PreviewResult> {
  return tools.previewForCli(spec, req);
}

/** `backfill lineage`: a release graph's record and its nodes' verdicts. */
export async function lineageThroughWorker(releaseId: string): Promise<Lineage | null> {
  return tools.lineageForCli(releaseId);
}
