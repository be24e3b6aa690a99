/**
 * Identifiers are parsed, checked against a plain-name allowlist, then quoted by the dialect.
 * Nothing user-supplied is ever spliced into SQL without passing through here.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';

/** A plain SQL name: letter or underscore, then letters, digits, underscores. */
export const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A validated table name: optional database, schema, table. */
export interface TableName {
  readonly database?: string;
  readonly schema: string;
  readonly name: string;
}

export function isPlainName(part: string): boolean {
  return PLAIN_NAME.test(part);
}

/** Why `text` is not a plain (optionally dotted) name, or null when it is. */
export function identifierProblem(text: string, maxParts: number): string | null {
  if (text.length === 0) return 'is empty';
  if (/["'`;\\]|--|\/\*|\*\/|\s/.test(text)) {
    return 'may contain only letters, digits, underscores and dots (no quotes, semicolons, comments, ' +
      'backslashes or spaces)';
  }
  const parts = text.split('.');
  if (parts.length > maxParts) return `has ${parts.length} dotted parts; at most ${maxParts} are allowed`;
  const bad = parts.find((p) => !isPlainName(p));
  if (bad !== undefined) {
    return bad === ''
      ? 'has an empty part (check for a leading, trailing or doubled dot)'
      : `part "${bad}" must start with a letter or underscore and contain only letters, digits and underscores`;
  }
  return null;
}

/** Parses `schema.table` or `database.schema.table`; throws InvalidIdentifier naming `where`. */
export function parseTableName(text: string, where = 'table'): TableName {
  const problem = identifierProblem(text, 3);
  if (problem) {
    throw new BackfillFailure(BackfillError.InvalidIdentifier, `${where}: "${text}" ${problem}.`, { where });
  }
  const parts = text.split('.');
  if (parts.length < 2) {
    throw new BackfillFailure(
      BackfillError.InvalidIdentifier,
      `${where}: "${text}" must be qualified with its schema, e.g. finance.daily_revenue.`,
      { where },
    );
  }
  const [a, b, c] = parts as [string, string, string | undefined];
  return c === undefined ? { schema: a, name: b } : { database: a, schema: b, name: c };
}

/** Parses a single column name; throws InvalidIdentifier naming `where`. */
export function parseColumnName(text: string, where = 'column'): string {
  const problem = identifierProblem(text, 1);
  if (problem) throw new BackfillFailure(BackfillError.InvalidIdentifier, `${where}: "${text}" ${problem}.`, { where });
  return text;
}

export function formatTableName(t: TableName): string {
  return [t.database, t.schema, t.name].filter(Boolean).join('.');
}

/** A sibling table in the same schema, e.g. the shadow `finance.daily_revenue__shadow_x`. */
export function siblingTable(t: TableName, name: string): TableName {
  return { ...t, name: parseColumnName(name, 'derived table name') };
}
