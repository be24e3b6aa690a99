/**
 * One workflow per backfill; it reads like the runbook (../shared/seeds/001): plan and lease →
 * snapshot → shadow → prove idempotency → batches (gate, rewrite, reconcile, halt) → verify
 * completion → approval → atomic publish → rollback window. Orchestration only: the state and every
 * rule live in domain/run (BackfillRun), all I/O in activities. Handlers delegate to the run and
 * write the audit entries it returns; state is one plain-JSON cursor, carried across continue-as-new.
 */
import {
  allHandlersFinished, ApplicationFailure, CancellationScope, condition, ContinueAsNew,
  continueAsNew, getExternalWorkflowHandle, isCancellation, patched, proxyActivities, setCurrentDetails, setHandler,
  upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { MetadataActivities, WarehouseActivities } from '../activities';
import { backfillFailureIn, BackfillError, type BackfillErrorType } from '../contracts/errors';
import { excerpt, STATE_LIMITS } from '../contracts/limits';
import { nodeUpdateSignal, upstreamPassedSignal } from '../contracts/messages';
import type { Partition } from '../domain/partitions';
import { batchOf, batchPartitions } from '../domain/plan';
import type { BatchOutcome, BatchRequest, BatchWork } from '../contracts/run';
import { BackfillStateKey } from '../contracts/search-attributes';
import type { ApprovalProof, BackfillInput, BackfillStatus, Decision, ResolveRequest } from '../contracts/status';
import {
  BackfillRun, runInputProblems, type AuditEntry, type GateCheck, type RunFailure, type SignatureToCheck,
} from '../domain/run/backfill-run';
import { METADATA_OPTIONS, WAREHOUSE_OPTIONS } from './activity-options';
import { registerHandlers } from './handlers';

const metadata = proxyActivities<MetadataActivities>(METADATA_OPTIONS);
const warehouse = proxyActivities<WarehouseActivities>(WAREHOUSE_OPTIONS);

/**
 * Batches rewritten by rewriteBatch (several in flight) and checkpointed in order by checkpointBatch,
 * instead of one runBatch each: histories recorded before it replay the runBatch path.
 */
const PIPELINED_BATCHES = 'pipelined-batches';

/**
 * Decisions carry the digest of the state they decide on, and signatures when the spec requires
 * them: runs started before keep deciding without (their histories have decisions without one).
 */
const DECISION_DIGESTS = 'decision-digests';

/** A rewrite started ahead of its batch's turn: settled, never rejected. */
interface Ahead {
  started: number;
  work: Promise<BatchWork | { error: unknown }>;
}

const fail = (type: BackfillErrorType, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true });
const failWith = (f: RunFailure) => fail(f.type, f.message);
/** An error's message, bounded: it is kept in state and shown in the UI. */
const errorText = (e: unknown) =>
  excerpt(
    e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e),
    STATE_LIMITS.messageChars,
  );
/** A decision's proof for the activity that acts on it; undefined for decisions from before digests. */
const proofOf = (d: Decision): ApprovalProof | undefined =>
  d.digest === undefined
    ? undefined
    : { by: d.by, digest: d.digest ?? null, keyId: d.keyId ?? null, signature: d.signature ?? null };
const isFailure = <T extends object>(r: T | RunFailure): r is RunFailure => 'type' in r;

export async function backfillWorkflow(input: BackfillInput): Promise<BackfillStatus> {
  // A plain Error here would fail the workflow task and retry forever; a bad input is bad input.
  const problems = runInputProblems(input);
  if (problems.length) throw fail(BackfillError.InvalidSpec, `Invalid backfill input: ${problems.join('; ')}`);
  // A release graph's node (spec.release): tells the release workflow of each change of state.
  const rel = input.spec.release;
  let told = '';
  /** Resolves once sent: the last one is awaited, as a signal still pending when the run ends is dropped. */
  const tellRelease = (summary = false): Promise<void> => {
    if (!rel) return Promise.resolve();
    const u = run.nodeUpdate(rel.node, summary);
    // Reconciled is told once, with the summary (signals from one run may arrive out of order).
    if (u.state === 'awaiting_approval' && !summary) return Promise.resolve();
    // Coarse: running and paused are one state to the release, so its history stays short.
    const key = `${u.state === 'paused' ? 'running' : u.state}|${u.halt?.reason ?? ''}|${u.digest ?? ''}|${summary}`;
    if (key === told) return Promise.resolve();
    told = key;
    return getExternalWorkflowHandle(rel.parentWorkflowId).signal(nodeUpdateSignal, u).catch(() => undefined);
  };
  const run = new BackfillRun(input, {
    stateChanged: (state) => upsertSearchAttributes([{ key: BackfillStateKey, value: state }]),
    detailsChanged: (details) => {
      setCurrentDetails(details);
      void tellRelease();
    },
  });
  const { spec, status } = run;
  if (rel) setHandler(upstreamPassedSignal, () => void run.upstreamWake++);
  run.digestsRequired = patched(DECISION_DIGESTS);

  /** A handler must never throw: an audit write that fails after its retries becomes a warning. */
  const audit = (e: AuditEntry) => metadata.recordAudit(spec, e.actor, e.action, e.detail).catch((err: unknown) => {
    if (isCancellation(err)) throw err;
    run.warn(`audit entry ${e.action} by ${e.actor} was not written: ${errorText(err)}`);
  });
  /** A signed decision, checked by the worker; a failed check is a refusal, never a workflow failure. */
  const verify = (d: SignatureToCheck) => metadata.verifyDecision(spec, d).catch((err: unknown) => {
    if (isCancellation(err)) throw err;
    return { ok: false as const, problem: `the worker could not check the signature: ${errorText(err)}` };
  });
  registerHandlers(run, audit, () => metadata.reportData(spec), verify);

  /** History stays short: continue as new with the plain-JSON cursor, handlers drained first. */
  const maybeContinueAsNew = async () => {
    if (!workflowInfo().continueAsNewSuggested) return;
    await drainAhead();
    await condition(allHandlersFinished);
    await continueAsNew<typeof backfillWorkflow>({ spec, startedBy: input.startedBy, cursor: run.continuing() });
  };

  // ---- steps 0–3: plan, lease, claim, restore point, shadow, idempotency proof ----
  async function prepare(): Promise<void> {
    run.planned(await metadata.planBackfill(spec, input.startedBy));
    await metadata.acquireLease(spec, workflowInfo().workflowId, input.startedBy);
    // Before the first write: never run again after publishing, never adopt a table it did not create.
    await metadata.claimTables(spec, input.startedBy);
    run.resumeFrom(await metadata.resumePoint(spec));
    await warehouse.takeSnapshot(spec);
    run.preparingShadow();
    await warehouse.prepareShadow(spec);
    const partition = status.plan!.representativePartition;
    // The proof rewrites the representative partition's batch: it reads the upstream partitions in it.
    await awaitUpstream(batchRange(batchOf(spec, partition, run.shape) ?? 0));
    run.proven(await warehouse.proveIdempotency(spec, run.proving()));
  }

  // ---- a release graph's node: a batch starts once the upstream partitions it reads have passed ----
  function batchRange(i: number): Partition {
    const parts = batchPartitions(spec, i, run.shape);
    return { start: parts[0]!.start, end: parts[parts.length - 1]!.end };
  }

  /** Every upstream partition has passed: no batch of this run needs to ask again. */
  let upstreamComplete = false;
  async function awaitUpstream(range: Partition): Promise<void> {
    if (!rel?.upstream.length || upstreamComplete) return;
    for (;;) {
      const seen = run.upstreamWake;
      const ready = await metadata.upstreamReady(spec, range);
      upstreamComplete = ready.complete;
      if (ready.ready) return;
      run.waitingForUpstream(ready.waiting);
      // Woken by the upstream node after each batch that passed; looks again every 30 s regardless.
      await condition(() => run.upstreamWake !== seen || run.cancelRequest !== null, '30 seconds');
      await maybeContinueAsNew();
    }
  }

  // ---- step 4, the gate: operator pause, live pipeline, pause windows, daily scan budget ----
  async function blocker(i: number): Promise<GateCheck> {
    const check = run.gateCheck(i, Date.now());
    if (check.kind !== 'ask') return check;
    return run.visibilityAnswer(await metadata.countLivePipelines(check.query), check.query, Date.now());
  }

  async function gate(i: number): Promise<void> {
    await awaitUpstream(batchRange(i));
    for (;;) {
      const check = await blocker(i);
      const entry = run.yieldEntry(check);
      if (entry) await audit(entry);
      if (!run.yieldTo(check, i)) return;
      const seen = run.wake;
      const ms = run.waitMs(Date.now());
      await (ms === undefined ? condition(() => run.wake !== seen) : condition(() => run.wake !== seen, ms));
      await maybeContinueAsNew();
    }
  }

  /** Halted until an operator resolves it. */
  async function halted(): Promise<ResolveRequest> {
    await condition(() => run.resolution !== null);
    return run.takeResolution()!;
  }

  // ---- steps 4–5: batches, each reconciled; a failed check halts for an operator ----

  /**
   * Rewrites started ahead of their turn (set-based batches, up to the concurrency in flight); each
   * is still checkpointed and reconciled in order when its turn comes. Settled, never rejected.
   */
  const ahead = new Map<number, Ahead>();
  let pipelined = false;
  /** When the last batch was reconciled: with batches overlapping, a batch's pace runs from there. */
  let lastReconciled = 0;

  const launch = (req: BatchRequest): Ahead => ({
    started: Date.now(),
    work: warehouse.rewriteBatch(spec, req).catch((error: unknown) => ({ error })),
  });

  /** Starts rewrites of the batches after `i` while there is room (`i` counts while its own rewrite runs). */
  function startAhead(i: number, ownRewriteRunning: boolean): void {
    for (const req of run.aheadOf(i, [...ahead.keys()], Date.now(), ownRewriteRunning)) {
      ahead.set(req.batchIndex, launch(req));
    }
  }

  /** Lets every rewrite in flight finish and forgets them (a halt or continue-as-new redoes them later). */
  async function drainAhead(): Promise<void> {
    const pending = [...ahead.values()];
    ahead.clear();
    for (const p of pending) await p.work;
  }

  /** Rewrite + checkpoint; as one runBatch where the history was recorded before pipelining. */
  async function rewriteAndCheckpoint(request: BatchRequest, mine: Ahead | undefined): Promise<BatchOutcome> {
    if (!mine) return warehouse.runBatch(spec, request);
    const work = await mine.work;
    if ('error' in work) throw work.error;
    // Its checkpoint is light: the room its rewrite took goes to the next batch.
    startAhead(request.batchIndex, false);
    return warehouse.checkpointBatch(spec, request, work);
  }

  /** Batch `i`: gate, rewrite (or take the one started ahead), checkpoint in order; halts on a failure. */
  async function runBatch(i: number, redo: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const early = attempt === 1 && !redo ? ahead.get(i) : undefined;
      ahead.delete(i);
      if (!early) await gate(i);
      const request = run.batchStarted(i, attempt, redo);
      const started = Date.now();
      const mine = early ?? (pipelined ? launch(request) : undefined);
      if (pipelined) startAhead(i, true);
      let outcome: BatchOutcome;
      try {
        outcome = await rewriteAndCheckpoint(request, mine);
      } catch (e) {
        if (isCancellation(e)) throw e;
        await drainAhead();
        run.haltOnBatchError(i, errorText(e), Date.now());
        const r = await halted();
        if (r.action === 'abort') throw failWith(run.aborted(r, i));
        continue;
      }
      // The pace (and ETA) counts wall time per batch, not the overlapping time each was in flight.
      const since = Math.max(mine?.started ?? started, lastReconciled);
      const summary = run.batchReconciled(i, outcome, redo, Date.now() - since, Date.now());
      lastReconciled = Date.now();
      if (summary.verdict === 'passed') return;
      await drainAhead();
      run.haltOnVerdict(i, summary, Date.now());
      const r = await halted();
      if (r.action === 'abort') throw failWith(run.aborted(r, i));
      if (r.action === 'accept') {
        await metadata.acceptBatch(spec, i, r.by, r.reason ?? '');
        run.batchAccepted(i, r, outcome, summary, redo);
        return;
      }
    }
  }

  async function runBatches(): Promise<void> {
    // A node that reads upstream nodes starts each batch only after its wait (no rewrites ahead).
    pipelined = patched(PIPELINED_BATCHES) && !rel?.upstream.length;
    for (let next = run.nextBatch(); next; next = run.nextBatch()) {
      await runBatch(next.index, next.redo);
      run.batchDone(next.index, next.redo, Date.now());
      for (const id of rel?.dependants ?? []) {
        void getExternalWorkflowHandle(id).signal(upstreamPassedSignal, { node: rel!.node }).catch(() => undefined);
      }
      await maybeContinueAsNew();
    }
  }

  /** Completion requires every planned partition checkpointed and present in the shadow. */
  async function verifyCompletion(): Promise<void> {
    for (;;) {
      run.verifying();
      const check = await warehouse.verifyCompletion(spec);
      for (const w of check.warnings ?? []) run.warn(w);
      if (check.complete && !check.failures?.length) return run.verified(check);
      run.haltOnCompletion(check, Date.now());
      const r = await halted();
      if (r.action === 'abort') throw failWith(run.aborted(r, null));
      // Offered only when every batch is in place and only whole-range expectations failed.
      if (r.action === 'accept') return run.completionAccepted(r, check);
      run.redoBatches(check.missingBatches);
      await runBatches();
    }
  }

  // ---- step 6: a person approves the reconciled shadow; one atomic publish ----
  async function awaitApproval(): Promise<Decision> {
    const waiting = run.awaitingApproval(Date.now());
    if (isFailure(waiting)) throw failWith(waiting);
    await condition(() => run.decided(), Math.max(1, waiting.deadlineMs - Date.now()));
    const outcome = run.approvalOutcome();
    if (isFailure(outcome)) throw failWith(outcome);
    return outcome.approved;
  }

  async function publish(approved: Decision): Promise<void> {
    run.publishing();
    run.published(await warehouse.publishRelease(spec, approved.by, proofOf(approved)));
  }

  // ---- step 7: the rollback window ----

  /**
   * Waits for a rollback, a signoff or the window's end; with rollback.monitors, evaluates each right
   * after publish and then every interval meanwhile (a spec without monitors waits as it always has).
   */
  async function watchWindow(): Promise<void> {
    if (!(spec.rollback.monitors ?? []).length) {
      await condition(() => run.windowRequested(), run.windowMsLeft(Date.now()));
      return;
    }
    while (!run.windowRequested() && run.windowOpen(Date.now())) {
      const due = run.dueMonitors(Date.now());
      if (due.length) {
        for (const entry of run.monitorsEvaluated(await metadata.evaluateMonitors(spec, due), Date.now())) {
          await audit(entry);
        }
        continue;
      }
      if (await condition(() => run.windowRequested(), run.monitorWaitMs(Date.now()))) return;
      await maybeContinueAsNew();
    }
  }

  async function rollbackWindow(): Promise<void> {
    const releaseId = status.release!.releaseId;
    if (status.rollback.open) await watchWindow();
    while (run.rollbackRequest) {
      const r = run.rollingBack();
      let result: Awaited<ReturnType<typeof warehouse.rollbackRelease>>;
      try {
        result = await warehouse.rollbackRelease(spec, releaseId, r.by, r.comment ?? '', proofOf(r));
      } catch (e) {
        // A refused rollback (the restore point is not the one taken) wrote nothing: the release
        // stays published and the window stays open for a signoff; anything else fails the run.
        if (isCancellation(e) || backfillFailureIn(e)?.type !== BackfillError.NotAllowed) throw e;
        await audit(run.rollbackRefused(r, errorText(e)));
        await condition(() => run.windowRequested(), run.windowMsLeft(Date.now()));
        continue;
      }
      run.rolledBack(r, result);
      await metadata.releaseLease(spec, 'rolled back');
      run.rollbackFinished(r);
      return;
    }
    await metadata.releaseLease(spec, run.windowClosed());
    if (run.awaitsSignoff()) await condition(() => run.signoffRequest !== null);
    const signoff = run.signoffRequest;
    if (signoff) {
      run.signedOff(await metadata.signoffRelease(spec, releaseId, signoff.by, signoff.comment, proofOf(signoff)));
    }
    run.cleanedUp(await warehouse.cleanupTables(spec, run.cleanupReason()));
  }

  // A cancel (CLI or the UI's signal form, with who and why) stops the run before anything is
  // published: the runbook below runs in a scope that the request cancels.
  const runbook = new CancellationScope();
  // (A cancellation of the whole workflow rejects this wait too: nothing to do then.)
  void condition(() => run.cancelRequest !== null).then(() => runbook.cancel(), () => undefined);
  try {
    await runbook.run(async () => {
      if (!run.cursor.setupDone) await prepare();
      if (['preparing', 'running', 'paused', 'halted'].includes(status.state)) {
        await runBatches();
        await verifyCompletion();
      }
      if (rel) {
        // The release approves and publishes every node at once; the lease stays with it.
        run.reconciledForRelease(rel.releaseId);
        await tellRelease(true);
        return;
      }
      if (status.state !== 'published') {
        const approved = await awaitApproval();
        await publish(approved);
      }
      await rollbackWindow();
    });
  } catch (caught) {
    if (caught instanceof ContinueAsNew) throw caught;
    const e = run.cancelRequest && isCancellation(caught) ? failWith(run.cancelled()) : caught;
    const { wrote } = run.failed(errorText(e));
    await CancellationScope.nonCancellable(() => tellRelease(true));
    // Cancellation must not stop the bookkeeping: the lease is released in a non-cancellable scope.
    if (!wrote) {
      await CancellationScope.nonCancellable(() => metadata.releaseLease(spec, `failed: ${status.error}`))
        .catch(() => undefined);
    }
    await condition(allHandlersFinished);
    throw e;
  }
  await condition(allHandlersFinished);
  return status;
}
