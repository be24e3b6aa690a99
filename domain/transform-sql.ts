/**
 * The corrected transform is SQL for one partition with two named parameters, :partition_start and
 * :partition_end. They are replaced by the dialect's typed placeholders and always bound, never
 * spliced. Scanning skips string literals, quoted identifiers and comments, and leaves casts (::)
 * and Snowflake path access (col:field) alone.
 */
export const PARTITION_PARAMS = ['partition_start', 'partition_end'] as const;

export interface CompiledTransform {
  sql: string;
  /** Named parameters in positional order: params[i] binds placeholder i + 1. */
  params: typeof PARTITION_PARAMS;
}

export interface TransformProblem {
  message: string;
}

export type SqlPiece = { kind: 'code' | 'skip'; text: string };

/** Splits SQL into code and non-code (strings, quoted identifiers, comments); the pieces concatenate to `sql`. */
export function sqlPieces(sql: string): SqlPiece[] | { unterminated: string } {
  const out: SqlPiece[] = [];
  let code = '';
  let i = 0;
  const flush = () => {
    if (code) out.push({ kind: 'code', text: code });
    code = '';
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const two = sql.slice(i, i + 2);
    let end = -1;
    if (c === "'" || c === '"') {
      end = i + 1;
      for (;;) {
        end = sql.indexOf(c, end);
        if (end === -1) return { unterminated: c === "'" ? 'string literal' : 'quoted identifier' };
        if (sql[end + 1] === c) end += 2;
        else break;
      }
      end += 1;
    } else if (two === '--') {
      end = sql.indexOf('\n', i);
      end = end === -1 ? sql.length : end;
    } else if (two === '/*') {
      end = sql.indexOf('*/', i + 2);
      if (end === -1) return { unterminated: 'block comment' };
      end += 2;
    }
    if (end === -1) {
      code += c;
      i += 1;
    } else {
      flush();
      out.push({ kind: 'skip', text: sql.slice(i, end) });
      i = end;
    }
  }
  flush();
  return out;
}

const NAMED = /(^|[^A-Za-z0-9_:$.\]"])(:)([A-Za-z_][A-Za-z0-9_]*)/g;

/** Problems that make a transform unusable, each phrased as what to change. */
export function transformProblems(sql: string): string[] {
  const parts = sqlPieces(sql);
  if (!Array.isArray(parts)) return [`has an unterminated ${parts.unterminated}; close it`];
  const code = parts.filter((p) => p.kind === 'code').map((p) => p.text).join(' ');
  const problems: string[] = [];
  const body = code.trim().replace(/;\s*$/, '');
  if (body.includes(';')) {
    problems.push('contains more than one statement; give a single SELECT (a WITH … SELECT is fine)');
  }
  if (!/^\(?\s*(with|select|from)\b/i.test(body)) {
    problems.push('must be a SELECT (or WITH … SELECT) producing the target table\'s columns');
  }
  const used = new Set([...code.matchAll(NAMED)].map((m) => m[3]!));
  for (const name of used) {
    if (!(PARTITION_PARAMS as readonly string[]).includes(name)) {
      problems.push(`uses :${name}; only :partition_start and :partition_end are bound`);
    }
  }
  for (const name of PARTITION_PARAMS) {
    if (!used.has(name)) problems.push(`must filter on :${name} so that it reads and returns one partition`);
  }
  return problems;
}

/** Replaces the named parameters with `placeholder(1)` / `placeholder(2)`; the SQL must be problem-free. */
export function compileTransform(sql: string, placeholder: (index: number) => string): CompiledTransform {
  const parts = sqlPieces(sql);
  if (!Array.isArray(parts)) throw new Error(`transform SQL has an unterminated ${parts.unterminated}`);
  // Trailing comments go first: otherwise a final `;` hides behind them, and a final `--` comment
  // would swallow the `)` of a caller that wraps the SQL as a subquery.
  const isTrailingNoise = (p: SqlPiece) => (p.kind === 'skip' ? /^(--|\/\*)/.test(p.text) : p.text.trim() === '');
  while (parts.length && isTrailingNoise(parts[parts.length - 1]!)) parts.pop();
  const text = parts
    .map((p) =>
      p.kind === 'skip'
        ? p.text
        : p.text.replace(NAMED, (_m, before: string, _colon, name: string) => {
            const index = (PARTITION_PARAMS as readonly string[]).indexOf(name);
            return index === -1 ? _m : `${before}${placeholder(index + 1)}`;
          }),
    )
    .join('')
    .trim()
    .replace(/;\s*$/, '');
  return { sql: text, params: PARTITION_PARAMS };
}

/** The tables a custom check may name through placeholders: the shadow and production. */
export const CHECK_TABLES = ['shadow', 'target'] as const;
export type CheckTable = (typeof CHECK_TABLES)[number];
const TABLE_PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Problems of a custom check's SQL (validation.checks[].sql): the transform's rules — one SELECT,
 * only :partition_start and :partition_end, both used — and, as for `backfill sql`, no word that
 * writes or reconfigures; {{shadow}} and {{target}} name the backfill's tables.
 */
export function checkSqlProblems(sql: string): string[] {
  const problems = [...sql.matchAll(TABLE_PLACEHOLDER)]
    .map((m) => m[1]!)
    .filter((name) => !(CHECK_TABLES as readonly string[]).includes(name))
    .map((name) => `uses {{${name}}}; only {{shadow}} and {{target}} name tables`);
  const plain = sql.replace(TABLE_PLACEHOLDER, 'checked_table');
  for (const p of transformProblems(plain)) {
    problems.push(p
      .replace("producing the target table's columns", 'returning the rows that break the rule')
      .replace('so that it reads and returns one partition', "so that it checks the batch's partitions"));
  }
  const parts = sqlPieces(plain);
  if (Array.isArray(parts)) {
    const writing = WRITING.exec(parts.filter((p) => p.kind === 'code').map((p) => p.text).join(' '));
    if (writing) problems.push(`uses ${writing[1]!.toUpperCase()}; a check only reads`);
  }
  return problems;
}

/** The tables a monitor may name through placeholders: production and the restore point. */
export const MONITOR_TABLES = ['target', 'snapshot'] as const;

/**
 * Problems of a monitor's SQL (rollback.monitors[].sql): `backfill sql`'s rules — one SELECT, no
 * writing words, no :parameters — with {{target}} and {{snapshot}} naming the backfill's tables.
 */
export function monitorSqlProblems(sql: string): string[] {
  const problems = [...sql.matchAll(TABLE_PLACEHOLDER)]
    .map((m) => m[1]!)
    .filter((name) => !(MONITOR_TABLES as readonly string[]).includes(name))
    .map((name) => `uses {{${name}}}; only {{target}} and {{snapshot}} name tables`);
  return [...problems, ...readOnlySelectProblems(sql.replace(TABLE_PLACEHOLDER, 'watched_table'))];
}

/** A check's SQL with {{shadow}} / {{target}} replaced by the tables as the dialect quotes them. */
export function resolveCheckTables(sql: string, tables: Partial<Record<string, string>>): string {
  return sql.replace(TABLE_PLACEHOLDER, (_m, name: string) => tables[name] ?? _m);
}

/** Bounds of `backfill sql`: the text an operator pastes, and the rows it prints. */
export const SQL_LIMITS = { chars: 20_000, rows: 10_000, defaultRows: 100 } as const;

/** Words that make a statement (or a table function) write, load or reconfigure something. */
const WRITING = new RegExp(`\\b(${[
  'insert', 'update', 'delete', 'merge', 'create', 'drop', 'alter', 'truncate', 'copy', 'attach', 'detach', 'pragma',
  'set', 'call', 'export', 'import', 'install', 'load', 'grant', 'revoke', 'vacuum', 'checkpoint', 'use', 'begin',
  'commit', 'rollback',
].join('|')})\\b`, 'i');

/**
 * Problems that keep `sql` from being a read-only look at tables: one SELECT (or WITH … SELECT),
 * no bound parameters, nothing that writes or reconfigures, within SQL_LIMITS.chars.
 */
export function readOnlySelectProblems(sql: string): string[] {
  if (sql.length > SQL_LIMITS.chars) {
    return [`is ${sql.length} characters; at most ${SQL_LIMITS.chars} (look at less at once)`];
  }
  const parts = sqlPieces(sql);
  if (!Array.isArray(parts)) return [`has an unterminated ${parts.unterminated}; close it`];
  const code = parts.filter((p) => p.kind === 'code').map((p) => p.text).join(' ');
  const body = code.trim().replace(/;\s*$/, '');
  const problems: string[] = [];
  if (!body) return ['is empty; give a SELECT'];
  if (body.includes(';')) problems.push('contains more than one statement; give a single SELECT');
  if (!/^\(?\s*(with|select|from)\b/i.test(body)) problems.push('must be a SELECT (or WITH … SELECT)');
  const writing = WRITING.exec(body);
  if (writing) problems.push(`uses ${writing[1]!.toUpperCase()}; only reading is allowed here`);
  if (code.search(NAMED) >= 0) problems.push('uses a :parameter; nothing is bound here, write the value');
  return problems;
}
