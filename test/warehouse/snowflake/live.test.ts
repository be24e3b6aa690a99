/**
 * Opt-in: the warehouse steps of a backfill against a REAL Snowflake account, run only when
 * SNOWFLAKE_ACCOUNT is set (with the other SNOWFLAKE_* variables, see README "Running on
 * Snowflake"); otherwise every test here is reported as skipped. It works in a scratch schema it
 * creates and drops, and never touches anything else: snapshot (zero-copy CLONE), shadow (LIKE),
 * idempotency proof, batch evidence, range publish and rollback, Time Travel retention.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../../client/load-spec';
import type { BackfillSpec } from '../../../domain/spec/schema';
import { gatherBatchEvidence } from '../../../warehouse/batch-evidence';
import { fingerprint, fingerprintSpec } from '../../../warehouse/fingerprint';
import { columnNames } from '../../../warehouse/catalog';
import { publish, rollbackRelease, cleanupBackfillTables } from '../../../warehouse/publish';
import { createShadow, createSnapshot, proveIdempotency, tablesOf } from '../../../warehouse/shadow';
import { snowflakeConfigFromEnv } from '../../../warehouse/snowflake/config';
import { openSnowflake, type SnowflakeDriver } from '../../../warehouse/snowflake/driver';
import { batchPartitions } from '../../../domain/plan';
import { AT, claimed } from '../../support/owned';

const live = Boolean(process.env.SNOWFLAKE_ACCOUNT);
const scratch = `backfill_live_${Date.now().toString(36)}`;

describe.skipIf(!live)('Snowflake, live account (SNOWFLAKE_ACCOUNT)', () => {
  let db: SnowflakeDriver;
  let spec: BackfillSpec;

  beforeAll(async () => {
    db = await openSnowflake(snowflakeConfigFromEnv());
    const base = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
    spec = {
      ...base,
      backfill_id: scratch.replace(/_/g, '-'),
      source_range: { ...base.source_range, start: '2025-01-01', end: '2025-01-07' },
      target: { ...base.target, table: `${scratch}.daily_revenue`, shadow_table: `${scratch}.daily_revenue_v2` },
      rollback: { ...base.rollback, snapshot: `${scratch}.daily_revenue_pre` },
      transform: {
        ...base.transform!,
        sql: `SELECT revenue_date, merchant_id, gross_revenue, tax_amount, gross_revenue - tax_amount AS net_revenue,
                order_count, CAST(CURRENT_TIMESTAMP AS TIMESTAMP_NTZ) AS recalculated_at, 'FIN-2841' AS backfill_id
              FROM ${scratch}.daily_revenue_src
              WHERE revenue_date >= :partition_start AND revenue_date < :partition_end`,
      },
    };
    await db.execute(`CREATE SCHEMA ${scratch}`);
    const columns = `revenue_date DATE, merchant_id VARCHAR, gross_revenue NUMBER(18,2), tax_amount NUMBER(18,2),
      net_revenue NUMBER(18,2), order_count NUMBER, recalculated_at TIMESTAMP_NTZ, backfill_id VARCHAR`;
    await db.execute(`CREATE TABLE ${scratch}.daily_revenue (${columns})`);
    await db.execute(`CREATE TABLE ${scratch}.daily_revenue_src (${columns})`);
    const rows = `SELECT DATEADD(day, SEQ4() % 7, '2025-01-01'::DATE), 'M' || LPAD(FLOOR(SEQ4() / 7)::VARCHAR, 5, '0'),
      100 + SEQ4() % 50, 10 + SEQ4() % 5, 100 + SEQ4() % 50, 3, CURRENT_TIMESTAMP::TIMESTAMP_NTZ, 'seed'
      FROM TABLE(GENERATOR(ROWCOUNT => 70))`;
    await db.execute(`INSERT INTO ${scratch}.daily_revenue ${rows}`);
    await db.execute(`INSERT INTO ${scratch}.daily_revenue_src ${rows}`);
  }, 120_000);

  afterAll(async () => {
    if (!db) return;
    await db.execute(`DROP SCHEMA IF EXISTS ${scratch} CASCADE`).catch(() => undefined);
    await db.close();
  });

  it('runs snapshot, shadow, proof, evidence, publish and rollback, ' +
    'restoring the exact pre-publish result', async () => {
    const t = tablesOf(spec);
    const columns = await columnNames(db, spec.target.table);
    const range = (table: typeof t.target) =>
      fingerprint(db, fingerprintSpec(spec, table, columns, '2025-01-01', '2025-01-08'));
    const before = await range(t.target);
    expect(await createSnapshot(db, await claimed(db, spec), AT)).toBe(true);
    expect(await createShadow(db, await claimed(db, spec), AT)).toBe(true);
    const proof = await proveIdempotency(db, spec, batchPartitions(spec, 0)[3]!);
    expect(proof.first).toEqual(proof.second);
    const evidence = await gatherBatchEvidence(db, spec, 0, batchPartitions(spec, 0));
    expect(evidence.partitions).toHaveLength(7);
    const release = await publish(db, spec, {
      releaseId: `${spec.backfill_id}-release`,
      approvedBy: 'live-test',
      publishedAt: new Date().toISOString(),
      rollbackExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect(release.alreadyPublished).toBe(false);
    await rollbackRelease(db, spec, {
      releaseId: release.release.releaseId,
      by: 'live-test',
      reason: 'live test',
      at: new Date().toISOString(),
    });
    expect(await range(t.target)).toEqual(before);
    expect((await db.retention(t.target))?.days).toBeGreaterThanOrEqual(0);
    await cleanupBackfillTables(db, spec, AT);
  }, 600_000);
});
