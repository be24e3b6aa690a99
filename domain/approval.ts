/**
 * Who may do what, in which state. Each check returns a refusal message or null and never throws:
 * signal handlers record the message, update validators reject with it. Payloads arrive as
 * `unknown` (the Temporal UI's JSON form sends whatever was typed), so shapes are checked by hand
 * here rather than with zod, which must not run in the workflow sandbox. Every message names the
 * field and shows the JSON to send.
 */
import type { BackfillState } from '../contracts/status';

export interface ApprovalRules {
  approvers: readonly string[];
  /** Whether the owner (and whoever started the run) may approve it. */
  allowOwner: boolean;
  owner: string;
  startedBy: string;
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

/** A received value for a message; never throws (a payload built in code may not be JSON). */
function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Checks common to every request: an object with a non-blank `by` and text-or-absent optional fields. */
function shapeProblem(name: string, req: unknown, example: string, textFields: readonly string[]): string | null {
  if (!isPayload(req)) return `${name} needs a JSON object: send ${example}`;
  if (!isText(req.by)) return `${name} needs "by" (who is asking): send ${example}`;
  for (const field of textFields) {
    if (!isOptionalText(req[field])) return `${name} "${field}" must be text, got ${show(req[field])}: send ${example}`;
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
    return `cannot ${kind}: the backfill is ${state}, and ${kind} is possible only in awaiting_approval; ${whenApprovalOpens(state)}`;
  }
  const example = `{"by": "${rules.approvers[0] ?? 'finance-controller'}", "comment": "${kind === 'approve' ? 'checked the report' : 'why'}"}`;
  const shape = shapeProblem(kind, req, example, ['comment']);
  if (shape) return shape;
  const by = (req as Payload).by as string;
  if (!rules.approvers.some((a) => sameName(a, by))) {
    return `${kind} refused: "${by.trim()}" is not an approver; approvers are ${quoted(rules.approvers)}`;
  }
  if (!rules.allowOwner) {
    const role = sameName(rules.owner, by) ? 'owns' : sameName(rules.startedBy, by) ? 'started' : null;
    if (role) {
      const others = rules.approvers.filter((a) => !sameName(a, rules.owner) && !sameName(a, rules.startedBy));
      const ask = others.length ? `ask another approver (${quoted(others)})` : 'add another approver to approval.approvers';
      return `${kind} refused: "${by.trim()}" ${role} this backfill and may not decide on it; ${ask}, or set approval.allow_owner: true in the spec`;
    }
  }
  return null;
}

const RESOLVE_ACTIONS = ['retry', 'abort', 'accept'] as const;

/** Resolve a halt: retry the batch, abort the run, or accept the failed verdict (with a reason). */
export function resolveProblem(req: unknown, state: BackfillState): string | null {
  if (state !== 'halted') {
    return `cannot resolve: the backfill is ${state}; resolve applies only while it is halted on a failed batch`;
  }
  const example = (action: string) => `{"action": "${action}", "by": "your-name", "reason": "why"}`;
  if (!isPayload(req)) return `resolve needs a JSON object: send ${example('retry')}`;
  const action = req.action;
  if (typeof action !== 'string' || !(RESOLVE_ACTIONS as readonly string[]).includes(action)) {
    return `resolve needs "action" set to "retry", "abort" or "accept"${action === undefined ? '' : `, got ${show(action)}`}: send ${example('retry')}`;
  }
  const shape = shapeProblem('resolve', req, example(action), ['reason']);
  if (shape) return shape;
  if (action !== 'retry' && !isText(req.reason)) {
    return `resolve with "${action}" needs "reason" (it goes into the audit log): send ${example(action)}`;
  }
  return null;
}

/**
 * Roll back within the rollback window. Anyone named may: a rollback restores the trusted result,
 * the safe direction, and waiting for an approver would prolong a bad release.
 */
export function rollbackProblem(
  req: unknown,
  state: BackfillState,
  window: { expiresAtMs: number | null; signedOff: boolean },
  nowMs: number,
): string | null {
  if (state !== 'published') {
    return `cannot roll back: the backfill is ${state}; rollback is possible only while published, within the rollback window`;
  }
  if (window.signedOff) return 'cannot roll back: the release was signed off, which closed the rollback window';
  if (window.expiresAtMs === null) return 'cannot roll back: the rollback window is not open';
  if (nowMs >= window.expiresAtMs) {
    return `cannot roll back: the rollback window closed at ${new Date(window.expiresAtMs).toISOString()}`;
  }
  const example = '{"by": "your-name", "reason": "why"}';
  const shape = shapeProblem('rollback', req, example, ['reason']);
  if (shape) return shape;
  if (!isText((req as Payload).reason)) return `rollback needs "reason" (it goes into the audit log): send ${example}`;
  return null;
}

/** Sign off a published release: an approver, the owner, or whoever started the run. */
export function signoffProblem(req: unknown, state: BackfillState, rules: ApprovalRules): string | null {
  if (state !== 'published') {
    return `cannot sign off: the backfill is ${state}; sign-off is possible only while published, within the rollback window`;
  }
  const example = `{"by": "${rules.owner || 'your-name'}", "comment": "ok"}`;
  const shape = shapeProblem('signoff', req, example, ['comment']);
  if (shape) return shape;
  const by = (req as Payload).by as string;
  const allowed = [...rules.approvers, rules.owner, rules.startedBy].filter((n) => n.trim() !== '');
  if (!allowed.some((n) => sameName(n, by))) {
    const unique = allowed.filter((n, i) => allowed.findIndex((m) => sameName(m, n)) === i);
    return `signoff refused: "${by.trim()}" is not an approver, the owner or who started the run; ask one of ${quoted(unique)}`;
  }
  return null;
}

/** An operator pause needs a reason, shown in status while batches wait. */
export function pauseProblem(req: unknown): string | null {
  const example = '{"by": "your-name", "reason": "why"}';
  if (!isPayload(req)) return `pause needs a JSON object: send ${example}`;
  if (!isText(req.reason)) return `pause needs "reason" (shown in status while paused): send ${example}`;
  if (!isOptionalText(req.by)) return `pause "by" must be text, got ${show(req.by)}: send ${example}`;
  return null;
}

const MAX_CONCURRENCY = 64;

/** set_concurrency takes a whole number of partitions, 1..64 (execution.max_concurrency's range). */
export function concurrencyProblem(req: unknown): string | null {
  const example = '{"concurrency": 4, "by": "your-name", "reason": "why"}';
  if (!isPayload(req)) return `set_concurrency needs a JSON object: send ${example}`;
  const c = req.concurrency;
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > MAX_CONCURRENCY) {
    const got = c === undefined ? 'it is missing' : `got ${show(c)}`;
    return `set_concurrency needs "concurrency" as a whole number 1..${MAX_CONCURRENCY} (${got}): send ${example}`;
  }
  for (const field of ['by', 'reason']) {
    if (!isOptionalText(req[field])) return `set_concurrency "${field}" must be text, got ${show(req[field])}: send ${example}`;
  }
  return null;
}
