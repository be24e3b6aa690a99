/**
 * The pure rules of the release schema checks: type comparison across both engines' spellings,
 * what a transform's output may differ in from its target, view text (body, references, the
 * table replaced by a query) and input signatures with what changed between two.
 */
import { describe, expect, it } from 'vitest';
import {
  compareTypes,
  formatSignature,
  normalizeSql,
  outputProblems,
  parseSignature,
  referencesTable,
  replaceTable,
  signatureChanges,
  viewBody,
  type Column,
} from '../../warehouse/compatibility-rules';

const revenue = { schema: 'finance', name: 'daily_revenue' };
const TARGET: Column[] = [
  { name: 'revenue_date', type: 'DATE' },
  { name: 'merchant_id', type: 'VARCHAR' },
  { name: 'net_revenue', type: 'DECIMAL(18,2)' },
  { name: 'order_count', type: 'BIGINT' },
  { name: 'recalculated_at', type: 'TIMESTAMP' },
  { name: 'backfill_id', type: 'VARCHAR(64)' },
];
const withType = (name: string, type: string): Column[] => TARGET.map((c) => (c.name === name ? { name, type } : c));
const check = (output: Column[]) =>
  outputProblems(TARGET, output, ['recalculated_at', 'backfill_id'], { table: 'finance.daily_revenue' });

describe('compareTypes', () => {
  it.each([
    ['INTEGER', 'INT4'], ['INT', 'INTEGER'], ['BIGINT', 'INT8'], ['DECIMAL(18,2)', 'NUMBER(18, 2)'],
    ['decimal(18, 2)', 'NUMERIC(18,2)'], ['VARCHAR', 'TEXT'], ['STRING', 'VARCHAR'], ['DOUBLE', 'FLOAT8'],
    ['TIMESTAMP_NTZ', 'TIMESTAMP'], ['TIMESTAMP_NTZ(9)', 'TIMESTAMP'], ['BOOL', 'BOOLEAN'], ['BLOB', 'BINARY'],
    ['BIGINT', 'DECIMAL(19,0)'], ['NUMBER', 'NUMBER(38,0)'], ['TIMESTAMPTZ', 'TIMESTAMP WITH TIME ZONE'],
  ])('%s and %s are the same type', (a, b) => {
    expect(compareTypes(a, b)).toBe('same');
    expect(compareTypes(b, a)).toBe('same');
  });

  it.each([
    ['INTEGER', 'BIGINT'], ['SMALLINT', 'INTEGER'], ['DECIMAL(10,2)', 'DECIMAL(18,2)'],
    ['DECIMAL(18,2)', 'DECIMAL(20,4)'],
    ['INTEGER', 'DECIMAL(18,2)'], ['REAL', 'DOUBLE'], ['VARCHAR(50)', 'VARCHAR(100)'], ['VARCHAR(50)', 'TEXT'],
    ['DATE', 'TIMESTAMP'], ['TIMESTAMP_NTZ(3)', 'TIMESTAMP_NTZ(9)'],
  ])('%s → %s widens', (target, output) => {
    expect(compareTypes(target, output)).toBe('widened');
  });

  it.each([
    ['DECIMAL(18,2)', 'DECIMAL(10,2)'], ['DECIMAL(18,4)', 'DECIMAL(18,2)'], ['BIGINT', 'INTEGER'],
    ['BIGINT', 'SMALLINT'], ['DOUBLE', 'FLOAT'], ['DOUBLE', 'REAL'], ['VARCHAR(100)', 'VARCHAR(50)'],
    ['TIMESTAMP', 'DATE'], ['NUMBER(38,0)', 'NUMBER(18,0)'], ['TIMESTAMP_NTZ(9)', 'TIMESTAMP_NTZ(3)'],
  ])('%s → %s narrows', (target, output) => {
    expect(compareTypes(target, output)).toBe('narrowed');
  });

  it.each([
    ['DECIMAL(18,2)', 'VARCHAR'], ['BIGINT', 'DOUBLE'], ['DOUBLE', 'DECIMAL(38,10)'], ['DATE', 'VARCHAR'],
    ['TIMESTAMP', 'TIMESTAMPTZ'], ['TIMESTAMP_LTZ(9)', 'TIMESTAMP_TZ(9)'], ['BOOLEAN', 'INTEGER'],
    ['STRUCT(a INTEGER)', 'STRUCT(a BIGINT)'],
  ])('%s → %s is another type', (target, output) => {
    expect(compareTypes(target, output)).toBe('changed');
  });

  it("reads FLOAT and REAL as Snowflake's doubles when told to", () => {
    expect(compareTypes('DOUBLE', 'FLOAT', { floatIsDouble: true })).toBe('same');
    expect(compareTypes('FLOAT', 'REAL', { floatIsDouble: true })).toBe('same');
    expect(compareTypes('DOUBLE', 'FLOAT')).toBe('narrowed');
  });
});

describe('outputProblems', () => {
  it('passes the same columns, other spellings and widenings', () => {
    expect(check(TARGET)).toEqual([]);
    expect(check(TARGET.map((c) => ({ name: c.name.toUpperCase(), type: c.type.toLowerCase() })))).toEqual([]);
    expect(check(withType('net_revenue', 'DECIMAL(38,4)'))).toEqual([]);
    expect(check(withType('order_count', 'HUGEINT'))).toEqual([]);
  });

  it('refuses a missing column, naming it and what to do', () => {
    expect(check(TARGET.filter((c) => c.name !== 'order_count'))).toEqual([
      'column order_count: in finance.daily_revenue but not returned by the transform; select it in the ' +
        'transform (CAST(NULL AS BIGINT) if it has no value now) or drop it from finance.daily_revenue in a ' +
        'migration first',
    ]);
  });

  it('refuses an extra column', () => {
    expect(check([...TARGET, { name: 'fx_rate', type: 'DOUBLE' }])).toEqual([
      "column fx_rate: returned by the transform but not in finance.daily_revenue; drop it from the transform's " +
        'SELECT or add it to finance.daily_revenue in a migration first',
    ]);
  });

  it('reads a missing and an extra column of one type at one position as a rename', () => {
    const output = TARGET.map((c) => (c.name === 'net_revenue' ? { ...c, name: 'net_rev' } : c));
    expect(check(output)).toEqual([
      'column net_revenue: renamed net_revenue → net_rev by the transform (same type, same position); alias it ' +
        'back (AS net_revenue) in the transform or rename the column of finance.daily_revenue in a migration first',
    ]);
  });

  it('does not read columns of different types as a rename', () => {
    const output = TARGET.map((c) => (c.name === 'net_revenue' ? { name: 'net_rev', type: 'VARCHAR' } : c));
    const problems = check(output);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^column net_revenue: in finance.daily_revenue but not returned/);
    expect(problems[1]).toMatch(/^column net_rev: returned by the transform but not in/);
  });

  it('refuses a narrowed column with the example message', () => {
    expect(check(withType('net_revenue', 'DECIMAL(10,2)'))).toEqual([
      'column net_revenue: DECIMAL(18,2) in finance.daily_revenue, DECIMAL(10,2) from the transform (narrowed); ' +
        'cast it back (CAST(… AS DECIMAL(18,2))) in the transform or change the target in a migration first',
    ]);
    expect(check(withType('order_count', 'INTEGER'))[0])
      .toMatch(/^column order_count: BIGINT .* INTEGER .*\(narrowed\)/);
    expect(check(withType('recalculated_at', 'DATE'))).toEqual([]); // an audit column may narrow
  });

  it('refuses a change of type that is not a widening, audit columns included', () => {
    expect(check(withType('net_revenue', 'VARCHAR'))).toEqual([
      'column net_revenue: DECIMAL(18,2) in finance.daily_revenue, VARCHAR from the transform (another type, ' +
        'not a widening); cast it back (CAST(… AS DECIMAL(18,2))) in the transform or change the target in a ' +
        'migration first',
    ]);
    expect(check(withType('recalculated_at', 'VARCHAR'))[0]).toMatch(/^column recalculated_at: .*another type/);
  });

  it('allows a literal stamp narrower than its audit column', () => {
    expect(check(withType('backfill_id', 'VARCHAR(8)'))).toEqual([]);
    expect(outputProblems(TARGET, withType('backfill_id', 'VARCHAR(8)'))[0]).toMatch(/backfill_id: .*\(narrowed\)/);
  });

  it('reads Snowflake FLOAT as a double when the dialect says so', () => {
    const target = [{ name: 'x', type: 'DOUBLE' }];
    expect(outputProblems(target, [{ name: 'x', type: 'FLOAT' }], [], { floatIsDouble: true })).toEqual([]);
    expect(outputProblems(target, [{ name: 'x', type: 'FLOAT' }])[0]).toMatch(/in the target, FLOAT .*\(narrowed\)/);
  });
});

describe('view text', () => {
  it('finds the SELECT of a view definition', () => {
    expect(viewBody('CREATE VIEW finance.v AS SELECT d, sum(n) AS n FROM finance.daily_revenue GROUP BY d;'))
      .toBe('SELECT d, sum(n) AS n FROM finance.daily_revenue GROUP BY d');
    expect(viewBody(
      "create or replace view FINANCE.V (a, b) copy grants comment = 'x as y' as\n" +
        'select a, b from FINANCE.DAILY_REVENUE -- trailing\n',
    )).toBe('select a, b from FINANCE.DAILY_REVENUE');
    expect(viewBody('SELECT 1 AS x')).toBe('SELECT 1 AS x');
  });

  it('matches the table as a whole identifier, quoted or not, in any case', () => {
    const yes = [
      'SELECT * FROM finance.daily_revenue', 'SELECT * FROM "finance"."daily_revenue" r',
      'SELECT * FROM FINANCE.DAILY_REVENUE', 'SELECT * FROM finance . daily_revenue',
      'SELECT * FROM memory.finance.daily_revenue', 'SELECT * FROM x JOIN finance.daily_revenue ON true',
    ];
    const no = [
      'SELECT * FROM finance.daily_revenue_v2', 'SELECT * FROM finance.daily_revenue__shadow',
      'SELECT * FROM staging.daily_revenue', 'SELECT * FROM daily_revenue',
      "SELECT 'finance.daily_revenue' AS t FROM x", 'SELECT 1 -- FROM finance.daily_revenue',
      'SELECT * FROM other_db.finance.daily_revenue', 'SELECT finance.daily_revenue(1)',
    ];
    for (const sql of yes) expect(referencesTable(sql, revenue, 'memory'), sql).toBe(true);
    for (const sql of no) expect(referencesTable(sql, revenue, 'memory'), sql).toBe(false);
  });

  it('replaces each reference by the query, aliased when the view gave no alias', () => {
    const q = '(SELECT 1 AS a)';
    expect(replaceTable('SELECT daily_revenue.a FROM finance.daily_revenue WHERE a > 0', revenue, q, '"daily_revenue"'))
      .toBe('SELECT daily_revenue.a FROM (SELECT 1 AS a) AS "daily_revenue" WHERE a > 0');
    expect(replaceTable('SELECT r.a FROM finance.daily_revenue AS r', revenue, q, '"daily_revenue"'))
      .toBe('SELECT r.a FROM (SELECT 1 AS a) AS r');
    expect(replaceTable('SELECT r.a FROM finance.daily_revenue r JOIN finance.daily_revenue_v2 s ON true', revenue,
      q, '"daily_revenue"')).toBe('SELECT r.a FROM (SELECT 1 AS a) r JOIN finance.daily_revenue_v2 s ON true');
    expect(replaceTable('SELECT * FROM finance.daily_revenue_v2', revenue, q, 'x')).toBeNull();
  });

  it('normalizes layout and comments away, not content', () => {
    expect(normalizeSql('SELECT  a,\n b -- why\nFROM t')).toBe(normalizeSql('SELECT a, b FROM t'));
    expect(normalizeSql("SELECT 'a  b'")).not.toBe(normalizeSql("SELECT 'a b'"));
  });
});

describe('signatures', () => {
  const table = formatSignature({ kind: 'table', columns: [
    { name: 'revenue_date', type: 'DATE' }, { name: 'tax_amount', type: 'DECIMAL(18,2)' },
  ] });

  it('are readable text that parses back', () => {
    expect(table).toBe('table: revenue_date DATE; tax_amount DECIMAL(18,2)');
    const odd = { kind: 'view' as const, definition: 'abc', columns: [
      { name: 'a "b"; c', type: 'STRUCT(x INTEGER, y VARCHAR)' }, { name: 'z', type: 'DATE' },
    ] };
    expect(parseSignature(formatSignature(odd))).toEqual(odd);
    expect(parseSignature(table).columns[1]).toEqual({ name: 'tax_amount', type: 'DECIMAL(18,2)' });
    expect(parseSignature('missing')).toEqual({ kind: 'missing', columns: [] });
  });

  it('name what changed per table', () => {
    const changed = formatSignature({ kind: 'table', columns: [
      { name: 'revenue_date', type: 'DATE' }, { name: 'tax_amount', type: 'DOUBLE' }, { name: 'fx', type: 'DOUBLE' },
    ] });
    const view = (definition: string) => formatSignature({ kind: 'view', definition, columns: [] });
    expect(signatureChanges(
      { 'staging.revenue_events': table, 'finance.v': view('a'), 'staging.gone': table, 'finance.same': table },
      {
        'staging.revenue_events': changed, 'finance.v': view('b'), 'staging.gone': 'missing', 'finance.same': table,
      },
    )).toEqual([
      'staging.revenue_events: column tax_amount DECIMAL(18,2) → DOUBLE; column fx added',
      'finance.v: view redefined',
      'staging.gone: table dropped',
    ]);
    expect(signatureChanges({ t: 'missing' }, { t: table })).toEqual(['t: table created']);
    expect(signatureChanges({ t: table }, { t: view('a') })).toEqual([
      't: table replaced by a view; column revenue_date dropped; column tax_amount dropped',
    ]);
    const reordered = formatSignature({ kind: 'table', columns: [...parseSignature(table).columns].reverse() });
    expect(signatureChanges({ t: table }, { t: reordered })).toEqual(['t: columns reordered']);
  });
});
