/**
 * Every decision that changes production is in the audit log exactly once, written in the same
 * transaction as the change (so a retry after the COMMIT adds nothing), and only the people the
 * spec names may roll a release back. Real worker, real dev server, real DuckDB; production (all
 * columns, whole table) and every table outside backfill_control are compared before and after.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { BackfillError } from '../../contracts/errors';
import * as m from '../../contracts/messages';
import type { ReleaseRecord } from '../../contracts/status';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import type { BackfillSpec } from '../../domain/spec/schema';
import { CONTROL_SCHEMA } from '../../warehouse/control-store';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { publish, rollbackRelease, type PublishRequest } from '../../warehouse/publish';
import { rangeFingerprint, testSpec, waitForStatus, useLabs } from '../support/backfill-harness';
import {
  auditOf,
  count,
  expectOnlyAdded,
  ownTables,
  prepareDirect,
  PRODUCTION,
  productionFingerprint,
  updateRefusal,
  waitForAudit,
  warehouseState,
  WHOLE,
} from './support';
import { decide, decideBySignal } from '../support/decide';

const week = (s: BackfillSpec) => {
  s.source_range = { ...s.source_range, start: '2025-01-01', end: '2025-01-07' };
};
/** Production outside the backfilled week (the scenario's data starts 2024-12-01). */
const OUTSIDE_WEEK = [{ from: WHOLE.from, to: '2025-01-01' }, { from: '2025-01-08', to: WHOLE.to }];
const outsideWeek = (db: Parameters<typeof productionFingerprint>[0]) =>
  Promise.all(OUTSIDE_WEEK.map((r) => productionFingerprint(db, r)));

describe('decisions through the workflow', () => {
  const labs = useLabs();
  const newLab = labs.newLab;

  it('approve, publish and rollback are each in the audit log exactly once; ' +
    'rollback restores production exactly', async () => {
    const l = await newLab();
    const spec = testSpec('once-each', week);
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'checked' });
    const published = await waitForStatus(handle, (s) => s.state === 'published');
    const releaseId = published.release!.releaseId;
    expect(await productionFingerprint(l.warehouse)).not.toEqual(before.production);

    await decide(handle, m.rollbackUpdate, { by: 'head-of-finance-data', reason: 'dashboard totals look wrong' });
    const result = await handle.result();
    expect(result.state).toBe('rolled_back');
    expect(result.rollback.rolledBack?.by).toBe('head-of-finance-data');

    const audit = await auditOf(l.warehouse, spec.backfill_id);
    const tally = Object.fromEntries(
      ['tables_claimed', 'approved', 'published', 'rolled_back'].map((a) => [a, count(audit, a)]),
    );
    expect(tally).toEqual({ tables_claimed: 1, approved: 1, published: 1, rolled_back: 1 });
    expect(audit.find((a) => a.action === 'published')).toMatchObject({
      actor: 'finance-controller',
      detail: { releaseId },
    });
    expect(audit.find((a) => a.action === 'rolled_back')).toMatchObject({
      actor: 'head-of-finance-data', detail: { releaseId, reason: 'dashboard totals look wrong' },
    });
    // Production, audit columns included, is exactly what it was; the shadow and restore point stay for investigation.
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
  });

  it('rollback is refused to anyone but approvers, the owner and rollback.operators; a listed operator restores the ' +
    'pre-publish result exactly', async () => {
    const l = await newLab();
    const spec = testSpec('rollback-allowlist', (s) => {
      week(s);
      s.rollback = { ...s.rollback, operators: ['oncall'] };
    });
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    await decide(handle, m.approveUpdate, { by: 'finance-controller' });
    await waitForStatus(handle, (s) => s.state === 'published');
    const publishedProduction = await productionFingerprint(l.warehouse);
    expect(publishedProduction).not.toEqual(before.production);

    const refusal = await updateRefusal(
      decide(handle, m.rollbackUpdate, { by: 'mallory', reason: 'trust me' }),
    );
    expect(refusal.type).toBe(BackfillError.NotAllowed);
    expect(refusal.message).toContain('"mallory" is not an approver, the owner or a rollback operator');
    expect(refusal.message).toContain('"oncall"');
    // Whoever started the run is not on the list either; through the signal the refusal is recorded.
    await decideBySignal(handle, m.rollbackSignal, { by: 'vitest', reason: 'I started it' });
    const audit = await waitForAudit(l.warehouse, spec.backfill_id, (a) => count(a, 'rollback_refused') >= 2);
    expect(audit.filter((a) => a.action === 'rollback_refused').map((a) => [a.actor, a.detail.via])).toEqual([
      ['mallory', 'update'],
      ['vitest', 'signal'],
    ]);
    const still = await handle.query(m.statusQuery);
    expect(still.state).toBe('published');
    expect(still.rollback.rolledBack).toBeNull();
    expect(await productionFingerprint(l.warehouse)).toEqual(publishedProduction);

    const ack = await decide(handle, m.rollbackUpdate, { by: 'oncall', reason: 'paged: revenue dashboard off' });
    expect(ack.accepted).toBe(true);
    expect((await handle.result()).state).toBe('rolled_back');
    const trail = await auditOf(l.warehouse, spec.backfill_id);
    expect(trail.filter((a) => a.action === 'rolled_back').map((a) => a.actor)).toEqual(['oncall']);
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
  });
});

describe('publish retried after its COMMIT', () => {
  let db: DuckDbDriver;
  beforeAll(async () => {
    db = await openDuckDb({ path: ':memory:' });
    await seedRevenueScenario(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  const releases = async () => Number((await db.query(`SELECT count(*) AS n FROM ${CONTROL_SCHEMA}.releases`))[0]!.n);

  it('publish() and rollbackRelease() each called twice (a retry after the COMMIT) change production and write ' +
    'their audit entry once', async () => {
    const spec = await prepareDirect(db, testSpec('publish-twice', (s) => {
      week(s);
      s.target = { ...s.target, shadow_table: 'finance.twice_shadow' };
      s.rollback = { ...s.rollback, snapshot: 'finance.twice_snapshot' };
    }));
    const before = await warehouseState(db);
    const outsideBefore = await outsideWeek(db);
    const request: PublishRequest = {
      releaseId: `${spec.backfill_id}-release`, approvedBy: 'finance-controller',
      publishedAt: '2026-06-20T09:30:00.000Z', rollbackExpiresAt: '2026-07-04T09:30:00.000Z',
    };

    const first = await publish(db, spec, request);
    expect(first.alreadyPublished).toBe(false);
    expect(first.rowsInserted).toBeGreaterThan(0);
    const once = await expectOnlyAdded(db, before, [], [PRODUCTION]);
    expect(once.production).not.toEqual(before.production);
    expect(await rangeFingerprint(db, spec, 'target')).toEqual(await rangeFingerprint(db, spec, 'shadow'));
    expect(await outsideWeek(db)).toEqual(outsideBefore);

    const retry = await publish(db, spec, request);
    expect(retry).toEqual({ release: first.release, rowsDeleted: 0, rowsInserted: 0, alreadyPublished: true });
    await expectOnlyAdded(db, once, []);
    expect(count(await auditOf(db, spec.backfill_id), 'published')).toBe(1);
    expect(await releases()).toBe(1);

    // The same for rollback: the second call finds the release rolled back and writes nothing.
    const undo = {
      releaseId: request.releaseId,
      by: 'head-of-finance-data',
      reason: 'totals look wrong',
      at: '2026-06-21T08:00:00.000Z',
    };
    expect((await rollbackRelease(db, spec, undo)).alreadyRolledBack).toBe(false);
    await expectOnlyAdded(db, before, []);
    expect(await rollbackRelease(db, spec, { ...undo, at: '2026-06-21T08:05:00.000Z' })).toMatchObject({
      alreadyRolledBack: true,
      rowsRestored: 0,
    });
    await expectOnlyAdded(db, before, []);
    const audit = await auditOf(db, spec.backfill_id);
    expect([count(audit, 'published'), count(audit, 'rolled_back')]).toEqual([1, 1]);
    expect(audit.find((a) => a.action === 'rolled_back')).toMatchObject({ actor: 'head-of-finance-data', at: undo.at });
  });

  it('the publishRelease activity retried (same activity, later clock) returns the first release ' +
    'and adds no audit entry', async () => {
    const spec = await prepareDirect(db, testSpec('activity-retry', (s) => {
      s.source_range = { ...s.source_range, start: '2025-02-01', end: '2025-02-07' };
      s.target = { ...s.target, shadow_table: 'finance.retry_shadow' };
      s.rollback = { ...s.rollback, snapshot: 'finance.retry_snapshot' };
    }));
    const before = await warehouseState(db);
    const releasesBefore = await releases();
    let now = Date.parse('2026-06-20T09:30:00.000Z');
    const activities = createActivities({ warehouse: db, clock: () => new Date(now) });
    const attempt = new MockActivityEnvironment({ attempt: 1 });

    const first: ReleaseRecord = await attempt.run(activities.publishRelease, spec, 'finance-controller');
    const once = await expectOnlyAdded(db, before, [], [PRODUCTION]);
    expect(once.production).not.toEqual(before.production);
    now += 60_000;
    const retried = await new MockActivityEnvironment({ attempt: 2 }).run(
      activities.publishRelease,
      spec,
      'finance-controller',
    );
    expect(retried).toEqual(first);
    await expectOnlyAdded(db, once, []);
    const published = (await auditOf(db, spec.backfill_id)).filter((a) => a.action === 'published');
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      actor: 'finance-controller',
      at: first.publishedAt,
      detail: { releaseId: first.releaseId },
    });
    expect(await releases()).toBe(releasesBefore + 1);
  });
});
