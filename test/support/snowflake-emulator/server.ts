/**
 * The wire emulator: a local HTTP server that answers the routes snowflake-sdk (3.x) calls, in
 * Snowflake's JSON envelope, backed by DuckDB. Every login is a session with its own DuckDB
 * connection, so BEGIN/COMMIT, QUERY_TAG and STATEMENT_TIMEOUT_IN_SECONDS are per session, as on
 * Snowflake. See CONTEXT.md for what it is (a test double for the wire) and is not (a Snowflake).
 *
 * Rules the real service follows and the emulator keeps, because our driver and publish code are
 * designed around them:
 * - HTTP 200 with { success, code, message, data } for everything, errors included: the driver
 *   retries 5xx/408/429 for minutes.
 * - DDL commits the session's open transaction before it runs (recorded as `autocommitted`).
 * - DELETE/UPDATE take a table lock held until the transaction ends; more than `lockWaitLimit`
 *   waiters abort with 000625.
 * - A statement longer than the session's STATEMENT_TIMEOUT_IN_SECONDS is interrupted and fails
 *   with 000630; an abort-request interrupts it with 000604.
 * - A statement still running after `inProgressAfterMs` is answered with 333333 and a result URL
 *   the driver polls, as Snowflake does after ~45 s.
 */
import { createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection, type DuckDBMaterializedResult } from '@duckdb/node-api';
import { duckDbTypeWidth } from '../../../warehouse/duckdb/driver';
import { BackingDuckDb } from './backing';
import { column, encodeResult, fixedColumn, textColumn, type EncodedResult, type RowType } from './encode';
import {
  SnowflakeSqlError,
  badCredentials,
  badJwt,
  badSession,
  executionCanceled,
  fromDuckDb,
  notExecuting,
  notTranslated,
  objectExists,
  objectMissing,
  statementTimeout,
} from './sql-errors';
import { quoteIdent, quoteString } from './sql-tokens';
import { renderRef, translate, type StatementKind, type TableRef, type Translation } from './translate';

export interface EmulatorUser {
  /** Accepted password; absent means password login is refused for this user. */
  password?: string;
  /** PEM public key that SNOWFLAKE_JWT logins must be signed with. */
  publicKeyPem?: string;
}

export interface EmulatorOptions {
  /** DuckDB file to build on; default ':memory:'. Ignored when `db` is given. */
  duckdbPath?: string;
  /** An open DuckDB instance to build on; the emulator does not close it. */
  db?: DuckDBInstance;
  /** Users and their credentials; when absent every login with a password or a well-formed JWT is accepted. */
  users?: Record<string, EmulatorUser>;
  /** Answer 333333 ("in progress") when a statement runs longer than this; default 45 s, as Snowflake. */
  inProgressAfterMs?: number;
  /** Waiters per table lock before a statement is aborted with 000625; default 20, as Snowflake. */
  lockWaitLimit?: number;
  /** Time Travel retention SHOW TABLES reports for tables without DATA_RETENTION_TIME_IN_DAYS; default 1. */
  defaultRetentionDays?: number;
}

/** One statement as the emulator saw it. */
export interface LoggedStatement {
  seq: number;
  sessionId: number;
  user: string;
  queryId: string;
  sql: string;
  binds: unknown[];
  /** The session's QUERY_TAG when the statement ran (or the request's QUERY_TAG parameter). */
  queryTag: string | null;
  /** Whether a transaction was open when the statement started. */
  inTransaction: boolean;
  kind: StatementKind;
  /** Tables (SCHEMA.NAME) and schemas the statement writes. */
  writes: string[];
  /** A DDL statement that committed the session's open transaction before running, as Snowflake does. */
  autocommitted: boolean;
  /** What ran on DuckDB. */
  duckdb: string[];
  rowsChanged?: number;
  error?: { code: string; message: string };
  ms: number;
}

export interface LoginRecord {
  sessionId: number;
  user: string;
  authenticator: string;
  database: string | null;
  schema: string | null;
  warehouse: string | null;
  role: string | null;
}

export interface SessionInfo {
  id: number;
  user: string;
  queryTag: string | null;
  statementTimeoutSeconds: number | null;
  inTransaction: boolean;
}

/** One HTTP request and the envelope code it got (null: success). */
export interface RequestRecord {
  method: string;
  path: string;
  success: boolean;
  code: string | null;
}

export interface SnowflakeEmulator {
  /** For snowflake-sdk's accessUrl: http://127.0.0.1:PORT */
  accessUrl: string;
  port: number;
  log: LoggedStatement[];
  requests: RequestRecord[];
  logins: LoginRecord[];
  /** The DuckDB the emulator is built on, as a DuckDB-dialect driver (seed it, read it back). */
  backing: BackingDuckDb;
  sessions(): SessionInfo[];
  /**
   * Ends a session server-side, as SYSTEM$ABORT_SESSION or an expired token would: its next request
   * fails with 390104.
   */
  killSession(id: number): Promise<void>;
  close(): Promise<void>;
}

type Envelope = { success: boolean; code: string | null; message: string | null; data: unknown };

const MICRO_PARTITION_BYTES = 16 * 1024 * 1024;

/** Session parameters sent with the login and every result, as Snowflake does; the driver formats values with them. */
const PARAMETERS = [
  { name: 'TIMEZONE', value: 'UTC' },
  { name: 'DATE_OUTPUT_FORMAT', value: 'YYYY-MM-DD' },
  { name: 'TIME_OUTPUT_FORMAT', value: 'HH24:MI:SS' },
  { name: 'TIMESTAMP_OUTPUT_FORMAT', value: 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM' },
  { name: 'TIMESTAMP_NTZ_OUTPUT_FORMAT', value: 'YYYY-MM-DD HH24:MI:SS.FF3' },
  { name: 'TIMESTAMP_LTZ_OUTPUT_FORMAT', value: '' },
  { name: 'TIMESTAMP_TZ_OUTPUT_FORMAT', value: '' },
  { name: 'BINARY_OUTPUT_FORMAT', value: 'HEX' },
  { name: 'CLIENT_SESSION_KEEP_ALIVE', value: false },
  { name: 'CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY', value: 3600 },
  // Snowflake's own value; a low one would make the driver stage-bind (PUT) array binds.
  { name: 'CLIENT_STAGE_ARRAY_BINDING_THRESHOLD', value: 65280 },
  { name: 'CLIENT_RESULT_PREFETCH_SLOTS', value: 2 },
  { name: 'CLIENT_RESULT_PREFETCH_THREADS', value: 1 },
  { name: 'QUERY_CONTEXT_CACHE_SIZE', value: 5 },
  { name: 'JS_TREAT_INTEGER_AS_BIGINT', value: false },
];

const ok = (data: unknown): Envelope => ({ success: true, code: null, message: null, data });

function failure(e: SnowflakeSqlError, queryId?: string): Envelope {
  return {
    success: false,
    code: e.code,
    message: e.message,
    data: {
      sqlState: e.sqlState,
      queryId: queryId ?? null,
      errorCode: e.code,
      internalError: false,
      age: 0,
      line: -1,
      pos: -1,
    },
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

class Session {
  inTransaction = false;
  queryTag: string | null = null;
  timeoutSeconds: number | null = null;
  readonly locks = new Set<string>();
  readonly requests = new Map<string, Query>();
  private tail: Promise<unknown> = Promise.resolve();
  closed = false;

  constructor(
    readonly id: number,
    readonly token: string,
    readonly masterToken: string,
    readonly login: LoginRecord,
    readonly conn: DuckDBConnection,
  ) {}

  /** Statements of one session run one at a time on its connection, in arrival order. */
  enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

type QueryStatus = 'QUEUED' | 'RUNNING' | 'SUCCESS' | 'FAILED_WITH_ERROR' | 'ABORTED';

class Query {
  readonly id = randomUUID();
  status: QueryStatus = 'QUEUED';
  done!: Promise<Envelope>;
  cancelReason: 'abort' | 'timeout' | null = null;
  /** A DuckDB statement of this query is running on the session's connection. */
  running = false;
  error: SnowflakeSqlError | null = null;
  private interrupter: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<(e: Error) => void>();

  constructor(
    readonly session: Session,
    readonly requestId: string | null,
  ) {}

  /** Interrupts the running DuckDB statement (repeatedly, so one that starts late is caught too) and any lock wait. */
  cancel(reason: 'abort' | 'timeout'): boolean {
    if (
      this.cancelReason ||
      this.status === 'SUCCESS' ||
      this.status === 'FAILED_WITH_ERROR' ||
      this.status === 'ABORTED'
    ) {
      return false;
    }
    this.cancelReason = reason;
    for (const reject of this.waiters) reject(new Error('cancelled while waiting for a lock'));
    const tick = () => {
      if (this.running) this.session.conn.interrupt();
    };
    tick();
    this.interrupter = setInterval(tick, 20);
    return true;
  }

  /** Throws when the query was cancelled (between DuckDB statements). */
  check(): void {
    if (this.cancelReason) throw new Error('cancelled');
  }

  wait(register: (resolve: () => void) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.add(reject);
      register(() => {
        this.waiters.delete(reject);
        resolve();
      });
    });
  }

  finish(status: QueryStatus): void {
    this.status = status;
    if (this.interrupter) clearInterval(this.interrupter);
  }
}

/** Table locks of DELETE/UPDATE, held by a session until its transaction ends. */
class TableLocks {
  private readonly holders = new Map<string, { session: Session; queryId: string }>();
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly waitLimit: number) {}

  async acquire(q: Query, tables: readonly string[]): Promise<void> {
    for (const table of [...tables].sort()) {
      for (;;) {
        const holder = this.holders.get(table);
        if (!holder || holder.session === q.session) break;
        const waiters = this.waiting.get(table) ?? new Set();
        this.waiting.set(table, waiters);
        if (waiters.size >= this.waitLimit) {
          // seen: "000625 (57014): Statement '…' has locked table '…' in transaction … Your statement '…'
          // was aborted because the number of waiters for this lock exceeds the 20 statements limit."
          throw new SnowflakeSqlError(
            '000625',
            '57014',
            `Statement '${holder.queryId}' has locked table '${table}' in transaction ${holder.session.id} and this ` +
              `lock has not yet been released.\nYour statement '${q.id}' was aborted because the number of waiters ` +
              `for this lock exceeds the ${this.waitLimit} statements limit.`,
          );
        }
        let wake!: () => void;
        try {
          await q.wait((resolve) => {
            wake = resolve;
            waiters.add(wake);
          });
        } finally {
          waiters.delete(wake);
        }
      }
      this.holders.set(table, { session: q.session, queryId: q.id });
      q.session.locks.add(table);
    }
  }

  release(session: Session): void {
    for (const table of session.locks) {
      if (this.holders.get(table)?.session === session) this.holders.delete(table);
      for (const wake of this.waiting.get(table) ?? []) wake();
    }
    session.locks.clear();
  }
}

function bindValues(bindings: unknown): unknown[] {
  if (bindings === undefined || bindings === null) return [];
  const entries = Object.entries(bindings as Record<string, { type: string; value: unknown }>).sort(
    (a, b) => Number(a[0]) - Number(b[0]),
  );
  return entries.map(([key, { type, value }], i) => {
    if (Number(key) !== i + 1) throw notTranslated(`bind positions that skip :${i + 1}`);
    if (Array.isArray(value)) throw notTranslated('array binds (multi-row binding)');
    if (value === null || value === undefined) return null;
    const text = String(value);
    switch (type) {
      case 'FIXED': {
        const n = Number(text);
        return Number.isSafeInteger(n) ? n : BigInt(text);
      }
      case 'REAL':
        return Number(text);
      case 'BOOLEAN':
        return text === 'true' || text === '1';
      case 'TEXT':
        return text;
      default:
        throw notTranslated(`binds of type ${type}`);
    }
  });
}

function jwtSubject(token: string): { sub: string; signed: Buffer; signature: Buffer } | null {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
    if (typeof claims.sub !== 'string') return null;
    return {
      sub: claims.sub,
      signed: Buffer.from(`${header}.${payload}`),
      signature: Buffer.from(signature, 'base64url'),
    };
  } catch {
    return null;
  }
}

class Emulator {
  readonly log: LoggedStatement[] = [];
  readonly logins: LoginRecord[] = [];
  readonly requests: RequestRecord[] = [];
  private readonly sessionsByToken = new Map<string, Session>();
  private readonly queries = new Map<string, Query>();
  private readonly locks: TableLocks;
  /** SHOW TABLES properties by SCHEMA.NAME: TRANSIENT and DATA_RETENTION_TIME_IN_DAYS. */
  private readonly tableProperties = new Map<string, { transient: boolean; retentionDays: number | null }>();
  private nextSession = 1;
  private seq = 0;

  constructor(
    readonly instance: DuckDBInstance,
    private readonly options: EmulatorOptions,
  ) {
    this.locks = new TableLocks(options.lockWaitLimit ?? 20);
  }

  sessions(): SessionInfo[] {
    return [...this.sessionsByToken.values()].map((s) => ({
      id: s.id,
      user: s.login.user,
      queryTag: s.queryTag,
      statementTimeoutSeconds: s.timeoutSeconds,
      inTransaction: s.inTransaction,
    }));
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const body = await readBody(req);
    const path = url.pathname;
    const send = (e: Envelope) => {
      this.requests.push({ method: req.method ?? 'GET', path, success: e.success, code: e.code });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(e));
    };
    if (path === '/session/v1/login-request') return send(await this.login(url, body));
    if (path === '/telemetry/send') return send(ok('Log Received'));
    const session = this.sessionOf(req);
    if (!session) return send(failure(badSession()));
    if (path === '/session' && url.searchParams.get('delete') === 'true') return send(await this.logout(session));
    if (path === '/session/heartbeat') return send(ok({}));
    if (path === '/session/token-request') {
      return send(
        ok({
          sessionToken: session.token,
          validityInSecondsST: 3600,
          masterToken: session.masterToken,
          validityInSecondsMT: 14400,
        }),
      );
    }
    if (path === '/queries/v1/query-request') return send(await this.queryRequest(session, url, body));
    if (path === '/queries/v1/abort-request') {
      return send(this.abort(session, (body as { requestId?: string }).requestId, null));
    }
    let m: RegExpExecArray | null;
    if ((m = /^\/queries\/([^/]+)\/result$/.exec(path))) return send(await this.resultOf(session, m[1]!));
    if ((m = /^\/queries\/([^/]+)\/abort-request$/.exec(path))) return send(this.abort(session, null, m[1]!));
    if ((m = /^\/monitoring\/queries\/([^/]+)$/.exec(path))) return send(this.monitor(m[1]!));
    return send(failure(notTranslated(`the route ${req.method} ${path}`)));
  }

  private sessionOf(req: IncomingMessage): Session | null {
    const m = /Token="([^"]+)"/.exec(req.headers.authorization ?? '');
    if (!m) return null;
    const session =
      this.sessionsByToken.get(m[1]!) ?? [...this.sessionsByToken.values()].find((s) => s.masterToken === m[1]);
    return session && !session.closed ? session : null;
  }

  private async login(url: URL, body: unknown): Promise<Envelope> {
    const data = ((body as { data?: Record<string, unknown> }).data ?? {}) as Record<string, unknown>;
    const user = String(data.LOGIN_NAME ?? '');
    const account = String(data.ACCOUNT_NAME ?? '');
    const authenticator = String(data.AUTHENTICATOR ?? 'SNOWFLAKE').toUpperCase();
    const known = this.options.users
      ? Object.entries(this.options.users).find(([name]) => name.toUpperCase() === user.toUpperCase())?.[1]
      : undefined;
    if (!user) return failure(badCredentials());
    if (authenticator === 'SNOWFLAKE_JWT') {
      const jwt = jwtSubject(String(data.TOKEN ?? ''));
      if (!jwt || jwt.sub !== `${account.toUpperCase()}.${user.toUpperCase()}`) return failure(badJwt());
      if (this.options.users) {
        if (!known?.publicKeyPem) return failure(badJwt());
        if (!verify('RSA-SHA256', jwt.signed, createPublicKey(known.publicKeyPem), jwt.signature)) {
          return failure(badJwt());
        }
      }
    } else if (authenticator === 'SNOWFLAKE') {
      const password = String(data.PASSWORD ?? '');
      if (!password || (this.options.users && known?.password !== password)) return failure(badCredentials());
    } else {
      return failure(notTranslated(`the authenticator ${authenticator}`));
    }

    const upper = (v: string | null) => (v ? v.toUpperCase() : null);
    const login: LoginRecord = {
      sessionId: this.nextSession++,
      user: user.toUpperCase(),
      authenticator,
      database: upper(url.searchParams.get('databaseName')),
      schema: upper(url.searchParams.get('schemaName')),
      warehouse: upper(url.searchParams.get('warehouse')),
      role: upper(url.searchParams.get('roleName')),
    };
    const conn = await this.instance.connect();
    if (login.schema) {
      // Unqualified names resolve in the session schema, as on Snowflake, when it exists.
      const found = await conn.run('SELECT schema_name FROM duckdb_schemas() WHERE upper(schema_name) = $1 LIMIT 1', [
        login.schema,
      ]);
      const [row] = await found.getRowsJson();
      if (row) await conn.run(`SET schema = '${String(row[0]).replace(/'/g, "''")}'`);
    }
    // The driver is told TIMEZONE=UTC (PARAMETERS); DuckDB's current_timestamp casts follow it too.
    await conn.run(`SET TimeZone = 'UTC'`).catch(() => undefined);
    const session = new Session(
      login.sessionId,
      randomBytes(24).toString('hex'),
      randomBytes(24).toString('hex'),
      login,
      conn,
    );
    const tag = (data.SESSION_PARAMETERS as Record<string, unknown> | undefined)?.QUERY_TAG;
    if (typeof tag === 'string') session.queryTag = tag;
    this.sessionsByToken.set(session.token, session);
    this.logins.push(login);
    return ok({
      token: session.token,
      masterToken: session.masterToken,
      validityInSeconds: 3600,
      masterValidityInSeconds: 14400,
      sessionId: session.id,
      displayUserName: login.user,
      serverVersion: 'emulator',
      firstLogin: false,
      remMeToken: null,
      remMeValidityInSeconds: 0,
      healthCheckInterval: 45,
      newClientForUpgrade: null,
      idToken: null,
      idTokenValidityInSeconds: 0,
      responseData: null,
      mfaToken: null,
      mfaTokenValidityInSeconds: 0,
      parameters: PARAMETERS,
      sessionInfo: {
        databaseName: login.database,
        schemaName: login.schema,
        warehouseName: login.warehouse,
        roleName: login.role,
      },
    });
  }

  private async logout(session: Session): Promise<Envelope> {
    session.closed = true;
    this.sessionsByToken.delete(session.token);
    for (const q of session.requests.values()) q.cancel('abort');
    await session.enqueue(async () => {
      if (session.inTransaction) await session.conn.run('ROLLBACK').catch(() => undefined);
      session.inTransaction = false;
      this.locks.release(session);
      session.conn.closeSync();
    });
    return ok(null);
  }

  async kill(id: number): Promise<void> {
    const session = [...this.sessionsByToken.values()].find((s) => s.id === id);
    if (session) await this.logout(session);
  }

  closeAll(): Promise<unknown> {
    return Promise.all([...this.sessionsByToken.values()].map((s) => this.logout(s)));
  }

  private async queryRequest(session: Session, url: URL, body: unknown): Promise<Envelope> {
    const request = body as {
      sqlText?: string;
      bindings?: unknown;
      parameters?: Record<string, unknown>;
      asyncExec?: boolean;
      describeOnly?: boolean;
    };
    const requestId = url.searchParams.get('requestId');
    // A retried request (same requestId) attaches to the statement it already started, as on Snowflake.
    const seen = requestId ? session.requests.get(requestId) : undefined;
    if (seen) return this.answer(seen);

    const q = new Query(session, requestId);
    if (requestId) session.requests.set(requestId, q);
    this.remember(q);
    const sql = String(request.sqlText ?? '');
    const tagParameter = request.parameters?.QUERY_TAG;
    const entry: LoggedStatement = {
      seq: ++this.seq,
      sessionId: session.id,
      user: session.login.user,
      queryId: q.id,
      sql,
      binds: [],
      queryTag: typeof tagParameter === 'string' ? tagParameter : session.queryTag,
      inTransaction: session.inTransaction,
      kind: kindOf(sql),
      writes: [],
      autocommitted: false,
      duckdb: [],
      ms: 0,
    };

    let translation: Translation;
    let binds: unknown[];
    try {
      const multi = request.parameters?.MULTI_STATEMENT_COUNT;
      if (multi !== undefined && Number(multi) !== 1) {
        throw notTranslated('multi-statement requests (MULTI_STATEMENT_COUNT)');
      }
      if (request.describeOnly) throw notTranslated('describeOnly requests');
      binds = bindValues(request.bindings);
      entry.binds = binds;
      translation = translate(sql, {
        database: session.login.database,
        schema: session.login.schema,
        bindCount: binds.length,
      });
      entry.kind = translation.kind;
      entry.writes = translation.writes;
    } catch (e) {
      const error = e instanceof SnowflakeSqlError ? e : fromDuckDb(e);
      entry.error = { code: error.code, message: error.message };
      this.log.push(entry);
      q.error = error;
      q.finish('FAILED_WITH_ERROR');
      q.done = Promise.resolve(failure(error, q.id));
      return q.done;
    }

    q.done = session.enqueue(() => this.run(q, translation, binds, entry));
    if (request.asyncExec) {
      return {
        success: true,
        code: '333334',
        message: 'Asynchronous execution in progress.',
        data: { queryId: q.id, getResultUrl: `/queries/${q.id}/result` },
      };
    }
    return this.answer(q);
  }

  private remember(q: Query): void {
    this.queries.set(q.id, q);
    if (this.queries.size > 5000) this.queries.delete(this.queries.keys().next().value!);
  }

  /** The result when it is ready, or "in progress" with a URL the driver polls. */
  private async answer(q: Query): Promise<Envelope> {
    const wait = this.options.inProgressAfterMs ?? 45_000;
    const result = await Promise.race([q.done, delay(wait).then(() => null)]);
    if (result) return result;
    return {
      success: true,
      code: '333333',
      message: 'Asynchronous execution in progress. Use provided query id to perform query monitoring and management.',
      data: { queryId: q.id, getResultUrl: `/queries/${q.id}/result`, queryAbortsAfterSecs: 300, progressDesc: null },
    };
  }

  private async resultOf(session: Session, queryId: string): Promise<Envelope> {
    const q = this.queries.get(queryId);
    if (!q || q.session !== session) return failure(objectMissing(`query ${queryId}`));
    return this.answer(q);
  }

  private abort(session: Session, requestId: string | null | undefined, queryId: string | null): Envelope {
    const q = queryId ? this.queries.get(queryId) : requestId ? session.requests.get(requestId) : undefined;
    if (!q || q.session !== session || !q.cancel('abort')) return failure(notExecuting());
    return ok(null);
  }

  private monitor(queryId: string): Envelope {
    const q = this.queries.get(queryId);
    if (!q) return ok({ queries: [] });
    return ok({
      queries: [
        { id: q.id, status: q.status, errorCode: q.error?.code ?? null, errorMessage: q.error?.message ?? null },
      ],
    });
  }

  private async run(q: Query, tr: Translation, binds: unknown[], entry: LoggedStatement): Promise<Envelope> {
    const session = q.session;
    const started = performance.now();
    entry.inTransaction = session.inTransaction;
    this.log.push(entry);
    if (q.cancelReason) {
      q.finish('ABORTED');
      entry.error = { code: '000604', message: 'SQL execution canceled' };
      q.error = executionCanceled();
      return failure(q.error, q.id);
    }
    q.status = 'RUNNING';
    const seconds = session.timeoutSeconds;
    const timer = seconds ? setTimeout(() => q.cancel('timeout'), seconds * 1000) : undefined;
    try {
      const result = await this.perform(q, tr, binds.slice(0, tr.maxBind), entry);
      q.finish('SUCCESS');
      return ok({
        parameters: PARAMETERS,
        rowtype: result.rowtype,
        rowset: result.rowset,
        total: result.rowset.length,
        returned: result.rowset.length,
        queryId: q.id,
        databaseProvider: null,
        finalDatabaseName: session.login.database,
        finalSchemaName: session.login.schema,
        finalWarehouseName: session.login.warehouse,
        finalRoleName: session.login.role,
        numberOfBinds: binds.length,
        arrayBindSupported: false,
        statementTypeId: tr.statementTypeId,
        version: 1,
        sendResultTime: Date.now(),
        queryResultFormat: 'json',
      });
    } catch (e) {
      const error =
        q.cancelReason === 'timeout'
          ? statementTimeout(seconds ?? 0)
          : q.cancelReason === 'abort'
            ? executionCanceled()
            : fromDuckDb(e);
      q.error = error;
      q.finish(q.cancelReason === 'abort' ? 'ABORTED' : 'FAILED_WITH_ERROR');
      entry.error = { code: error.code, message: error.message };
      return failure(error, q.id);
    } finally {
      if (timer) clearTimeout(timer);
      entry.ms = performance.now() - started;
      if (!session.inTransaction) this.locks.release(session);
    }
  }

  /** Runs one DuckDB statement for `q`, interruptible by its cancellation. */
  private async duck(
    q: Query,
    entry: LoggedStatement,
    sql: string,
    params?: unknown[],
  ): Promise<DuckDBMaterializedResult> {
    q.check();
    entry.duckdb.push(sql);
    q.running = true;
    try {
      return await q.session.conn.run(sql, params?.length ? (params as never) : undefined);
    } finally {
      q.running = false;
    }
  }

  private async inDuckTransaction<T>(q: Query, entry: LoggedStatement, fn: () => Promise<T>): Promise<T> {
    await this.duck(q, entry, 'BEGIN TRANSACTION');
    try {
      const out = await fn();
      await this.duck(q, entry, 'COMMIT');
      return out;
    } catch (e) {
      await q.session.conn.run('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  private status(message: string): EncodedResult {
    return { rowtype: [textColumn('status')], rowset: [[message]] };
  }

  private async perform(q: Query, tr: Translation, binds: unknown[], entry: LoggedStatement): Promise<EncodedResult> {
    const session = q.session;
    const a = tr.action;
    if (tr.kind === 'ddl' && session.inTransaction) {
      // Snowflake: a DDL statement commits the open transaction, then runs in its own.
      await this.duck(q, entry, 'COMMIT');
      session.inTransaction = false;
      this.locks.release(session);
      entry.autocommitted = true;
    }
    switch (a.type) {
      case 'session':
        for (const s of a.settings) {
          if (s.name === 'QUERY_TAG') session.queryTag = s.value;
          else session.timeoutSeconds = s.value || null; // 0 means no statement limit
        }
        return this.status('Statement executed successfully.');
      case 'begin':
        // assumed: a BEGIN inside an open transaction is ignored rather than nesting.
        if (!session.inTransaction) {
          await this.duck(q, entry, 'BEGIN TRANSACTION');
          session.inTransaction = true;
        }
        return this.status('Statement executed successfully.');
      case 'commit':
      case 'rollback':
        if (session.inTransaction) {
          session.inTransaction = false;
          try {
            await this.duck(q, entry, a.type === 'commit' ? 'COMMIT' : 'ROLLBACK');
          } finally {
            this.locks.release(session);
          }
        }
        return this.status('Statement executed successfully.');
      case 'query':
        return encodeResult(await this.duck(q, entry, a.sql, binds), tr.quotedAliases);
      case 'dml': {
        await this.locks.acquire(q, tr.locks);
        const result = await this.duck(q, entry, a.sql, binds);
        if (a.verb === 'merged') {
          // Snowflake answers a MERGE with rows inserted and rows updated, one column each.
          const actions = (await result.getRowObjects()).map((r) => String(r.merge_action));
          const inserted = actions.filter((x) => x === 'INSERT').length;
          entry.rowsChanged = actions.length;
          return {
            rowtype: [
              fixedColumn('number of rows inserted', 19, 0, false),
              fixedColumn('number of rows updated', 19, 0, false),
            ],
            rowset: [[String(inserted), String(actions.length - inserted)]],
          };
        }
        entry.rowsChanged = result.rowsChanged;
        return this.dmlResult(a.verb, result.rowsChanged);
      }
      case 'insert-overwrite': {
        await this.locks.acquire(q, tr.locks);
        const write = async () => {
          await this.duck(q, entry, a.deleteSql);
          return (await this.duck(q, entry, a.insertSql, binds)).rowsChanged;
        };
        const inserted = session.inTransaction ? await write() : await this.inDuckTransaction(q, entry, write);
        entry.rowsChanged = inserted;
        return this.dmlResult('inserted', inserted);
      }
      case 'ddl': {
        // CREATE VIEW IF NOT EXISTS of a view that exists keeps that view, and its text.
        const keptView = a.viewText?.ifNotExists ? await this.viewExists(q, entry, a.viewText.view) : false;
        await this.duck(q, entry, a.sql, binds);
        if (a.viewText && !keptView) {
          const { view, text } = a.viewText;
          await this.duck(q, entry, `COMMENT ON VIEW ${renderRef(view)} IS ${quoteString(text)}`);
        }
        this.afterDdl(tr);
        return this.status(a.status);
      }
      case 'create-copy':
        return this.status(
          await this.createCopy(q, entry, a.target, a.source, a.withData, a.ifNotExists, a.orReplace, tr),
        );
      case 'swap':
        await this.swap(q, entry, a.a, a.b);
        return this.status('Statement executed successfully.');
      case 'show-tables':
        return this.showTables(q, entry, a.like, a.schema);
      case 'explain':
        return this.explain(q, entry, a.sql, binds);
    }
  }

  private dmlResult(verb: 'inserted' | 'deleted' | 'updated', rows: number): EncodedResult {
    const rowtype: RowType[] = [fixedColumn(`number of rows ${verb}`, 19, 0, false)];
    const cells = [String(rows)];
    if (verb === 'updated') {
      // Snowflake's UPDATE result has a second column; the driver sums every cell of the row.
      rowtype.push(fixedColumn('number of multi-joined rows updated', 19, 0, false));
      cells.push('0');
    }
    return { rowtype, rowset: [cells] };
  }

  private keyOf(t: TableRef, session: Session): string {
    return `${t.schema ?? session.login.schema ?? 'PUBLIC'}.${t.name}`;
  }

  private afterDdl(tr: Translation): void {
    if (tr.tableProperties) {
      const { table, transient, retentionDays } = tr.tableProperties;
      this.tableProperties.set(table, { transient, retentionDays });
    }
    const a = tr.action;
    if (a.type === 'ddl' && a.sql.startsWith('DROP')) {
      for (const w of tr.writes) {
        for (const key of this.tableProperties.keys()) if (key === w || key.startsWith(`${w}.`)) {
          this.tableProperties.delete(key);
        }
      }
    }
    if (a.type === 'ddl' && a.sql.startsWith('ALTER TABLE') && tr.writes.length === 2) {
      const [from, to] = tr.writes as [string, string];
      const props = this.tableProperties.get(from);
      this.tableProperties.delete(from);
      if (props) this.tableProperties.set(to, props);
    }
  }

  private async columnsOf(
    q: Query,
    entry: LoggedStatement,
    t: TableRef,
  ): Promise<Array<{ name: string; type: string; nullable: boolean }>> {
    const result = await this.duck(
      q,
      entry,
      `SELECT column_name, data_type, is_nullable FROM duckdb_columns()
       WHERE upper(schema_name) = upper(coalesce($1, current_schema())) AND upper(table_name) = $2
       ORDER BY column_index`,
      [t.schema, t.name],
    );
    return (await result.getRowsJson()).map((r) => ({
      name: String(r[0]),
      type: String(r[1]),
      nullable: Boolean(r[2]),
    }));
  }

  private async tableExists(q: Query, entry: LoggedStatement, t: TableRef): Promise<boolean> {
    const result = await this.duck(
      q,
      entry,
      `SELECT 1 FROM duckdb_tables() WHERE upper(schema_name) = upper(coalesce($1, current_schema())) ` +
        `AND upper(table_name) = $2`,
      [t.schema, t.name],
    );
    return (await result.getRowsJson()).length > 0;
  }

  private async viewExists(q: Query, entry: LoggedStatement, t: TableRef): Promise<boolean> {
    const result = await this.duck(
      q,
      entry,
      `SELECT 1 FROM duckdb_views() WHERE upper(schema_name) = upper(coalesce($1, current_schema())) ` +
        `AND upper(view_name) = $2`,
      [t.schema, t.name],
    );
    return (await result.getRowsJson()).length > 0;
  }

  /** CLONE (copy with data) and LIKE (empty copy): the source's columns, types and NOT NULLs. */
  private async createCopy(
    q: Query,
    entry: LoggedStatement,
    target: TableRef,
    source: TableRef,
    withData: boolean,
    ifNotExists: boolean,
    orReplace: boolean,
    tr: Translation,
  ): Promise<string> {
    const columns = await this.columnsOf(q, entry, source);
    if (columns.length === 0) throw objectMissing(this.keyOf(source, q.session));
    if (await this.tableExists(q, entry, target)) {
      if (ifNotExists) return `${target.name} already exists, statement succeeded.`;
      if (!orReplace) throw objectExists(this.keyOf(target, q.session));
    }
    const definition = columns.map((c) => `${quoteIdent(c.name)} ${c.type}${c.nullable ? '' : ' NOT NULL'}`).join(', ');
    await this.inDuckTransaction(q, entry, async () => {
      await this.duck(q, entry, `CREATE ${orReplace ? 'OR REPLACE ' : ''}TABLE ${renderRef(target)} (${definition})`);
      if (withData) await this.duck(q, entry, `INSERT INTO ${renderRef(target)} SELECT * FROM ${renderRef(source)}`);
    });
    const props = withData ? this.tableProperties.get(this.keyOf(source, q.session)) : undefined;
    const own = tr.tableProperties!;
    // A clone keeps its source's kind (a clone of a transient table is transient).
    this.tableProperties.set(own.table, {
      transient: own.transient || Boolean(props?.transient),
      retentionDays: props?.retentionDays ?? own.retentionDays,
    });
    return `Table ${target.name} successfully created.`;
  }

  /** SWAP WITH as three renames in one transaction; DuckDB cannot rename across schemas. */
  private async swap(q: Query, entry: LoggedStatement, a: TableRef, b: TableRef): Promise<void> {
    const [ka, kb] = [this.keyOf(a, q.session), this.keyOf(b, q.session)];
    if (ka.split('.')[0] !== kb.split('.')[0]) {
      throw notTranslated('SWAP WITH a table in another schema (DuckDB renames cannot move tables between schemas)');
    }
    for (const [t, k] of [[a, ka], [b, kb]] as const) if (!(await this.tableExists(q, entry, t))) {
      throw objectMissing(k);
    }
    const temporary = `__swap_${randomBytes(4).toString('hex')}`;
    await this.inDuckTransaction(q, entry, async () => {
      await this.duck(q, entry, `ALTER TABLE ${renderRef(a)} RENAME TO ${quoteIdent(temporary)}`);
      await this.duck(q, entry, `ALTER TABLE ${renderRef(b)} RENAME TO ${quoteIdent(a.name)}`);
      await this.duck(
        q,
        entry,
        `ALTER TABLE ${renderRef({ schema: a.schema, name: temporary })} RENAME TO ${quoteIdent(b.name)}`,
      );
    });
    const [pa, pb] = [this.tableProperties.get(ka), this.tableProperties.get(kb)];
    this.tableProperties.delete(ka);
    this.tableProperties.delete(kb);
    if (pb) this.tableProperties.set(ka, pb);
    if (pa) this.tableProperties.set(kb, pa);
  }

  private async showTables(
    q: Query,
    entry: LoggedStatement,
    like: string | null,
    schema: string | null,
  ): Promise<EncodedResult> {
    const result = await this.duck(
      q,
      entry,
      `SELECT upper(schema_name), upper(table_name), estimated_size FROM duckdb_tables()
       WHERE upper(schema_name) = upper(coalesce($1, current_schema())) AND table_name ILIKE $2 ORDER BY 2`,
      [schema, like ?? '%'],
    );
    const names = [
      'created_on', 'name', 'database_name', 'schema_name', 'kind', 'comment', 'cluster_by', 'rows', 'bytes', 'owner',
      'retention_time',
    ];
    const rowtype = names.map((n) =>
      n === 'created_on'
        ? column(n, 'timestamp_ltz', { scale: 9 })
        : n === 'rows' || n === 'bytes'
          ? fixedColumn(n)
          : textColumn(n),
    );
    const database = q.session.login.database ?? '';
    const rowset = (await result.getRowsJson()).map((r) => {
      const props = this.tableProperties.get(`${r[0]}.${r[1]}`);
      const retention = props?.retentionDays ?? this.options.defaultRetentionDays ?? 1;
      return [
        '0.000000000', String(r[1]), database, String(r[0]), props?.transient ? 'TRANSIENT' : 'TABLE', '', '',
        String(r[2] ?? 0), null, q.session.login.role ?? '', String(retention),
      ];
    });
    return { rowtype, rowset };
  }

  /**
   * EXPLAIN USING JSON from a profiled run of the query on DuckDB (Snowflake only compiles, but
   * DuckDB's plain EXPLAIN cannot see pruning): for each table scan, rows scanned × the width of the
   * columns it reads is bytesAssigned; a micro-partition is modelled as 16 MiB of full rows.
   */
  private async explain(q: Query, entry: LoggedStatement, sql: string, binds: unknown[]): Promise<EncodedResult> {
    const profiled = await this.duck(q, entry, `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, binds);
    const rows = await profiled.getRowObjectsJson();
    const text = rows.find((r) => r.explain_key === 'analyzed_plan')?.explain_value;
    interface Node {
      extra_info?: { Table?: string; Projections?: string[] | string };
      operator_rows_scanned?: number;
      children?: Node[];
    }
    const scans = (n: Node): Node[] => (n.extra_info?.Table ? [n] : []).concat(...(n.children ?? []).map(scans));
    const operations: Array<Record<string, unknown>> = [{ id: 0, operation: 'Result' }];
    const stats = { partitionsTotal: 0, partitionsAssigned: 0, bytesAssigned: 0 };
    for (const node of typeof text === 'string' ? scans(JSON.parse(text) as Node) : []) {
      // DuckDB names the table catalog.schema.table, quoting parts that are keywords ("load").
      const parts = [...(node.extra_info!.Table ?? '').matchAll(/"((?:[^"]|"")*)"|([^."]+)/g)].map(
        (m) => m[1]?.replace(/""/g, '"') ?? m[2]!,
      );
      const [schema, name] = parts.slice(-2);
      const table: TableRef = name
        ? { schema: schema!.toUpperCase(), name: name.toUpperCase() }
        : { schema: null, name: String(schema).toUpperCase() };
      const columns = await this.columnsOf(q, entry, table);
      const projected = ([] as string[]).concat(node.extra_info!.Projections ?? []);
      const width = (cs: typeof columns) => cs.reduce((sum, c) => sum + duckDbTypeWidth(c.type), 0);
      const readWidth = width(columns.filter((c) => projected.length === 0 || projected.includes(c.name)));
      const rowWidth = Math.max(1, width(columns));
      const sizeResult = await this.duck(
        q, entry,
        `SELECT estimated_size FROM duckdb_tables() WHERE upper(schema_name) = upper(coalesce($1, current_schema())) ` +
          `AND upper(table_name) = $2`,
        [table.schema, table.name],
      );
      const tableRows = Number((await sizeResult.getRowsJson())[0]?.[0] ?? 0);
      const scanned = node.operator_rows_scanned ?? 0;
      const op = {
        id: operations.length,
        parentOperators: [0],
        operation: 'TableScan',
        objects: [[q.session.login.database, (table.schema ?? '').toUpperCase(), table.name].filter(Boolean).join('.')],
        partitionsTotal: Math.max(1, Math.ceil((tableRows * rowWidth) / MICRO_PARTITION_BYTES)),
        partitionsAssigned: scanned ? Math.ceil((scanned * rowWidth) / MICRO_PARTITION_BYTES) : 0,
        bytesAssigned: scanned * readWidth,
      };
      operations.push(op);
      stats.partitionsTotal += op.partitionsTotal;
      stats.partitionsAssigned += op.partitionsAssigned;
      stats.bytesAssigned += op.bytesAssigned;
    }
    // assumed: Snowflake names the single column of EXPLAIN USING JSON "content"; our driver reads the first column.
    return {
      rowtype: [textColumn('content')],
      rowset: [[JSON.stringify({ GlobalStats: stats, Operations: [operations] })]],
    };
  }
}

/** The kind of a statement the translator refused, from its first words (for the log). */
function kindOf(sql: string): StatementKind {
  const [first = '', second = ''] = sql.trim().toUpperCase().split(/\s+/);
  if (['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(first)) return 'dml';
  if (['BEGIN', 'START', 'COMMIT', 'ROLLBACK'].includes(first)) return 'tcl';
  if ((first === 'ALTER' && second === 'SESSION') || first === 'USE' || first === 'SET') return 'session';
  if (['CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'COMMENT', 'GRANT', 'REVOKE'].includes(first)) return 'ddl';
  return 'select';
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let raw = Buffer.concat(chunks);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return {};
  }
}

/** Starts the emulator on a free local port. */
export async function startSnowflakeEmulator(options: EmulatorOptions = {}): Promise<SnowflakeEmulator> {
  const owned = !options.db;
  const instance = options.db ?? (await DuckDBInstance.create(options.duckdbPath ?? ':memory:'));
  const emulator = new Emulator(instance, options);
  const server: Server = createServer((req, res) => {
    emulator.handle(req, res).catch((e: unknown) => {
      // Never a 5xx: the driver would retry it for minutes.
      if (res.headersSent) return;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          success: false,
          code: '000000',
          message: `snowflake emulator internal error: ${e instanceof Error ? e.message : String(e)}`,
          data: null,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    accessUrl: `http://127.0.0.1:${port}`,
    port,
    log: emulator.log,
    logins: emulator.logins,
    requests: emulator.requests,
    backing: new BackingDuckDb(instance),
    sessions: () => emulator.sessions(),
    killSession: (id) => emulator.kill(id),
    async close() {
      await emulator.closeAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (owned) instance.closeSync();
    },
  };
}
