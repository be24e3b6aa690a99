/**
 * Snowflake SQL → what the emulator runs on DuckDB. Each statement is parsed just far enough to
 * know its kind (the statement log and the transaction rules depend on it), the tables it writes,
 * and to rewrite the Snowflake-only parts into DuckDB. Anything not understood is refused with a
 * Snowflake-style compilation error: running it with DuckDB's semantics would make a test pass
 * that real Snowflake fails (or the other way round).
 *
 * Functions are allow-listed: only those that mean the same in both engines pass through
 * unchanged (GREATEST, CONCAT and FILTER, for example, treat NULL differently or do not exist in
 * Snowflake, so they are refused).
 */
import {
  bindNotSet,
  invalidIdentifier,
  notTranslated,
  objectMissing,
  statementCount,
  syntaxError,
} from './sql-errors';
import {
  closingParen,
  isOp,
  isWord,
  joinSql,
  quoteIdent,
  quoteString,
  splitStatements,
  splitTopLevel,
  tokenize,
  type Token,
} from './sql-tokens';

export type StatementKind = 'select' | 'dml' | 'ddl' | 'tcl' | 'session';

/** A table as Snowflake resolves it: names folded to upper case, database already checked. */
export interface TableRef {
  schema: string | null;
  name: string;
}

export type SessionSetting =
  { name: 'QUERY_TAG'; value: string | null } | { name: 'STATEMENT_TIMEOUT_IN_SECONDS'; value: number | null };

export type Action =
  | { type: 'query'; sql: string }
  | { type: 'dml'; verb: 'inserted' | 'deleted' | 'updated' | 'merged'; sql: string }
  | { type: 'insert-overwrite'; deleteSql: string; insertSql: string }
  | {
      type: 'ddl';
      sql: string;
      status: string;
      /** CREATE VIEW: the statement as sent, which INFORMATION_SCHEMA.VIEWS shows as VIEW_DEFINITION. */
      viewText?: { view: TableRef; text: string; ifNotExists: boolean };
    }
  | {
      type: 'create-copy';
      target: TableRef;
      source: TableRef;
      withData: boolean;
      ifNotExists: boolean;
      orReplace: boolean;
    }
  | { type: 'swap'; a: TableRef; b: TableRef }
  | { type: 'begin' | 'commit' | 'rollback' }
  | { type: 'session'; settings: SessionSetting[] }
  | { type: 'show-tables'; like: string | null; schema: string | null }
  | { type: 'explain'; sql: string };

export interface Translation {
  kind: StatementKind;
  /** Snowflake's statementTypeId (the driver reads DML row counts only for 0x3xxx). */
  statementTypeId: number;
  action: Action;
  /** Tables (and schemas) the statement writes, as SCHEMA.NAME. */
  writes: string[];
  /** Tables a DELETE/UPDATE locks until its transaction ends, as SCHEMA.NAME. */
  locks: string[];
  /** Quoted aliases (`AS "row_count"`): Snowflake keeps their case in result column names. */
  quotedAliases: Set<string>;
  /** Highest bind index the DuckDB text uses ($1..$N). */
  maxBind: number;
  /** Table properties Snowflake reports in SHOW TABLES (TRANSIENT, DATA_RETENTION_TIME_IN_DAYS). */
  tableProperties?: { table: string; transient: boolean; retentionDays: number | null };
}

export interface TranslateContext {
  /** The session's database (login databaseName), folded to upper case; three-part names must name it. */
  database: string | null;
  /** The session's schema, for naming the writes of unqualified tables in the log. */
  schema: string | null;
  /** Number of bind values sent with the statement. */
  bindCount: number;
}

export const STATEMENT_TYPE = {
  select: 0x1000,
  insert: 0x3100,
  update: 0x3200,
  delete: 0x3300,
  merge: 0x3400,
  scl: 0x4000,
  tcl: 0x5000,
  ddl: 0x6000,
} as const;

/** Words that may precede "(" without being a function call. */
const KEYWORDS = new Set([
  'SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'IN', 'EXISTS', 'AS', 'ON', 'USING', 'VALUES', 'OVER', 'JOIN', 'BY',
  'HAVING', 'ALL', 'ANY', 'SOME', 'DISTINCT', 'UNION', 'INTERSECT', 'EXCEPT', 'MINUS', 'WHEN', 'THEN', 'ELSE', 'CASE',
  'IS', 'LIKE', 'ILIKE', 'BETWEEN', 'INTO', 'SET', 'LIMIT', 'OFFSET', 'QUALIFY', 'WITH', 'PARTITION', 'ORDER', 'GROUP',
  'INNER', 'LEFT', 'RIGHT', 'FULL', 'OUTER', 'CROSS', 'NATURAL', 'WITHIN', 'END',
]);

/** Words whose Snowflake meaning DuckDB does not share, refused wherever they appear. */
const REFUSED_WORDS: Record<string, string> = {
  LATERAL: 'LATERAL',
  SAMPLE: 'SAMPLE',
  TABLESAMPLE: 'TABLESAMPLE',
  PIVOT: 'PIVOT',
  UNPIVOT: 'UNPIVOT',
  MATCH_RECOGNIZE: 'MATCH_RECOGNIZE',
};

/** Words refused when "(" follows them (as plain names they are harmless). */
const REFUSED_CALLS: Record<string, string> = {
  TABLE: 'table functions (TABLE(...))',
  AT: 'Time Travel (AT/BEFORE)',
  BEFORE: 'Time Travel (AT/BEFORE)',
  CHANGES: 'CHANGES',
};

const REFUSED_OPS: Record<string, string> = {
  '=>': 'named arguments (=>)',
  ':': 'semi-structured path access (col:field) and named binds',
  '[': 'bracket access ([...]): DuckDB lists are 1-based, Snowflake arrays 0-based',
  ']': 'bracket access ([...])',
  '{': 'object constants ({...})',
  '}': 'object constants ({...})',
  '->': 'lambda expressions (->)',
  '@': 'stage references (@stage)',
};

/** Functions whose meaning is the same in Snowflake and DuckDB for the arguments we pass. */
const SAME_FUNCTIONS = new Set([
  'COUNT', 'SUM', 'MIN', 'MAX', 'AVG', 'COALESCE', 'NULLIF', 'ABS', 'ROUND', 'FLOOR', 'CEIL', 'LOWER', 'UPPER',
  'LENGTH', 'TRIM', 'LTRIM', 'RTRIM', 'SUBSTR', 'SUBSTRING', 'REPLACE', 'ROW_NUMBER', 'RANK', 'DENSE_RANK', 'LAG',
  'LEAD', 'MOD', 'SIGN', 'SQRT', 'ANY_VALUE',
]);

const DATE_PARTS = new Set(['YEAR', 'QUARTER', 'MONTH', 'WEEK', 'DAY', 'HOUR', 'MINUTE', 'SECOND']);

/**
 * INFORMATION_SCHEMA.COLUMNS as Snowflake shows it: names upper case (unquoted names are stored
 * upper case) and Snowflake's type names (NUMBER, TEXT, TIMESTAMP_NTZ, ...).
 */
const COLUMNS_VIEW =
  `(SELECT UPPER(table_catalog) AS TABLE_CATALOG, UPPER(table_schema) AS TABLE_SCHEMA, UPPER(table_name) AS TABLE_NAME,
  UPPER(column_name) AS COLUMN_NAME, ordinal_position AS ORDINAL_POSITION, column_default AS COLUMN_DEFAULT,
  is_nullable AS IS_NULLABLE,
  CASE WHEN data_type LIKE 'DECIMAL%'
         OR data_type IN ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT',
                          'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT') THEN 'NUMBER'
       WHEN data_type IN ('DOUBLE', 'FLOAT', 'REAL') THEN 'FLOAT'
       WHEN data_type = 'VARCHAR' THEN 'TEXT'
       WHEN data_type = 'TIMESTAMP' THEN 'TIMESTAMP_NTZ'
       WHEN data_type = 'TIMESTAMP WITH TIME ZONE' THEN 'TIMESTAMP_LTZ'
       WHEN data_type = 'BLOB' THEN 'BINARY'
       ELSE data_type END AS DATA_TYPE,
  numeric_precision AS NUMERIC_PRECISION, numeric_scale AS NUMERIC_SCALE
  FROM information_schema.columns)`.replace(/\s+/g, ' ');

/**
 * INFORMATION_SCHEMA.VIEWS as Snowflake shows it: names upper case, VIEW_DEFINITION the CREATE VIEW
 * statement as it was sent (kept as the DuckDB view's comment; DuckDB's own text for a view created
 * on the backing database directly).
 */
const VIEWS_VIEW =
  `(SELECT UPPER(database_name) AS TABLE_CATALOG, UPPER(schema_name) AS TABLE_SCHEMA, UPPER(view_name) AS TABLE_NAME,
  coalesce(comment, sql) AS VIEW_DEFINITION, 'NO' AS IS_SECURE
  FROM duckdb_views() WHERE NOT internal)`.replace(/\s+/g, ' ');

const INFORMATION_SCHEMA: Record<string, string> = { COLUMNS: COLUMNS_VIEW, VIEWS: VIEWS_VIEW };

const TWO_POW_64 = "CAST('18446744073709551616' AS HUGEINT)";
const TWO_POW_63 = "CAST('9223372036854775808' AS HUGEINT)";

/**
 * HASH_AGG: an order-independent hash of the rows, as a signed 64-bit number like Snowflake's,
 * and 0 over no rows. The values never equal Snowflake's (different row hash), so they are only
 * comparable with each other, which is all a fingerprint needs.
 */
function signedHash(unsigned: string): string {
  return `CAST(CASE WHEN ${unsigned} >= ${TWO_POW_63} THEN CAST(${unsigned} AS HUGEINT) - ${TWO_POW_64} ELSE ` +
    `${unsigned} END AS BIGINT)`;
}

function hashAgg(args: string): string {
  const sum = `COALESCE(SUM(CAST(hash(${args}) AS HUGEINT)), 0)`;
  const unsigned = `((${sum} % ${TWO_POW_64} + ${TWO_POW_64}) % ${TWO_POW_64})`;
  return `CAST(CASE WHEN ${unsigned} >= ${TWO_POW_63} THEN ${unsigned} - ${TWO_POW_64} ELSE ${unsigned} END AS BIGINT)`;
}

/** A Snowflake date/time format as a strftime format; refuses elements it does not know. */
export function strftimeFormat(format: string): string {
  const elements: Array<[string, string]> = [
    ['YYYY', '%Y'],
    ['YY', '%y'],
    ['MON', '%b'],
    ['MM', '%m'],
    ['DD', '%d'],
    ['DY', '%a'],
    ['HH24', '%H'],
    ['HH12', '%I'],
    ['HH', '%H'],
    ['MI', '%M'],
    ['SS', '%S'],
    ['FF9', '%n'],
    ['FF6', '%f'],
    ['FF3', '%g'],
    ['AM', '%p'],
    ['PM', '%p'],
  ];
  let out = '';
  for (let i = 0; i < format.length; ) {
    const rest = format.slice(i).toUpperCase();
    const element = elements.find(([e]) => rest.startsWith(e));
    if (element) {
      out += element[1];
      i += element[0].length;
    } else if (format[i] === '"') {
      const end = format.indexOf('"', i + 1);
      if (end === -1) throw syntaxError(`unterminated literal in format '${format}'`);
      out += format.slice(i + 1, end).replace(/%/g, '%%');
      i = end + 1;
    } else if ('-:/ .,_0123456789'.includes(format[i]!)) {
      out += format[i];
      i += 1;
    } else {
      throw notTranslated(`the format element at '${format.slice(i)}' in '${format}'`);
    }
  }
  return out;
}

interface NamePart {
  name: string;
  quoted: boolean;
}

class Cursor {
  constructor(
    readonly tokens: Token[],
    public i = 0,
  ) {}

  peek(k = 0): Token | undefined {
    return this.tokens[this.i + k];
  }

  get done(): boolean {
    return this.i >= this.tokens.length;
  }

  word(...words: string[]): boolean {
    if (!isWord(this.peek(), ...words)) return false;
    this.i += 1;
    return true;
  }

  expectWord(...words: string[]): void {
    if (!this.word(...words)) {
      throw syntaxError(`expected ${words.join(' or ')} at '${this.peek()?.text ?? 'end of statement'}'`);
    }
  }

  op(op: string): boolean {
    if (!isOp(this.peek(), op)) return false;
    this.i += 1;
    return true;
  }

  rest(): Token[] {
    const out = this.tokens.slice(this.i);
    this.i = this.tokens.length;
    return out;
  }

  /** Tokens up to (not including) the parenthesis that closes the "(" at the cursor; cursor moves past it. */
  parenthesized(): Token[] {
    if (!isOp(this.peek(), '(')) throw syntaxError(`expected ( at '${this.peek()?.text ?? 'end of statement'}'`);
    const close = closingParen(this.tokens, this.i);
    const inner = this.tokens.slice(this.i + 1, close);
    this.i = close + 1;
    return inner;
  }

  names(): NamePart[] {
    const parts: NamePart[] = [];
    do {
      const t = this.peek();
      if (t?.type === 'word') parts.push({ name: t.text.toUpperCase(), quoted: false });
      else if (t?.type === 'qident') parts.push({ name: t.value, quoted: true });
      else throw syntaxError(`expected a name at '${t?.text ?? 'end of statement'}'`);
      this.i += 1;
    } while (this.op('.'));
    return parts;
  }

  string(): string {
    const t = this.peek();
    if (t?.type !== 'string') throw syntaxError(`expected a string literal at '${t?.text ?? 'end of statement'}'`);
    this.i += 1;
    return t.value;
  }

  expectEnd(what: string): void {
    if (!this.done) {
      throw notTranslated(`${what} followed by '${this.tokens.slice(this.i).map((t) => t.text).join(' ')}'`);
    }
  }
}

const hasLowerCase = (s: string) => s !== s.toUpperCase();

/** Renders the Snowflake expression language (queries, predicates, values) as DuckDB text. */
class Renderer {
  maxBind = 0;
  private qmarks = 0;

  constructor(
    private readonly ctx: TranslateContext,
    private readonly aliases: Set<string>,
  ) {}

  bind(index: number): string {
    if (index < 1 || index > this.ctx.bindCount) throw bindNotSet(index);
    this.maxBind = Math.max(this.maxBind, index);
    return `$${index}`;
  }

  /** Reads a type name (with arguments) at tokens[i]; returns DuckDB's type and the index after it. */
  type(tokens: Token[], i: number): [string, number] {
    const first = tokens[i];
    if (first?.type !== 'word') throw syntaxError(`expected a type at '${first?.text ?? 'end'}'`);
    let name = first.text.toUpperCase();
    let j = i + 1;
    const follows = (...words: string[]) => isWord(tokens[j], ...words);
    if (name === 'DOUBLE' && follows('PRECISION')) {
      name += ' PRECISION';
      j += 1;
    } else if ((name === 'CHAR' || name === 'CHARACTER') && follows('VARYING')) {
      name = 'VARCHAR';
      j += 1;
    } else if (name === 'TIMESTAMP' && follows('WITH', 'WITHOUT')) {
      while (follows('WITH', 'WITHOUT', 'LOCAL', 'TIME', 'ZONE')) name += ` ${tokens[j++]!.text.toUpperCase()}`;
    }
    const args: number[] = [];
    if (isOp(tokens[j], '(')) {
      const close = closingParen(tokens, j);
      for (const arg of splitTopLevel(tokens.slice(j + 1, close))) {
        if (arg.length !== 1 || arg[0]!.type !== 'number') throw syntaxError(`bad type arguments for ${name}`);
        args.push(Number(arg[0]!.text));
      }
      j = close + 1;
    }
    return [duckDbType(name, args), j];
  }

  /** Renders an identifier chain (a, a.b, a.b.c, a.*) starting at tokens[i]. */
  private chain(tokens: Token[], i: number): [string, number] {
    const parts: Token[] = [tokens[i]!];
    let j = i + 1;
    while (
      isOp(tokens[j], '.') &&
      (tokens[j + 1]?.type === 'word' || tokens[j + 1]?.type === 'qident' || isOp(tokens[j + 1], '*'))
    ) {
      parts.push(tokens[j + 1]!);
      j += 2;
    }
    const afterAs = isWord(tokens[i - 1], 'AS');
    for (const p of parts) {
      // Snowflake stores unquoted names upper case, so a quoted lower-case name only matches a
      // quoted lower-case alias; every object here was created unquoted or upper case.
      if (p.type === 'qident' && hasLowerCase(p.value) && !afterAs && !this.aliases.has(p.value)) {
        throw invalidIdentifier(`"${p.value}"`);
      }
    }
    const upper = (t: Token) => (t.type === 'qident' ? t.value : t.text.toUpperCase());
    if ((parts.length >= 3 && upper(parts[1]!) === 'INFORMATION_SCHEMA') || parts.length >= 4) {
      // DATABASE.INFORMATION_SCHEMA.X or database.schema.table.column: the database must be the session's.
      if (upper(parts[0]!) !== this.ctx.database) throw objectMissing(upper(parts[0]!));
      parts.shift();
    } else if (parts.length === 3 && this.ctx.database && upper(parts[0]!) === this.ctx.database) {
      parts.shift();
    } else if (parts.length === 3 && isWord(tokens[i - 1], 'FROM', 'JOIN')) {
      // database.schema.table of another database (after FROM it cannot be schema.table.column)
      throw objectMissing(parts.map(upper).join('.'));
    }
    if (parts.length === 2 && upper(parts[0]!) === 'INFORMATION_SCHEMA') {
      const view = INFORMATION_SCHEMA[upper(parts[1]!)];
      if (!view) throw notTranslated(`INFORMATION_SCHEMA.${upper(parts[1]!)}`);
      const next = tokens[j];
      const aliased =
        isWord(next, 'AS') ||
        (next?.type === 'word' && !KEYWORDS.has(next.text.toUpperCase())) ||
        next?.type === 'qident';
      return [aliased ? view : `${view} AS ${upper(parts[1]!)}`, j];
    }
    if (isOp(tokens[j], '(') && !afterAs) {
      throw notTranslated(`schema-qualified functions (${parts.map((p) => p.text).join('.')}(...))`);
    }
    const text = parts.map((p) => (p.type === 'qident' ? quoteIdent(p.value) : p.text)).join('.');
    return [text, j];
  }

  render(tokens: Token[]): string {
    const pieces: string[] = [];
    for (let i = 0; i < tokens.length; ) {
      const t = tokens[i]!;
      switch (t.type) {
        case 'string':
          pieces.push(quoteString(t.value));
          i += 1;
          break;
        case 'number':
          pieces.push(t.text);
          i += 1;
          break;
        case 'bind':
          pieces.push(this.bind(Number(t.value)));
          i += 1;
          break;
        case 'qmark':
          pieces.push(this.bind(++this.qmarks));
          i += 1;
          break;
        case 'semicolon':
          throw statementCount(2);
        case 'op': {
          if (t.text.startsWith('$')) throw notTranslated(`positional column references (${t.text})`);
          const refused = REFUSED_OPS[t.text];
          if (refused) throw notTranslated(refused);
          if (t.text === '::') {
            const [type, next] = this.type(tokens, i + 1);
            pieces.push(`::${type}`);
            i = next;
          } else {
            pieces.push(t.text);
            i += 1;
          }
          break;
        }
        case 'word':
        case 'qident': {
          const upper = t.text.toUpperCase();
          if (t.type === 'word') {
            const refused = REFUSED_WORDS[upper] ?? (isOp(tokens[i + 1], '(') ? REFUSED_CALLS[upper] : undefined);
            if (refused) throw notTranslated(refused);
            if (upper === 'CONNECT' && isWord(tokens[i + 1], 'BY')) throw notTranslated('CONNECT BY');
          }
          if (
            t.type === 'word' &&
            isOp(tokens[i + 1], '(') &&
            !isWord(tokens[i - 1], 'AS') &&
            !isOp(tokens[i - 1], '.')
          ) {
            if (KEYWORDS.has(upper)) {
              pieces.push(upper === 'MINUS' ? 'EXCEPT' : t.text);
              i += 1;
            } else {
              const close = closingParen(tokens, i + 1);
              pieces.push(this.call(upper, tokens.slice(i + 2, close)));
              i = close + 1;
            }
          } else if (t.type === 'word' && upper === 'MINUS') {
            pieces.push('EXCEPT');
            i += 1;
          } else {
            const [text, next] = this.chain(tokens, i);
            pieces.push(text);
            i = next;
          }
          break;
        }
      }
    }
    return joinSql(pieces);
  }

  private args(inner: Token[]): Token[][] {
    return inner.length === 0 ? [] : splitTopLevel(inner);
  }

  private call(name: string, inner: Token[]): string {
    const args = this.args(inner);
    const list = () => args.map((a) => this.render(a)).join(', ');
    switch (name) {
      case 'CAST':
      case 'TRY_CAST': {
        let depth = 0;
        let as = -1;
        inner.forEach((t, k) => {
          if (isOp(t, '(')) depth += 1;
          if (isOp(t, ')')) depth -= 1;
          if (depth === 0 && isWord(t, 'AS')) as = k;
        });
        if (as < 0) throw syntaxError(`${name} without AS`);
        const [type, end] = this.type(inner, as + 1);
        if (end !== inner.length) throw syntaxError(`unexpected '${inner[end]!.text}' after the type in ${name}`);
        return `${name}(${this.render(inner.slice(0, as))} AS ${type})`;
      }
      case 'HASH':
        // Snowflake's HASH is a signed 64-bit number; DuckDB's hash is unsigned.
        if (args.length === 0 || args.some((a) => a.length === 1 && isOp(a[0], '*'))) {
          throw notTranslated('HASH(*); list the columns');
        }
        return signedHash(`hash(${list()})`);
      case 'HASH_AGG':
        if (args.length === 0 || isWord(inner[0], 'DISTINCT') || args.some((a) => a.length === 1 && isOp(a[0], '*'))) {
          throw notTranslated('HASH_AGG(*) and HASH_AGG(DISTINCT ...); list the columns');
        }
        return hashAgg(list());
      case 'COUNT':
        if (isWord(inner[0], 'DISTINCT') && args.length > 1) {
          // Snowflake's COUNT(DISTINCT a, b) skips rows where any of them is NULL.
          const columns = [args[0]!.slice(1), ...args.slice(1)].map((a) => this.render(a));
          return `COUNT(DISTINCT CASE WHEN ${columns.map((c) => `${c} IS NOT NULL`).join(' AND ')} THEN ` +
            `row(${columns.join(', ')}) END)`;
        }
        return `COUNT(${this.render(inner)})`;
      case 'TO_VARCHAR':
      case 'TO_CHAR': {
        if (args.length === 1) return `CAST(${list()} AS VARCHAR)`;
        const format = args[1];
        if (args.length === 2 && format?.length === 1 && format[0]!.type === 'string') {
          return `strftime(${this.render(args[0]!)}, ${quoteString(strftimeFormat(format[0]!.value))})`;
        }
        throw notTranslated(`${name} with a format that is not a date/time literal`);
      }
      case 'TO_DATE':
        if (args.length !== 1) throw notTranslated('TO_DATE with a format');
        return `CAST(${list()} AS DATE)`;
      case 'DATE_TRUNC': {
        const part = args[0];
        const text =
          part?.length === 1 ? (part[0]!.type === 'string' ? part[0]!.value : part[0]!.text).toUpperCase() : '';
        if (args.length !== 2 || !DATE_PARTS.has(text)) {
          throw notTranslated(`DATE_TRUNC part '${part?.map((p) => p.text).join(' ') ?? ''}'`);
        }
        // DuckDB's date_trunc of a DATE is a TIMESTAMP where Snowflake keeps DATE; the dialect
        // only uses it inside TO_CHAR, where that does not show.
        return `date_trunc(${quoteString(text.toLowerCase())}, ${this.render(args[1]!)})`;
      }
      case 'IFF':
        if (args.length !== 3) throw syntaxError('IFF takes three arguments');
        return `(CASE WHEN ${this.render(args[0]!)} THEN ${this.render(args[1]!)} ELSE ${this.render(args[2]!)} END)`;
      case 'CURRENT_TIMESTAMP':
      case 'CURRENT_DATE':
        if (args.length !== 0) throw notTranslated(`${name} with a precision`);
        return name;
      case 'CURRENT_DATABASE':
        // The session's database as Snowflake names it (upper case), not the backing DuckDB catalog.
        if (args.length !== 0) throw syntaxError('CURRENT_DATABASE takes no arguments');
        return this.ctx.database === null ? 'NULL' : quoteString(this.ctx.database);
      default:
        if (!SAME_FUNCTIONS.has(name)) throw notTranslated(`the function ${name}`);
        return `${name}(${this.render(inner)})`;
    }
  }
}

function duckDbType(name: string, args: number[]): string {
  switch (name) {
    case 'NUMBER':
    case 'NUMERIC':
    case 'DECIMAL':
    case 'DEC':
      return `DECIMAL(${args[0] ?? 38}, ${args[1] ?? 0})`;
    case 'INT':
    case 'INTEGER':
    case 'BIGINT':
    case 'SMALLINT':
    case 'TINYINT':
    case 'BYTEINT':
      return 'BIGINT';
    case 'FLOAT':
    case 'FLOAT4':
    case 'FLOAT8':
    case 'DOUBLE':
    case 'DOUBLE PRECISION':
    case 'REAL':
      return 'DOUBLE';
    case 'VARCHAR':
    case 'STRING':
    case 'TEXT':
    case 'CHAR':
    case 'CHARACTER':
    case 'NCHAR':
    case 'NVARCHAR':
      return 'VARCHAR';
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'DATE':
      return 'DATE';
    case 'TIME':
      return 'TIME';
    case 'TIMESTAMP':
    case 'TIMESTAMP_NTZ':
    case 'TIMESTAMPNTZ':
    case 'DATETIME':
    case 'TIMESTAMP WITHOUT TIME ZONE':
      return 'TIMESTAMP';
    case 'TIMESTAMP_LTZ':
    case 'TIMESTAMPLTZ':
    case 'TIMESTAMP_TZ':
    case 'TIMESTAMPTZ':
    case 'TIMESTAMP WITH TIME ZONE':
    case 'TIMESTAMP WITH LOCAL TIME ZONE':
      return 'TIMESTAMPTZ';
    case 'BINARY':
    case 'VARBINARY':
      return 'BLOB';
    default:
      throw notTranslated(`the type ${name}`);
  }
}

function collectQuotedAliases(tokens: Token[]): Set<string> {
  const out = new Set<string>();
  tokens.forEach((t, i) => {
    if (t.type === 'qident' && isWord(tokens[i - 1], 'AS')) out.add(t.value);
  });
  return out;
}

class StatementTranslator {
  readonly renderer: Renderer;
  readonly aliases: Set<string>;

  constructor(
    private readonly tokens: Token[],
    private readonly ctx: TranslateContext,
    /** The request's SQL text, which the tokens' positions index. */
    private readonly source: string,
  ) {
    this.aliases = collectQuotedAliases(tokens);
    this.renderer = new Renderer(ctx, this.aliases);
  }

  private result(
    kind: StatementKind,
    statementTypeId: number,
    action: Action,
    extra: Partial<Translation> = {},
  ): Translation {
    return {
      kind,
      statementTypeId,
      action,
      writes: [],
      locks: [],
      quotedAliases: this.aliases,
      maxBind: this.renderer.maxBind,
      ...extra,
    };
  }

  /** A table name, checked against the session database; `creating` refuses case-sensitive names. */
  private table(c: Cursor, creating = false): TableRef {
    const parts = c.names();
    for (const p of parts) {
      if (p.quoted && hasLowerCase(p.name)) {
        if (creating) throw notTranslated(`case-sensitive (quoted lower-case) object names like "${p.name}"`);
        throw objectMissing(`"${p.name}"`);
      }
    }
    if (parts.length === 3) {
      if (parts[0]!.name !== this.ctx.database) throw objectMissing(parts.map((p) => p.name).join('.'));
      parts.shift();
    }
    if (parts.length > 2) throw syntaxError(`too many name parts in ${parts.map((p) => p.name).join('.')}`);
    return parts.length === 2
      ? { schema: parts[0]!.name, name: parts[1]!.name }
      : { schema: null, name: parts[0]!.name };
  }

  /** The statement's own text, from its first token to its last (no trailing `;` or comment). */
  private text(): string {
    const last = this.tokens[this.tokens.length - 1]!;
    return this.source.slice(this.tokens[0]!.pos, last.pos + last.text.length);
  }

  private key(t: TableRef): string {
    return `${t.schema ?? this.ctx.schema ?? 'PUBLIC'}.${t.name}`;
  }

  private columnName(t: Token | undefined): string {
    if (t?.type === 'word') return t.text;
    if (t?.type === 'qident') {
      if (hasLowerCase(t.value)) throw invalidIdentifier(`"${t.value}"`);
      return quoteIdent(t.value);
    }
    throw syntaxError(`expected a column name at '${t?.text ?? 'end of statement'}'`);
  }

  translate(): Translation {
    const c = new Cursor(this.tokens);
    const first = this.tokens[0]!;
    if (isWord(first, 'SELECT', 'WITH') || isOp(first, '(')) return this.query();
    const head = first.type === 'word' ? first.text.toUpperCase() : first.text;
    switch (head) {
      case 'INSERT':
        return this.insert(c);
      case 'DELETE': {
        c.expectWord('DELETE');
        c.expectWord('FROM');
        const t = this.table(c);
        const sql = joinSql(['DELETE FROM', renderRef(t), this.renderer.render(c.rest())]);
        return this.result(
          'dml',
          STATEMENT_TYPE.delete,
          { type: 'dml', verb: 'deleted', sql },
          { writes: [this.key(t)], locks: [this.key(t)] },
        );
      }
      case 'UPDATE': {
        c.expectWord('UPDATE');
        const t = this.table(c);
        const sql = joinSql(['UPDATE', renderRef(t), this.renderer.render(c.rest())]);
        return this.result(
          'dml',
          STATEMENT_TYPE.update,
          { type: 'dml', verb: 'updated', sql },
          { writes: [this.key(t)], locks: [this.key(t)] },
        );
      }
      case 'MERGE': {
        // MERGE INTO t [AS a] USING (SELECT <binds>) AS s ON … WHEN [NOT] MATCHED THEN …: DuckDB
        // runs it as written; RETURNING merge_action lets the result split inserted from updated.
        // Only what the product emits is translated: a MERGE of bound values into one table.
        c.expectWord('MERGE');
        c.expectWord('INTO');
        const t = this.table(c);
        const rest = c.rest();
        const using = rest.findIndex((x) => isWord(x, 'USING'));
        const opens = using >= 0 && isOp(rest[using + 1], '(');
        const source = opens ? rest.slice(using + 2, closingParen(rest, using + 1)) : null;
        if (!source || !isWord(source[0], 'SELECT') || source.some((x) => isWord(x, 'FROM'))) {
          throw notTranslated('MERGE with a table or query source (only MERGE … USING (SELECT <bound values>) is)');
        }
        // "THEN INSERT (…)" is the clause, not Snowflake's INSERT() string function.
        const insert = rest.findIndex((x, k) => isWord(x, 'INSERT') && isWord(rest[k - 1], 'THEN'));
        const clauses = insert < 0
          ? [this.renderer.render(rest)]
          : [this.renderer.render(rest.slice(0, insert)), 'INSERT', this.renderer.render(rest.slice(insert + 1))];
        const sql = joinSql(['MERGE INTO', renderRef(t), ...clauses, 'RETURNING merge_action']);
        return this.result(
          'dml',
          STATEMENT_TYPE.merge,
          { type: 'dml', verb: 'merged', sql },
          { writes: [this.key(t)], locks: [this.key(t)] },
        );
      }
      case 'CREATE':
        return this.create(c);
      case 'DROP':
        return this.drop(c);
      case 'ALTER':
        return this.alter(c);
      case 'BEGIN':
      case 'START':
        if (!c.word('BEGIN')) {
          c.expectWord('START');
          c.expectWord('TRANSACTION');
        }
        c.word('TRANSACTION', 'WORK');
        if (c.word('NAME')) c.names();
        c.expectEnd('BEGIN');
        return this.result('tcl', STATEMENT_TYPE.tcl, { type: 'begin' });
      case 'COMMIT':
      case 'ROLLBACK':
        c.expectWord(head);
        c.word('WORK');
        c.expectEnd(head);
        return this.result('tcl', STATEMENT_TYPE.tcl, { type: head === 'COMMIT' ? 'commit' : 'rollback' });
      case 'SHOW':
        return this.show(c);
      case 'EXPLAIN':
        return this.explain(c);
      default:
        throw notTranslated(`the statement ${head}`);
    }
  }

  private query(): Translation {
    return this.result('select', STATEMENT_TYPE.select, { type: 'query', sql: this.renderer.render(this.tokens) });
  }

  private insert(c: Cursor): Translation {
    c.expectWord('INSERT');
    const overwrite = c.word('OVERWRITE');
    if (isWord(c.peek(), 'ALL', 'FIRST')) throw notTranslated('multi-table INSERT');
    c.expectWord('INTO');
    const t = this.table(c);
    let columns = '';
    if (isOp(c.peek(), '(') && !isWord(c.peek(1), 'SELECT', 'WITH')) {
      columns = `(${splitTopLevel(c.parenthesized()).map((col) => {
        if (col.length !== 1) throw syntaxError('expected a column name in the INSERT column list');
        return this.columnName(col[0]);
      }).join(', ')})`;
    }
    const source = c.rest();
    if (!isWord(source[0], 'VALUES', 'SELECT', 'WITH') && !isOp(source[0], '(')) {
      throw syntaxError('INSERT needs VALUES or a query');
    }
    const insertSql = joinSql(['INSERT INTO', renderRef(t), columns, this.renderer.render(source)]);
    const key = this.key(t);
    if (overwrite) {
      // Snowflake truncates and inserts in one transaction; the emulator runs both in one DuckDB transaction.
      return this.result(
        'dml',
        STATEMENT_TYPE.insert,
        { type: 'insert-overwrite', deleteSql: `DELETE FROM ${renderRef(t)}`, insertSql },
        { writes: [key], locks: [key] },
      );
    }
    return this.result(
      'dml',
      STATEMENT_TYPE.insert,
      { type: 'dml', verb: 'inserted', sql: insertSql },
      { writes: [key] },
    );
  }

  private ifNotExists(c: Cursor): boolean {
    if (!c.word('IF')) return false;
    c.expectWord('NOT');
    c.expectWord('EXISTS');
    return true;
  }

  private create(c: Cursor): Translation {
    c.expectWord('CREATE');
    let orReplace = false;
    if (c.word('OR')) {
      c.expectWord('REPLACE');
      orReplace = true;
    }
    const modifiers = new Set<string>();
    while (
      isWord(
        c.peek(),
        'TRANSIENT',
        'TEMPORARY',
        'TEMP',
        'LOCAL',
        'GLOBAL',
        'VOLATILE',
        'SECURE',
        'RECURSIVE',
        'MATERIALIZED',
      )
    ) {
      modifiers.add(c.peek()!.text.toUpperCase());
      c.i += 1;
    }
    const refusedModifier = [...modifiers].find((m) => !['TRANSIENT', 'SECURE'].includes(m));
    if (refusedModifier) throw notTranslated(`CREATE ${refusedModifier}`);
    const orReplaceSql = orReplace ? 'OR REPLACE' : '';

    if (c.word('SCHEMA')) {
      if (orReplace || modifiers.size) throw notTranslated('CREATE OR REPLACE / TRANSIENT SCHEMA');
      const ifne = this.ifNotExists(c);
      const parts = c.names();
      if (parts.some((p) => p.quoted && hasLowerCase(p.name))) {
        throw notTranslated('case-sensitive (quoted lower-case) schema names');
      }
      if (parts.length === 2 && parts[0]!.name !== this.ctx.database) throw objectMissing(parts[0]!.name);
      const schema = parts[parts.length - 1]!.name;
      c.expectEnd('CREATE SCHEMA');
      return this.result('ddl', STATEMENT_TYPE.ddl, {
        type: 'ddl',
        sql: joinSql(['CREATE SCHEMA', ifne ? 'IF NOT EXISTS' : '', quoteIdent(schema)]),
        status: `Schema ${schema} successfully created.`,
      }, { writes: [schema] });
    }

    if (c.word('TABLE')) {
      if (modifiers.has('SECURE')) throw notTranslated('CREATE SECURE TABLE');
      const transient = modifiers.has('TRANSIENT');
      const ifne = this.ifNotExists(c);
      const target = this.table(c, true);
      const key = this.key(target);
      const properties = (retentionDays: number | null = null) => ({ table: key, transient, retentionDays });
      if (c.word('CLONE', 'LIKE')) {
        const withData = isWord(this.tokens[c.i - 1], 'CLONE');
        const source = this.table(c);
        c.expectEnd(withData ? 'CLONE (Time Travel AT/BEFORE)' : 'LIKE');
        return this.result(
          'ddl',
          STATEMENT_TYPE.ddl,
          { type: 'create-copy', target, source, withData, ifNotExists: ifne, orReplace },
          { writes: [key], tableProperties: properties() },
        );
      }
      const head = joinSql(['CREATE', orReplaceSql, 'TABLE', ifne ? 'IF NOT EXISTS' : '', renderRef(target)]);
      if (c.word('AS')) {
        return this.result('ddl', STATEMENT_TYPE.ddl, {
          type: 'ddl',
          sql: joinSql([head, 'AS', this.renderer.render(c.rest())]),
          status: `Table ${target.name} successfully created.`,
        }, { writes: [key], tableProperties: properties() });
      }
      const columns = this.columnDefinitions(c.parenthesized());
      let retentionDays: number | null = null;
      while (!c.done) {
        if (c.word('DATA_RETENTION_TIME_IN_DAYS')) {
          c.op('=');
          const n = c.peek();
          if (n?.type !== 'number') throw syntaxError('DATA_RETENTION_TIME_IN_DAYS needs a number');
          retentionDays = Number(n.text);
          c.i += 1;
        } else if (c.word('COMMENT')) {
          c.op('=');
          c.string();
        } else if (c.word('CLUSTER')) {
          // Clustering changes how data is laid out, never what a query returns.
          c.expectWord('BY');
          c.parenthesized();
        } else {
          throw notTranslated(`the table option ${c.peek()!.text}`);
        }
      }
      return this.result('ddl', STATEMENT_TYPE.ddl, {
        type: 'ddl',
        sql: `${head} (${columns.join(', ')})`,
        status: `Table ${target.name} successfully created.`,
      }, { writes: [key], tableProperties: properties(retentionDays) });
    }

    if (c.word('VIEW')) {
      const ifne = this.ifNotExists(c);
      const view = this.table(c, true);
      if (c.word('COPY')) c.expectWord('GRANTS'); // grants are not modelled; the view text is what matters
      if (!c.word('AS')) throw notTranslated(`CREATE VIEW with '${c.peek()?.text ?? ''}' before AS`);
      const body = c.rest();
      if (!isWord(body[0], 'SELECT', 'WITH') && !isOp(body[0], '(')) throw syntaxError('CREATE VIEW needs a query');
      return this.result(
        'ddl',
        STATEMENT_TYPE.ddl,
        {
          type: 'ddl',
          sql: joinSql([
            'CREATE',
            orReplaceSql,
            'VIEW',
            ifne ? 'IF NOT EXISTS' : '',
            renderRef(view),
            'AS',
            this.renderer.render(body),
          ]),
          status: `View ${view.name} successfully created.`,
          viewText: { view, text: this.text(), ifNotExists: ifne },
        },
        { writes: [this.key(view)] },
      );
    }
    throw notTranslated(`CREATE ${c.peek()?.text ?? ''}`);
  }

  /** Column definitions of CREATE TABLE; key constraints are dropped because Snowflake does not enforce them. */
  private columnDefinitions(inner: Token[]): string[] {
    const out: string[] = [];
    for (const def of splitTopLevel(inner)) {
      const c = new Cursor(def);
      if (isWord(c.peek(), 'PRIMARY', 'UNIQUE', 'FOREIGN', 'CONSTRAINT')) continue;
      const name = this.columnName(c.peek());
      c.i += 1;
      const [type, next] = this.renderer.type(def, c.i);
      c.i = next;
      const pieces = [name, type];
      while (!c.done) {
        if (c.word('NOT')) {
          c.expectWord('NULL');
          pieces.push('NOT NULL');
        } else if (c.word('NULL')) {
          pieces.push('NULL');
        } else if (c.word('PRIMARY')) {
          c.expectWord('KEY');
        } else if (c.word('UNIQUE')) {
          // not enforced by Snowflake
        } else if (c.word('COMMENT')) {
          c.string();
        } else if (c.word('DEFAULT')) {
          const start = c.i;
          while (!c.done && !isWord(c.peek(), 'NOT', 'NULL', 'PRIMARY', 'UNIQUE', 'COMMENT')) c.i += 1;
          pieces.push(`DEFAULT ${this.renderer.render(def.slice(start, c.i))}`);
        } else {
          throw notTranslated(`the column option ${c.peek()!.text}`);
        }
      }
      out.push(pieces.join(' '));
    }
    if (out.length === 0) throw syntaxError('CREATE TABLE needs at least one column');
    return out;
  }

  private drop(c: Cursor): Translation {
    c.expectWord('DROP');
    const what = c.peek()?.text.toUpperCase();
    if (!c.word('TABLE', 'VIEW', 'SCHEMA')) throw notTranslated(`DROP ${what ?? ''}`);
    let ifExists = false;
    if (c.word('IF')) {
      c.expectWord('EXISTS');
      ifExists = true;
    }
    let target: string;
    let key: string;
    if (what === 'SCHEMA') {
      const parts = c.names();
      if (parts.length === 2 && parts[0]!.name !== this.ctx.database) throw objectMissing(parts[0]!.name);
      key = parts[parts.length - 1]!.name;
      target = quoteIdent(key);
    } else {
      const t = this.table(c);
      target = renderRef(t);
      key = this.key(t);
    }
    const restrict = c.word('RESTRICT');
    // Snowflake drops a schema's contents by default.
    const cascade = c.word('CASCADE') || (what === 'SCHEMA' && !restrict);
    c.expectEnd(`DROP ${what}`);
    return this.result('ddl', STATEMENT_TYPE.ddl, {
      type: 'ddl',
      sql: joinSql(['DROP', what!, ifExists ? 'IF EXISTS' : '', target, cascade ? 'CASCADE' : '']),
      status: `${key} successfully dropped.`,
    }, { writes: [key] });
  }

  private alter(c: Cursor): Translation {
    c.expectWord('ALTER');
    if (c.word('SESSION')) {
      const settings: SessionSetting[] = [];
      if (c.word('SET')) {
        for (const assignment of splitTopLevel(c.rest())) {
          const a = new Cursor(assignment);
          const name = a.peek()?.text.toUpperCase();
          a.i += 1;
          if (!a.op('=')) throw syntaxError(`expected = after ${name}`);
          const value = a.peek();
          a.i += 1;
          a.expectEnd(`ALTER SESSION SET ${name}`);
          if (name === 'QUERY_TAG' && value?.type === 'string') settings.push({ name, value: value.value });
          else if (name === 'STATEMENT_TIMEOUT_IN_SECONDS' && value?.type === 'number' && /^\d+$/.test(value.text)) {
            settings.push({ name, value: Number(value.text) });
          } else throw notTranslated(`the session parameter ${name} = ${value?.text ?? ''}`);
        }
      } else if (c.word('UNSET')) {
        for (const item of splitTopLevel(c.rest())) {
          const name = item.length === 1 ? item[0]!.text.toUpperCase() : '';
          if (name !== 'QUERY_TAG' && name !== 'STATEMENT_TIMEOUT_IN_SECONDS') {
            throw notTranslated(`ALTER SESSION UNSET ${name}`);
          }
          settings.push({ name, value: null });
        }
      } else {
        throw notTranslated(`ALTER SESSION ${c.peek()?.text ?? ''}`);
      }
      return this.result('session', STATEMENT_TYPE.scl, { type: 'session', settings });
    }
    if (c.word('TABLE')) {
      if (c.word('IF')) throw notTranslated('ALTER TABLE IF EXISTS');
      const a = this.table(c);
      if (c.word('SWAP')) {
        c.expectWord('WITH');
        const b = this.table(c);
        c.expectEnd('ALTER TABLE ... SWAP WITH');
        return this.result('ddl', STATEMENT_TYPE.ddl, { type: 'swap', a, b }, { writes: [this.key(a), this.key(b)] });
      }
      if (c.word('RENAME')) {
        c.expectWord('TO');
        const b = this.table(c, true);
        c.expectEnd('ALTER TABLE ... RENAME TO');
        if ((b.schema ?? a.schema) !== a.schema) {
          throw notTranslated('ALTER TABLE ... RENAME TO another schema (DuckDB cannot move tables between schemas)');
        }
        return this.result('ddl', STATEMENT_TYPE.ddl, {
          type: 'ddl',
          sql: `ALTER TABLE ${renderRef(a)} RENAME TO ${quoteIdent(b.name)}`,
          status: 'Statement executed successfully.',
        }, { writes: [this.key(a), this.key(b)] });
      }
      if (c.word('ADD')) {
        // ADD [COLUMN] [IF NOT EXISTS] <name> <type>: how the control schema gains a column.
        c.word('COLUMN');
        let ifNotExists = false;
        if (c.word('IF')) {
          c.expectWord('NOT');
          c.expectWord('EXISTS');
          ifNotExists = true;
        }
        const [column] = this.columnDefinitions(c.rest());
        return this.result('ddl', STATEMENT_TYPE.ddl, {
          type: 'ddl',
          sql: `ALTER TABLE ${renderRef(a)} ADD COLUMN ${ifNotExists ? 'IF NOT EXISTS ' : ''}${column}`,
          status: 'Statement executed successfully.',
        }, { writes: [this.key(a)] });
      }
      throw notTranslated(`ALTER TABLE ... ${c.peek()?.text ?? ''}`);
    }
    throw notTranslated(`ALTER ${c.peek()?.text ?? ''}`);
  }

  private show(c: Cursor): Translation {
    c.expectWord('SHOW');
    c.word('TERSE');
    if (!c.word('TABLES')) throw notTranslated(`SHOW ${c.peek()?.text ?? ''}`);
    const like = c.word('LIKE') ? c.string() : null;
    let schema: string | null = null;
    if (c.word('IN')) {
      c.word('SCHEMA');
      const parts = c.names();
      if (parts.length === 2 && parts[0]!.name !== this.ctx.database) throw objectMissing(parts[0]!.name);
      if (parts.length > 2) throw syntaxError('SHOW TABLES IN takes a schema');
      schema = parts[parts.length - 1]!.name;
    }
    c.expectEnd('SHOW TABLES');
    return this.result('select', STATEMENT_TYPE.select, {
      type: 'show-tables',
      like,
      schema: schema ?? this.ctx.schema,
    });
  }

  private explain(c: Cursor): Translation {
    c.expectWord('EXPLAIN');
    if (c.word('USING')) {
      if (!c.word('JSON')) throw notTranslated(`EXPLAIN USING ${c.peek()?.text ?? ''} (only JSON is translated)`);
    } else {
      throw notTranslated('EXPLAIN without USING JSON (its default is TABULAR)');
    }
    const body = c.rest();
    if (!isWord(body[0], 'SELECT', 'WITH') && !isOp(body[0], '(')) {
      throw notTranslated('EXPLAIN of anything but a query');
    }
    return this.result('select', STATEMENT_TYPE.select, { type: 'explain', sql: this.renderer.render(body) });
  }
}

export const renderRef = (t: TableRef): string =>
  t.schema ? `${quoteIdent(t.schema)}.${quoteIdent(t.name)}` : quoteIdent(t.name);

/** Translates one request's SQL text; throws SnowflakeSqlError when it is refused. */
export function translate(sql: string, ctx: TranslateContext): Translation {
  const statements = splitStatements(tokenize(sql));
  if (statements.length === 0) throw syntaxError('empty SQL statement');
  if (statements.length > 1) throw statementCount(statements.length);
  return new StatementTranslator(statements[0]!, ctx, sql).translate();
}
