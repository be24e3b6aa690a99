/**
 * What a decision decides on, as a digest. A person approves (or rejects, accepts a failed batch,
 * rolls back, signs off) the state they looked at; the workflow refuses the decision when the
 * state has moved since (a batch redone, another halt, another release), because the digest the
 * person sent no longer matches. With signatures, the signed message names the backfill, the
 * decision, who, the digest and the text, so a signature cannot be replayed onto another decision.
 *
 * Pure and deterministic: it runs in the workflow sandbox (SHA-256 from @noble/hashes, no Node
 * crypto), in the worker and in the CLI, which must all compute the same bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { BackfillCursor, BackfillStatus } from '../contracts/status';

/** The decisions that act on what a person looked at: they carry a digest (and, when required, a signature). */
export type DigestedDecision = 'approve' | 'reject' | 'accept' | 'rollback' | 'signoff';

/** How many hex characters a digest has (SHA-256). */
export const DIGEST_HEX = 64;

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/** The state behind the decision open in `status.state`, or null when no such decision is open. */
export function decisionSubject(status: BackfillStatus, cursor: BackfillCursor): Record<string, unknown> | null {
  switch (status.state) {
    case 'awaiting_approval':
      // The reconciliation summary the approver reads: batches, verdicts, measures, and the shadow itself.
      return {
        decides: 'approval',
        backfill_id: status.backfillId,
        range: status.range,
        partitions: status.partitions,
        batches: status.batches,
        verdicts: cursor.verdicts,
        rows: { old: cursor.cumulative.oldRows, new: cursor.cumulative.newRows },
        sums: { old: cursor.cumulative.oldSums, new: cursor.cumulative.newSums },
        shadow: cursor.shadowFingerprint ?? null,
      };
    case 'halted':
      // This halt (its batch, attempt, reason and when it happened): an accept applies to it only.
      return { decides: 'halt', backfill_id: status.backfillId, halt: status.halt, last_verdict: status.lastVerdict };
    case 'published':
      return { decides: 'release', backfill_id: status.backfillId, release: status.release };
    default:
      return null;
  }
}

/** The digest of the open decision's state, or null when none is open. */
export function decisionDigest(status: BackfillStatus, cursor: BackfillCursor): string | null {
  const subject = decisionSubject(status, cursor);
  return subject === null ? null : sha256Hex(canonicalJson(subject));
}

/** Which digested decision a request is, or null when it carries no digest (retry, abort, cancel). */
export function digestedDecision(door: string, req: unknown): DigestedDecision | null {
  if (door === 'approve' || door === 'reject' || door === 'rollback' || door === 'signoff') return door;
  if (door === 'resolve' && (req as { action?: unknown } | null)?.action === 'accept') return 'accept';
  return null;
}

export interface DecisionText {
  backfillId: string;
  decision: DigestedDecision;
  by: string;
  digest: string;
  /** The comment or reason, as sent (null when none). */
  text: string | null;
}

/**
 * The exact bytes a decision's signature covers: the backfill, the decision, who (trimmed and
 * lower-cased, as names are compared), the digest and the text. Versioned so it can change safely.
 */
export function signedMessage(d: DecisionText): string {
  return canonicalJson({
    v: 1,
    backfill_id: d.backfillId,
    decision: d.decision,
    by: d.by.trim().toLowerCase(),
    digest: d.digest,
    text: d.text ?? null,
  });
}

/** A key's id: the first 16 hex characters of the SHA-256 of its raw 32-byte public key. */
export function keyIdOf(publicKey: Uint8Array): string {
  return bytesToHex(sha256(publicKey)).slice(0, 16);
}
