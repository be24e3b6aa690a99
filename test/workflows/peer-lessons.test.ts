/**
 * Bugs users of SQLMesh, dbt, Dagster, Airflow and Temporal schedules hit (../shared/notes/
 * peer-lessons.md), each replayed against this project on real parts. Lessons covered elsewhere
 * are listed in README.md ("Peer lessons") with the test that covers them.
 */
import { describe, expect, it } from 'vitest';
import { BackfillError } from '../../contracts/errors';
import * as m from '../../contracts/messages';
import { BackfillStateKey } from '../../contracts/search-attributes';
import { batchPartitions } from '../../domain/plan';
import type { StatementEvent } from '../../warehouse/warehouse';
import { tableExists } from '../../warehouse/catalog';
import { ControlStore } from '../../warehouse/control-store';
import { parseTableName } from '../../warehouse/identifiers';
import {
  batchMode, failureTypeOf, rangeFingerprint, testSpec, waitForStatus, useLabs,
} from '../support/backfill-harness';
import { decide } from '../support/decide';

const { newLab } = useLabs();

/** Statements that write `table` (quoted as the DuckDB dialect quotes it). */
const writesTo = (table: string) => {
  const [schema, name] = table.split('.');
  const ref = `"${schema}"\\."${name}"`;
  return new RegExp(
    `^\\s*(INSERT INTO|DELETE FROM|UPDATE|ALTER TABLE|DROP TABLE( IF EXISTS)?|TRUNCATE( TABLE)?|` +
      `CREATE OR REPLACE TABLE)\\s+${ref}(\\s|\\(|$)`,
    'i',
  );
};

describe('peer lessons', () => {
  it('sqlmesh#4292, dbt-adapters#1931: production is written only by publish and rollback, ' +
    'each inside one transaction; shadow rewrites are transactional too', async () => {
    const log: StatementEvent[] = [];
    const l = await newLab({ onStatement: (e) => log.push(e) });
    const spec = testSpec('statement-log');
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    const target = writesTo(spec.target.table);
    expect(log.filter((e) => target.test(e.sql)), 'nothing writes production before publish').toEqual([]);

    await decide(handle, m.approveUpdate, { by: 'finance-controller' });
    await waitForStatus(handle, (s) => s.state === 'published');
    await decide(handle, m.rollbackUpdate, { by: 'finance-controller', reason: 'exercise' });
    await handle.result();

    const prodWrites = log.filter((e) => target.test(e.sql));
    expect(prodWrites.map((e) => e.tag?.phase)).toEqual(['publish', 'publish', 'rollback', 'rollback']);
    expect(prodWrites.every((e) => e.inTransaction && !e.error)).toBe(true);
    const shadowWrites = log.filter(
      (e) => writesTo(spec.target.shadow_table).test(e.sql) && /^(INSERT|DELETE)/i.test(e.sql.trim()),
    );
    // A DELETE and an INSERT per batch (set-based) or per partition.
    expect(shadowWrites.length).toBeGreaterThanOrEqual(2 * (batchMode() === 'partition' ? 59 : 9));
    expect(shadowWrites.every((e) => e.inTransaction)).toBe(true);
  });

  it('dbt-core#11423: batches come from the plan, ' +
    'never from the clock (activities run with a clock years ahead)', async () => {
    const l = await newLab({ clock: () => new Date('2031-06-01T00:00:00Z') });
    const spec = testSpec('clock');
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    const checkpoints = await new ControlStore(l.warehouse).checkpoints(spec.backfill_id);
    expect(checkpoints.map((c) => [c.firstPartition, c.lastPartition])).toEqual(
      Array.from({ length: 9 }, (_, i) => {
        const parts = batchPartitions(spec, i);
        return [parts[0]!.start, parts[parts.length - 1]!.start];
      }),
    );
    expect(checkpoints[0]!.finishedAt.startsWith('2031-06-01')).toBe(true);
    await handle.terminate('test over');
  });

  it('temporal#11162: a range missing from the shadow is caught by the completion check and rewritten, ' +
    'never reported as done', async () => {
    const l = await newLab();
    const spec = testSpec('skip');
    // Batch 6 halts on late source data, so the test can tamper with an earlier, checkpointed batch.
    const where = "revenue_date = DATE '2025-02-05'";
    await l.warehouse.execute(`CREATE TABLE staging.held_back AS SELECT * FROM staging.revenue_events WHERE ${where}`);
    await l.warehouse.execute(`DELETE FROM staging.revenue_events WHERE ${where}`);
    const handle = await l.start(spec);
    const halted = await waitForStatus(handle, (s) => s.state === 'halted');
    expect(halted.halt?.batch).toBe(6);
    await l.warehouse.execute(`DELETE FROM ${spec.target.shadow_table} WHERE revenue_date = DATE '2025-01-03'`);
    await l.warehouse.execute('INSERT INTO staging.revenue_events SELECT * FROM staging.held_back');
    await decide(handle, m.resolveUpdate, { action: 'retry', by: 'oncall', reason: 'late data loaded' });

    const caught = await waitForStatus(
      handle,
      (s) => s.state === 'halted' && s.halt?.reason.startsWith('completion check') === true,
    );
    expect(caught.halt?.reason).toContain('2025-01-03');
    expect(caught.batches.done).toBe(9);
    expect(caught.halt?.options).toEqual(['retry', 'abort']);
    // A missing range cannot be accepted: the update refuses at once and the halt stays open.
    const refused = await decide(handle, m.resolveUpdate, { action: 'accept', by: 'oncall', reason: 'ship it' })
      .catch((e: unknown) => e);
    expect(String((refused as Error).cause ?? refused)).toContain('not possible');
    await decide(handle, m.resolveUpdate, { action: 'retry', by: 'oncall', reason: 'rewrite it' });
    const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    expect(waiting.batches.done).toBe(9);
    const shadow = await rangeFingerprint(l.warehouse, spec, 'shadow');
    expect(shadow.rows).toBe((await rangeFingerprint(l.warehouse, spec, 'target')).rows);
    const actions = (await new ControlStore(l.warehouse).auditTrail(spec.backfill_id)).map((a) => a.action);
    expect(actions.filter((a) => a === 'completion_failed')).toHaveLength(1);
    expect(actions.at(-1)).toBe('completion_verified');
    await handle.terminate('test over');
  });

  it('sqlmesh#3866: two backfills started at once on one target — exactly one runs, the other is refused', async () => {
    const l = await newLab();
    const a = testSpec('race-a');
    const b = testSpec('race-b');
    const [ha, hb] = await Promise.all([l.start(a), l.start(b)]);
    const outcomes = await Promise.all(
      [ha, hb].map((h) => waitForStatus(h, (s) => s.state === 'failed' || s.state === 'awaiting_approval')),
    );
    expect(outcomes.map((s) => s.state).sort()).toEqual(['awaiting_approval', 'failed']);
    const loser = outcomes[0]!.state === 'failed' ? ha : hb;
    expect(await failureTypeOf(loser)).toBe(BackfillError.TargetLeased);
    // Each backfill has its own shadow: the winner's holds no duplicate, the loser never made one.
    const [winner, lost] = loser === ha ? [b, a] : [a, b];
    const shadow = await rangeFingerprint(l.warehouse, winner, 'shadow');
    expect(shadow.distinctKeys).toBe(shadow.rows);
    expect(await tableExists(l.warehouse, parseTableName(lost.target.shadow_table))).toBe(false);
    await (loser === ha ? hb : ha).terminate('test over');
  });

  it('dbt-core#11114: a backfill that does not publish ends as a failed workflow, ' +
    'in the UI and in search attributes, never as a success', async () => {
    const l = await newLab();
    const spec = testSpec('visible-failure');
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    await decide(handle, m.rejectUpdate, { by: 'finance-controller', comment: 'not this quarter' });
    expect(await failureTypeOf(handle)).toBe(BackfillError.Rejected);
    const description = await handle.describe();
    expect(description.status.name).toBe('FAILED');
    expect(description.typedSearchAttributes.get(BackfillStateKey)).toBe('failed');
  });
});
