/**
 * The demo replays one backfill (examples/revenue-tax-fix.yaml) on its own sandbox file. Before it
 * reseeds, it forgets that backfill explicitly: the tables recorded as created by it are dropped and
 * its rows in the control schema deleted. Nothing of any other backfill is touched.
 */
import type { BackfillSpec } from '../domain/spec/schema';
import { ACTIVE_CLAIM, ControlStore, type ControlTable } from '../warehouse/control-store';
import { tableExists } from '../warehouse/catalog';
import { parseTableName } from '../warehouse/identifiers';
import { canonicalOf, currentDatabase } from '../warehouse/ownership';
import type { Driver } from '../warehouse/warehouse';

const PER_BACKFILL: ControlTable[] = [
  'plans', 'plan_batches', 'checkpoints', 'audit_log', 'releases', 'leases', 'owned_tables',
];

export async function resetDemoBackfill(db: Driver, spec: BackfillSpec): Promise<{ dropped: string[] }> {
  const store = new ControlStore(db);
  await store.ensure();
  const dropped: string[] = [];
  for (const t of await store.ownedBy(spec.backfill_id)) {
    if (t.role === 'view' || !ACTIVE_CLAIM.includes(t.status)) continue;
    await db.execute(db.dialect.dropTable(parseTableName(t.tableName)));
    dropped.push(t.tableName);
  }
  // A sandbox file from before tables were recorded may hold the demo's shadow and restore point
  // with no record at all; no backfill claims those names, so they go too.
  const database = await currentDatabase(db);
  for (const name of [spec.target.shadow_table, spec.rollback.snapshot]) {
    const table = parseTableName(name);
    const recorded = (await store.ownersOf(canonicalOf(table, database))).some((o) => ACTIVE_CLAIM.includes(o.status));
    if (!recorded && !dropped.includes(name) && (await tableExists(db, table))) {
      await db.execute(db.dialect.dropTable(table));
      dropped.push(name);
    }
  }
  for (const table of PER_BACKFILL) {
    await db.execute({
      sql: `DELETE FROM ${db.dialect.table(store.table(table))} WHERE backfill_id = ${db.dialect.placeholder(1)}`,
      params: [spec.backfill_id],
    });
  }
  return { dropped };
}

