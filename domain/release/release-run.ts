/**
 * The release workflow's state and rules, pure (the release's counterpart of domain/run): each
 * node's section as its workflow reports it, the one approval over every node's reconciliation, the
 * one publish, the rollback window and the signoff. The workflow only orchestrates and does I/O.
 */
import { BackfillError, type BackfillErrorType } from '../../contracts/errors';
import { excerpt, STATE_LIMITS } from '../../contracts/limits';
import type {
  GraphRecord, NodeStatus, NodeUpdate, ReleaseGraph, ReleaseInput, ReleaseStatus,
} from '../../contracts/release';
import type { BackfillState, Decision } from '../../contracts/status';
import { workflowIdFor } from '../../contracts/settings';
import {
  actorOf, cancelProblem, decisionProblem, proofProblem, rollbackProblem, signoffProblem,
  type ApprovalRules, type SignatureCheck,
} from '../approval';
import { canonicalJson, digestedDecision, sha256Hex, signedMessage } from '../decision-digest';
import { canMove } from '../lifecycle';
import { auditProof, decision, proofOf } from '../run/backfill-run';
import { codeJson } from '../run/progress';

export type ReleaseDoor = 'approve' | 'reject' | 'resolve' | 'rollback' | 'signoff' | 'cancel';

export interface ReleaseHandled {
  refused: string | null;
  audit: { actor: string; action: string; detail: Record<string, unknown> } | null;
  message: string;
}

export interface ReleaseEffects {
  stateChanged(state: BackfillState): void;
  detailsChanged(details: string): void;
}

const iso = (ms: number) => new Date(ms).toISOString();
/** 6008 → "6,008" (no Intl: the same text in the workflow sandbox and everywhere else). */
const thousands = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** The release's approval subject: every node's own approval digest, in topological order. */
export function releaseDigest(status: ReleaseStatus): string | null {
  let subject: Record<string, unknown> | null = null;
  if (status.state === 'awaiting_approval') {
    subject = {
      decides: 'release approval',
      release_id: status.releaseId,
      graph: status.graphHash,
      nodes: status.nodes.map((n) => ({ id: n.node, digest: n.digest, summary: n.summary })),
    };
  } else if (status.state === 'published') {
    subject = { decides: 'release', release_id: status.releaseId, record: status.record };
  }
  return subject === null ? null : sha256Hex(canonicalJson(subject));
}

/** The release's status as Markdown for the Temporal UI's current details: one section per node. */
export function releaseDetails(s: ReleaseStatus): string {
  const lines = [
    `## Release ${s.releaseId}: ${s.state}`,
    '',
    codeJson(s.phase),
    '',
  ];
  for (const n of s.nodes) {
    lines.push(`### ${n.node} (${n.target}, ${n.grain}): ${n.state}`);
    lines.push(`${n.phase}`);
    lines.push(`batches ${n.batches.done}/${n.batches.total}, partitions ${n.partitions.done}/${n.partitions.total}` +
      (n.upstream.length ? `; reads ${n.upstream.join(', ')}` : ''));
    if (n.halt) lines.push(`halted at batch ${n.halt.batch ?? 'completion check'}: ${codeJson(n.halt.reason)}`);
    if (n.summary) {
      const m = n.summary.measures.map((x) =>
        `${x.column} ${x.deltaPct === null ? 'n/a' : `${x.deltaPct >= 0 ? '+' : ''}${x.deltaPct.toFixed(3)}%`}` +
          `${x.withinExpected ? '' : ' (outside expected)'}`).join(', ');
      lines.push(`reconciled: ${n.summary.batches.passed} passed, ${n.summary.batches.accepted} accepted; rows ` +
        `${n.summary.rows.old} → ${n.summary.rows.new}; ${m}`);
    }
    if (n.error) lines.push(`error: ${n.error}`);
    lines.push('');
  }
  if (s.decisionDigest) lines.push(`decision digest \`${s.decisionDigest}\``);
  const r = s.lastRefusal;
  if (r) lines.push(`Last refused: ${r.request} from "${r.by}"${r.at ? ` at ${r.at}` : ''}: ${codeJson(r.reason)}`);
  return lines.join('\n');
}

export class ReleaseRun {
  readonly graph: ReleaseGraph;
  readonly status: ReleaseStatus;
  readonly rules: ApprovalRules;
  wake = 0;
  rollbackRequest: Decision | null = null;
  signoffRequest: Decision | null = null;
  cancelRequest: Decision | null = null;

  constructor(input: ReleaseInput, private readonly effects: ReleaseEffects) {
    const { graph } = input;
    this.graph = graph;
    const first = graph.nodes[0]!.spec;
    this.rules = {
      approvers: first.approval?.approvers ?? [],
      allowOwner: first.approval?.allow_owner ?? false,
      owner: graph.owner,
      startedBy: input.startedBy,
      operators: first.rollback.operators ?? [],
    };
    this.status = {
      kind: 'release',
      releaseId: graph.release_id,
      state: 'planning',
      phase: 'checking the graph: schema compatibility of every node, before any write',
      owner: graph.owner,
      startedBy: input.startedBy,
      graphHash: null,
      range: graph.source_range,
      nodes: graph.nodes.map((n): NodeStatus => ({
        node: n.id,
        backfillId: n.spec.backfill_id,
        workflowId: workflowIdFor(n.spec.backfill_id),
        target: n.spec.target.table,
        grain: n.spec.source_range.grain,
        upstream: n.upstream,
        state: 'planning',
        phase: 'not started',
        batches: { done: 0, total: 0 },
        partitions: { done: 0, total: 0 },
        halt: null,
        digest: null,
        summary: null,
        error: null,
      })),
      approval: {
        approvers: [...(first.approval?.approvers ?? [])],
        allowOwner: first.approval?.allow_owner ?? false,
        deadline: null,
        approved: null,
        rejected: null,
        refusals: [],
      },
      decisionDigest: null,
      signaturesRequired: first.approval?.require_signature ?? false,
      record: null,
      rollback: {
        windowMs: first.rollback.window,
        expiresAt: null,
        open: false,
        rolledBack: null,
        signedOff: null,
        cleanup: first.rollback.cleanup,
        cleanedUp: null,
      },
      lastRefusal: null,
      error: null,
      warnings: [],
    };
  }

  private get first() {
    return this.graph.nodes[0]!.spec;
  }

  moveTo(state: BackfillState, phase: string): void {
    if (state !== this.status.state) {
      if (!canMove(this.status.state, state)) throw new Error(`illegal transition ${this.status.state} -> ${state}`);
      this.status.state = state;
      this.effects.stateChanged(state);
    }
    this.setPhase(phase);
  }

  setPhase(phase: string): void {
    this.status.phase = phase;
    this.show();
  }

  show(): void {
    this.status.decisionDigest = releaseDigest(this.status);
    this.effects.detailsChanged(releaseDetails(this.status));
  }

  warn(w: string): void {
    const text = excerpt(w, STATE_LIMITS.messageChars);
    if (!this.status.warnings.includes(text) && this.status.warnings.length < STATE_LIMITS.warnings) {
      this.status.warnings.push(text);
    }
  }

  node(id: string): NodeStatus | undefined {
    return this.status.nodes.find((n) => n.node === id);
  }

  // ---- steps ----

  started(record: GraphRecord): void {
    this.status.graphHash = record.graphHash;
    this.status.record = record;
    this.moveTo('preparing', `graph ${record.graphHash} frozen; starting ${this.graph.nodes.length} node workflows`);
  }

  running(): void {
    this.moveTo('running', this.progressPhase());
  }

  /** A node's workflow reported a change (kept only for the nodes of this release). */
  nodeUpdated(u: NodeUpdate): void {
    const n = this.node(u.node);
    if (!n) return;
    // Signals may arrive out of order: a node's reconciliation is not undone by an older word.
    if (n.summary && n.state === 'awaiting_approval' && u.state !== 'failed') return;
    Object.assign(n, {
      state: u.state, phase: excerpt(u.phase, STATE_LIMITS.messageChars), batches: u.batches,
      partitions: u.partitions, halt: u.halt, digest: u.digest, summary: u.summary,
      error: u.error === null ? null : excerpt(u.error, STATE_LIMITS.messageChars),
    });
    if (this.status.state === 'running') this.setPhase(this.progressPhase());
    else this.show();
  }

  progressPhase(): string {
    const nodes = this.status.nodes;
    const done = nodes.filter((n) => n.state === 'awaiting_approval').length;
    const halted = nodes.filter((n) => n.state === 'halted').map((n) => n.node);
    return `running ${nodes.length} nodes in dependency order: ${done} reconciled` +
      (halted.length ? `; halted: ${halted.join(', ')} (resolve with backfill resolve <node backfill id>; ` +
        `the nodes that read it wait)` : '');
  }

  allReconciled(): boolean {
    return this.status.nodes.every((n) => n.state === 'awaiting_approval' && n.summary !== null);
  }

  awaitingApproval(nowMs: number): { deadlineMs: number } {
    const a = this.status.approval;
    a.deadline ??= iso(nowMs + (this.first.approval?.timeout ?? 7 * 86_400_000));
    this.moveTo(
      'awaiting_approval',
      `every node reconciled; awaiting one approval of the whole release from ${a.approvers.join(' or ')} until ` +
        `${a.deadline}. Send approve or reject with {"by": "...", "comment": "...", "digest": "..."} ` +
        `(the decision digest below).`,
    );
    return { deadlineMs: Date.parse(a.deadline) };
  }

  decided(): boolean {
    return this.status.approval.approved !== null || this.status.approval.rejected !== null;
  }

  approvalOutcome(): { approved: Decision } | { type: BackfillErrorType; message: string } {
    const a = this.status.approval;
    if (a.rejected) {
      return { type: BackfillError.Rejected, message: `rejected by ${a.rejected.by}; production is untouched.` };
    }
    if (a.approved) return { approved: a.approved };
    return {
      type: BackfillError.ApprovalExpired,
      message: `nobody approved within approval.timeout (deadline ${a.deadline}); production is untouched.`,
    };
  }

  publishing(): void {
    this.moveTo('publishing', `publishing ${this.graph.nodes.map((n) => n.spec.target.table).join(', ')} ` +
      `in one transaction`);
  }

  /** Every node's section follows the release once the nodes' own workflows have ended. */
  private nodesAre(state: BackfillState, phase: string): void {
    for (const n of this.status.nodes) Object.assign(n, { state, phase });
  }

  published(record: GraphRecord): void {
    this.status.record = record;
    for (const n of record.publish!.nodes) {
      const section = this.node(n.id);
      if (!section) continue;
      section.state = 'published';
      section.phase = `published with ${record.releaseId}: ${thousands(n.rowsDeleted)} rows replaced by ` +
        `${thousands(n.rowsInserted)}`;
    }
    this.status.rollback.expiresAt = record.publish!.rollbackExpiresAt;
    this.status.rollback.open = true;
    const rows = record.publish!.nodes
      .map((n) => `${n.id} ${thousands(n.rowsDeleted)}→${thousands(n.rowsInserted)} rows`)
      .join(', ');
    this.moveTo('published', `published ${record.releaseId} (${rows}); rollback window open until ` +
      `${this.status.rollback.expiresAt}`);
  }

  windowRequested(): boolean {
    return this.rollbackRequest !== null || this.signoffRequest !== null;
  }

  windowMsLeft(nowMs: number): number {
    return Math.max(1, Date.parse(this.status.rollback.expiresAt!) - nowMs);
  }

  rolledBack(r: Decision, record: GraphRecord): void {
    this.status.record = record;
    const rows = (record.rollback?.nodes ?? []).reduce((a, n) => a + n.rowsRestored, 0);
    this.status.rollback.rolledBack = { ...r, rowsRestored: rows };
    this.status.rollback.open = false;
    this.nodesAre('rolled_back', `rolled back with ${record.releaseId} by ${r.by}`);
    this.moveTo('rolled_back', `rolled back by ${r.by}: every node restored to the pre-publish result in one ` +
      `transaction; restore points and shadows kept for investigation`);
  }

  windowClosed(): string {
    this.status.rollback.open = false;
    const why = this.signoffRequest ? `signed off by ${this.signoffRequest.by}` : 'rollback window ended';
    this.setPhase(`${why}; releasing the leases`);
    return why;
  }

  awaitsSignoff(): boolean {
    if (this.signoffRequest || this.status.rollback.cleanup !== 'after_signoff') return false;
    this.setPhase('rollback window ended; waiting for signoff to drop the restore points and shadows');
    return true;
  }

  signedOff(record: GraphRecord): void {
    this.status.record = record;
    this.status.rollback.signedOff = this.signoffRequest;
    this.show();
  }

  cleanedUp(dropped: string[]): void {
    this.status.rollback.cleanedUp = dropped;
    this.nodesAre('completed', `completed with ${this.status.releaseId}`);
    this.moveTo('completed', `completed: ${this.status.releaseId}; dropped ${dropped.join(', ') || 'nothing'}`);
  }

  failed(error: string): { wrote: boolean } {
    this.status.error = excerpt(error, STATE_LIMITS.messageChars);
    // A failed publish wrote nothing: every node is replaced in one transaction, rolled back on failure.
    const wrote = ['published', 'rolled_back', 'completed'].includes(this.status.state);
    if (!['rolled_back', 'completed', 'failed'].includes(this.status.state)) {
      this.moveTo('failed', `failed${wrote ? ' after publishing' : '; production untouched'}: ${this.status.error}`);
    }
    return { wrote };
  }

  // ---- requests ----

  signatureToCheck(door: ReleaseDoor, req: unknown, nowMs: number) {
    const kind = digestedDecision(door, req);
    if (!this.status.signaturesRequired || kind === null) return null;
    if (this.problemOf(door, req, nowMs) !== null || this.proofProblemOf(door, req, 'pending') !== null) return null;
    const r = req as {
      by: string; key_id: string; signature: string; comment?: string; reason?: string; digest: string;
    };
    return {
      message: signedMessage({
        backfillId: this.status.releaseId, decision: kind, by: r.by, digest: r.digest,
        text: (door === 'rollback' ? r.reason ?? r.comment : r.comment ?? r.reason) ?? null,
      }),
      keyId: r.key_id,
      signature: r.signature,
    };
  }

  private proofProblemOf(door: ReleaseDoor, req: unknown, checked?: SignatureCheck | 'pending'): string | null {
    const kind = digestedDecision(door, req);
    if (kind === null) return null;
    return proofProblem(kind, req, {
      expected: releaseDigest(this.status),
      signatures: this.status.signaturesRequired,
      checked,
      where: `backfill status ${this.status.releaseId}`,
    });
  }

  private problemOf(door: ReleaseDoor, req: unknown, nowMs: number): string | null {
    const { state } = this.status;
    if (this.cancelRequest && door !== 'cancel') {
      return `${door} refused: the release was cancelled by ${this.cancelRequest.by} and is stopping`;
    }
    switch (door) {
      case 'approve':
      case 'reject': {
        const a = this.status.approval;
        const d = a.approved ?? a.rejected;
        if (d) return `${door} refused: the release was already ${a.approved ? 'approved' : 'rejected'} by ${d.by}`;
        return decisionProblem(door, req, state, this.rules);
      }
      case 'resolve':
        return 'resolve refused: a release has no halt of its own; resolve the halted node with ' +
          '`backfill resolve <node backfill id>` (its id is in this status, one section per node)';
      case 'rollback': {
        if (this.windowRequested()) return 'rollback refused: a rollback or signoff is already in progress';
        const expiresAtMs = this.status.rollback.expiresAt ? Date.parse(this.status.rollback.expiresAt) : null;
        return rollbackProblem(req, state, { expiresAtMs, signedOff: this.status.rollback.signedOff !== null },
          nowMs, this.rules);
      }
      case 'signoff':
        if (this.windowRequested()) return 'signoff refused: a rollback or signoff is already in progress';
        return signoffProblem(req, state, this.rules);
      case 'cancel':
        if (this.cancelRequest) return `cancel refused: already cancelled by ${this.cancelRequest.by}`;
        return cancelProblem(req, state);
    }
  }

  request(door: ReleaseDoor, req: unknown, via: 'signal' | 'update', nowMs: number, checked?: SignatureCheck):
    ReleaseHandled {
    const problem = this.problemOf(door, req, nowMs) ?? this.proofProblemOf(door, req, checked);
    const by = actorOf(req);
    if (problem !== null) {
      if (door === 'approve' || door === 'reject') {
        const refusals = this.status.approval.refusals;
        refusals.push({ by, reason: excerpt(problem, STATE_LIMITS.messageChars), at: iso(nowMs) });
        if (refusals.length > STATE_LIMITS.refusals) refusals.splice(0, refusals.length - STATE_LIMITS.refusals);
      }
      const reason = excerpt(problem, STATE_LIMITS.messageChars);
      this.status.lastRefusal = { request: door, by, reason, at: iso(nowMs) };
      this.show();
      const audit = { actor: by, action: `${door}_refused`, detail: { problem, via } };
      return { refused: problem, audit, message: problem };
    }
    this.wake++;
    // As a backfill's decisions are kept: who, the comment (or the reason), when, and the proof.
    const proof = digestedDecision(door, req) ? proofOf(req, checked) : {};
    const d: Decision = {
      ...decision(req, door === 'rollback' || door === 'cancel' ? 'reason' : 'comment', nowMs), ...proof,
    };
    const audited = auditProof(proof);
    switch (door) {
      case 'approve':
      case 'reject': {
        if (door === 'approve') this.status.approval.approved = d;
        else this.status.approval.rejected = d;
        const done = door === 'approve' ? 'approved' : 'rejected';
        this.show();
        return { refused: null, audit: { actor: d.by, action: done, detail: { comment: d.comment, ...audited } },
          message: `${done} by ${d.by}: the whole release` };
      }
      case 'rollback':
        this.rollbackRequest = d;
        return { refused: null, audit: null, message: `rollback requested by ${d.by}; every node is being restored` };
      case 'signoff':
        this.signoffRequest = d;
        return { refused: null, audit: null, message: `signed off by ${d.by}` };
      case 'cancel':
        this.cancelRequest = d;
        return { refused: null, audit: { actor: d.by, action: 'cancel_requested', detail: { reason: d.comment } },
          message: `cancelled by ${d.by}: every node stops; production is untouched and the leases released` };
      default:
        return { refused: 'unknown request', audit: null, message: 'unknown request' };
    }
  }
}
