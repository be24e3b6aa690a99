/**
 * Properties every dialect must have, looped over all of them so a new dialect is covered by
 * default: values are bound (never spliced), placeholders are the dialect's own, identifiers are
 * quoted, and hostile names never reach SQL (the identifier-injection corpus).
 */
import { describe, expect, it } from 'vitest';
import { duckDbDialect } from '../../warehouse/duckdb/dialect';
import { identifierProblem, parseColumnName, parseTableName } from '../../warehouse/identifiers';
import { snowflakeDialect } from '../../warehouse/snowflake/dialect';
import type { Dialect, Statement } from '../../warehouse/warehouse';
import { BackfillError, isBackfillFailure } from '../../contracts/errors';

const DIALECTS: Dialect[] = [duckDbDialect, snowflakeDialect];
const revenue = { schema: 'finance', name: 'daily_revenue' };
const v2 = { schema: 'finance', name: 'daily_revenue_v2' };
const slice = {
  partitionKey: 'revenue_date',
  grain: 'day' as const,
  from: '2025-01-01',
  to: '2025-01-08',
  uniqueKey: ['revenue_date', 'merchant_id'],
};

const statements = (d: Dialect): Array<[string, Statement]> => [
  [
    'fingerprint',
    d.fingerprint({
      ...slice,
      table: revenue,
      measures: ['net_revenue'],
      hashColumns: ['revenue_date', 'net_revenue'],
    }),
  ],
  ['rowsPerPartition', d.rowsPerPartition(revenue, 'revenue_date', 'day', '2025-01-01', '2025-01-08')],
  [
    'partitionStats',
    d.partitionStats({ ...slice, table: revenue, measures: ['net_revenue'], notNull: ['merchant_id'] }),
  ],
  ['changedRows', d.changedRows({ ...slice, before: revenue, after: v2, measures: ['net_revenue'], limit: 10 })],
  ['describeTable', d.describeTable(revenue)],
];

/** Injection attempts at every place a name enters: table names, columns, schema parts. */
const HOSTILE = [
  'finance.daily_revenue; DROP TABLE finance.daily_revenue',
  'finance."daily_revenue"',
  "finance.daily_revenue' OR '1'='1",
  'finance.daily_revenue--',
  'finance.daily_revenue/*x*/',
  'finance.daily revenue',
  'finance.daily_revenue\\',
  'finance.`daily_revenue`',
  'finance.daily_revenue\n',
  '.daily_revenue',
  'finance..daily_revenue',
  'a.b.c.d',
  '1finance.daily_revenue',
  'finance.dailyé',
  '',
];

const HOSTILE_COLUMNS = [
  'net_revenue; DROP TABLE x', 'net_revenue"', "net_revenue'", 'net revenue', 'net_revenue--', 'a.b', '9lives', '',
];

describe.each(DIALECTS.map((d) => [d.name, d] as const))('%s dialect', (_name, d) => {
  it.each(statements(d))('%s binds the range and never splices a value', (_method, stmt) => {
    expect(stmt.sql).not.toContain('2025-01-01');
    expect(stmt.sql).not.toContain('2025-01-08');
    const used = [...stmt.sql.matchAll(/[$:](\d+)/g)].map((m) => Number(m[1]));
    expect(Math.max(...used)).toBe(stmt.params.length);
    // Only this dialect's placeholder style appears.
    const other = d.placeholder(1).startsWith('$') ? /:\d/ : /\$\d/;
    expect(stmt.sql.replace(/'[^']*'/g, '')).not.toMatch(other);
  });

  it('quotes every identifier part, so a reserved word or odd case stays one name', () => {
    for (const part of ['select', 'order', 'at', 'Daily_Revenue']) {
      const q = d.quoteIdent(part);
      expect(q.startsWith('"') && q.endsWith('"')).toBe(true);
      expect(q.slice(1, -1).toLowerCase()).toBe(part.toLowerCase());
    }
  });

  it('keeps even a hostile string that slipped past validation inside one quoted identifier', () => {
    const q = d.quoteIdent('x"; DROP TABLE t; --');
    expect(q.slice(1, -1).split('""').join('')).not.toContain('"');
  });
});

// Names are refused before any dialect sees them, so these run once, not per dialect.
describe('the identifier gate', () => {
  it.each(HOSTILE)('the identifier gate refuses %j', (text) => {
    expect(identifierProblem(text, 3)).not.toBeNull();
    const e = (() => {
      try {
        parseTableName(text, 'target.table');
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(isBackfillFailure(e, BackfillError.InvalidIdentifier)).toBe(true);
  });

  it.each(HOSTILE_COLUMNS)('the column gate refuses %j', (text) => {
    let error: unknown = null;
    try {
      parseColumnName(text, 'target.partition_key');
    } catch (e) {
      error = e;
    }
    expect(isBackfillFailure(error, BackfillError.InvalidIdentifier)).toBe(true);
  });
});
