/**
 * The full lifecycle twice, with the same spec: on the embedded DuckDB and on Snowflake through the
 * real snowflake-sdk against the local wire emulator (test/support/snowflake-emulator). Both must
 * reach the same verdicts and publish the same rows; on Snowflake the statement log must show the
 * discipline the engine needs: every statement tagged, rewrites inside BEGIN/COMMIT, no DDL inside
 * a transaction, nothing written to production before publish.
 */
import { describe, expect, it } from 'vitest';
import * as m from '../../contracts/messages';
import type { BatchSummary } from '../../contracts/status';
import { ControlStore } from '../../warehouse/control-store';
import { rangeFingerprint, testSpec, waitForStatus, type Lab, useLabs } from '../support/backfill-harness';

const { newLab } = useLabs();

interface Outcome {
  verdicts: Array<Pick<BatchSummary, 'index' | 'verdict' | 'rows' | 'failures'> & { deltas: Array<number | null> }>;
  before: Awaited<ReturnType<typeof rangeFingerprint>>;
  published: Awaited<ReturnType<typeof rangeFingerprint>>;
  rolledBack: Awaited<ReturnType<typeof rangeFingerprint>>;
  report: { deltaPct: number | null; withinExpected: boolean }[];
}

/** Happy path to publish, then rollback; fingerprints read from the DuckDB underneath with one dialect. */
async function lifecycle(l: Lab, name: string): Promise<Outcome> {
  const spec = testSpec(name, (s) => {
    s.source_range.end = '2025-01-20';
  });
  const before = await rangeFingerprint(l.backing, spec, 'target');
  const handle = await l.start(spec);
  await waitForStatus(
    handle,
    (s) => s.state === 'awaiting_approval' || s.state === 'failed' || s.state === 'halted',
    90_000,
  );
  const batches = await handle.query(m.batchesQuery);
  const report = await handle.query(m.reportQuery);
  await handle.executeUpdate(m.approveUpdate, { args: [{ by: 'finance-controller' }] });
  await waitForStatus(handle, (s) => s.state === 'published', 60_000);
  const published = await rangeFingerprint(l.backing, spec, 'target');
  await handle.executeUpdate(m.rollbackUpdate, { args: [{ by: 'finance-controller', reason: 'compare engines' }] });
  expect((await handle.result()).state).toBe('rolled_back');
  const rolledBack = await rangeFingerprint(l.backing, spec, 'target');
  expect(await new ControlStore(l.backing).checkpoints(spec.backfill_id)).toHaveLength(3);
  return {
    verdicts: batches.items.map((b) => ({
      index: b.index,
      verdict: b.verdict,
      rows: b.rows,
      failures: b.failures,
      deltas: b.measures.map((x) => x.deltaPct),
    })),
    before,
    published,
    rolledBack,
    report: report.measures.map((x) => ({ deltaPct: x.deltaPct, withinExpected: x.withinExpected })),
  };
}

describe('the same spec on every engine', () => {
  const outcomes: Record<string, Outcome> = {};

  it('DuckDB: snapshot, proof, batches, approval, publish, rollback', async () => {
    const l = await newLab();
    outcomes.duckdb = await lifecycle(l, 'engine-duckdb');
    expect(outcomes.duckdb.verdicts.map((v) => v.verdict)).toEqual(['passed', 'passed', 'passed']);
  });

  it('Snowflake through snowflake-sdk and the wire emulator: ' +
    'the same verdicts and the same published rows', async () => {
    const l = await newLab({ engine: 'snowflake' });
    const snowflake = await lifecycle(l, 'engine-snowflake');
    const duckdb = outcomes.duckdb!;
    expect(snowflake.verdicts.map((v) => ({ ...v, deltas: v.deltas.map((d) => d?.toFixed(9)) }))).toEqual(
      duckdb.verdicts.map((v) => ({ ...v, deltas: v.deltas.map((d) => d?.toFixed(9)) })),
    );
    expect(snowflake.report.map((r) => r.withinExpected)).toEqual(duckdb.report.map((r) => r.withinExpected));
    expect(snowflake.before).toEqual(duckdb.before);
    expect(snowflake.published).toEqual(duckdb.published);
    expect(snowflake.published).not.toEqual(snowflake.before);
    expect(snowflake.rolledBack).toEqual(snowflake.before);

    const log = l.emulator!.log.filter((e) => !e.error);
    const tagOf = (e: (typeof log)[number]) =>
      e.queryTag ? (JSON.parse(e.queryTag) as { phase?: string; backfill_id?: string }) : null;
    // Every statement the backfill ran carries a QUERY_TAG naming the backfill and phase.
    const untagged = log.filter(
      (e) => e.kind !== 'session' && !tagOf(e)?.phase && !/^\s*(BEGIN|COMMIT|ROLLBACK)/i.test(e.sql),
    );
    expect(untagged.map((e) => e.sql.slice(0, 80))).toEqual([]);
    // Rewrites of the shadow and writes of production happen inside BEGIN/COMMIT.
    const dml = log.filter(
      (e) => e.kind === 'dml' && e.writes.some((w) => /^FINANCE\.DAILY_REVENUE(__SHADOW_\w+)?$/.test(w)),
    );
    expect(dml.length).toBeGreaterThan(2 * 20);
    expect(dml.filter((e) => !e.inTransaction).map((e) => e.sql.slice(0, 80))).toEqual([]);
    // No DDL ever runs inside a transaction (it would commit it half-done).
    expect(log.filter((e) => e.kind === 'ddl' && (e.inTransaction || e.autocommitted)).map((e) => e.sql.slice(0, 80)))
      .toEqual([]);
    // Production is written only by publish and rollback.
    const prodWrites = log.filter((e) => e.kind === 'dml' && e.writes.includes('FINANCE.DAILY_REVENUE'));
    expect([...new Set(prodWrites.map((e) => tagOf(e)?.phase))].sort()).toEqual(['publish', 'rollback']);
    // Each partition rewrite is the same 6 round trips: tag, BEGIN, DELETE, INSERT, out-of-partition count, COMMIT.
    const byPartition = new Map<string, number>();
    for (const e of log) {
      const tag = tagOf(e) as { phase?: string; partition?: string } | null;
      if (tag?.phase === 'batch' && tag.partition) {
        byPartition.set(tag.partition, (byPartition.get(tag.partition) ?? 0) + 1);
      }
    }
    expect(byPartition.size).toBe(20);
    expect([...new Set(byPartition.values())]).toEqual([6]);
  });
});
