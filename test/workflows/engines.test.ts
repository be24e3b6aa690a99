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
import { batchMode, rangeFingerprint, testSpec, waitForStatus, type Lab, useLabs } from '../support/backfill-harness';
import { decide } from '../support/decide';

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
  await decide(handle, m.approveUpdate, { by: 'finance-controller' });
  // The example's monitor (monthly totals against the restore point) is evaluated right after publish.
  const watched = await waitForStatus(handle, (s) => s.state === 'published' && Boolean(s.monitors?.results.length),
    60_000);
  expect(watched.monitors!.results).toMatchObject([{ name: 'monthly-net-revenue', ok: true, value: 0 }]);
  const published = await rangeFingerprint(l.backing, spec, 'target');
  await decide(handle, m.rollbackUpdate, { by: 'finance-controller', reason: 'compare engines' });
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
    expect(dml.length).toBeGreaterThan(2 * 3);
    expect(dml.filter((e) => !e.inTransaction).map((e) => e.sql.slice(0, 80))).toEqual([]);
    // No DDL ever runs inside a transaction (it would commit it half-done).
    expect(log.filter((e) => e.kind === 'ddl' && (e.inTransaction || e.autocommitted)).map((e) => e.sql.slice(0, 80)))
      .toEqual([]);
    // Production is written only by publish and rollback.
    const prodWrites = log.filter((e) => e.kind === 'dml' && e.writes.includes('FINANCE.DAILY_REVENUE'));
    expect([...new Set(prodWrites.map((e) => tagOf(e)?.phase))].sort()).toEqual(['publish', 'rollback']);
    const batchTags = log.flatMap((e) => {
      const tag = tagOf(e) as { phase?: string; batch?: number; partition?: string } | null;
      return tag?.phase === 'batch' && e.kind !== 'session' && !/INFORMATION_SCHEMA/i.test(e.sql)
        ? [{ tag, statement: e.sql.split(/\s+/)[0]!.toUpperCase() }]
        : [];
    });
    const group = (key: (t: { batch?: number; partition?: string }) => string | number | undefined) => {
      const out = new Map<string | number, string[]>();
      for (const { tag, statement } of batchTags) {
        const k = key(tag);
        if (k !== undefined) out.set(k, [...(out.get(k) ?? []), statement]);
      }
      return out;
    };
    if (batchMode() === 'partition') {
      // Partition by partition: each partition its own transaction, tagged with batch and partition.
      const perPartition = group((t) => t.partition);
      expect(perPartition.size).toBe(20);
      for (const s of perPartition.values()) expect(s).toEqual(['BEGIN', 'DELETE', 'INSERT', 'SELECT', 'COMMIT']);
    } else {
      // Set-based batches: every batch runs the same statements whatever its partitions (7, 7 and 6),
      // each tagged with its batch number (from 1); none is per partition. (The first batch also
      // reads the target's columns, once per worker: left out above.)
      expect(batchTags.filter((t) => t.tag.partition !== undefined)).toEqual([]);
      const perBatch = group((t) => t.batch);
      expect([...perBatch.keys()].sort()).toEqual([1, 2, 3]);
      for (const statements of perBatch.values()) {
        expect(statements).toEqual([
          // The rewrite: one transaction; the statistics of shadow and production, read inside it in
          // one statement, are the out-of-range check and the reconciliation's totals.
          'BEGIN', 'DELETE', 'INSERT', 'SELECT', 'COMMIT',
          // The largest changed rows of every measure in one statement.
          'WITH',
          // The spec's one custom check (validation.checks), read-only: Snowflake has no read-only
          // transaction, so it is one statement on its session.
          'SELECT',
          // The checkpoint: one MERGE.
          'MERGE',
        ]);
      }
    }
    // Session settings once per session: the tag travels with each statement, the timeout is set once.
    const alters = new Map<number, number>();
    for (const e of log.filter((x) => /^ALTER SESSION/i.test(x.sql))) {
      alters.set(e.sessionId, (alters.get(e.sessionId) ?? 0) + 1);
    }
    expect([...new Set(alters.values())]).toEqual([1]);
  });
});
