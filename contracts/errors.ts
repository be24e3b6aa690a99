/**
 * The one error vocabulary. Each value is used as an ApplicationFailure type, in the worker's
 * nonRetryableErrorTypes, and as the `code` of a BackfillFailure thrown outside workflows.
 * Kept dependency-free so workflow, activities, client and tests all import the same strings.
 */
export const BackfillError = {
  /** The spec (YAML or object) does not validate; the message names the YAML path. */
  InvalidSpec: 'BackfillInvalidSpec',
  /** The spec validates but lacks something a run needs (e.g. transform). */
  SpecNotRunnable: 'BackfillSpecNotRunnable',
  /** An identifier is not a plain, safe name. */
  InvalidIdentifier: 'BackfillInvalidIdentifier',
  /** A configuration file or environment variable is wrong. */
  InvalidConfig: 'BackfillInvalidConfig',
  /** Another backfill holds the target table's lease. */
  TargetLeased: 'BackfillTargetLeased',
  /** A table the spec names does not exist or lacks a named column. */
  MissingObject: 'BackfillMissingObject',
  /** The warehouse refused a statement for a reason a retry will not fix. */
  WarehousePermanent: 'BackfillWarehousePermanent',
  /** The warehouse failed in a way a retry may fix (lock conflict, connection drop, timeout). */
  WarehouseTransient: 'BackfillWarehouseTransient',
  /** The warehouse file is held by another process (DuckDB allows one writer per file). */
  WarehouseLocked: 'BackfillWarehouseLocked',
  /** Rewriting one partition twice gave different results: the transform is not deterministic. */
  NotIdempotent: 'BackfillNotIdempotent',
  /** The transform returned rows outside the partition it was asked for. */
  TransformOutOfPartition: 'BackfillTransformOutOfPartition',
  /** The Temporal CLI could not be found or installed. */
  TemporalUnavailable: 'BackfillTemporalUnavailable',
  /** Completion check: a planned partition is not checkpointed or not present in the shadow. */
  IncompleteShadow: 'BackfillIncompleteShadow',
  /** An operator aborted the backfill after a halt; production untouched. */
  Aborted: 'BackfillAborted',
  /** An approver rejected the backfill; production untouched. */
  Rejected: 'BackfillRejected',
  /** Nobody approved within approval.timeout; production untouched. */
  ApprovalExpired: 'BackfillApprovalExpired',
  /** A signal or update payload is malformed (missing `by`, unknown action, ...). */
  InvalidRequest: 'BackfillInvalidRequest',
  /** The request is well formed but not allowed: wrong state, or a person not entitled to it. */
  NotAllowed: 'BackfillNotAllowed',
  /** No workflow for that backfill_id on the server and namespace the client talks to. */
  UnknownBackfill: 'BackfillUnknown',
  /** A backfill with this backfill_id is running or has completed: a new run needs a new id. */
  DuplicateBackfill: 'BackfillDuplicate',
} as const;

export type BackfillErrorType = (typeof BackfillError)[keyof typeof BackfillError];

/** Error types an activity retry cannot fix; the worker lists them as non-retryable. */
export const nonRetryableErrorTypes: BackfillErrorType[] = [
  BackfillError.InvalidSpec,
  BackfillError.SpecNotRunnable,
  BackfillError.InvalidIdentifier,
  BackfillError.InvalidConfig,
  BackfillError.TargetLeased,
  BackfillError.MissingObject,
  BackfillError.WarehousePermanent,
  BackfillError.WarehouseLocked,
  BackfillError.NotIdempotent,
  BackfillError.TransformOutOfPartition,
  BackfillError.IncompleteShadow,
  BackfillError.Aborted,
  BackfillError.Rejected,
  BackfillError.ApprovalExpired,
  BackfillError.InvalidRequest,
  BackfillError.NotAllowed,
  BackfillError.UnknownBackfill,
  BackfillError.DuplicateBackfill,
];

/**
 * Thrown by non-workflow code (spec loading, warehouse, CLI). Activities convert it to an
 * ApplicationFailure of the same type at one choke point (activities/failure.ts).
 */
export class BackfillFailure extends Error {
  override readonly name = 'BackfillFailure';
  constructor(
    readonly code: BackfillErrorType,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * The vocabulary type and message of an error however deeply Temporal wrapped it (workflow failure
 * → activity failure → ApplicationFailure): the first cause whose `type` is one of ours.
 */
export function backfillFailureIn(error: unknown): { type: BackfillErrorType; message: string } | null {
  const known = new Set<string>(Object.values(BackfillError));
  for (
    let c = error as { type?: unknown; message?: unknown; cause?: unknown } | undefined;
    c;
    c = c.cause as typeof c
  ) {
    if (typeof c.type === 'string' && known.has(c.type)) {
      return { type: c.type as BackfillErrorType, message: String(c.message ?? '') };
    }
  }
  return null;
}

/**
 * The warehouse refused the statement itself (a missing table or column, a type error): running it
 * again gives the same answer. A user's own SQL (a custom check, a monitor) that fails this way is a
 * result to report; anything else (a lost connection, a lock) is retried like any other statement.
 */
export function isStatementRefusal(error: unknown): boolean {
  // As a driver throws it (code), or as Temporal carries it (type, maybe wrapped).
  const type = error instanceof BackfillFailure ? error.code : backfillFailureIn(error)?.type;
  return type === BackfillError.MissingObject || type === BackfillError.WarehousePermanent;
}

export function isBackfillFailure(e: unknown, code?: BackfillErrorType): e is BackfillFailure {
  return e instanceof BackfillFailure && (code === undefined || e.code === code);
}
