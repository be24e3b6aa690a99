/** Runbook step 0: plan the range, take the target's lease, claim the tables this backfill will create. */
import type { PlanSummary } from '../domain/plan';
import { summarize } from '../domain/plan';
import type { BackfillSpec } from '../domain/spec/schema';
import { claimTables } from '../warehouse/ownership';
import { estimatePlan } from '../warehouse/plan-estimates';
import { log, type Toolkit } from './context';

export function planActivities({ db, controlOf, ensureControl, audit, now }: Toolkit) {
  return {
    /**
     * Checks the target against the spec, estimates, and records the plan (idempotent: re-planning
     * replaces the same backfill's plan). Returns only the summary; batches stay in the warehouse.
     */
    async planBackfill(spec: BackfillSpec, startedBy: string): Promise<PlanSummary> {
      const tag = { backfillId: spec.backfill_id, phase: 'plan' };
      await ensureControl(spec);
      // A release node's transform reads upstream shadows, still being written: it is estimated on
      // the production tables they replace (same columns, the rows before the fix).
      const estimated = spec.release && spec.transform
        ? { ...spec, transform: { ...spec.transform, sql: spec.release.planSql } }
        : spec;
      const plan = await estimatePlan(db, estimated, { tag, sample: true, timeoutMs: spec.execution.query_timeout });
      const at = now();
      const { partitions, batches, rows, bytes } = plan.totals;
      await controlOf(spec).recordPlan(plan, spec, at, { tag });
      await controlOf(spec).audit({
        backfillId: spec.backfill_id,
        at,
        actor: startedBy,
        action: 'planned',
        detail: { partitions, batches, rows },
      });
      log().info(`planned ${partitions} partitions in ${batches} batches`, {
        partitions, batches, rows, bytes, representativePartition: plan.representativePartition,
      });
      return summarize(plan);
    },

    /** One active backfill per target table (sqlmesh#3866). Re-taking one's own lease is a no-op. */
    async acquireLease(spec: BackfillSpec, workflowId: string, startedBy: string): Promise<void> {
      const target = spec.target.table;
      await ensureControl(spec);
      const had = await controlOf(spec).leaseOf(target);
      await controlOf(spec).acquireLease(target, spec.backfill_id, workflowId, now());
      if (!had) await audit(spec, startedBy, 'lease_acquired', { target, workflowId });
      log().info(had ? `lease on ${target} already held by this backfill` : `lease on ${target} acquired`, { target });
    },

    async releaseLease(spec: BackfillSpec, reason: string): Promise<void> {
      const target = spec.target.table;
      const held = await controlOf(spec).leaseOf(target);
      if (held?.backfillId !== spec.backfill_id) {
        log().info(`lease on ${target} not held by this backfill; nothing to release`, { target, reason });
        return;
      }
      await controlOf(spec).releaseLease(target, spec.backfill_id);
      await audit(spec, 'workflow', 'lease_released', { target, reason });
      log().info(`lease on ${target} released: ${reason}`, { target, reason });
    },

    /**
     * Before the first write: refuses a backfill that already published, and names (shadow,
     * restore point, view) that hold a table this backfill did not create or that another backfill
     * claimed; claims the free ones in backfill_control.owned_tables.
     */
    async claimTables(spec: BackfillSpec, startedBy: string): Promise<{ claimed: string[] }> {
      const tag = { backfillId: spec.backfill_id, phase: 'claim' };
      const check = await claimTables(db, spec, now(), { tag, timeoutMs: spec.execution.query_timeout });
      const claimed = check.tables.map((t) => `${t.role} ${t.name}`);
      const tables = check.tables.map((t) => ({
        role: t.role, table: t.name, canonical: t.canonical, handedOverFrom: t.handOver?.backfillId ?? null,
      }));
      await audit(spec, startedBy, 'tables_claimed', { tables });
      log().info(`tables owned by this backfill: ${claimed.join(', ')}`, { tables: claimed });
      return { claimed };
    },
  };
}
