/**
 * Reconciliation the way data owners state it, on a real worker, dev server and DuckDB: a custom
 * check that finds rows halts the batch with the rows in its checkpoint (retry or abort only); the
 * example's source reconciliation passes; a whole range outside expected_delta, with every batch
 * inside a looser batch_delta, halts at the completion check, where an approver may accept it.
 * Production's fingerprint and the table set are compared before and after each refusal.
 */
import { describe, expect, it } from 'vitest';
import { BackfillError } from '../../contracts/errors';
import * as m from '../../contracts/messages';
import type { BackfillSpec } from '../../domain/spec/schema';
import { ControlStore } from '../../warehouse/control-store';
import { failureTypeOf, testSpec, useLabs, waitForStatus } from '../support/backfill-harness';
import { decide } from '../support/decide';
import { expectOnlyAdded, ownTables, updateRefusal, warehouseState } from '../safety/support';

const twoWeeks = (s: BackfillSpec) => {
  s.source_range = { ...s.source_range, start: '2025-01-01', end: '2025-01-14' };
};

describe('custom checks and expectation scopes', () => {
  const labs = useLabs();

  it('a custom check that returns rows halts its batch, keeps the rows in the checkpoint, and cannot be accepted',
    async () => {
      const l = await labs.newLab();
      const spec = testSpec('custom-check', (s) => {
        twoWeeks(s);
        s.validation.checks = [...s.validation.checks, {
          name: 'no-negative-tax',
          description: 'tax is never above gross (a refund mapped wrongly)',
          severity: 'fail',
          // Fails by construction: every day has rows where tax is below gross.
          sql: 'SELECT revenue_date, merchant_id, tax_amount, gross_revenue FROM {{shadow}} ' +
            'WHERE revenue_date >= :partition_start AND revenue_date < :partition_end AND tax_amount < gross_revenue',
        }];
      });
      const before = await warehouseState(l.warehouse);
      const handle = await l.start(spec);
      const halted = await waitForStatus(handle, (s) => s.state === 'halted');
      expect(halted.halt).toMatchObject({ batch: 1, options: ['retry', 'abort'] });
      expect(halted.halt!.reason).toContain('no-negative-tax (tax is never above gross');
      const [checkpoint] = await new ControlStore(l.warehouse).checkpoints(spec.backfill_id);
      const custom = checkpoint!.provenance.checks.find((c) => c.name === 'no-negative-tax')!;
      expect(custom).toMatchObject({ kind: 'custom', passed: false, severity: 'fail' });
      expect(custom.rows).toHaveLength(10);
      expect(custom.rows![0]).toMatchObject({ revenue_date: expect.stringMatching(/^2025-01-0/) });
      // The example's own check (gross per day equals the events) passed.
      expect(checkpoint!.provenance.checks.find((c) => c.name === 'gross-matches-events')?.passed).toBe(true);
      const refused = await updateRefusal(
        decide(handle, m.resolveUpdate, { action: 'accept', by: 'finance-controller', reason: 'x' }));
      expect(refused.type).toBe(BackfillError.NotAllowed);
      expect(refused.message).toContain('"accept" is not possible for this halt');
      await decide(handle, m.resolveUpdate, { action: 'abort', by: 'oncall', reason: 'the rule is right' });
      expect(await failureTypeOf(handle)).toBe(BackfillError.Aborted);
      await expectOnlyAdded(l.warehouse, before, ownTables(spec));
    });

  it('every batch inside batch_delta but the whole range outside expected_delta: halts at the completion check; ' +
    'an approver accepts, and approval follows', async () => {
    const l = await labs.newLab();
    const spec = testSpec('range-scope', (s) => {
      twoWeeks(s);
      // The fix moves net revenue about -1.1%: every batch is inside the loose batch band, the whole
      // range is not inside "-0.5% to 0%".
      s.measures = s.measures.map((x) => x.column === 'net_revenue'
        ? { ...x, expected_delta: { min: -0.5, max: 0 }, batch_delta: { min: -3, max: 0 } }
        : x);
    });
    const handle = await l.start(spec);
    const halted = await waitForStatus(handle, (s) => s.state === 'halted');
    expect(halted.batches.done).toBe(2);
    expect(halted.halt).toMatchObject({ batch: null, options: ['retry', 'abort', 'accept'] });
    expect(halted.halt!.reason).toMatch(new RegExp('completion check: net_revenue changed -1\\.\\d+% over the whole ' +
      'range \\(14 partitions\\).*outside the expected -0\\.5% to 0%'));
    // The running total warned during the run, for the approver.
    const report = await handle.query(m.reportQuery);
    expect(report.warnings.join('\n')).toContain('over the 14 partitions reconciled so far');
    await decide(handle, m.resolveUpdate, {
      action: 'accept', by: 'head-of-finance-data', reason: 'the range in the spec was too narrow',
    });
    const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    expect(waiting.decisionDigest).toMatch(/^[0-9a-f]{64}$/);
    await handle.terminate('test over');
  });
});
