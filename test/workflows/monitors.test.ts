/**
 * Monitors in the rollback window (runbook step 7), on a real worker, dev server and DuckDB: each is
 * evaluated right after publish; a breach shows in status and the audit log and blocks signoff; with
 * on_breach: rollback the workflow rolls back by itself and production is exactly as before.
 */
import { describe, expect, it } from 'vitest';
import { BackfillError } from '../../contracts/errors';
import * as m from '../../contracts/messages';
import type { BackfillSpec } from '../../domain/spec/schema';
import { testSpec, useLabs, waitForStatus } from '../support/backfill-harness';
import { decide } from '../support/decide';
import { auditOf, expectOnlyAdded, ownTables, updateRefusal, warehouseState } from '../safety/support';

/** Breaches by construction: the published range has rows. */
const breaching = (onBreach: 'block' | 'rollback') => ({
  name: 'published-rows', description: 'rows in the published range', tolerance: 0, interval: 3_600_000,
  sql: "SELECT COUNT(*) FROM {{target}} WHERE revenue_date >= DATE '2025-01-01'", max: 0, on_breach: onBreach,
});

const week = (s: BackfillSpec) => {
  s.source_range = { ...s.source_range, start: '2025-01-01', end: '2025-01-07' };
};

describe('rollback.monitors', () => {
  const labs = useLabs();

  it('evaluates after publish; a breach is in status and the audit log and blocks signoff; the example passes',
    async () => {
      const l = await labs.newLab();
      const spec = testSpec('monitor-block', (s) => {
        week(s);
        s.rollback = { ...s.rollback, monitors: [...s.rollback.monitors, breaching('block')] };
      });
      expect(spec.rollback.monitors.map((x) => x.name)).toEqual(['monthly-net-revenue', 'published-rows']);
      const handle = await l.start(spec);
      await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
      await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'checked' });
      const watched = await waitForStatus(handle,
        (s) => s.state === 'published' && (s.monitors?.results.length ?? 0) === 2);
      const [example, rows] = watched.monitors!.results;
      // The example's monthly totals moved about 1.1%, under its 2% threshold.
      expect(example).toMatchObject({ name: 'monthly-net-revenue', ok: true, value: 0 });
      expect(rows).toMatchObject({ name: 'published-rows', ok: false, onBreach: 'block' });
      expect(rows!.value).toBeGreaterThan(0);
      expect(watched.monitors!.next['published-rows']).toBeDefined();
      const refusal = await updateRefusal(decide(handle, m.signoffUpdate, { by: 'finance-controller' }));
      expect(refusal.type).toBe(BackfillError.NotAllowed);
      expect(refusal.message).toContain('signoff refused: published-rows (rows in the published range) breached');
      const audit = await auditOf(l.warehouse, spec.backfill_id);
      expect(audit.filter((a) => a.action === 'monitor_breached').map((a) => a.detail.monitor))
        .toEqual(['published-rows']);
      expect((await handle.query(m.statusQuery)).state).toBe('published');
      await handle.terminate('test over');
    });

  it('with on_breach: rollback, rolls back by itself and restores production exactly', async () => {
    const l = await labs.newLab();
    const spec = testSpec('monitor-rollback', (s) => {
      week(s);
      s.rollback = { ...s.rollback, monitors: [breaching('rollback')] };
    });
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'checked' });
    const final = await handle.result();
    expect(final.state).toBe('rolled_back');
    expect(final.rollback.rolledBack)
      .toMatchObject({ by: 'workflow', comment: expect.stringContaining('published-rows') });
    // Production exactly as before (fingerprint), every other table unchanged; only the backfill's own
    // shadow and restore point were added, kept after a rollback for inspection.
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
    const actions = (await auditOf(l.warehouse, spec.backfill_id)).map((a) => a.action);
    expect(actions)
      .toEqual(expect.arrayContaining(['published', 'monitor_breached', 'rollback_requested', 'rolled_back']));
    expect(actions.indexOf('monitor_breached')).toBeLessThan(actions.indexOf('rolled_back'));
  });
});
