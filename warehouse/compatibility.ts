/**
 * Schema compatibility of a release node, checked before any write: what the transform produces
 * against the target it replaces, the views that read the target against that output, and the
 * schemas of the tables a release reads (frozen at its start, compared before every batch).
 *
 * Nothing here writes or scans data. A transform's columns come from the metadata of a LIMIT 0
 * query (Driver.resultColumns), which the engine binds in full; a view is checked by running its
 * SELECT, with the target replaced by that zero-row query, as `SELECT * FROM (…) LIMIT 0` read-only.
 * The rules themselves are pure (warehouse/compatibility-rules.ts).
 */
import { createHash } from 'node:crypto';
import { BackfillError, BackfillFailure, isStatementRefusal } from '../contracts/errors';
import { partitionAtOrdinal, partitionOrdinal, type Grain } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';
import { compileTransform, transformProblems } from '../domain/transform-sql';
import { describeTable } from './catalog';
import {
  formatSignature,
  normalizeSql,
  outputProblems,
  referencesTable,
  replaceTable,
  viewBody,
  type Column,
} from './compatibility-rules';
import { formatTableName, parseTableName, type TableName } from './identifiers';
import { publishedRange } from './shadow';
import { queryReadOnly, type Driver, type QueryOptions, type Statement } from './warehouse';

export {
  compareTypes,
  formatSignature,
  outputProblems,
  parseSignature,
  signatureChanges,
  type Column,
  type Signature,
} from './compatibility-rules';

/** A view as the catalog keeps it: `schema.name` and its definition. */
export interface ViewDefinition {
  name: string;
  sql: string;
}

export interface CompatibilityProblem {
  /** The spec field to change: `transform` or `target.table`. */
  path: string;
  message: string;
}

/** The warehouse refused the statement itself (a missing column, a type error): an answer about the SQL. */
const refused = isStatementRefusal;

function columnsOf(db: Driver, stmt: Statement, opts?: QueryOptions): Promise<Column[]> {
  if (!db.resultColumns) {
    throw new BackfillFailure(
      BackfillError.WarehousePermanent,
      `The ${db.dialect.name} driver cannot read a query's result columns (Driver.resultColumns), so the schema ` +
        'checks cannot run; use a driver that implements it.',
    );
  }
  return db.resultColumns(stmt, opts);
}

/** The first partition of the spec's range, which the transform's parameters are bound to. */
function firstPartition(spec: BackfillSpec): { start: string; end: string } {
  const grain = spec.source_range.grain as Grain;
  return partitionAtOrdinal(partitionOrdinal(publishedRange(spec.source_range).start, grain)!, grain);
}

/**
 * The transform `sql` as a query that returns no rows, its :partition_start / :partition_end bound
 * to the first partition of source_range: what a shadow built from it would hold, empty.
 */
export function zeroRowTransform(db: Pick<Driver, 'dialect'>, spec: BackfillSpec, sql: string): Statement {
  const problems = transformProblems(sql);
  if (problems.length) {
    throw new BackfillFailure(BackfillError.InvalidSpec, `transform: the SQL ${problems.join('; ')}.`, { problems });
  }
  const grain = spec.source_range.grain;
  const transform = compileTransform(sql, (i) => db.dialect.boundValue(i, grain));
  const { start, end } = firstPartition(spec);
  // The newline keeps a trailing comment of the transform from swallowing the closing parenthesis.
  return { sql: `SELECT * FROM (${transform.sql}\n) AS transformed LIMIT 0`, params: [start, end] };
}

/** The columns and types the transform `sql` produces, from a LIMIT 0 run (nothing written, nothing scanned). */
export function transformOutputColumns(
  db: Driver,
  spec: BackfillSpec,
  sql: string,
  opts?: QueryOptions,
): Promise<Column[]> {
  return columnsOf(db, zeroRowTransform(db, spec, sql), opts);
}

/** The columns of a table or view with their full types (NUMBER(18,2) where the catalog says NUMBER). */
function tableColumns(db: Driver, table: TableName, opts?: QueryOptions): Promise<Column[]> {
  return columnsOf(db, { sql: `SELECT * FROM ${db.dialect.table(table)} LIMIT 0`, params: [] }, opts);
}

async function sessionDatabase(db: Driver, opts?: QueryOptions): Promise<string | null> {
  const [row] = await db.query(db.dialect.currentDatabase(), opts);
  return row?.db === null || row?.db === undefined ? null : String(row.db);
}

/** The catalog's views of the table's database (or the session's), read once per database. */
async function viewsIn(db: Driver, database: string | undefined, opts?: QueryOptions): Promise<ViewDefinition[]> {
  const rows = await db.query(db.dialect.views(database), opts);
  return rows.map((r) => ({ name: `${String(r.schema)}.${String(r.name)}`, sql: String(r.sql ?? '') }));
}

/**
 * Views whose definition selects from `table`: the name as a whole identifier (schema.table or
 * database.schema.table, quoted or not, any case), never part of another (daily_revenue_v2).
 * Only views of the table's database; an unqualified reference is not recognised.
 */
export async function dependentViews(db: Driver, table: string, opts?: QueryOptions): Promise<ViewDefinition[]> {
  const t = parseTableName(table, 'table');
  const database = await sessionDatabase(db, opts);
  const views = await viewsIn(db, t.database, opts);
  return views.filter((v) => referencesTable(viewBody(v.sql), t, database));
}

/**
 * Whether `view` still binds once `table` holds what `replacement` returns (the transform's output,
 * zeroRowTransform): the view's SELECT, with every reference to the table replaced by the query, is
 * run as `SELECT * FROM (…) LIMIT 0` read-only. The engine's refusal, naming the view, or null.
 */
export async function viewBindProblems(
  db: Driver,
  view: ViewDefinition,
  table: string,
  replacement: string | Statement,
  opts?: QueryOptions,
): Promise<string | null> {
  const t = parseTableName(table, 'table');
  const query = typeof replacement === 'string' ? { sql: replacement, params: [] } : replacement;
  const alias = db.dialect.quoteIdent(t.name);
  const body = replaceTable(viewBody(view.sql), t, `(${query.sql}\n)`, alias, await sessionDatabase(db, opts));
  if (body === null) return null;
  try {
    await queryReadOnly(db, { sql: `SELECT * FROM (${body}\n) AS v LIMIT 0`, params: query.params }, opts);
    return null;
  } catch (e) {
    if (!refused(e)) throw e;
    const why = e instanceof Error ? e.message : String(e);
    return `view ${view.name} would no longer bind once ${formatTableName(t)} holds the transform's output; keep ` +
      `what the view reads in the transform, or change the view in a migration first. The warehouse said: ${why}`;
  }
}

const definitionHash = (sql: string) =>
  createHash('sha256').update(normalizeSql(viewBody(sql))).digest('hex').slice(0, 16);

/**
 * A stable text signature per table or view (formatSignature): its columns in order with their
 * types, for a view also a hash of its definition; `missing` for a name that does not exist.
 */
export async function inputSignature(
  db: Driver,
  tables: readonly string[],
  opts?: QueryOptions,
): Promise<Record<string, string>> {
  const views = new Map<string, Promise<ViewDefinition[]>>();
  const out: Record<string, string> = {};
  for (const table of tables) {
    const t = parseTableName(table, 'inputs');
    if ((await describeTable(db, t, opts)).length === 0) {
      out[table] = formatSignature({ kind: 'missing', columns: [] });
      continue;
    }
    const columns = await tableColumns(db, t, opts);
    const database = t.database ?? '';
    if (!views.has(database)) views.set(database, viewsIn(db, t.database, opts));
    const wanted = `${t.schema}.${t.name}`.toLowerCase();
    const view = (await views.get(database)!).find((v) => v.name.toLowerCase() === wanted);
    out[table] = formatSignature(
      view ? { kind: 'view', columns, definition: definitionHash(view.sql) } : { kind: 'table', columns },
    );
  }
  return out;
}

/**
 * Every schema problem of one release node before it writes: the target must exist; the transform's
 * output (planSql, refs resolved to production) must match the target's columns (outputProblems);
 * and every view reading the target must still bind against that output.
 */
export async function compatibilityProblems(
  db: Driver,
  spec: BackfillSpec,
  planSql: string,
  opts?: QueryOptions,
): Promise<CompatibilityProblem[]> {
  const table = spec.target.table;
  const t = parseTableName(table, 'target.table');
  if ((await describeTable(db, t, opts)).length === 0) {
    return [{
      path: 'target.table',
      message: `${table} does not exist; create it in a migration first (the transform's output is checked against it)`,
    }];
  }
  const problems = transformProblems(planSql);
  if (problems.length) return problems.map((p) => ({ path: 'transform', message: `the SQL ${p}` }));
  const probe = zeroRowTransform(db, spec, planSql);
  let output: Column[];
  try {
    output = await columnsOf(db, probe, opts);
  } catch (e) {
    if (!refused(e)) throw e;
    return [{
      path: 'transform',
      message: `does not run on the warehouse, so its output cannot be checked against ${table}; fix it. ` +
        `The warehouse said: ${e instanceof Error ? e.message : String(e)}`,
    }];
  }
  const found: CompatibilityProblem[] = outputProblems(
    await tableColumns(db, t, opts),
    output,
    spec.target.audit_columns,
    { table, floatIsDouble: db.dialect.floatIsDouble },
  ).map((message) => ({ path: 'transform', message }));
  for (const view of await dependentViews(db, table, opts)) {
    const problem = await viewBindProblems(db, view, table, probe, opts);
    if (problem) found.push({ path: 'target.table', message: problem });
  }
  return found;
}
