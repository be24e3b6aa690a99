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
  type ResultColumn,
  type Row,
  type ScanEstimate,
  type Session,
  type Statement,
  type StatementEvent,
  type TransactionOptions,
} from '../warehouse';
import type { TableName } from '../identifiers';
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
): Promise<{ rows: Row[]; changed: number; columns: () => ResultColumn[] }> {
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
    const columns = () => result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
    report();
    return { rows, changed, columns };
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
  /** Rows the operator passed on: for a table scan, those left after the filters pushed into it. */
  operator_cardinality?: number;
  latency?: number;
  children?: ProfileNode[];
  extra_info?: { Table?: string; Projections?: string[] | string };
}

function scans(node: ProfileNode): ProfileNode[] {
  const own = node.extra_info?.Table ? [node] : [];
  return own.concat(...(node.children ?? []).map(scans));
}

/** A profile's `catalog.schema.table`, parts quoted where they are keywords ("load"); null if not three-part. */
function profiledTable(text: string): Required<TableName> | null {
  const parts = [...text.matchAll(/"((?:[^"]|"")*)"|([^."]+)/g)].map((m) => m[1]?.replace(/""/g, '"') ?? m[2]!);
  const [database, schema, name] = parts;
  return parts.length === 3 ? { database: database!, schema: schema!, name: name! } : null;
}

/** Bytes a row of the columns a scan reads takes, and what that figure comes from. */
interface RowSize {
  bytes: number;
  basis: 'storage size' | 'type widths';
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

  transaction<T>(fn: (tx: Session) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    const { readOnly, ...queryOpts } = opts;
    return this.withConnection(async (c) => {
      const exec = (s: Statement | string, o?: QueryOptions) =>
        run(c, toStatement(s), { ...queryOpts, ...o }, true, this.options.onStatement);
      const session: Session = {
        query: async (s, o) => (await exec(s, o)).rows,
        execute: async (s, o) => (await exec(s, o)).changed,
      };
      await exec((readOnly && this.dialect.beginReadOnly()) || this.dialect.begin());
      try {
        const out = await fn(session);
        // A read-only transaction refuses writes; ending it with ROLLBACK also keeps none.
        await exec(readOnly ? this.dialect.rollback() : this.dialect.commit());
        return out;
      } catch (e) {
        // The connection is closed right after, which also discards the transaction if ROLLBACK fails.
        await exec(this.dialect.rollback()).catch(() => undefined);
        throw e;
      }
    });
  }

  /** The result's column names and DuckDB types (DECIMAL(18,2), TIMESTAMP WITH TIME ZONE), read-only. */
  resultColumns(stmt: Statement, opts: QueryOptions = {}): Promise<ResultColumn[]> {
    return this.withConnection(async (c) => {
      const exec = (s: Statement | string) => run(c, toStatement(s), opts, true, this.options.onStatement);
      await exec(this.dialect.beginReadOnly() ?? this.dialect.begin());
      try {
        return (await exec(stmt)).columns();
      } finally {
        // Nothing to keep; the connection is closed right after, which also ends the transaction if this fails.
        await exec(this.dialect.rollback()).catch(() => undefined);
      }
    });
  }

  /**
   * DuckDB's plain EXPLAIN guesses filtered cardinalities (a one-day filter on a two-year table is
   * estimated at 20% of it), so the estimate comes from profiling the statement once: for each table
   * scan, the rows it read after its pushed-down filters, times what a row of the columns it reads
   * takes in the database file (tableStorage). Rows rather than row groups: DuckDB prunes by row
   * group (122,880 rows), so on a small table one day reads a whole row group, and counting it per
   * day would count the same blocks hundreds of times over a range; rows × storage per row adds up
   * to the table's storage over the range, and approaches the blocks really read once a day fills
   * row groups. Rows not checkpointed yet (an in-memory database) have no storage size: their type
   * widths stand in, and the basis says so.
   */
  async explain(stmt: Statement, opts: QueryOptions = {}): Promise<ScanEstimate> {
    const rows = await this.query({ sql: this.dialect.explain(stmt.sql), params: stmt.params }, opts);
    const profileText = rows.find((r) => r.explain_key === 'analyzed_plan')?.explain_value;
    if (typeof profileText !== 'string') return { rows: null, bytes: null, bytesBasis: null, seconds: null };
    const profile = JSON.parse(profileText) as ProfileNode;
    let read = 0;
    let bytes = 0;
    const bases = new Map<RowSize['basis'], Set<string>>();
    for (const node of scans(profile)) {
      const table = profiledTable(node.extra_info?.Table ?? '');
      if (!table) continue;
      const projected = ([] as string[]).concat(node.extra_info?.Projections ?? []);
      const size = await this.rowSize(table, projected, opts);
      const scanned = node.operator_cardinality ?? 0;
      read += scanned;
      bytes += scanned * size.bytes;
      const name = `${table.schema}.${table.name}`;
      bases.set(size.basis, (bases.get(size.basis) ?? new Set()).add(name));
    }
    const basis = [...bases].map(([kind, names]) =>
      `${kind} of the columns read from ${[...names].join(', ')}` +
        (kind === 'type widths' ? ' (not in the database file yet)' : ''));
    return {
      rows: read,
      bytes,
      bytesBasis: basis.length ? basis.join('; ') : null,
      seconds: profile.latency ?? null,
    };
  }

  /** Bytes a row of `projected` (every column when empty) takes in `table`'s storage, or by type width. */
  private async rowSize(table: TableName, projected: string[], opts: QueryOptions): Promise<RowSize> {
    const reads = (column: string) => projected.length === 0 || projected.includes(column);
    const stored = await this.query(this.dialect.tableStorage(table), opts);
    const storedRows = Number(stored[0]?.rows ?? 0);
    if (storedRows > 0) {
      const bytes = stored.filter((c) => reads(String(c.column))).reduce((sum, c) => sum + Number(c.bytes), 0);
      return { bytes: bytes / storedRows, basis: 'storage size' };
    }
    const columns = await this.query(this.dialect.describeTable(table), opts);
    const width = columns.filter((c) => reads(String(c.name)))
      .reduce((sum, c) => sum + duckDbTypeWidth(String(c.type)), 0);
    return { bytes: width, basis: 'type widths' };
  }

  async close(): Promise<void> {
    this.instance.closeSync();
  }
}

export const openDuckDb = (options: DuckDbOptions): Promise<DuckDbDriver> => DuckDbDriver.open(options);
