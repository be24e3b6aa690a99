export { backfillWorkflow } from './backfill-workflow';
export {
  lineageThroughWorker, planThroughWorker, previewThroughWorker, releaseReportThroughWorker, reportThroughWorker,
  sqlThroughWorker,
} from './tools';
export { releaseWorkflow } from './release-workflow';
