export { backfillWorkflow } from './backfill-workflow';
export {
  lineageThroughWorker, planThroughWorker, previewThroughWorker, reportThroughWorker, sqlThroughWorker,
} from './tools';
export { releaseWorkflow } from './release-workflow';
