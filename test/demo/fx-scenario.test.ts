/**
 * The second domain (issue 13): hourly USD revenue with an FX bug from 2026-02-20, 1,800 hourly
 * partitions (demo/fx-scenario.ts, examples/fx-hourly-fix.yaml). The owner's expectation is about
 * the whole range (+3% to +6%); single days move 0% or about +7.3%, inside the looser batch band.
 * The run publishes; the change-point check points at the bug's first hour and at no month edge.
 * Without the batch band (one band for every scope) it halts at batch 1, as it used to.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../client/load-spec';
import * as m from '../../contracts/messages';
import { FX_WORLD, seedFxScenario } from '../../demo/fx-scenario';
import { shadowTableFor } from '../../domain/spec/parse';
import type { BackfillSpec } from '../../domain/spec/schema';
import { useLabs, waitForStatus } from '../support/backfill-harness';
import { decide } from '../support/decide';
import type { Driver } from '../../warehouse/warehouse';

let counter = 0;
function fxSpec(name: string, patch: (s: BackfillSpec) => void = () => {}): BackfillSpec {
  const base = loadSpecFile(join(__dirname, '..', '..', 'examples', 'fx-hourly-fix.yaml')).spec;
  const id = `${name}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
  const spec: BackfillSpec = {
    ...base,
    backfill_id: id,
    target: { ...base.target, shadow_table: shadowTableFor(base.target.table, id) },
    rollback: {
      ...base.rollback, window: 60 * 60_000, snapshot: `${base.target.table}_pre_${id.replace(/-/g, '_')}`,
    },
  };
  patch(spec);
  return spec;
}

/** Rows and the exact USD total of production: what publishing the fix changes. */
const fingerprintOf = async (db: Driver) =>
  (await db.query(`SELECT COUNT(*) AS n, CAST(SUM(amount_usd) AS VARCHAR) AS usd FROM ${FX_WORLD.targetTable}`))[0];

describe('the FX world: expectation scopes and change-points on 1,800 hourly partitions', () => {
  const labs = useLabs();

  it('publishes with expected_delta "+3% to +6%" and a looser batch_delta; ' +
    'points at the bug\'s first hour and at no month edge', async () => {
      const l = await labs.newLab({ seed: seedFxScenario });
      const spec = fxSpec('fx');
      const handle = await l.start(spec);
      const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval' || s.state === 'halted',
        180_000);
      expect(waiting.state, waiting.phase).toBe('awaiting_approval');
      expect(waiting.batches).toMatchObject({ done: 75, total: 75 });
      const report = await handle.query(m.reportQuery);
      const usd = report.measures.find((x) => x.column === 'amount_usd')!;
      expect(usd.deltaPct).toBeGreaterThan(3);
      expect(usd.deltaPct).toBeLessThan(6);
      const changePoints = report.warnings.filter((w) => w.includes('jumps'));
      expect(changePoints.join('\n')).toContain('amount_usd delta% jumps');
      expect(changePoints.join('\n')).toMatch(/2026-02-20T00:00/);
      for (const edge of ['2026-02-01T00:00', '2026-03-01T00:00']) {
        expect(report.warnings.join('\n')).not.toContain(edge);
      }
      const before = await fingerprintOf(l.warehouse);
      await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'FX-412 checked' });
      const published = await waitForStatus(handle, (s) => s.state === 'published');
      expect(published.release?.releaseId).toBe(`${spec.backfill_id}-release`);
      expect(await fingerprintOf(l.warehouse)).not.toEqual(before);
      await handle.terminate('test over');
    });

  it('with one band for every scope (no batch_delta), halts at batch 1, as before', async () => {
    const l = await labs.newLab({ seed: seedFxScenario });
    const spec = fxSpec('fx-one-band', (s) => {
      s.measures = s.measures.map((x) => ({ ...x, batch_delta: undefined }));
    });
    const handle = await l.start(spec);
    const halted = await waitForStatus(handle, (s) => s.state === 'halted', 120_000);
    expect(halted.halt).toMatchObject({ batch: 1, options: ['retry', 'abort', 'accept'] });
    expect(halted.halt!.reason).toContain('expects +3% to +6%');
    await handle.terminate('test over');
  });
});
