/**
 * Activities come from a factory over injected dependencies, so tests hand in a real in-memory
 * DuckDB and a fixed clock. The workflow proxies `Activities` by type only.
 */
import { summarize, type PlanSummary } from '../domain/plan';
import type { BackfillSpec } from '../domain/spec/schema';
import { ControlStore } from '../warehouse/control-store';
import { estimatePlan } from '../warehouse/plan-estimates';
import type { Driver } from '../warehouse/warehouse';
import { withFailureTranslation } from './failure';

export interface ActivityDeps {
  warehouse: Driver;
  clock?: () => Date;
}

export function createActivities({ warehouse, clock = () => new Date() }: ActivityDeps) {
  const control = new ControlStore(warehouse);
  const now = () => clock().toISOString();

  return withFailureTranslation({
    /**
     * Checks the target against the spec, estimates, and records the plan (idempotent: re-planning
     * replaces the same backfill's plan). Returns only the summary; batches stay in the warehouse.
     */
    async planBackfill(spec: BackfillSpec, startedBy: string): Promise<PlanSummary> {
      const tag = { backfillId: spec.backfill_id, phase: 'plan' };
      await control.ensure({ tag });
      const plan = await estimatePlan(warehouse, spec, { tag, sample: true, timeoutMs: spec.execution.query_timeout });
      const at = now();
      await control.recordPlan(plan, spec, at, { tag });
      await control.audit({
        backfillId: spec.backfill_id,
        at,
        actor: startedBy,
        action: 'planned',
        detail: { partitions: plan.totals.partitions, batches: plan.totals.batches, rows: plan.totals.rows },
      });
      return summarize(plan);
    },
  });
}

export type Activities = ReturnType<typeof createActivities>;
