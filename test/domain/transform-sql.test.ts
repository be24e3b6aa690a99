import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  compileTransform, PARTITION_PARAMS, readOnlySelectProblems, SQL_LIMITS, transformProblems,
} from '../../domain/transform-sql';

const WHERE = 'WHERE d >= :partition_start AND d < :partition_end';
const dollar = (i: number) => `$${i}`;
const colon = (i: number) => `:${i}`;

describe('transformProblems', () => {
  it('accepts the example transform', () => {
    const sql = readFileSync(fileURLToPath(new URL('../../examples/sql/revenue-tax-fix.sql', import.meta.url)), 'utf8');
    expect(transformProblems(sql)).toEqual([]);
  });

  it.each([
    ['a plain SELECT', `SELECT * FROM t ${WHERE}`],
    ['a trailing semicolon', `SELECT * FROM t ${WHERE};  \n`],
    ['WITH … SELECT', `WITH x AS (SELECT 1 AS d) SELECT * FROM x ${WHERE}`],
    ['a parenthesised SELECT', `(SELECT * FROM t ${WHERE})`],
    ['DuckDB FROM-first', `from t select * ${WHERE}`],
    ['a leading comment', `-- header\n/* block */\nSELECT * FROM t ${WHERE}`],
    ['a parameter used twice', `SELECT * FROM t ${WHERE} AND e >= :partition_start`],
    ['no space before the parameter', 'SELECT * FROM t WHERE d>=:partition_start AND d<(:partition_end)'],
  ])('accepts %s', (_, sql) => {
    expect(transformProblems(sql)).toEqual([]);
  });

  it('ignores placeholders inside string literals, quoted identifiers and comments', () => {
    const sql = `SELECT ':foo' AS a, 'it''s :bar' AS b, ":baz" AS c FROM t -- :qux\n/* :quux */ ${WHERE}`;
    expect(transformProblems(sql)).toEqual([]);
  });

  it('does not count a parameter that only appears in a string or comment', () => {
    const problems = transformProblems(
      "SELECT ':partition_start' FROM t /* :partition_start */ WHERE d < :partition_end",
    );
    expect(problems).toEqual(['must filter on :partition_start so that it reads and returns one partition']);
  });

  it('leaves :: casts and Snowflake col:field access alone', () => {
    const sql = `SELECT d::DATE, a::timestamp, v:field, v:field:sub, x[1]:foo, t.v:foo FROM t ${WHERE}`;
    expect(transformProblems(sql)).toEqual([]);
  });

  it('reports an unknown named parameter', () => {
    const problems = transformProblems(`SELECT * FROM t ${WHERE} AND region = :region`);
    expect(problems).toEqual(['uses :region; only :partition_start and :partition_end are bound']);
  });

  it('reports a near-miss parameter name and the missing real one', () => {
    const problems = transformProblems('SELECT * FROM t WHERE d >= :partition_start AND d < :partition_ends');
    expect(problems).toEqual([
      'uses :partition_ends; only :partition_start and :partition_end are bound',
      'must filter on :partition_end so that it reads and returns one partition',
    ]);
  });

  it('reports a missing :partition_end', () => {
    expect(transformProblems('SELECT * FROM t WHERE d >= :partition_start')).toEqual([
      'must filter on :partition_end so that it reads and returns one partition',
    ]);
  });

  it('reports both parameters missing when positional placeholders are used', () => {
    expect(transformProblems('SELECT * FROM t WHERE d >= $1 AND d < $2')).toEqual([
      'must filter on :partition_start so that it reads and returns one partition',
      'must filter on :partition_end so that it reads and returns one partition',
    ]);
  });

  it('refuses two statements', () => {
    expect(transformProblems(`SELECT * FROM t ${WHERE}; DROP TABLE t`)).toEqual([
      'contains more than one statement; give a single SELECT (a WITH … SELECT is fine)',
    ]);
    expect(transformProblems(`SELECT 1; SELECT * FROM t ${WHERE};`)).toContain(
      'contains more than one statement; give a single SELECT (a WITH … SELECT is fine)',
    );
  });

  it('does not mistake a semicolon in a string or comment for a second statement', () => {
    expect(transformProblems(`SELECT ';' AS s, "a;b" FROM t -- ; drop\n${WHERE}`)).toEqual([]);
  });

  it.each([
    `DELETE FROM t ${WHERE}`,
    `INSERT INTO t SELECT * FROM s ${WHERE}`,
    `UPDATE t SET x = 1 ${WHERE}`,
    `CREATE TABLE x AS SELECT * FROM t ${WHERE}`,
    `selection FROM t ${WHERE}`,
  ])('refuses a non-SELECT: %s', (sql) => {
    expect(transformProblems(sql))
      .toEqual(["must be a SELECT (or WITH … SELECT) producing the target table's columns"]);
  });

  it.each([
    ["SELECT 'abc FROM t", 'string literal'],
    ['SELECT "abc FROM t', 'quoted identifier'],
    ['SELECT /* abc FROM t', 'block comment'],
  ])('reports an unterminated %s', (sql, what) => {
    expect(transformProblems(sql)).toEqual([`has an unterminated ${what}; close it`]);
  });
});

describe('compileTransform', () => {
  it('replaces parameters with $n placeholders and lists them in positional order', () => {
    const out = compileTransform(`SELECT * FROM t ${WHERE} AND e < :partition_end`, dollar);
    expect(out).toEqual({
      sql: 'SELECT * FROM t WHERE d >= $1 AND d < $2 AND e < $2',
      params: ['partition_start', 'partition_end'],
    });
    expect(out.params).toBe(PARTITION_PARAMS);
  });

  it('replaces parameters with :n placeholders, leaving casts and path access', () => {
    const out = compileTransform(`SELECT d::DATE, v:field FROM t ${WHERE}`, colon);
    expect(out.sql).toBe('SELECT d::DATE, v:field FROM t WHERE d >= :1 AND d < :2');
  });

  it('passes typed placeholders through verbatim', () => {
    const out = compileTransform(`SELECT * FROM t ${WHERE}`, (i) => `CAST($${i} AS DATE)`);
    expect(out.sql).toBe('SELECT * FROM t WHERE d >= CAST($1 AS DATE) AND d < CAST($2 AS DATE)');
  });

  it('leaves strings, quoted identifiers and comments byte for byte', () => {
    const sql =
      `SELECT ':partition_start' AS a, "x:partition_end" AS b FROM t -- :partition_end\n` +
      `/* :partition_start */ ${WHERE}`;
    expect(compileTransform(sql, dollar).sql).toBe(
      `SELECT ':partition_start' AS a, "x:partition_end" AS b FROM t -- :partition_end\n` +
        `/* :partition_start */ WHERE d >= $1 AND d < $2`,
    );
  });

  it('trims surrounding whitespace and one trailing semicolon', () => {
    expect(compileTransform(`\n  SELECT * FROM t ${WHERE};\n`, dollar).sql)
      .toBe('SELECT * FROM t WHERE d >= $1 AND d < $2');
    expect(compileTransform(`SELECT * FROM t ${WHERE} ;  `, dollar).sql).not.toContain(';');
  });

  it('drops the trailing semicolon even when a comment follows it', () => {
    // transformProblems accepts this (the semicolon ends the only statement), so the compiled text
    // must not keep it: `SELECT … FROM (<compiled>)` would otherwise be a syntax error.
    const sql = `SELECT * FROM t ${WHERE};\n-- end of file\n`;
    expect(transformProblems(sql)).toEqual([]);
    expect(compileTransform(sql, dollar).sql).not.toContain(';');
  });

  it('throws on an unterminated literal', () => {
    expect(() => compileTransform("SELECT 'x FROM t", dollar)).toThrow(/unterminated string literal/);
  });

  it('compiles the example transform so no named parameter is left', () => {
    const sql = readFileSync(fileURLToPath(new URL('../../examples/sql/revenue-tax-fix.sql', import.meta.url)), 'utf8');
    const out = compileTransform(sql, dollar);
    expect(out.sql).not.toMatch(/:partition_(start|end)\b/);
    expect(out.sql).toContain('WHERE revenue_date >= $1 AND revenue_date < $2');
  });
});

describe('readOnlySelectProblems (backfill sql)', () => {
  it.each([
    'SELECT 1',
    'WITH a AS (SELECT 1 AS x) SELECT * FROM a;',
    "SELECT 'delete from t' AS words, \"update\" FROM t -- drop table t",
    'SELECT updated_at, settled FROM t',
  ])('lets a read through: %s', (sql) => {
    expect(readOnlySelectProblems(sql)).toEqual([]);
  });

  it.each([
    ['DELETE FROM finance.daily_revenue', 'uses DELETE; only reading is allowed here'],
    ['SELECT 1; DROP TABLE t', 'contains more than one statement; give a single SELECT'],
    ["COPY t TO '/tmp/x.csv'", 'uses COPY; only reading is allowed here'],
    ["SELECT * FROM t WHERE d = :day", 'uses a :parameter; nothing is bound here, write the value'],
    ["ATTACH 'other.duckdb'", 'must be a SELECT (or WITH … SELECT)'],
    ['', 'is empty; give a SELECT'],
    ['SELECT 1 /* unterminated', 'has an unterminated block comment; close it'],
  ])('refuses %s', (sql, problem) => {
    expect(readOnlySelectProblems(sql)).toContain(problem);
  });

  it('bounds what is pasted', () => {
    expect(readOnlySelectProblems(`SELECT '${'x'.repeat(SQL_LIMITS.chars)}'`)[0]).toMatch(/at most 20000/);
  });
});
