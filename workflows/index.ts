export { backfillWorkflow } from './backfill-workflow';
