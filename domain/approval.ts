/**
 * Who may do what, in which state. Each check returns a refusal message or null and never throws:
 * signal handlers record the message, update validators reject with it. Payloads arrive as
 * `unknown` (the Temporal UI's JSON form sends whatever was typed), so shapes are checked by hand
 * here rather than with zod, which must not run in the workflow sandbox. Every message names the
 * field and shows the JSON to send. Every payload field is bounded (PAYLOAD_LIMITS), and a message
 * quotes a received value only as an excerpt, so a refusal stays small in history and status.
 */
import { excerpt, PAYLOAD_LIMITS, SPEC_LIMITS } from '../contracts/limits';
import type { BackfillState } from '../contracts/status';

export interface ApprovalRules {
  approvers: readonly string[];
  /** Whether the owner (and whoever started the run) may approve it, or accept a failed batch. */
  allowOwner: boolean;
  owner: string;
  startedBy: string;
  /** rollback.operators: who may roll back besides the approvers and the owner (on-call, data platform). */
  operators: readonly string[];
}

/** How names are compared: trimmed, case-insensitive. */
export function normalizeName(s: string): string {
  return s.trim().toLowerCase();
}

type Payload = Record<string, unknown>;

const isPayload = (req: unknown): req is Payload => typeof req === 'object' && req !== null && !Array.isArray(req);
const isText = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const isOptionalText = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';
const sameName = (a: string, b: string): boolean => normalizeName(a) === normalizeName(b);
const quoted = (names: readonly string[]): string => names.map((n) => `"${n}"`).join(', ');
/** Names listed once each, compared with normalizeName, blanks left out. */
const distinct = (names: readonly string[]): string[] =>
  names.filter((n, i) => n.trim() !== '' && names.findIndex((m) => sameName(m, n)) === i);

/** A received value for a message, as an excerpt; never throws (a payload built in code may not be JSON). */
function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return excerpt(text);
}

/** A received name for a message: trimmed, as an excerpt. */
const named = (by: string): string => excerpt(by.trim());

/** Fields and their bounds: who or what (names), and free text. */
const BOUNDS: Record<string, number> = {
  by: PAYLOAD_LIMITS.nameChars,
  run_id: PAYLOAD_LIMITS.nameChars,
  pipeline: PAYLOAD_LIMITS.nameChars,
  comment: PAYLOAD_LIMITS.textChars,
  reason: PAYLOAD_LIMITS.textChars,
};

/** An optional text field: absent, null or text within its bound. */
function optionalFieldProblem(name: string, req: Payload, field: string, example: string): string | null {
  const v = req[field];
  if (!isOptionalText(v)) return `${name} "${field}" must be text, got ${show(v)}: send ${example}`;
  return lengthProblem(name, field, v, example);
}

function lengthProblem(name: string, field: string, v: unknown, example: string): string | null {
  const max = BOUNDS[field];
  if (typeof v !== 'string' || max === undefined || v.length <= max) return null;
  return `${name} "${field}" is ${v.length} characters, more than the ${max} allowed (got ${show(v)}): send ${example}`;
}

/**
 * Checks common to every request: an object with a non-blank, bounded `by` and bounded text-or-absent
 * optional fields.
 */
function shapeProblem(name: string, req: unknown, example: string, textFields: readonly string[]): string | null {
  if (!isPayload(req)) return `${name} needs a JSON object: send ${example}`;
  if (!isText(req.by)) return `${name} needs "by" (who is asking): send ${example}`;
  const by = lengthProblem(name, 'by', req.by, example);
  if (by) return by;
  // Free text may arrive under either name (a decision keeps comment, else reason): both are bounded.
  for (const field of [...new Set([...textFields, 'comment', 'reason'])]) {
    const problem = optionalFieldProblem(name, req, field, example);
    if (problem) return problem;
  }
  return null;
}

/**
 * Who made a request, for audit entries and refusal lists: the payload's `by`, trimmed; an excerpt
 * when it is longer than PAYLOAD_LIMITS.nameChars; 'unknown' when absent, blank or not text.
 */
export function actorOf(req: unknown): string {
  const by = isPayload(req) ? req.by : undefined;
  if (!isText(by)) return 'unknown';
  const name = by.trim();
  return name.length <= PAYLOAD_LIMITS.nameChars ? name : excerpt(name);
}

/**
 * The four-eyes rule shared by approve, reject and resolve "accept": only a listed approver, and
 * neither the owner nor whoever started the run unless allowOwner (a second pair of eyes on
 * production data). `what` leads the refusal, `may` completes "… and may not …".
 */
function fourEyesProblem(what: string, may: string, by: string, rules: ApprovalRules): string | null {
  if (!rules.approvers.some((a) => sameName(a, by))) {
    const approvers = rules.approvers.length
      ? `approvers are ${quoted(rules.approvers)}`
      : 'the spec lists no approvers (approval.approvers)';
    return `${what} refused: "${named(by)}" is not an approver; ${approvers}`;
  }
  if (!rules.allowOwner) {
    const role = sameName(rules.owner, by) ? 'owns' : sameName(rules.startedBy, by) ? 'started' : null;
    if (role) {
      const others = rules.approvers.filter((a) => !sameName(a, rules.owner) && !sameName(a, rules.startedBy));
      const ask = others.length
        ? `ask another approver (${quoted(others)})`
        : 'add another approver to approval.approvers';
      return (
        `${what} refused: "${named(by)}" ${role} this backfill and may not ${may}; ` +
        `${ask}, or set approval.allow_owner: true in the spec`
      );
    }
  }
  return null;
}

function whenApprovalOpens(state: BackfillState): string {
  switch (state) {
    case 'planning':
    case 'preparing':
    case 'running':
    case 'paused':
      return 'approval opens once every batch has passed its checks';
    case 'halted':
      return 'a batch failed its checks; resolve the halt (retry, accept or abort) first';
    case 'publishing':
    case 'published':
    case 'rolled_back':
    case 'completed':
      return 'it was already approved';
    case 'failed':
      return 'the run has ended without publishing; start a new one';
    case 'awaiting_approval':
      return 'approval is open';
  }
}

/**
 * Approve or reject. Only listed approvers may decide either way; neither the owner nor whoever
 * started the run may decide unless allowOwner (a second pair of eyes on production data).
 */
export function decisionProblem(
  kind: 'approve' | 'reject',
  req: unknown,
  state: BackfillState,
  rules: ApprovalRules,
): string | null {
  if (state !== 'awaiting_approval') {
    return (
      `cannot ${kind}: the backfill is ${state}, and ${kind} is possible only in awaiting_approval; ` +
      `${whenApprovalOpens(state)}`
    );
  }
  const example =
    `{"by": "${rules.approvers[0] ?? 'finance-controller'}", ` +
    `"comment": "${kind === 'approve' ? 'checked the report' : 'why'}"}`;
  const shape = shapeProblem(kind, req, example, ['comment']);
  if (shape) return shape;
  return fourEyesProblem(kind, 'decide on it', (req as Payload).by as string, rules);
}

const RESOLVE_ACTIONS = ['retry', 'abort', 'accept'] as const;

/**
 * Resolve a halt: retry the batch, abort the run, or accept the failed verdict (with a reason).
 * Retry and abort are safe directions, open to anyone named; accept publishes what failed its
 * checks, so it follows the four-eyes rule of approve.
 */
export function resolveProblem(req: unknown, state: BackfillState, rules: ApprovalRules): string | null {
  if (state !== 'halted') {
    return `cannot resolve: the backfill is ${state}; resolve applies only while it is halted on a failed batch`;
  }
  const example = (action: string) =>
    `{"action": "${action}", ` +
    `"by": "${action === 'accept' ? (rules.approvers[0] ?? 'an-approver') : 'your-name'}", "reason": "why"}`;
  if (!isPayload(req)) return `resolve needs a JSON object: send ${example('retry')}`;
  const action = req.action;
  if (typeof action !== 'string' || !(RESOLVE_ACTIONS as readonly string[]).includes(action)) {
    return (
      `resolve needs "action" set to "retry", ` +
      `"abort" or "accept"${action === undefined ? '' : `, got ${show(action)}`}: send ${example('retry')}`
    );
  }
  const shape = shapeProblem('resolve', req, example(action), ['reason']);
  if (shape) return shape;
  if (action === 'accept') {
    const problem = fourEyesProblem('resolve "accept"', "accept this backfill's failed batch", req.by as string, rules);
    if (problem) return `${problem} (retry and abort are open to anyone named)`;
  }
  if (action !== 'retry' && !isText(req.reason)) {
    return `resolve with "${action}" needs "reason" (it goes into the audit log): send ${example(action)}`;
  }
  return null;
}

/**
 * Roll back within the rollback window: an approver, the owner or a listed operator
 * (rollback.operators, e.g. on-call). No four-eyes rule: a rollback restores the trusted result, the
 * safe direction, and waiting for a second person would prolong a bad release.
 */
export function rollbackProblem(
  req: unknown,
  state: BackfillState,
  window: { expiresAtMs: number | null; signedOff: boolean },
  nowMs: number,
  rules: ApprovalRules,
): string | null {
  if (state !== 'published') {
    return (
      `cannot roll back: the backfill is ${state}; rollback is possible only while published, ` +
      `within the rollback window`
    );
  }
  if (window.signedOff) return 'cannot roll back: the release was signed off, which closed the rollback window';
  if (window.expiresAtMs === null) return 'cannot roll back: the rollback window is not open';
  if (nowMs >= window.expiresAtMs) {
    return `cannot roll back: the rollback window closed at ${new Date(window.expiresAtMs).toISOString()}`;
  }
  const example = '{"by": "your-name", "reason": "why"}';
  const shape = shapeProblem('rollback', req, example, ['reason']);
  if (shape) return shape;
  const by = (req as Payload).by as string;
  const allowed = distinct([...rules.approvers, rules.owner, ...rules.operators]);
  if (!allowed.some((n) => sameName(n, by))) {
    return (
      `rollback refused: "${named(by)}" is not an approver, the owner or a rollback operator; ` +
      `ask one of ${quoted(allowed)} (rollback.operators lists who may roll back besides approvers and the owner)`
    );
  }
  if (!isText((req as Payload).reason)) return `rollback needs "reason" (it goes into the audit log): send ${example}`;
  return null;
}

/** Sign off a published release: an approver, the owner, or whoever started the run. */
export function signoffProblem(req: unknown, state: BackfillState, rules: ApprovalRules): string | null {
  if (state !== 'published') {
    return (
      `cannot sign off: the backfill is ${state}; sign-off is possible only while published, ` +
      `within the rollback window`
    );
  }
  const example = `{"by": "${rules.owner || 'your-name'}", "comment": "ok"}`;
  const shape = shapeProblem('signoff', req, example, ['comment']);
  if (shape) return shape;
  const by = (req as Payload).by as string;
  const allowed = distinct([...rules.approvers, rules.owner, rules.startedBy]);
  if (!allowed.some((n) => sameName(n, by))) {
    return (
      `signoff refused: "${named(by)}" is not an approver, the owner or who started the run; ` +
      `ask one of ${quoted(allowed)}`
    );
  }
  return null;
}

/** An operator pause needs a reason, shown in status while batches wait. */
export function pauseProblem(req: unknown): string | null {
  const example = '{"by": "your-name", "reason": "why"}';
  if (!isPayload(req)) return `pause needs a JSON object: send ${example}`;
  if (!isText(req.reason)) return `pause needs "reason" (shown in status while paused): send ${example}`;
  for (const field of ['reason', 'by']) {
    const problem = optionalFieldProblem('pause', req, field, example);
    if (problem) return problem;
  }
  return null;
}

/** Resume takes an optional, bounded "by" and "reason"; no payload at all is fine. */
export function resumeProblem(req: unknown): string | null {
  const example = '{"by": "your-name", "reason": "why"}';
  if (req === undefined || req === null) return null;
  if (!isPayload(req)) return `resume needs a JSON object: send ${example}`;
  for (const field of ['by', 'reason']) {
    const problem = optionalFieldProblem('resume', req, field, example);
    if (problem) return problem;
  }
  return null;
}

/**
 * live_pipeline_started / live_pipeline_finished: optional, bounded "run_id" and "pipeline". A
 * missing or blank run_id is the caller's "unnamed" run; no payload at all is such a run too, so a
 * pipeline that signals without input still pauses the backfill.
 */
export function livePipelineProblem(req: unknown): string | null {
  const example = '{"run_id": "nightly-2026-06-01", "pipeline": "revenue-daily"}';
  if (req === undefined || req === null) return null;
  if (!isPayload(req)) return `live_pipeline needs a JSON object: send ${example}`;
  for (const field of ['run_id', 'pipeline']) {
    const problem = optionalFieldProblem('live_pipeline', req, field, example);
    if (problem) return problem;
  }
  return null;
}

/**
 * set_concurrency takes a whole number of partitions, 1..SPEC_LIMITS.concurrency (execution.max_concurrency's
 * range).
 */
export function concurrencyProblem(req: unknown): string | null {
  const max = SPEC_LIMITS.concurrency;
  const example = '{"concurrency": 4, "by": "your-name", "reason": "why"}';
  if (!isPayload(req)) return `set_concurrency needs a JSON object: send ${example}`;
  const c = req.concurrency;
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > max) {
    const got = c === undefined ? 'it is missing' : `got ${show(c)}`;
    return `set_concurrency needs "concurrency" as a whole number 1..${max} (${got}): send ${example}`;
  }
  for (const field of ['by', 'reason']) {
    const problem = optionalFieldProblem('set_concurrency', req, field, example);
    if (problem) return problem;
  }
  return null;
}

/** States a cancel may stop: nothing has been published yet. */
export const CANCELLABLE_STATES: readonly BackfillState[] = [
  'planning', 'preparing', 'running', 'paused', 'halted', 'awaiting_approval',
];

/**
 * Cancel before publishing, by anyone named, with a reason (as abort): the run stops, production
 * is untouched and the lease released. Once publishing has started, rollback and signoff are the ways out.
 */
export function cancelProblem(req: unknown, state: BackfillState): string | null {
  if (!CANCELLABLE_STATES.includes(state)) {
    return `cannot cancel: the backfill is ${state}; ` +
      (['publishing', 'published'].includes(state)
        ? 'production is being or has been written: roll back within the window, or sign off'
        : 'it has already ended');
  }
  const example = '{"by": "your-name", "reason": "why"}';
  const shape = shapeProblem('cancel', req, example, ['reason']);
  if (shape) return shape;
  if (!isText((req as Payload).reason)) return `cancel needs "reason" (it goes into the audit log): send ${example}`;
  return null;
}

/** A signature as the worker checked it against its trusted keys file (activities/operator.ts verifyDecision). */
export type SignatureCheck = { ok: true; keyId: string; name: string } | { ok: false; problem: string };

/** What a decision must carry beyond who and why. */
export interface ProofRules {
  /** The digest of the state decided on; null when the state has none (nothing to decide on). */
  expected: string | null;
  /** approval.require_signature. */
  signatures: boolean;
  /** The worker's verdict on the signature; 'pending' before it is asked (everything else is judged). */
  checked?: SignatureCheck | 'pending';
  /** How to read the digest, for messages: the CLI command that shows it. */
  where: string;
}

const HEX_DIGEST = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Shape of a decision's proof fields: `digest` (64 hex), and with signatures `key_id` and
 * `signature` (base64), each bounded, so an oversized paste is refused before it is kept anywhere.
 */
export function proofShapeProblem(name: string, req: unknown, signatures: boolean): string | null {
  const r = (isPayload(req) ? req : {}) as Payload;
  const fields: Array<[string, number, RegExp, string]> = [
    ['digest', PAYLOAD_LIMITS.digestChars, HEX_DIGEST, '64 lower-case hex characters'],
    ['key_id', PAYLOAD_LIMITS.keyIdChars, /^[0-9a-f]+$/, 'hex characters'],
    ['signature', PAYLOAD_LIMITS.signatureChars, BASE64, 'base64'],
  ];
  for (const [field, max, pattern, what] of fields) {
    const v = r[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return `${name} "${field}" must be text, got ${show(v)}`;
    if (v.length > max) {
      return `${name} "${field}" is ${v.length} characters, more than the ${max} allowed (got ${show(v)})`;
    }
    if (!pattern.test(v)) return `${name} "${field}" must be ${what}, got ${show(v)}`;
  }
  if (signatures) {
    for (const field of ['key_id', 'signature']) {
      if (!isText(r[field])) {
        return (
          `${name} needs "${field}": this backfill requires signed decisions (approval.require_signature); ` +
          'sign it with the CLI\'s --key FILE ' +
          '(make a key with `backfill keygen` and have it listed in the worker\'s trusted keys file)'
        );
      }
    }
  }
  return null;
}

/**
 * Whether a decision decides on the state as it is now, and (with signatures) was signed by a
 * trusted key of the person named in `by`. A missing or stale digest is refused: the person
 * decided on something else, or on nothing they read.
 */
export function proofProblem(name: string, req: unknown, rules: ProofRules): string | null {
  const shape = proofShapeProblem(name, req, rules.signatures);
  if (shape) return shape;
  const r = req as Payload;
  if (rules.expected === null) return `${name} refused: there is no state to decide on right now`;
  if (!isText(r.digest)) {
    return (
      `${name} needs "digest": the digest of the state you decide on, shown by \`${rules.where}\` ` +
      `and in the Temporal UI's current details; read the report first, then send it with your decision`
    );
  }
  if (r.digest !== rules.expected) {
    return (
      `${name} refused: the state changed since you looked (you sent digest ${r.digest.slice(0, 12)}…, ` +
      `the state now has ${rules.expected.slice(0, 12)}…); read \`${rules.where}\` and the report again, ` +
      'and decide on what is there now'
    );
  }
  if (!rules.signatures || rules.checked === 'pending') return null;
  const checked = rules.checked;
  if (!checked) return `${name} refused: the signature was not checked by the worker; send it again`;
  if (!checked.ok) return `${name} refused: ${checked.problem}`;
  if (!sameName(checked.name, r.by as string)) {
    return (
      `${name} refused: key ${checked.keyId} belongs to "${checked.name}", not "${named(r.by as string)}"; ` +
      'sign with your own key'
    );
  }
  return null;
}
