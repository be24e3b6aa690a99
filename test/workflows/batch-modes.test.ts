/**
 * How batches are rewritten, end to end on real parts (the shared Temporal dev server, a real worker,
 * a real DuckDB seeded with the tax-bug scenario): one DELETE + INSERT per batch once preparation
 * proves the transform decomposable, partition by partition when the spec says so, and partition by
 * partition when the proof finds a transform that reads beyond its partition, which then still
 * publishes exactly the rows a per-partition rewrite produces.
 */
import { describe, expect, it } from 'vitest';
import * as m from '../../contracts/messages';
import type { BackfillStatus } from '../../contracts/status';
import { seedRevenueScenario } from '../../demo/revenue-scenario';
import { allPartitions, batchOf, batchPartitions, planShape } from '../../domain/plan';
import type { BackfillSpec } from '../../domain/spec/schema';
import { rewriteBatch, type BatchMode } from '../../warehouse/batch-rewrite';
import { columnNames } from '../../warehouse/catalog';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { createShadow } from '../../warehouse/shadow';
import type { Driver, StatementEvent } from '../../warehouse/warehouse';
import { rangeFingerprint, testSpec, useLabs, waitForStatus, type BackfillHandle } from '../support/backfill-harness';
import { AT, claimed } from '../support/owned';
import { decide, decideBySignal } from '../support/decide';

const { newLab } = useLabs();

/** tax_amount holds the total tax of everything the transform read: a window over its whole input. */
function windowed(s: BackfillSpec): void {
  const sql = s.transform!.sql.replace(
    'CAST(sum(tax_amount) AS DECIMAL(18, 2)) AS tax_amount',
    'CAST(sum(sum(tax_amount)) OVER () AS DECIMAL(18, 2)) AS tax_amount',
  );
  if (sql === s.transform!.sql) throw new Error('the example transform changed: the window was not put in');
  s.transform = { ...s.transform!, sql };
}

/** A lab that keeps the statements its warehouse ran. */
async function recordingLab() {
  const statements: StatementEvent[] = [];
  const l = await newLab({ onStatement: (e) => statements.push(e) });
  /** The transform's INSERTs into the shadow during the batch phase (preparation's proofs left out). */
  const batchInserts = () =>
    statements.filter((e) => e.tag?.phase === 'batch' && /^INSERT INTO/.test(e.sql) && e.sql.includes('transformed'));
  return { l, batchInserts };
}

const awaitingApproval = (handle: BackfillHandle) =>
  waitForStatus(handle, (s) => s.state === 'awaiting_approval' || s.state === 'halted' || s.state === 'failed', 90_000);

function expectEveryBatchPassed(spec: BackfillSpec, status: BackfillStatus): void {
  expect(status.state, JSON.stringify(status.halt ?? status.error)).toBe('awaiting_approval');
  const batches = planShape(spec).batches;
  expect(batches).toBe(9);
  expect(status.batches).toMatchObject({ done: batches, total: batches });
  expect(status.partitions).toEqual({ done: 59, total: 59 });
}

/** The batch the decomposability proof ran on, counted from 1: the one holding the representative partition. */
function provenBatch(spec: BackfillSpec, status: BackfillStatus) {
  const index = batchOf(spec, status.proof!.partition);
  expect(index).not.toBeNull();
  const partitions = batchPartitions(spec, index!);
  return { number: index! + 1, first: partitions[0]!.start, last: partitions[partitions.length - 1]!.start };
}

/**
 * The shadow a rewrite of every partition gives, in a separate in-memory DuckDB seeded the same way:
 * partition by partition (the reference), or batch by batch as one range each.
 */
async function referenceShadow(spec: BackfillSpec, mode: BatchMode) {
  const reference: Driver = await openDuckDb({ path: ':memory:' });
  try {
    await seedRevenueScenario(reference);
    await createShadow(reference, await claimed(reference, spec), AT);
    const columns = await columnNames(reference, spec.target.table);
    if (mode === 'partition') {
      await rewriteBatch(reference, spec, allPartitions(spec), columns, { mode, concurrency: 2 });
    } else {
      for (let i = 0; i < planShape(spec).batches; i++) {
        await rewriteBatch(reference, spec, batchPartitions(spec, i), columns, { mode, concurrency: 1 });
      }
    }
    return await rangeFingerprint(reference, spec, 'shadow');
  } finally {
    await reference.close();
  }
}

const tablesIn = async (db: Driver) =>
  (await db.query(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables ORDER BY 1`))
    .map((r) => String(r.t));

describe('batch modes', () => {
  it('rewrites each batch with one DELETE + INSERT once the transform proves decomposable', async () => {
    const { l, batchInserts } = await recordingLab();
    const spec = testSpec('batch-range', (s) => {
      s.execution.batch_mode = 'auto';
    });
    const handle = await l.start(spec);
    const status = await awaitingApproval(handle);
    expectEveryBatchPassed(spec, status);
    expect(status.plan?.batchMode).toMatch(/^one DELETE \+ INSERT per batch if preparation proves the transform /);
    expect(status.plan?.batchMode).toContain('otherwise partition by partition');

    const decision = status.proof?.batchMode;
    const proven = provenBatch(spec, status);
    expect(decision).toMatchObject({ mode: 'range', provenOnBatch: proven.number });
    expect(decision!.reason).toContain(`on batch ${proven.number} (${proven.first}..${proven.last})`);
    expect(decision!.reason).toContain('union of its 7 partitions');
    const batches = await handle.query(m.batchesQuery);
    expect(batches.items.map((b) => b.verdict)).toEqual(Array(9).fill('passed'));
    // One INSERT per batch, not one per partition.
    expect(batchInserts()).toHaveLength(9);
    // And the shadow holds what a partition-by-partition rewrite writes.
    expect(await rangeFingerprint(l.warehouse, spec, 'shadow')).toEqual(await referenceShadow(spec, 'partition'));
    await handle.terminate('batch-modes test done');
  }, 120_000);

  it('rewrites partition by partition when execution.batch_mode says partition', async () => {
    const { l, batchInserts } = await recordingLab();
    const spec = testSpec('batch-partition', (s) => {
      s.execution.batch_mode = 'partition';
    });
    const handle = await l.start(spec);
    const status = await awaitingApproval(handle);
    expectEveryBatchPassed(spec, status);
    expect(status.plan?.batchMode).toBe('partition by partition: execution.batch_mode is partition');
    expect(status.proof?.batchMode).toEqual({
      mode: 'partition', provenOnBatch: null, reason: 'partition by partition: execution.batch_mode is partition',
    });
    expect(batchInserts()).toHaveLength(59);
    await handle.terminate('batch-modes test done');
  }, 120_000);

  it('falls back to partition by partition for a window over the whole input, and publishes exactly the rows ' +
    'a per-partition rewrite produces', async () => {
    const { l, batchInserts } = await recordingLab();
    const spec = testSpec('batch-window', (s) => {
      s.execution.batch_mode = 'auto';
      windowed(s);
    });
    const [expected, asRanges] = [await referenceShadow(spec, 'partition'), await referenceShadow(spec, 'range')];
    // The test means something only if one range per batch would have written other rows.
    expect(asRanges.rows).toBe(expected.rows);
    expect(asRanges.rowHash).not.toBe(expected.rowHash);

    const tablesBefore = await tablesIn(l.warehouse);
    const outsideBefore = await rangeFingerprint(l.warehouse, spec, 'target', { from: '2025-03-01', to: '2025-04-01' });
    const handle = await l.start(spec);
    const status = await awaitingApproval(handle);
    expectEveryBatchPassed(spec, status);
    const decision = status.proof?.batchMode;
    const proven = provenBatch(spec, status);
    expect(decision).toMatchObject({ mode: 'partition', provenOnBatch: proven.number });
    expect(decision!.reason).toContain(`on batch ${proven.number} (${proven.first}..${proven.last})`);
    expect(decision!.reason).toContain('the transform over the range differed from the union of its partitions');
    expect(decision!.reason).toContain('row hash');
    expect(batchInserts()).toHaveLength(59);
    expect(await rangeFingerprint(l.warehouse, spec, 'shadow')).toEqual(expected);

    const ack = await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'window fallback' });
    expect(ack.accepted).toBe(true);
    await waitForStatus(handle, (s) => s.state === 'published', 60_000);
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(expected);
    expect(await rangeFingerprint(l.warehouse, spec, 'target', { from: '2025-03-01', to: '2025-04-01' }))
      .toEqual(outsideBefore);

    await decideBySignal(handle, m.signoffSignal, { by: 'head-of-finance-data', comment: 'checked' });
    expect((await handle.result()).state).toBe('completed');
    // The proof and the run left no table of theirs behind: only the control schema is new.
    const added = (await tablesIn(l.warehouse)).filter((t) => !tablesBefore.includes(t));
    expect(added.filter((t) => !t.startsWith('backfill_control.'))).toEqual([]);
    expect((await tablesIn(l.warehouse)).filter((t) => tablesBefore.includes(t))).toEqual(tablesBefore);
  }, 150_000);
});
