/**
 * A release graph's activities: the checks and the freeze before any write, the wait of a node for
 * its upstream partitions, the one publish, the one rollback, the signoff, and the lineage.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { GraphRecord, Lineage, LineageNode, ReleaseGraph } from '../contracts/release';
import type { ApprovalProof } from '../contracts/status';
import { canonicalJson, sha256Hex } from '../domain/decision-digest';
import { partitionOrdinal, rangeOrdinals, type Grain, type Partition } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';
import { compatibilityProblems, inputSignature, signatureChanges } from '../warehouse/compatibility';
import {
  failGraph, lineageOf, nonAtomicModes, publishGraph, recordGraphStart, rollbackGraph, signoffGraph,
  type GraphNodeSpec,
} from '../warehouse/release-graph';
import type { Driver, QueryOptions } from '../warehouse/warehouse';
import { publishedRange } from '../warehouse/shadow';
import { activitySource, heartbeating, log, type Toolkit } from './context';

const hash16 = (v: unknown) => sha256Hex(canonicalJson(v)).slice(0, 16);

/** A node as lineage keeps it, from its spec as the run executes it. */
export function lineageNode(n: ReleaseGraph['nodes'][number]): LineageNode {
  const s = n.spec;
  return {
    id: n.id,
    backfillId: s.backfill_id,
    target: s.target.table,
    grain: s.source_range.grain,
    range: { start: s.source_range.start, end: s.source_range.end },
    upstream: n.upstream,
    inputs: n.inputs,
    transformHash: hash16(s.transform?.sql ?? ''),
    codeVersion: s.transform?.code_version ?? null,
    publishMode: s.publish.mode,
    shadow: s.target.shadow_table,
    snapshot: s.rollback.snapshot,
  };
}

const nodeSpecs = (graph: ReleaseGraph): GraphNodeSpec[] => graph.nodes.map((n) => ({ id: n.id, spec: n.spec }));

/** The upstream partitions inside `range` that passed (or were accepted), per upstream node. */
function covered(checkpoints: Array<{ firstPartition: string; lastPartition: string; verdict: string }>,
  grain: Grain, range: Partition): { passed: number; needed: number } {
  const want = rangeOrdinals(range.start, range.end, grain);
  if (!want) return { passed: 0, needed: 0 };
  // range.end is exclusive: the last needed partition is the one before it.
  const last = partitionOrdinal(range.end, grain)! - 1;
  const first = want.first;
  const needed = Math.max(0, last - first + 1);
  const seen = new Set<number>();
  for (const c of checkpoints) {
    if (c.verdict !== 'passed' && c.verdict !== 'accepted') continue;
    const a = partitionOrdinal(c.firstPartition, grain);
    const b = partitionOrdinal(c.lastPartition, grain);
    if (a === null || b === null) continue;
    for (let o = Math.max(a, first); o <= Math.min(b, last); o++) seen.add(o);
  }
  return { passed: seen.size, needed };
}

/**
 * A release node's frozen inputs (spec.release.inputs) must still have the schemas they had when the
 * release started: a changed input halts the batch before it writes, saying what changed.
 */
export async function assertInputsUnchanged(db: Driver, spec: BackfillSpec, o: QueryOptions): Promise<void> {
  const frozen = spec.release?.inputs ?? {};
  const tables = Object.keys(frozen);
  if (!tables.length) return;
  const changes = signatureChanges(frozen, await inputSignature(db, tables, o));
  if (changes.length) {
    throw new BackfillFailure(
      BackfillError.NotAllowed,
      `inputs changed since release ${spec.release!.releaseId} started: ${changes.join('; ')}. The batch was ` +
        `not written; abort this node (which stops the release) and start the release again on the new schema`,
      { changes },
    );
  }
}

export function releaseGraphActivities({ db, opts, controlOf, ensureControl, audit, now }: Toolkit) {
  return {
    /**
     * Before any write: every node's output against its target and the views that read it, the
     * publish modes this engine can make atomic together; then freezes the graph (hashes, input
     * schemas) in backfill_control.release_graphs. Refused with every problem, naming node and field.
     */
    async prepareRelease(graph: ReleaseGraph, startedBy: string): Promise<GraphRecord> {
      return heartbeating(async (signal) => {
        const first = graph.nodes[0]!.spec;
        await ensureControl(first);
        const problems: string[] = [...nonAtomicModes(db, nodeSpecs(graph))];
        for (const [i, n] of graph.nodes.entries()) {
          const o = opts(n.spec, 'compatibility', signal);
          for (const p of await compatibilityProblems(db, n.spec, n.planSql, o)) {
            problems.push(`nodes[${i}].${p.path} (${n.id}): ${p.message}`);
          }
        }
        if (problems.length) {
          throw new BackfillFailure(
            BackfillError.InvalidSpec,
            `release ${graph.release_id} refused before any write: ${problems.join('; ')}`,
            { problems },
          );
        }
        const frozenInputs: GraphRecord['frozenInputs'] = {};
        // Each node's inputs and its own target: a schema change to either mid-run halts its next batch.
        for (const n of graph.nodes) {
          const tables = [...new Set([...n.inputs, n.spec.target.table])];
          frozenInputs[n.id] = await inputSignature(db, tables, opts(n.spec, 'freeze', signal));
        }
        const nodes = graph.nodes.map(lineageNode);
        const record: GraphRecord = {
          releaseId: graph.release_id,
          status: 'running',
          owner: graph.owner,
          reason: graph.reason,
          startedBy,
          startedAt: now(),
          graphHash: hash16({ nodes, frozenInputs }),
          nodes,
          frozenInputs,
        };
        const kept = await recordGraphStart(db, record, opts(first, 'release', signal));
        for (const n of graph.nodes) {
          await audit(n.spec, startedBy, 'release_started', { release: graph.release_id, graphHash: kept.graphHash });
        }
        log().info(`release ${graph.release_id}: ${graph.nodes.length} nodes checked and frozen`, {
          graphHash: kept.graphHash,
        });
        return kept;
      });
    },

    /** Whether the upstream partitions a node's `range` reads have all passed reconciliation. */
    /**
     * Whether the upstream partitions a node's `range` reads have all passed reconciliation, and
     * whether every upstream partition of the release has (then the node need not ask again).
     */
    async upstreamReady(spec: BackfillSpec, range: Partition):
      Promise<{ ready: boolean; waiting: string; complete: boolean }> {
      const waiting: string[] = [];
      let complete = true;
      // The node's range spans every upstream partition (its grain is the same or coarser).
      const whole = publishedRange(spec.source_range);
      for (const u of spec.release?.upstream ?? []) {
        const checkpoints = await controlOf(spec).checkpoints(u.backfillId);
        // range_to_date: every upstream partition from the range's start up to this batch's end.
        const reads = u.from ? { ...range, start: u.from } : range;
        const { passed, needed } = covered(checkpoints, u.grain, reads);
        const within = `${reads.start}..${reads.end}`;
        if (passed < needed) waiting.push(`${u.node} ${passed} of ${needed} ${u.grain}s in ${within}`);
        const all = covered(checkpoints, u.grain, whole);
        complete &&= all.passed === all.needed;
      }
      return { ready: waiting.length === 0, waiting: waiting.join('; '), complete };
    },

    /** One transaction: every node's range, one release record listing every node. */
    async publishReleaseGraph(graph: ReleaseGraph, approvedBy: string, approval: ApprovalProof | null):
      Promise<GraphRecord> {
      return heartbeating(async (signal) => {
        const publishedAt = new Date(now());
        const first = graph.nodes[0]!.spec;
        const { record, alreadyPublished } = await publishGraph(db, nodeSpecs(graph), {
          releaseId: graph.release_id,
          approvedBy,
          approval,
          publishedAt: publishedAt.toISOString(),
          rollbackExpiresAt: new Date(publishedAt.getTime() + first.rollback.window).toISOString(),
          auditDetail: { source: activitySource() },
        }, opts(first, 'publish', signal));
        log().info(alreadyPublished ? `${graph.release_id} was already published`
          : `published ${graph.release_id}: ${record.publish!.nodes.map((n) =>
            `${n.target} ${n.rowsDeleted}→${n.rowsInserted}`).join(', ')}`);
        return record;
      });
    },

    async rollbackReleaseGraph(graph: ReleaseGraph, by: string, reason: string, proof: ApprovalProof | null):
      Promise<GraphRecord> {
      return heartbeating(async (signal) => {
        const first = graph.nodes[0]!.spec;
        const auditDetail = { source: activitySource(), ...(proof ? { digest: proof.digest } : {}) };
        const { record } = await rollbackGraph(db, nodeSpecs(graph),
          { releaseId: graph.release_id, by, reason, at: now(), auditDetail }, opts(first, 'rollback', signal));
        log().info(`rolled back ${graph.release_id} by ${by} (${reason})`);
        return record;
      });
    },

    async signoffReleaseGraph(graph: ReleaseGraph, by: string): Promise<GraphRecord> {
      const first = graph.nodes[0]!.spec;
      const record = await signoffGraph(db, nodeSpecs(graph), { releaseId: graph.release_id, by, at: now() },
        opts(first, 'signoff'));
      for (const n of graph.nodes) await audit(n.spec, by, 'signed_off', { release: graph.release_id });
      return record;
    },

    /** A release that stopped before publishing keeps its lineage, marked failed. */
    async failReleaseGraph(graph: ReleaseGraph, error: string): Promise<void> {
      await failGraph(db, graph.release_id, error, opts(graph.nodes[0]!.spec, 'release'));
    },

    /** `backfill lineage` through the worker that holds the warehouse. */
    async lineageForCli(releaseId: string): Promise<Lineage | null> {
      return lineageOf(db, releaseId, { tag: { backfillId: releaseId, phase: 'lineage' } });
    },
  };
}

