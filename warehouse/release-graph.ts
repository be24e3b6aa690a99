/**
 * A release graph's one publish and one rollback: every node's range replaced (or restored) in ONE
 * transaction that also writes the release graph's row and one release row per node, so the
 * warehouse either serves every node's corrected range or none of them. Auditing of each node is in
 * the same transaction. The graph's row (backfill_control.release_graphs) is its lineage; it is kept
 * after cleanup.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { GraphRecord, Lineage, NodeRows } from '../contracts/release';
import type { ApprovalProof } from '../contracts/status';
import type { BackfillSpec } from '../domain/spec/schema';
import { ControlStore, isoTimestamp } from './control-store';
import {
  auditEntry, publishInTx, publishSql, RangeSql, releaseRecordOf, restoreInTx, restoreSql, type RestoreSql,
} from './publish';
import type { Driver, QueryOptions } from './warehouse';

/** A node's release row: the release id, a slash, the node id. */
export const nodeReleaseId = (releaseId: string, nodeId: string) => `${releaseId}/${nodeId}`;

export interface GraphNodeSpec {
  id: string;
  spec: BackfillSpec;
}

/**
 * Modes that cannot be made atomic across tables on this engine: where DDL autocommits (Snowflake),
 * a view repoint or a swap commits on its own, so a release of several nodes could be half served.
 */
export function nonAtomicModes(db: Pick<Driver, 'dialect'>, nodes: GraphNodeSpec[]): string[] {
  if (db.dialect.transactionalDdl || nodes.length < 2) return [];
  return nodes
    .map((n, i) => ({ n, i }))
    .filter(({ n }) => n.spec.publish.mode !== 'range')
    .map(({ n, i }) =>
      `nodes[${i}].publish.mode: ${n.id} publishes in ${n.spec.publish.mode} mode, which ${db.dialect.name} cannot ` +
        `make atomic with the other nodes (its DDL commits on its own); use mode: range for every node of a release`);
}

/** Records the release graph when it starts (idempotent for the same release; refuses another one). */
export async function recordGraphStart(db: Driver, record: GraphRecord, opts: QueryOptions = {}): Promise<GraphRecord> {
  const store = new ControlStore(db);
  await store.ensure(opts);
  return db.transaction(async (tx) => {
    const existing = await store.graph(record.releaseId, tx);
    if (existing) {
      if (existing.graphHash !== record.graphHash) {
        throw new BackfillFailure(
          BackfillError.DuplicateBackfill,
          `release ${record.releaseId} was already started with another graph (hash ${existing.graphHash}, ` +
            `now ${record.graphHash}); a release id names one graph. Start the changed graph under a new release_id.`,
          { releaseId: record.releaseId },
        );
      }
      return existing;
    }
    await store.recordGraph(record, tx);
    return record;
  }, opts);
}

export interface GraphPublishRequest {
  releaseId: string;
  approvedBy: string;
  approval: ApprovalProof | null;
  publishedAt: string;
  rollbackExpiresAt: string;
  auditDetail?: Record<string, unknown>;
}

function graphOrRefuse(record: GraphRecord | null, releaseId: string): GraphRecord {
  if (!record) {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `release ${releaseId} is not recorded in backfill_control.release_graphs; start it with backfill start first.`,
      { releaseId },
    );
  }
  return record;
}

/**
 * Publishes every node in one transaction, in the graph's (topological) order: each node's
 * structural re-check, then its range replaced (range), or its shadow brought up to date and served
 * (view, swap: only where DDL is transactional). Idempotent by release id.
 */
export async function publishGraph(
  db: Driver,
  nodes: GraphNodeSpec[],
  req: GraphPublishRequest,
  opts: QueryOptions = {},
): Promise<{ record: GraphRecord; alreadyPublished: boolean }> {
  const refused = nonAtomicModes(db, nodes);
  if (refused.length) throw new BackfillFailure(BackfillError.NotAllowed, `publish refused: ${refused.join('; ')}`);
  const store = new ControlStore(db);
  await store.ensure(opts);
  const before = graphOrRefuse(await store.graph(req.releaseId, db, opts), req.releaseId);
  if (before.status !== 'running') return { record: before, alreadyPublished: before.status !== 'failed' };
  const statements = new Map<string, RangeSql>();
  for (const n of nodes) statements.set(n.id, await publishSql(db, n.spec, opts));
  const publishedAt = isoTimestamp(req.publishedAt, 'publishedAt');
  const rollbackExpiresAt = isoTimestamp(req.rollbackExpiresAt, 'rollbackExpiresAt');

  return db.transaction(async (tx) => {
    const current = graphOrRefuse(await store.graph(req.releaseId, tx), req.releaseId);
    if (current.status !== 'running') return { record: current, alreadyPublished: true };
    const rows: NodeRows[] = [];
    for (const { id, spec } of nodes) {
      const { rowsDeleted, rowsInserted } = await publishInTx(db, tx, spec, statements.get(id)!);
      const release = releaseRecordOf(spec, { ...req, releaseId: nodeReleaseId(req.releaseId, id) });
      await store.recordRelease(release, tx);
      await store.audit(auditEntry(spec, req.approvedBy, 'published', publishedAt, {
        ...req.auditDetail, releaseId: release.releaseId, release: req.releaseId, rowsDeleted, rowsInserted,
      }), tx);
      rows.push({ id, target: spec.target.table, rowsDeleted, rowsInserted });
    }
    const record: GraphRecord = {
      ...current,
      status: 'published',
      publish: { approvedBy: req.approvedBy, approval: req.approval, publishedAt, rollbackExpiresAt, nodes: rows },
    };
    await store.updateGraph(record, tx);
    return { record, alreadyPublished: false };
  }, opts);
}

/**
 * Restores every node from its restore point in one transaction (view: the view points back at
 * the target), each restore point checked to be the one its node took, still intact. Idempotent.
 */
export async function rollbackGraph(
  db: Driver,
  nodes: GraphNodeSpec[],
  req: { releaseId: string; by: string; reason: string; at: string; auditDetail?: Record<string, unknown> },
  opts: QueryOptions = {},
): Promise<{ record: GraphRecord; alreadyRolledBack: boolean }> {
  const store = new ControlStore(db);
  const before = graphOrRefuse(await store.graph(req.releaseId, db, opts), req.releaseId);
  if (before.status === 'rolled_back') return { record: before, alreadyRolledBack: true };
  if (before.status !== 'published') {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `release ${req.releaseId} is ${before.status}; only a published release can be rolled back` +
        (before.status === 'signed_off' ? ' (signoff closed its window; run a new backfill to undo it)' : '') + '.',
      { releaseId: req.releaseId, status: before.status },
    );
  }
  // Each node's restore is driven by its release row, as a single backfill's rollback is.
  const restores = new Map<string, RestoreSql>();
  for (const n of nodes) {
    const release = await store.release(nodeReleaseId(req.releaseId, n.id), db, opts);
    if (!release) {
      throw new BackfillFailure(BackfillError.NotAllowed,
        `node ${n.id} has no release row ${nodeReleaseId(req.releaseId, n.id)}; nothing was written.`);
    }
    restores.set(n.id, await restoreSql(db, n.spec, release, opts));
  }
  const at = isoTimestamp(req.at, 'at');
  return db.transaction(async (tx) => {
    const current = graphOrRefuse(await store.graph(req.releaseId, tx), req.releaseId);
    if (current.status === 'rolled_back') return { record: current, alreadyRolledBack: true };
    const restored: Array<{ id: string; rowsRestored: number }> = [];
    for (const { id, spec } of nodes) {
      const release = (await store.release(nodeReleaseId(req.releaseId, id), tx))!;
      const rowsRestored = await restoreInTx(db, tx, spec, release, restores.get(id)!);
      await store.setReleaseStatus(release.releaseId, 'rolled_back', tx);
      await store.audit(auditEntry(spec, req.by, 'rolled_back', at, {
        ...req.auditDetail, releaseId: release.releaseId, release: req.releaseId, reason: req.reason, rowsRestored,
      }), tx);
      restored.push({ id, rowsRestored });
    }
    const record: GraphRecord = {
      ...current, status: 'rolled_back', rollback: { by: req.by, reason: req.reason, at, nodes: restored },
    };
    await store.updateGraph(record, tx);
    return { record, alreadyRolledBack: false };
  }, opts);
}

/** Closes the release's window: the graph and every node's release row 'signed_off'. Idempotent. */
export async function signoffGraph(
  db: Driver,
  nodes: GraphNodeSpec[],
  req: { releaseId: string; by: string; at: string },
  opts: QueryOptions = {},
): Promise<GraphRecord> {
  const store = new ControlStore(db);
  return db.transaction(async (tx) => {
    const current = graphOrRefuse(await store.graph(req.releaseId, tx), req.releaseId);
    if (current.status === 'signed_off') return current;
    if (current.status !== 'published') {
      throw new BackfillFailure(BackfillError.NotAllowed,
        `release ${req.releaseId} is ${current.status}; only a published release can be signed off.`);
    }
    for (const { id } of nodes) await store.setReleaseStatus(nodeReleaseId(req.releaseId, id), 'signed_off', tx);
    const record: GraphRecord = { ...current, status: 'signed_off', signoff: { by: req.by, at: isoTimestamp(req.at) } };
    await store.updateGraph(record, tx);
    return record;
  }, opts);
}

/** Marks a release that stopped before publishing as failed (its lineage stays). */
export async function failGraph(db: Driver, releaseId: string, error: string, opts: QueryOptions = {}): Promise<void> {
  const store = new ControlStore(db);
  await db.transaction(async (tx) => {
    const current = await store.graph(releaseId, tx);
    if (!current || current.status !== 'running') return;
    await store.updateGraph({ ...current, status: 'failed', error: error.slice(0, 2000) }, tx);
  }, opts);
}

/** The release's lineage: its record and each node's batches and verdicts from the checkpoints. */
export async function lineageOf(db: Driver, releaseId: string, opts: QueryOptions = {}): Promise<Lineage | null> {
  const store = new ControlStore(db);
  const record = await store.graph(releaseId, db, opts);
  if (!record) return null;
  const batches: Lineage['batches'] = {};
  for (const n of record.nodes) {
    const checkpoints = await store.checkpoints(n.backfillId, opts);
    const verdicts: Record<string, number> = {};
    for (const c of checkpoints) verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
    batches[n.id] = {
      batches: checkpoints.length,
      partitions: checkpoints.reduce((a, c) => a + c.partitions, 0),
      verdicts,
    };
  }
  return { ...record, batches };
}
