/**
 * One workflow per release graph. It reads like the runbook at the graph's scale: check and freeze
 * the graph before any write → one child backfill per node (each with its lease, restore point,
 * shadow, idempotency proof and reconciled batches, a downstream batch starting once the upstream
 * partitions it reads have passed) → one approval of every node's reconciliation → one publish of
 * every node in one transaction → one rollback window. State and rules: domain/release/release-run.ts.
 * Its own history stays short: child starts, and one signal per change of a node's state.
 */
import {
  allHandlersFinished, ApplicationFailure, CancellationScope, ChildWorkflowCancellationType,
  condition, isCancellation, ParentClosePolicy, proxyActivities, setCurrentDetails, setHandler, startChild,
  upsertSearchAttributes, workflowInfo, type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { MetadataActivities, WarehouseActivities } from '../activities';
import { BackfillError } from '../contracts/errors';
import { excerpt, STATE_LIMITS } from '../contracts/limits';
import * as m from '../contracts/messages';
import type { ReleaseGraph, ReleaseInput, ReleaseStatus } from '../contracts/release';
import { BackfillStateKey } from '../contracts/search-attributes';
import { workflowIdFor } from '../contracts/settings';
import type { ApprovalProof, Decision, UpdateAck } from '../contracts/status';
import type { SignatureCheck } from '../domain/approval';
import { ReleaseRun, type ReleaseDoor, type ReleaseHandled } from '../domain/release/release-run';
import type { BackfillSpec } from '../domain/spec/schema';
import { METADATA_OPTIONS, WAREHOUSE_OPTIONS } from './activity-options';
import { backfillWorkflow } from './backfill-workflow';
import { DOORS } from './handlers';

const metadata = proxyActivities<MetadataActivities>(METADATA_OPTIONS);
const warehouse = proxyActivities<WarehouseActivities>(WAREHOUSE_OPTIONS);

const errorText = (e: unknown) =>
  excerpt(e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e),
    STATE_LIMITS.messageChars);

const proofOf = (d: Decision): ApprovalProof =>
  ({ by: d.by, digest: d.digest ?? null, keyId: d.keyId ?? null, signature: d.signature ?? null });

/** What a graph input must hold; the client's parse checks far more (domain/graph/parse.ts). */
function graphProblems(input: ReleaseInput): string[] {
  const g = input?.graph as Partial<ReleaseGraph> | undefined;
  if (!g || typeof g.release_id !== 'string') return ['input.graph.release_id is missing'];
  if (!Array.isArray(g.nodes) || g.nodes.length === 0) return ['input.graph.nodes is empty'];
  if (g.nodes.length > 20) return [`input.graph.nodes lists ${g.nodes.length} nodes, above the maximum 20`];
  return [];
}

/** A node's spec as its child workflow runs it: with where it sits in the release. */
function nodeSpec(graph: ReleaseGraph, i: number, parentWorkflowId: string, inputs: Record<string, string>):
  BackfillSpec {
  const n = graph.nodes[i]!;
  const byId = new Map(graph.nodes.map((x) => [x.id, x]));
  return {
    ...n.spec,
    release: {
      releaseId: graph.release_id,
      node: n.id,
      parentWorkflowId,
      upstream: n.upstream.map((id) => ({
        node: id, backfillId: byId.get(id)!.spec.backfill_id, grain: byId.get(id)!.spec.source_range.grain,
        ...(n.waitsFor === 'range_to_date' ? { from: byId.get(id)!.spec.source_range.start } : {}),
      })),
      dependants: graph.nodes.filter((d) => d.upstream.includes(n.id)).map((d) => workflowIdFor(d.spec.backfill_id)),
      inputs,
      planSql: n.planSql,
    },
  };
}


export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseStatus> {
  const problems = graphProblems(input);
  if (problems.length) {
    throw ApplicationFailure.create({
      type: BackfillError.InvalidSpec, message: `Invalid release input: ${problems.join('; ')}`, nonRetryable: true,
    });
  }
  const run = new ReleaseRun(input, {
    stateChanged: (state) => upsertSearchAttributes([{ key: BackfillStateKey, value: state }]),
    detailsChanged: setCurrentDetails,
  });
  const { graph, status } = run;
  const specs = graph.nodes.map((n) => n.spec);
  // Release-level entries go to the audit log under the release id.
  const releaseSpec: BackfillSpec = { ...specs[0]!, backfill_id: graph.release_id };
  const audit = (h: ReleaseHandled) => (h.audit
    ? metadata.recordAudit(releaseSpec, h.audit.actor, h.audit.action, h.audit.detail).catch((err: unknown) => {
      if (isCancellation(err)) throw err;
      run.warn(`audit entry ${h.audit!.action} was not written: ${errorText(err)}`);
    })
    : Promise.resolve());

  const d = m.messageDescriptions;
  setHandler(m.releaseStatusQuery, () => status, {
    description: 'Release state and phase, one section per node (state, batches, halt, reconciliation), the ' +
      'approval, the decision digest, the release record and the rollback window.',
  });
  setHandler(m.nodeUpdateSignal, (u) => run.nodeUpdated(u), {
    description: "Sent by a node's own workflow when its state changes; not for people.",
  });
  const decide = async (door: ReleaseDoor, req: unknown, via: 'signal' | 'update'): Promise<ReleaseHandled> => {
    const toCheck = run.signatureToCheck(door, req, Date.now());
    if (!toCheck) return run.request(door, req, via, Date.now());
    const checked: SignatureCheck = await metadata.verifyDecision(releaseSpec, toCheck).catch((err: unknown) => ({
      ok: false as const, problem: `the worker could not check the signature: ${errorText(err)}`,
    }));
    return run.request(door, req, via, Date.now(), checked);
  };
  for (const [door, signal, update] of DOORS) {
    setHandler(signal, async (req: unknown) => {
      await audit(await decide(door, req, 'signal'));
    }, {
      description: door === 'resolve' ? 'Not for a release: resolve the halted node by its backfill id.' : d[door],
    });
    setHandler(update, async (req: unknown): Promise<UpdateAck> => {
      const h = await decide(door, req, 'update');
      await audit(h);
      if (h.refused !== null) {
        throw ApplicationFailure.create({ type: BackfillError.NotAllowed, message: h.refused, nonRetryable: true });
      }
      return { accepted: true, state: status.state, message: h.message };
    }, { description: d[`${door}_update`] });
  }

  const releaseLeases = (why: string) =>
    CancellationScope.nonCancellable(async () => {
      for (const s of specs) await metadata.releaseLease(s, why).catch(() => undefined);
    });

  // ---- the nodes: one child backfill each, all started at once; each waits for what it reads ----
  const children: Array<ChildWorkflowHandle<typeof backfillWorkflow>> = [];
  // The children run in their own scope (inside the runbook's, so a cancel reaches them): when one
  // fails, the release cancels the others.
  let nodesScope: CancellationScope | null = null;
  async function runNodes(frozen: Record<string, Record<string, string>>): Promise<void> {
    const parentId = workflowInfo().workflowId;
    nodesScope = new CancellationScope();
    await nodesScope.run(async () => {
      for (const [i, n] of graph.nodes.entries()) {
        children.push(await startChild(backfillWorkflow, {
          workflowId: workflowIdFor(n.spec.backfill_id),
          args: [{ spec: nodeSpec(graph, i, parentId, frozen[n.id] ?? {}), startedBy: input.startedBy }],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        }));
      }
      run.running();
      // A node that fails (aborted, rejected proof, cancelled) fails the release; the others are cancelled.
      await Promise.all(children.map((c) => c.result()));
    });
    // Every node reported its reconciliation before its workflow ended; wait for the last signal.
    await condition(() => run.allReconciled());
  }

  async function awaitApproval(): Promise<Decision> {
    const { deadlineMs } = run.awaitingApproval(Date.now());
    await condition(() => run.decided(), Math.max(1, deadlineMs - Date.now()));
    const outcome = run.approvalOutcome();
    if ('type' in outcome) {
      throw ApplicationFailure.create({ type: outcome.type, message: outcome.message, nonRetryable: true });
    }
    return outcome.approved;
  }

  async function rollbackWindow(): Promise<void> {
    await condition(() => run.windowRequested(), run.windowMsLeft(Date.now()));
    const r = run.rollbackRequest;
    if (r) {
      run.setPhase(`rolling back ${graph.release_id}: restoring every node from its restore point in one transaction`);
      run.rolledBack(r, await warehouse.rollbackReleaseGraph(graph, r.by, r.comment ?? '', proofOf(r)));
      await releaseLeases('rolled back');
      return;
    }
    await releaseLeases(run.windowClosed());
    if (run.awaitsSignoff()) await condition(() => run.signoffRequest !== null);
    const signoff = run.signoffRequest;
    if (signoff) run.signedOff(await metadata.signoffReleaseGraph(graph, signoff.by));
    const dropped: string[] = [];
    for (const s of specs) {
      const why = signoff ? `signed off by ${signoff.by}` : 'rollback window ended';
      dropped.push(...(await warehouse.cleanupTables(s, why)).dropped);
    }
    run.cleanedUp(dropped);
  }

  const runbook = new CancellationScope();
  void condition(() => run.cancelRequest !== null).then(() => runbook.cancel(), () => undefined);
  try {
    await runbook.run(async () => {
      const record = await warehouse.prepareRelease(graph, input.startedBy);
      run.started(record);
      await runNodes(record.frozenInputs);
      const approved = await awaitApproval();
      run.publishing();
      run.published(await warehouse.publishReleaseGraph(graph, approved.by, proofOf(approved)));
      await rollbackWindow();
    });
  } catch (caught) {
    const e = run.cancelRequest && isCancellation(caught)
      ? ApplicationFailure.create({
        type: BackfillError.Aborted, nonRetryable: true,
        message: `cancelled by ${run.cancelRequest.by}: ${run.cancelRequest.comment ?? ''}`,
      })
      : caught;
    const { wrote } = run.failed(errorText(e));
    (nodesScope as CancellationScope | null)?.cancel();
    await CancellationScope.nonCancellable(async () => {
      // Nodes still running stop (each releases its own lease); reconciled ones are done already.
      await Promise.allSettled(children.map((c) => c.result()));
      if (!wrote) {
        await metadata.failReleaseGraph(graph, status.error ?? 'failed').catch(() => undefined);
        for (const s of specs) await metadata.releaseLease(s, `release failed: ${status.error}`).catch(() => undefined);
      }
    });
    await condition(allHandlersFinished);
    throw e;
  }
  await condition(allHandlersFinished);
  return status;
}
