import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SCENARIO,
  SeedConflictError,
  bindPartition,
  merchantCount,
  seedRevenueScenario,
  type SeedResult,
} from '../../demo/revenue-scenario';
import { loadGraphFile } from '../../client/load-graph';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';

const FIX_SQL = readFileSync(new URL('../../examples/sql/revenue-tax-fix.sql', import.meta.url), 'utf8');
const REPO_ROOT = new URL('../..', import.meta.url).pathname;

const DAILY_COLUMNS =
  'revenue_date, merchant_id, gross_revenue, tax_amount, net_revenue, order_count, recalculated_at, backfill_id';
/** Columns the fix must reproduce exactly; recalculated_at and backfill_id are audit columns. */
const BUSINESS_COLUMNS = 'revenue_date, merchant_id, gross_revenue, tax_amount, net_revenue, order_count';
const EXPECTED_DELTA = { min: -1.5, max: -0.8 };
/** Exclusive end of the backfill range, the form the partition bounds take. */
const BACKFILL_END_EXCLUSIVE = '2026-06-01';
const LIVE_END_EXCLUSIVE = '2026-06-15';

const addDays = (iso: string, days: number): string => {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
};

/** Order-independent content hash and aggregates of both scenario tables. */
async function fingerprint(db: DuckDbDriver) {
  const [events] = await db.query(
    `SELECT count(*) AS n, CAST(sum(gross_amount) AS VARCHAR) AS gross, CAST(sum(tax_amount) AS VARCHAR) AS tax,
       count(*) FILTER (WHERE tax_inclusive) AS inclusive,
       CAST(sum(CAST(hash(event_id, event_ts, revenue_date, merchant_id, channel, gross_amount, tax_amount,
                          tax_inclusive) AS HUGEINT)) AS VARCHAR) AS row_hash
     FROM staging.revenue_events`,
  );
  const [daily] = await db.query(
    `SELECT count(*) AS n, CAST(sum(gross_revenue) AS VARCHAR) AS gross, CAST(sum(net_revenue) AS VARCHAR) AS net,
       CAST(sum(order_count) AS VARCHAR) AS orders,
       CAST(sum(CAST(hash(${DAILY_COLUMNS}) AS HUGEINT)) AS VARCHAR) AS row_hash
     FROM finance.daily_revenue`,
  );
  return { events, daily };
}

/** Runs the fix SQL for [start, end) into `table` (created on first use). */
async function runFix(db: DuckDbDriver, table: string, start: string, end: string): Promise<number> {
  const bound = bindPartition(FIX_SQL, start, end);
  const exists =
    (await db.query({ sql: 'SELECT 1 FROM duckdb_tables() WHERE table_name = $1', params: [table] })).length > 0;
  return db.execute({
    sql: exists
      ? `INSERT INTO ${table} SELECT * FROM (${bound.sql})`
      : `CREATE TABLE ${table} AS SELECT * FROM (${bound.sql})`,
    params: bound.params,
  });
}

const pct = (x: unknown): number => Number(x);

describe('revenue scenario at scale 1', () => {
  let db: DuckDbDriver;
  let seeded: SeedResult;

  beforeAll(async () => {
    db = await openDuckDb({ path: ':memory:' });
    seeded = await seedRevenueScenario(db);
    // The whole backfill range in one statement, and the live days the fixed transform already wrote.
    await runFix(db, 'fixed_range', SCENARIO.backfillStart, BACKFILL_END_EXCLUSIVE);
    await runFix(db, 'fixed_live', BACKFILL_END_EXCLUSIVE, LIVE_END_EXCLUSIVE);
  });
  afterAll(() => db?.close());

  it('has one row per merchant-day with events, keyed uniquely, over 547 backfill days plus 14 live days', async () => {
    const [r] = await db.query(
      `SELECT count(*) AS n, count(DISTINCT (revenue_date, merchant_id)) AS keys,
         count(DISTINCT revenue_date) FILTER (
           WHERE revenue_date BETWEEN DATE '${SCENARIO.backfillStart}' AND DATE '${SCENARIO.backfillEnd}'
         ) AS backfill_days,
         count(DISTINCT revenue_date) FILTER (
           WHERE revenue_date > DATE '${SCENARIO.backfillEnd}' AND revenue_date <= DATE '${SCENARIO.liveEnd}'
         ) AS live_days,
         CAST(min(revenue_date) AS VARCHAR) AS first_day, CAST(max(revenue_date) AS VARCHAR) AS last_day,
         count(*) FILTER (WHERE backfill_id IS NOT NULL OR recalculated_at IS NULL) AS bad_audit
       FROM finance.daily_revenue`,
    );
    const [e] = await db.query(
      `SELECT count(*) AS events, count(DISTINCT (revenue_date, merchant_id)) AS merchant_days,
         count(DISTINCT merchant_id) AS merchants,
         count(*) FILTER (WHERE CAST(event_ts AS DATE) <> revenue_date) AS misdated
       FROM staging.revenue_events`,
    );
    expect(r).toMatchObject({
      backfill_days: '547',
      live_days: '14',
      first_day: SCENARIO.backfillStart,
      last_day: SCENARIO.liveEnd,
      bad_audit: '0',
    });
    expect(r?.keys).toBe(r?.n);
    expect(r?.n).toBe(e?.merchant_days);
    expect(e?.misdated).toBe('0');
    expect(seeded).toMatchObject({
      events: Number(e?.events),
      dailyRows: Number(r?.n),
      days: 561,
      merchants: merchantCount(1),
    });
    expect(Number(e?.merchants)).toBe(merchantCount(1));
    // Not every merchant trades every day, so rows are fewer than days x merchants.
    expect(seeded.dailyRows).toBeLessThan(561 * seeded.merchants);
    expect(seeded.dailyRows).toBeGreaterThan(0.8 * 561 * seeded.merchants);
  });

  it('keeps gross = net + tax for every event, with tax-exclusive and tax-inclusive events present', async () => {
    const rows = await db.query(
      `SELECT tax_inclusive, count(*) AS n, count(*) FILTER (WHERE tax_amount <= 0 OR tax_amount >= gross_amount) AS odd
       FROM staging.revenue_events GROUP BY 1 ORDER BY 1`,
    );
    expect(rows.map((r) => r.tax_inclusive)).toEqual([false, true]);
    for (const r of rows) expect(r.odd).toBe('0');
  });

  it('is deterministic: a second fresh database gets identical rows, and scale 1 matches ' +
    'its pinned aggregates', async () => {
    const other = await openDuckDb({ path: ':memory:' });
    try {
      const again = await seedRevenueScenario(other);
      expect({ ...again, ms: 0 }).toEqual({ ...seeded, ms: 0 });
      const [a, b] = await Promise.all([fingerprint(db), fingerprint(other)]);
      expect(b).toEqual(a);
      // Pinned so that a change in generation (or in DuckDB's hash()) is noticed, not silently reseeded.
      expect(a.events).toMatchObject({ n: '177406', gross: '12961617.06' });
      expect(a.daily).toMatchObject({ n: '18527', gross: '12961617.06', orders: '177406' });
    } finally {
      await other.close();
    }
  });

  it('the fix SQL returns exactly the columns and types of finance.daily_revenue, stamped FIN-2841', async () => {
    const columns = async (table: string) =>
      db.query({
        sql: 'SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ' +
          'ORDER BY ordinal_position',
        params: [table],
      });
    expect(await columns('fixed_range')).toEqual(await columns('daily_revenue'));
    const [r] = await db.query(
      `SELECT count(*) FILTER (WHERE backfill_id <> 'FIN-2841' OR backfill_id IS NULL) AS unstamped,
         count(*) FILTER (WHERE recalculated_at IS NULL) AS untimed FROM fixed_range`,
    );
    expect(r).toEqual({ unstamped: '0', untimed: '0' });
  });

  it('gives the same rows one day at a time as over the whole range at once', async () => {
    for (let day: string = SCENARIO.backfillStart; day < BACKFILL_END_EXCLUSIVE; day = addDays(day, 1)) {
      await runFix(db, 'fixed_daily', day, addDays(day, 1));
    }
    const [r] = await db.query(
      `SELECT (SELECT count(*) FROM fixed_daily) AS n,
         (SELECT count(*) FROM (SELECT ${BUSINESS_COLUMNS} FROM fixed_daily
                                EXCEPT ALL SELECT ${BUSINESS_COLUMNS} FROM fixed_range)) AS only_daily,
         (SELECT count(*) FROM (SELECT ${BUSINESS_COLUMNS} FROM fixed_range
                                EXCEPT ALL SELECT ${BUSINESS_COLUMNS} FROM fixed_daily)) AS only_range`,
    );
    expect(r).toMatchObject({ only_daily: '0', only_range: '0' });
    expect(Number(r?.n)).toBeGreaterThan(0);
  });

  it('leaves the grain, gross revenue, tax and order counts unchanged', async () => {
    const [r] = await db.query(
      `SELECT count(*) FILTER (WHERE f.merchant_id IS NULL) AS missing,
         count(*) FILTER (WHERE o.merchant_id IS NULL) AS extra,
         count(*) FILTER (WHERE o.gross_revenue IS DISTINCT FROM f.gross_revenue
                            OR o.tax_amount IS DISTINCT FROM f.tax_amount
                            OR o.order_count IS DISTINCT FROM f.order_count) AS changed,
         count(*) FILTER (WHERE o.net_revenue <> f.net_revenue) AS net_changed, count(*) AS n
       FROM (SELECT * FROM finance.daily_revenue WHERE revenue_date <= DATE '${SCENARIO.backfillEnd}') o
       FULL JOIN fixed_range f USING (revenue_date, merchant_id)`,
    );
    expect(r).toMatchObject({ missing: '0', extra: '0', changed: '0' });
    // Nearly every merchant-day has a pos (tax-inclusive) order, so nearly every row moves.
    expect(Number(r?.net_changed)).toBeGreaterThan(0.9 * Number(r?.n));
  });

  it("explains every row delta: net drops by exactly the tax on that merchant-day's tax-inclusive events", async () => {
    const [r] = await db.query(
      `WITH inclusive_tax AS (
         SELECT revenue_date, merchant_id, sum(tax_amount) FILTER (WHERE tax_inclusive) AS tax
         FROM staging.revenue_events GROUP BY ALL)
       SELECT count(*) AS unexplained FROM finance.daily_revenue o JOIN fixed_range f USING (revenue_date, merchant_id)
       JOIN inclusive_tax t USING (revenue_date, merchant_id)
       WHERE o.net_revenue - f.net_revenue IS DISTINCT FROM coalesce(t.tax, 0)`,
    );
    expect(r?.unexplained).toBe('0');
  });

  it('moves net revenue by -1.5%..-0.8% in total, in every 7-day batch and on every day', async () => {
    const delta = (group: string) =>
      db.query(
        `SELECT ${group} AS g,
           CAST(100 * (sum(f.net_revenue) - sum(o.net_revenue)) / sum(o.net_revenue) AS DOUBLE) AS pct
         FROM finance.daily_revenue o JOIN fixed_range f USING (revenue_date, merchant_id) GROUP BY 1 ORDER BY 1`,
      );
    const total = await delta('0');
    const batches = await delta(`date_diff('day', DATE '${SCENARIO.backfillStart}', revenue_date) // 7`);
    const days = await delta('revenue_date');
    expect(batches).toHaveLength(Math.ceil(547 / 7));
    expect(days).toHaveLength(547);
    for (const rows of [total, batches, days]) {
      for (const { g, pct: p } of rows) {
        expect(pct(p), `delta for ${String(g)}`).toBeGreaterThanOrEqual(EXPECTED_DELTA.min);
        expect(pct(p), `delta for ${String(g)}`).toBeLessThanOrEqual(EXPECTED_DELTA.max);
      }
    }
    // Around -1.1%, and not a constant: the reconciliation should have real day-to-day variation to look at.
    expect(pct(total[0]?.pct)).toBeCloseTo(-1.1, 1);
    const perDay = days.map((d) => pct(d.pct));
    expect(Math.max(...perDay) - Math.min(...perDay)).toBeGreaterThan(0.1);
  });

  it('already holds the corrected output for the live days after the fix', async () => {
    const [r] = await db.query(
      `WITH live AS (
         SELECT ${BUSINESS_COLUMNS} FROM finance.daily_revenue WHERE revenue_date > DATE '${SCENARIO.backfillEnd}')
       SELECT (SELECT count(*) FROM live) AS n,
         (SELECT count(*) FROM (SELECT * FROM live EXCEPT ALL SELECT ${BUSINESS_COLUMNS} FROM fixed_live))
           AS only_table,
         (SELECT count(*) FROM (SELECT ${BUSINESS_COLUMNS} FROM fixed_live EXCEPT ALL SELECT * FROM live)) AS only_fix`,
    );
    expect(r).toMatchObject({ only_table: '0', only_fix: '0' });
    expect(Number(r?.n)).toBeGreaterThan(14 * 0.8 * merchantCount(1));
  });

  it('seeding again is a no-op that returns the same counts and leaves the data untouched', async () => {
    const before = await fingerprint(db);
    const again = await seedRevenueScenario(db);
    expect({ ...again, ms: 0 }).toEqual({ ...seeded, ms: 0 });
    expect(await fingerprint(db)).toEqual(before);
  });
});

describe('seeding over existing tables', () => {
  let db: DuckDbDriver;
  beforeAll(async () => {
    db = await openDuckDb({ path: ':memory:' });
  });
  afterAll(() => db?.close());

  it('refuses another scale or changed data with SeedConflictError, and replace recreates the scenario', async () => {
    const small = await seedRevenueScenario(db, { scale: 0.25 });
    expect(small.merchants).toBe(9);
    await expect(seedRevenueScenario(db, { scale: 0.5 })).rejects.toThrow(SeedConflictError);
    await expect(seedRevenueScenario(db, { scale: 0.5 })).rejects.toThrow(/scale 0\.25.*--replace/);

    // What a published backfill does to the target: the seed must not silently undo it.
    await db.execute(`UPDATE finance.daily_revenue SET net_revenue = net_revenue - 1, backfill_id = 'FIN-2841' WHERE ` +
      `revenue_date = DATE '2025-06-15'`);
    await expect(seedRevenueScenario(db, { scale: 0.25 })).rejects.toThrow(SeedConflictError);

    const replaced = await seedRevenueScenario(db, { scale: 0.25, replace: true });
    expect({ ...replaced, ms: 0 }).toEqual({ ...small, ms: 0 });
    const [r] = await db.query(`SELECT count(*) AS n FROM finance.daily_revenue WHERE backfill_id IS NOT NULL`);
    expect(r?.n).toBe('0');
  });

  it('refuses when only one of the two tables exists', async () => {
    await db.execute('DROP TABLE finance.daily_revenue');
    await expect(seedRevenueScenario(db, { scale: 0.25 })).rejects.toThrow(SeedConflictError);
    await seedRevenueScenario(db, { scale: 0.25, replace: true });
  });

  it('rejects scales that give no merchants', async () => {
    for (const scale of [0, -1, Number.NaN, 0.001]) {
      await expect(seedRevenueScenario(db, { scale })).rejects.toThrow(RangeError);
    }
  });
});

describe('revenue scenario at scale 10', () => {
  it('scales merchants, events and rows by ten over the same days, with the same correction', async () => {
    const db = await openDuckDb({ path: ':memory:' });
    try {
      const r = await seedRevenueScenario(db, { scale: 10 });
      expect(r.days).toBe(561);
      expect(r.merchants).toBe(10 * merchantCount(1));
      expect(r.events / 177_406).toBeGreaterThan(9.5);
      expect(r.events / 177_406).toBeLessThan(10.5);
      expect(r.dailyRows / 18_527).toBeGreaterThan(9.5);
      expect(r.dailyRows / 18_527).toBeLessThan(10.5);
      await runFix(db, 'fixed_range', SCENARIO.backfillStart, BACKFILL_END_EXCLUSIVE);
      const [d] = await db.query(
        `SELECT CAST(100 * (sum(f.net_revenue) - sum(o.net_revenue)) / sum(o.net_revenue) AS DOUBLE) AS pct
         FROM finance.daily_revenue o JOIN fixed_range f USING (revenue_date, merchant_id)`,
      );
      expect(pct(d?.pct)).toBeGreaterThanOrEqual(EXPECTED_DELTA.min);
      expect(pct(d?.pct)).toBeLessThanOrEqual(EXPECTED_DELTA.max);
    } finally {
      await db.close();
    }
  });
});

describe('the release tables (examples/revenue-release.yaml)', () => {
  let db: DuckDbDriver;
  beforeAll(async () => {
    db = await openDuckDb({ path: ':memory:' });
    await seedRevenueScenario(db, { scale: 0.5 });
  });
  afterAll(() => db?.close());

  const columns = async (table: string) =>
    (await db.query({
      sql: `SELECT column_name, data_type FROM information_schema.columns
            WHERE table_schema || '.' || table_name = $1 ORDER BY ordinal_position`,
      params: [table],
    })).map((r) => `${String(r.column_name)} ${String(r.data_type)}`);

  it('hold the monthly roll-up of the (wrong) daily table and the lifetime value per merchant and month', async () => {
    const [r] = await db.query(
      `WITH d AS (SELECT CAST(date_trunc('month', revenue_date) AS DATE) AS revenue_month, merchant_id,
                    sum(net_revenue) AS net, sum(gross_revenue) AS gross, sum(order_count) AS orders
                  FROM finance.daily_revenue GROUP BY ALL)
       SELECT (SELECT count(*) FROM d) AS months,
         (SELECT count(*) FROM finance.monthly_revenue) AS monthly_rows,
         (SELECT count(*) FROM d JOIN finance.monthly_revenue m USING (revenue_month, merchant_id)
           WHERE m.net_revenue = d.net AND m.gross_revenue = d.gross AND m.order_count = d.orders) AS equal,
         (SELECT count(*) FROM finance.merchant_ltv_monthly l
           WHERE l.lifetime_net_revenue <> (SELECT sum(net_revenue) FROM finance.monthly_revenue m
             WHERE m.merchant_id = l.merchant_id AND m.revenue_month <= l.revenue_month)) AS wrong_lifetime,
         (SELECT count(*) FROM finance.merchant_ltv_monthly) AS ltv_rows`,
    );
    expect(Number(r?.months)).toBeGreaterThan(0);
    expect(r).toMatchObject({ monthly_rows: r?.months, equal: r?.months, wrong_lifetime: '0', ltv_rows: r?.months });
  });

  it("each node's transform returns its target's columns and types, and moves the measures as the graph " +
    'expects when run as the release runs it', async () => {
    const { graph } = loadGraphFile(join(REPO_ROOT, 'examples/revenue-release.yaml'));
    const months = ['2025-01-01', '2025-02-01', '2025-03-01', '2025-04-01', '2025-05-01', '2025-06-01', '2025-07-01'];
    for (const node of graph.nodes) {
      const { table, shadow_table: shadow } = node.spec.target;
      await db.execute(`CREATE TABLE ${shadow} AS SELECT * FROM ${table} LIMIT 0`);
      // Each upstream node's shadow is complete before the node reads it, as its waits ensure.
      const bounds = node.spec.source_range.grain === 'month' ? months
        : [...months.slice(0, -1).flatMap((m, i) => {
          const days: string[] = [];
          for (let d = m; d < months[i + 1]!; d = addDays(d, 1)) days.push(d);
          return days;
        }), months.at(-1)!];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const bound = bindPartition(node.spec.transform!.sql, bounds[i]!, bounds[i + 1]!);
        await db.execute({ sql: `INSERT INTO ${shadow} SELECT * FROM (${bound.sql})`, params: bound.params });
      }
      expect(await columns(shadow), node.id).toEqual(await columns(table));
      const key = node.spec.target.partition_key;
      for (const m of node.spec.measures) {
        const [d] = await db.query(
          `SELECT CAST(100 * (sum(s.${m.column}) - sum(o.${m.column})) / sum(o.${m.column}) AS DOUBLE) AS pct,
             count(*) AS n, count(o.merchant_id) AS matched
           FROM ${shadow} s LEFT JOIN ${table} o USING (${key}, merchant_id)`,
        );
        expect(d?.matched, `${node.id} rows`).toBe(d?.n);
        expect(pct(d?.pct), `${node.id}.${m.column}`).toBeGreaterThanOrEqual(m.expected_delta.min - 1e-9);
        expect(pct(d?.pct), `${node.id}.${m.column}`).toBeLessThanOrEqual(m.expected_delta.max + 1e-9);
      }
    }
  });

  it('are added to a scenario seeded before they existed, and a changed one is refused', async () => {
    const other = await openDuckDb({ path: ':memory:' });
    try {
      const first = await seedRevenueScenario(other, { scale: 0.25 });
      await other.execute('DROP TABLE finance.merchant_ltv_monthly');
      await other.execute('DROP TABLE finance.monthly_revenue');
      expect({ ...(await seedRevenueScenario(other, { scale: 0.25 })), ms: 0 }).toEqual({ ...first, ms: 0 });
      await other.execute(
        `UPDATE finance.merchant_ltv_monthly SET lifetime_net_revenue = 0 WHERE merchant_id = 'M00001'`,
      );
      await expect(seedRevenueScenario(other, { scale: 0.25 }))
        .rejects.toThrow(/finance\.merchant_ltv_monthly.*--replace/);
    } finally {
      await other.close();
    }
  });
});

describe('bindPartition', () => {
  it('binds both placeholders as DATE parameters', () => {
    expect(
      bindPartition(
        'WHERE d >= :partition_start AND d < :partition_end OR d = :partition_start',
        '2025-01-01',
        '2025-01-08',
      ),
    ).toEqual({
      sql: 'WHERE d >= CAST($1 AS DATE) AND d < CAST($2 AS DATE) OR d = CAST($1 AS DATE)',
      params: ['2025-01-01', '2025-01-08'],
    });
  });
});

describe('demo/seed.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seed-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const seedCli = (...args: string[]) =>
    promisify(execFile)(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'), join(REPO_ROOT, 'demo/seed.ts'), ...args],
      { cwd: REPO_ROOT },
    );

  it('seeds a file, is idempotent, and exits 1 with advice on a conflicting scale', async () => {
    const db = join(dir, 'warehouse.duckdb');
    const first = await seedCli('--db', db, '--scale', '0.25');
    expect(first.stdout).toMatch(
      /Revenue scenario ready .*\(scale 0\.25\): [\d,]+ events, [\d,]+ daily rows over 561 days, 9 merchants/,
    );
    const second = await seedCli('--db', db, '--scale', '0.25');
    expect(second.stdout.replace(/[\d.]+ s\.$/m, '')).toBe(first.stdout.replace(/[\d.]+ s\.$/m, ''));
    const conflict = await seedCli('--db', db, '--scale', '0.5').then(
      () => null,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(conflict?.code).toBe(1);
    expect(conflict?.stderr).toMatch(/Refusing to seed.*--replace/);
  });
});
