import { describe, expect, it } from 'vitest';
import type { GraphRecord, NodeUpdate, ReleaseGraph } from '../../../contracts/release';
import { releaseDetails, releaseDigest, ReleaseRun } from '../../../domain/release/release-run';
import { testSpec } from '../../support/test-spec';

const NOW = Date.parse('2026-06-01T10:00:00Z');

function graph(): ReleaseGraph {
  const base = testSpec('release-run');
  const node = (id: string, table: string, upstream: string[]) => ({
    id,
    spec: { ...base, backfill_id: `rel-1--${id}`, target: { ...base.target, table, shadow_table: `${table}_v2` } },
    planSql: 'SELECT 1',
    upstream,
    inputs: [],
    waitsFor: 'partition' as const,
  });
  return {
    release_id: 'rel-1',
    owner: base.owner,
    reason: base.reason,
    source_range: { start: base.source_range.start, end: base.source_range.end, grain: 'day' },
    nodes: [node('daily', 'finance.daily', []), node('monthly', 'finance.monthly', ['daily'])],
  };
}

const record: GraphRecord = {
  releaseId: 'rel-1', status: 'running', owner: 'finance-data', reason: { issue: 'FIN-1', change: 'fix' },
  startedBy: 'vitest', startedAt: '2026-06-01T09:00:00.000Z', graphHash: 'abcdef0123456789', nodes: [],
  frozenInputs: {},
};

function reconciled(node: string, newRows = 10): NodeUpdate {
  return {
    node, state: 'awaiting_approval', phase: 'reconciled', batches: { done: 2, total: 2 },
    partitions: { done: 14, total: 14 }, halt: null, digest: `${node}-digest`, error: null,
    summary: {
      batches: { passed: 2, failed: 0, accepted: 0, total: 2 }, partitions: 14, rows: { old: 10, new: newRows },
      measures: [{ column: 'net_revenue', oldSum: 100, newSum: 99, deltaPct: -1, withinExpected: true }], warnings: [],
    },
  };
}

function awaiting() {
  const details: string[] = [];
  const run = new ReleaseRun({ graph: graph(), startedBy: 'vitest' }, {
    stateChanged: () => undefined, detailsChanged: (d) => details.push(d),
  });
  run.started(record);
  run.running();
  run.nodeUpdated(reconciled('daily'));
  run.nodeUpdated(reconciled('monthly'));
  run.awaitingApproval(NOW);
  return { run, details };
}

describe('ReleaseRun', () => {
  it('waits for every node before approval, and shows one section per node', () => {
    const run = new ReleaseRun({ graph: graph(), startedBy: 'vitest' }, {
      stateChanged: () => undefined, detailsChanged: () => undefined,
    });
    run.started(record);
    run.running();
    run.nodeUpdated(reconciled('daily'));
    expect(run.allReconciled()).toBe(false);
    run.nodeUpdated({ ...reconciled('monthly'), state: 'halted', summary: null, digest: null,
      halt: { batch: 1, reason: 'net_revenue moved +50%' } });
    expect(run.status.phase).toMatch(/halted: monthly/);
    const details = releaseDetails(run.status);
    expect(details).toMatch(/### daily \(finance\.daily, day\): awaiting_approval/);
    expect(details).toMatch(/halted at batch 1: net_revenue moved \+50%/);
    run.nodeUpdated(reconciled('monthly'));
    expect(run.allReconciled()).toBe(true);
  });

  it('approves the whole release only with the digest of every node as reconciled', () => {
    const { run } = awaiting();
    const digest = run.status.decisionDigest!;
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(run.request('approve', { by: 'finance-controller' }, 'update', NOW).refused).toMatch(/needs "digest"/);
    expect(run.request('approve', { by: 'finance-data', digest }, 'update', NOW).refused).toMatch(/not an approver/);
    // An older word from a node (signals may arrive out of order) does not undo its reconciliation.
    run.nodeUpdated({ ...reconciled('monthly', 11), state: 'running', summary: null, digest: null });
    expect(run.status.decisionDigest).toBe(digest);
    // A digest of anything else (another release, an earlier look) decides nothing.
    expect(run.request('approve', { by: 'finance-controller', digest: 'a'.repeat(64) }, 'update', NOW).refused)
      .toMatch(/state changed since you looked/);
    const other = new ReleaseRun({ graph: { ...graph(), release_id: 'rel-2' }, startedBy: 'vitest' }, {
      stateChanged: () => undefined, detailsChanged: () => undefined,
    });
    other.started(record);
    other.running();
    other.nodeUpdated(reconciled('daily'));
    other.nodeUpdated(reconciled('monthly', 11));
    other.awaitingApproval(NOW);
    expect(other.status.decisionDigest).not.toBe(digest);
    const ok = run.request('approve', { by: 'finance-controller', digest: run.status.decisionDigest! }, 'update', NOW);
    expect(ok.refused).toBeNull();
    expect(ok.audit?.action).toBe('approved');
    expect(run.approvalOutcome()).toMatchObject({ approved: { by: 'finance-controller' } });
    expect(run.request('reject', { by: 'head-of-finance-data', digest: run.status.decisionDigest! }, 'update', NOW)
      .refused).toMatch(/already approved/);
  });

  it('sends a halt to its node, and rolls back or signs off the release as a whole', () => {
    const { run } = awaiting();
    expect(run.request('resolve', { action: 'retry', by: 'oncall' }, 'update', NOW).refused)
      .toMatch(/backfill resolve <node backfill id>/);
    run.status.approval.approved = { by: 'finance-controller', comment: null, at: new Date(NOW).toISOString() };
    run.publishing();
    run.published({
      ...record, status: 'published',
      publish: {
        approvedBy: 'finance-controller', approval: null, publishedAt: '2026-06-01T10:00:00.000Z',
        rollbackExpiresAt: '2026-06-15T10:00:00.000Z',
        nodes: [{ id: 'daily', target: 'finance.daily', rowsDeleted: 10, rowsInserted: 10 }],
      },
    });
    const digest = releaseDigest(run.status)!;
    expect(run.request('rollback', { by: 'stranger', reason: 'bad', digest }, 'update', NOW).refused)
      .toMatch(/not an approver, the owner or a rollback operator/);
    expect(run.request('cancel', { by: 'x', reason: 'y' }, 'update', NOW).refused).toMatch(/cannot cancel/);
    expect(run.request('rollback', { by: 'finance-data', reason: 'numbers off', digest }, 'update', NOW).refused)
      .toBeNull();
    expect(run.rollbackRequest?.comment).toBe('numbers off');
    expect(run.request('signoff', { by: 'finance-data', digest }, 'update', NOW).refused)
      .toMatch(/already in progress/);
  });
});
