/**
 * A Snowflake SQL tokenizer, enough for the emulator to translate statements token by token:
 * comments (--, //, /* *\/) are dropped, string literals are decoded (Snowflake reads backslash
 * escapes and $$…$$ literals, DuckDB does neither, so strings are re-encoded on the way out),
 * quoted identifiers keep their exact case, and :N / ? binds are their own tokens.
 */
import { syntaxError } from './sql-errors';

export type TokenType = 'word' | 'qident' | 'string' | 'number' | 'bind' | 'qmark' | 'op' | 'semicolon';

export interface Token {
  type: TokenType;
  /** Source text (for words as written; for strings and quoted identifiers the decoded value is in `value`). */
  text: string;
  /** Decoded value: string contents, identifier name, bind index as text. */
  value: string;
  pos: number;
}

const OPS = ['::', '=>', '<=', '>=', '<>', '!=', '||', '->'];
const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  '0': '\0',
  "'": "'",
  '"': '"',
  '\\': '\\',
};

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (type: TokenType, text: string, value: string, pos: number) => out.push({ type, text, value, pos });
  while (i < sql.length) {
    const c = sql[i]!;
    const two = sql.slice(i, i + 2);
    if (/\s/.test(c)) {
      i += 1;
    } else if (two === '--' || two === '//') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (two === '/*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw syntaxError('unterminated /* comment');
      i = end + 2;
    } else if (c === "'") {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) throw syntaxError(`unterminated string literal at position ${i}`);
        const d = sql[j]!;
        if (d === '\\' && j + 1 < sql.length) {
          const e = sql[j + 1]!;
          value += ESCAPES[e] ?? e;
          j += 2;
        } else if (d === "'" && sql[j + 1] === "'") {
          value += "'";
          j += 2;
        } else if (d === "'") {
          j += 1;
          break;
        } else {
          value += d;
          j += 1;
        }
      }
      push('string', sql.slice(i, j), value, i);
      i = j;
    } else if (two === '$$') {
      const end = sql.indexOf('$$', i + 2);
      if (end === -1) throw syntaxError(`unterminated $$ string at position ${i}`);
      push('string', sql.slice(i, end + 2), sql.slice(i + 2, end), i);
      i = end + 2;
    } else if (c === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) throw syntaxError(`unterminated quoted identifier at position ${i}`);
        if (sql[j] === '"' && sql[j + 1] === '"') {
          value += '"';
          j += 2;
        } else if (sql[j] === '"') {
          j += 1;
          break;
        } else {
          value += sql[j];
          j += 1;
        }
      }
      push('qident', sql.slice(i, j), value, i);
      i = j;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))![0];
      push('word', m, m, i);
      i += m.length;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(sql.slice(i))![0];
      push('number', m, m, i);
      i += m.length;
    } else if (c === ':' && /[0-9]/.test(sql[i + 1] ?? '') && sql[i - 1] !== ':') {
      const m = /^:(\d+)/.exec(sql.slice(i))!;
      push('bind', m[0], m[1]!, i);
      i += m[0].length;
    } else if (c === '?') {
      push('qmark', '?', '?', i);
      i += 1;
    } else if (c === ';') {
      push('semicolon', ';', ';', i);
      i += 1;
    } else if (c === '$' && /[0-9]/.test(sql[i + 1] ?? '')) {
      // Snowflake's positional column reference ($1): kept as one token so it can be refused.
      const m = /^\$\d+/.exec(sql.slice(i))![0];
      push('op', m, m, i);
      i += m.length;
    } else {
      const op = OPS.find((o) => sql.startsWith(o, i)) ?? c;
      push('op', op, op, i);
      i += op.length;
    }
  }
  return out;
}

/** Splits tokens into statements on top-level semicolons, dropping empty ones. */
export function splitStatements(tokens: Token[]): Token[][] {
  const out: Token[][] = [[]];
  for (const t of tokens) {
    if (t.type === 'semicolon') out.push([]);
    else out[out.length - 1]!.push(t);
  }
  return out.filter((s) => s.length > 0);
}

export const isWord = (t: Token | undefined, ...words: string[]): boolean =>
  t?.type === 'word' && (words.length === 0 || words.includes(t.text.toUpperCase()));

export const isOp = (t: Token | undefined, op: string): boolean => t?.type === 'op' && t.text === op;

/** Index of the parenthesis closing the one at `open`. */
export function closingParen(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isOp(tokens[i], '(')) depth += 1;
    else if (isOp(tokens[i], ')')) {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  throw syntaxError(`unbalanced parenthesis at position ${tokens[open]?.pos ?? 0}`);
}

/** Splits a token list on top-level commas. */
export function splitTopLevel(tokens: Token[], separator = ','): Token[][] {
  const out: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (isOp(t, '(')) depth += 1;
    if (isOp(t, ')')) depth -= 1;
    if (depth === 0 && isOp(t, separator)) out.push([]);
    else out[out.length - 1]!.push(t);
  }
  return out;
}

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const quoteString = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** Renders DuckDB text from pieces, spacing them the way SQL reads (no space around dots or inside parens). */
export function joinSql(pieces: string[]): string {
  let out = '';
  for (const p of pieces) {
    if (!p) continue;
    const tight =
      out === '' ||
      out.endsWith('(') ||
      out.endsWith('.') ||
      p === ')' ||
      p === ',' ||
      p === '.' ||
      p.startsWith('::') ||
      out.endsWith('::');
    out += tight ? p : ` ${p}`;
  }
  return out;
}
