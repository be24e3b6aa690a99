/**
 * The one place Snowflake errors are classified into the backfill error vocabulary: transient
 * (the activity retries) or permanent (it does not), with the Snowflake code always in the
 * message ("Snowflake 002003: ...").
 *
 * Codes come from Snowflake's own reports as they appear in public connector issues and tooling
 * logs, and from snowflake-sdk's constants (lib/constants/gs_errors.js, lib/error_code.js). Those
 * marked "assumed" are our reading, not confirmed against an account. Unknown codes fall back on
 * the SQLSTATE class, and then on permanent: a retry loop on a deterministic failure costs credits.
 */
import { BackfillError, BackfillFailure, type BackfillErrorType } from '../../contracts/errors';

interface Rule {
  type: BackfillErrorType;
  advice: string;
}

const transient = (advice: string): Rule => ({ type: BackfillError.WarehouseTransient, advice });
const permanent = (advice: string): Rule => ({ type: BackfillError.WarehousePermanent, advice });

/** Snowflake (server) error codes. */
const CODES: Record<string, Rule> = {
  // "Statement reached its statement or warehouse timeout of N second(s) and was canceled." (57014)
  '000630': transient('The statement hit STATEMENT_TIMEOUT_IN_SECONDS and was cancelled; it is retried. ' +
    'Raise execution.query_timeout if the partition is legitimately slow.'),
  // "SQL execution canceled" (57014): a cancel, or a timeout reported as a cancel.
  '000604': transient('The statement was cancelled (timeout or cancellation).'),
  // "... was aborted because the number of waiters for this lock exceeds the 20 statements limit." (57014)
  '000625': transient('Too many statements were waiting for the same table lock; it is retried. ' +
    'Lower execution.max_concurrency if this repeats.'),
  // "SQL execution internal error" (XX000): an incident on Snowflake's side.
  '000603': transient('Snowflake reported an internal error; the step is retried.'),
  // assumed: warehouse suspended / cannot be resumed right now (PostHog's Snowflake export retries 608).
  '000608': transient('The warehouse was suspended or resuming; the step is retried.'),
  // snowflake-sdk gs_errors: session gone (390111), session token invalid (390104) or expired (390112),
  // master token expired (390114).
  '390111': transient('The Snowflake session is gone; a new connection is opened and the step retried.'),
  '390104': transient('The Snowflake session token is invalid; a new connection is opened and the step retried.'),
  '390112': transient('The Snowflake session token expired; a new connection is opened and the step retried.'),
  '390114': transient(
    'The Snowflake authentication token expired; a new connection logs in again and the step is retried.',
  ),
  // Compilation and access errors: retrying cannot help.
  '001003': permanent('Fix the SQL (the transform, or the dialect that generated it).'),
  '002140': permanent('The SQL calls a function Snowflake does not have; fix the transform.'),
  '002002': permanent('The object already exists; drop it or pick another name.'),
  '002049': permanent('A bind variable was not supplied; this is a bug in the statement that was sent.'),
  '000008': permanent('Multi-statement text was sent where one statement is allowed; send one statement.'),
  '003001': permanent(
    'The role lacks a privilege on the object; GRANT it to the backfill role (see README, Snowflake setup).',
  ),
  '100038': permanent('A value could not be read as a number; fix the data or the transform.'),
  '100040': permanent('A value could not be read as a date; fix the data or the transform.'),
  '100035': permanent('A value could not be read as a timestamp; fix the data or the transform.'),
  '100072': permanent('A NULL went into a NOT NULL column; fix the transform.'),
  '100046': permanent('A number is out of range for its column type; fix the transform or the column type.'),
  '100051': permanent('Division by zero; fix the transform.'),
};

/** Codes meaning a table or column the statement names does not exist. */
const MISSING: Record<string, string> = {
  '002003': 'Check that the tables the spec names exist and the backfill role can see them (USAGE on database and ' +
    'schema, SELECT on the table).',
  '000904': 'Check that the columns the spec and transform name exist (Snowflake folds unquoted names to upper case).',
};

/** Codes meaning the connection settings are wrong. */
const CONFIG: Record<string, string> = {
  '390100': 'Check SNOWFLAKE_USER and the password or key.',
  // assumed: JWT rejected (wrong key, or the public key is not registered for the user).
  '390144': 'Check that the private key matches the RSA_PUBLIC_KEY registered for SNOWFLAKE_USER.',
  // seen: "No active warehouse selected in the current session."
  '000606': 'Set SNOWFLAKE_WAREHOUSE to the backfill warehouse and GRANT USAGE on it to the role.',
};

/** snowflake-sdk client error codes (lib/error_code.js) for network trouble: retried. */
const CLIENT_TRANSIENT = new Set([401001, 401002, 401003, 402001, 402002]);
const NETWORK =
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND|socket hang up|network|timeout of \d+ms exceeded/i;

interface SdkError {
  code?: unknown;
  sqlState?: unknown;
  message?: unknown;
  name?: unknown;
  data?: { queryId?: unknown } | null;
  cause?: { message?: unknown; code?: unknown } | null;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

/** Classifies an error from snowflake-sdk (or anything thrown around it) once. */
export function classifySnowflakeError(e: unknown, context: string): BackfillFailure {
  if (e instanceof BackfillFailure) return e;
  const err = (typeof e === 'object' && e !== null ? e : { message: String(e) }) as SdkError;
  const message = oneLine(String(err.message ?? e));
  const code = err.code === undefined || err.code === null ? '' : String(err.code);
  const sqlState = typeof err.sqlState === 'string' ? err.sqlState : '';
  const queryId = typeof err.data?.queryId === 'string' ? err.data.queryId : undefined;
  const details = {
    engine: 'snowflake',
    code: code || null,
    sqlState: sqlState || null,
    queryId: queryId ?? null,
    context,
  };
  const where = [`during ${context}`, sqlState && `SQLSTATE ${sqlState}`, queryId && `query ${queryId}`]
    .filter(Boolean)
    .join(', ');
  const fail = (type: BackfillErrorType, advice: string) =>
    new BackfillFailure(type, `Snowflake ${code || 'error'}: ${message} (${where}) ${advice}`, details);

  const rule = CODES[code];
  if (rule) return fail(rule.type, rule.advice);
  if (MISSING[code]) return fail(BackfillError.MissingObject, MISSING[code]!);
  if (CONFIG[code]) return fail(BackfillError.InvalidConfig, CONFIG[code]!);
  const numeric = Number(code);
  if (
    CLIENT_TRANSIENT.has(numeric) ||
    NETWORK.test(`${message} ${String(err.cause?.message ?? '')} ${String(err.cause?.code ?? '')}`)
  ) {
    return fail(BackfillError.WarehouseTransient, 'The connection to Snowflake failed; the step is retried.');
  }
  if (numeric >= 404000 && numeric < 405000) {
    return fail(
      BackfillError.InvalidConfig,
      'snowflake-sdk rejected the connection settings; check the Snowflake config.',
    );
  }
  // By SQLSTATE class: 08 connection, 40 transaction rollback, 53 resources, 57 operator intervention.
  if (/^(08|40|53|57)/.test(sqlState)) return fail(BackfillError.WarehouseTransient, 'The step is retried.');
  if (/^42/.test(sqlState)) {
    return fail(BackfillError.WarehousePermanent, 'Fix the statement or the privileges of the backfill role.');
  }
  return fail(BackfillError.WarehousePermanent, 'Fix the statement or the data it reads; retrying will not help.');
}

/** Whether a classified error means the connection itself should be dropped rather than reused. */
export function breaksConnection(e: BackfillFailure): boolean {
  const code = String(e.details.code ?? '');
  const sqlState = String(e.details.sqlState ?? '');
  return code.startsWith('3901') || sqlState.startsWith('08') || e.message.includes('connection to Snowflake failed');
}
