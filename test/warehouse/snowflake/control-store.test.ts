/**
 * The control store on the Snowflake path (real snowflake-sdk, wire emulator). Snowflake does not
 * enforce primary keys, so the lease cannot rely on one: a second row for a target means a race,
 * and nobody holds the lease.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackfillError, isBackfillFailure } from '../../../contracts/errors';
import { CONTROL_SCHEMA, ControlStore } from '../../../warehouse/control-store';
import { openSnowflake, type SnowflakeDriver } from '../../../warehouse/snowflake/driver';
import { startSnowflakeEmulator, type SnowflakeEmulator } from '../../support/snowflake-emulator';

let emulator: SnowflakeEmulator;
let db: SnowflakeDriver;
let store: ControlStore;

beforeAll(async () => {
  emulator = await startSnowflakeEmulator();
  db = await openSnowflake({
    account: 'emulator', user: 'backfill', warehouse: 'BACKFILL_WH', database: 'ANALYTICS',
    auth: { kind: 'password', password: 'x' }, accessUrl: emulator.accessUrl, maxConnections: 2,
  });
  store = new ControlStore(db);
  await store.ensure();
});

afterAll(async () => {
  await db?.close();
  await emulator?.close();
});

describe('leases without enforced primary keys', () => {
  it('a lease is taken, re-taken by its holder, and refused to another backfill', async () => {
    const at = '2026-11-21T10:00:00.000Z';
    expect((await store.acquireLease('finance.t1', 'b1', 'w1', at)).backfillId).toBe('b1');
    expect((await store.acquireLease('finance.t1', 'b1', 'w1', at)).backfillId).toBe('b1');
    const refused = await store.acquireLease('finance.t1', 'b2', 'w2', at).catch((e: unknown) => e);
    expect(isBackfillFailure(refused, BackfillError.TargetLeased)).toBe(true);
  });

  it('when a race left two rows for one target, the acquirer backs off and removes its own row', async () => {
    // What two concurrent inserts leave behind where nothing enforces the key.
    for (const b of ['b3', 'b4']) {
      await db.execute({
        sql: `INSERT INTO ${CONTROL_SCHEMA}.leases VALUES (:1, :2, NULL, CAST(:3 AS TIMESTAMP))`,
        params: ['finance.t2', b, '2026-11-21T10:00:00.000Z'],
      });
    }
    const refused = await store
      .acquireLease('finance.t2', 'b3', 'w3', '2026-11-21T10:00:01.000Z')
      .catch((e: unknown) => e);
    expect(isBackfillFailure(refused, BackfillError.TargetLeased)).toBe(true);
    expect((refused as Error).message).toContain('b4');
    const rows = await db.query({
      sql: `SELECT backfill_id FROM ${CONTROL_SCHEMA}.leases WHERE target_table = :1`,
      params: ['finance.t2'],
    });
    expect(rows.map((r) => r.backfill_id)).toEqual(['b4']);
  });
});
