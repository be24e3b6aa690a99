/**
 * Snowflake driver over snowflake-sdk. Owns what the dialect cannot: connections (a small pool of
 * sessions: a transaction holds one from BEGIN to COMMIT, single statements take any idle one),
 * query tags (a statement-level QUERY_TAG parameter on every statement, so no round trip) and the
 * statement timeout (a session parameter, set with ALTER SESSION once per session), cancellation
 * (statement.cancel()), result decoding (lower-case column names, exact decimals as text) and error
 * classification (errors.ts).
 *
 * Beyond Driver it implements `retention(table)`: Time Travel retention and whether the table is
 * transient, from SHOW TABLES, so the plan can warn when the rollback window outlives them.
 */
import snowflake from 'snowflake-sdk';
import type { Column, Connection, ConnectionOptions, RowStatement } from 'snowflake-sdk';
import { BackfillError, BackfillFailure } from '../../contracts/errors';
import type { TableName } from '../identifiers';
import {
  statementReporter,
  type Driver,
  type QueryOptions,
  type QueryTag,
  type ResultColumn,
  type Row,
  type ScanEstimate,
  type Session,
  type SqlValue,
  type Statement,
  type StatementEvent,
  type TransactionOptions,
} from '../warehouse';
import type { SnowflakeConfig } from './config';
import { snowflakeDialect } from './dialect';
import { breaksConnection, classifySnowflakeError } from './errors';

export interface SnowflakeDriverOptions {
  onStatement?: (e: StatementEvent) => void;
  /** An idle connection is checked with a heartbeat before reuse once it has been idle this long; default 60 s. */
  validateIdleMs?: number;
  /**
   * Snowflake enforces QueryOptions.timeoutMs through STATEMENT_TIMEOUT_IN_SECONDS; the driver
   * cancels by itself only this long after it (time spent queued for the warehouse does not count
   * towards Snowflake's limit); default 10 s.
   */
  timeoutGraceMs?: number;
}

/**
 * The QUERY_TAG of statements run for `tag`: JSON naming the backfill, phase, batch and partition, for cost
 * attribution.
 */
export function queryTagText(tag: QueryTag | undefined): string {
  // People read batch numbers from 1, in Snowflake's query history too.
  const batch = tag?.batch === undefined ? undefined : tag.batch + 1;
  const text = JSON.stringify({
    app: 'safe-backfill',
    ...(tag && { backfill_id: tag.backfillId, phase: tag.phase, batch, partition: tag.partition }),
  });
  // Snowflake caps QUERY_TAG at 2000 characters; the ids in it are validated and short.
  return text.length <= 2000
    ? text
    : JSON.stringify({ app: 'safe-backfill', backfill_id: tag?.backfillId.slice(0, 200), phase: tag?.phase });
}

/** A Snowflake string literal: quotes doubled and backslashes escaped (Snowflake reads backslash escapes). */
export const stringLiteral = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

const toStatement = (s: Statement | string): Statement => (typeof s === 'string' ? { sql: s, params: [] } : s);

let sdkConfigured = false;

/** Global snowflake-sdk settings: quiet, and no snowflake.log in the working directory. */
function configureSdk(): void {
  if (sdkConfigured) return;
  sdkConfigured = true;
  const drop = () => undefined;
  snowflake.configure({
    logLevel: 'ERROR',
    customLogger: {
      error: (m: string) => process.stderr.write(`[snowflake-sdk] ${m}\n`),
      warn: drop,
      info: drop,
      debug: drop,
      trace: drop,
    },
  });
}

function connectionOptions(config: SnowflakeConfig): ConnectionOptions {
  const auth = config.auth;
  return {
    account: config.account,
    username: config.user,
    role: config.role,
    warehouse: config.warehouse,
    database: config.database,
    schema: config.schema,
    application: 'safe-backfill',
    ...(config.accessUrl && { accessUrl: config.accessUrl }),
    ...(auth.kind === 'password'
      ? { authenticator: 'SNOWFLAKE', password: auth.password }
      : {
          authenticator: 'SNOWFLAKE_JWT',
          ...(auth.privateKey ? { privateKey: auth.privateKey } : { privateKeyPath: auth.privateKeyPath }),
          ...(auth.passphrase && { privateKeyPass: auth.passphrase }),
        }),
  };
}

/** A session of the pool, with the session parameters last set on it. */
interface Pooled {
  conn: Connection;
  /** STATEMENT_TIMEOUT_IN_SECONDS set on the session, or 'default' (never set, or UNSET). */
  timeoutSeconds: number | 'default';
  idleSince: number;
}

class ConnectionPool {
  private readonly idle: Pooled[] = [];
  private readonly waiters: Array<{ resolve: (p: Pooled) => void; reject: (e: unknown) => void }> = [];
  private open = 0;
  private closed = false;

  constructor(
    private readonly connect: () => Promise<Connection>,
    private readonly max: number,
    private readonly validateIdleMs: number,
  ) {}

  async acquire(signal?: AbortSignal): Promise<Pooled> {
    if (this.closed) throw new BackfillFailure(BackfillError.WarehouseTransient, 'The Snowflake driver is closed.');
    while (this.idle.length) {
      const p = this.idle.pop()!;
      if (await this.healthy(p)) return p;
      this.discard(p);
    }
    if (this.open < this.max) {
      this.open += 1;
      try {
        return { conn: await this.connect(), timeoutSeconds: 'default', idleSince: Date.now() };
      } catch (e) {
        this.open -= 1;
        this.serveWaiter();
        throw e;
      }
    }
    return new Promise<Pooled>((resolve, reject) => {
      const waiter = {
        resolve: (p: Pooled) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(p);
        },
        reject,
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(
          new BackfillFailure(BackfillError.WarehouseTransient, 'Cancelled while waiting for a Snowflake connection.'),
        );
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private async healthy(p: Pooled): Promise<boolean> {
    if (!p.conn.isUp()) return false;
    return Date.now() - p.idleSince < this.validateIdleMs || p.conn.isValidAsync();
  }

  /** Returns a session; a broken one is logged out and replaced for whoever waits. */
  release(p: Pooled, broken = false): void {
    if (broken || this.closed || !p.conn.isUp()) {
      this.discard(p);
      return;
    }
    p.idleSince = Date.now();
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(p);
    else this.idle.push(p);
  }

  private discard(p: Pooled): void {
    this.open -= 1;
    p.conn.destroy(() => undefined);
    this.serveWaiter();
  }

  private serveWaiter(): void {
    const waiter = this.waiters.shift();
    if (waiter) this.acquire().then(waiter.resolve, waiter.reject);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0))
      w.reject(new BackfillFailure(BackfillError.WarehouseTransient, 'The Snowflake driver was closed.'));
    await Promise.all(this.idle.splice(0).map((p) => new Promise<void>((resolve) => p.conn.destroy(() => resolve()))));
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const fraction = (nanos: number) => (nanos ? `.${String(nanos).padStart(9, '0').replace(/0+$/, '')}` : '');

interface SfDate extends Date {
  getEpochSeconds(): number;
  getNanoSeconds(): number;
}

function utcParts(epochSeconds: number): { date: string; time: string } {
  const d = new Date(epochSeconds * 1000);
  return {
    date: `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
    time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
  };
}

/**
 * JSON-friendly values by column type, with fetchAsString for Number, JSON and Buffer: integers
 * as numbers while they are safe, decimals as exact text, dates 'YYYY-MM-DD', TIMESTAMP_NTZ as
 * 'YYYY-MM-DD HH:MM:SS[.fff]' (as DuckDB prints it), instants (LTZ/TZ) as ISO UTC.
 */
function converter(column: Column): (v: unknown) => SqlValue {
  const type = column.getType();
  switch (type) {
    case 'fixed':
      return column.getScale() > 0
        ? (v) => String(v)
        : (v) => {
            const n = Number(v);
            return Number.isSafeInteger(n) ? n : String(v);
          };
    case 'real':
      return (v) => Number(v);
    case 'boolean':
      return (v) => Boolean(v);
    case 'date':
      return (v) => utcParts((v as SfDate).getEpochSeconds()).date;
    case 'timestamp_ntz':
      return (v) => {
        const { date, time } = utcParts((v as SfDate).getEpochSeconds());
        return `${date} ${time}${fraction((v as SfDate).getNanoSeconds())}`;
      };
    case 'timestamp_ltz':
    case 'timestamp_tz':
      return (v) => {
        const { date, time } = utcParts((v as SfDate).getEpochSeconds());
        return `${date}T${time}${fraction((v as SfDate).getNanoSeconds())}Z`;
      };
    case 'time':
      return (v) => {
        const t = v as { getMidnightSeconds(): number; getNanoSeconds(): number };
        const s = t.getMidnightSeconds();
        const hms = `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
        return `${hms}${fraction(t.getNanoSeconds())}`;
      };
    default:
      // text, and (fetched as strings) binary hex and variant/object/array JSON text
      return (v) => String(v);
  }
}

/**
 * A result column's type in Snowflake's spelling, from the result metadata: NUMBER(p,s), FLOAT,
 * TIMESTAMP_NTZ(scale). snowflake-sdk exposes no length, so text and binary come without one.
 */
export function snowflakeColumnType(column: Column): string {
  const type = column.getType();
  switch (type) {
    case 'fixed':
      return `NUMBER(${column.getPrecision()},${column.getScale()})`;
    case 'real':
      return 'FLOAT';
    case 'text':
      return 'VARCHAR';
    case 'time':
    case 'timestamp_ntz':
    case 'timestamp_ltz':
    case 'timestamp_tz': {
      const scale = column.getScale();
      return `${type.toUpperCase()}${scale === null || scale === undefined ? '' : `(${scale})`}`;
    }
    default:
      return type.toUpperCase();
  }
}

function toRows(statement: RowStatement, rows: unknown[][]): Row[] {
  const columns = statement.getColumns() ?? [];
  const names = columns.map((c) => c.getName().toLowerCase());
  const convert = columns.map(converter);
  return rows.map((r) => {
    const row: Row = {};
    names.forEach((name, i) => {
      const v = r[i];
      row[name] = v === null || v === undefined ? null : convert[i]!(v);
    });
    return row;
  });
}

/** One statement on one session; cancels it when `signal` aborts or the driver-side guard elapses. */
function runStatement(
  conn: Connection,
  stmt: Statement,
  signal: AbortSignal | undefined,
  guardMs: number | undefined,
  /** Statement-level parameters (QUERY_TAG): sent with the statement, no ALTER SESSION round trip. */
  parameters?: Record<string, string>,
): Promise<{ rows: Row[]; changed: number; columns: () => ResultColumn[]; guardFired: boolean }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(
        new BackfillFailure(BackfillError.WarehouseTransient, 'Snowflake statement cancelled before it started.', {
          engine: 'snowflake',
        }),
      );
      return;
    }
    let statement: RowStatement | undefined;
    let guardFired = false;
    const cancel = () => statement?.cancel(() => undefined);
    const guard = guardMs
      ? setTimeout(() => {
          guardFired = true;
          cancel();
        }, guardMs)
      : undefined;
    const done = () => {
      if (guard) clearTimeout(guard);
      signal?.removeEventListener('abort', cancel);
    };
    try {
      statement = conn.execute({
        sqlText: stmt.sql,
        binds: stmt.params.length ? [...stmt.params] : undefined,
        rowMode: 'array',
        fetchAsString: ['Number', 'JSON', 'Buffer'],
        ...(parameters && { parameters }),
        complete: (err, st, rows) => {
          done();
          if (err) reject(guardFired ? Object.assign(err, { guardFired }) : err);
          else
            resolve({
              rows: toRows(st, (rows ?? []) as unknown[][]),
              changed: Math.max(0, st.getNumUpdatedRows() ?? 0),
              columns: () => (st.getColumns() ?? []).map((c) => ({
                name: c.getName().toLowerCase(),
                type: snowflakeColumnType(c),
              })),
              guardFired,
            });
        },
      }) as RowStatement;
    } catch (e) {
      done();
      reject(e);
      return;
    }
    signal?.addEventListener('abort', cancel, { once: true });
  });
}

export class SnowflakeDriver implements Driver {
  readonly dialect = snowflakeDialect;
  readonly pricePerHour: { amount: number; unit: string } | null;
  private readonly pool: ConnectionPool;

  private constructor(
    private readonly config: SnowflakeConfig,
    private readonly options: SnowflakeDriverOptions,
  ) {
    this.pricePerHour =
      config.pricePerCredit !== undefined && config.creditsPerHour !== undefined
        ? { amount: config.pricePerCredit * config.creditsPerHour, unit: 'USD' }
        : null;
    const connect = () =>
      new Promise<Connection>((resolve, reject) => {
        try {
          snowflake
            .createConnection(connectionOptions(config))
            .connect((err, conn) => (err ? reject(classifySnowflakeError(err, 'login')) : resolve(conn)));
        } catch (e) {
          reject(classifySnowflakeError(e, 'connection setup'));
        }
      });
    this.pool = new ConnectionPool(connect, config.maxConnections, options.validateIdleMs ?? 60_000);
  }

  /** Opens the driver and logs in once, so bad settings fail here rather than in the first activity. */
  static async open(config: SnowflakeConfig, options: SnowflakeDriverOptions = {}): Promise<SnowflakeDriver> {
    configureSdk();
    const driver = new SnowflakeDriver(config, options);
    driver.pool.release(await driver.pool.acquire());
    return driver;
  }

  /**
   * Sets STATEMENT_TIMEOUT_IN_SECONDS on the session when it differs from what the session has: once
   * per session for a run, whose timeout is the spec's. The QUERY_TAG travels with each statement.
   */
  private async prepare(p: Pooled, opts: QueryOptions): Promise<void> {
    const seconds = opts.timeoutMs ? Math.max(1, Math.ceil(opts.timeoutMs / 1000)) : 'default';
    const set: string[] = [];
    if (seconds !== p.timeoutSeconds && seconds !== 'default') set.push(`STATEMENT_TIMEOUT_IN_SECONDS = ${seconds}`);
    try {
      if (set.length) {
        await runStatement(p.conn, { sql: `ALTER SESSION SET ${set.join(', ')}`, params: [] }, undefined, undefined);
      }
      if (seconds === 'default' && p.timeoutSeconds !== 'default') {
        await runStatement(
          p.conn,
          { sql: 'ALTER SESSION UNSET STATEMENT_TIMEOUT_IN_SECONDS', params: [] },
          undefined,
          undefined,
        );
      }
    } catch (e) {
      throw classifySnowflakeError(e, 'ALTER SESSION (statement timeout)');
    }
    p.timeoutSeconds = seconds;
  }

  private async run(
    p: Pooled,
    stmt: Statement,
    opts: QueryOptions,
    inTransaction: boolean,
  ): Promise<{ rows: Row[]; changed: number; columns: () => ResultColumn[] }> {
    const report = statementReporter(this.options.onStatement, stmt, opts, inTransaction);
    try {
      await this.prepare(p, opts);
      const guardMs = opts.timeoutMs ? opts.timeoutMs + (this.options.timeoutGraceMs ?? 10_000) : undefined;
      const result = await runStatement(p.conn, stmt, opts.signal, guardMs, { QUERY_TAG: queryTagText(opts.tag) });
      report();
      return result;
    } catch (e) {
      report(e instanceof Error ? e.message : String(e));
      if ((e as { guardFired?: boolean }).guardFired) {
        throw new BackfillFailure(
          BackfillError.WarehouseTransient,
          `Snowflake statement exceeded its ${opts.timeoutMs} ms timeout (plus grace) without Snowflake ending it ` +
            `(queued for the warehouse?) and was cancelled by the driver; raise execution.query_timeout or the ` +
            `warehouse size if the partition is legitimately slow.`,
          { engine: 'snowflake' },
        );
      }
      throw classifySnowflakeError(e, 'statement');
    }
  }

  private async withConnection<T>(opts: QueryOptions, fn: (p: Pooled) => Promise<T>): Promise<T> {
    const p = await this.pool.acquire(opts.signal);
    let broken = false;
    try {
      return await fn(p);
    } catch (e) {
      broken = e instanceof BackfillFailure && breaksConnection(e);
      throw e;
    } finally {
      this.pool.release(p, broken);
    }
  }

  query(stmt: Statement | string, opts: QueryOptions = {}): Promise<Row[]> {
    return this.withConnection(opts, async (p) => (await this.run(p, toStatement(stmt), opts, false)).rows);
  }

  execute(stmt: Statement | string, opts: QueryOptions = {}): Promise<number> {
    return this.withConnection(opts, async (p) => (await this.run(p, toStatement(stmt), opts, false)).changed);
  }

  /**
   * The result's column names (lower case, as rows have them) and Snowflake types. Snowflake has no
   * read-only transaction (see the dialect's beginReadOnly): the statement runs on one session as it is.
   */
  resultColumns(stmt: Statement, opts: QueryOptions = {}): Promise<ResultColumn[]> {
    return this.withConnection(opts, async (p) => (await this.run(p, stmt, opts, false)).columns());
  }

  /**
   * BEGIN … COMMIT on one session, which nobody else uses meanwhile. The session parameters of
   * `opts` are set before BEGIN; a statement inside with other options sets them inside, which
   * Snowflake allows (ALTER SESSION is not DDL and does not commit). `readOnly`: Snowflake has no
   * read-only transaction (see the dialect's beginReadOnly), so `fn` runs on the session without one.
   */
  async transaction<T>(fn: (tx: Session) => Promise<T>, transactionOpts: TransactionOptions = {}): Promise<T> {
    const { readOnly, ...opts } = transactionOpts;
    const begin = readOnly ? this.dialect.beginReadOnly() : this.dialect.begin();
    const p = await this.pool.acquire(opts.signal);
    let broken = false;
    let tail: Promise<unknown> = Promise.resolve();
    // Statements of one transaction go one at a time, so each runs with its own session parameters.
    const exec = (s: Statement | string, o?: QueryOptions) => {
      const next = tail.then(() => this.run(p, toStatement(s), { ...opts, ...o }, begin !== null));
      tail = next.catch(() => undefined);
      return next;
    };
    const session: Session = {
      query: async (s, o) => (await exec(s, o)).rows,
      execute: async (s, o) => (await exec(s, o)).changed,
    };
    try {
      if (begin === null) return await fn(session);
      await this.run(p, { sql: begin, params: [] }, opts, true);
      try {
        const out = await fn(session);
        await exec(readOnly ? this.dialect.rollback() : this.dialect.commit());
        return out;
      } catch (e) {
        // Without the caller's signal or timeout: the rollback must run even when they fired.
        await this.run(p, { sql: this.dialect.rollback(), params: [] }, { tag: opts.tag }, true).catch(() => {
          broken = true; // logging the session out discards the transaction
        });
        throw e;
      }
    } catch (e) {
      if (e instanceof BackfillFailure && breaksConnection(e)) broken = true;
      throw e;
    } finally {
      this.pool.release(p, broken);
    }
  }

  /**
   * EXPLAIN USING JSON compiles the statement without running it; GlobalStats.bytesAssigned is the
   * storage size of the micro-partitions the scans are assigned after pruning (Snowflake calls it
   * an upper bound: pruning at run time may skip more). Snowflake's plan has no row estimate and
   * no time, so those stay null (the planner then times the EXPLAIN itself).
   */
  async explain(stmt: Statement, opts: QueryOptions = {}): Promise<ScanEstimate> {
    const none: ScanEstimate = { rows: null, bytes: null, bytesBasis: null, seconds: null };
    const [row] = await this.query({ sql: this.dialect.explain(stmt.sql), params: stmt.params }, opts);
    const content = row ? Object.values(row)[0] : null;
    if (typeof content !== 'string') return none;
    try {
      const plan = JSON.parse(content) as {
        GlobalStats?: { bytesAssigned?: unknown };
        Operations?: Array<Array<{ operation?: string; objects?: string[] }>>;
      };
      const bytes = Number(plan.GlobalStats?.bytesAssigned);
      if (!Number.isFinite(bytes)) return none;
      const tables = [...new Set((plan.Operations ?? []).flat()
        .filter((o) => o.operation === 'TableScan')
        .flatMap((o) => o.objects ?? []))];
      const basis = 'storage size of the micro-partitions left after pruning' +
        (tables.length ? ` of ${tables.join(', ')}` : '') + ' (EXPLAIN bytesAssigned)';
      return { rows: null, bytes, bytesBasis: basis, seconds: null };
    } catch {
      return none;
    }
  }

  /**
   * Time Travel retention (days) and whether the table is transient, from SHOW TABLES; null when the table is
   * not found.
   */
  async retention(table: TableName, opts: QueryOptions = {}): Promise<{ days: number; transient: boolean } | null> {
    const d = this.dialect;
    const database = table.database ?? this.config.database;
    const name = table.name.toUpperCase();
    // SHOW takes no binds; the name is a validated plain name, and LIKE's "_" wildcard is filtered out below.
    const rows = await this.query(
      `SHOW TABLES LIKE ${stringLiteral(name)} IN SCHEMA ${d.quoteIdent(database)}.${d.quoteIdent(table.schema)}`,
      opts,
    );
    const row = rows.find((r) => String(r.name) === name);
    if (!row) return null;
    return { days: Number(row.retention_time), transient: String(row.kind).toUpperCase() === 'TRANSIENT' };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

export const openSnowflake = (
  config: SnowflakeConfig,
  options: SnowflakeDriverOptions = {},
): Promise<SnowflakeDriver> => SnowflakeDriver.open(config, options);
