export { backfillWorkflow } from './backfill-workflow';
export { planThroughWorker, reportThroughWorker, sqlThroughWorker } from './tools';
