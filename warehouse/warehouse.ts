/**
 * Warehouse = stateless dialect (SQL text) + driver (connections, transactions, binds, timeouts,
 * cancellation, tagging). Call sites use these interfaces only; engine differences are members of
 * the dialect or the driver, never `if (engine === ...)`.
 */
import type { TableName } from './identifiers';

/** A bound value. Dates and timestamps travel as ISO strings and are cast in SQL by the dialect. */
export type SqlValue = string | number | boolean | null;

/** SQL text plus positional parameters; placeholders already rendered by the dialect. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly SqlValue[];
}

/** A result row with JSON-friendly values (big integers and decimals as strings). */
export type Row = Record<string, SqlValue>;

/** Identifies a statement for cost attribution (Snowflake QUERY_TAG) and logs. */
export interface QueryTag {
  backfillId: string;
  phase: string;
  batch?: number;
  partition?: string;
}

export interface QueryOptions {
  tag?: QueryTag;
  /** Per-statement timeout; the driver cancels the statement when it elapses. */
  timeoutMs?: number;
  /** Aborting cancels the running statement (activities wire their cancellation signal here). */
  signal?: AbortSignal;
}

/** Column of a table, as the warehouse reports it. */
/** What a driver reports for every statement it runs (logs, metrics, tests). */
export interface StatementEvent {
  sql: string;
  params: readonly SqlValue[];
  tag?: QueryOptions['tag'];
  ms: number;
  inTransaction: boolean;
  error?: string;
}

/** Starts timing `stmt`; the returned function reports it once it finished (or failed with `error`). */
export function statementReporter(
  onStatement: ((e: StatementEvent) => void) | undefined,
  stmt: Statement,
  opts: QueryOptions,
  inTransaction: boolean,
): (error?: string) => void {
  const started = performance.now();
  return (error) =>
    onStatement?.({
      sql: stmt.sql, params: stmt.params, tag: opts.tag, ms: performance.now() - started, inTransaction, error,
    });
}

export interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
}

/** A column of a query's result: its name and its type as the engine spells it (DECIMAL(18,2), NUMBER(18,2)). */
export interface ResultColumn {
  name: string;
  type: string;
}

export type PartitionGrain = 'hour' | 'day' | 'month';

/** A slice [from, to) of a table's partition key, and the key that identifies its rows. */
export interface SliceSpec {
  partitionKey: string;
  grain: PartitionGrain;
  from: string;
  to: string;
  uniqueKey: readonly string[];
}

/** What a fingerprint covers. */
export interface FingerprintSpec extends SliceSpec {
  table: TableName;
  measures: readonly string[];
  /** Columns hashed into the row hash (audit columns such as recalculated_at left out). */
  hashColumns: readonly string[];
  /** Float columns also summed weighted by a hash of each row's key (`keyed_<i>`), see Fingerprint.keyedSums. */
  keyedMeasures?: readonly string[];
}

export interface PartitionStatsSpec extends SliceSpec {
  table: TableName;
  measures: readonly string[];
  notNull: readonly string[];
  /**
   * Also the same partitions of this table (production) in the same statement: rows then carry
   * `side`, 'new' for `table` and 'old' for this one, whose `distinct_keys` and `nulls_<i>` are NULL
   * (production's keys and NULLs are what they are).
   */
  alongside?: TableName;
}

/** Rows that differ between two tables over the same slice, for each measure. */
export interface ChangedRowsSpec extends SliceSpec {
  before: TableName;
  after: TableName;
  /** At least one. */
  measures: readonly string[];
  /** Rows kept per measure. */
  limit: number;
}

export interface Dialect {
  readonly name: string;
  /** Quote one already-validated identifier part. */
  quoteIdent(part: string): string;
  /** Quote a validated qualified table name. */
  table(name: TableName): string;
  /** Placeholder for the 1-based positional parameter `index`. */
  placeholder(index: number): string;
  /** A bound partition bound cast to the partition key's type at this grain. */
  boundValue(index: number, grain: PartitionGrain): string;
  /**
   * Whether DDL (CREATE/ALTER/DROP) may sit inside a transaction. Snowflake autocommits DDL and
   * commits an open transaction with it, so there DDL must run outside transactions.
   */
  readonly transactionalDdl: boolean;

  createSchema(schema: string): string;
  /** Copy of a table with its data (restore point). DuckDB: CTAS; Snowflake: zero-copy CLONE. */
  cloneTable(target: TableName, source: TableName): string;
  /** Empty table with the same columns (shadow). */
  createTableLike(target: TableName, source: TableName): string;
  /** Exchange two tables' contents/names in one step. */
  swapTables(a: TableName, b: TableName): string[];
  dropTable(name: TableName): string;
  createOrReplaceView(view: TableName, source: TableName): string;
  begin(): string;
  commit(): string;
  rollback(): string;
  /** BEGIN of a transaction in which every write fails, where the engine has one; null where it has none. */
  beginReadOnly(): string | null;
  /** Row count, distinct unique keys, per-measure sums and an order-independent row hash. */
  fingerprint(spec: FingerprintSpec): Statement;
  /** Existing rows per partition in [from, to): columns `partition_start` (ISO text), `row_count`. */
  rowsPerPartition(table: TableName, partitionKey: string, grain: PartitionGrain, from: string, to: string): Statement;
  /**
   * Per-partition statistics of a slice: columns `partition_start`, `row_count`, `distinct_keys`,
   * `measure_<i>` (exact sum as text) and `nulls_<i>` (NULL count of notNull[i]); with `alongside`,
   * both tables' in one statement, told apart by `side`.
   */
  partitionStats(spec: PartitionStatsSpec): Statement;
  /**
   * For each of `measures`, the `limit` rows whose value differs between `before` and `after` in
   * [from, to), joined on the unique key, largest absolute change first; one statement (one join)
   * for all: `measure_index` (into measures), key columns, `old_value`, `new_value`, `delta`.
   */
  changedRows(spec: ChangedRowsSpec): Statement;
  /** Columns of a table: columns `name`, `type`, `nullable`. */
  describeTable(table: TableName): Statement;
  /**
   * The session's database (catalog), column `db`: a two-part name lives there, so names are
   * compared in their three-part form (warehouse/ownership.ts).
   */
  currentDatabase(): string;
  /** Plan for a query, as rows the driver knows how to read (see Driver.explain). */
  explain(sql: string): string;
  /**
   * The views of the session's database (or `database`), the engine's own catalog views left out:
   * columns `schema`, `name` and `sql`, the definition as the catalog keeps it (DuckDB: its CREATE VIEW
   * text; Snowflake: VIEW_DEFINITION).
   */
  views(database?: string): Statement;
  /**
   * Whether FLOAT and REAL name a double-precision type (Snowflake: every float is a double) rather
   * than a 4-byte one (DuckDB): type comparisons read them accordingly (warehouse/compatibility-rules.ts).
   */
  readonly floatIsDouble: boolean;
}

export interface ScanEstimate {
  /** Rows the statement is estimated to read. */
  rows: number | null;
  /** Bytes the statement is estimated to read. */
  bytes: number | null;
  /** What `bytes` comes from, for the plan to say (e.g. "storage size of the columns read from staging.events"). */
  bytesBasis: string | null;
  /** Seconds the statement took, when the estimate came from running it once. */
  seconds: number | null;
}

/** A connection-scoped session: statements inside one transaction share it. */
export interface Session {
  query(stmt: Statement | string, opts?: QueryOptions): Promise<Row[]>;
  /** Runs a statement and returns the number of rows it changed. */
  execute(stmt: Statement | string, opts?: QueryOptions): Promise<number>;
}

/** A driver, or a transaction's session with its driver's dialect: what read helpers need. */
export type Db = Pick<Driver, 'dialect'> & Session;

/**
 * One query that only reads, in a read-only transaction where the engine has one (DuckDB), so a
 * statement that passed the text rules still cannot write; on one session where it has none.
 */
export function queryReadOnly(db: Pick<Driver, 'transaction'>, stmt: Statement | string, opts: QueryOptions = {}):
  Promise<Row[]> {
  return db.transaction((tx) => tx.query(stmt, opts), { ...opts, readOnly: true });
}

/** A transaction's session with its driver's dialect, for helpers that take either. */
export function inTx(db: Pick<Driver, 'dialect'>, tx: Session): Db {
  return { dialect: db.dialect, query: (s, o) => tx.query(s, o), execute: (s, o) => tx.execute(s, o) };
}

export interface TransactionOptions extends QueryOptions {
  /**
   * Only reading: a read-only transaction where the engine has one (Dialect.beginReadOnly), ended
   * by ROLLBACK. Where it has none, `fn` runs on one session without a transaction.
   */
  readOnly?: boolean;
}

export interface Driver extends Session {
  readonly dialect: Dialect;
  /** Runs `fn` inside BEGIN/COMMIT on one dedicated session; rolls back when it throws. */
  transaction<T>(fn: (tx: Session) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  /**
   * Rows and bytes a read-only query scans, bytes from the engine's storage size of what it reads
   * (Snowflake: EXPLAIN; DuckDB, whose EXPLAIN guesses filtered rows: a profiled run and the file's
   * storage metadata).
   */
  explain(stmt: Statement, opts?: QueryOptions): Promise<ScanEstimate>;
  /**
   * Time Travel retention of a table and whether it is transient, on engines that have Time Travel
   * (Snowflake); absent elsewhere. The plan warns when the rollback window outlives it.
   */
  retention?(table: TableName, opts?: QueryOptions): Promise<{ days: number; transient: boolean } | null>;
  /**
   * The columns a query returns, from the result's metadata, the query run read-only as queryReadOnly
   * runs it: pass one that reads nothing (`SELECT * FROM (…) LIMIT 0`), the engine still binds it in
   * full. Schema checks compare what a transform produces with its target this way
   * (warehouse/compatibility.ts); a driver without it cannot run them.
   */
  resultColumns?(stmt: Statement, opts?: QueryOptions): Promise<ResultColumn[]>;
  /** Price of warehouse time, when the engine has one (credits or currency per hour), else null. */
  readonly pricePerHour: { amount: number; unit: string } | null;
  close(): Promise<void>;
}
