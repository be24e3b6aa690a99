/**
 * The one place DuckDB errors are classified into the backfill error vocabulary.
 */
import { BackfillError, BackfillFailure, type BackfillErrorType } from '../../contracts/errors';

const RULES: Array<[RegExp, BackfillErrorType, string]> = [
  [/Could not set lock on file|Conflicting lock is held/i, BackfillError.WarehouseLocked,
    'DuckDB allows one writing process per file: stop the process holding it (normally the backfill worker) ' +
      'or point at another file.'],
  [/Catalog Error|Binder Error: Referenced column .* not found/i, BackfillError.MissingObject,
    'Check that the table and columns the spec names exist.'],
  // Before the conflict rule: a read-only transaction's refusal is a TransactionContext Error too.
  [/launched in read-only mode|attached in read-only mode/i, BackfillError.WarehousePermanent,
    'The statement writes, and it ran read-only (a read-only transaction, or a file opened read-only); ' +
      'only reading is allowed here.'],
  [/(TransactionContext Error|Transaction conflict|write-write conflict|Conflict on)/i,
    BackfillError.WarehouseTransient, 'Another transaction touched the same rows; the step is retried.'],
  [/INTERRUPT|Interrupted/i, BackfillError.WarehouseTransient,
    'The statement was cancelled (timeout or cancellation).'],
  [/(Parser|Binder|Conversion|Constraint|Invalid Input|Not implemented|Out of Range) Error/i,
    BackfillError.WarehousePermanent, 'Fix the statement or the data it reads; retrying will not help.'],
  [/IO Error/i, BackfillError.WarehouseTransient,
    'The database file could not be read or written; the step is retried.'],
];

export function classifyDuckDbError(e: unknown, context: string): BackfillFailure {
  if (e instanceof BackfillFailure) return e;
  const message = e instanceof Error ? e.message : String(e);
  const rule = RULES.find(([re]) => re.test(message));
  const [, code, advice] = rule ?? [null, BackfillError.WarehousePermanent, 'Fix the statement or the data it reads.'];
  return new BackfillFailure(code, `DuckDB ${context} failed: ${message.split('\n')[0]} ${advice}`, {
    engine: 'duckdb',
  });
}
