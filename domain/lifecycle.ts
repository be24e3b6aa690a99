/**
 * The backfill's state machine as data: which state may follow which. Pure; the workflow asks
 * `canMove` before every transition so an impossible move is a bug caught in tests, not in prod.
 */
import type { BackfillState } from '../contracts/status';

const NEXT: Record<BackfillState, readonly BackfillState[]> = {
  planning: ['planned', 'failed'],
  planned: ['completed', 'failed'],
  completed: [],
  failed: [],
};

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
