/**
 * The DuckDB driver against a real DuckDB: in memory for most cases, and a file held by another
 * process for the lock case.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackfillError, BackfillFailure, type BackfillErrorType } from '../../../contracts/errors';
import { duckDbTypeWidth, openDuckDb, type DuckDbDriver } from '../../../warehouse/duckdb/driver';
import type { StatementEvent } from '../../../warehouse/warehouse';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** A statement that runs for minutes unless interrupted. */
const SLOW = 'SELECT sum(hash(i)) AS s FROM range(1000000000000) t(i)';

async function failureOf(p: Promise<unknown>, code: BackfillErrorType): Promise<BackfillFailure> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a BackfillFailure').toBeInstanceOf(BackfillFailure);
  expect((e as BackfillFailure).code, (e as Error).message).toBe(code);
  return e as BackfillFailure;
}

describe('DuckDbDriver in memory', () => {
  let db: DuckDbDriver;
  let events: StatementEvent[];

  beforeEach(async () => {
    events = [];
    db = await openDuckDb({ path: ':memory:', onStatement: (e) => events.push(e) });
    await db.execute('CREATE SCHEMA s');
    await db.execute('CREATE TABLE s.t (id INTEGER PRIMARY KEY, v VARCHAR)');
    await db.execute(`INSERT INTO s.t VALUES (1, 'a'), (2, 'b')`);
    events.length = 0;
  });
  afterEach(async () => {
    await db?.close();
  });

  it('query returns JSON-friendly rows: big integers and decimals as strings, dates as ISO text', async () => {
    const rows = await db.query(
      `SELECT 1::INTEGER AS i, 9007199254740993::BIGINT AS big, 3::HUGEINT AS huge, 1.25::DECIMAL(18, 2) AS dec,
              DATE '2025-01-02' AS d, TIMESTAMP '2025-01-02 03:04:05' AS ts, true AS b, NULL AS n, 'x' AS s,
              1.5::DOUBLE AS f`,
    );
    expect(rows).toEqual([
      {
        i: 1,
        big: '9007199254740993',
        huge: '3',
        dec: '1.25',
        d: '2025-01-02',
        ts: '2025-01-02 03:04:05',
        b: true,
        n: null,
        s: 'x',
        f: 1.5,
      },
    ]);
    expect(JSON.parse(JSON.stringify(rows))).toEqual(rows);
  });

  it('binds positional parameters as values, never as SQL', async () => {
    const hostile = "a'); DROP TABLE s.t; --";
    expect(await db.query({ sql: 'SELECT $1 AS v, $2::INTEGER + 1 AS n', params: [hostile, 41] })).toEqual([
      { v: hostile, n: 42 },
    ]);
    expect(await db.query('SELECT count(*) AS n FROM s.t')).toEqual([{ n: '2' }]);
  });

  it('execute returns the number of rows changed', async () => {
    expect(await db.execute(`INSERT INTO s.t VALUES (3, 'c'), (4, 'd'), (5, 'e')`)).toBe(3);
    expect(await db.execute({ sql: 'UPDATE s.t SET v = $1 WHERE id > $2', params: ['z', 2] })).toBe(3);
    expect(await db.execute('DELETE FROM s.t WHERE id = 1')).toBe(1);
    expect(await db.execute('DELETE FROM s.t WHERE id = 999')).toBe(0);
    expect(await db.execute('SELECT 1')).toBe(0);
  });

  it('transaction commits what the callback wrote and returns its value', async () => {
    const out = await db.transaction(async (tx) => {
      expect(await tx.execute(`INSERT INTO s.t VALUES (3, 'c')`)).toBe(1);
      // Reads inside the transaction see its own writes.
      const [row] = await tx.query('SELECT count(*) AS n FROM s.t');
      return row!.n;
    });
    expect(out).toBe('3');
    expect(await db.query('SELECT id FROM s.t ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  it('transaction rolls back and rethrows when the callback throws', async () => {
    const boom = new Error('boom');
    const thrown = await db
      .transaction(async (tx) => {
        await tx.execute(`INSERT INTO s.t VALUES (3, 'c')`);
        await tx.execute(`UPDATE s.t SET v = 'changed'`);
        await tx.execute('DELETE FROM s.t WHERE id = 1');
        throw boom;
      })
      .catch((e: unknown) => e);
    expect(thrown).toBe(boom);
    expect(events.map((e) => e.sql).slice(-2)).toEqual(['DELETE FROM s.t WHERE id = 1', 'ROLLBACK']);
    expect(events.some((e) => e.sql === 'COMMIT')).toBe(false);
    expect(await db.query('SELECT id, v FROM s.t ORDER BY id')).toEqual([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]);
  });

  it('transaction rolls back when a statement inside fails, with the statement classified', async () => {
    const failure = await failureOf(
      db.transaction(async (tx) => {
        await tx.execute(`INSERT INTO s.t VALUES (3, 'c')`);
        await tx.execute(`INSERT INTO s.t VALUES (1, 'duplicate key')`);
      }),
      BackfillError.WarehousePermanent,
    );
    expect(failure.message).toMatch(/Constraint Error/);
    expect(await db.query('SELECT count(*) AS n FROM s.t')).toEqual([{ n: '2' }]);
  });

  it('a read-only transaction reads, refuses any write as WarehousePermanent, and ends with ROLLBACK', async () => {
    const rows = await db.transaction((tx) => tx.query('SELECT count(*) AS n FROM s.t'), { readOnly: true });
    expect(rows).toEqual([{ n: '2' }]);
    expect(events.map((e) => e.sql)).toEqual([
      'BEGIN TRANSACTION READ ONLY', 'SELECT count(*) AS n FROM s.t', 'ROLLBACK',
    ]);
    const failure = await failureOf(
      db.transaction((tx) => tx.execute('DELETE FROM s.t'), { readOnly: true }),
      BackfillError.WarehousePermanent,
    );
    expect(failure.message).toContain('read-only mode');
    expect(failure.message).toContain('only reading is allowed here');
    expect(await db.query('SELECT count(*) AS n FROM s.t')).toEqual([{ n: '2' }]);
  });

  it('cancels a statement that exceeds timeoutMs with WarehouseTransient', async () => {
    const started = performance.now();
    const failure = await failureOf(db.query(SLOW, { timeoutMs: 150 }), BackfillError.WarehouseTransient);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(failure.message).toContain('150 ms timeout');
    // The driver is still usable afterwards.
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('lets a statement that finishes in time through, and the timer does not fire later', async () => {
    expect(await db.query('SELECT 42 AS n', { timeoutMs: 5_000 })).toEqual([{ n: 42 }]);
  });

  it('cancels a running statement when its AbortSignal fires', async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 150);
    const failure = await failureOf(db.query(SLOW, { signal: controller.signal }), BackfillError.WarehouseTransient);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(failure.message).toMatch(/interrupt/i);
  });

  it('refuses to start a statement whose signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await failureOf(
      db.execute(`INSERT INTO s.t VALUES (9, 'x')`, { signal: controller.signal }),
      BackfillError.WarehouseTransient,
    );
    expect(await db.query('SELECT count(*) AS n FROM s.t WHERE id = 9')).toEqual([{ n: '0' }]);
  });

  it('classifies a missing table as MissingObject', async () => {
    const failure = await failureOf(db.query('SELECT * FROM s.nope'), BackfillError.MissingObject);
    expect(failure.message).toContain('nope');
    expect(failure.details).toEqual({ engine: 'duckdb' });
  });

  it('classifies a parser error as WarehousePermanent', async () => {
    const failure = await failureOf(db.query('SELEC 1'), BackfillError.WarehousePermanent);
    expect(failure.message).toContain('Parser Error');
  });

  it('reports every statement with its params, tag, duration and transaction flag', async () => {
    const tag = { backfillId: 'b1', phase: 'test', batch: 3 };
    await db.query({ sql: 'SELECT $1 AS x', params: [7] }, { tag });
    await db.transaction(async (tx) => {
      await tx.execute(`INSERT INTO s.t VALUES (3, 'c')`);
    }, { tag });
    await db.query('SELEC 1').catch(() => undefined);

    expect(events.map((e) => [e.sql, e.inTransaction])).toEqual([
      ['SELECT $1 AS x', false],
      ['BEGIN TRANSACTION', true],
      [`INSERT INTO s.t VALUES (3, 'c')`, true],
      ['COMMIT', true],
      ['SELEC 1', false],
    ]);
    expect(events[0]).toMatchObject({ params: [7], tag });
    expect(events[2]!.tag).toEqual(tag);
    expect(events.every((e) => typeof e.ms === 'number' && e.ms >= 0)).toBe(true);
    expect(events.slice(0, 4).every((e) => e.error === undefined)).toBe(true);
    expect(events[4]!.error).toContain('Parser Error');
  });

  it('has no price per hour', () => {
    expect(db.pricePerHour).toBeNull();
    expect(db.dialect.name).toBe('duckdb');
  });
});

describe('DuckDbDriver.explain', () => {
  let db: DuckDbDriver;
  const TOTAL = 730 * 1000;
  const oneDay = {
    sql: 'SELECT d, sum(amount) FROM f.daily WHERE d >= CAST($1 AS DATE) AND d < CAST($2 AS DATE) GROUP BY d',
    params: ['2025-03-01', '2025-03-02'],
  };
  // Two years of 1,000 rows a day, stored in date order so a one-day scan prunes row groups.
  const seed = async (d: DuckDbDriver) => {
    await d.execute('CREATE SCHEMA f');
    await d.execute('CREATE TABLE f.daily (d DATE, merchant VARCHAR, amount DECIMAL(18, 2), n BIGINT)');
    await d.execute(
      `INSERT INTO f.daily SELECT DATE '2024-01-01' + CAST(i // 1000 AS INTEGER), 'M' || (i % 1000), (i % 97) * 1.5, ` +
        `i FROM range(${TOTAL}) r(i)`,
    );
  };

  beforeAll(async () => {
    db = await openDuckDb({ path: ':memory:' });
    await seed(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('reports the rows a filtered scan reads, its bytes and seconds: one day of the table', async () => {
    const estimate = await db.explain(oneDay);
    expect(estimate.rows).toBe(1000);
    expect(estimate.bytes!).toBeGreaterThan(0);
    expect(estimate.seconds).toEqual(expect.any(Number));
    expect(estimate.seconds!).toBeGreaterThanOrEqual(0);
  });

  it('in memory, where nothing is in storage, counts the type widths of the columns read, and says so', async () => {
    const one = await db.explain({
      sql: 'SELECT sum(n) FROM f.daily WHERE d >= CAST($1 AS DATE) AND d < CAST($2 AS DATE)',
      params: ['2025-03-01', '2025-03-02'],
    });
    const all = await db.explain({ sql: 'SELECT sum(n) FROM f.daily', params: [] });
    expect(all.rows).toBe(TOTAL);
    expect(all.bytes!).toBeGreaterThan(one.bytes!);
    // n is BIGINT: 8 bytes a row when it is the only projected column.
    expect(all.bytes).toBe(TOTAL * 8);
    expect(all.bytesBasis).toBe('type widths of the columns read from f.daily (not in the database file yet)');
  });

  describe('on a file', () => {
    let dir: string;
    let file: DuckDbDriver;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'duckdb-explain-'));
      file = await openDuckDb({ path: join(dir, 'w.duckdb') });
      await seed(file);
      await file.execute('CHECKPOINT');
    });
    afterAll(async () => {
      await file?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('counts the storage size per row of the columns read, from the file\'s storage metadata', async () => {
      const storage = await file.query(file.dialect.tableStorage({ schema: 'f', name: 'daily' }));
      expect(storage.map((c) => c.column).sort()).toEqual(['amount', 'd', 'merchant', 'n']);
      expect(storage.every((c) => Number(c.rows) === TOTAL && Number(c.bytes) >= 0)).toBe(true);
      const stored = (names: string[]) =>
        storage.filter((c) => names.includes(String(c.column))).reduce((sum, c) => sum + Number(c.bytes), 0);
      const [size] = await file.query('SELECT total_blocks * block_size AS bytes FROM pragma_database_size()');
      // The columns' storage is the table's part of the file.
      expect(stored(['amount', 'd', 'merchant', 'n'])).toBeLessThanOrEqual(Number(size!.bytes));

      const estimate = await file.explain(oneDay);
      expect(estimate.rows).toBe(1000);
      expect(estimate.bytes).toBeCloseTo((1000 * stored(['d', 'amount'])) / TOTAL, 6);
      expect(estimate.bytesBasis).toBe('storage size of the columns read from f.daily');
      const all = await file.explain({ sql: 'SELECT sum(n) FROM f.daily', params: [] });
      expect(all.bytes).toBeCloseTo(stored(['n']), 6);
    });
  });
});

describe('duckDbTypeWidth', () => {
  it.each([
    ['BOOLEAN', 1],
    ['SMALLINT', 2],
    ['INTEGER', 4],
    ['DATE', 4],
    ['BIGINT', 8],
    ['DOUBLE', 8],
    ['TIMESTAMP', 8],
    ['DECIMAL(18,2)', 8],
    ['DECIMAL(38,2)', 16],
    ['VARCHAR', 16],
    ['HUGEINT', 16],
    ['uuid', 16],
  ] as const)('%s is %d bytes', (type, width) => {
    expect(duckDbTypeWidth(type)).toBe(width);
  });
});

describe('a DuckDB file held by another process', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'backfill-lock-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs openDuckDb on `path` in a child Node process (with tsx) and returns what happened. */
  function openInChild(path: string): Promise<{ opened?: boolean; code?: string; message?: string }> {
    const script = `
      const { openDuckDb } = require('./warehouse/duckdb/driver');
      openDuckDb({ path: process.argv[1] }).then(
        async (db) => { await db.close(); console.log(JSON.stringify({ opened: true })); },
        (e) => console.log(JSON.stringify({ code: e.code, message: e.message })),
      );`;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script, path], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += String(d)));
      child.stderr.on('data', (d: Buffer) => (err += String(d)));
      child.on('error', reject);
      child.on('exit', () => {
        try {
          resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as { opened?: boolean; code?: string });
        } catch {
          reject(new Error(`child printed no result; stdout: ${out} stderr: ${err}`));
        }
      });
    });
  }

  it('is refused with WarehouseLocked while this process holds it, and opens once released', async () => {
    const path = join(dir, 'w.duckdb');
    const holder = await openDuckDb({ path });
    try {
      await holder.execute('CREATE TABLE t (x INTEGER)');
      const second = await openInChild(path);
      expect(second.code, second.message).toBe(BackfillError.WarehouseLocked);
      expect(second.message).toContain('one writing process per file');
    } finally {
      await holder.close();
    }
    expect(await openInChild(path)).toEqual({ opened: true });
  }, 30_000);
});
