import { BackfillError, type BackfillErrorType } from '../contracts/errors';

/**
 * Exit codes: scripts can tell bad input (2) from an unreachable system (3) from a refusal (4),
 * and `watch` says when the backfill it watched halted or failed (5).
 */
export const ExitCode = { ok: 0, unexpected: 1, badInput: 2, unavailable: 3, refused: 4, stopped: 5 } as const;

export function exitCodeFor(code: BackfillErrorType): number {
  switch (code) {
    case BackfillError.InvalidSpec:
    case BackfillError.SpecNotRunnable:
    case BackfillError.InvalidIdentifier:
    case BackfillError.InvalidConfig:
    case BackfillError.MissingObject:
    case BackfillError.InvalidRequest:
    case BackfillError.UnknownBackfill:
      return ExitCode.badInput;
    case BackfillError.WarehouseLocked:
    case BackfillError.WarehouseTransient:
    case BackfillError.TemporalUnavailable:
      return ExitCode.unavailable;
    case BackfillError.TargetLeased:
    case BackfillError.DuplicateBackfill:
    case BackfillError.WarehousePermanent:
    case BackfillError.NotIdempotent:
    case BackfillError.TransformOutOfPartition:
    case BackfillError.IncompleteShadow:
    case BackfillError.Aborted:
    case BackfillError.Rejected:
    case BackfillError.ApprovalExpired:
    case BackfillError.NotAllowed:
      return ExitCode.refused;
  }
}
