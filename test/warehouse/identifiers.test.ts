import { describe, expect, it } from 'vitest';
import { BackfillError, BackfillFailure } from '../../contracts/errors';
import {
  formatTableName,
  identifierProblem,
  isPlainName,
  parseColumnName,
  parseTableName,
  siblingTable,
} from '../../warehouse/identifiers';

/** Strings that must never reach SQL as identifiers. */
const HOSTILE = [
  'a"; drop table x; --',
  'finance.daily_revenue; drop table x',
  "finance.daily_revenue' OR '1'='1",
  'finance."daily_revenue"',
  'finance.`daily_revenue`',
  'finance.[daily_revenue]',
  'finance.daily_revenue--',
  'finance./* */daily_revenue',
  'finance.daily_revenue*/',
  'finance.daily\\revenue',
  'finance.daily revenue',
  'finance.daily_revenue\n',
  'finance.daily_revenue\t',
  'finance.daily\u00a0revenue', // no-break space
  'a.b.c.d',
  'a..b',
  '.a',
  'a.',
  '..',
  '',
  'finance.1daily',
  'finance.daily-revenue',
  'finance.daily$revenue',
  'finance.dаily_revenue', // Cyrillic а
  'ﬁnance.daily_revenue', // ligature ﬁ
  'finance.daily＿revenue', // fullwidth low line
  'finance.daily_revenue\u200b', // zero-width space
  'finance.daily_revenue\u0000',
  'finance.daily_revenue;',
  'finance.(select 1)',
  `finance.${'x'.repeat(129)}`,
];

function refusal(fn: () => unknown): BackfillFailure {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(BackfillFailure);
  expect((thrown as BackfillFailure).code).toBe(BackfillError.InvalidIdentifier);
  return thrown as BackfillFailure;
}

describe('parseTableName', () => {
  it('has a hostile corpus of at least 15 strings', () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(15);
  });

  it.each(HOSTILE)('refuses %j with InvalidIdentifier', (text) => {
    const failure = refusal(() => parseTableName(text, 'target.table'));
    expect(failure.message.startsWith('target.table: ')).toBe(true);
    expect(failure.details).toEqual({ where: 'target.table' });
  });

  it('refuses an unqualified name, asking for the schema', () => {
    const failure = refusal(() => parseTableName('daily_revenue'));
    expect(failure.message).toContain('must be qualified with its schema');
    expect(failure.message.startsWith('table: ')).toBe(true);
  });

  it('parses schema.table and database.schema.table', () => {
    expect(parseTableName('finance.daily_revenue')).toEqual({ schema: 'finance', name: 'daily_revenue' });
    expect(parseTableName('db.finance.daily_revenue')).toEqual({
      database: 'db',
      schema: 'finance',
      name: 'daily_revenue',
    });
    expect(parseTableName('_S1.T_2')).toEqual({ schema: '_S1', name: 'T_2' });
    expect(parseTableName(`finance.${'x'.repeat(128)}`).name).toHaveLength(128);
  });

  it('round-trips through formatTableName', () => {
    for (const text of ['finance.daily_revenue', 'db.finance.daily_revenue'])
      expect(formatTableName(parseTableName(text))).toBe(text);
  });
});

describe('parseColumnName', () => {
  it.each([...HOSTILE, 'finance.revenue_date'])('refuses %j with InvalidIdentifier', (text) => {
    const failure = refusal(() => parseColumnName(text, 'target.partition_key'));
    expect(failure.message.startsWith('target.partition_key: ')).toBe(true);
  });

  it.each(['revenue_date', '_x', 'A1', 'net_revenue', 'x'.repeat(128)])('accepts %j', (name) => {
    expect(parseColumnName(name)).toBe(name);
  });
});

describe('identifierProblem', () => {
  it('explains each kind of refusal', () => {
    expect(identifierProblem('', 3)).toBe('is empty');
    expect(identifierProblem('a;b', 1)).toMatch(/no quotes, semicolons, comments/);
    expect(identifierProblem('a.b.c.d', 3)).toBe('has 4 dotted parts; at most 3 are allowed');
    expect(identifierProblem('a..b', 3)).toMatch(/empty part/);
    expect(identifierProblem('a.9b', 3)).toBe(
      'part "9b" must start with a letter or underscore and contain only letters, digits and underscores',
    );
    expect(identifierProblem('a.b', 3)).toBeNull();
  });

  it('isPlainName matches only the allowlist', () => {
    expect(isPlainName('abc_1')).toBe(true);
    expect(isPlainName('a.b')).toBe(false);
    expect(isPlainName('é')).toBe(false);
  });
});

describe('siblingTable', () => {
  it('keeps database and schema and validates the new name', () => {
    const t = parseTableName('db.finance.daily_revenue');
    expect(siblingTable(t, 'daily_revenue__shadow_x')).toEqual({
      database: 'db',
      schema: 'finance',
      name: 'daily_revenue__shadow_x',
    });
    refusal(() => siblingTable(t, 'x"; drop table y; --'));
  });
});
