/**
 * Payload bounds (contracts/limits.ts): whatever a person types into the Temporal UI's signal form
 * or sends through the CLI, a 1 MB field is refused and audited as a short excerpt, refusal lists stay
 * capped, the status query keeps answering and the run goes on. Real worker, real dev server, real
 * DuckDB; production and every table outside backfill_control are compared before and after.
 */
import { describe, expect, it } from 'vitest';
import { BackfillError } from '../../contracts/errors';
import { PAYLOAD_LIMITS, STATE_LIMITS } from '../../contracts/limits';
import * as m from '../../contracts/messages';
import type { ApprovalRequest, RollbackRequest } from '../../contracts/status';
import type { BackfillSpec } from '../../domain/spec/schema';
import {
  failureTypeOf,
  rangeFingerprint,
  testSpec,
  waitForStatus,
  type Lab,
  useLabs,
} from '../support/backfill-harness';
import {
  auditOf,
  count,
  expectOnlyAdded,
  ownTables,
  PRODUCTION,
  productionFingerprint,
  updateRefusal,
  waitForAudit,
  warehouseState,
  WHOLE,
} from './support';
import { decide, decideBySignal } from '../support/decide';

const labs = useLabs();
const newLab = labs.newLab;

const MB = 1024 * 1024;
const huge = (c: string) => c.repeat(MB);
/** Far above any excerpt (80 characters) plus the message around it, far below the 1 MB sent. */
const SHORT = 1_000;

/** Production outside the backfilled week (the scenario's data starts 2024-12-01, the week 2025-01-01). */
const outsideWeek = (l: Lab) =>
  Promise.all(
    [
      { from: WHOLE.from, to: '2025-01-01' },
      { from: '2025-01-08', to: WHOLE.to },
    ].map((r) => productionFingerprint(l.warehouse, r)),
  );

const week = (s: BackfillSpec) => {
  s.source_range = { ...s.source_range, start: '2025-01-01', end: '2025-01-07' };
};

describe('oversized payloads are refused as excerpts', () => {
  it('three approve signals with a 1 MB "by": status still answers, refusals and audit entries are short, ' +
    'then a normal approve publishes', async () => {
    const l = await newLab();
    const spec = testSpec('huge-by-signal', week);
    const before = await warehouseState(l.warehouse);
    const outsideBefore = await outsideWeek(l);
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');

    for (const c of ['a', 'b', 'c']) await decideBySignal(handle, m.approveSignal,
      { by: huge(c), comment: 'approved' });
    const refused = await waitForStatus(handle, (s) => (s.approval?.refusals.length ?? 0) >= 3, 30_000);
    expect(refused.state).toBe('awaiting_approval');
    expect(refused.approval!.approved).toBeNull();
    expect(refused.approval!.refusals).toHaveLength(3);
    for (const [i, r] of refused.approval!.refusals.entries()) {
      expect(JSON.stringify(r).length).toBeLessThan(SHORT);
      expect(r.by.startsWith('abc'[i]!.repeat(PAYLOAD_LIMITS.excerptChars))).toBe(true);
      expect(r.by).toContain(`(${MB - PAYLOAD_LIMITS.excerptChars} more characters)`);
      expect(r.reason).toContain(`approve "by" is ${MB} characters, more than the ${PAYLOAD_LIMITS.nameChars} allowed`);
    }
    // The whole status, as the UI and CLI read it, stays small.
    expect(JSON.stringify(await handle.query(m.statusQuery)).length).toBeLessThan(20 * SHORT);

    const audit = await waitForAudit(l.warehouse, spec.backfill_id, (a) => count(a, 'approve_refused') >= 3);
    const entries = audit.filter((a) => a.action === 'approve_refused');
    expect(entries).toHaveLength(3);
    for (const e of entries) {
      expect(e.actor.length).toBeLessThan(SHORT);
      expect(JSON.stringify(e.detail).length).toBeLessThan(SHORT);
      expect(e.detail.via).toBe('signal');
    }

    await decide(handle, m.approveUpdate, { by: 'finance-controller', comment: 'checked the report' });
    const published = await waitForStatus(handle, (s) => s.state === 'published');
    expect(published.release?.approvedBy).toBe('finance-controller');
    // Production's range is the shadow's now; nothing else in the warehouse moved.
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(
      await rangeFingerprint(l.warehouse, spec, 'shadow'),
    );
    expect(await outsideWeek(l)).toEqual(outsideBefore);
    expect(outsideBefore.every((f) => f.rows > 0)).toBe(true);
    const after = await expectOnlyAdded(l.warehouse, before, ownTables(spec), [PRODUCTION]);
    expect(after.production).not.toEqual(before.production);
    expect(after.production.rows).toBe(before.production.rows);
    await handle.terminate('test over');
  });

  it('an approve update with a 1 MB comment is rejected at once (BackfillNotAllowed), audited with via "update", ' +
    'and approval stays open', async () => {
    const l = await newLab();
    const spec = testSpec('huge-comment-update', week);
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');

    const started = Date.now();
    const refusal = await updateRefusal(
      decide(handle, m.approveUpdate, { by: 'finance-controller', comment: huge('z') }),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(refusal.type).toBe(BackfillError.NotAllowed);
    expect(refusal.message).toContain(
      `approve "comment" is ${MB} characters, more than the ${PAYLOAD_LIMITS.textChars} allowed`,
    );
    expect(refusal.message.length).toBeLessThan(SHORT);

    const [entry, ...more] = (await auditOf(l.warehouse, spec.backfill_id)).filter(
      (a) => a.action === 'approve_refused',
    );
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ actor: 'finance-controller', detail: { via: 'update' } });
    expect(JSON.stringify(entry!.detail).length).toBeLessThan(SHORT);
    const status = await handle.query(m.statusQuery);
    expect(status.state).toBe('awaiting_approval');
    expect(status.approval?.approved).toBeNull();
    expect(JSON.stringify(status.approval!.refusals).length).toBeLessThan(SHORT);

    await decide(handle, m.rejectUpdate, { by: 'finance-controller', comment: 'end of test' });
    expect(await failureTypeOf(handle)).toBe(BackfillError.Rejected);
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
  });

  /**
   * Free text may arrive as "comment" or "reason" (the UI's form sends whatever is typed) and a
   * decision keeps either: both are bounded, so nothing of the 1 MB may be kept.
   */
  it('an approve whose 1 MB text comes as "reason" keeps none of it in status or the audit log', async () => {
    const l = await newLab();
    const spec = testSpec('huge-approve-reason', week);
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');

    const request = { by: 'finance-controller', reason: huge('q') } as ApprovalRequest;
    const refusal = await updateRefusal(decide(handle, m.approveUpdate, request));
    expect(refusal.type).toBe(BackfillError.NotAllowed);
    expect(refusal.message).toContain('"reason" is 1048576 characters');
    expect(refusal.message.length).toBeLessThan(SHORT);
    const status = await handle.query(m.statusQuery);
    expect(status.state).toBe('awaiting_approval');
    expect(JSON.stringify(status).length).toBeLessThan(20 * SHORT);
    for (const entry of await auditOf(l.warehouse, spec.backfill_id))
      expect(JSON.stringify(entry).length).toBeLessThan(5 * SHORT);
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
    await handle.terminate('test over');
  });

  /** A rollback keeps the reason given (a comment beside it is bounded too, and never replaces it). */
  it('a rollback with a valid reason and a 1 MB comment keeps none of the 1 MB, ' +
    'and audits the reason given', async () => {
    const l = await newLab();
    const spec = testSpec('huge-rollback-comment', week);
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    await decide(handle, m.approveUpdate, { by: 'finance-controller' });
    await waitForStatus(handle, (s) => s.state === 'published');

    const request = {
      by: 'finance-controller',
      reason: 'dashboard totals look wrong',
      comment: huge('k'),
    } as RollbackRequest;
    const refusal = await updateRefusal(decide(handle, m.rollbackUpdate, request));
    expect(refusal.message).toContain('"comment" is 1048576 characters');
    expect((await handle.query(m.statusQuery)).state).toBe('published');
    await decide(handle, m.rollbackUpdate, { by: 'finance-controller', reason: 'dashboard totals look wrong' });
    const final = await handle.result();
    expect(final.state).toBe('rolled_back');
    expect(JSON.stringify(await handle.query(m.statusQuery)).length).toBeLessThan(20 * SHORT);
    const audit = await auditOf(l.warehouse, spec.backfill_id);
    for (const entry of audit) expect(JSON.stringify(entry).length).toBeLessThan(5 * SHORT);
    expect(audit.find((a) => a.action === 'rolled_back')?.detail.reason).toBe('dashboard totals look wrong');
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
  });

  it(`25 refused approvals keep the newest ${STATE_LIMITS.refusals} in status; the audit log has all 25`, async () => {
    const l = await newLab();
    const spec = testSpec('many-refusals', week);
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');

    const names = Array.from({ length: 25 }, (_, i) => `stranger-${String(i).padStart(2, '0')}`);
    for (const by of names) await decideBySignal(handle, m.approveSignal, { by, comment: 'let me in' });
    const audit = await waitForAudit(l.warehouse, spec.backfill_id, (a) => count(a, 'approve_refused') >= 25);
    expect(audit.filter((a) => a.action === 'approve_refused').map((a) => a.actor).sort()).toEqual(names);
    const status = await handle.query(m.statusQuery);
    expect(status.approval!.refusals).toHaveLength(STATE_LIMITS.refusals);
    expect(status.approval!.refusals.map((r) => r.by)).toEqual(names.slice(-STATE_LIMITS.refusals));
    expect(status.approval!.refusals[0]!.reason).toContain('"stranger-05" is not an approver');
    expect(status.approval!.approved).toBeNull();

    await decide(handle, m.rejectUpdate, { by: 'finance-controller', comment: 'end of test' });
    expect(await failureTypeOf(handle)).toBe(BackfillError.Rejected);
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
  });

  it('live_pipeline_started with a 1 MB run_id is refused and audited; it pauses nothing, ' +
    'while a normal start right after it does', async () => {
    const l = await newLab();
    const spec = testSpec('huge-run-id', (s) => {
      s.execution.pause_during_live_pipeline = true;
      s.execution.live_pipeline = { signals: true, poll_interval: 1000 };
    });
    const before = await warehouseState(l.warehouse);
    const handle = await l.start(spec);
    await handle.signal(m.livePipelineStartedSignal, { run_id: huge('r'), pipeline: 'revenue-daily' });
    await handle.signal(m.livePipelineStartedSignal, { run_id: 'nightly-2026-06-01', pipeline: 'revenue-daily' });

    const paused = await waitForStatus(handle, (s) => s.pause?.kind === 'live_pipeline');
    // Only the well-formed run holds the backfill.
    expect(paused.pause!.reason).toBe('live pipeline running (nightly-2026-06-01); waiting for live_pipeline_finished');
    const [refused, ...more] = (
      await waitForAudit(l.warehouse, spec.backfill_id, (a) => count(a, 'live_pipeline_refused') >= 1)
    ).filter((a) => a.action === 'live_pipeline_refused');
    expect(more).toEqual([]);
    expect(String(refused!.detail.problem)).toContain(
      `live_pipeline "run_id" is ${MB} characters, more than the ${PAYLOAD_LIMITS.nameChars} allowed`,
    );
    expect(JSON.stringify(refused).length).toBeLessThan(SHORT);

    await handle.signal(m.livePipelineFinishedSignal, { run_id: 'nightly-2026-06-01' });
    const waiting = await waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    expect(waiting.batches).toMatchObject({ done: 9, total: 9 });
    expect(waiting.pause).toBeNull();
    expect(JSON.stringify(await handle.query(m.statusQuery)).length).toBeLessThan(20 * SHORT);
    await handle.terminate('test over');
    await expectOnlyAdded(l.warehouse, before, ownTables(spec));
  });
});

