/** What operators' requests need from the worker: the audit log, live-pipeline counts, the report's data. */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { ReportData } from '../contracts/report';
import { bucketPoints, REPORT_POINTS } from '../domain/report-points';
import type { BackfillSpec } from '../domain/spec/schema';
import { gatherReportData } from '../warehouse/report-data';
import type { Driver } from '../warehouse/warehouse';
import type { SignatureCheck } from '../domain/approval';
import type { SignatureToCheck } from '../domain/run/backfill-run';
import { log, type Toolkit } from './context';
import { checkSignature } from './trusted-keys';

/**
 * A backfill's report data as an activity returns it: series longer than REPORT_POINTS are summed
 * into consecutive buckets, so the payload stays far below Temporal's limit on a ten-year range.
 */
export async function reportForWorkflow(db: Driver, backfillId: string): Promise<ReportData | null> {
  const data = await gatherReportData(db, backfillId);
  return data && { ...data, series: data.series.map((s) => ({ ...s, points: bucketPoints(s.points, REPORT_POINTS) })) };
}

export function operatorActivities({ temporal, metrics, trustedKeysFile, tagged, audit }: Toolkit) {
  return {
    /** Checks a signed decision against the worker's trusted keys file (read now, so a revoked key is refused). */
    async verifyDecision(spec: BackfillSpec, d: SignatureToCheck): Promise<SignatureCheck> {
      const check = await checkSignature(trustedKeysFile, d);
      const said = check.ok
        ? `decision signed with trusted key ${check.keyId} (${check.name})`
        : `signature refused: ${check.problem}`;
      log().info(said, {
        backfillId: spec.backfill_id,
        keyId: d.keyId,
      });
      return check;
    },

    /** Appends to the audit log (operator decisions, refusals, pauses). */
    async recordAudit(
      spec: BackfillSpec,
      actor: string,
      action: string,
      detail: Record<string, unknown>,
    ): Promise<void> {
      const written = await audit(spec, actor, action, detail);
      log().info(`audit: ${action} by ${actor}`, { action, actor });
      if (!written || !metrics) return;
      // An operator's pause is audited twice: 'paused' by the signal, then 'yielding' (kind operator)
      // when the gate stops before the next batch. It is counted once, from 'paused'.
      const kind = typeof detail.kind === 'string' ? detail.kind : null;
      if (action === 'paused') metrics.paused(spec.backfill_id, kind ?? 'operator');
      else if (action === 'yielding' && kind && kind !== 'operator') metrics.paused(spec.backfill_id, kind);
    },

    /** Running live-pipeline workflows matching the spec's visibility query. */
    async countLivePipelines(query: string): Promise<number> {
      if (!temporal) {
        throw new BackfillFailure(
          BackfillError.InvalidConfig,
          'execution.live_pipeline.visibility_query is set but this worker has no Temporal client ' +
            'for visibility queries; start it with worker/main.ts.',
        );
      }
      try {
        const { count } = await temporal.client.workflow.count(query);
        log().debug(`${count} live pipeline run(s) match the visibility query`, { query, count });
        return count;
      } catch (e) {
        const message = (e as Error).message ?? String(e);
        if (/invalid|syntax|unknown|not.*defined/i.test(message)) {
          throw new BackfillFailure(
            BackfillError.InvalidSpec,
            `execution.live_pipeline.visibility_query: the Temporal server refused "${query}": ${message}. ` +
              'Fix the query (try it with `temporal workflow count --query`).',
          );
        }
        throw e;
      }
    },

    /**
     * The report's data from the control schema, for `backfill report` of a running backfill
     * (the worker owns the warehouse), bucketed as reportForWorkflow says.
     */
    async reportData(spec: BackfillSpec): Promise<ReportData | null> {
      return reportForWorkflow(tagged(spec, 'report'), spec.backfill_id);
    },
  };
}
