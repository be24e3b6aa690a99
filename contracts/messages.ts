/**
 * Workflow messages, defined once and imported by client, worker and workflow. Every signal takes
 * one plain JSON object, because the Temporal UI's signal form sends exactly one payload.
 */
import { defineQuery } from '@temporalio/workflow';
import type { BackfillStatus } from './status';

export const statusQuery = defineQuery<BackfillStatus>('status');

/** Shown in the Temporal UI next to each handler (passed to setHandler). */
export const messageDescriptions = {
  status: 'Backfill state, phase, progress (partitions and batches done/total), plan summary and last error.',
} as const;
