/**
 * The wire emulator driven by the real snowflake-sdk (no driver of ours in between), plus the
 * translator on its own. What must hold: the SDK decodes every cell type correctly, DML counts
 * and binds work, transactions are per session, DDL commits an open transaction, unknown SQL is
 * refused with a Snowflake error code (promptly, never a hang or a 5xx), and statement timeouts
 * and aborts interrupt the running DuckDB statement.
 */
import { generateKeyPairSync } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Connection } from 'snowflake-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSnowflakeEmulator, type SnowflakeEmulator } from '../../support/snowflake-emulator';
import { connectRaw, destroyRaw, rawError, runRaw, startRaw } from '../../support/snowflake-emulator/sdk';
import { strftimeFormat, translate } from '../../support/snowflake-emulator/translate';

/** A cross join that runs for minutes unless interrupted (3,000³ combinations). */
const SLOW = 'SELECT COUNT(*) AS "n" FROM "LOAD"."NUMS" a, "LOAD"."NUMS" b, "LOAD"."NUMS" c WHERE a.x + b.x + c.x = -1';

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

let emulator: SnowflakeEmulator;
let conn: Connection;

beforeAll(async () => {
  emulator = await startSnowflakeEmulator({ users: { BACKFILL: { password: 'secret', publicKeyPem: publicKey } } });
  await emulator.backing.execute('CREATE SCHEMA load');
  await emulator.backing.execute('CREATE TABLE load.nums AS SELECT range AS x FROM range(3000)');
  await emulator.backing.execute(`CREATE TABLE load.blobs (b BLOB)`);
  await emulator.backing.execute(`INSERT INTO load.blobs VALUES ('\\xCA\\xFE'::BLOB)`);
  conn = await connectRaw(emulator);
});

afterAll(async () => {
  if (conn) await destroyRaw(conn);
  await emulator?.close();
});

describe('login', () => {
  it('accepts a password and a key-pair (SNOWFLAKE_JWT) login and records the user', async () => {
    const before = emulator.logins.length;
    const jwt = await connectRaw(emulator, {
      authenticator: 'SNOWFLAKE_JWT',
      privateKey,
      password: undefined,
      role: 'BACKFILL_ROLE',
    });
    expect(emulator.logins.slice(before)).toEqual([
      expect.objectContaining({
        user: 'BACKFILL',
        authenticator: 'SNOWFLAKE_JWT',
        database: 'ANALYTICS',
        warehouse: 'BACKFILL_WH',
        role: 'BACKFILL_ROLE',
      }),
    ]);
    expect((await runRaw(jwt, 'SELECT 1 AS "one"')).rows).toEqual([{ one: 1 }]);
    await destroyRaw(jwt);
    expect(emulator.logins.find((l) => l.authenticator === 'SNOWFLAKE')?.user).toBe('BACKFILL');
  });

  it('refuses a wrong password and a JWT signed with another key, with Snowflake codes', async () => {
    const wrong = await rawError(connectRaw(emulator, { password: 'nope' }));
    expect(wrong.code).toBe('390100');
    const other = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const forged = await rawError(
      connectRaw(emulator, { authenticator: 'SNOWFLAKE_JWT', privateKey: other.privateKey, password: undefined }),
    );
    expect(forged.code).toBe('390144');
  });

  it('logging out closes the session', async () => {
    const c = await connectRaw(emulator);
    const open = emulator.sessions().length;
    await destroyRaw(c);
    expect(emulator.sessions().length).toBe(open - 1);
  });
});

describe('results in Snowflake JSON format', () => {
  it('every cell type decodes correctly in the real driver', async () => {
    const { rows, statement } = await runRaw(
      conn,
      `SELECT CAST('2024-02-29' AS DATE) AS d, CAST('1969-12-31 23:59:58.123456' AS TIMESTAMP_NTZ) AS ts,
              CAST('2024-01-02 03:04:05.5+00' AS TIMESTAMP_LTZ) AS ltz, CAST('13:14:15.25' AS TIME) AS tm,
              CAST(12345678901234567.89 AS NUMBER(38, 2)) AS dec, 9007199254740993 AS big, TRUE AS yes, FALSE AS no,
              1.5::FLOAT AS f, 'it''s' AS s, CAST(NULL AS VARCHAR) AS nothing`,
      undefined,
      { fetchAsString: ['Number'] },
    );
    const types = Object.fromEntries(statement.getColumns()!.map((c) => [c.getName(), c.getType()]));
    expect(types).toEqual({
      D: 'date',
      TS: 'timestamp_ntz',
      LTZ: 'timestamp_ltz',
      TM: 'time',
      DEC: 'fixed',
      BIG: 'fixed',
      YES: 'boolean',
      NO: 'boolean',
      F: 'real',
      S: 'text',
      NOTHING: 'text',
    });
    const [row] = rows as Array<
      Record<string, { toJSON(): string; getEpochSeconds(): number; getNanoSeconds(): number } & Date>
    >;
    expect(String(row!.D!.toJSON())).toBe('2024-02-29');
    expect(row!.TS!.getEpochSeconds()).toBe(-2);
    expect(row!.TS!.getNanoSeconds()).toBe(123456000);
    expect(row!.TS!.toJSON()).toBe('1969-12-31 23:59:58.123');
    expect((row!.LTZ as unknown as Date).toISOString()).toBe('2024-01-02T03:04:05.500Z');
    expect(row!.TM).toBe('13:14:15'); // the driver formats TIME with TIME_OUTPUT_FORMAT
    expect(row!.DEC).toBe('12345678901234567.89'); // exact, as text
    expect(row!.BIG).toBe('9007199254740993');
    expect([row!.YES, row!.NO, row!.F, row!.S, row!.NOTHING]).toEqual([true, false, '1.5', "it's", null]);
  });

  it('binary cells are upper-case hex', async () => {
    const { rows } = await runRaw(conn, 'SELECT b FROM "LOAD"."BLOBS"');
    expect(Buffer.isBuffer(rows[0]!.B)).toBe(true);
    expect((rows[0]!.B as Buffer).toString('hex')).toBe('cafe');
  });

  it('names unquoted columns upper case and keeps the case of quoted aliases', async () => {
    const { statement } = await runRaw(conn, 'SELECT 1 AS "row_count", 2 AS n, 3 AS "Mixed"');
    expect(statement.getColumns()!.map((c) => c.getName())).toEqual(['row_count', 'N', 'Mixed']);
  });
});

describe('statements', () => {
  it('DML answers one row with the affected count, as Snowflake does, and binds :N positions', async () => {
    await runRaw(
      conn,
      'CREATE TABLE "LOAD"."PEOPLE" (ID NUMBER(38, 0) NOT NULL, NAME VARCHAR, SCORE NUMBER(10, 2), ACTIVE BOOLEAN)',
    );
    const insert = await runRaw(conn, 'INSERT INTO "LOAD"."PEOPLE" VALUES (:1, :2, :3, :4), (:5, :6, :7, :8)', [
      1,
      "o'hara",
      1.25,
      true,
      2,
      'b',
      3,
      false,
    ]);
    expect(insert.statement.getNumUpdatedRows()).toBe(2);
    expect(insert.rows).toEqual([{ 'number of rows inserted': 2 }]);
    const update = await runRaw(conn, 'UPDATE "LOAD"."PEOPLE" SET NAME = ? WHERE ID = ?', ['z', 2]);
    expect(update.statement.getNumUpdatedRows()).toBe(1);
    expect(Object.keys(update.rows[0]!)).toEqual(['number of rows updated', 'number of multi-joined rows updated']);
    expect((await runRaw(conn, 'DELETE FROM "LOAD"."PEOPLE" WHERE ID = :1', [99])).statement.getNumUpdatedRows()).toBe(
      0,
    );
    const { rows } = await runRaw(conn, 'SELECT ID, NAME, SCORE, ACTIVE FROM "LOAD"."PEOPLE" WHERE NAME = :1', [
      "o'hara",
    ]);
    expect(rows).toEqual([{ ID: 1, NAME: "o'hara", SCORE: 1.25, ACTIVE: true }]);
    const log = emulator.log.filter((e) => e.sql.startsWith('INSERT INTO "LOAD"."PEOPLE"'));
    expect(log).toEqual([
      expect.objectContaining({
        kind: 'dml',
        writes: ['LOAD.PEOPLE'],
        rowsChanged: 2,
        binds: [1, "o'hara", 1.25, true, 2, 'b', 3, false],
      }),
    ]);
  });

  it('MERGE of bound values inserts, then updates, answering rows inserted and rows updated', async () => {
    await runRaw(conn, 'CREATE TABLE "LOAD"."KV" (K VARCHAR NOT NULL, V NUMBER(10, 0))');
    const merge = 'MERGE INTO "LOAD"."KV" AS t USING (SELECT ? AS k, ? AS v) AS s ON t.k = s.k ' +
      'WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT (k, v) VALUES (s.k, s.v)';
    const first = await runRaw(conn, merge, ['a', 1]);
    expect(first.rows).toEqual([{ 'number of rows inserted': 1, 'number of rows updated': 0 }]);
    const second = await runRaw(conn, merge, ['a', 2]);
    expect(second.rows).toEqual([{ 'number of rows inserted': 0, 'number of rows updated': 1 }]);
    expect(second.statement.getNumUpdatedRows()).toBe(1);
    expect((await runRaw(conn, 'SELECT K, V FROM "LOAD"."KV"')).rows).toEqual([{ K: 'a', V: 2 }]);
  });

  it('a bind the statement uses but the request lacks is a compilation error', async () => {
    expect((await rawError(runRaw(conn, 'SELECT :2 AS x', ['only one']))).code).toBe('002049');
  });

  it('transactions are per session: uncommitted rows are invisible to other sessions, ROLLBACK discards', async () => {
    await runRaw(conn, 'CREATE TABLE "LOAD"."TX" (X NUMBER)');
    const other = await connectRaw(emulator);
    try {
      await runRaw(conn, 'BEGIN TRANSACTION');
      await runRaw(conn, 'INSERT INTO "LOAD"."TX" VALUES (1)');
      expect(emulator.sessions().find((s) => s.inTransaction)).toBeDefined();
      expect((await runRaw(other, 'SELECT COUNT(*) AS "n" FROM "LOAD"."TX"')).rows).toEqual([{ n: 0 }]);
      await runRaw(conn, 'COMMIT');
      expect((await runRaw(other, 'SELECT COUNT(*) AS "n" FROM "LOAD"."TX"')).rows).toEqual([{ n: 1 }]);
      await runRaw(other, 'BEGIN');
      await runRaw(other, 'DELETE FROM "LOAD"."TX"');
      await runRaw(other, 'ROLLBACK');
      expect((await runRaw(conn, 'SELECT COUNT(*) AS "n" FROM "LOAD"."TX"')).rows).toEqual([{ n: 1 }]);
    } finally {
      await destroyRaw(other);
    }
  });

  it('DDL commits the open transaction before it runs, as on Snowflake, and the log says so', async () => {
    await runRaw(conn, 'CREATE TABLE "LOAD"."AUTO" (X NUMBER)');
    await runRaw(conn, 'BEGIN');
    await runRaw(conn, 'INSERT INTO "LOAD"."AUTO" VALUES (7)');
    await runRaw(conn, 'CREATE TABLE "LOAD"."AUTO_SIDE" (Y NUMBER)');
    await runRaw(conn, 'ROLLBACK'); // nothing left to roll back: the CREATE committed the insert
    expect((await runRaw(conn, 'SELECT X FROM "LOAD"."AUTO"')).rows).toEqual([{ X: 7 }]);
    const ddl = emulator.log.find((e) => e.sql.startsWith('CREATE TABLE "LOAD"."AUTO_SIDE"'));
    expect(ddl).toMatchObject({ kind: 'ddl', inTransaction: true, autocommitted: true });
  });

  it('CLONE copies rows and NOT NULLs, LIKE copies columns only, SWAP WITH exchanges two tables', async () => {
    await runRaw(conn, 'CREATE TABLE "LOAD"."A" (K NUMBER NOT NULL, V VARCHAR)');
    await runRaw(conn, `INSERT INTO "LOAD"."A" VALUES (1, 'a'), (2, 'b')`);
    await runRaw(conn, 'CREATE TABLE "LOAD"."A_CLONE" CLONE "LOAD"."A"');
    await runRaw(conn, 'CREATE TABLE "LOAD"."A_LIKE" LIKE "LOAD"."A"');
    const count = async (t: string) => (await runRaw(conn, `SELECT COUNT(*) AS "n" FROM "LOAD"."${t}"`)).rows[0]!.n;
    expect([await count('A_CLONE'), await count('A_LIKE')]).toEqual([2, 0]);
    expect((await rawError(runRaw(conn, `INSERT INTO "LOAD"."A_LIKE" VALUES (NULL, 'x')`))).code).toBe('100072');
    await runRaw(conn, `INSERT INTO "LOAD"."A_LIKE" VALUES (9, 'like')`);
    await runRaw(conn, 'ALTER TABLE "LOAD"."A" SWAP WITH "LOAD"."A_LIKE"');
    expect((await runRaw(conn, 'SELECT V FROM "LOAD"."A"')).rows).toEqual([{ V: 'like' }]);
    expect(await count('A_LIKE')).toBe(2);
    expect((await rawError(runRaw(conn, 'CREATE TABLE "LOAD"."A" CLONE "LOAD"."A_LIKE"'))).code).toBe('002002');
    expect((await rawError(runRaw(conn, 'CREATE TABLE "LOAD"."X" CLONE "LOAD"."MISSING"'))).code).toBe('002003');
  });

  it('SHOW TABLES reports kind and retention; TRANSIENT and DATA_RETENTION_TIME_IN_DAYS are remembered', async () => {
    await runRaw(conn, 'CREATE TRANSIENT TABLE "LOAD"."SCRATCH" (X NUMBER) DATA_RETENTION_TIME_IN_DAYS = 0');
    const { rows } = await runRaw(conn, `SHOW TABLES LIKE 'scratch' IN SCHEMA "ANALYTICS"."LOAD"`);
    expect(rows).toEqual([
      expect.objectContaining({
        name: 'SCRATCH',
        schema_name: 'LOAD',
        database_name: 'ANALYTICS',
        kind: 'TRANSIENT',
        retention_time: '0',
      }),
    ]);
    const nums = (await runRaw(conn, `SHOW TABLES LIKE 'NUMS' IN SCHEMA "LOAD"`)).rows;
    expect(nums).toEqual([expect.objectContaining({ name: 'NUMS', kind: 'TABLE', retention_time: '1', rows: 3000 })]);
  });

  it('INFORMATION_SCHEMA.VIEWS shows each view with the CREATE VIEW text as sent; IF NOT EXISTS keeps it', async () => {
    const created = `CREATE VIEW "LOAD"."SMALL_NUMS" COPY GRANTS AS SELECT x FROM "LOAD"."NUMS" WHERE x < 10 -- ten`;
    await runRaw(conn, `${created};`);
    await runRaw(conn, 'CREATE VIEW IF NOT EXISTS LOAD.SMALL_NUMS AS SELECT 1 AS x');
    const { rows } = await runRaw(conn, `SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION
      FROM "ANALYTICS".INFORMATION_SCHEMA.VIEWS WHERE TABLE_NAME = 'SMALL_NUMS'`);
    expect(rows).toEqual([{
      TABLE_SCHEMA: 'LOAD',
      TABLE_NAME: 'SMALL_NUMS',
      VIEW_DEFINITION: created.replace(' -- ten', ''),
    }]);
    await runRaw(conn, 'CREATE OR REPLACE VIEW LOAD.SMALL_NUMS AS SELECT x FROM LOAD.NUMS WHERE x < 5');
    const replaced = await runRaw(conn, `SELECT VIEW_DEFINITION FROM INFORMATION_SCHEMA.VIEWS V
      WHERE V.TABLE_NAME = 'SMALL_NUMS'`);
    expect(replaced.rows).toEqual([
      { VIEW_DEFINITION: 'CREATE OR REPLACE VIEW LOAD.SMALL_NUMS AS SELECT x FROM LOAD.NUMS WHERE x < 5' },
    ]);
    await runRaw(conn, 'DROP VIEW LOAD.SMALL_NUMS');
  });

  it('a LIMIT 0 query answers no rows with the full rowtype of its columns', async () => {
    const { statement, rows } = await runRaw(conn, `SELECT CAST(x AS NUMBER(10, 2)) AS d, CAST(x AS VARCHAR) AS s,
      CAST(x AS DOUBLE) AS f, CAST('2025-01-01' AS TIMESTAMP_NTZ) AS ts FROM "LOAD"."NUMS" LIMIT 0`);
    expect(rows).toEqual([]);
    expect(statement.getColumns()!.map((c) => [c.getName(), c.getType(), c.getPrecision(), c.getScale()])).toEqual([
      ['D', 'fixed', 10, 2], ['S', 'text', null, null], ['F', 'real', null, null], ['TS', 'timestamp_ntz', null, 9],
    ]);
  });

  it('EXPLAIN USING JSON answers one JSON plan with GlobalStats computed from a profiled DuckDB run', async () => {
    const { rows } = await runRaw(conn, 'EXPLAIN USING JSON SELECT SUM(x) FROM "LOAD"."NUMS" WHERE x < :1', [10]);
    const plan = JSON.parse(String(rows[0]!.content)) as {
      GlobalStats: { bytesAssigned: number; partitionsAssigned: number; partitionsTotal: number };
      Operations: unknown[][];
    };
    expect(plan.GlobalStats.bytesAssigned).toBeGreaterThan(0);
    expect(plan.GlobalStats.partitionsAssigned).toBeLessThanOrEqual(plan.GlobalStats.partitionsTotal);
    expect(plan.Operations[0]).toContainEqual(
      expect.objectContaining({ operation: 'TableScan', objects: ['ANALYTICS.LOAD.NUMS'] }),
    );
  });

  it('ALTER SESSION sets and unsets QUERY_TAG per session; ' +
    'the log records the tag each statement ran under', async () => {
    await runRaw(conn, `ALTER SESSION SET QUERY_TAG = '{"app":"it\\'s \\\\ fine"}'`);
    await runRaw(conn, 'SELECT 1 AS "tagged"');
    await runRaw(conn, 'ALTER SESSION UNSET QUERY_TAG');
    await runRaw(conn, 'SELECT 2 AS "untagged"');
    const tagOf = (sql: string) => emulator.log.find((e) => e.sql === sql)?.queryTag;
    expect(tagOf('SELECT 1 AS "tagged"')).toBe(`{"app":"it's \\ fine"}`);
    expect(tagOf('SELECT 2 AS "untagged"')).toBeNull();
  });
});

describe('refusals', () => {
  it.each([
    ['MERGE INTO "LOAD"."A" USING "LOAD"."A_CLONE" s ON "LOAD"."A".K = s.K WHEN MATCHED THEN DELETE', /MERGE/],
    ['SELECT * FROM TABLE(GENERATOR(ROWCOUNT => 1))', /table functions/],
    ['SELECT GREATEST(1, NULL) AS g', /GREATEST/],
    ['SELECT v:field FROM "LOAD"."A"', /semi-structured/],
    ['SELECT * FROM range(10)', /RANGE/],
    ['CREATE TABLE "LOAD"."T2" CLONE "LOAD"."A" AT (OFFSET => -60)', /Time Travel|CLONE/],
    ['ALTER SESSION SET TIMEZONE = \'UTC\'', /TIMEZONE/],
    ['SELECT "k" FROM "LOAD"."A"', /invalid identifier/],
  ])('refuses %s with a Snowflake compilation error, promptly', async (sql, message) => {
    const started = performance.now();
    const e = await rawError(runRaw(conn, sql));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(e.code).toMatch(/^(001003|000904)$/);
    expect(e.sqlState).toBe('42000');
    expect(e.message).toMatch(message);
    expect(emulator.log.at(-1)).toMatchObject({ sql, error: { code: e.code } });
  });

  it('refuses several statements in one request (MULTI_STATEMENT_COUNT is 1)', async () => {
    expect((await rawError(runRaw(conn, 'SELECT 1; SELECT 2'))).code).toBe('000008');
  });

  it('answers unknown routes with HTTP 200 and success:false, never 5xx, and reads gzip bodies', async () => {
    const unknown = await fetch(`${emulator.accessUrl}/nowhere`, { method: 'POST' });
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toMatchObject({ success: false });
    const login = await fetch(`${emulator.accessUrl}/session/v1/login-request?databaseName=ANALYTICS`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ data: { LOGIN_NAME: 'backfill', PASSWORD: 'secret', ACCOUNT_NAME: 'XY12345' } })),
    });
    expect(await login.json()).toMatchObject({
      success: true,
      data: { token: expect.any(String), sessionInfo: { databaseName: 'ANALYTICS' } },
    });
  });
});

describe('timeouts and cancellation', () => {
  it('STATEMENT_TIMEOUT_IN_SECONDS interrupts the DuckDB statement and answers 000630', async () => {
    const c = await connectRaw(emulator);
    try {
      await runRaw(c, 'ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 1');
      const started = performance.now();
      const e = await rawError(runRaw(c, SLOW));
      expect(e).toMatchObject({ code: '000630', sqlState: '57014' });
      expect(performance.now() - started).toBeLessThan(5_000);
      // The session is usable afterwards.
      expect((await runRaw(c, 'SELECT 1 AS "ok"')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await destroyRaw(c);
    }
  });

  it('statement.cancel() sends an abort-request that interrupts the running statement (000604)', async () => {
    const { statement, done } = startRaw(conn, SLOW);
    const started = performance.now();
    setTimeout(() => statement.cancel(), 300);
    const e = await rawError(done);
    expect(e).toMatchObject({ code: '000604', sqlState: '57014' });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(emulator.requests.some((r) => r.path.endsWith('abort-request') && r.success)).toBe(true);
    expect(emulator.log.find((l) => l.sql === SLOW && l.error?.code === '000604')).toBeDefined();
  });
});

describe('asynchronous queries', () => {
  it('asyncExec answers 333334 at once; status comes from /monitoring/queries and the result from ' +
    '/queries/{id}/result', async () => {
    const { statement, done } = startRaw(conn, 'SELECT COUNT(*) AS "n" FROM "LOAD"."NUMS"', undefined, {
      asyncExec: true,
    });
    await done;
    const queryId = statement.getQueryId();
    expect(queryId).toMatch(/^[0-9a-f-]{36}$/);
    const result = await conn.getResultsFromQueryId({ queryId });
    const rows = await new Promise<unknown[]>((resolve, reject) => {
      const out: unknown[] = [];
      result.streamRows().on('data', (r) => out.push(r)).on('end', () => resolve(out)).on('error', reject);
    });
    expect(rows).toEqual([{ n: 3000 }]);
    expect(await conn.getQueryStatus(queryId)).toBe('SUCCESS');
    expect(emulator.requests.some((r) => r.path === `/monitoring/queries/${queryId}`)).toBe(true);
  });
});

describe('locks and long statements', () => {
  let slow: SnowflakeEmulator;
  beforeAll(async () => {
    slow = await startSnowflakeEmulator({ inProgressAfterMs: 100, lockWaitLimit: 1 });
    await slow.backing.execute(
      'CREATE SCHEMA load; CREATE TABLE load.t (x INTEGER); INSERT INTO load.t VALUES (1), (2)',
    );
  });
  afterAll(async () => slow?.close());

  it('a DELETE waits for another session’s table lock; the driver polls the 333333 result URL meanwhile', async () => {
    const [a, b, c] = await Promise.all([connectRaw(slow), connectRaw(slow), connectRaw(slow)]);
    try {
      await runRaw(a, 'BEGIN');
      await runRaw(a, 'DELETE FROM "LOAD"."T" WHERE x = 1');
      const started = performance.now();
      const waiting = runRaw(b, 'DELETE FROM "LOAD"."T" WHERE x = 2');
      await new Promise((r) => setTimeout(r, 200));
      // lockWaitLimit 1: a second waiter is aborted, as Snowflake aborts the 21st.
      const third = await rawError(runRaw(c, 'UPDATE "LOAD"."T" SET x = 3'));
      expect(third.code).toBe('000625');
      setTimeout(() => void runRaw(a, 'COMMIT'), 400);
      expect((await waiting).statement.getNumUpdatedRows()).toBe(1);
      expect(performance.now() - started).toBeGreaterThanOrEqual(400);
      expect(slow.requests.filter((r) => r.code === '333333').length).toBeGreaterThan(0);
      expect(slow.requests.some((r) => /^\/queries\/[^/]+\/result$/.test(r.path) && r.success && r.code === null)).toBe(
        true,
      );
    } finally {
      await Promise.all([a, b, c].map(destroyRaw));
    }
  });
});

describe('translate', () => {
  const ctx = { database: 'ANALYTICS', schema: 'PUBLIC', bindCount: 2 };
  const sqlOf = (sql: string) => {
    const t = translate(sql, ctx);
    return 'sql' in t.action ? t.action.sql : null;
  };

  it('rewrites the Snowflake-only expressions the dialect emits', () => {
    expect(sqlOf(`SELECT TO_CHAR(DATE_TRUNC('HOUR', "TS"), 'YYYY-MM-DD"T"HH24:00:00') AS "p" FROM "S"."T" WHERE "TS" ` +
      `>= CAST(:1 AS TIMESTAMP_NTZ)`)).toBe(
      `SELECT strftime(date_trunc('hour', "TS"), '%Y-%m-%dT%H:00:00') AS "p" FROM "S"."T" ` +
        `WHERE "TS" >= CAST($1 AS TIMESTAMP)`,
    );
    expect(sqlOf('SELECT COUNT(DISTINCT "A", "B") AS "k", TO_VARCHAR(SUM("M")) AS "s" FROM "S"."T"')).toBe(
      'SELECT COUNT(DISTINCT CASE WHEN "A" IS NOT NULL AND "B" IS NOT NULL THEN row("A", "B") END) AS "k", ' +
        'CAST(SUM("M") AS VARCHAR) AS "s" FROM "S"."T"',
    );
    expect(sqlOf('SELECT HASH_AGG("A", "B") FROM "S"."T"')).toMatch(
      /^SELECT CAST\(CASE WHEN .*hash\("A", "B"\).* AS BIGINT\) FROM "S"."T"$/,
    );
    expect(sqlOf('CREATE OR REPLACE VIEW "S"."V" COPY GRANTS AS SELECT * FROM "S"."T"')).toBe(
      'CREATE OR REPLACE VIEW "S"."V" AS SELECT * FROM "S"."T"',
    );
    expect(sqlOf('SELECT * FROM "ANALYTICS"."S"."T"')).toBe('SELECT * FROM "S"."T"');
    expect(sqlOf('SELECT IFF(x > 1, \'a\', \'b\') AS y')).toBe(`SELECT (CASE WHEN x > 1 THEN 'a' ELSE 'b' END) AS y`);
    expect(strftimeFormat('YYYY-MM-DD HH24:MI:SS')).toBe('%Y-%m-%d %H:%M:%S');
  });

  it('names each statement’s kind and the tables it writes', () => {
    const t = (sql: string) => {
      const r = translate(sql, ctx);
      return [r.kind, r.writes, r.locks];
    };
    expect(t('DELETE FROM "FINANCE"."DAILY_REVENUE_V2" WHERE x = :1')).toEqual([
      'dml',
      ['FINANCE.DAILY_REVENUE_V2'],
      ['FINANCE.DAILY_REVENUE_V2'],
    ]);
    expect(t('INSERT INTO "FINANCE"."DAILY_REVENUE" ("A") SELECT "A" FROM "FINANCE"."V2"')).toEqual([
      'dml',
      ['FINANCE.DAILY_REVENUE'],
      [],
    ]);
    expect(t('UPDATE releases SET status = :1')).toEqual(['dml', ['PUBLIC.RELEASES'], ['PUBLIC.RELEASES']]);
    expect(t('ALTER TABLE "F"."A" SWAP WITH "F"."B"')).toEqual(['ddl', ['F.A', 'F.B'], []]);
    expect(t('CREATE TABLE "F"."S" CLONE "F"."A"')).toEqual(['ddl', ['F.S'], []]);
    expect(t('DROP TABLE IF EXISTS "F"."S"')).toEqual(['ddl', ['F.S'], []]);
    expect(t('CREATE SCHEMA IF NOT EXISTS "BACKFILL_CONTROL"')).toEqual(['ddl', ['BACKFILL_CONTROL'], []]);
    expect(t('ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 30')).toEqual(['session', [], []]);
    expect(t('BEGIN TRANSACTION')).toEqual(['tcl', [], []]);
    expect(t('EXPLAIN USING JSON SELECT 1')).toEqual(['select', [], []]);
  });

  it('drops key constraints (Snowflake does not enforce them) and keeps NOT NULL', () => {
    expect(
      sqlOf('CREATE TABLE IF NOT EXISTS "C"."L" (t VARCHAR NOT NULL PRIMARY KEY, n NUMBER(38, 0), PRIMARY KEY (t, n))'),
    ).toBe('CREATE TABLE IF NOT EXISTS "C"."L" (t VARCHAR NOT NULL, n DECIMAL(38, 0))');
  });

  it.each([
    ['SELECT * FROM "OTHERDB"."S"."T"', '002003'],
    ['SELECT :3', '002049'],
    ['INSERT INTO "S"."T" SELECT $1 FROM @stage', '001003'],
    ['SELECT a[0] FROM t', '001003'],
    ['SELECT FILTER(x) FROM t', '001003'],
    ['CREATE TABLE "s"."t" (x NUMBER)', '001003'],
    ['EXPLAIN SELECT 1', '001003'],
    ['SELECT CAST(x AS VARIANT) FROM t', '001003'],
  ])('refuses %s (%s)', (sql, code) => {
    expect(() => translate(sql, ctx)).toThrow(expect.objectContaining({ code }));
  });
});
