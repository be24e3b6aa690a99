/**
 * One workflow per backfill; it reads like the runbook (../shared/seeds/001): plan and lease →
 * snapshot → shadow → prove idempotency → batches (gate, rewrite, reconcile, halt) → verify
 * completion → approval → atomic publish → rollback window. Orchestration only: state rules live
 * in domain/ (lifecycle, throttle, approval, report), all I/O in activities. State is one
 * plain-JSON cursor, carried across continue-as-new.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
  ContinueAsNew,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { Activities, BatchOutcome } from '../activities';
import { backfillFailureIn, BackfillError, nonRetryableErrorTypes, type BackfillErrorType } from '../contracts/errors';
import * as m from '../contracts/messages';
import { BackfillStateKey } from '../contracts/search-attributes';
import type {
  BackfillCursor,
  BackfillInput,
  BackfillState,
  BackfillStatus,
  BatchSummary,
  Decision,
  PauseInfo,
  ResolveRequest,
  UpdateAck,
} from '../contracts/status';
import {
  actorOf,
  concurrencyProblem,
  decisionProblem,
  livePipelineProblem,
  pauseProblem,
  resolveProblem,
  resumeProblem,
  rollbackProblem,
  signoffProblem,
  type ApprovalRules,
} from '../domain/approval';
import { excerpt, STATE_LIMITS } from '../contracts/limits';
import { canMove, inputProblems, isTerminal, PUBLISHED_STATES } from '../domain/lifecycle';
import { batchPartitions, planShape, type PlanShape } from '../domain/plan';
import { emptyCumulative } from '../domain/reconcile';
import { buildReport } from '../domain/report';
import { activePauseWindow, budgetDecision, chargeBudget, estimateFinish, formatBytes } from '../domain/throttle';

/** Short metadata calls (plan, lease, audit, control-schema bookkeeping). */
const metadata = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes },
});

/**
 * Long warehouse statements: they heartbeat every 2 s, so a dead worker is noticed within the
 * heartbeat timeout and the batch retried elsewhere; cancellation reaches the running statement.
 */
const warehouse = proxyActivities<Activities>({
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '15 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes },
});

const RECENT_BATCHES = STATE_LIMITS.recentBatches;

const fail = (type: BackfillErrorType, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });
/** An error's message, bounded: it is kept in state and shown in the UI. */
const errorText = (e: unknown) =>
  excerpt(e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e), STATE_LIMITS.messageChars);

/** A plain Error here would fail the workflow task and retry forever; a bad range is bad input. */
function shapeOf(spec: BackfillInput['spec']): PlanShape {
  try {
    return planShape(spec);
  } catch (e) {
    throw fail(BackfillError.InvalidSpec, `Invalid backfill input: ${(e as Error).message}`);
  }
}

function initialCursor(input: BackfillInput, shape: PlanShape): BackfillCursor {
  const { spec } = input;
  return {
    status: {
      backfillId: spec.backfill_id,
      state: 'planning',
      phase: 'planning: checking the target and estimating the range',
      target: spec.target.table,
      shadow: spec.target.shadow_table,
      snapshot: spec.rollback.snapshot,
      owner: spec.owner,
      startedBy: input.startedBy,
      range: { start: spec.source_range.start, end: spec.source_range.end, grain: spec.source_range.grain },
      partitions: { done: 0, total: shape.partitions },
      batches: { done: 0, total: shape.batches, resumed: 0 },
      currentBatch: null,
      concurrency: spec.execution.max_concurrency,
      pause: null,
      halt: null,
      budget: { dailyBytes: spec.execution.daily_scan_budget ?? null, day: null, spentToday: 0, left: spec.execution.daily_scan_budget ?? null },
      eta: null,
      lastVerdict: null,
      proof: null,
      approval: spec.approval
        ? { approvers: spec.approval.approvers, allowOwner: spec.approval.allow_owner, deadline: null, approved: null, rejected: null, refusals: [] }
        : null,
      release: null,
      rollback: { windowMs: spec.rollback.window, expiresAt: null, open: false, rolledBack: null, signedOff: null, cleanup: spec.rollback.cleanup, cleanedUp: null },
      plan: null,
      error: null,
      continuedAsNew: 0,
    },
    nextBatch: 0,
    redo: [],
    cumulative: emptyCumulative(),
    recentBatches: [],
    omittedBatches: 0,
    verdicts: { passed: 0, failed: 0, accepted: 0 },
    liveRuns: [],
    operatorPause: null,
    setupDone: false,
    batchMs: 0,
    batchPartitions: 0,
    lastVisibilityClear: null,
    warnings: [],
  };
}

export async function backfillWorkflow(input: BackfillInput): Promise<BackfillStatus> {
  const problems = inputProblems(input);
  if (problems.length) throw fail(BackfillError.InvalidSpec, `Invalid backfill input: ${problems.join('; ')}`);
  const { spec, startedBy } = input;
  const shape = shapeOf(spec);
  const s: BackfillCursor = input.cursor ?? initialCursor(input, shape);
  const status = s.status;
  const { workflowId } = workflowInfo();
  const nowIso = () => new Date().toISOString();
  const rules: ApprovalRules = {
    approvers: spec.approval?.approvers ?? [],
    allowOwner: spec.approval?.allow_owner ?? false,
    owner: spec.owner,
    startedBy,
    operators: spec.rollback.operators ?? [],
  };
  /** Warnings for the approver: distinct, bounded in number and length. */
  const warn = (w: string) => {
    const text = excerpt(w, STATE_LIMITS.messageChars);
    if (!s.warnings.includes(text) && s.warnings.length < STATE_LIMITS.warnings) s.warnings.push(text);
  };

  // ---- operator requests, set by handlers and consumed by the phases below ----
  let wake = 0; // bumped by every signal a waiting phase may care about
  let resolution: ResolveRequest | null = null;
  let rollbackRequest: Decision | null = null;
  let signoffRequest: Decision | null = null;

  /** The Temporal UI's "current details" (Markdown): where the backfill stands right now. */
  const showProgress = () => {
    const v = status.lastVerdict;
    setCurrentDetails(
      [
        `**${status.state}** — ${status.phase}`,
        `Partitions ${status.partitions.done}/${status.partitions.total} · batches ${status.batches.done}/${status.batches.total}` +
          (status.eta ? ` · ETA ${status.eta}` : ''),
        v ? `Last batch ${v.index + 1} (${v.first}..${v.last}): ${v.verdict}; ${v.measures.map((x) => `${x.column} ${x.deltaPct === null ? 'n/a' : `${x.deltaPct.toFixed(3)}%`}`).join(', ')}` : null,
        status.pause ? `Paused (${status.pause.kind}): ${status.pause.reason}` : null,
        status.halt ? `Halted: ${status.halt.reason}` : null,
        status.release ? `Release ${status.release.releaseId} (${status.release.status}); rollback until ${status.release.rollbackExpiresAt}` : null,
      ].filter(Boolean).join('\n\n'),
    );
  };
  const moveTo = (state: BackfillState, phase: string) => {
    if (state !== status.state) {
      if (!canMove(status.state, state)) throw new Error(`illegal transition ${status.state} -> ${state}`);
      status.state = state;
      upsertSearchAttributes([{ key: BackfillStateKey, value: state }]);
    }
    status.phase = phase;
    showProgress();
  };
  /**
   * Handlers audit too, and a handler must never throw (it would fail the workflow task): an audit
   * write that fails after its retries is noted in the status warnings instead.
   */
  const audit = (actor: string, action: string, detail: Record<string, unknown>) =>
    metadata.recordAudit(spec, actor, action, detail).catch((e: unknown) => {
      if (isCancellation(e)) throw e;
      warn(`audit entry ${action} by ${actor} was not written: ${errorText(e)}`);
    });
  /** A decision with its text: the comment, or the reason for a rollback (which requires one). */
  const decision = (req: { by: string; comment?: string; reason?: string }, text: 'comment' | 'reason' = 'comment'): Decision => ({
    by: req.by.trim(),
    comment: (text === 'reason' ? req.reason ?? req.comment : req.comment ?? req.reason) ?? null,
    at: nowIso(),
  });
  const refuse = (problem: string): never => {
    throw fail(BackfillError.NotAllowed, problem);
  };
  const ack = (message: string): UpdateAck => ({ accepted: true, state: status.state, message });

  // ---- queries ----
  setHandler(m.statusQuery, () => ({
    ...status,
    // While paused nobody knows when it resumes, and workflow time stands still: no ETA.
    eta: status.state === 'running'
      ? isoOrNull(estimateFinish(Date.now(), s.batchMs, s.batchPartitions, status.partitions.total - status.partitions.done))
      : status.state === 'paused' ? null : status.eta,
  }), { description: m.messageDescriptions.status });
  setHandler(m.batchesQuery, () => ({ total: status.batches.done, omitted: s.omittedBatches, items: s.recentBatches }), {
    description: m.messageDescriptions.batches,
  });
  setHandler(m.reportQuery, () => buildReport({ spec, status, cumulative: s.cumulative, verdicts: s.verdicts, warnings: s.warnings }), {
    description: m.messageDescriptions.report,
  });

  // ---- throttle signals ----
  setHandler(m.pauseSignal, async (req) => {
    const problem = pauseProblem(req);
    if (problem) return void (await audit(actorOf(req), 'pause_refused', { problem }));
    s.operatorPause = { by: req.by?.trim() || null, reason: req.reason.trim(), since: nowIso() };
    wake++;
    await audit(req.by ?? 'operator', 'paused', { reason: req.reason });
  }, { description: m.messageDescriptions.pause });
  setHandler(m.resumeSignal, async (req) => {
    const problem = resumeProblem(req);
    if (problem) return void (await audit(actorOf(req), 'resume_refused', { problem }));
    if (!s.operatorPause) return;
    s.operatorPause = null;
    wake++;
    await audit(req?.by?.trim() || 'operator', 'resumed', { reason: req?.reason ?? null });
  }, { description: m.messageDescriptions.resume });
  const liveRunOf = (e: unknown) => String((e as { run_id?: unknown } | null)?.run_id ?? '').trim() || 'unnamed';
  setHandler(m.livePipelineStartedSignal, async (e) => {
    const problem = livePipelineProblem(e)
      ?? (s.liveRuns.length >= STATE_LIMITS.liveRuns && !s.liveRuns.includes(liveRunOf(e))
        ? `live_pipeline_started refused: ${STATE_LIMITS.liveRuns} live runs are already open; send live_pipeline_finished for the ones that ended`
        : null);
    if (problem) return void (await audit('live_pipeline', 'live_pipeline_refused', { problem }));
    const id = liveRunOf(e);
    if (!s.liveRuns.includes(id)) s.liveRuns.push(id);
    wake++;
  }, { description: m.messageDescriptions.live_pipeline_started });
  setHandler(m.livePipelineFinishedSignal, async (e) => {
    const problem = livePipelineProblem(e);
    if (problem) return void (await audit('live_pipeline', 'live_pipeline_refused', { problem }));
    const id = liveRunOf(e);
    s.liveRuns = s.liveRuns.filter((r) => r !== id);
    wake++;
  }, { description: m.messageDescriptions.live_pipeline_finished });
  setHandler(m.setConcurrencySignal, async (req) => {
    const problem = concurrencyProblem(req);
    if (problem) return void (await audit(actorOf(req), 'concurrency_refused', { problem }));
    const before = status.concurrency;
    status.concurrency = req.concurrency;
    await audit(req.by ?? 'operator', 'concurrency_changed', { from: before, to: req.concurrency, reason: req.reason ?? null });
  }, { description: m.messageDescriptions.set_concurrency });

  /**
   * One request, two doors: the signal (what the UI's form sends) records a refusal and never
   * fails; the update audits the refusal and then fails with it, so the CLI gets the error at once
   * and the audit log has every refused decision. `apply` runs only for an allowed request and
   * returns the update's acknowledgement.
   */
  type Door = 'approve' | 'reject' | 'resolve' | 'rollback' | 'signoff';
  function offer<T>(
    door: Door,
    signal: SignalDefinition<[T]>,
    update: UpdateDefinition<UpdateAck, [T]>,
    problemOf: (req: unknown) => string | null,
    apply: (req: T) => Promise<string> | string,
    onRefused: (req: unknown, problem: string) => void = () => {},
  ): void {
    const refused = async (req: unknown, problem: string, via: 'signal' | 'update') => {
      onRefused(req, problem);
      await audit(actorOf(req), `${door}_refused`, { problem, via });
    };
    setHandler(signal, async (req) => {
      const problem = problemOf(req);
      if (problem === null) return void (await apply(req));
      await refused(req, problem, 'signal');
    }, { description: m.messageDescriptions[door] });
    setHandler(update, async (req) => {
      const problem = problemOf(req);
      if (problem === null) return ack(await apply(req));
      await refused(req, problem, 'update');
      return refuse(problem);
    }, { description: m.messageDescriptions[`${door}_update`] });
  }

  // ---- approval ----
  const decisionState = (kind: 'approve' | 'reject', req: unknown): string | null => {
    const a = status.approval;
    if (a?.approved || a?.rejected) {
      const d = (a.approved ?? a.rejected)!;
      return `${kind} refused: the backfill was already ${a.approved ? 'approved' : 'rejected'} by ${d.by} at ${d.at}`;
    }
    return decisionProblem(kind, req, status.state, rules);
  };
  for (const kind of ['approve', 'reject'] as const) {
    offer(
      kind,
      kind === 'approve' ? m.approveSignal : m.rejectSignal,
      kind === 'approve' ? m.approveUpdate : m.rejectUpdate,
      (req) => decisionState(kind, req),
      async (req) => {
        const d = decision(req);
        if (kind === 'approve') status.approval!.approved = d;
        else status.approval!.rejected = d;
        wake++;
        await audit(d.by, kind === 'approve' ? 'approved' : 'rejected', { comment: d.comment });
        return `${kind === 'approve' ? 'approved' : 'rejected'} by ${d.by}`;
      },
      (req, problem) => {
        const refusals = status.approval?.refusals;
        if (!refusals) return;
        refusals.push({ by: actorOf(req), reason: excerpt(problem, STATE_LIMITS.messageChars), at: nowIso() });
        if (refusals.length > STATE_LIMITS.refusals) refusals.splice(0, refusals.length - STATE_LIMITS.refusals);
      },
    );
  }

  // ---- halt resolution ----
  offer('resolve', m.resolveSignal, m.resolveUpdate, (req) => {
    if (resolution) return 'resolve refused: a decision for this halt is already being applied';
    // What the halt offers first: an accept of a structural failure is refused whoever sends it.
    const action = (req as Partial<ResolveRequest> | null)?.action;
    const options: string[] = status.halt?.options ?? [];
    if (status.state === 'halted' && (action === 'retry' || action === 'abort' || action === 'accept') && !options.includes(action)) {
      return `resolve refused: "${action}" is not possible for this halt (${excerpt(status.halt?.reason ?? '', 300)}); send one of ${options.join(', ')}`;
    }
    return resolveProblem(req, status.state, rules);
  }, async (req) => {
    resolution = { action: req.action, by: req.by.trim(), reason: req.reason?.trim() };
    wake++;
    await audit(req.by, `resolve_${req.action}`, { batch: status.halt?.batch ?? null, reason: req.reason ?? null });
    return `${req.action} accepted`;
  });

  // ---- rollback window: rollback or signoff, one of them, once ----
  const windowBusy = (what: string) => (rollbackRequest || signoffRequest ? `${what} refused: a rollback or signoff is already in progress` : null);
  const windowView = () => ({
    expiresAtMs: status.rollback.expiresAt ? Date.parse(status.rollback.expiresAt) : null,
    signedOff: status.rollback.signedOff !== null,
  });
  offer('rollback', m.rollbackSignal, m.rollbackUpdate, (req) => windowBusy('rollback') ?? rollbackProblem(req, status.state, windowView(), Date.now(), rules), (req) => {
    rollbackRequest = decision(req, 'reason');
    wake++;
    return `rollback requested by ${rollbackRequest.by}; the pre-publish result is being restored`;
  });
  offer('signoff', m.signoffSignal, m.signoffUpdate, (req) => windowBusy('signoff') ?? signoffProblem(req, status.state, rules), (req) => {
    signoffRequest = decision(req);
    wake++;
    return `signed off by ${signoffRequest.by}`;
  });

  setHandler(m.reportDataUpdate, () => metadata.reportData(spec), { description: m.messageDescriptions.report_data });

  // ---- continue-as-new: plain-JSON cursor, handlers drained first ----
  const maybeContinueAsNew = async () => {
    if (!workflowInfo().continueAsNewSuggested) return;
    await condition(allHandlersFinished);
    status.continuedAsNew++;
    await continueAsNew<typeof backfillWorkflow>({ spec, startedBy, cursor: s });
  };

  // ---- Step 0–3: plan, lease, snapshot, shadow, idempotency proof ----
  async function prepare(): Promise<void> {
    status.plan = await metadata.planBackfill(spec, startedBy);
    for (const w of status.plan.warnings ?? []) warn(w);
    await metadata.acquireLease(spec, workflowId, startedBy);
    // Before the first write: never run again after publishing, never adopt a table it did not create.
    await metadata.claimTables(spec, startedBy);
    const resumed = await metadata.resumePoint(spec);
    if (resumed.batchesDone > 0) {
      s.nextBatch = resumed.batchesDone;
      s.cumulative = resumed.cumulative;
      s.recentBatches = resumed.recent;
      s.omittedBatches = resumed.batchesDone - resumed.recent.length;
      status.batches.done = status.batches.resumed = resumed.batchesDone;
      status.partitions.done = resumed.partitionsDone;
      s.verdicts.passed = resumed.batchesDone;
    }
    if (resumed.stale > 0) warn(`${resumed.stale} checkpoint(s) from another code version or transform were not reused`);
    const resumedNote = resumed.batchesDone ? `; resuming after ${resumed.batchesDone} checkpointed batches` : '';
    moveTo('preparing', `preparing: taking the restore point ${spec.rollback.snapshot}${resumedNote}`);
    await warehouse.takeSnapshot(spec);
    status.phase = `preparing: creating the shadow ${spec.target.shadow_table}`;
    await warehouse.prepareShadow(spec);
    const partition = status.plan.representativePartition;
    status.phase = `preparing: proving idempotency on ${partition} (rewriting it twice)`;
    status.proof = await warehouse.proveIdempotency(spec, partition);
    if (status.proof.floatNoise?.length) {
      warn(`idempotency proof on ${partition}: float sums differ between the two rewrites only by summation order (${status.proof.floatNoise.join('; ')}); ` +
        'they are compared within abs_tolerance. Store them as DECIMAL for exact comparisons.');
    }
    s.setupDone = true;
  }

  // ---- Step 4 gate: operator pause, live pipeline, pause windows, daily scan budget ----
  /** The plan's estimated bytes per partition: what the daily budget is charged, and the worker's bytes metric counts. */
  const bytesPerPartition = (): number | null => {
    const p = status.plan;
    return p?.totals.bytes && p.totals.partitions ? p.totals.bytes / p.totals.partitions : null;
  };
  const batchBytes = (i: number) => (bytesPerPartition() ?? 0) * batchPartitions(spec, i, shape).length;

  async function blocker(i: number): Promise<PauseInfo | null> {
    const now = Date.now();
    const since = status.pause?.since ?? nowIso();
    if (s.operatorPause) return { kind: 'operator', reason: s.operatorPause.reason, by: s.operatorPause.by, since, until: null };
    const live = spec.execution.pause_during_live_pipeline;
    if (live && spec.execution.live_pipeline?.signals !== false && s.liveRuns.length) {
      return { kind: 'live_pipeline', reason: `live pipeline running (${s.liveRuns.join(', ')}); waiting for live_pipeline_finished`, by: null, since, until: null };
    }
    const window = activePauseWindow(now, spec.execution.pause_windows);
    if (window) {
      return { kind: 'pause_window', reason: `inside the pause window ${window.window.start}–${window.window.end} UTC`, by: null, since, until: new Date(window.endsAtMs).toISOString() };
    }
    const budget = budgetDecision(spec.execution.daily_scan_budget, { day: status.budget.day, spentToday: status.budget.spentToday }, now, batchBytes(i));
    if (!budget.run) return { kind: 'scan_budget', reason: budget.reason, by: null, since, until: new Date(budget.resumeAtMs).toISOString() };
    const query = spec.execution.live_pipeline?.visibility_query;
    if (live && query) {
      const poll = spec.execution.live_pipeline!.poll_interval;
      const fresh = s.lastVisibilityClear !== null && now - Date.parse(s.lastVisibilityClear) < poll && status.pause?.kind !== 'live_pipeline';
      if (!fresh) {
        const running = await metadata.countLivePipelines(query);
        if (running > 0) {
          return { kind: 'live_pipeline', reason: `${running} live pipeline run(s) match ${query}`, by: null, since, until: new Date(Date.now() + poll).toISOString() };
        }
        s.lastVisibilityClear = nowIso();
      }
    }
    return null;
  }

  async function gate(i: number): Promise<void> {
    for (;;) {
      const block = await blocker(i);
      if (!block) {
        if (status.pause) await audit('workflow', 'yield_ended', { kind: status.pause.kind, since: status.pause.since });
        status.pause = null;
        return;
      }
      if (status.pause?.kind !== block.kind) await audit(block.by ?? 'workflow', 'yielding', { kind: block.kind, reason: block.reason });
      status.pause = block;
      moveTo('paused', `paused before batch ${i + 1}: ${block.reason}`);
      const seen = wake;
      const ms = block.until ? Math.max(1, Date.parse(block.until) - Date.now()) : undefined;
      await (ms === undefined ? condition(() => wake !== seen) : condition(() => wake !== seen, ms));
      await maybeContinueAsNew();
    }
  }

  // ---- Steps 4–5: batches, each reconciled; a failed check halts for an operator ----
  const record = (summary: BatchSummary) => {
    s.recentBatches.push(summary);
    if (s.recentBatches.length > RECENT_BATCHES) {
      s.recentBatches.shift();
      s.omittedBatches++;
    }
    status.lastVerdict = summary;
    showProgress();
  };

  async function halt(i: number, why: string, failures: string[], canAccept: boolean): Promise<ResolveRequest> {
    const reason = excerpt(why, STATE_LIMITS.messageChars);
    status.halt = {
      batch: i, reason, failures: failures.slice(0, 10).map((f) => excerpt(f, STATE_LIMITS.messageChars)), since: nowIso(),
      options: canAccept ? ['retry', 'abort', 'accept'] : ['retry', 'abort'],
    };
    moveTo('halted', `halted at batch ${i + 1}: ${reason}. Production is untouched; send resolve with retry, abort${canAccept ? ' or accept' : ''}.`);
    resolution = null;
    await condition(() => resolution !== null);
    const r = resolution!;
    resolution = null;
    status.halt = null;
    return r;
  }

  async function runBatch(i: number, redo: boolean): Promise<void> {
    const parts = batchPartitions(spec, i, shape);
    for (let attempt = 1; ; attempt++) {
      await gate(i);
      moveTo('running', `running batch ${i + 1} of ${shape.batches} (${parts[0]!.start}..${parts[parts.length - 1]!.start})${redo ? ', again after the completion check' : ''}`);
      status.currentBatch = { index: i, first: parts[0]!.start, last: parts[parts.length - 1]!.start, attempt };
      const started = Date.now();
      let outcome: BatchOutcome;
      try {
        outcome = await warehouse.runBatch(spec, {
          batchIndex: i, cumulativeBefore: redo ? null : s.cumulative, concurrency: status.concurrency, attempt, bytesPerPartition: bytesPerPartition(),
        });
      } catch (e) {
        if (isCancellation(e)) throw e;
        const r = await halt(i, `the batch could not run: ${errorText(e)}`, [errorText(e)], false);
        if (r.action === 'abort') throw fail(BackfillError.Aborted, `aborted by ${r.by} at batch ${i + 1}: ${r.reason ?? ''}`);
        continue;
      }
      const bytes = batchBytes(i);
      const budget = chargeBudget({ day: status.budget.day, spentToday: status.budget.spentToday }, Date.now(), bytes);
      status.budget = { ...status.budget, ...budget, left: status.budget.dailyBytes === null ? null : Math.max(0, status.budget.dailyBytes - budget.spentToday) };
      const summary = { ...outcome.summary, bytesScanned: bytes };
      record(summary);
      for (const w of summary.warnings) warn(w);
      if (summary.verdict === 'passed') {
        s.verdicts.passed++;
        s.batchMs += Date.now() - started;
        s.batchPartitions += parts.length;
        if (!redo) s.cumulative = outcome.cumulative;
        return;
      }
      s.verdicts.failed++;
      // Only aggregate checks may be accepted: a structural failure would lose or duplicate rows.
      const r = await halt(i, `reconciliation failed: ${summary.failures[0] ?? 'a check failed'}`, summary.failures, summary.acceptable === true);
      if (r.action === 'abort') throw fail(BackfillError.Aborted, `aborted by ${r.by} at batch ${i + 1}: ${r.reason ?? ''}`);
      if (r.action === 'accept') {
        await metadata.acceptBatch(spec, i, r.by, r.reason ?? '');
        s.verdicts.accepted++;
        summary.verdict = 'accepted';
        if (!redo) s.cumulative = outcome.cumulative;
        moveTo('running', `batch ${i + 1} accepted by ${r.by}: ${r.reason ?? ''}`);
        return;
      }
    }
  }

  async function runBatches(): Promise<void> {
    for (;;) {
      const redo = s.redo.length > 0;
      const i = redo ? s.redo[0]! : s.nextBatch;
      if (!redo && i >= shape.batches) break;
      await runBatch(i, redo);
      status.currentBatch = null;
      if (redo) s.redo.shift();
      else s.nextBatch++;
      status.batches.done++;
      status.partitions.done += batchPartitions(spec, i, shape).length;
      status.eta = isoOrNull(estimateFinish(Date.now(), s.batchMs, s.batchPartitions, status.partitions.total - status.partitions.done));
      await maybeContinueAsNew();
    }
  }

  /** Completion requires every planned partition checkpointed and present in the shadow. */
  async function verifyCompletion(): Promise<void> {
    for (;;) {
      status.phase = 'verifying: every planned partition checkpointed and present in the shadow';
      const check = await warehouse.verifyCompletion(spec);
      if (check.complete) return;
      const r = await halt(-1, `completion check: ${check.problems[0]}`, check.problems, false);
      if (r.action === 'abort') throw fail(BackfillError.Aborted, `aborted by ${r.by} at the completion check: ${r.reason ?? ''}`);
      s.redo = check.missingBatches;
      status.batches.done -= check.missingBatches.length;
      status.partitions.done -= check.missingBatches.reduce((a, b) => a + batchPartitions(spec, b, shape).length, 0);
      await runBatches();
    }
  }

  // ---- Step 6: a human approves the reconciled shadow ----
  async function awaitApproval(): Promise<Decision> {
    const a = status.approval;
    if (!a) throw fail(BackfillError.SpecNotRunnable, 'approval: the spec names no approvers; add approval.approvers before running.');
    const timeout = spec.approval!.timeout;
    a.deadline ??= new Date(Date.now() + timeout).toISOString();
    const report = buildReport({ spec, status, cumulative: s.cumulative, verdicts: s.verdicts, warnings: s.warnings });
    const moved = report.measures.map((x) => `${x.column} ${x.deltaPct === null ? 'n/a' : `${x.deltaPct.toFixed(3)}%`}`).join(', ');
    moveTo('awaiting_approval', `awaiting approval from ${a.approvers.join(' or ')} until ${a.deadline}: ${moved}. Send approve or reject with {"by": "...", "comment": "..."}.`);
    const decided = await condition(() => a.approved !== null || a.rejected !== null, Math.max(1, Date.parse(a.deadline) - Date.now()));
    if (!decided) throw fail(BackfillError.ApprovalExpired, `nobody approved within approval.timeout (deadline ${a.deadline}); production is untouched. Start a new run to try again.`);
    if (a.rejected) throw fail(BackfillError.Rejected, `rejected by ${a.rejected.by}${a.rejected.comment ? `: ${a.rejected.comment}` : ''}; production is untouched.`);
    return a.approved!;
  }

  // ---- Step 6: atomic publish and the release record ----
  async function publish(approved: Decision): Promise<void> {
    moveTo('publishing', `publishing ${spec.source_range.start}..${spec.source_range.end} into ${spec.target.table} (${spec.publish.mode}) in one transaction`);
    status.release = await warehouse.publishRelease(spec, approved.by);
    status.rollback.expiresAt = status.release.rollbackExpiresAt;
    status.rollback.open = true;
    moveTo('published', `published as ${status.release.releaseId}; rollback window open until ${status.rollback.expiresAt}`);
  }

  // ---- Step 7: the rollback window ----
  async function rollbackWindow(): Promise<void> {
    const release = status.release!;
    const untilMs = Date.parse(release.rollbackExpiresAt) - Date.now();
    if (status.rollback.open) {
      await condition(() => rollbackRequest !== null || signoffRequest !== null, Math.max(1, untilMs));
    }
    while (rollbackRequest) {
      const r = rollbackRequest;
      status.phase = `rolling back ${release.releaseId}: restoring ${spec.rollback.snapshot} over the range`;
      let result: Awaited<ReturnType<typeof warehouse.rollbackRelease>>;
      try {
        result = await warehouse.rollbackRelease(spec, release.releaseId, r.by, r.comment ?? '');
      } catch (e) {
        // A refused rollback (the restore point is not the one taken) wrote nothing: the release
        // stays published and the window stays open for a signoff; anything else fails the run.
        if (isCancellation(e) || backfillFailureIn(e)?.type !== BackfillError.NotAllowed) throw e;
        rollbackRequest = null;
        warn(`rollback requested by ${r.by} was refused: ${errorText(e)}`);
        moveTo('published', `published as ${release.releaseId}; a rollback was refused (${errorText(e)}); window open until ${status.rollback.expiresAt}`);
        await audit(r.by, 'rollback_refused', { problem: errorText(e) });
        await condition(() => rollbackRequest !== null || signoffRequest !== null, Math.max(1, Date.parse(release.rollbackExpiresAt) - Date.now()));
        continue;
      }
      status.release = result.release;
      status.rollback.rolledBack = { ...r, rowsRestored: result.rowsRestored };
      status.rollback.open = false;
      await metadata.releaseLease(spec, 'rolled back');
      moveTo('rolled_back', `rolled back by ${r.by}: production restored to the pre-publish result; ${spec.rollback.snapshot} and ${spec.target.shadow_table} kept for investigation`);
      return;
    }
    status.rollback.open = false;
    await metadata.releaseLease(spec, signoffRequest ? 'signed off' : 'rollback window ended');
    if (!signoffRequest && spec.rollback.cleanup === 'after_signoff') {
      status.phase = `rollback window ended; waiting for signoff to drop ${spec.rollback.snapshot} and ${spec.target.shadow_table}`;
      await condition(() => signoffRequest !== null);
    }
    if (signoffRequest) {
      status.release = await metadata.signoffRelease(spec, release.releaseId, signoffRequest.by, signoffRequest.comment);
      status.rollback.signedOff = signoffRequest;
    }
    const cleanup = await warehouse.cleanupTables(spec, signoffRequest ? `signed off by ${signoffRequest.by}` : 'rollback window ended');
    status.rollback.cleanedUp = cleanup.dropped;
    status.rollback.kept = cleanup.kept;
    for (const k of cleanup.kept) warn(`kept ${k.table}: ${k.why}`);
    const kept = cleanup.kept.length ? `; kept ${cleanup.kept.map((k) => k.table).join(', ')} (see warnings)` : '';
    moveTo('completed', `completed: ${release.releaseId} ${signoffRequest ? `signed off by ${signoffRequest.by}` : 'kept after the rollback window'}; dropped ${cleanup.dropped.join(', ') || 'nothing'}${kept}`);
  }

  try {
    if (!s.setupDone) await prepare();
    if (status.state === 'preparing' || status.state === 'running' || status.state === 'paused' || status.state === 'halted') {
      await runBatches();
      await verifyCompletion();
    }
    if (status.state !== 'published') {
      const approved = await awaitApproval();
      await publish(approved);
    }
    await rollbackWindow();
  } catch (e) {
    if (e instanceof ContinueAsNew) throw e;
    status.error = errorText(e);
    const wrote = PUBLISHED_STATES.includes(status.state);
    if (!isTerminal(status.state)) {
      status.halt = null;
      status.pause = null;
      status.currentBatch = null;
      moveTo('failed', `failed${wrote ? ' after publishing' : '; production untouched'}: ${status.error}`);
    }
    // Cancellation must not stop the bookkeeping: the lease is released in a non-cancellable scope.
    if (!wrote) await CancellationScope.nonCancellable(() => metadata.releaseLease(spec, `failed: ${status.error}`)).catch(() => undefined);
    await condition(allHandlersFinished);
    throw e;
  }
  await condition(allHandlersFinished);
  return status;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
