/**
 * DuckDB driver over @duckdb/node-api. One instance per process (DuckDB allows one writing process
 * per file, so the worker owns the file); each call runs on its own connection so that
 * concurrent activities really run in parallel, and a transaction keeps one connection throughout.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, ResultReturnType, type DuckDBConnection } from '@duckdb/node-api';
import { BackfillError, BackfillFailure } from '../../contracts/errors';
import {
  statementReporter,
  type Driver,
  type QueryOptions,
  type Row,
  type ScanEstimate,
  type Session,
  type Statement,
  type StatementEvent,
} from '../warehouse';
import { duckDbDialect } from './dialect';
import { classifyDuckDbError } from './errors';

export interface DuckDbOptions {
  /** A file path, or ':memory:' for an in-memory database (unit tests). */
  path: string;
  /** Open without write access (several readers may share a file no writer holds). */
  readOnly?: boolean;
  onStatement?: (e: StatementEvent) => void;
  /**
   * DuckDB settings for the instance, e.g. `{ memory_limit: '256MB' }`: DuckDB's buffer pool
   * otherwise grows to 80% of the machine's memory, and a worker shares its machine.
   */
  settings?: Record<string, string>;
}

const toStatement = (s: Statement | string): Statement => (typeof s === 'string' ? { sql: s, params: [] } : s);

async function run(
  conn: DuckDBConnection,
  stmt: Statement,
  opts: QueryOptions,
  inTransaction: boolean,
  onStatement: DuckDbOptions['onStatement'],
): Promise<{ rows: Row[]; changed: number }> {
  let timedOut = false;
  const interrupt = () => conn.interrupt();
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        interrupt();
      }, opts.timeoutMs)
    : undefined;
  opts.signal?.addEventListener('abort', interrupt, { once: true });
  const report = statementReporter(onStatement, stmt, opts, inTransaction);
  try {
    if (opts.signal?.aborted) throw new Error('Interrupted: cancelled before start');
    const result = await conn.run(stmt.sql, stmt.params.length ? ([...stmt.params] as never) : undefined);
    const changed = result.returnType === ResultReturnType.CHANGED_ROWS ? result.rowsChanged : 0;
    const rows = (await result.getRowObjectsJson()) as Row[];
    report();
    return { rows, changed };
  } catch (e) {
    report(e instanceof Error ? e.message : String(e));
    if (timedOut) {
      throw new BackfillFailure(
        BackfillError.WarehouseTransient,
        `DuckDB statement exceeded its ${opts.timeoutMs} ms timeout and was cancelled; ` +
          `raise execution.query_timeout if the partition is legitimately slow.`,
      );
    }
    throw classifyDuckDbError(e, 'statement');
  } finally {
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', interrupt);
  }
}

/** Width in bytes DuckDB keeps per value of a type, for scan-size estimates. */
export function duckDbTypeWidth(type: string): number {
  const t = type.toUpperCase();
  if (/^(BOOLEAN|TINYINT|UTINYINT)/.test(t)) return 1;
  if (/^(SMALLINT|USMALLINT)/.test(t)) return 2;
  if (/^(INTEGER|UINTEGER|DATE|FLOAT|REAL)/.test(t)) return 4;
  const dec = /^DECIMAL\((\d+)/.exec(t);
  if (dec) return Number(dec[1]) <= 18 ? 8 : 16;
  if (/^(HUGEINT|UHUGEINT|UUID|INTERVAL|VARCHAR|BLOB)/.test(t)) return 16;
  return 8;
}

interface ProfileNode {
  operator_type?: string;
  operator_rows_scanned?: number;
  cumulative_rows_scanned?: number;
  latency?: number;
  children?: ProfileNode[];
  extra_info?: { Table?: string; Projections?: string[] | string };
}

function scans(node: ProfileNode): ProfileNode[] {
  const own = node.extra_info?.Table ? [node] : [];
  return own.concat(...(node.children ?? []).map(scans));
}

export class DuckDbDriver implements Driver {
  readonly dialect = duckDbDialect;
  readonly pricePerHour = null;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly options: DuckDbOptions,
  ) {}

  static async open(options: DuckDbOptions): Promise<DuckDbDriver> {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    try {
      const settings = { ...options.settings, ...(options.readOnly ? { access_mode: 'READ_ONLY' } : {}) };
      const instance = await DuckDBInstance.create(options.path, Object.keys(settings).length ? settings : undefined);
      return new DuckDbDriver(instance, options);
    } catch (e) {
      throw classifyDuckDbError(e, `open of ${options.path}`);
    }
  }

  private async withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const conn = await this.instance.connect();
    try {
      return await fn(conn);
    } finally {
      conn.closeSync();
    }
  }

  query(stmt: Statement | string, opts: QueryOptions = {}): Promise<Row[]> {
    return this.withConnection(
      async (c) => (await run(c, toStatement(stmt), opts, false, this.options.onStatement)).rows,
    );
  }

  execute(stmt: Statement | string, opts: QueryOptions = {}): Promise<number> {
    return this.withConnection(
      async (c) => (await run(c, toStatement(stmt), opts, false, this.options.onStatement)).changed,
    );
  }

  transaction<T>(fn: (tx: Session) => Promise<T>, opts: QueryOptions = {}): Promise<T> {
    return this.withConnection(async (c) => {
      const exec = (s: Statement | string, o?: QueryOptions) =>
        run(c, toStatement(s), { ...opts, ...o }, true, this.options.onStatement);
      const session: Session = {
        query: async (s, o) => (await exec(s, o)).rows,
        execute: async (s, o) => (await exec(s, o)).changed,
      };
      await exec(this.dialect.begin());
      try {
        const out = await fn(session);
        await exec(this.dialect.commit());
        return out;
      } catch (e) {
        // The connection is closed right after, which also discards the transaction if ROLLBACK fails.
        await exec(this.dialect.rollback()).catch(() => undefined);
        throw e;
      }
    });
  }

  /**
   * DuckDB's plain EXPLAIN guesses filtered cardinalities (a one-day filter on a two-year table is
   * estimated at 20% of it), so the estimate comes from profiling the statement once: rows actually
   * scanned after zone-map pruning, times the width of the columns each scan reads.
   */
  async explain(stmt: Statement, opts: QueryOptions = {}): Promise<ScanEstimate> {
    const rows = await this.query({ sql: this.dialect.explain(stmt.sql), params: stmt.params }, opts);
    const profileText = rows.find((r) => r.explain_key === 'analyzed_plan')?.explain_value;
    if (typeof profileText !== 'string') return { rows: null, bytes: null, seconds: null };
    const profile = JSON.parse(profileText) as ProfileNode;
    let bytes = 0;
    for (const node of scans(profile)) {
      const [schema, name] = (node.extra_info?.Table ?? '').split('.').slice(-2);
      if (!schema || !name) continue;
      const projected = ([] as string[]).concat(node.extra_info?.Projections ?? []);
      const columns = await this.query(this.dialect.describeTable({ schema, name }), opts);
      const width = columns
        .filter((c) => projected.length === 0 || projected.includes(String(c.name)))
        .reduce((sum, c) => sum + duckDbTypeWidth(String(c.type)), 0);
      bytes += (node.operator_rows_scanned ?? 0) * width;
    }
    return { rows: profile.cumulative_rows_scanned ?? null, bytes, seconds: profile.latency ?? null };
  }

  async close(): Promise<void> {
    this.instance.closeSync();
  }
}

export const openDuckDb = (options: DuckDbOptions): Promise<DuckDbDriver> => DuckDbDriver.open(options);
