/**
 * Settings that client, worker, tests and temporal-dev.yml must agree on. Dependency-free.
 */
export const DEFAULT_NAMESPACE = 'default';
export const TASK_QUEUE = 'backfills';
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_UI_PORT = 8233;

/** Search attributes registered on the dev server so the UI's Workflows list can filter backfills. */
export const SEARCH_ATTRIBUTES = {
  BackfillState: 'Keyword',
  BackfillTarget: 'Keyword',
  BackfillOwner: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;

/** Workflow IDs are derived from backfill_id so a duplicate start is refused by the server. */
export function workflowIdFor(backfillId: string): string {
  return `backfill-${backfillId}`;
}
