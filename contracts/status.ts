/**
 * Plain-JSON shapes that cross the workflow boundary (input, query results). Type-only imports, so
 * workflow, client and worker can all use them without pulling runtime code into the sandbox.
 */
import type { PlanSummary } from '../domain/plan';
import type { BackfillSpec } from '../domain/spec/schema';

export interface BackfillInput {
  /** The parsed, resolved spec (client/load-spec.ts); plain JSON. */
  spec: BackfillSpec;
  /** Who started the run, for the audit log. */
  startedBy: string;
}

/** Lifecycle states; the workflow moves through them via domain/lifecycle.ts. */
export type BackfillState = 'planning' | 'planned' | 'completed' | 'failed';

export interface BackfillStatus {
  backfillId: string;
  state: BackfillState;
  /** What the workflow is doing right now, in words. */
  phase: string;
  target: string;
  range: { start: string; end: string; grain: string };
  partitions: { done: number; total: number };
  batches: { done: number; total: number };
  plan: PlanSummary | null;
  error: string | null;
}
