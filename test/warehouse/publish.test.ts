/**
 * Publish, rollback, sign-off and cleanup on a real DuckDB seeded with the tax-bug scenario. Every
 * test publishes into its own copy of finance.daily_revenue, with its own shadow, snapshot and view.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../client/load-spec';
import { BackfillError, isBackfillFailure, type BackfillErrorType } from '../../contracts/errors';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import { partitionAtOrdinal, rangeOrdinals } from '../../domain/partitions';
import type { BackfillSpec } from '../../domain/spec/schema';
import { columnNames, tableExists } from '../../warehouse/catalog';
import { CONTROL_SCHEMA, ControlStore } from '../../warehouse/control-store';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import type { StatementEvent } from '../../warehouse/warehouse';
import { fingerprint, fingerprintSpec } from '../../warehouse/fingerprint';
import { parseTableName, type TableName } from '../../warehouse/identifiers';
import {
  cleanupBackfillTables,
  publish,
  publishedRange,
  rollbackRelease,
  signoffRelease,
  type PublishRequest,
  type RollbackRequest,
} from '../../warehouse/publish';
import { createShadow, createSnapshot, rewritePartition, tablesOf } from '../../warehouse/shadow';
import { AT, claimed } from '../support/owned';

const base = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
/** The backfilled range, inclusive as in a spec, and as the half-open slice it covers. */
const RANGE = { start: '2025-01-01', end: '2025-01-07' };
const SLICE = { start: '2025-01-01', end: '2025-01-08' };
const ALL = { start: '2024-01-01', end: '2027-01-01' };
const BEFORE = { start: ALL.start, end: SLICE.start };
const AFTER = { start: SLICE.end, end: ALL.end };
/** A day the live pipeline rewrites while the backfill runs: outside the range. */
const LIVE_DAY = '2026-06-10';

type Mode = BackfillSpec['publish']['mode'];
type Slice = { start: string; end: string };

let db: DuckDbDriver;
let store: ControlStore;
let columns: string[];
let n = 0;
const events: StatementEvent[] = [];

beforeAll(async () => {
  db = await openDuckDb({ path: ':memory:', onStatement: (e) => events.push(e) });
  await seedRevenueScenario(db);
  store = new ControlStore(db);
  await store.ensure();
  columns = await columnNames(db, base.target.table);
});

afterAll(async () => {
  await db.close();
});

beforeEach(() => {
  events.length = 0;
});

/**
 * A backfill of RANGE with its own target (a copy of finance.daily_revenue), snapshot and a shadow
 * whose range is rewritten by the corrected transform.
 */
async function prepare(
  mode: Mode = 'range',
  patch: (s: BackfillSpec) => BackfillSpec = (s) => s,
): Promise<BackfillSpec> {
  n += 1;
  const target = `finance.target_t${n}`;
  await db.execute(`CREATE TABLE ${target} AS SELECT * FROM ${base.target.table}`);
  const spec = patch({
    ...base,
    backfill_id: `publish-test-${n}`,
    source_range: { ...base.source_range, ...RANGE },
    target: { ...base.target, table: target, shadow_table: `finance.shadow_t${n}` },
    publish: mode === 'view' ? { mode, view: `finance.view_t${n}` } : { mode },
    rollback: { ...base.rollback, snapshot: `finance.snapshot_t${n}` },
  });
  await createSnapshot(db, await claimed(db, spec), AT);
  await createShadow(db, await claimed(db, spec), AT);
  const r = rangeOrdinals(RANGE.start, RANGE.end, 'day')!;
  for (let o = r.first; o <= r.last; o++) await rewritePartition(db, spec, partitionAtOrdinal(o, 'day'), columns);
  return spec;
}

const request = (releaseId: string): PublishRequest => ({
  releaseId,
  approvedBy: 'finance-controller',
  publishedAt: '2026-06-20T09:30:00.000Z',
  rollbackExpiresAt: '2026-07-04T09:30:00.000Z',
});

const rollbackRequest = (releaseId: string): RollbackRequest => ({
  releaseId,
  by: 'head-of-finance-data',
  reason: 'dashboard totals look wrong',
  at: '2026-06-21T08:00:00.000Z',
});

/** Fingerprint over every column, audit columns included: "exactly as before" means every value. */
function fp(spec: BackfillSpec, table: 'target' | 'shadow' | 'snapshot' | TableName, slice: Slice = ALL) {
  const name = typeof table === 'string' ? tablesOf(spec)[table] : table;
  return fingerprint(db, { ...fingerprintSpec(spec, name, columns, slice.start, slice.end), hashColumns: columns });
}

const viewOf = (spec: BackfillSpec) => parseTableName(spec.publish.view!);

async function failure(p: Promise<unknown>, code: BackfillErrorType): Promise<Error> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(isBackfillFailure(e, code), String(e)).toBe(true);
  return e as Error;
}

const releaseRows = async (releaseId: string) =>
  Number(
    (
      await db.query({
        sql: `SELECT count(*) AS n FROM ${CONTROL_SCHEMA}.releases WHERE release_id = $1`,
        params: [releaseId],
      })
    )[0]!.n,
  );

/** The live pipeline corrects a day outside the range after the shadow was built. */
async function liveWrite(spec: BackfillSpec): Promise<void> {
  await db.execute({
    sql: `UPDATE ${spec.target.table} SET order_count = order_count + 1 WHERE revenue_date = CAST($1 AS DATE)`,
    params: [LIVE_DAY],
  });
}

/** Statements that write, as the driver saw them. */
const writes = () => events.filter((e) => /^\s*(DELETE|INSERT|UPDATE|ALTER|CREATE OR REPLACE VIEW)\b/i.test(e.sql));

describe('publishedRange', () => {
  it('turns the inclusive source range into the half-open slice it covers', () => {
    expect(publishedRange({ ...RANGE, grain: 'day' })).toEqual(SLICE);
    expect(publishedRange({ start: '2025-01', end: '2025-03', grain: 'month' })).toEqual({
      start: '2025-01-01',
      end: '2025-04-01',
    });
    expect(publishedRange({ start: '2025-01-01T22:00', end: '2025-01-01T23:00', grain: 'hour' })).toEqual({
      start: '2025-01-01T22:00:00',
      end: '2025-01-02T00:00:00',
    });
  });
});

describe('publish, range mode', () => {
  it('replaces exactly the range in one transaction and records the release', async () => {
    const spec = await prepare();
    const before = {
      range: await fp(spec, 'target', SLICE),
      before: await fp(spec, 'target', BEFORE),
      after: await fp(spec, 'target', AFTER),
    };
    const corrected = await fp(spec, 'shadow', SLICE);
    expect(corrected.sums.net_revenue).not.toBe(before.range.sums.net_revenue);
    events.length = 0;

    const result = await publish(db, spec, request('rel-range'));

    expect(await fp(spec, 'target', SLICE)).toEqual(corrected);
    expect(await fp(spec, 'target', BEFORE)).toEqual(before.before);
    expect(await fp(spec, 'target', AFTER)).toEqual(before.after);
    expect(result).toMatchObject({
      alreadyPublished: false,
      rowsDeleted: before.range.rows,
      rowsInserted: corrected.rows,
    });
    expect(result.release).toEqual({
      releaseId: 'rel-range',
      dataset: spec.target.table,
      backfillId: spec.backfill_id,
      publishedAt: '2026-06-20T09:30:00.000Z',
      sourceRange: { start: '2025-01-01', end: '2025-01-07', grain: 'day' },
      codeVersion: 'git:8f31c2a',
      approvedBy: 'finance-controller',
      restorePoint: spec.rollback.snapshot,
      rollbackExpiresAt: '2026-07-04T09:30:00.000Z',
      publishMode: 'range',
      status: 'published',
    });
    expect(await store.release('rel-range')).toEqual(result.release);
    expect(await store.releaseOf(spec.backfill_id)).toEqual(result.release);
    // Readers never see a half-published range: every write ran inside the one transaction, the
    // release row and the `published` audit entry included.
    const written = writes();
    expect(written.map((e) => e.sql.split(' ')[0])).toEqual(['DELETE', 'INSERT', 'INSERT', 'INSERT']);
    expect(written[3]!.sql).toContain('audit_log');
    expect(written.every((e) => e.inTransaction)).toBe(true);
  });

  it('is idempotent: a second publish returns the same release and writes nothing', async () => {
    const spec = await prepare();
    const first = await publish(db, spec, request('rel-twice'));
    const published = await fp(spec, 'target');
    events.length = 0;

    const second = await publish(db, spec, request('rel-twice'));

    expect(second).toEqual({ release: first.release, rowsDeleted: 0, rowsInserted: 0, alreadyPublished: true });
    expect(writes()).toEqual([]);
    const now = await fp(spec, 'target');
    expect(now).toEqual(published);
    expect(now.distinctKeys).toBe(now.rows);
    expect(await releaseRows('rel-twice')).toBe(1);
  });

  it('leaves production exactly as it was when the insert fails after the delete', async () => {
    // not_null left out, so publish's own check lets the NULL through to the INSERT.
    const spec = await prepare('range', (s) => ({ ...s, validation: { ...s.validation, not_null: [] } }));
    await db.execute(`ALTER TABLE ${spec.target.table} ALTER COLUMN merchant_id SET NOT NULL`);
    await db.execute(`UPDATE ${spec.target.shadow_table} SET merchant_id = NULL WHERE revenue_date = DATE ` +
      `'2025-01-07' AND merchant_id = 'M00001'`);
    const before = await fp(spec, 'target');
    events.length = 0;

    await failure(publish(db, spec, request('rel-broken')), BackfillError.WarehousePermanent);

    const written = writes();
    expect(written[0]).toMatchObject({ inTransaction: true, error: undefined });
    expect(written[0]!.sql).toMatch(/^DELETE/);
    expect(written[1]!.error).toMatch(/NOT NULL/i);
    expect(await fp(spec, 'target')).toEqual(before);
    expect(await store.release('rel-broken')).toBeNull();

    // Fixing the shadow and retrying publishes normally.
    await rewritePartition(db, spec, { start: '2025-01-07', end: '2025-01-08' }, columns);
    await expect(publish(db, spec, request('rel-broken'))).resolves.toMatchObject({ alreadyPublished: false });
    expect(await fp(spec, 'target', SLICE)).toEqual(await fp(spec, 'shadow', SLICE));
  });

  it('refuses without writing when the shadow or the restore point is missing, ' +
    'or the shadow lacks a column', async () => {
    const noShadow = await prepare();
    await db.execute(`DROP TABLE ${noShadow.target.shadow_table}`);
    const noSnapshot = await prepare();
    await db.execute(`DROP TABLE ${noSnapshot.rollback.snapshot}`);
    const narrow = await prepare();
    await db.execute(`ALTER TABLE ${narrow.target.shadow_table} DROP COLUMN order_count`);
    const target = await fp(noShadow, 'target');
    events.length = 0;

    const e1 = await failure(publish(db, noShadow, request('rel-no-shadow')), BackfillError.MissingObject);
    expect(e1.message).toContain(noShadow.target.shadow_table);
    const e2 = await failure(publish(db, noSnapshot, request('rel-no-snapshot')), BackfillError.NotAllowed);
    expect(e2.message).toContain(noSnapshot.rollback.snapshot);
    const e3 = await failure(publish(db, narrow, request('rel-narrow')), BackfillError.MissingObject);
    expect(e3.message).toContain('lacks order_count');

    expect(writes()).toEqual([]);
    for (const spec of [noShadow, noSnapshot, narrow]) expect(await fp(spec, 'target')).toEqual(target);
    for (const id of ['rel-no-shadow', 'rel-no-snapshot', 'rel-narrow']) expect(await store.release(id)).toBeNull();
  });

  it('refuses a release id that belongs to another backfill', async () => {
    const a = await prepare();
    const b = await prepare();
    await publish(db, a, request('rel-shared'));
    const target = await fp(b, 'target');
    await failure(publish(db, b, request('rel-shared')), BackfillError.NotAllowed);
    await failure(rollbackRelease(db, b, rollbackRequest('rel-shared')), BackfillError.NotAllowed);
    expect(await fp(b, 'target')).toEqual(target);
  });
});

describe('rollbackRelease, range mode', () => {
  it('restores the exact pre-publish range, once, and refuses to publish the release again', async () => {
    const spec = await prepare();
    const before = { range: await fp(spec, 'target', SLICE), all: await fp(spec, 'target') };
    await publish(db, spec, request('rel-rollback'));
    expect(await fp(spec, 'target', SLICE)).not.toEqual(before.range);
    events.length = 0;

    const result = await rollbackRelease(db, spec, rollbackRequest('rel-rollback'));

    expect(await fp(spec, 'target', SLICE)).toEqual(before.range);
    expect(await fp(spec, 'target')).toEqual(before.all);
    expect(result).toMatchObject({
      rowsRestored: before.range.rows,
      alreadyRolledBack: false,
      release: { status: 'rolled_back' },
    });
    expect(await store.release('rel-rollback')).toEqual(result.release);
    expect(writes().map((e) => [e.sql.split(' ')[0], e.inTransaction])).toEqual([
      ['DELETE', true],
      ['INSERT', true],
      ['UPDATE', true],
      ['INSERT', true],
    ]);
    expect((await store.auditTrail(spec.backfill_id)).filter((a) => a.action === 'rolled_back')).toHaveLength(1);

    events.length = 0;
    const again = await rollbackRelease(db, spec, rollbackRequest('rel-rollback'));
    expect(again).toEqual({ release: result.release, rowsRestored: 0, alreadyRolledBack: true });
    expect(writes()).toEqual([]);
    expect(await fp(spec, 'target')).toEqual(before.all);

    await failure(publish(db, spec, request('rel-rollback')), BackfillError.NotAllowed);
    await failure(signoffRelease(db, 'rel-rollback'), BackfillError.NotAllowed);
    expect(await fp(spec, 'target')).toEqual(before.all);
  });

  it('refuses to roll back a signed-off release or one never published', async () => {
    const spec = await prepare();
    await publish(db, spec, request('rel-signed'));
    const published = await fp(spec, 'target');

    const signed = await signoffRelease(db, 'rel-signed');
    expect(signed.status).toBe('signed_off');
    expect(await signoffRelease(db, 'rel-signed')).toEqual(signed);
    expect(await store.release('rel-signed')).toEqual(signed);

    const e = await failure(rollbackRelease(db, spec, rollbackRequest('rel-signed')), BackfillError.NotAllowed);
    expect(e.message).toContain('signed off');
    await failure(rollbackRelease(db, spec, rollbackRequest('rel-never')), BackfillError.NotAllowed);
    await failure(signoffRelease(db, 'rel-never'), BackfillError.NotAllowed);
    expect(await fp(spec, 'target')).toEqual(published);
    expect((await publish(db, spec, request('rel-signed'))).alreadyPublished).toBe(true);
  });

  it('refuses without writing when the restore point is gone', async () => {
    const spec = await prepare();
    await publish(db, spec, request('rel-no-restore'));
    await db.execute(`DROP TABLE ${spec.rollback.snapshot}`);
    const published = await fp(spec, 'target');
    const e = await failure(rollbackRelease(db, spec, rollbackRequest('rel-no-restore')), BackfillError.MissingObject);
    expect(e.message).toContain(spec.rollback.snapshot);
    expect(await fp(spec, 'target')).toEqual(published);
    expect((await store.release('rel-no-restore'))?.status).toBe('published');
  });

  it('refuses a rollback without a reason', async () => {
    const spec = await prepare();
    await publish(db, spec, request('rel-no-reason'));
    await failure(
      rollbackRelease(db, spec, { ...rollbackRequest('rel-no-reason'), reason: ' ' }),
      BackfillError.InvalidRequest,
    );
    expect((await store.release('rel-no-reason'))?.status).toBe('published');
  });
});

describe('createShadow for view and swap', () => {
  it('starts the shadow as a full copy of the target', async () => {
    for (const mode of ['view', 'swap'] as const) {
      n += 1;
      const spec: BackfillSpec = {
        ...base,
        target: { ...base.target, shadow_table: `finance.shadow_t${n}` },
        publish: mode === 'view' ? { mode, view: `finance.view_t${n}` } : { mode },
      };
      expect(await createShadow(db, await claimed(db, spec), AT)).toBe(true);
      expect(await fp(spec, 'shadow')).toEqual(await fp(spec, 'target'));
      expect(await createShadow(db, await claimed(db, spec), AT)).toBe(false);
    }
  });
});

describe('publish, view mode', () => {
  it('points the view at the corrected shadow, kept current outside the range, ' +
    'without writing the target', async () => {
    const spec = await prepare('view');
    const view = viewOf(spec);
    await db.execute(`CREATE VIEW ${spec.publish.view} AS SELECT * FROM ${spec.target.table}`);
    await liveWrite(spec);
    const target = await fp(spec, 'target');
    const corrected = await fp(spec, 'shadow', SLICE);
    events.length = 0;

    const result = await publish(db, spec, request('rel-view'));

    expect(await fp(spec, view, SLICE)).toEqual(corrected);
    expect(await fp(spec, view, BEFORE)).toEqual(await fp(spec, 'target', BEFORE));
    expect(await fp(spec, view, AFTER)).toEqual(await fp(spec, 'target', AFTER));
    expect(await fp(spec, 'target')).toEqual(target);
    expect(result.release).toMatchObject({
      dataset: spec.publish.view,
      restorePoint: spec.target.table,
      publishMode: 'view',
      status: 'published',
    });
    expect(result).toMatchObject({ rowsDeleted: (await fp(spec, 'target', SLICE)).rows, rowsInserted: corrected.rows });
    expect(writes().every((e) => e.inTransaction)).toBe(true);
    expect((await publish(db, spec, request('rel-view'))).alreadyPublished).toBe(true);

    const rolledBack = await rollbackRelease(db, spec, rollbackRequest('rel-view'));

    expect(await fp(spec, view)).toEqual(target);
    expect(await fp(spec, 'target')).toEqual(target);
    expect(rolledBack).toMatchObject({
      alreadyRolledBack: false,
      rowsRestored: (await fp(spec, 'target', SLICE)).rows,
      release: { status: 'rolled_back' },
    });
    expect((await rollbackRelease(db, spec, rollbackRequest('rel-view'))).alreadyRolledBack).toBe(true);
  });

  it('creates the view when it does not exist yet', async () => {
    const spec = await prepare('view');
    await publish(db, spec, request('rel-new-view'));
    expect(await fp(spec, viewOf(spec))).toEqual(await fp(spec, 'shadow'));
  });
});

describe('publish, swap mode', () => {
  it('leaves the corrected range and the current rows outside it under the target name; ' +
    'rollback restores it', async () => {
    const spec = await prepare('swap');
    await liveWrite(spec);
    const before = await fp(spec, 'target');
    const outside = { before: await fp(spec, 'target', BEFORE), after: await fp(spec, 'target', AFTER) };
    const corrected = await fp(spec, 'shadow', SLICE);
    events.length = 0;

    const result = await publish(db, spec, request('rel-swap'));

    expect(await fp(spec, 'target', SLICE)).toEqual(corrected);
    expect(await fp(spec, 'target', BEFORE)).toEqual(outside.before);
    expect(await fp(spec, 'target', AFTER)).toEqual(outside.after);
    // The previous production table is parked under the shadow's name.
    expect(await fp(spec, 'shadow')).toEqual(before);
    expect(result.release).toMatchObject({
      dataset: spec.target.table,
      restorePoint: spec.rollback.snapshot,
      publishMode: 'swap',
    });
    expect(writes().every((e) => e.inTransaction)).toBe(true);

    // A retry must not swap back.
    expect((await publish(db, spec, request('rel-swap'))).alreadyPublished).toBe(true);
    expect(await fp(spec, 'target', SLICE)).toEqual(corrected);

    const rolledBack = await rollbackRelease(db, spec, rollbackRequest('rel-swap'));
    expect(await fp(spec, 'target')).toEqual(before);
    expect(rolledBack).toMatchObject({ rowsRestored: corrected.rows, release: { status: 'rolled_back' } });
  });

  it('refuses a shadow in another schema, which renames cannot swap, and undoes the renames', async () => {
    const spec = await prepare('swap', (s) => ({
      ...s,
      target: { ...s.target, shadow_table: `staging.shadow_t${n}` },
    }));
    const target = await fp(spec, 'target');
    const shadow = await fp(spec, 'shadow');
    const e = await failure(publish(db, spec, request('rel-cross-schema')), BackfillError.NotAllowed);
    expect(e.message).toContain('schema');
    expect(await fp(spec, 'target')).toEqual(target);
    expect(await fp(spec, 'shadow')).toEqual(shadow);
    expect(await store.release('rel-cross-schema')).toBeNull();
  });
});

describe('cleanupBackfillTables', () => {
  it('drops the snapshot and the shadow, never the target, and says the same on a retry', async () => {
    const spec = await prepare();
    await publish(db, spec, request('rel-cleanup'));
    await signoffRelease(db, 'rel-cleanup');
    const target = await fp(spec, 'target');
    const t = tablesOf(spec);

    const result = await cleanupBackfillTables(db, spec, AT);

    expect(result).toEqual({ dropped: [spec.rollback.snapshot, spec.target.shadow_table], kept: [] });
    expect(await tableExists(db, t.snapshot)).toBe(false);
    expect(await tableExists(db, t.shadow)).toBe(false);
    expect(await fp(spec, 'target')).toEqual(target);
    expect(await cleanupBackfillTables(db, spec, AT)).toEqual(result);
  });

  it('keeps the shadow a published view serves, and drops it once the view is rolled back', async () => {
    const spec = await prepare('view');
    await publish(db, spec, request('rel-view-cleanup'));
    const served = await fp(spec, viewOf(spec));

    expect(await cleanupBackfillTables(db, spec, AT)).toEqual({
      dropped: [spec.rollback.snapshot],
      kept: [{ table: spec.target.shadow_table, why: `${spec.publish.view} serves it` }],
    });
    expect(await fp(spec, viewOf(spec))).toEqual(served);

    await rollbackRelease(db, spec, rollbackRequest('rel-view-cleanup'));
    expect(await cleanupBackfillTables(db, spec, AT)).toEqual({
      dropped: [spec.rollback.snapshot, spec.target.shadow_table],
      kept: [],
    });
    expect(await tableExists(db, tablesOf(spec).shadow)).toBe(false);
    expect(await fp(spec, viewOf(spec))).toEqual(await fp(spec, 'target'));
  });
});
