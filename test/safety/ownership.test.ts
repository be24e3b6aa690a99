/**
 * A backfill writes and drops only tables it created (issue: mistakes can't hurt production). Each
 * mistake a person made on the landed code is replayed on real parts — the dev server, a real
 * worker, DuckDB — and production's fingerprint and the set of tables are compared before and after.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ExitCode } from '../../client/exit-codes';
import { BackfillError } from '../../contracts/errors';
import * as m from '../../contracts/messages';
import type { BackfillSpec } from '../../domain/spec/schema';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import { ControlStore } from '../../warehouse/control-store';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import {
  failureTypeOf,
  testSpec,
  useLabs,
  waitForStatus,
  type BackfillHandle,
  type Lab,
} from '../support/backfill-harness';
import { backfillWith } from '../support/cli';
import { productionFingerprint, tableSet, warehouseState } from './support';
import { decide } from '../support/decide';

const labs = useLabs();
let l: Lab;
/** Each test has its own warehouse (leases and claims of one test never reach another). */
beforeEach(async () => {
  l = await labs.newLab();
  // Two unrelated production tables a person might name by mistake.
  await l.warehouse.execute(
    "CREATE TABLE finance.daily_revenue_eu AS SELECT * FROM finance.daily_revenue WHERE merchant_id < 'M00010'",
  );
  await l.warehouse.execute(
    "CREATE TABLE finance.daily_revenue_apac AS SELECT * FROM finance.daily_revenue WHERE merchant_id >= 'M00020'",
  );
});

/** Production, the two bystander tables (in the digests) and the table set, to compare after a refused run. */
const world = () => warehouseState(l.warehouse);

async function failedWith(handle: BackfillHandle): Promise<{ type: string | undefined; error: string }> {
  const type = await failureTypeOf(handle);
  const status = await handle.query(m.statusQuery);
  expect(status.state).toBe('failed');
  return { type, error: status.error ?? '' };
}

const approve = (h: BackfillHandle) =>
  decide(h, m.approveUpdate, { by: 'finance-controller', comment: 'checked' });

describe('a backfill never adopts a table it did not create', () => {
  it('refuses existing unrelated tables named as shadow and restore point before any write, naming them', async () => {
    const before = await world();
    const spec = testSpec('adopt', (s) => {
      s.target = { ...s.target, shadow_table: 'finance.daily_revenue_eu' };
      s.rollback = { ...s.rollback, snapshot: 'finance.daily_revenue_apac' };
    });
    const { type, error } = await failedWith(await l.start(spec));
    expect(type).toBe(BackfillError.NotAllowed);
    expect(error).toMatch(
      /target\.shadow_table: "finance\.daily_revenue_eu" already exists and was not created by backfill/,
    );
    expect(await world()).toEqual(before);
    expect(await new ControlStore(l.warehouse).checkpoints(spec.backfill_id)).toEqual([]);
    expect(await new ControlStore(l.warehouse).ownedBy(spec.backfill_id)).toEqual([]);
  });

  it('refuses the target under another spelling (three-part name, other case) ' +
    'as its own restore point or shadow', async () => {
    const before = await world();
    // The lab's in-memory DuckDB is the catalog "memory".
    for (const [field, patch] of [
      [
        'rollback.snapshot',
        (s: BackfillSpec) => void (s.rollback = { ...s.rollback, snapshot: 'memory.finance.daily_revenue' }),
      ],
      [
        'target.shadow_table',
        (s: BackfillSpec) => void (s.target = { ...s.target, shadow_table: 'FINANCE.Daily_Revenue' }),
      ],
    ] as const) {
      const { type, error } = await failedWith(await l.start(testSpec('spelling', patch)));
      expect(type).toBe(BackfillError.InvalidSpec);
      expect(error).toContain(`${field}: `);
      expect(error).toContain('is the same table as target.table');
    }
    expect(await world()).toEqual(before);
  });

  it("refuses a copied spec's restore point while the first backfill's window is open, " +
    "so the first can still roll back exactly", async () => {
    const pre = await productionFingerprint(l.warehouse);
    const a = testSpec(
      'copied-a',
      (s) => void (s.rollback = { ...s.rollback, snapshot: 'finance.daily_revenue_pre_copied' }),
    );
    const ha = await l.start(a);
    await waitForStatus(ha, (s) => s.state === 'awaiting_approval');
    await approve(ha);
    await waitForStatus(ha, (s) => s.state === 'published');
    const published = await world();

    // B: a copy of A's spec with a new backfill_id, for another table (A holds the lease on its
    // own), keeping A's restore point name.
    const b = testSpec('copied-b', (s) => {
      s.target = { ...s.target, table: 'finance.daily_revenue_eu', shadow_table: 'finance.daily_revenue_eu_v2' };
      s.rollback = { ...s.rollback, snapshot: 'finance.daily_revenue_pre_copied' };
    });
    const { type, error } = await failedWith(await l.start(b));
    expect(type).toBe(BackfillError.NotAllowed);
    expect(error).toContain(`"finance.daily_revenue_pre_copied" is the snapshot of backfill ${a.backfill_id}`);
    expect(await world()).toEqual(published);

    await decide(ha, m.rollbackUpdate, { by: 'finance-controller', reason: 'exercise' });
    await ha.result();
    expect(await productionFingerprint(l.warehouse)).toEqual(pre);
  });

  it('refuses to run a backfill_id again once it published, naming its release, and writes nothing', async () => {
    const spec = testSpec('again');
    const first = await l.start(spec);
    await waitForStatus(first, (s) => s.state === 'awaiting_approval');
    await approve(first);
    await waitForStatus(first, (s) => s.state === 'published');
    await first.terminate('the server lost it'); // e.g. a new dev server over the same warehouse
    const published = await world();

    const { type, error } = await failedWith(await l.start(spec));
    expect(type).toBe(BackfillError.NotAllowed);
    expect(error).toContain(`backfill ${spec.backfill_id} already published release ${spec.backfill_id}-release`);
    expect(error).toContain('new backfill_id');
    expect(await world()).toEqual(published);
  });
});

describe('names come free only when their owner is done and its table is gone', () => {
  it("refuses a failed backfill's leftover tables to the next one, and frees the names once " +
    "a person dropped them", async () => {
    const names = (s: BackfillSpec) => {
      s.target = { ...s.target, shadow_table: 'finance.daily_revenue_leftover' };
      s.rollback = { ...s.rollback, snapshot: 'finance.daily_revenue_leftover_pre' };
    };
    const random = testSpec('leftover-a', (s) => {
      names(s);
      s.transform = {
        ...s.transform!,
        sql: s.transform!.sql.replace("'FIN-2841' AS backfill_id", 'CAST(random() AS VARCHAR) AS backfill_id'),
      };
      s.target = { ...s.target, audit_columns: ['recalculated_at'] };
    });
    expect(random.transform!.sql).toContain('random()');
    expect((await failedWith(await l.start(random))).type).toBe(BackfillError.NotIdempotent);
    const leftover = await world();
    expect(leftover.tables).toEqual(
      expect.arrayContaining(['finance.daily_revenue_leftover', 'finance.daily_revenue_leftover_pre']),
    );

    const next = testSpec('leftover-b', names);
    const { type, error } = await failedWith(await l.start(next));
    expect(type).toBe(BackfillError.NotAllowed);
    expect(error).toContain(`is the shadow of backfill ${random.backfill_id}`);
    expect(await world()).toEqual(leftover);

    await l.warehouse.execute('DROP TABLE finance.daily_revenue_leftover');
    await l.warehouse.execute('DROP TABLE finance.daily_revenue_leftover_pre');
    const again = testSpec('leftover-c', names);
    const handle = await l.start(again);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    const owners = await new ControlStore(l.warehouse).ownedBy(random.backfill_id);
    expect(owners.map((o) => o.status)).toEqual(['dropped', 'dropped']);
    await handle.terminate('test over');
  });
});

describe('rollback and cleanup act only on what the backfill recorded', () => {
  it('refuses a rollback from a restore point changed after it was taken; the window stays open, ' +
    'signoff keeps that table', async () => {
    const spec = testSpec('tampered');
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    await approve(handle);
    await waitForStatus(handle, (s) => s.state === 'published');
    // A late row arrives in the restore point's range (someone "repaired" it by hand).
    await l.warehouse.execute(`DELETE FROM ${spec.rollback.snapshot} WHERE revenue_date = DATE '2025-01-15'`);
    const published = await world();

    await decide(handle, m.rollbackUpdate, { by: 'finance-controller', reason: 'downstream mismatch' });
    const refused = await waitForStatus(handle, (s) => s.phase.includes('was refused'));
    expect(refused.state).toBe('published');
    expect(refused.rollback.open).toBe(true);
    expect(await world()).toEqual(published);
    const audit = (await new ControlStore(l.warehouse).auditTrail(spec.backfill_id)).map((e) => e.action);
    expect(audit).toContain('rollback_refused');
    expect(audit).not.toContain('rolled_back');

    await decide(handle, m.signoffUpdate, { by: 'finance-controller' });
    const done = await handle.result();
    expect(done.state).toBe('completed');
    expect(done.rollback.cleanedUp).toEqual([spec.target.shadow_table]);
    expect(done.rollback.kept?.map((k) => k.table)).toEqual([spec.rollback.snapshot]);
    expect(await tableSet(l.warehouse)).toEqual(published.tables.filter((t) => t !== spec.target.shadow_table));
    expect(await productionFingerprint(l.warehouse)).toEqual(published.production);
  });

  it('a clean run leaves exactly the tables it found: its shadow and restore point are ' +
    'created, then dropped', async () => {
    const before = await tableSet(l.warehouse);
    const spec = testSpec('clean');
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    expect(await tableSet(l.warehouse)).toEqual([...before, spec.target.shadow_table, spec.rollback.snapshot].sort());
    await approve(handle);
    await waitForStatus(handle, (s) => s.state === 'published');
    await decide(handle, m.signoffUpdate, { by: 'finance-controller' });
    const done = await handle.result();
    expect(done.rollback.cleanedUp).toEqual([spec.rollback.snapshot, spec.target.shadow_table]);
    expect(await tableSet(l.warehouse)).toEqual(before);
    const owned = await new ControlStore(l.warehouse).ownedBy(spec.backfill_id);
    expect(owned.map((o) => [o.role, o.status])).toEqual(
      expect.arrayContaining([
        ['shadow', 'dropped'],
        ['snapshot', 'dropped'],
      ]),
    );
  });
});

describe('plan and start report the refusals (exit 4), before anything runs', () => {
  const backfill = backfillWith;

  /** The example spec in its own folder (with its SQL file), one field changed. */
  function specFile(edit: (raw: Record<string, any>) => void): string {
    const dir = mkdtempSync(join(tmpdir(), 'backfill-safety-'));
    cpSync('examples/sql', join(dir, 'sql'), { recursive: true });
    const raw = parse(readFileSync('examples/revenue-tax-fix.yaml', 'utf8')) as Record<string, any>;
    raw.backfill_id = `cli-refusal-${process.pid}-${Date.now().toString(36)}`;
    raw.source_range = { ...raw.source_range, start: '2025-01-01', end: '2025-01-14' };
    raw.execution = { ...raw.execution, pause_windows: [], pause_during_live_pipeline: false };
    delete raw.execution.live_pipeline;
    edit(raw);
    const file = join(dir, 'spec.yaml');
    writeFileSync(file, stringify(raw));
    return file;
  }

  it('start waits for the pre-flight and exits 4 naming the existing table; nothing is written', async () => {
    const before = await world();
    const file = specFile((raw) => void (raw.rollback = { ...raw.rollback, snapshot: 'finance.daily_revenue_apac' }));
    const r = await backfill(
      {
        TEMPORAL_ADDRESS: labs.env().address,
        TEMPORAL_NAMESPACE: labs.env().namespace,
        BACKFILL_TASK_QUEUE: l.taskQueue,
      },
      'start',
      file,
      '--by',
      'vitest',
    );
    expect(r.code, r.stderr).toBe(ExitCode.refused);
    expect(r.stderr).toContain('BackfillNotAllowed');
    expect(r.stderr).toContain('rollback.snapshot: "finance.daily_revenue_apac" already exists');
    expect(await world()).toEqual(before);
  });

  it('plan reads the warehouse and exits 4 naming the existing table, before estimating', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'backfill-safety-wh-')), 'warehouse.duckdb');
    const db = await openDuckDb({ path: file });
    await seedRevenueScenario(db);
    await db.execute('CREATE TABLE finance.daily_revenue_apac AS SELECT * FROM finance.daily_revenue LIMIT 10');
    const before = await warehouseState(db);
    await db.close();
    const spec = specFile((raw) => void (raw.rollback = { ...raw.rollback, snapshot: 'finance.daily_revenue_apac' }));
    const r = await backfill({}, 'plan', spec, '--warehouse', file);
    expect(r.code, r.stderr).toBe(ExitCode.refused);
    expect(r.stderr).toContain(
      'rollback.snapshot: "finance.daily_revenue_apac" already exists and was not created by backfill',
    );
    const after = await openDuckDb({ path: file });
    expect(await warehouseState(after)).toEqual(before);
    await after.close();
  });

  it('start refuses an out-of-range --wait with exit 2', async () => {
    const r = await backfill({}, 'start', 'examples/revenue-tax-fix.yaml', '--wait', '99999w');
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.stderr).toContain('--wait');
  });
});
