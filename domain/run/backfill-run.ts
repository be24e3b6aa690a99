/**
 * One backfill run's state and every rule the workflow follows, as a plain class over plain-JSON
 * state (the pattern of samples-typescript's safe-message-handlers `ClusterManager`): which state
 * follows which, who may send what, what the gate waits for and in which order, how batches are
 * counted, what a halt offers, and the progress text. No Temporal import and no I/O: the workflow
 * (workflows/backfill-workflow.ts) registers handlers that call these methods, runs the phases,
 * performs the audit entries they return, and is the only place that talks to activities.
 * Time comes in as arguments, so the rules are tested in milliseconds without a server.
 */
import { excerpt, STATE_LIMITS } from '../../contracts/limits';
import { BackfillError, type BackfillErrorType } from '../../contracts/errors';
import type { NodeUpdate } from '../../contracts/release';
import type {
  BackfillCursor,
  BackfillInput,
  BackfillState,
  BackfillStatus,
  BatchesView,
  BatchSummary,
  Decision,
  IdempotencyProofInfo,
  PauseInfo,
  ReconciliationReport,
  ReleaseRecord,
  ResolveRequest,
} from '../../contracts/status';
import type { BatchOutcome, BatchRequest, CleanupResult, CompletionCheck, ResumePoint } from '../../contracts/run';
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
  cancelProblem,
  proofProblem,
  type ApprovalRules,
  type SignatureCheck,
} from '../approval';
import { decisionDigest, digestedDecision, signedMessage, type DecisionText } from '../decision-digest';
import { nextDue, type MonitorResult } from '../monitors';
import { canMove, inputProblems, isTerminal, PUBLISHED_STATES } from '../lifecycle';
import { batchPartitions, planShape, type PlanShape, type PlanSummary } from '../plan';
import { buildReport } from '../report';
import type { CumulativeTotals } from '../reconcile';
import { activePauseWindow, budgetDecision, chargeBudget, estimateFinish, utcDay } from '../throttle';
import { initialCursor } from './cursor';
import { currentDetails, measureMoves } from './progress';

/** What the workflow does when the run changes: keep the search attribute and the UI's details current. */
export interface RunEffects {
  stateChanged(state: BackfillState): void;
  detailsChanged(markdown: string): void;
}

/** An audit entry the workflow writes (through the recordAudit activity). */
export interface AuditEntry {
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

/** How a request was handled: refused with a message, or applied; and what to audit either way. */
export interface Handled {
  refused: string | null;
  audit: AuditEntry | null;
  /** For the update's acknowledgement. */
  message: string;
}

/** A way the run ends without publishing, as the workflow raises it. */
export interface RunFailure {
  type: BackfillErrorType;
  message: string;
}

/** The decisions offered both as a signal (the UI's form) and as an update (the CLI). */
export type Door = 'approve' | 'reject' | 'resolve' | 'rollback' | 'signoff' | 'cancel';

/** What the gate found before a batch: go, wait, or ask Temporal's visibility store first. */
export type GateCheck = { kind: 'clear' } | { kind: 'wait'; pause: PauseInfo } | { kind: 'ask'; query: string };

const silent: RunEffects = { stateChanged() {}, detailsChanged() {} };
/** States in which an operator pause means something: batches are still to start. */
const PAUSABLE_STATES: readonly BackfillState[] = ['planning', 'preparing', 'running', 'paused', 'halted'];
const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const liveRunOf = (e: unknown) => String((e as { run_id?: unknown } | null)?.run_id ?? '').trim() || 'unnamed';

/** Why an input cannot start a run (the client's parse should have caught it); empty when it can. */
export function runInputProblems(input: BackfillInput): string[] {
  const problems = inputProblems(input);
  if (problems.length) return problems;
  try {
    planShape(input.spec);
    return [];
  } catch (e) {
    return [(e as Error).message];
  }
}

export class BackfillRun {
  readonly spec: BackfillInput['spec'];
  readonly shape: PlanShape;
  /** Everything carried across continue-as-new. */
  readonly cursor: BackfillCursor;
  readonly rules: ApprovalRules;
  /** Bumped by every request a waiting phase may care about. */
  wake = 0;
  /** Requests that handlers set and phases consume (never across continue-as-new: see the workflow). */
  resolution: ResolveRequest | null = null;
  rollbackRequest: Decision | null = null;
  signoffRequest: Decision | null = null;
  /** Who cancelled and why; the workflow stops the run when it is set. */
  cancelRequest: Decision | null = null;
  /**
   * Whether decisions carry the digest of the state they decide on (and, with
   * approval.require_signature, a signature): set by the workflow for runs started by code that
   * checks them (a patch), so runs started before keep the rules they started with.
   */
  digestsRequired = false;

  constructor(input: BackfillInput, private readonly effects: RunEffects = silent) {
    this.spec = input.spec;
    this.shape = planShape(input.spec);
    this.cursor = input.cursor ?? initialCursor(input, this.shape);
    this.rules = {
      approvers: this.spec.approval?.approvers ?? [],
      allowOwner: this.spec.approval?.allow_owner ?? false,
      owner: this.spec.owner,
      startedBy: input.startedBy,
      operators: this.spec.rollback.operators ?? [],
    };
  }

  get status(): BackfillStatus {
    return this.cursor.status;
  }

  // ---- state, phase and progress: every change goes through here, so the details stay current ----

  moveTo(state: BackfillState, phase: string): void {
    const status = this.status;
    if (state !== status.state) {
      if (!canMove(status.state, state)) throw new Error(`illegal transition ${status.state} -> ${state}`);
      status.state = state;
      this.effects.stateChanged(state);
    }
    this.setPhase(phase);
  }

  setPhase(phase: string): void {
    this.status.phase = phase;
    this.show();
  }

  show(): void {
    if (this.digestsRequired) {
      this.status.decisionDigest = decisionDigest(this.status, this.cursor);
      this.status.signaturesRequired = this.signaturesRequired;
    }
    this.effects.detailsChanged(currentDetails(this.status));
  }

  get signaturesRequired(): boolean {
    return this.digestsRequired && (this.spec.approval?.require_signature ?? false);
  }

  /**
   * What the worker must verify before a decision applies: its signed text, key and signature,
   * when signatures are required and the request is otherwise acceptable; null otherwise (the
   * request is then refused or applied without asking the worker).
   */
  signatureToCheck(door: Door, req: unknown, nowMs: number): SignatureToCheck | null {
    const kind = digestedDecision(door, req);
    if (!this.signaturesRequired || kind === null) return null;
    if (this.problemOf(door, req, nowMs) !== null || this.proofProblemOf(door, req, 'pending') !== null) return null;
    const r = req as { key_id: string; signature: string };
    return {
      message: signedMessage(this.decisionText(door, req)),
      keyId: r.key_id,
      signature: r.signature,
    };
  }

  private decisionText(door: Door, req: unknown): DecisionText {
    const r = req as { by: string; comment?: string; reason?: string; digest: string };
    const text = door === 'approve' || door === 'reject' || door === 'signoff'
      ? r.comment ?? r.reason
      : r.reason ?? r.comment;
    return {
      backfillId: this.status.backfillId,
      decision: digestedDecision(door, req)!,
      by: r.by,
      digest: r.digest,
      text: text ?? null,
    };
  }

  /** The digest and signature checks of a decision, after who-and-when (problemOf) passed. */
  private proofProblemOf(door: Door, req: unknown, checked?: SignatureCheck | 'pending'): string | null {
    const kind = digestedDecision(door, req);
    if (!this.digestsRequired || kind === null) return null;
    return proofProblem(kind === 'accept' ? 'resolve "accept"' : kind, req, {
      expected: decisionDigest(this.status, this.cursor),
      signatures: this.signaturesRequired,
      checked,
      where: `backfill status ${this.status.backfillId}`,
    });
  }

  /**
   * The running total's word per measure, replaced after every batch (and gone when the total is
   * back inside the whole range's expectation), so it never crowds out the other warnings.
   */
  private runningTotals(summary: BatchSummary): void {
    const totals: Record<string, string> = {};
    for (const r of summary.runningTotal ?? []) {
      totals[r.measure] = excerpt(`running total of ${r.measure}: ${r.message}`, STATE_LIMITS.messageChars);
    }
    this.cursor.runningTotals = totals;
  }

  /** The approver's warnings: the run's own, then the running total's latest word per measure. */
  private warnings(): string[] {
    return [...this.cursor.warnings, ...Object.values(this.cursor.runningTotals ?? {})];
  }

  /** Warnings for the approver: distinct, bounded in number and length. */
  warn(w: string): void {
    const text = excerpt(w, STATE_LIMITS.messageChars);
    const warnings = this.cursor.warnings;
    if (!warnings.includes(text) && warnings.length < STATE_LIMITS.warnings) warnings.push(text);
  }

  // ---- queries ----

  statusView(nowMs: number): BackfillStatus {
    const status = this.status;
    const left = status.partitions.total - status.partitions.done;
    // While paused nobody knows when it resumes, and workflow time stands still: no ETA.
    // Only a running backfill has a finish to estimate (paused, halted or waiting for a person: none).
    const eta = status.state === 'running'
      ? isoOrNull(estimateFinish(nowMs, this.cursor.batchMs, this.cursor.batchPartitions, left))
      : null;
    return { ...status, eta };
  }

  batchesView(): BatchesView {
    return { total: this.status.batches.done, omitted: this.cursor.omittedBatches, items: this.cursor.recentBatches };
  }

  report(): ReconciliationReport {
    const { cumulative, verdicts } = this.cursor;
    return buildReport({ spec: this.spec, status: this.status, cumulative, verdicts, warnings: this.warnings() });
  }

  // ---- throttle requests ----

  pause(req: unknown, nowMs: number): Handled {
    const { state } = this.status;
    const problem = pauseProblem(req) ?? (PAUSABLE_STATES.includes(state) ? null :
      `pause refused: pausing stops batches from starting, and the backfill is ${state} ` +
      `(no batches left to hold${state === 'awaiting_approval' ? '; approve, reject or cancel it' : ''})`);
    if (problem) return this.refused('pause', actorOf(req), 'pause_refused', problem, nowMs);
    const r = req as { by?: string; reason: string };
    this.cursor.operatorPause = { by: r.by?.trim() || null, reason: r.reason.trim(), since: iso(nowMs) };
    this.wake++;
    return applied({ actor: r.by ?? 'operator', action: 'paused', detail: { reason: r.reason } }, 'paused');
  }

  resume(req: unknown): Handled {
    const problem = resumeProblem(req);
    if (problem) return this.refused('resume', actorOf(req), 'resume_refused', problem, null);
    if (!this.cursor.operatorPause) return applied(null, 'not paused by an operator');
    const r = req as { by?: string; reason?: string } | undefined;
    this.cursor.operatorPause = null;
    this.wake++;
    return applied(
      { actor: r?.by?.trim() || 'operator', action: 'resumed', detail: { reason: r?.reason ?? null } },
      'resumed',
    );
  }

  livePipelineStarted(e: unknown): Handled {
    const runs = this.cursor.liveRuns;
    const full = runs.length >= STATE_LIMITS.liveRuns && !runs.includes(liveRunOf(e));
    const problem = livePipelineProblem(e) ?? (full
      ? `live_pipeline_started refused: ${STATE_LIMITS.liveRuns} live runs are already open; ` +
        'send live_pipeline_finished for the ones that ended'
      : null);
    if (problem) return refusedAs('live_pipeline', 'live_pipeline_refused', problem);
    if (!runs.includes(liveRunOf(e))) runs.push(liveRunOf(e));
    this.wake++;
    return applied(null, 'live pipeline started');
  }

  livePipelineFinished(e: unknown): Handled {
    const problem = livePipelineProblem(e);
    if (problem) return refusedAs('live_pipeline', 'live_pipeline_refused', problem);
    this.cursor.liveRuns = this.cursor.liveRuns.filter((r) => r !== liveRunOf(e));
    this.wake++;
    return applied(null, 'live pipeline finished');
  }

  setConcurrency(req: unknown): Handled {
    const problem = concurrencyProblem(req);
    if (problem) return this.refused('set_concurrency', actorOf(req), 'concurrency_refused', problem, null);
    const r = req as { concurrency: number; by?: string; reason?: string };
    const before = this.status.concurrency;
    this.status.concurrency = r.concurrency;
    const detail = { from: before, to: r.concurrency, reason: r.reason ?? null };
    return applied(
      { actor: r.by ?? 'operator', action: 'concurrency_changed', detail },
      `concurrency ${r.concurrency}`,
    );
  }

  // ---- decisions: one rule for the signal and the update of the same name ----

  /**
   * A decision request. A refusal is recorded (approval refusals in status) and audited as
   * `<door>_refused` with the way it came (`via`); the workflow then fails the update with it. An
   * allowed request changes the run and returns its acknowledgement.
   */
  request(door: Door, req: unknown, via: 'signal' | 'update', nowMs: number, checked?: SignatureCheck): Handled {
    const problem = this.problemOf(door, req, nowMs) ?? this.proofProblemOf(door, req, checked);
    if (problem === null) return this.apply(door, req, nowMs, checked);
    const refusals = this.status.approval?.refusals;
    if ((door === 'approve' || door === 'reject') && refusals) {
      refusals.push({ by: actorOf(req), reason: excerpt(problem, STATE_LIMITS.messageChars), at: iso(nowMs) });
      if (refusals.length > STATE_LIMITS.refusals) refusals.splice(0, refusals.length - STATE_LIMITS.refusals);
    }
    this.noteRefusal(door, actorOf(req), problem, nowMs);
    return {
      refused: problem,
      audit: { actor: actorOf(req), action: `${door}_refused`, detail: { problem, via } },
      message: problem,
    };
  }

  /** A refused throttle request: kept as the latest refusal (shown in the UI), then audited. */
  private refused(request: string, actor: string, action: string, problem: string, nowMs: number | null): Handled {
    this.noteRefusal(request, actor, problem, nowMs);
    return refusedAs(actor, action, problem);
  }

  private noteRefusal(request: string, by: string, reason: string, nowMs: number | null): void {
    this.status.lastRefusal = {
      request, by, reason: excerpt(reason, STATE_LIMITS.messageChars), at: nowMs === null ? null : iso(nowMs),
    };
    this.show();
  }

  private problemOf(door: Door, req: unknown, nowMs: number): string | null {
    const { state } = this.status;
    if (this.cancelRequest && door !== 'cancel') {
      return `${door} refused: the backfill was cancelled by ${this.cancelRequest.by} and is stopping`;
    }
    switch (door) {
      case 'approve':
      case 'reject': {
        const a = this.status.approval;
        const d = a?.approved ?? a?.rejected;
        if (d) {
          return (
            `${door} refused: the backfill was already ${a?.approved ? 'approved' : 'rejected'} ` +
            `by ${d.by} at ${d.at}`
          );
        }
        return decisionProblem(door, req, state, this.rules);
      }
      case 'resolve': {
        if (this.resolution) return 'resolve refused: a decision for this halt is already being applied';
        // What the halt offers first: an accept of a structural failure is refused whoever sends it.
        const action = (req as Partial<ResolveRequest> | null)?.action;
        const options: string[] = this.status.halt?.options ?? [];
        const known = action === 'retry' || action === 'abort' || action === 'accept';
        if (state === 'halted' && known && !options.includes(action)) {
          return `resolve refused: "${action}" is not possible for this halt ` +
            `(${excerpt(this.status.halt?.reason ?? '', 300)}); send one of ${options.join(', ')}`;
        }
        return resolveProblem(req, state, this.rules);
      }
      case 'rollback': {
        const rollback = this.status.rollback;
        const window = {
          expiresAtMs: rollback.expiresAt ? Date.parse(rollback.expiresAt) : null,
          signedOff: rollback.signedOff !== null,
        };
        return this.windowBusy('rollback') ?? rollbackProblem(req, state, window, nowMs, this.rules);
      }
      case 'signoff':
        return this.windowBusy('signoff') ?? this.monitorBlock(nowMs) ?? signoffProblem(req, state, this.rules);
      case 'cancel':
        if (this.cancelRequest) return `cancel refused: already cancelled by ${this.cancelRequest.by}`;
        return cancelProblem(req, state);
    }
  }

  /** A monitor's latest evaluation breached while the window is open: no signoff until it passes. */
  private monitorBlock(nowMs: number): string | null {
    const breached = (this.status.monitors?.results ?? []).filter((r) => !r.ok);
    const expires = this.status.rollback.expiresAt ? Date.parse(this.status.rollback.expiresAt) : 0;
    if (!breached.length || this.status.state !== 'published' || nowMs >= expires) return null;
    const next = breached.map((r) => this.status.monitors!.next[r.name]).filter(Boolean).sort()[0];
    return (
      `signoff refused: ${breached.map((r) => `${r.message} (at ${r.at})`).join('; ')}; roll back, or wait until ` +
      `it passes again${next ? ` (next evaluation at ${next})` : ''}`
    );
  }

  private windowBusy(what: string): string | null {
    return this.rollbackRequest || this.signoffRequest
      ? `${what} refused: a rollback or signoff is already in progress`
      : null;
  }

  private apply(door: Door, req: unknown, nowMs: number, checked?: SignatureCheck): Handled {
    this.wake++;
    const proof = this.digestsRequired && digestedDecision(door, req) ? proofOf(req, checked) : {};
    switch (door) {
      case 'approve':
      case 'reject': {
        const d = { ...decision(req, 'comment', nowMs), ...proof };
        if (door === 'approve') this.status.approval!.approved = d;
        else this.status.approval!.rejected = d;
        const done = door === 'approve' ? 'approved' : 'rejected';
        const detail = { comment: d.comment, ...auditProof(proof) };
        return applied({ actor: d.by, action: done, detail }, `${done} by ${d.by}${signedBy(proof)}`);
      }
      case 'resolve': {
        const r = req as ResolveRequest;
        this.resolution = { action: r.action, by: r.by.trim(), reason: r.reason?.trim() };
        const detail = { batch: this.status.halt?.batch ?? null, reason: r.reason ?? null, ...auditProof(proof) };
        const message = `${r.action} accepted${signedBy(proof)}`;
        return applied({ actor: r.by, action: `resolve_${r.action}`, detail }, message);
      }
      case 'rollback':
        this.rollbackRequest = { ...decision(req, 'reason', nowMs), ...proof };
        return applied(
          null,
          `rollback requested by ${this.rollbackRequest.by}${signedBy(proof)}; ` +
            'the pre-publish result is being restored',
        );
      case 'signoff':
        this.signoffRequest = { ...decision(req, 'comment', nowMs), ...proof };
        return applied(null, `signed off by ${this.signoffRequest.by}${signedBy(proof)}`);
      case 'cancel': {
        const c = (this.cancelRequest = decision(req, 'reason', nowMs));
        return applied(
          { actor: c.by, action: 'cancel_requested', detail: { reason: c.comment, state: this.status.state } },
          `cancelled by ${c.by}: the run stops; production is untouched and the lease released`,
        );
      }
    }
  }

  // ---- runbook steps 0–3: plan, lease, restore point, shadow, idempotency proof ----

  planned(plan: PlanSummary): void {
    this.status.plan = plan;
    for (const w of plan.warnings ?? []) this.warn(w);
  }

  /** Picks up after the batches an earlier run checkpointed, then starts preparing. */
  resumeFrom(resumed: ResumePoint): void {
    const { cursor: s, status } = this;
    if (resumed.batchesDone > 0) {
      s.nextBatch = resumed.batchesDone;
      s.cumulative = resumed.cumulative;
      s.recentBatches = resumed.recent;
      s.omittedBatches = resumed.batchesDone - resumed.recent.length;
      status.batches.done = status.batches.resumed = resumed.batchesDone;
      status.partitions.done = resumed.partitionsDone;
      s.verdicts.passed = resumed.batchesDone;
    }
    if (resumed.stale > 0) {
      this.warn(`${resumed.stale} checkpoint(s) from another code version or transform were not reused`);
    }
    const note = resumed.batchesDone ? `; resuming after ${resumed.batchesDone} checkpointed batches` : '';
    this.moveTo('preparing', `preparing: taking the restore point ${this.spec.rollback.snapshot}${note}`);
  }

  preparingShadow(): void {
    this.setPhase(`preparing: creating the shadow ${this.spec.target.shadow_table}`);
  }

  proving(): string {
    const partition = this.status.plan!.representativePartition;
    this.setPhase(`preparing: proving idempotency on ${partition} (rewriting it twice)`);
    return partition;
  }

  proven(proof: IdempotencyProofInfo): void {
    this.status.proof = proof;
    if (proof.floatNoise?.length) {
      this.warn(
        `idempotency proof on ${proof.partition}: float sums differ between the two rewrites only by summation ` +
          `order (${proof.floatNoise.join('; ')}); they are compared within abs_tolerance. ` +
          'Store them as DECIMAL for exact comparisons.',
      );
    }
    this.cursor.setupDone = true;
  }

  // ---- runbook step 4, the gate: operator pause, live pipeline, pause windows, daily scan budget ----

  /** The plan's estimated bytes per partition: what the daily budget is charged. */
  bytesPerPartition(): number | null {
    const p = this.status.plan;
    return p?.totals.bytes && p.totals.partitions ? p.totals.bytes / p.totals.partitions : null;
  }

  private batchBytes(i: number): number {
    return (this.bytesPerPartition() ?? 0) * batchPartitions(this.spec, i, this.shape).length;
  }

  /** Why batch `i` may not start now, in the order operators expect: their own pause first. */
  gateCheck(i: number, nowMs: number, inFlight: readonly number[] = []): GateCheck {
    const { cursor: s, status, spec } = this;
    const since = status.pause?.since ?? iso(nowMs);
    const wait = (pause: Omit<PauseInfo, 'since'>): GateCheck => ({ kind: 'wait', pause: { ...pause, since } });
    if (s.operatorPause) {
      return wait({ kind: 'operator', reason: s.operatorPause.reason, by: s.operatorPause.by, until: null });
    }
    const live = spec.execution.pause_during_live_pipeline;
    if (live && spec.execution.live_pipeline?.signals !== false && s.liveRuns.length) {
      const reason = `live pipeline running (${s.liveRuns.join(', ')}); waiting for live_pipeline_finished`;
      return wait({ kind: 'live_pipeline', reason, by: null, until: null });
    }
    const window = activePauseWindow(nowMs, spec.execution.pause_windows);
    if (window) {
      const reason = `inside the pause window ${window.window.start}–${window.window.end} UTC`;
      return wait({ kind: 'pause_window', reason, by: null, until: iso(window.endsAtMs) });
    }
    // Batches in flight will be charged when they are reconciled: count them as spent already.
    const inFlightBytes = inFlight.reduce((a, j) => a + this.batchBytes(j), 0);
    const today = utcDay(nowMs);
    const spentToday = (status.budget.day === today ? status.budget.spentToday : 0) + inFlightBytes;
    const budgetBytes = spec.execution.daily_scan_budget;
    const budget = budgetDecision(budgetBytes, { day: today, spentToday }, nowMs, this.batchBytes(i));
    if (!budget.run) {
      return wait({ kind: 'scan_budget', reason: budget.reason, by: null, until: iso(budget.resumeAtMs) });
    }
    const query = spec.execution.live_pipeline?.visibility_query;
    if (live && query) {
      const poll = spec.execution.live_pipeline!.poll_interval;
      const cleared = s.lastVisibilityClear;
      const fresh = cleared !== null && nowMs - Date.parse(cleared) < poll && status.pause?.kind !== 'live_pipeline';
      if (!fresh) return { kind: 'ask', query };
    }
    return { kind: 'clear' };
  }

  /** What the visibility query answered: live runs hold the batch until the next poll. */
  visibilityAnswer(running: number, query: string, nowMs: number): GateCheck {
    if (running > 0) {
      const poll = this.spec.execution.live_pipeline!.poll_interval;
      const since = this.status.pause?.since ?? iso(nowMs);
      const reason = `${running} live pipeline run(s) match ${query}`;
      return { kind: 'wait', pause: { kind: 'live_pipeline', reason, by: null, since, until: iso(nowMs + poll) } };
    }
    this.cursor.lastVisibilityClear = iso(nowMs);
    return { kind: 'clear' };
  }

  /** The audit entry for a gate's answer: a new kind of wait, or the end of one. */
  yieldEntry(check: GateCheck): AuditEntry | null {
    const pause = this.status.pause;
    if (check.kind !== 'wait') {
      return pause
        ? { actor: 'workflow', action: 'yield_ended', detail: { kind: pause.kind, since: pause.since } }
        : null;
    }
    if (pause?.kind === check.pause.kind) return null;
    return {
      actor: check.pause.by ?? 'workflow',
      action: 'yielding',
      detail: { kind: check.pause.kind, reason: check.pause.reason },
    };
  }

  /** Applies the gate's answer; true when batch `i` must wait (then `waitMs` says how long, or on a request). */
  yieldTo(check: GateCheck, i: number): boolean {
    if (check.kind !== 'wait') {
      this.status.pause = null;
      return false;
    }
    this.status.pause = check.pause;
    this.moveTo('paused', `paused before batch ${i + 1}: ${check.pause.reason}`);
    return true;
  }

  /** How long a wait lasts before the gate looks again by itself; undefined: until a request. */
  waitMs(nowMs: number): number | undefined {
    const until = this.status.pause?.until;
    return until ? Math.max(1, Date.parse(until) - nowMs) : undefined;
  }

  // ---- runbook steps 4–5: batches, each reconciled; a failed check halts for an operator ----

  /** The next batch to run (a redo found by the completion check first), or null when all are done. */
  nextBatch(): { index: number; redo: boolean } | null {
    const s = this.cursor;
    if (s.redo.length > 0) return { index: s.redo[0]!, redo: true };
    return s.nextBatch < this.shape.batches ? { index: s.nextBatch, redo: false } : null;
  }

  /**
   * Batches after `i` whose rewrite may start now, ahead of their turn: set-based batches only (a
   * partition-mode batch spreads its own partitions over the lanes), never during a redo, at most
   * `concurrency` rewrites in flight or waiting for their turn (`ahead`, plus `i` while its own
   * rewrite runs), each through a clear gate (a visibility query to ask, a pause or a spent budget
   * stops the lookahead; batch `i` and those ahead count as spent until they are charged). They are
   * still reconciled and checkpointed in order.
   */
  aheadOf(i: number, ahead: readonly number[], nowMs: number, ownRewriteRunning = true): BatchRequest[] {
    const s = this.cursor;
    if (this.status.proof?.batchMode?.mode !== 'range' || s.redo.length > 0 || i !== s.nextBatch) return [];
    const out: BatchRequest[] = [];
    const busy = [...ahead];
    const slots = this.status.concurrency - (ownRewriteRunning ? 1 : 0);
    for (let j = i + 1; j < this.shape.batches && busy.length < slots; j++) {
      if (busy.includes(j)) continue;
      if (this.gateCheck(j, nowMs, [i, ...busy]).kind !== 'clear') break;
      busy.push(j);
      out.push(this.batchRequest(j, 1, null));
    }
    return out;
  }

  private batchRequest(i: number, attempt: number, cumulativeBefore: CumulativeTotals | null): BatchRequest {
    return {
      batchIndex: i,
      cumulativeBefore,
      concurrency: this.status.concurrency,
      attempt,
      bytesPerPartition: this.bytesPerPartition(),
      mode: this.status.proof?.batchMode?.mode ?? 'partition',
    };
  }

  batchStarted(i: number, attempt: number, redo: boolean): BatchRequest {
    const parts = batchPartitions(this.spec, i, this.shape);
    const first = parts[0]!.start;
    const last = parts[parts.length - 1]!.start;
    const again = redo ? ', again after the completion check' : '';
    this.moveTo('running', `running batch ${i + 1} of ${this.shape.batches} (${first}..${last})${again}`);
    this.status.currentBatch = { index: i, first, last, attempt };
    return this.batchRequest(i, attempt, redo ? null : this.cursor.cumulative);
  }

  /** Counts a reconciled batch: the budget it scanned, its verdict, its pace; returns its summary. */
  batchReconciled(i: number, outcome: BatchOutcome, redo: boolean, elapsedMs: number, nowMs: number): BatchSummary {
    const { cursor: s, status } = this;
    const bytes = this.batchBytes(i);
    const budget = chargeBudget({ day: status.budget.day, spentToday: status.budget.spentToday }, nowMs, bytes);
    const left = status.budget.dailyBytes === null ? null : Math.max(0, status.budget.dailyBytes - budget.spentToday);
    status.budget = { ...status.budget, ...budget, left };
    const summary = { ...outcome.summary, bytesScanned: bytes };
    s.recentBatches.push(summary);
    if (s.recentBatches.length > STATE_LIMITS.recentBatches) {
      s.recentBatches.shift();
      s.omittedBatches++;
    }
    status.lastVerdict = summary;
    for (const w of summary.warnings) this.warn(w);
    this.runningTotals(summary);
    if (summary.verdict === 'passed') {
      s.verdicts.passed++;
      s.batchMs += elapsedMs;
      s.batchPartitions += summary.partitions;
      if (!redo) s.cumulative = outcome.cumulative;
    } else {
      s.verdicts.failed++;
    }
    this.show();
    return summary;
  }

  /** A person accepted the failed verdict of batch `i` (only aggregate checks failed). */
  batchAccepted(i: number, r: ResolveRequest, outcome: BatchOutcome, summary: BatchSummary, redo: boolean): void {
    this.cursor.verdicts.accepted++;
    summary.verdict = 'accepted';
    if (!redo) this.cursor.cumulative = outcome.cumulative;
    this.moveTo('running', `batch ${i + 1} accepted by ${r.by}: ${r.reason ?? ''}`);
  }

  batchDone(i: number, redo: boolean, nowMs: number): void {
    const { cursor: s, status } = this;
    status.currentBatch = null;
    if (redo) s.redo.shift();
    else s.nextBatch++;
    status.batches.done++;
    status.partitions.done += batchPartitions(this.spec, i, this.shape).length;
    const left = status.partitions.total - status.partitions.done;
    status.eta = isoOrNull(estimateFinish(nowMs, s.batchMs, s.batchPartitions, left));
    this.show();
  }

  // ---- halts ----

  haltOnBatchError(i: number, error: string, nowMs: number): void {
    this.halt(i, `the batch could not run: ${error}`, [error], false, nowMs);
  }

  /** Only aggregate checks may be accepted: a structural failure would lose or duplicate rows. */
  haltOnVerdict(i: number, summary: BatchSummary, nowMs: number): void {
    const why = `reconciliation failed: ${summary.failures[0] ?? 'a check failed'}`;
    this.halt(i, why, summary.failures, summary.acceptable === true, nowMs);
  }

  haltOnCompletion(check: CompletionCheck, nowMs: number): void {
    // Every batch in place, but the whole range outside a measure's expected_delta: aggregate, so an
    // approver may accept it (the approval then decides on it); anything missing can only be redone.
    if (check.complete && check.failures?.length) {
      this.halt(null, `completion check: ${check.failures[0]}`, check.failures, true, nowMs);
      return;
    }
    this.halt(null, `completion check: ${check.problems[0]}`, check.problems, false, nowMs);
  }

  /** Halts at batch index `i` (null: the completion check) until an operator resolves it. */
  private halt(i: number | null, why: string, failures: string[], canAccept: boolean, nowMs: number): void {
    const reason = excerpt(why, STATE_LIMITS.messageChars);
    this.status.halt = {
      batch: i === null ? null : i + 1,
      reason,
      failures: failures.slice(0, 10).map((f) => excerpt(f, STATE_LIMITS.messageChars)),
      since: iso(nowMs),
      options: canAccept ? ['retry', 'abort', 'accept'] : ['retry', 'abort'],
    };
    this.resolution = null;
    const where = i === null ? 'at the completion check' : `at batch ${i + 1}`;
    const offer = `send resolve with retry, abort${canAccept ? ' or accept' : ''}`;
    this.moveTo('halted', `halted ${where}: ${reason}. Production is untouched; ${offer}.`);
  }

  /** The operator's answer to the halt, which it ends; null while none came. */
  takeResolution(): ResolveRequest | null {
    const r = this.resolution;
    if (!r) return null;
    this.resolution = null;
    this.status.halt = null;
    this.show();
    return r;
  }

  /** An abort ends the run: where it happened (batch index, or null at the completion check). */
  /** The failure a cancelled run ends with (see cancelRequest). */
  cancelled(): RunFailure {
    const c = this.cancelRequest!;
    return { type: BackfillError.Aborted, message: `cancelled by ${c.by}: ${c.comment ?? ''}` };
  }

  aborted(r: ResolveRequest, i: number | null): RunFailure {
    const where = i === null ? 'at the completion check' : `at batch ${i + 1}`;
    return { type: BackfillError.Aborted, message: `aborted by ${r.by} ${where}: ${r.reason ?? ''}` };
  }

  verifying(): void {
    this.setPhase('verifying: every planned partition checkpointed and present in the shadow');
  }

  /**
   * An approver accepted the whole range outside an expectation at the completion check: the run
   * goes on to approval, and the approver there is warned of it.
   */
  completionAccepted(r: ResolveRequest, check: CompletionCheck): void {
    this.warn(`accepted at the completion check by ${r.by} (${r.reason ?? ''}): ${check.failures?.join('; ') ?? ''}`);
    this.moveTo('running', `completion check accepted by ${r.by}`);
    this.verified(check);
  }

  /** The completion check passed: the shadow's fingerprint is part of what the approver decides on. */
  verified(check: CompletionCheck): void {
    this.cursor.shadowFingerprint = check.shadow ?? null;
  }

  /** The completion check found batches incomplete: they run again before approval. */
  redoBatches(missing: number[]): void {
    const { cursor: s, status } = this;
    s.redo = missing;
    status.batches.done -= missing.length;
    status.partitions.done -= missing.reduce((a, b) => a + batchPartitions(this.spec, b, this.shape).length, 0);
    this.show();
  }

  // ---- runbook step 6: a person approves the reconciled shadow; one atomic publish ----

  /** Starts (or, after continue-as-new, resumes) the wait for a decision; returns its deadline. */
  awaitingApproval(nowMs: number): { deadlineMs: number } | RunFailure {
    const a = this.status.approval;
    if (!a || !this.spec.approval) {
      return {
        type: BackfillError.SpecNotRunnable,
        message: 'approval: the spec names no approvers; add approval.approvers before running.',
      };
    }
    a.deadline ??= iso(nowMs + this.spec.approval.timeout);
    const moved = measureMoves(this.report().measures);
    const send = this.digestsRequired
      ? 'Send approve or reject with {"by": "...", "comment": "...", "digest": "..."} (the decision digest below).'
      : 'Send approve or reject with {"by": "...", "comment": "..."}.';
    this.moveTo(
      'awaiting_approval',
      `awaiting approval from ${a.approvers.join(' or ')} until ${a.deadline}: ${moved}. ${send}`,
    );
    return { deadlineMs: Date.parse(a.deadline) };
  }

  // ---- a release graph's node: the release approves and publishes (workflows/release-workflow.ts) ----

  /** Bumped when an upstream node reports a batch that passed: the wait for its partitions looks again. */
  upstreamWake = 0;

  /** Batches wait for the upstream partitions they read. */
  waitingForUpstream(what: string): void {
    this.setPhase(`waiting for upstream partitions: ${what}`);
  }

  /** Every batch reconciled and the completion check passed: the release takes over from here. */
  reconciledForRelease(releaseId: string): void {
    this.moveTo(
      'awaiting_approval',
      `reconciled; release ${releaseId} approves and publishes it with the other nodes ` +
        `(backfill status ${releaseId})`,
    );
  }

  /** What the release workflow is told about this node. */
  nodeUpdate(node: string, summary: boolean): NodeUpdate {
    const s = this.status;
    const report = summary ? this.report() : null;
    return {
      node,
      state: s.state,
      phase: s.phase,
      batches: { done: s.batches.done, total: s.batches.total },
      partitions: { ...s.partitions },
      halt: s.halt ? { batch: s.halt.batch, reason: s.halt.reason } : null,
      digest: s.state === 'awaiting_approval' ? s.decisionDigest ?? null : null,
      summary: report && {
        batches: report.batches,
        partitions: report.partitions.done,
        rows: report.rows,
        measures: report.measures.map((m) => ({
          column: m.column, oldSum: m.oldSum, newSum: m.newSum, deltaPct: m.deltaPct, withinExpected: m.withinExpected,
        })),
        warnings: report.warnings,
      },
      error: s.error,
    };
  }

  decided(): boolean {
    const a = this.status.approval;
    return a !== null && (a.approved !== null || a.rejected !== null);
  }

  /** The approval to publish with, or why nothing is published. */
  approvalOutcome(): { approved: Decision } | RunFailure {
    const a = this.status.approval!;
    if (a.rejected) {
      const comment = a.rejected.comment ? `: ${a.rejected.comment}` : '';
      return {
        type: BackfillError.Rejected,
        message: `rejected by ${a.rejected.by}${comment}; production is untouched.`,
      };
    }
    if (a.approved) return { approved: a.approved };
    return {
      type: BackfillError.ApprovalExpired,
      message:
        `nobody approved within approval.timeout (deadline ${a.deadline}); production is untouched. ` +
        `Start a new run to try again.`,
    };
  }

  publishing(): void {
    const { spec } = this;
    this.moveTo(
      'publishing',
      `publishing ${spec.source_range.start}..${spec.source_range.end} into ${spec.target.table} ` +
        `(${spec.publish.mode}) in one transaction`,
    );
  }

  published(release: ReleaseRecord): void {
    const { status } = this;
    status.release = release;
    status.rollback.expiresAt = release.rollbackExpiresAt;
    status.rollback.open = true;
    this.moveTo(
      'published',
      `published as ${release.releaseId}; rollback window open until ${status.rollback.expiresAt}`,
    );
  }

  // ---- runbook step 7: the rollback window ----

  windowRequested(): boolean {
    return this.rollbackRequest !== null || this.signoffRequest !== null;
  }

  /** Whether the rollback window is still open at `nowMs`. */
  windowOpen(nowMs: number): boolean {
    return nowMs < Date.parse(this.status.release!.rollbackExpiresAt);
  }

  /** The monitors due at `nowMs` (all of them before the first evaluation). */
  dueMonitors(nowMs: number): string[] {
    const next = this.status.monitors?.next ?? {};
    return (this.spec.rollback.monitors ?? [])
      .filter((m) => next[m.name] === undefined || Date.parse(next[m.name]!) <= nowMs)
      .map((m) => m.name);
  }

  /** Milliseconds until the next monitor is due, or until the window closes if sooner (at least 1). */
  monitorWaitMs(nowMs: number): number {
    const dues = Object.values(this.status.monitors?.next ?? {}).map((t) => Date.parse(t));
    return Math.max(1, Math.min(Date.parse(this.status.release!.rollbackExpiresAt), ...dues) - nowMs);
  }

  /**
   * Keeps the monitors' latest results and next due times; returns the audit entries (a breach, or a
   * monitor passing again after one) and, for a breach of a monitor with on_breach: rollback, asks
   * for the rollback itself.
   */
  monitorsEvaluated(results: MonitorResult[], nowMs: number): AuditEntry[] {
    const previous = new Map((this.status.monitors?.results ?? []).map((r) => [r.name, r]));
    const latest = new Map(previous);
    for (const r of results) latest.set(r.name, r);
    const monitors = this.spec.rollback.monitors ?? [];
    const specs = monitors.filter((m) => results.some((r) => r.name === m.name));
    this.status.monitors = {
      results: monitors.flatMap((m) => (latest.has(m.name) ? [latest.get(m.name)!] : [])),
      next: { ...(this.status.monitors?.next ?? {}), ...nextDue(specs, nowMs) },
    };
    const entries: AuditEntry[] = [];
    for (const r of results) {
      const was = previous.get(r.name);
      if (!r.ok) {
        this.warn(r.message);
        const detail = { monitor: r.name, value: r.value, message: r.message };
        entries.push({ actor: 'workflow', action: 'monitor_breached', detail });
      } else if (was && !was.ok) {
        entries.push({ actor: 'workflow', action: 'monitor_passed', detail: { monitor: r.name, value: r.value } });
      }
    }
    const trigger = results.find((r) => !r.ok && r.onBreach === 'rollback');
    if (trigger && !this.windowRequested() && this.windowOpen(nowMs)) {
      const comment = `monitor ${trigger.message} (on_breach: rollback)`;
      this.rollbackRequest = { by: 'workflow', comment, at: iso(nowMs) };
      const detail = { monitor: trigger.name, reason: trigger.message };
      entries.push({ actor: 'workflow', action: 'rollback_requested', detail });
      this.wake++;
    }
    this.show();
    return entries;
  }

  /** Time left in the rollback window (at least 1 ms, so a timer is armed). */
  windowMsLeft(nowMs: number): number {
    return Math.max(1, Date.parse(this.status.release!.rollbackExpiresAt) - nowMs);
  }

  rollingBack(): Decision {
    const r = this.rollbackRequest!;
    this.setPhase(
      `rolling back ${this.status.release!.releaseId}: restoring ${this.spec.rollback.snapshot} over the range`,
    );
    return r;
  }

  /** A refused rollback wrote nothing: the release stays published and the window open. */
  rollbackRefused(r: Decision, problem: string): AuditEntry {
    this.rollbackRequest = null;
    this.warn(`rollback requested by ${r.by} was refused: ${problem}`);
    const release = this.status.release!;
    this.moveTo('published', `published as ${release.releaseId}; a rollback was refused (${problem}); ` +
      `window open until ${this.status.rollback.expiresAt}`);
    return { actor: r.by, action: 'rollback_refused', detail: { problem } };
  }

  rolledBack(r: Decision, result: { release: ReleaseRecord; rowsRestored: number }): void {
    this.status.release = result.release;
    this.status.rollback.rolledBack = { ...r, rowsRestored: result.rowsRestored };
    this.status.rollback.open = false;
    this.show();
  }

  rollbackFinished(r: Decision): void {
    this.moveTo('rolled_back', `rolled back by ${r.by}: production restored to the pre-publish result; ` +
      `${this.spec.rollback.snapshot} and ${this.spec.target.shadow_table} kept for investigation`);
  }

  /** The window closed (signoff or time); returns why, for the lease's release. */
  windowClosed(): string {
    this.status.rollback.open = false;
    // Said at once, so nobody reads "window open" from a status whose window is closed.
    const why = this.signoffRequest ? `signed off by ${this.signoffRequest.by}` : 'rollback window ended';
    this.setPhase(`${why}; releasing the lease on ${this.spec.target.table}`);
    return this.signoffRequest ? 'signed off' : 'rollback window ended';
  }

  /** Whether cleanup must wait for a signoff that has not come (rollback.cleanup: after_signoff). */
  awaitsSignoff(): boolean {
    if (this.signoffRequest || this.spec.rollback.cleanup !== 'after_signoff') return false;
    this.setPhase(
      `rollback window ended; waiting for signoff to drop ${this.spec.rollback.snapshot} ` +
        `and ${this.spec.target.shadow_table}`,
    );
    return true;
  }

  signedOff(release: ReleaseRecord): void {
    this.status.release = release;
    this.status.rollback.signedOff = this.signoffRequest;
    this.show();
  }

  cleanupReason(): string {
    return this.signoffRequest ? `signed off by ${this.signoffRequest.by}` : 'rollback window ended';
  }

  cleanedUp(cleanup: CleanupResult): void {
    const { status } = this;
    status.rollback.cleanedUp = cleanup.dropped;
    status.rollback.kept = cleanup.kept;
    for (const k of cleanup.kept) this.warn(`kept ${k.table}: ${k.why}`);
    const kept = cleanup.kept.length ? `; kept ${cleanup.kept.map((k) => k.table).join(', ')} (see warnings)` : '';
    const how = this.signoffRequest ? `signed off by ${this.signoffRequest.by}` : 'kept after the rollback window';
    this.moveTo('completed', `completed: ${status.release!.releaseId} ${how}; ` +
      `dropped ${cleanup.dropped.join(', ') || 'nothing'}${kept}`);
  }

  // ---- endings ----

  /** The run stopped on an error; returns whether production may have been written (no lease release then). */
  failed(error: string): { wrote: boolean } {
    const { status } = this;
    status.error = error;
    const wrote = PUBLISHED_STATES.includes(status.state);
    if (!isTerminal(status.state)) {
      status.halt = null;
      status.pause = null;
      status.currentBatch = null;
      this.moveTo('failed', `failed${wrote ? ' after publishing' : '; production untouched'}: ${error}`);
    }
    return { wrote };
  }

  /** The cursor the next run starts from. */
  continuing(): BackfillCursor {
    this.status.continuedAsNew++;
    return this.cursor;
  }
}

function applied(audit: AuditEntry | null, message: string): Handled {
  return { refused: null, audit, message };
}

function refusedAs(actor: string, action: string, problem: string): Handled {
  return { refused: problem, audit: { actor, action, detail: { problem } }, message: problem };
}

/** What the worker verifies for a signed decision. */
export interface SignatureToCheck {
  /** The exact text signed (domain/decision-digest.ts signedMessage). */
  message: string;
  keyId: string;
  signature: string;
}

type Proof = Pick<Decision, 'digest' | 'keyId' | 'signature'>;

/** A decision's digest and, when checked, its key and signature. */
export function proofOf(req: unknown, checked?: SignatureCheck): Proof {
  const r = req as { digest?: string; signature?: string };
  const signed = checked?.ok === true;
  return {
    digest: r.digest ?? null,
    keyId: signed ? checked.keyId : null,
    signature: signed ? (r.signature ?? null) : null,
  };
}

/** The proof as audit detail: snake_case like every detail, left out when there is none. */
export function auditProof(p: Proof): Record<string, unknown> {
  if (p.digest === undefined) return {};
  return { digest: p.digest, key_id: p.keyId ?? null, signature: p.signature ?? null };
}

const signedBy = (p: Proof): string => (p.keyId ? ` (signed with key ${p.keyId})` : '');

/** A decision with its text: the comment, or the reason for a rollback (which requires one). */
export function decision(req: unknown, text: 'comment' | 'reason', nowMs: number): Decision {
  const r = req as { by: string; comment?: string; reason?: string };
  return {
    by: r.by.trim(),
    comment: (text === 'reason' ? r.reason ?? r.comment : r.comment ?? r.reason) ?? null,
    at: iso(nowMs),
  };
}
