/**
 * The backfill's state machine as data: which state may follow which. Pure; the workflow asks
 * `canMove` before every transition so an impossible move is a bug caught in tests, not in prod.
 */
import type { BackfillState } from '../contracts/status';

const NEXT: Record<BackfillState, readonly BackfillState[]> = {
  planning: ['preparing', 'failed'],
  // snapshot, shadow, idempotency proof
  // the first batch's gate or halt, or straight to approval when every batch was checkpointed before
  preparing: ['running', 'paused', 'halted', 'awaiting_approval', 'failed'],
  running: ['paused', 'halted', 'awaiting_approval', 'failed'],
  paused: ['running', 'failed'],
  // a failed check: retry or accept goes back to running, abort fails
  halted: ['running', 'paused', 'failed'],
  awaiting_approval: ['publishing', 'failed'],
  publishing: ['published', 'failed'],
  // the rollback window
  published: ['rolled_back', 'completed', 'failed'],
  rolled_back: [],
  completed: [],
  failed: [],
};

/** States in which production may have been written (publish started). */
export const PUBLISHED_STATES: readonly BackfillState[] = ['publishing', 'published', 'rolled_back', 'completed'];

export function canMove(from: BackfillState, to: BackfillState): boolean {
  return NEXT[from].includes(to);
}

export function isTerminal(state: BackfillState): boolean {
  return NEXT[state].length === 0;
}

/** Problems with a workflow input that the client's zod parse should have caught. */
export function inputProblems(input: unknown): string[] {
  const i = input as { spec?: { backfill_id?: unknown; source_range?: unknown; target?: { table?: unknown }; execution?: unknown } } | null;
  const problems: string[] = [];
  if (!i || typeof i !== 'object') return ['input must be an object { spec, startedBy }'];
  if (!i.spec || typeof i.spec !== 'object') return ['input.spec is missing; start the workflow with a spec parsed by `backfill start`'];
  if (typeof i.spec.backfill_id !== 'string') problems.push('spec.backfill_id is missing');
  if (!i.spec.source_range) problems.push('spec.source_range is missing');
  if (typeof i.spec.target?.table !== 'string') problems.push('spec.target.table is missing');
  if (!i.spec.execution) problems.push('spec.execution is missing');
  return problems;
}
