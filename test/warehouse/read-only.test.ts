/**
 * `backfill sql` runs in a read-only transaction where the engine has one, so a write that gets past
 * the statement rules still changes nothing: DuckDB's nextval() is a SELECT that advances a
 * sequence. On the file the worker holds read-write, and on the file the CLI opens read-only.
 * (Snowflake has no read-only transaction: test/warehouse/snowflake/driver.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnlyQuery } from '../../activities/tools';
import { BackfillError, BackfillFailure } from '../../contracts/errors';
import { readOnlySelectProblems } from '../../domain/transform-sql';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';

const dir = mkdtempSync(join(tmpdir(), 'read-only-'));
const path = join(dir, 'warehouse.duckdb');
/** A SELECT by every rule of `backfill sql`, and a write: it advances the sequence. */
const SMUGGLED = "SELECT nextval('lab.ids') AS id";

async function refusedAsWrite(p: Promise<unknown>): Promise<void> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(BackfillFailure);
  expect((e as BackfillFailure).code, (e as Error).message).toBe(BackfillError.WarehousePermanent);
  expect((e as Error).message).toContain('read-only mode');
}

beforeAll(async () => {
  const db = await openDuckDb({ path });
  await db.execute('CREATE SCHEMA lab');
  await db.execute('CREATE SEQUENCE lab.ids START 1');
  await db.execute('CREATE TABLE lab.t AS SELECT range AS x FROM range(3)');
  await db.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('backfill sql on DuckDB', () => {
  it('passes the statement rules with a write, so only the transaction can stop it', () => {
    expect(readOnlySelectProblems(SMUGGLED)).toEqual([]);
  });

  describe('through the worker, which holds the file read-write', () => {
    let worker: DuckDbDriver;
    beforeAll(async () => {
      worker = await openDuckDb({ path });
    });
    afterAll(async () => {
      await worker?.close();
    });

    it('reads', async () => {
      expect(await readOnlyQuery(worker, { sql: 'SELECT sum(x) AS s FROM lab.t', limit: 10 })).toEqual({
        columns: ['s'], rows: [{ s: '3' }], truncated: false,
      });
    });

    it('refuses the write and the sequence does not move; outside it, the same text writes', async () => {
      await refusedAsWrite(readOnlyQuery(worker, { sql: SMUGGLED, limit: 10 }));
      await refusedAsWrite(worker.transaction((tx) => tx.execute('DELETE FROM lab.t'), { readOnly: true }));
      expect(await worker.query('SELECT count(*) AS n FROM lab.t')).toEqual([{ n: '3' }]);
      // Without the read-only transaction the statement writes: the first value is still unused.
      expect(await worker.query(SMUGGLED)).toEqual([{ id: '1' }]);
    });
  });

  describe('directly, on the file opened read-only', () => {
    let cli: DuckDbDriver;
    beforeAll(async () => {
      cli = await openDuckDb({ path, readOnly: true });
    });
    afterAll(async () => {
      await cli?.close();
    });

    it('reads, and refuses the write', async () => {
      expect((await readOnlyQuery(cli, { sql: 'SELECT x FROM lab.t ORDER BY x', limit: 2 })).truncated).toBe(true);
      await refusedAsWrite(readOnlyQuery(cli, { sql: SMUGGLED, limit: 10 }));
    });
  });
});
