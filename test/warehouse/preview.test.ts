/**
 * `backfill preview` on the real DuckDB seeded with the FIN-2841 scenario: what it judges, and that
 * it writes nothing but its scratch table (claimed, created, dropped) and that table's record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackfillError, BackfillFailure } from '../../contracts/errors';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import { previewTableFor } from '../../domain/preview';
import type { BackfillSpec } from '../../domain/spec/schema';
import { tableExists } from '../../warehouse/catalog';
import { ControlStore } from '../../warehouse/control-store';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { parseTableName } from '../../warehouse/identifiers';
import { canonicalOf, currentDatabase } from '../../warehouse/ownership';
import { previewBackfill } from '../../warehouse/preview';
import { cleanupBackfillTables } from '../../warehouse/publish';
import type { StatementEvent } from '../../warehouse/warehouse';
import { expectOnlyAdded, tableDigests, warehouseState } from '../safety/support';
import { AT } from '../support/owned';
import { exampleSpec } from '../support/test-spec';

let db: DuckDbDriver;
let statements: StatementEvent[] = [];

beforeAll(async () => {
  db = await openDuckDb({ path: ':memory:', onStatement: (e) => statements.push(e) });
  await seedRevenueScenario(db);
}, 120_000);
afterAll(async () => {
  await db?.close();
});

let counter = 0;
function specFor(name: string, patch: (s: BackfillSpec) => void = () => {}): BackfillSpec {
  const spec = { ...exampleSpec(), backfill_id: `preview-${name}-${counter++}` };
  patch(spec);
  return spec;
}

const scratchOf = (spec: BackfillSpec) => previewTableFor(spec.target.table, spec.backfill_id);

/** What a call wrote: every statement that is not a read. */
async function writesOf<T>(fn: () => Promise<T>): Promise<{ value: T | undefined; error: unknown; writes: string[] }> {
  statements = [];
  let value: T | undefined;
  let error: unknown;
  try {
    value = await fn();
  } catch (e) {
    error = e;
  }
  const writes = statements
    .map((s) => s.sql.replace(/\s+/g, ' ').trim())
    .filter((sql) => /^(INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|COPY|TRUNCATE)\b/i.test(sql));
  return { value, error, writes };
}

async function recordsOf(spec: BackfillSpec) {
  const canonical = canonicalOf(parseTableName(scratchOf(spec)), await currentDatabase(db));
  return new ControlStore(db).ownersOf(canonical);
}

describe('backfill preview on the demo warehouse', () => {
  it('rewrites a sample into its scratch table, judges it, drops it; production, every table as before', async () => {
    const spec = specFor('demo');
    const before = await warehouseState(db);
    const scratch = scratchOf(spec);
    const { value: result, error, writes } = await writesOf(() => previewBackfill(db, spec));
    expect(error).toBeUndefined();
    console.log(`preview of 7 of 547 partitions on the demo warehouse: ${result!.seconds.toFixed(3)} s`);

    // Verdict: the demo's fix passes every check.
    expect(result!.passed).toBe(true);
    expect(result!.checks.filter((c) => c.severity === 'fail').every((c) => c.passed)).toBe(true);
    expect(result!.partitions.map((p) => p.partition)).toHaveLength(7);
    expect(result!.partitions[0]!.partition).toBe('2024-12-01');
    expect(result!.partitions.at(-1)!.partition).toBe('2026-05-31');
    expect(result!.partitions.map((p) => p.partition)).toContain(result!.representativePartition);
    expect(result!.totalPartitions).toBe(547);
    const net = result!.measures.find((m) => m.column === 'net_revenue')!;
    expect(net).toMatchObject({ passed: true, expected: { min: -1.5, max: -0.8 } });
    expect(net.deltaPct!).toBeGreaterThan(-1.5);
    expect(net.deltaPct!).toBeLessThan(-0.8);
    expect(result!.measures.find((m) => m.column === 'gross_revenue')).toMatchObject({ passed: true, deltaPct: 0 });
    expect(result!.rows.old).toBe(result!.rows.new);
    expect(result!.rows.old).toBeGreaterThan(0);
    // The spec's custom checks ran over the sample too (the example reconciles gross with the events).
    const custom = result!.checks.filter((c) => c.kind === 'custom');
    expect(custom.map((c) => c.name)).toEqual((spec.validation.checks ?? []).map((c) => c.name));
    expect(custom.every((c) => c.passed)).toBe(true);
    expect(result!.checks.every((c) => !/\bbatch 1\b/.test(c.message))).toBe(true);
    expect(result!.checks.find((c) => c.name === 'partitions-present')!.message)
      .toBe('all 7 planned partitions of the sample are present');
    // The estimate is the measured mean per partition × partitions ÷ max_concurrency.
    const e = result!.estimate;
    expect(e).toMatchObject({ partitions: 547, maxConcurrency: 2 });
    const measured = result!.partitions.reduce((a, p) => a + p.rewriteSeconds + p.checkSeconds, 0) / 7;
    expect(e.secondsPerPartition).toBeCloseTo(measured, 9);
    expect(e.seconds).toBeCloseTo((measured * 547) / 2, 6);

    // Nothing else changed: production's fingerprint, the set of tables and every table's rows.
    await expectOnlyAdded(db, before, []);
    expect(await tableExists(db, parseTableName(scratch))).toBe(false);
    const [record, ...others] = await recordsOf(spec);
    expect(others).toEqual([]);
    expect(record).toMatchObject({
      backfillId: spec.backfill_id, role: 'preview', status: 'dropped', tableName: scratch,
    });
    expect(record!.createdAt).not.toBeNull();
    expect(record!.droppedAt).not.toBeNull();

    // Claimed before the CREATE, created, written, dropped; no write anywhere else.
    const quoted = '"finance"."' + scratch.split('.')[1] + '"';
    const owned = '"backfill_control"."owned_tables"';
    const step = (re: RegExp) => writes.findIndex((w) => re.test(w));
    const claim = step(new RegExp(`^INSERT INTO ${owned}`));
    const create = step(new RegExp(`^CREATE TABLE ${quoted}`));
    const created = step(new RegExp(`^UPDATE ${owned} SET status = \\?|^UPDATE ${owned} SET status = \\$1`));
    const insert = step(new RegExp(`^INSERT INTO ${quoted}`));
    const drop = step(new RegExp(`^DROP TABLE IF EXISTS ${quoted}`));
    expect([claim, create, created, insert, drop].every((i) => i >= 0), writes.join('\n')).toBe(true);
    expect(claim).toBeLessThan(create);
    expect(create).toBeLessThan(created);
    expect(created).toBeLessThan(insert);
    expect(insert).toBeLessThan(drop);
    expect(writes.at(-1)).toMatch(new RegExp(`^UPDATE ${owned}`));
    const elsewhere = writes.filter((w) =>
      !w.includes(quoted) && !w.startsWith(`INSERT INTO ${owned}`) && !w.startsWith(`UPDATE ${owned}`) &&
      !/^CREATE (SCHEMA|TABLE) IF NOT EXISTS "?backfill_control"?/.test(w));
    expect(elsewhere).toEqual([]);
  });

  it('fails when an expectation fails (a measure outside its expected range), and still drops its table', async () => {
    const spec = specFor('failing', (s) => {
      s.measures = s.measures.map((m) =>
        m.column === 'gross_revenue' ? { ...m, expected_delta: { min: 1, max: 2 } } : m);
    });
    const before = await warehouseState(db);
    const result = await previewBackfill(db, spec, { partitions: 3 });
    expect(result.passed).toBe(false);
    expect(result.partitions).toHaveLength(3);
    const failed = result.checks.filter((c) => !c.passed && c.severity === 'fail');
    expect(failed.map((c) => [c.name, c.measure])).toEqual([['measure-delta', 'gross_revenue']]);
    expect(failed[0]!.message).toContain('gross_revenue did not change in the sample');
    expect(result.measures.find((m) => m.column === 'gross_revenue')).toMatchObject({ passed: false });
    expect(result.measures.find((m) => m.column === 'net_revenue')).toMatchObject({ passed: true });
    await expectOnlyAdded(db, before, []);
    expect((await recordsOf(spec)).map((r) => r.status)).toEqual(['dropped']);
  });

  it('fails on a custom check that returns rows, with the rows of every partition of the sample', async () => {
    const spec = specFor('custom-check', (s) => {
      s.validation = {
        ...s.validation,
        checks: [{
          name: 'no-merchant-m00001',
          description: 'merchant M00001 is not in the shadow',
          severity: 'fail',
          sql: "SELECT revenue_date, merchant_id FROM {{shadow}} WHERE merchant_id = 'M00001' " +
            'AND revenue_date >= :partition_start AND revenue_date < :partition_end',
        }],
      };
    });
    const result = await previewBackfill(db, spec, { partitions: 3 });
    expect(result.passed).toBe(false);
    const check = result.checks.find((c) => c.name === 'no-merchant-m00001')!;
    expect(check).toMatchObject({ kind: 'custom', severity: 'fail', passed: false });
    expect(check.message).toContain('no-merchant-m00001 (merchant M00001 is not in the shadow) returned 3 rows in ' +
      'the sample');
    expect(check.rows!.map((r) => r.revenue_date)).toEqual(result.partitions.map((p) => p.partition));
    expect((await recordsOf(spec)).map((r) => r.status)).toEqual(['dropped']);
  });

  it('refuses, naming it, a table at the scratch name that the product did not create: nothing written', async () => {
    const spec = specFor('collision');
    const scratch = scratchOf(spec);
    await db.execute(`CREATE TABLE ${scratch} AS SELECT 1 AS someone_elses`);
    const before = await warehouseState(db);
    const { error, writes } = await writesOf(() => previewBackfill(db, spec));
    expect(error).toBeInstanceOf(BackfillFailure);
    expect((error as BackfillFailure).code).toBe(BackfillError.NotAllowed);
    expect((error as Error).message).toContain(`${scratch} already exists and was not created by a preview of ` +
      `backfill ${spec.backfill_id}`);
    expect(writes).toEqual([]);
    await expectOnlyAdded(db, before, []);
    expect(await tableDigests(db, [scratch])).toEqual({ [scratch]: before.digests[scratch] });
    expect(await recordsOf(spec)).toEqual([]);
    await db.execute(`DROP TABLE ${scratch}`);
  });

  it('drops what a preview that died left (recorded created), then previews; so does a run\'s cleanup', async () => {
    const spec = specFor('leftover');
    const scratch = parseTableName(scratchOf(spec));
    const leave = async () => {
      const store = new ControlStore(db);
      await store.ensure();
      const canonical = canonicalOf(scratch, await currentDatabase(db));
      await db.execute(`CREATE TABLE ${scratchOf(spec)} AS SELECT * FROM finance.daily_revenue LIMIT 3`);
      const columns = (await db.query(db.dialect.describeTable(scratch))).map((r) => String(r.name));
      await db.transaction(async (tx) => {
        for (const o of await store.ownersOf(canonical, tx)) expect(o.status).toBe('dropped');
        await tx.execute({
          sql: 'DELETE FROM backfill_control.owned_tables WHERE canonical_name = $1 AND backfill_id = $2',
          params: [canonical, spec.backfill_id],
        });
        await store.claimTable({
          canonicalName: canonical, backfillId: spec.backfill_id, tableName: scratchOf(spec), role: 'preview',
          targetTable: 'memory.finance.daily_revenue', status: 'created', record: { columns }, claimedAt: AT,
          createdAt: AT, droppedAt: null,
        }, tx);
      });
    };
    await leave();
    const result = await previewBackfill(db, spec, { partitions: 2 });
    expect(result.passed).toBe(true);
    expect(await tableExists(db, scratch)).toBe(false);
    expect((await recordsOf(spec)).map((r) => r.status)).toEqual(['dropped']);

    await leave();
    const cleanup = await cleanupBackfillTables(db, spec, AT);
    expect(cleanup.dropped).toEqual([scratchOf(spec)]);
    expect(await tableExists(db, scratch)).toBe(false);
    expect((await recordsOf(spec)).map((r) => r.status)).toEqual(['dropped']);
  });

  it('drops its table when the transform fails midway, and reports the failure', async () => {
    const spec = specFor('out-of-partition', (s) => {
      s.transform = {
        ...s.transform!,
        sql: s.transform!.sql.replace('revenue_date < :partition_end', 'revenue_date <= :partition_end'),
      };
    });
    const before = await warehouseState(db);
    const e = await previewBackfill(db, spec, { partitions: 2 }).then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(BackfillFailure);
    expect((e as BackfillFailure).code).toBe(BackfillError.TransformOutOfPartition);
    await expectOnlyAdded(db, before, []);
    expect((await recordsOf(spec)).map((r) => r.status)).toEqual(['dropped']);
  });

  it('refuses a partition count outside 1..50 before reading anything', async () => {
    for (const partitions of [0, 51, 2.5]) {
      const { error, writes } = await writesOf(() => previewBackfill(db, specFor('bounds'), { partitions }));
      expect((error as BackfillFailure).code).toBe(BackfillError.InvalidRequest);
      expect((error as Error).message).toContain(`--partitions: ${partitions} is not a whole number 1..50`);
      expect(writes).toEqual([]);
    }
  });
});
