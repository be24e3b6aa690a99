/**
 * Tests that call warehouse steps directly (not through the workflow) claim the backfill's tables
 * first, as the workflow's claim step does: nothing is created or dropped without a claim.
 */
import type { BackfillSpec } from '../../domain/spec/schema';
import { claimTables } from '../../warehouse/ownership';
import type { Driver } from '../../warehouse/warehouse';

export const AT = '2026-06-01T00:00:00.000Z';

/** Claims the spec's shadow, restore point and view for its backfill_id (idempotent); returns the spec. */
export async function claimed<S extends BackfillSpec>(db: Driver, spec: S): Promise<S> {
  await claimTables(db, spec, AT);
  return spec;
}
