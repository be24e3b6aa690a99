/**
 * The real snowflake-sdk pointed at the emulator, for tests that drive the wire without our
 * driver in between.
 */
import snowflake, {
  type Binds,
  type Connection,
  type ConnectionOptions,
  type RowStatement,
  type StatementOption,
} from 'snowflake-sdk';
import type { SnowflakeEmulator } from './server';

let configured = false;

/** Keeps the SDK quiet and off the filesystem (by default it logs to ./snowflake.log). */
export function quietSdk(): void {
  if (configured) return;
  configured = true;
  const drop = () => undefined;
  snowflake.configure({
    logLevel: 'ERROR',
    customLogger: { error: drop, warn: drop, info: drop, debug: drop, trace: drop },
  });
}

/** A logged-in connection; rejects with the SDK's error (code, sqlState) when the login fails. */
export async function connectRaw(
  emulator: SnowflakeEmulator,
  options: Partial<ConnectionOptions> = {},
): Promise<Connection> {
  quietSdk();
  const conn = snowflake.createConnection({
    accessUrl: emulator.accessUrl,
    account: 'xy12345',
    username: 'backfill',
    password: 'secret',
    database: 'ANALYTICS',
    warehouse: 'BACKFILL_WH',
    ...options,
  });
  await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
  return conn;
}

export interface RawResult {
  statement: RowStatement;
  rows: Array<Record<string, unknown>>;
}

/** Starts a statement; `done` settles with its rows or the SDK's error. */
export function startRaw(
  conn: Connection,
  sqlText: string,
  binds?: Binds,
  options: Partial<StatementOption> = {},
): { statement: RowStatement; done: Promise<RawResult> } {
  let statement!: RowStatement;
  const done = new Promise<RawResult>((resolve, reject) => {
    statement = conn.execute({
      sqlText,
      binds,
      ...options,
      complete: (err, st, rows) =>
        err ? reject(err) : resolve({ statement: st, rows: (rows ?? []) as Array<Record<string, unknown>> }),
    }) as RowStatement;
  });
  return { statement, done };
}

export const runRaw = (
  conn: Connection,
  sqlText: string,
  binds?: Binds,
  options: Partial<StatementOption> = {},
): Promise<RawResult> => startRaw(conn, sqlText, binds, options).done;

export const destroyRaw = (conn: Connection): Promise<void> => new Promise((resolve) => conn.destroy(() => resolve()));

/** The SDK error of a statement that must fail. */
export async function rawError(p: Promise<unknown>): Promise<{ code?: string; sqlState?: string; message: string }> {
  const e = await p.then(
    () => {
      throw new Error('expected the statement to fail');
    },
    (err: unknown) => err,
  );
  return e as { code?: string; sqlState?: string; message: string };
}
