/**
 * The Snowflake driver on the real snowflake-sdk, against the local wire emulator: query tags,
 * statement timeouts, cancellation, error classification, concurrent transactions on separate
 * sessions, result decoding, EXPLAIN and retention. Then the product's own warehouse code
 * (control store, plan, snapshot, shadow, idempotency proof, batch evidence, range publish) runs
 * through it unchanged, and the emulator's statement log is checked for the rules the Snowflake
 * design depends on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../../client/load-spec';
import { BackfillError, BackfillFailure, type BackfillErrorType } from '../../../contracts/errors';
import { seedRevenueScenario } from '../../../demo/revenue-scenario';
import { allPartitions } from '../../../domain/plan';
import { emptyCumulative, reconcileBatch } from '../../../domain/reconcile';
import type { BackfillSpec } from '../../../domain/spec/schema';
import { compileTransform } from '../../../domain/transform-sql';
import { gatherBatchEvidence } from '../../../warehouse/batch-evidence';
import { columnNames } from '../../../warehouse/catalog';
import { ControlStore } from '../../../warehouse/control-store';
import { openDuckDb } from '../../../warehouse/duckdb/driver';
import { fingerprint, fingerprintSpec } from '../../../warehouse/fingerprint';
import { openWarehouse, warehouseConfigFromEnv } from '../../../warehouse/open';
import { estimatePlan } from '../../../warehouse/plan-estimates';
import { publish } from '../../../warehouse/publish';
import { createShadow, createSnapshot, proveIdempotency, rewritePartition, tablesOf } from '../../../warehouse/shadow';
import { snowflakeConfigFromEnv, type SnowflakeConfig } from '../../../warehouse/snowflake/config';
import { openSnowflake, queryTagText, type SnowflakeDriver } from '../../../warehouse/snowflake/driver';
import { classifySnowflakeError } from '../../../warehouse/snowflake/errors';
import type { QueryTag, StatementEvent } from '../../../warehouse/warehouse';
import { startSnowflakeEmulator, type LoggedStatement, type SnowflakeEmulator } from '../../support/snowflake-emulator';
import { claimTables } from '../../../warehouse/ownership';
import { AT } from '../../support/owned';

/** A cross join that runs for minutes unless interrupted. */
const SLOW = 'SELECT COUNT(*) AS "n" FROM "LOAD"."NUMS" a, "LOAD"."NUMS" b, "LOAD"."NUMS" c WHERE a.x + b.x + c.x = -1';

const dir = mkdtempSync(join(tmpdir(), 'snowflake-driver-'));
let emulator: SnowflakeEmulator;
let env: NodeJS.ProcessEnv;
let config: SnowflakeConfig;
let db: SnowflakeDriver;
const events: StatementEvent[] = [];

async function failureOf(p: Promise<unknown>, code: BackfillErrorType): Promise<BackfillFailure> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a BackfillFailure').toBeInstanceOf(BackfillFailure);
  expect((e as BackfillFailure).code, (e as Error).message).toBe(code);
  return e as BackfillFailure;
}

const since = (mark: number) => emulator.log.filter((e) => e.seq > mark);
const lastSeq = () => emulator.log.at(-1)?.seq ?? 0;

beforeAll(async () => {
  // Seeded with the DuckDB driver, closed, then opened by the emulator: the file is the handover.
  const path = join(dir, 'warehouse.duckdb');
  const seed = await openDuckDb({ path });
  await seedRevenueScenario(seed);
  await seed.execute('CREATE SCHEMA load');
  await seed.execute('CREATE TABLE load.nums AS SELECT range AS x FROM range(3000)');
  await seed.close();
  emulator = await startSnowflakeEmulator({ duckdbPath: path, users: { BACKFILL_SVC: { password: 'secret' } } });
  env = {
    SNOWFLAKE_ACCOUNT: 'xy12345',
    SNOWFLAKE_USER: 'BACKFILL_SVC',
    SNOWFLAKE_PASSWORD: 'secret',
    SNOWFLAKE_WAREHOUSE: 'BACKFILL_WH',
    SNOWFLAKE_DATABASE: 'ANALYTICS',
    SNOWFLAKE_ROLE: 'BACKFILL_ROLE',
    SNOWFLAKE_ACCESS_URL: emulator.accessUrl,
  };
  config = snowflakeConfigFromEnv(env);
  db = await openSnowflake(config, { onStatement: (e) => events.push(e) });
});

afterAll(async () => {
  await db?.close();
  await emulator?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SnowflakeDriver', () => {
  it('returns rows with lower-case keys and JSON-friendly values', async () => {
    const rows = await db.query(
      `SELECT 1 AS ONE, 9007199254740993 AS "Big", CAST(1.50 AS NUMBER(18, 2)) AS DEC, CAST('2025-01-02' AS DATE) AS D,
              CAST('2025-01-02 03:04:05.25' AS TIMESTAMP_NTZ) AS TS,
              CAST('2025-01-02 03:04:05+00' AS TIMESTAMP_LTZ) AS LTZ,
              TRUE AS B, CAST(NULL AS VARCHAR) AS N, 'x' AS S, 1.5::FLOAT AS F`,
    );
    expect(rows).toEqual([
      {
        one: 1,
        big: '9007199254740993',
        dec: '1.50',
        d: '2025-01-02',
        ts: '2025-01-02 03:04:05.25',
        ltz: '2025-01-02T03:04:05Z',
        b: true,
        n: null,
        s: 'x',
        f: 1.5,
      },
    ]);
    expect(JSON.parse(JSON.stringify(rows))).toEqual(rows);
  });

  it('binds :N parameters as values and execute returns the rows changed', async () => {
    await db.execute('CREATE TABLE "LOAD"."ITEMS" (ID NUMBER(38, 0), V VARCHAR)');
    const hostile = "a'); DROP TABLE \"LOAD\".\"ITEMS\"; --";
    expect(
      await db.execute({ sql: 'INSERT INTO "LOAD"."ITEMS" VALUES (:1, :2), (:3, :4)', params: [1, hostile, 2, null] }),
    ).toBe(2);
    expect(await db.execute({ sql: 'UPDATE "LOAD"."ITEMS" SET V = :1 WHERE ID = :2', params: ['z', 2] })).toBe(1);
    expect(await db.query({ sql: 'SELECT ID, V FROM "LOAD"."ITEMS" WHERE V = :1', params: [hostile] })).toEqual([
      { id: 1, v: hostile },
    ]);
    expect(await db.execute({ sql: 'DELETE FROM "LOAD"."ITEMS" WHERE ID > :1', params: [0] })).toBe(2);
    expect(await db.execute('SELECT 1 AS x')).toBe(0);
  });

  it('tags every statement with backfill, phase, batch (counted from 1) and partition, ' +
    'as a statement parameter: no ALTER SESSION round trip', async () => {
    const tag: QueryTag = { backfillId: 'revenue-tax-fix-2026-06', phase: 'batch', batch: 3, partition: '2025-06-03' };
    const odd: QueryTag = { backfillId: 'b', phase: `it's a \\ phase` };
    const mark = lastSeq();
    await db.query('SELECT 1 AS x', { tag });
    await db.query('SELECT 2 AS x', { tag });
    await db.query('SELECT 3 AS x', { tag: odd });
    await db.query('SELECT 4 AS x');
    const log = since(mark);
    expect(log.filter((e) => e.kind !== 'session').map((e) => [e.sql, e.queryTag])).toEqual([
      ['SELECT 1 AS x', queryTagText(tag)],
      ['SELECT 2 AS x', queryTagText(tag)],
      ['SELECT 3 AS x', queryTagText(odd)],
      ['SELECT 4 AS x', '{"app":"safe-backfill"}'],
    ]);
    expect(JSON.parse(queryTagText(tag))).toEqual({
      app: 'safe-backfill',
      backfill_id: 'revenue-tax-fix-2026-06',
      phase: 'batch',
      batch: 4,
      partition: '2025-06-03',
    });
    expect(log.filter((e) => e.kind === 'session')).toHaveLength(0);
  });

  it('maps timeoutMs to STATEMENT_TIMEOUT_IN_SECONDS (rounded up) ' +
    'and unsets it for statements without one', async () => {
    const mark = lastSeq();
    await db.query('SELECT 1 AS x', { timeoutMs: 1_500 });
    await db.query('SELECT 2 AS x', { timeoutMs: 1_500 });
    await db.query('SELECT 3 AS x');
    const settings = since(mark).filter((e) => e.kind === 'session').map((e) => e.sql);
    expect(settings).toEqual([
      'ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 2',
      'ALTER SESSION UNSET STATEMENT_TIMEOUT_IN_SECONDS',
    ]);
  });

  it('a statement over its timeout is cancelled by Snowflake and fails as transient with 000630', async () => {
    const started = performance.now();
    const e = await failureOf(db.query(SLOW, { timeoutMs: 1_000 }), BackfillError.WarehouseTransient);
    expect(e.message).toMatch(
      /^Snowflake 000630: Statement reached its statement or warehouse timeout of 1 second\(s\)/,
    );
    expect(e.details).toMatchObject({ code: '000630', sqlState: '57014' });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('aborting the signal cancels the running statement; the session stays usable', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = performance.now();
    const e = await failureOf(db.query(SLOW, { signal: controller.signal }), BackfillError.WarehouseTransient);
    expect(e.message).toMatch(/^Snowflake 000604: SQL execution canceled/);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(emulator.log.filter((l) => l.sql === SLOW).at(-1)?.error?.code).toBe('000604');
    expect(emulator.requests.some((r) => r.path.endsWith('abort-request') && r.success)).toBe(true);
    expect(await db.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);

    const mark = lastSeq();
    await failureOf(db.query('SELECT 2 AS x', { signal: AbortSignal.abort() }), BackfillError.WarehouseTransient);
    expect(since(mark).filter((l) => l.sql === 'SELECT 2 AS x')).toEqual([]);
  });

  it('classifies errors once: missing objects, refused SQL, bad data, bad credentials, ' +
    'with the code in the message', async () => {
    const missing = await failureOf(db.query('SELECT * FROM "FINANCE"."NO_SUCH_TABLE"'), BackfillError.MissingObject);
    expect(missing.message).toMatch(
      /^Snowflake 002003: SQL compilation error: Object .* does not exist or not authorized\./,
    );
    expect(
      (await failureOf(db.query('SELECT "NO_SUCH_COLUMN" FROM "FINANCE"."DAILY_REVENUE"'), BackfillError.MissingObject))
        .message,
    ).toMatch(/^Snowflake 000904: /);
    expect(
      (
        await failureOf(
          db.execute('MERGE INTO "LOAD"."ITEMS" t USING "LOAD"."ITEMS" s ON t.ID = s.ID WHEN MATCHED THEN DELETE'),
          BackfillError.WarehousePermanent,
        )
      ).message,
    ).toMatch(/^Snowflake 001003: /);
    expect(
      (await failureOf(db.query(`SELECT CAST('abc' AS NUMBER) AS n`), BackfillError.WarehousePermanent)).message,
    ).toMatch(/^Snowflake 100038: Numeric value 'abc' is not recognized/);
    const login = await failureOf(
      openSnowflake({ ...config, auth: { kind: 'password', password: 'wrong' } }),
      BackfillError.InvalidConfig,
    );
    expect(login.message).toMatch(/^Snowflake 390100: Incorrect username or password was specified\. \(during login/);
  });

  it.each([
    [{ name: 'NetworkError', code: 401001, message: 'Network error. Could not reach Snowflake.' },
      BackfillError.WarehouseTransient, 'Snowflake 401001'],
    [{ name: 'OperationFailedError', code: '390114',
       message: 'Authentication token has expired.  The user must authenticate again.' },
      BackfillError.WarehouseTransient, 'Snowflake 390114'],
    [{ name: 'OperationFailedError', code: '000625', sqlState: '57014',
       message: 'Statement ... waiters for this lock exceeds the 20 statements limit.' },
      BackfillError.WarehouseTransient, 'Snowflake 000625'],
    [{ name: 'OperationFailedError', code: '003001', sqlState: '42501',
       message: "SQL access control error: Insufficient privileges to operate on table 'X'" },
      BackfillError.WarehousePermanent, 'Snowflake 003001'],
    [{ name: 'OperationFailedError', code: '000606', sqlState: '57P03',
       message: 'No active warehouse selected in the current session.' },
      BackfillError.InvalidConfig, 'Snowflake 000606'],
    [{ name: 'OperationFailedError', code: '999999', sqlState: '57P01', message: 'an unknown operator intervention' },
      BackfillError.WarehouseTransient, 'Snowflake 999999'],
    [{ name: 'OperationFailedError', code: '999998', sqlState: '22000', message: 'an unknown data error' },
      BackfillError.WarehousePermanent, 'Snowflake 999998'],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      BackfillError.WarehouseTransient, 'Snowflake ECONNRESET'],
    [{ name: 'ClientError', code: 404008, message: 'Invalid account.' },
      BackfillError.InvalidConfig, 'Snowflake 404008'],
  ])('classifies %o', (error, code, prefix) => {
    const e = classifySnowflakeError(error, 'statement');
    expect(e.code).toBe(code);
    expect(e.message.startsWith(`${prefix}: `)).toBe(true);
  });

  it('runs N transactions at once, each on its own session from BEGIN to COMMIT', async () => {
    await db.execute('CREATE TABLE "LOAD"."CONC" (I NUMBER(38, 0))');
    const n = config.maxConnections;
    let arrived = 0;
    let release!: () => void;
    const allInside = new Promise<void>((resolve) => (release = resolve));
    const mark = lastSeq();
    // Every transaction waits inside until all are inside: with fewer sessions this would hang.
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        db.transaction(async (tx) => {
          await tx.execute({ sql: 'INSERT INTO "LOAD"."CONC" VALUES (:1)', params: [i] });
          if (++arrived === n) release();
          await allInside;
        }),
      ),
    );
    const log = since(mark);
    const inserts = log.filter((e) => e.sql.startsWith('INSERT INTO "LOAD"."CONC"'));
    expect(new Set(inserts.map((e) => e.sessionId)).size).toBe(n);
    for (const session of new Set(inserts.map((e) => e.sessionId))) {
      expect(
        log.filter((e) => e.sessionId === session && e.kind !== 'session').map((e) => e.sql.split(' ')[0]),
      ).toEqual(['BEGIN', 'INSERT', 'COMMIT']);
      expect(log.find((e) => e.sessionId === session && e.kind === 'dml')?.inTransaction).toBe(true);
    }
    // More transactions than sessions queue for one, and a failing one rolls back.
    await Promise.all(
      Array.from({ length: n + 2 }, (_, i) =>
        db.transaction((tx) => tx.execute({ sql: 'INSERT INTO "LOAD"."CONC" VALUES (:1)', params: [100 + i] })),
      ),
    );
    await expect(
      db.transaction(async (tx) => {
        await tx.execute('INSERT INTO "LOAD"."CONC" VALUES (-1)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await db.query('SELECT COUNT(*) AS n, MIN(I) AS lowest FROM "LOAD"."CONC"')).toEqual([
      { n: 2 * n + 2, lowest: 0 },
    ]);
    expect(events.filter((e) => e.sql === 'ROLLBACK').length).toBeGreaterThan(0);
  });

  it('explain reads bytes from EXPLAIN USING JSON (bytesAssigned) and names the tables; no rows or time', async () => {
    const spec = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
    const compiled = compileTransform(spec.transform!.sql, (i) => db.dialect.boundValue(i, 'day'));
    const stmt = { sql: compiled.sql, params: ['2025-06-03', '2025-06-04'] };
    const estimate = await db.explain(stmt);
    const [plan] = await db.query({ sql: db.dialect.explain(stmt.sql), params: stmt.params });
    const stats = JSON.parse(String(plan!.content)).GlobalStats as { bytesAssigned: number };
    expect(estimate).toEqual({
      rows: null,
      bytes: stats.bytesAssigned,
      bytesBasis:
        'storage size of the micro-partitions left after pruning of ANALYTICS.STAGING.REVENUE_EVENTS ' +
        '(EXPLAIN bytesAssigned)',
      seconds: null,
    });
    expect(estimate.bytes).toBeGreaterThan(0);
  });

  it('a read-only transaction runs on one session without BEGIN: Snowflake has no read-only transaction', async () => {
    const mark = events.length;
    const count = 'SELECT COUNT(*) AS "n" FROM "LOAD"."NUMS"';
    const rows = await db.transaction(
      async (tx) => [...(await tx.query(count)), ...(await tx.query('SELECT 1 AS "one"'))],
      { readOnly: true },
    );
    expect(rows).toEqual([{ n: 3000 }, { one: 1 }]);
    expect(events.slice(mark).map((e) => [e.sql, e.inTransaction])).toEqual([
      [count, false], ['SELECT 1 AS "one"', false],
    ]);
  });

  it('retention() reads Time Travel retention and transient-ness from SHOW TABLES', async () => {
    expect(await db.retention({ schema: 'finance', name: 'daily_revenue' })).toEqual({ days: 1, transient: false });
    await db.execute('CREATE TRANSIENT TABLE "LOAD"."SCRATCH" (X NUMBER) DATA_RETENTION_TIME_IN_DAYS = 0');
    expect(await db.retention({ database: 'analytics', schema: 'load', name: 'scratch' })).toEqual({
      days: 0,
      transient: true,
    });
    expect(await db.retention({ schema: 'load', name: 'absent' })).toBeNull();
  });

  it('prices warehouse time only when the config gives a credit price and the warehouse size', async () => {
    expect(db.pricePerHour).toBeNull();
    const priced = await openSnowflake({ ...config, pricePerCredit: 3, creditsPerHour: 2, maxConnections: 1 });
    try {
      expect(priced.pricePerHour).toEqual({ amount: 6, unit: 'USD' });
    } finally {
      await priced.close();
    }
  });

  it('close() logs every session of the pool out', async () => {
    const before = emulator.sessions().length;
    const other = await openSnowflake({ ...config, maxConnections: 3 });
    await Promise.all([1, 2, 3].map((i) => other.query(`SELECT ${i} AS x`)));
    expect(emulator.sessions().length).toBe(before + 3);
    await other.close();
    expect(emulator.sessions().length).toBe(before);
  });

  it('replaces a session Snowflake ended: the statement that finds it fails as transient, ' +
    'the next one logs in again', async () => {
    const lone = await openSnowflake({ ...config, maxConnections: 1 });
    try {
      await lone.query('SELECT 1 AS x');
      const session = emulator.logins.at(-1)!.sessionId;
      await emulator.killSession(session);
      await failureOf(lone.query('SELECT 2 AS x'), BackfillError.WarehouseTransient);
      expect(await lone.query('SELECT 3 AS x')).toEqual([{ x: 3 }]);
      expect(emulator.logins.at(-1)!.sessionId).not.toBe(session);
    } finally {
      await lone.close();
    }
  });

  it('checks an idle session with a heartbeat before reuse, so a dead one is replaced ' +
    'before any statement fails', async () => {
    const checked = await openSnowflake({ ...config, maxConnections: 1 }, { validateIdleMs: 0 });
    try {
      await checked.query('SELECT 1 AS x');
      await emulator.killSession(emulator.logins.at(-1)!.sessionId);
      const mark = emulator.requests.length;
      expect(await checked.query('SELECT 2 AS x')).toEqual([{ x: 2 }]);
      expect(emulator.requests.slice(mark).map((r) => `${r.path} ${r.code ?? 'ok'}`)).toEqual(
        expect.arrayContaining([
          '/session/heartbeat 390104',
          '/session/v1/login-request ok',
          '/queries/v1/query-request ok',
        ]),
      );
    } finally {
      await checked.close();
    }
  });

  it('opens through openWarehouse with BACKFILL_WAREHOUSE=snowflake', async () => {
    const warehouse = await openWarehouse(warehouseConfigFromEnv({ ...env, BACKFILL_WAREHOUSE: 'snowflake' }));
    try {
      expect(warehouse.dialect.name).toBe('snowflake');
      expect(await warehouse.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await warehouse.close();
    }
  });
});

describe('the product warehouse code on the Snowflake path', () => {
  const base = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
  // The example narrowed to one week, so the whole flow stays fast.
  const spec: BackfillSpec = {
    ...base,
    source_range: { ...base.source_range, start: '2025-06-01', end: '2025-06-07' },
  };
  const tag = (phase: string, extra: Partial<QueryTag> = {}): { tag: QueryTag } => ({
    tag: { backfillId: spec.backfill_id, phase, ...extra },
  });
  let flow: LoggedStatement[];
  let productionBefore: Awaited<ReturnType<typeof fingerprint>>;

  beforeAll(async () => {
    const columns = await columnNames(emulator.backing, 'finance.daily_revenue');
    const { target } = tablesOf(spec);
    productionBefore = await fingerprint(
      db,
      fingerprintSpec(spec, target, columns, '2024-01-01', '2027-01-01'),
      tag('verify'),
    );
  });

  it('runs control store, plan, snapshot, shadow, idempotency proof, batch evidence and range publish', async () => {
    const mark = lastSeq();
    const { target, shadow, snapshot } = tablesOf(spec);

    await new ControlStore(db).ensure(tag('plan'));
    const plan = await estimatePlan(db, spec, { sample: true, ...tag('plan') });
    expect(plan.totals.partitions).toBe(7);
    expect(plan.totals.bytes).toBeGreaterThan(0);
    expect(plan.warnings.join(' ')).toMatch(
      /longer than finance\.daily_revenue's Time Travel retention \(1 day\(s\)\)/,
    );

    await claimTables(db, spec, AT, tag('claim'));
    expect(await createSnapshot(db, spec, AT, tag('snapshot'))).toBe(true);
    expect(await createShadow(db, spec, AT, tag('shadow'))).toBe(true);
    expect(await createShadow(db, spec, AT, tag('shadow'))).toBe(false);

    const day = { start: '2025-06-03', end: '2025-06-04' };
    const proof = await proveIdempotency(db, spec, day, tag('prove', { partition: day.start }));
    expect(proof.rowsWritten).toBeGreaterThan(0);
    expect(proof.second).toEqual(proof.first);

    // The batch: every partition rewritten, max_concurrency (2) at a time, as the activity does.
    const partitions = allPartitions(spec);
    const columns = await columnNames(db, spec.target.table, tag('batch', { batch: 0 }));
    const queue = [...partitions];
    await Promise.all(
      Array.from({ length: spec.execution.max_concurrency }, async () => {
        for (let p = queue.shift(); p; p = queue.shift())
          await rewritePartition(db, spec, p, columns, tag('batch', { batch: 0, partition: p.start }));
      }),
    );
    const evidence = await gatherBatchEvidence(db, spec, 0, partitions, tag('batch', { batch: 0 }));
    expect(evidence.partitions).toHaveLength(7);
    expect(evidence.partitions.every((p) => p.oldRows === p.newRows && p.oldRows > 0)).toBe(true);
    const verdict = reconcileBatch(spec, evidence, emptyCumulative());
    expect(verdict.passed, JSON.stringify(verdict.checks.filter((c) => !c.passed))).toBe(true);

    const release = {
      releaseId: 'r-2025-06-w1',
      approvedBy: 'finance-controller',
      publishedAt: '2026-06-15T10:00:00Z',
      rollbackExpiresAt: '2026-06-29T10:00:00Z',
    };
    const result = await publish(db, spec, release, tag('publish'));
    expect(result.alreadyPublished).toBe(false);
    expect(result.rowsInserted).toBe(result.rowsDeleted);
    expect(result.rowsInserted).toBe(evidence.partitions.reduce((n, p) => n + p.newRows, 0));
    // Publishing the same release again is a no-op.
    const again = await publish(db, spec, release, tag('publish'));
    expect(again.alreadyPublished).toBe(true);

    // Production now serves the shadow over the range, and the restore point still holds the old rows.
    const range = { from: '2025-06-01', to: '2025-06-08' };
    const fp = (t: typeof target, from = range.from, to = range.to) =>
      fingerprint(db, fingerprintSpec(spec, t, columns, from, to), tag('verify'));
    expect(await fp(target)).toEqual(await fp(shadow));
    expect((await fp(snapshot)).sums).not.toEqual((await fp(target)).sums);
    expect(await fp(target, '2024-01-01', range.from)).toEqual(await fp(snapshot, '2024-01-01', range.from));
    expect((await fp(target, '2024-01-01', '2027-01-01')).rows).toBe(productionBefore.rows);

    flow = since(mark);
    expect(flow.filter((e) => e.error)).toEqual([]);
  });

  it('tags every statement of the flow with the backfill', () => {
    for (const e of flow.filter((s) => s.kind !== 'session')) {
      expect(JSON.parse(e.queryTag ?? '{}'), e.sql).toMatchObject({
        app: 'safe-backfill',
        backfill_id: spec.backfill_id,
      });
    }
  });

  it('runs no DDL inside a transaction (Snowflake would commit it)', () => {
    expect(flow.filter((e) => e.kind === 'ddl' && (e.inTransaction || e.autocommitted)).map((e) => e.sql)).toEqual([]);
    expect(flow.filter((e) => e.kind === 'ddl').length).toBeGreaterThan(0);
  });

  it('rewrites each partition as DELETE + INSERT inside BEGIN … COMMIT on one session', () => {
    for (const p of allPartitions(spec)) {
      const tagged = flow.filter(
        (e) =>
          e.kind !== 'session' &&
          e.queryTag &&
          JSON.parse(e.queryTag).partition === p.start &&
          JSON.parse(e.queryTag).phase === 'batch',
      );
      expect(
        tagged.map((e) => e.sql.split(' ')[0]),
        p.start,
      ).toEqual(['BEGIN', 'DELETE', 'INSERT', 'SELECT', 'COMMIT']);
      expect(new Set(tagged.map((e) => e.sessionId)).size).toBe(1);
      expect(
        tagged
          .filter((e) => e.kind === 'dml')
          .every((e) => e.inTransaction && e.writes[0] === 'FINANCE.DAILY_REVENUE_V2'),
      ).toBe(true);
      // The tag travels with each statement: no ALTER SESSION round trip to set it.
      expect(flow.filter((e) => e.kind === 'session' && e.sql.includes('QUERY_TAG'))).toHaveLength(0);
    }
  });

  it('writes production only inside the publish transaction', () => {
    const production = flow.filter((e) => e.kind === 'dml' && e.writes.includes('FINANCE.DAILY_REVENUE'));
    expect(production.map((e) => e.sql.split(' ')[0])).toEqual(['DELETE', 'INSERT']);
    for (const e of production) {
      expect(e.inTransaction).toBe(true);
      expect(JSON.parse(e.queryTag!).phase).toBe('publish');
    }
    const firstWrite = production[0]!.seq;
    const begin = [...flow]
      .reverse()
      .find((e) => e.seq < firstWrite && e.sessionId === production[0]!.sessionId && e.sql === 'BEGIN TRANSACTION');
    const commit = flow.find(
      (e) => e.seq > firstWrite && e.sessionId === production[0]!.sessionId && e.sql === 'COMMIT',
    );
    expect(begin && commit).toBeTruthy();
    const release = flow.find((e) => e.sql.startsWith('INSERT INTO "BACKFILL_CONTROL"."RELEASES"'));
    expect(release!.seq).toBeGreaterThan(firstWrite);
    expect(release!.seq).toBeLessThan(commit!.seq);
  });
});
