/**
 * The pure half of the schema checks a release runs before any write (warehouse/compatibility.ts):
 * how a transform's output compares with its target, input signatures and what changed between two,
 * and the few facts about SQL text the view checks need (a view's SELECT body, where it names a
 * table). No engine here: every function is unit-tested on plain values.
 *
 * Types are compared by kind and size, after folding the synonyms of both engines (INT4 = INTEGER,
 * NUMBER(p,s) = DECIMAL(p,s), TEXT = STRING = VARCHAR, TIMESTAMP_NTZ = TIMESTAMP, …). What a table's
 * readers may hold on to is its columns' names and kinds, so a transform may widen a column (INTEGER →
 * BIGINT, DECIMAL(10,2) → DECIMAL(18,2), REAL → DOUBLE, DATE → TIMESTAMP) and nothing else.
 */
import type { TableName } from './identifiers';

/** A column and its type as the engine spells it. */
export interface Column {
  name: string;
  type: string;
}

export interface TypeReading {
  /** Whether FLOAT and REAL are double precision (Snowflake) rather than 4-byte (DuckDB): Dialect.floatIsDouble. */
  floatIsDouble?: boolean;
}

type Kind = 'exact' | 'float' | 'text' | 'binary' | 'boolean' | 'date' | 'time' | 'timestamp' | 'other';

/** A type reduced to what comparisons need: its kind, canonical name and size. */
interface Shape {
  kind: Kind;
  /** Canonical name: equal names of one kind are the same type up to size. */
  name: string;
  /** exact: digits before the point; float: significant bits; text/binary: length (Infinity: unbounded). */
  size?: number;
  /** exact: digits after the point; time/timestamp: fractional-second digits when the type states them. */
  scale?: number;
}

const INTEGERS: Record<string, [string, number]> = {
  TINYINT: ['TINYINT', 3], INT1: ['TINYINT', 3],
  SMALLINT: ['SMALLINT', 5], INT2: ['SMALLINT', 5], SHORT: ['SMALLINT', 5],
  INTEGER: ['INTEGER', 10], INT: ['INTEGER', 10], INT4: ['INTEGER', 10], SIGNED: ['INTEGER', 10],
  BIGINT: ['BIGINT', 19], INT8: ['BIGINT', 19], LONG: ['BIGINT', 19],
  HUGEINT: ['HUGEINT', 39], INT128: ['HUGEINT', 39],
  UTINYINT: ['UTINYINT', 3], USMALLINT: ['USMALLINT', 5], UINTEGER: ['UINTEGER', 10],
  UBIGINT: ['UBIGINT', 20], UHUGEINT: ['UHUGEINT', 39],
};
const TEXT = new Set([
  'VARCHAR', 'TEXT', 'STRING', 'CHAR', 'CHARACTER', 'NCHAR', 'NVARCHAR', 'NVARCHAR2', 'BPCHAR', 'CHAR VARYING',
  'CHARACTER VARYING', 'NATIONAL CHARACTER VARYING',
]);
const BINARY = new Set(['BLOB', 'BYTEA', 'BINARY', 'VARBINARY']);
const TIMESTAMPS: Record<string, [string, number | undefined]> = {
  TIMESTAMP: ['TIMESTAMP', undefined], DATETIME: ['TIMESTAMP', undefined], TIMESTAMP_NTZ: ['TIMESTAMP', undefined],
  TIMESTAMPNTZ: ['TIMESTAMP', undefined], 'TIMESTAMP WITHOUT TIME ZONE': ['TIMESTAMP', undefined],
  TIMESTAMP_S: ['TIMESTAMP', 0], TIMESTAMP_MS: ['TIMESTAMP', 3], TIMESTAMP_US: ['TIMESTAMP', 6],
  TIMESTAMP_NS: ['TIMESTAMP', 9],
  // An instant with its offset (Snowflake TIMESTAMP_TZ) is not an instant shown in the session's zone (LTZ).
  TIMESTAMP_TZ: ['TIMESTAMP_TZ', undefined], TIMESTAMPTZ: ['TIMESTAMP_TZ', undefined],
  'TIMESTAMP WITH TIME ZONE': ['TIMESTAMP_TZ', undefined],
  TIMESTAMP_LTZ: ['TIMESTAMP_LTZ', undefined], TIMESTAMPLTZ: ['TIMESTAMP_LTZ', undefined],
  'TIMESTAMP WITH LOCAL TIME ZONE': ['TIMESTAMP_LTZ', undefined],
};

/** Reads a type as spelled by DuckDB or Snowflake (`decimal(18, 2)`, `NUMBER(38,0)`, `TIMESTAMP_NTZ(9)`). */
function shape(type: string, reading: TypeReading): Shape {
  const text = type.trim().toUpperCase().replace(/\s+/g, ' ');
  const m = /^([A-Z_][A-Z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/.exec(text);
  if (!m) return { kind: 'other', name: text.replace(/\s*([(),])\s*/g, '$1') };
  const base = m[1]!.trim();
  const a = m[2] === undefined ? undefined : Number(m[2]);
  const b = m[3] === undefined ? undefined : Number(m[3]);
  const integer = INTEGERS[base];
  if (integer) return { kind: 'exact', name: 'DECIMAL', size: integer[1], scale: 0 };
  if (['DECIMAL', 'NUMERIC', 'NUMBER', 'DEC'].includes(base)) {
    // Defaults: DuckDB's DECIMAL is DECIMAL(18,3), Snowflake's NUMBER is NUMBER(38,0).
    const precision = a ?? (base === 'NUMBER' ? 38 : 18);
    const scale = b ?? (a === undefined && base !== 'NUMBER' ? 3 : 0);
    return { kind: 'exact', name: 'DECIMAL', size: precision - scale, scale };
  }
  if (['DOUBLE', 'DOUBLE PRECISION', 'FLOAT8'].includes(base)) return { kind: 'float', name: 'FLOAT', size: 53 };
  if (['FLOAT', 'REAL', 'FLOAT4'].includes(base)) {
    return { kind: 'float', name: 'FLOAT', size: reading.floatIsDouble ? 53 : 24 };
  }
  if (TEXT.has(base)) return { kind: 'text', name: 'VARCHAR', size: a ?? Infinity };
  if (BINARY.has(base)) return { kind: 'binary', name: 'BINARY', size: a ?? Infinity };
  if (['BOOLEAN', 'BOOL', 'LOGICAL'].includes(base)) return { kind: 'boolean', name: 'BOOLEAN' };
  if (base === 'DATE') return { kind: 'date', name: 'DATE' };
  if (['TIME', 'TIME WITHOUT TIME ZONE'].includes(base)) return { kind: 'time', name: 'TIME', scale: a };
  if (['TIMETZ', 'TIME WITH TIME ZONE'].includes(base)) return { kind: 'time', name: 'TIMETZ', scale: a };
  const timestamp = TIMESTAMPS[base];
  if (timestamp) return { kind: 'timestamp', name: timestamp[0], scale: a ?? timestamp[1] };
  return { kind: 'other', name: text.replace(/\s*([(),])\s*/g, '$1') };
}

/** How an output type relates to the target's. */
export type TypeChange = 'same' | 'widened' | 'narrowed' | 'changed';

/** Whether `output` holds every value of `target` (widened), fewer of the same kind (narrowed), or is another type. */
export function compareTypes(target: string, output: string, reading: TypeReading = {}): TypeChange {
  const t = shape(target, reading);
  const o = shape(output, reading);
  if (t.kind === 'date' && o.kind === 'timestamp' && o.name === 'TIMESTAMP') return 'widened';
  if (t.kind === 'timestamp' && t.name === 'TIMESTAMP' && o.kind === 'date') return 'narrowed';
  if (t.kind !== o.kind || t.name !== o.name) return 'changed';
  const steps: Array<[number | undefined, number | undefined]> = [[t.size, o.size], [t.scale, o.scale]];
  let widened = false;
  for (const [was, now] of steps) {
    // A size only one side states (TIMESTAMP vs TIMESTAMP_NTZ(9)) is the same type spelled two ways.
    if (was === undefined || now === undefined || was === now) continue;
    if (now < was) return 'narrowed';
    widened = true;
  }
  return widened ? 'widened' : 'same';
}

export interface OutputCheck extends TypeReading {
  /** The target as messages name it, e.g. finance.daily_revenue. */
  table?: string;
}

const key = (name: string) => name.toLowerCase();

/**
 * What keeps a transform's output from standing in for its target: columns missing or extra,
 * renamed (a missing and an extra column of the same type at the same position), narrowed or of
 * another type. Widenings pass. Audit columns are per-run stamps (a literal backfill id), so only a
 * change of their kind is refused, not of their size. Each message names the column and what to do.
 */
export function outputProblems(
  target: readonly Column[],
  output: readonly Column[],
  audit: readonly string[] = [],
  check: OutputCheck = {},
): string[] {
  const table = check.table ?? 'the target';
  const inOutput = new Map(output.map((c) => [key(c.name), c]));
  const inTarget = new Set(target.map((c) => key(c.name)));
  const stamps = new Set(audit.map(key));
  const renamed = new Map<string, Column>();
  target.forEach((c, i) => {
    const at = output[i];
    if (inOutput.has(key(c.name)) || !at || inTarget.has(key(at.name))) return;
    const change = compareTypes(c.type, at.type, check);
    if (change === 'same' || change === 'widened') renamed.set(key(c.name), at);
  });
  const renamedTo = new Set([...renamed.values()].map((c) => key(c.name)));
  const problems: string[] = [];
  for (const c of target) {
    const to = renamed.get(key(c.name));
    if (to) {
      problems.push(
        `column ${c.name}: renamed ${c.name} → ${to.name} by the transform (same type, same position); ` +
          `alias it back (AS ${c.name}) in the transform or rename the column of ${table} in a migration first`,
      );
      continue;
    }
    const out = inOutput.get(key(c.name));
    if (!out) {
      problems.push(
        `column ${c.name}: in ${table} but not returned by the transform; select it in the transform ` +
          `(CAST(NULL AS ${c.type}) if it has no value now) or drop it from ${table} in a migration first`,
      );
      continue;
    }
    const change = compareTypes(c.type, out.type, check);
    if (change === 'changed' || (change === 'narrowed' && !stamps.has(key(c.name)))) {
      const what = change === 'narrowed' ? 'narrowed' : 'another type, not a widening';
      problems.push(
        `column ${c.name}: ${c.type} in ${table}, ${out.type} from the transform (${what}); cast it back ` +
          `(CAST(… AS ${c.type})) in the transform or change the target in a migration first`,
      );
    }
  }
  for (const c of output) {
    if (inTarget.has(key(c.name)) || renamedTo.has(key(c.name))) continue;
    problems.push(
      `column ${c.name}: returned by the transform but not in ${table}; drop it from the transform's SELECT ` +
        `or add it to ${table} in a migration first`,
    );
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// SQL text: just enough to find a view's body and the places it names a table.

type TokenKind = 'word' | 'quoted' | 'string' | 'space' | 'comment' | 'other';

interface Token {
  kind: TokenKind;
  text: string;
  /** Name of a word or quoted identifier (quotes removed). */
  value: string;
}

/** Splits SQL into tokens; strings ('…', $$…$$), quoted identifiers and comments are single tokens. */
function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number, value = '') => {
    out.push({ kind, text: sql.slice(i, end), value });
    i = end;
  };
  const closing = (quote: string, from: number) => {
    let end = from;
    for (;;) {
      end = sql.indexOf(quote, end);
      if (end === -1) return sql.length;
      if (sql[end + 1] === quote) end += 2;
      else return end + 1;
    }
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const two = sql.slice(i, i + 2);
    if (/\s/.test(c)) push('space', i + (/^\s+/.exec(sql.slice(i))![0].length));
    else if (two === '--') push('comment', sql.includes('\n', i) ? sql.indexOf('\n', i) : sql.length);
    else if (two === '/*') push('comment', sql.includes('*/', i + 2) ? sql.indexOf('*/', i + 2) + 2 : sql.length);
    else if (two === '$$') push('string', sql.includes('$$', i + 2) ? sql.indexOf('$$', i + 2) + 2 : sql.length);
    else if (c === "'") push('string', closing("'", i + 1));
    else if (c === '"') {
      const end = closing('"', i + 1);
      push('quoted', end, sql.slice(i + 1, end - 1).replace(/""/g, '"'));
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))![0];
      push('word', i + word.length, word);
    } else push('other', i + 1);
  }
  return out;
}

const significant = (t: Token) => t.kind !== 'space' && t.kind !== 'comment';
const isWord = (t: Token | undefined, ...words: string[]) =>
  t?.kind === 'word' && words.includes(t.value.toUpperCase());

/** SQL without comments, whitespace collapsed: equal for two texts that differ only in layout. */
export function normalizeSql(sql: string): string {
  return tokenize(sql).filter(significant).map((t) => t.text).join(' ');
}

/** Trims whitespace, comments and semicolons off the end, so the text nests as a subquery. */
function trimTail(tokens: Token[]): Token[] {
  let end = tokens.length;
  while (end > 0 && (!significant(tokens[end - 1]!) || tokens[end - 1]!.text === ';')) end -= 1;
  let start = 0;
  while (start < end && !significant(tokens[start]!)) start += 1;
  return tokens.slice(start, end);
}

/**
 * The SELECT of a view definition: the text after the top-level AS of `CREATE … VIEW name [(cols)]
 * [COPY GRANTS] [COMMENT = '…'] AS …` (DuckDB and Snowflake keep the whole statement), or the text
 * itself when it is already a query; without a trailing `;` or comment.
 */
export function viewBody(definition: string): string {
  const tokens = trimTail(tokenize(definition));
  const first = tokens.find(significant);
  if (!isWord(first, 'CREATE')) return tokens.map((t) => t.text).join('');
  let depth = 0;
  let seenView = false;
  for (const [i, t] of tokens.entries()) {
    if (t.text === '(') depth += 1;
    else if (t.text === ')') depth -= 1;
    else if (depth === 0 && isWord(t, 'VIEW')) seenView = true;
    else if (depth === 0 && seenView && isWord(t, 'AS')) {
      return trimTail(tokens.slice(i + 1)).map((x) => x.text).join('');
    }
  }
  return tokens.map((t) => t.text).join('');
}

/** Words that may follow a table reference in FROM without being its alias. */
const NOT_ALIAS = new Set([
  'WHERE', 'GROUP', 'ORDER', 'HAVING', 'QUALIFY', 'WINDOW', 'LIMIT', 'OFFSET', 'FETCH', 'UNION', 'INTERSECT', 'EXCEPT',
  'MINUS', 'JOIN', 'INNER', 'LEFT', 'RIGHT', 'FULL', 'CROSS', 'NATURAL', 'OUTER', 'ON', 'USING', 'ASOF', 'POSITIONAL',
  'ANTI', 'SEMI', 'LATERAL', 'SAMPLE', 'TABLESAMPLE', 'PIVOT', 'UNPIVOT', 'MATCH_RECOGNIZE', 'AT', 'BEFORE', 'CHANGES',
  'CONNECT', 'START', 'WITH', 'RETURNING', 'SET', 'VALUES', 'SELECT', 'FROM', 'AND', 'OR', 'THEN', 'WHEN', 'ELSE',
  'END', 'IN', 'IS', 'NOT', 'BETWEEN', 'LIKE', 'ILIKE', 'FOR',
]);

/** A dotted name in SQL text: token indexes [start, end) and its parts. */
interface NameChain {
  start: number;
  end: number;
  parts: string[];
  /** Index of the first significant token after it, or tokens.length. */
  next: number;
}

function nextSignificant(tokens: Token[], from: number): number {
  let i = from;
  while (i < tokens.length && !significant(tokens[i]!)) i += 1;
  return i;
}

/** Every dotted name (a, a.b, "a"."b".c) that is not part of a longer one or a function call's name. */
function nameChains(tokens: Token[]): NameChain[] {
  const chains: NameChain[] = [];
  let previous: Token | undefined;
  for (let i = 0; i < tokens.length; ) {
    const t = tokens[i]!;
    if ((t.kind === 'word' || t.kind === 'quoted') && previous?.text !== '.') {
      const parts = [t.value];
      let end = i + 1;
      for (;;) {
        const dot = nextSignificant(tokens, end);
        if (tokens[dot]?.text !== '.') break;
        const part = nextSignificant(tokens, dot + 1);
        const p = tokens[part];
        if (p?.kind !== 'word' && p?.kind !== 'quoted') break;
        parts.push(p.value);
        end = part + 1;
      }
      const next = nextSignificant(tokens, end);
      if (tokens[next]?.text !== '.' && tokens[next]?.text !== '(') chains.push({ start: i, end, parts, next });
      previous = tokens[end - 1];
      i = end;
      continue;
    }
    if (significant(t)) previous = t;
    i += 1;
  }
  return chains;
}

/**
 * Whether a dotted name is `table`: schema.table, or database.schema.table in `database` (the
 * table's own, else the session's), compared case-insensitively, quoted or not.
 */
function namesTable(parts: string[], table: TableName, database: string | null): boolean {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const [schema, name] = parts.slice(-2);
  if (parts.length < 2 || parts.length > 3 || !same(schema!, table.schema) || !same(name!, table.name)) return false;
  const db = table.database ?? database;
  return parts.length === 2 || db === null || same(parts[0]!, db);
}

/** Whether `sql` names `table` as a whole identifier (not finance.daily_revenue_v2 for finance.daily_revenue). */
export function referencesTable(sql: string, table: TableName, database: string | null = null): boolean {
  return nameChains(tokenize(sql)).some((c) => namesTable(c.parts, table, database));
}

/**
 * `sql` with every reference to `table` replaced by `replacement` (a parenthesized query); a
 * reference without an alias gets `AS <alias>`, so `daily_revenue.col` still resolves. Null when
 * `sql` does not name the table.
 */
export function replaceTable(
  sql: string,
  table: TableName,
  replacement: string,
  alias: string,
  database: string | null = null,
): string | null {
  const tokens = tokenize(sql);
  const chains = nameChains(tokens).filter((c) => namesTable(c.parts, table, database));
  if (!chains.length) return null;
  let out = '';
  let at = 0;
  for (const c of chains) {
    const next = tokens[c.next];
    const aliased = isWord(next, 'AS') || next?.kind === 'quoted' ||
      (next?.kind === 'word' && !NOT_ALIAS.has(next.value.toUpperCase()));
    out += tokens.slice(at, c.start).map((t) => t.text).join('') + replacement + (aliased ? '' : ` AS ${alias}`);
    at = c.end;
  }
  return out + tokens.slice(at).map((t) => t.text).join('');
}

// ---------------------------------------------------------------------------------------------
// Input signatures: what a release froze about the tables it reads.

/** A table's or view's signature, parsed back. */
export interface Signature {
  kind: 'table' | 'view' | 'missing';
  columns: Column[];
  /** A view's definition, hashed (warehouse/compatibility.ts). */
  definition?: string;
}

const plainName = (name: string) => /^[A-Za-z_][A-Za-z0-9_$]*$/.test(name);
const columnText = (c: Column) =>
  `${plainName(c.name) ? c.name : `"${c.name.replace(/"/g, '""')}"`} ${c.type.trim().replace(/\s+/g, ' ')}`;

/**
 * Stable text for a signature: `missing`, `table: a DATE; b DECIMAL(18,2)` or
 * `view <definition hash>: a DATE; …` (columns in order, as the engine spells their types).
 */
export function formatSignature(s: Signature): string {
  if (s.kind === 'missing') return 'missing';
  const head = s.kind === 'view' ? `view ${s.definition ?? ''}` : 'table';
  return `${head}: ${s.columns.map(columnText).join('; ')}`;
}

export function parseSignature(text: string): Signature {
  if (text === 'missing') return { kind: 'missing', columns: [] };
  const m = /^(table|view ([^:]*)): ?(.*)$/s.exec(text);
  if (!m) return { kind: 'table', columns: [{ name: '?', type: text }] };
  const columns: Column[] = [];
  const body = m[3]!;
  let i = 0;
  while (i < body.length) {
    let name: string;
    if (body[i] === '"') {
      let end = i + 1;
      while (end < body.length && !(body[end] === '"' && body[end + 1] !== '"')) end += body[end] === '"' ? 2 : 1;
      name = body.slice(i + 1, end).replace(/""/g, '"');
      i = end + 2;
    } else {
      const space = body.indexOf(' ', i);
      name = body.slice(i, space === -1 ? body.length : space);
      i = space === -1 ? body.length : space + 1;
    }
    let depth = 0;
    let end = i;
    while (end < body.length && !(depth === 0 && body.startsWith('; ', end))) {
      if (body[end] === '(') depth += 1;
      if (body[end] === ')') depth -= 1;
      end += 1;
    }
    columns.push({ name, type: body.slice(i, end) });
    i = end + 2;
  }
  return m[2] === undefined ? { kind: 'table', columns } : { kind: 'view', columns, definition: m[2] };
}

/**
 * What changed per table between two sets of signatures (inputSignature), e.g.
 * `staging.revenue_events: column tax_amount DECIMAL(18,2) → DOUBLE; column fx added`,
 * `finance.v: view redefined`, `staging.x: table dropped`. Empty when nothing did.
 */
export function signatureChanges(before: Record<string, string>, after: Record<string, string>): string[] {
  const out: string[] = [];
  for (const table of [...new Set([...Object.keys(before), ...Object.keys(after)])]) {
    const was = before[table];
    const now = after[table];
    if (was === now) continue;
    if (was === undefined || now === undefined) {
      out.push(`${table}: ${was === undefined ? 'not among the inputs before' : 'no longer among the inputs'}`);
      continue;
    }
    const a = parseSignature(was);
    const b = parseSignature(now);
    const changes: string[] = [];
    if (b.kind === 'missing') changes.push(`${a.kind} dropped`);
    else if (a.kind === 'missing') changes.push(`${b.kind} created`);
    else {
      if (a.kind !== b.kind) changes.push(`${a.kind} replaced by a ${b.kind}`);
      else if (a.kind === 'view' && a.definition !== b.definition) changes.push('view redefined');
      const nowColumns = new Map(b.columns.map((c) => [key(c.name), c]));
      const beforeNames = new Set(a.columns.map((c) => key(c.name)));
      for (const c of a.columns) {
        const n = nowColumns.get(key(c.name));
        if (!n) changes.push(`column ${c.name} dropped`);
        else if (n.type !== c.type) changes.push(`column ${c.name} ${c.type} → ${n.type}`);
      }
      for (const c of b.columns) if (!beforeNames.has(key(c.name))) changes.push(`column ${c.name} added`);
      const order = (cs: Column[], keep: Set<string>) => cs.map((c) => key(c.name)).filter((n) => keep.has(n)).join();
      const common = new Set(a.columns.map((c) => key(c.name)).filter((n) => nowColumns.has(n)));
      if (order(a.columns, common) !== order(b.columns, common)) changes.push('columns reordered');
    }
    out.push(`${table}: ${changes.length ? changes.join('; ') : 'signature changed'}`);
  }
  return out;
}
