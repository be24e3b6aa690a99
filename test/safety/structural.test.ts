/**
 * "Mistakes can't hurt production": a transform that loses, empties or duplicates rows halts with
 * only retry and abort on offer, nobody can accept it, and publish itself re-checks the shadow.
 * Real worker, real Temporal dev server, real DuckDB seeded with the tax-bug scenario. Every test
 * compares production (all columns, whole table) and every table outside backfill_control before
 * and after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackfillError, isBackfillFailure } from '../../contracts/errors';
import * as m from '../../contracts/messages';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import { batchOf, representativePartition } from '../../domain/plan';
import type { BackfillSpec } from '../../domain/spec/schema';
import { CONTROL_SCHEMA, ControlStore } from '../../warehouse/control-store';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { publish } from '../../warehouse/publish';
import {
  failureTypeOf,
  rangeFingerprint,
  testSpec,
  waitForStatus,
  type BackfillHandle,
  type Lab,
  useLabs,
} from '../support/backfill-harness';
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
  type WarehouseState,
} from './support';
import { decide, decideBySignal } from '../support/decide';

const labs = useLabs();
const newLab = labs.newLab;

/** The spec's transform with `from` replaced by `to`; fails the test when `from` is not in it. */
function rewriteSql(s: BackfillSpec, from: string, to: string): void {
  expect(s.transform!.sql).toContain(from);
  s.transform = { ...s.transform!, sql: s.transform!.sql.replace(from, to) };
}

/**
 * A fix that drops every row of 2025-01-03 (test orders, say), with expected ranges that allow for
 * it: emptying a day moves every sum of its batch by about a seventh.
 */
function emptiesJan3(s: BackfillSpec): void {
  rewriteSql(s, 'revenue_date < :partition_end', "revenue_date < :partition_end AND revenue_date <> DATE '2025-01-03'");
  s.measures = s.measures.map((x) => ({
    ...x,
    expected_delta: { min: -25, max: x.column === 'net_revenue' ? -0.8 : 0 },
  }));
  // The example's source reconciliation (gross per day equals the events) rightly fails on the
  // emptied day; these tests are about the structural checks, so it is left out.
  s.validation = { ...s.validation, checks: [] };
}

/** The original (buggy) logic: the transform hands back exactly what production holds. */
const REPRODUCE_PRODUCTION =
  'SELECT * FROM finance.daily_revenue WHERE revenue_date >= :partition_start AND revenue_date < :partition_end';

/**
 * The halt on a structural failure: only retry and abort on offer; an approver's accept, with a
 * reason, is refused through the update (NotAllowed) and through the signal (audited), the halt stays
 * open; abort then fails the run. Production and every pre-existing table are as before; the run
 * leaves exactly its own shadow and restore point behind.
 */
async function refusedStructuralHalt(
  l: Lab,
  spec: BackfillSpec,
  before: WarehouseState,
  handle: BackfillHandle,
  /** As people count batches, from 1. */
  batch: number,
  reconciled = true,
) {
  const halted = await waitForStatus(handle, (s) => s.state === 'halted');
  expect(halted.halt).toMatchObject({ batch, options: ['retry', 'abort'] });
  // A batch that could not be written has no verdict at all.
  if (reconciled) expect(halted.lastVerdict).toMatchObject({ index: batch - 1, verdict: 'failed', acceptable: false });
  else expect(halted.lastVerdict).toBeNull();
  expect(halted.batches.done).toBe(batch - 1);

  const refusal = await updateRefusal(
    decide(handle, m.resolveUpdate,
      { action: 'accept', by: 'finance-controller', reason: 'the totals look plausible' }),
  );
  expect(refusal.type).toBe(BackfillError.NotAllowed);
  expect(refusal.message).toContain('not possible for this halt');
  await decideBySignal(handle, m.resolveSignal, { action: 'accept', by: 'head-of-finance-data', reason: 'ship it' });
  const refused = await waitForAudit(l.warehouse, spec.backfill_id, (a) => count(a, 'resolve_refused') >= 2);
  expect(refused.filter((a) => a.action === 'resolve_refused').map((a) => [a.actor, a.detail.via])).toEqual([
    ['finance-controller', 'update'],
    ['head-of-finance-data', 'signal'],
  ]);
  const still = await handle.query(m.statusQuery);
  expect(still.state).toBe('halted');
  expect(still.halt?.options).toEqual(['retry', 'abort']);

  const ack = await decide(handle, m.resolveUpdate,
    { action: 'abort', by: 'oncall', reason: 'the transform loses rows' });
  expect(ack.accepted).toBe(true);
  expect(await failureTypeOf(handle)).toBe(BackfillError.Aborted);
  const final = await handle.query(m.statusQuery);
  expect(final.state).toBe('failed');
  expect(final.release).toBeNull();

  const audit = await auditOf(l.warehouse, spec.backfill_id);
  expect(count(audit, 'resolve_accept')).toBe(0);
  expect(count(audit, 'resolve_abort')).toBe(1);
  expect(count(audit, 'published')).toBe(0);
  const checkpoints = await new ControlStore(l.warehouse).checkpoints(spec.backfill_id);
  expect(checkpoints.map((c) => c.verdict)).not.toContain('accepted');
  await expectOnlyAdded(l.warehouse, before, ownTables(spec));
  return halted;
}

describe('a structural failure can be retried or aborted, never accepted', () => {
  it('a transform that returns no rows halts at batch 1; accept is refused by update and by signal; ' +
    'abort leaves production as it was', async () => {
    const l = await newLab();
    const spec = testSpec('zero-rows', (s) =>
      rewriteSql(s, 'revenue_date < :partition_end', 'revenue_date < :partition_end AND 1 = 0'),
    );
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    const halted = await refusedStructuralHalt(l, spec, before, handle, 1);
    expect(halted.halt!.reason).toContain('7 of 7 planned partitions are missing from the shadow');
    expect(halted.lastVerdict?.rows).toEqual({ old: expect.any(Number), new: 0 });
    expect(halted.lastVerdict!.rows.old).toBeGreaterThan(0);
  });

  it('a transform that duplicates every row halts on the unique key; accept is refused; ' +
    'abort leaves production as it was', async () => {
    const l = await newLab();
    const spec = testSpec('duplicates', (s) => {
      const sql = s.transform!.sql;
      s.transform = {
        ...s.transform!,
        sql: `SELECT * FROM (\n${sql}\n) AS once UNION ALL SELECT * FROM (\n${sql}\n) AS twice`,
      };
    });
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    const halted = await refusedStructuralHalt(l, spec, before, handle, 1);
    expect(halted.halt!.failures.join('\n')).toContain('unique key is not unique in the shadow');
    expect(halted.lastVerdict!.rows.new).toBe(2 * halted.lastVerdict!.rows.old);
  });

  /** The proof's day, which a leaking transform must miss (the proof would fail the run first). */
  async function proofDayOf(l: Lab): Promise<string> {
    const counted = await l.warehouse.query(
      "SELECT CAST(revenue_date AS VARCHAR) AS d, count(*) AS n FROM finance.daily_revenue WHERE revenue_date " +
        "BETWEEN DATE '2025-01-01' AND DATE '2025-02-28' GROUP BY 1",
    );
    const rows = Object.fromEntries(counted.map((r) => [String(r.d), Number(r.n)]));
    return representativePartition(testSpec('probe'), rows);
  }
  const leaking = (leakDay: string) => (s: BackfillSpec) => rewriteSql(s, 'revenue_date < :partition_end',
    `revenue_date < :partition_end + CASE WHEN :partition_start = DATE '${leakDay}' THEN INTERVAL 1 DAY ` +
      `ELSE INTERVAL 0 DAY END`);

  it('partition by partition, a transform that returns rows outside the partition for one day halts its batch ' +
    '("could not run"); accept is refused, production untouched', async () => {
    const l = await newLab();
    const proofDay = await proofDayOf(l);
    const leakDay = ['2025-01-02', '2025-01-03'].find((d) => d !== proofDay)!;
    const spec = testSpec('leaks', (s) => {
      leaking(leakDay)(s);
      s.execution.batch_mode = 'partition';
    });
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    const halted = await refusedStructuralHalt(l, spec, before, handle, 1, false);
    expect(halted.proof?.partition).toBe(proofDay);
    expect(halted.halt!.reason).toMatch(
      new RegExp(`^the batch could not run: transform: for partition ${leakDay} it returned \\d+ of \\d+ rows outside`),
    );
  });

  it('set-based, a transform that returns rows outside its batch\'s range halts that batch the same way; ' +
    'accept is refused, production untouched', async () => {
    const l = await newLab();
    // Batch 1 starts on 2025-01-01: over its range the transform reads one day past the batch's end.
    const proofDay = await proofDayOf(l);
    expect(batchOf(testSpec('probe'), proofDay)).not.toBe(0);
    const spec = testSpec('leaks-range', leaking('2025-01-01'));
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    const halted = await refusedStructuralHalt(l, spec, before, handle, 1, false);
    expect(halted.proof?.batchMode?.mode).toBe('range');
    expect(halted.halt!.reason).toMatch(new RegExp(
      '^the batch could not run: transform: for 2025-01-01 \\.\\. 2025-01-07 it returned \\d+ of \\d+ rows ' +
        'outside \\[2025-01-01, 2025-01-08\\)',
    ));
  });

  it('a transform that empties one day halts without validation.allow_empty_partitions, even with every sum ' +
    'inside its expected range', async () => {
    const l = await newLab();
    const spec = testSpec('emptied-day', emptiesJan3);
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    const halted = await refusedStructuralHalt(l, spec, before, handle, 1);
    expect(halted.halt!.reason).toMatch(
      /1 of 7 planned partitions are missing from the shadow: 2025-01-03 \(production \d+ rows, shadow 0\)/,
    );
    expect(halted.halt!.reason).toContain('validation.allow_empty_partitions: true');
    // The sums are within what the spec expects: only the structural checks failed.
    expect(halted.halt!.failures).toHaveLength(2);
    expect(halted.halt!.failures[1]).toMatch(/^row counts differ beyond row_count_tolerance/);
  });

  it('with validation.allow_empty_partitions the same fix passes, is approved and publishes: ' +
    'the day is empty in production, every other day equals the shadow', async () => {
    const l = await newLab();
    const spec = testSpec('emptied-day-allowed', (s) => {
      emptiesJan3(s);
      s.validation = { ...s.validation, allow_empty_partitions: true };
    });
    const before = await warehouseState(l.warehouse);
    const dayRows = async () =>
      Number(
        (await l.warehouse.query(`SELECT count(*) AS n FROM ${PRODUCTION} WHERE revenue_date = DATE '2025-01-03'`))[0]!
          .n,
      );
    expect(await dayRows()).toBeGreaterThan(0);
    const outside = [{ from: WHOLE.from, to: '2025-01-01' }, { from: '2025-03-01', to: WHOLE.to }];
    const outsideBefore = await Promise.all(outside.map((r) => productionFingerprint(l.warehouse, r)));

    const handle = await l.start(spec);
    const waiting = await waitForStatus(
      handle,
      (s) => s.state === 'awaiting_approval' || s.state === 'halted' || s.state === 'failed',
    );
    expect(waiting.state, JSON.stringify(waiting.halt ?? waiting.error)).toBe('awaiting_approval');
    const report = await handle.query(m.reportQuery);
    expect(report.batches).toEqual({ passed: 9, failed: 0, accepted: 0, total: 9 });
    // The approver is told which day the fix empties.
    expect(report.warnings.join('\n')).toMatch(/2025-01-03 \(production \d+ rows, shadow 0\)/);

    await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'the day held test orders only' });
    await waitForStatus(handle, (s) => s.state === 'published');
    expect(await dayRows()).toBe(0);
    const target = await rangeFingerprint(l.warehouse, spec, 'target');
    expect(target).toEqual(await rangeFingerprint(l.warehouse, spec, 'shadow'));
    expect(target.rows).toBeGreaterThan(0);
    expect(await Promise.all(outside.map((r) => productionFingerprint(l.warehouse, r)))).toEqual(outsideBefore);
    const after = await expectOnlyAdded(l.warehouse, before, ownTables(spec), [PRODUCTION]);
    expect(after.production).not.toEqual(before.production);
    expect(count(await auditOf(l.warehouse, spec.backfill_id), 'published')).toBe(1);
    await handle.terminate('test over');
  });
});

describe('publish re-checks the shadow inside its transaction, whatever the checkpoints say', () => {
  let db: DuckDbDriver;
  let n = 0;
  beforeAll(async () => {
    db = await openDuckDb({ path: ':memory:' });
    await seedRevenueScenario(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  /** A backfill of the first week with its own shadow and restore point, the shadow rewritten by the fix. */
  async function prepare(patch: (s: BackfillSpec) => void = () => {}): Promise<BackfillSpec> {
    n += 1;
    const spec = testSpec(`recheck-${n}`, (s) => {
      s.source_range = { ...s.source_range, start: '2025-01-01', end: '2025-01-07' };
      s.target = { ...s.target, shadow_table: `finance.recheck_shadow_${n}` };
      s.rollback = { ...s.rollback, snapshot: `finance.recheck_snapshot_${n}` };
      patch(s);
    });
    return prepareDirect(db, spec);
  }

  const request = (spec: BackfillSpec) => ({
    releaseId: `${spec.backfill_id}-release`,
    approvedBy: 'finance-controller',
    publishedAt: '2026-06-20T09:30:00.000Z',
    rollbackExpiresAt: '2026-07-04T09:30:00.000Z',
  });
  const releases = async () => Number((await db.query(`SELECT count(*) AS n FROM ${CONTROL_SCHEMA}.releases`))[0]!.n);

  const tamperings: Array<[string, (shadow: string) => string, RegExp]> = [
    [
      'a day whose rows appear twice',
      (t) => `INSERT INTO ${t} SELECT * FROM ${t} WHERE revenue_date = DATE '2025-01-02'`,
      /\d+ rows repeat a key \(revenue_date, merchant_id\) in 1 partitions, first 2025-01-02/,
    ],
    [
      'a day deleted',
      (t) => `DELETE FROM ${t} WHERE revenue_date = DATE '2025-01-04'`,
      /1 partitions have rows in production and none in the shadow, first 2025-01-04/,
    ],
    [
      'a NULL in a not_null column',
      (t) => `UPDATE ${t} SET net_revenue = NULL WHERE revenue_date = DATE '2025-01-05'`,
      /net_revenue is NULL in 1 partitions, first 2025-01-05/,
    ],
  ];

  for (const [what, tamper, problem] of tamperings) {
    it(`refuses a shadow with ${what} (BackfillIncompleteShadow); production, the shadow and the ` +
      `release table are unchanged`, async () => {
      const spec = await prepare();
      await db.execute(tamper(spec.target.shadow_table));
      const before = await warehouseState(db);
      const releasesBefore = await releases();

      const error = await publish(db, spec, request(spec)).catch((e: unknown) => e);
      expect(isBackfillFailure(error, BackfillError.IncompleteShadow), String(error)).toBe(true);
      expect((error as Error).message).toMatch(problem);
      expect((error as Error).message).toContain('Production was not touched');

      await expectOnlyAdded(db, before, []);
      expect(await releases()).toBe(releasesBefore);
      expect(await new ControlStore(db).release(request(spec).releaseId)).toBeNull();
      expect(count(await auditOf(db, spec.backfill_id), 'published')).toBe(0);
    });
  }

  it('publishes a shadow that empties a day when validation.allow_empty_partitions is true (the re-check ' +
    'is what refused above)', async () => {
    const spec = await prepare((s) => {
      s.validation = { ...s.validation, allow_empty_partitions: true };
    });
    await db.execute(`DELETE FROM ${spec.target.shadow_table} WHERE revenue_date = DATE '2025-01-04'`);
    const before = await warehouseState(db);
    const result = await publish(db, spec, request(spec));
    expect(result.alreadyPublished).toBe(false);
    const after = await expectOnlyAdded(db, before, [], [PRODUCTION]);
    expect(after.production).not.toEqual(before.production);
    expect(
      Number((await db.query(`SELECT count(*) AS n FROM ${PRODUCTION} WHERE revenue_date = DATE '2025-01-04'`))[0]!.n),
    ).toBe(0);
    expect(await rangeFingerprint(db, spec, 'target')).toEqual(await rangeFingerprint(db, spec, 'shadow'));
    expect(count(await auditOf(db, spec.backfill_id), 'published')).toBe(1);
  });
});

describe('expectations mean what they say', () => {
  it('a transform that reproduces production exactly fails the expected -1.5%..-0.8%: "did not change", ' +
    'an aggregate failure that may be accepted', async () => {
    const l = await newLab();
    const spec = testSpec('unchanged', (s) => {
      s.transform = { ...s.transform!, sql: REPRODUCE_PRODUCTION };
    });
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    const halted = await waitForStatus(handle, (s) => s.state === 'halted');
    expect(halted.halt).toMatchObject({ batch: 1, options: ['retry', 'abort', 'accept'] });
    expect(halted.lastVerdict).toMatchObject({ verdict: 'failed', acceptable: true });
    expect(halted.lastVerdict!.rows.new).toBe(halted.lastVerdict!.rows.old);
    const net = halted.halt!.failures.find((f) => f.startsWith('net_revenue did not change'));
    expect(net, halted.halt!.failures.join('\n')).toMatch(/expects -1\.5% to -0\.8%; the fix did not take effect/);
    // Only net_revenue's expectation excludes 0: the unchanged gross and order count pass.
    expect(halted.halt!.failures.every((f) => f.startsWith('net_revenue'))).toBe(true);

    await decide(handle, m.resolveUpdate, { action: 'abort', by: 'oncall', reason: 'the fix is not deployed' });
    expect(await failureTypeOf(handle)).toBe(BackfillError.Aborted);
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
  });

  it('an aggregate failure is accepted only by a listed approver: not by the owner, not by whoever started the ' +
    'run (allow_owner false)', async () => {
    const l = await newLab();
    const spec = testSpec('accept-rules', (s) => {
      s.source_range = { ...s.source_range, end: '2025-01-07' };
      s.transform = { ...s.transform!, sql: REPRODUCE_PRODUCTION };
      // The owner and the starter are listed approvers, so only the four-eyes rule can refuse them.
      s.approval = { ...s.approval!, approvers: ['finance-controller', s.owner, 'alice'], allow_owner: false };
    });
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec, 'alice');
    const halted = await waitForStatus(handle, (s) => s.state === 'halted');
    expect(halted.halt?.options).toEqual(['retry', 'abort', 'accept']);

    const accept = (by: string) =>
      decide(handle, m.resolveUpdate, { action: 'accept', by, reason: 'the change is in the next release' });
    const byOwner = await updateRefusal(accept(spec.owner));
    expect(byOwner.type).toBe(BackfillError.NotAllowed);
    expect(byOwner.message).toContain(`"${spec.owner}" owns this backfill`);
    const byStarter = await updateRefusal(accept('alice'));
    expect(byStarter.type).toBe(BackfillError.NotAllowed);
    expect(byStarter.message).toContain('"alice" started this backfill');
    expect((await handle.query(m.statusQuery)).state).toBe('halted');

    expect((await accept('finance-controller')).accepted).toBe(true);
    // The whole range did not move either: the completion check halts on it, and it is accepted the same way.
    const atCompletion = await waitForStatus(handle, (s) => s.state === 'halted' && s.halt?.batch === null);
    expect(atCompletion.halt!.options).toEqual(['retry', 'abort', 'accept']);
    expect((await updateRefusal(accept(spec.owner))).message).toContain(`"${spec.owner}" owns this backfill`);
    expect((await accept('finance-controller')).accepted).toBe(true);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    const [checkpoint] = await new ControlStore(l.warehouse).checkpoints(spec.backfill_id);
    expect(checkpoint!.verdict).toBe('accepted');
    expect(checkpoint!.provenance.accepted).toMatchObject({
      by: 'finance-controller',
      reason: 'the change is in the next release',
    });
    const audit = await auditOf(l.warehouse, spec.backfill_id);
    expect(audit.filter((a) => a.action.startsWith('resolve_')).map((a) => [a.action, a.actor])).toEqual([
      ['resolve_refused', spec.owner],
      ['resolve_refused', 'alice'],
      ['resolve_accept', 'finance-controller'],
      ['resolve_refused', spec.owner],
      ['resolve_accept', 'finance-controller'],
    ]);

    await decide(handle, m.rejectUpdate, { by: 'finance-controller', comment: 'not publishing an unchanged result' });
    expect(await failureTypeOf(handle)).toBe(BackfillError.Rejected);
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
  });
});
