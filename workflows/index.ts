export { backfillWorkflow } from './backfill-workflow';
export { planThroughWorker, previewThroughWorker, reportThroughWorker, sqlThroughWorker } from './tools';
