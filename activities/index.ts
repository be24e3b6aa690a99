/**
 * Activities come from a factory over injected dependencies (a warehouse driver, a clock, a
 * Temporal client, metrics), one module per runbook phase. The workflow proxies them by type only,
 * in two option profiles, each narrowed to the activities it may call. Every activity is
 * idempotent: a retry after a crash or a lost completion leaves the warehouse as one run would.
 */
import { withFailureTranslation } from './failure';
import { batchActivities } from './batch';
import { toolkit, type ActivityDeps } from './context';
import { operatorActivities } from './operator';
import { planActivities } from './plan';
import { prepareActivities } from './prepare';
import { releaseActivities } from './release';
import { releaseGraphActivities } from './release-graph';
import { toolActivities } from './tools';

export type { ActivityDeps, BackfillMetrics } from './context';

export function createActivities(deps: ActivityDeps) {
  const kit = toolkit(deps);
  return withFailureTranslation({
    ...planActivities(kit),
    ...prepareActivities(kit),
    ...batchActivities(kit),
    ...releaseActivities(kit),
    ...releaseGraphActivities(kit),
    ...operatorActivities(kit),
    ...toolActivities(kit),
  });
}

export type Activities = ReturnType<typeof createActivities>;

/** Short calls: control-schema bookkeeping, audit, operator requests (5-minute timeout, no heartbeat). */
export type MetadataActivities = Pick<
  Activities,
  | 'planBackfill' | 'acquireLease' | 'releaseLease' | 'claimTables' | 'resumePoint' | 'recordAudit'
  | 'countLivePipelines' | 'acceptBatch' | 'signoffRelease' | 'reportData' | 'verifyDecision' | 'evaluateMonitors'
  | 'upstreamReady' | 'signoffReleaseGraph' | 'failReleaseGraph'
>;

/** Long warehouse statements: heartbeating, cancellable, retried with backoff. */
export type WarehouseActivities = Pick<
  Activities,
  | 'takeSnapshot' | 'prepareShadow' | 'proveIdempotency' | 'runBatch' | 'rewriteBatch' | 'checkpointBatch'
  | 'verifyCompletion'
  | 'publishRelease' | 'rollbackRelease' | 'cleanupTables'
  | 'prepareRelease' | 'publishReleaseGraph' | 'rollbackReleaseGraph'
>;

/** What the CLI asks of the worker that holds the warehouse (short; read-only but the preview's scratch table). */
export type ToolActivities = Pick<
  Activities,
  'estimatePlanForCli' | 'readOnlySql' | 'reportDataById' | 'releaseReportById' | 'previewForCli' | 'lineageForCli'
>;
