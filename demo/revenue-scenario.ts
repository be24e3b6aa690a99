/**
 * The runbook's world (FIN-2841), built deterministically in DuckDB: raw revenue events and the
 * finance.daily_revenue table the old transform produced from them, wrong for the eighteen months
 * the backfill corrects and already right for the live days after the fix shipped.
 *
 * Money model, shared by the buggy and the fixed transform: gross_amount is what the customer paid
 * and always contains tax_amount. tax_inclusive only says how the price was shown: in-store (pos)
 * shelf prices include tax, online prices get tax added at checkout. Net revenue is therefore
 * gross - tax for every event; the old transform read "tax-inclusive" as "tax already removed" and
 * booked the full gross as net for those events.
 *
 * Pseudo-randomness comes from DuckDB's hash() of integer coordinates (merchant, day, order), so
 * every run on every machine with this DuckDB version produces the same rows; the test suite pins
 * the scale-1 aggregates to notice if that ever changes.
 */
import type { Driver, Session } from '../warehouse/warehouse';

export const SCENARIO = {
  sourceTable: 'staging.revenue_events',
  targetTable: 'finance.daily_revenue',
  backfillStart: '2024-12-01',
  /** Inclusive. */
  backfillEnd: '2026-05-31',
  /** Inclusive; days after backfillEnd were computed by the fixed transform. */
  liveEnd: '2026-06-14',
  /** Derived from targetTable by the nightly pipeline: the release graph's downstream nodes. */
  monthlyTable: 'finance.monthly_revenue',
  ltvTable: 'finance.merchant_ltv_monthly',
} as const;

/** Merchants at scale 1: ~316 orders a day, enough to keep every day's net delta within 0.25 points of -1.1%. */
const MERCHANTS_PER_SCALE = 36;
/** event_id packs (day, merchant, order) into decimal digits; merchant_idx must stay below this. */
const MAX_MERCHANTS = 999_999;

export interface SeedOptions {
  /** Multiplies the number of merchants (1 by default). */
  scale?: number;
  /** Drop and recreate the scenario tables. */
  replace?: boolean;
}

export interface SeedResult {
  events: number;
  dailyRows: number;
  days: number;
  merchants: number;
  /** Rows of finance.monthly_revenue and finance.merchant_ltv_monthly (seedReleaseTables). */
  monthlyRows: number;
  ltvRows: number;
  ms: number;
}

/** Seeding was refused because the scenario tables exist and do not hold this scale's data. */
export class SeedConflictError extends Error {
  override readonly name = 'SeedConflictError';
}

const EVENT_COLUMNS = [
  'event_id',
  'event_ts',
  'revenue_date',
  'merchant_id',
  'channel',
  'gross_amount',
  'tax_amount',
  'tax_inclusive',
] as const;

const DAILY_COLUMNS = [
  'revenue_date',
  'merchant_id',
  'gross_revenue',
  'tax_amount',
  'net_revenue',
  'order_count',
  'recalculated_at',
  'backfill_id',
] as const;

const CREATE_EVENTS = `CREATE TABLE staging.revenue_events (
  event_id BIGINT NOT NULL,
  event_ts TIMESTAMP NOT NULL,
  revenue_date DATE NOT NULL,
  merchant_id VARCHAR NOT NULL,
  channel VARCHAR NOT NULL,
  gross_amount DECIMAL(18, 2) NOT NULL,
  tax_amount DECIMAL(18, 2) NOT NULL,
  tax_inclusive BOOLEAN NOT NULL
)`;

const CREATE_DAILY = `CREATE TABLE finance.daily_revenue (
  revenue_date DATE NOT NULL,
  merchant_id VARCHAR NOT NULL,
  gross_revenue DECIMAL(18, 2),
  tax_amount DECIMAL(18, 2),
  net_revenue DECIMAL(18, 2),
  order_count BIGINT,
  recalculated_at TIMESTAMP,
  backfill_id VARCHAR
)`;

const MONTHLY_COLUMNS = [
  'revenue_month',
  'merchant_id',
  'gross_revenue',
  'tax_amount',
  'net_revenue',
  'order_count',
  'recalculated_at',
  'backfill_id',
] as const;

const LTV_COLUMNS = [
  'revenue_month',
  'merchant_id',
  'month_net_revenue',
  'lifetime_net_revenue',
  'lifetime_order_count',
  'recalculated_at',
  'backfill_id',
] as const;

const CREATE_MONTHLY = `CREATE TABLE finance.monthly_revenue (
  revenue_month DATE NOT NULL,
  merchant_id VARCHAR NOT NULL,
  gross_revenue DECIMAL(18, 2),
  tax_amount DECIMAL(18, 2),
  net_revenue DECIMAL(18, 2),
  order_count BIGINT,
  recalculated_at TIMESTAMP,
  backfill_id VARCHAR
)`;

const CREATE_LTV = `CREATE TABLE finance.merchant_ltv_monthly (
  revenue_month DATE NOT NULL,
  merchant_id VARCHAR NOT NULL,
  month_net_revenue DECIMAL(18, 2),
  lifetime_net_revenue DECIMAL(18, 2),
  lifetime_order_count BIGINT,
  recalculated_at TIMESTAMP,
  backfill_id VARCHAR
)`;

/**
 * The monthly roll-up the pipeline loaded from finance.daily_revenue as it stood (wrong up to
 * backfillEnd), as examples/sql/monthly-revenue.sql computes it; each month stamped at 03:00 on the
 * first of the next month, a fixed timestamp so reruns are identical.
 */
const MONTHLY_SELECT = `
SELECT
  revenue_month,
  merchant_id,
  CAST(sum(gross_revenue) AS DECIMAL(18, 2)) AS gross_revenue,
  CAST(sum(tax_amount) AS DECIMAL(18, 2)) AS tax_amount,
  CAST(sum(net_revenue) AS DECIMAL(18, 2)) AS net_revenue,
  CAST(sum(order_count) AS BIGINT) AS order_count,
  CAST(revenue_month AS TIMESTAMP) + INTERVAL 1 MONTH + INTERVAL 3 HOUR AS recalculated_at,
  CAST(NULL AS VARCHAR) AS backfill_id
FROM (SELECT *, CAST(date_trunc('month', revenue_date) AS DATE) AS revenue_month FROM finance.daily_revenue)
GROUP BY revenue_month, merchant_id`;

/** Lifetime net revenue per merchant and month from finance.monthly_revenue (examples/sql/merchant-ltv-monthly.sql). */
const LTV_SELECT = `
SELECT
  revenue_month,
  merchant_id,
  net_revenue AS month_net_revenue,
  CAST(sum(net_revenue) OVER lifetime AS DECIMAL(18, 2)) AS lifetime_net_revenue,
  CAST(sum(order_count) OVER lifetime AS BIGINT) AS lifetime_order_count,
  CAST(revenue_month AS TIMESTAMP) + INTERVAL 1 MONTH + INTERVAL 4 HOUR AS recalculated_at,
  CAST(NULL AS VARCHAR) AS backfill_id
FROM finance.monthly_revenue
WINDOW lifetime AS (PARTITION BY merchant_id ORDER BY revenue_month ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`;

/**
 * Orders for every active merchant-day. $1/$2: first and last day (inclusive), $3: merchant count.
 * Channels cycle through a fixed pattern per merchant-day (one pos order in six), so the
 * tax-inclusive share of a day barely moves and neither does the size of the correction.
 */
const EVENTS_SELECT = `
WITH days AS (
  SELECT CAST(i AS BIGINT) AS day_idx, CAST(CAST($1 AS DATE) + CAST(i AS INTEGER) AS DATE) AS revenue_date
  FROM range(0, date_diff('day', CAST($1 AS DATE), CAST($2 AS DATE)) + 1) AS r(i)
),
merchants AS (
  SELECT
    m AS merchant_idx,
    'M' || lpad(CAST(m AS VARCHAR), 5, '0') AS merchant_id,
    CAST(2000 + hash(m, 1) % 10000 AS BIGINT) AS ticket_cents,
    [500, 600, 725, 800, 875, 1000][1 + CAST(hash(m, 2) % 6 AS INTEGER)] AS tax_bp
  FROM range(1, CAST($3 AS BIGINT) + 1) AS r(m)
),
merchant_days AS (
  SELECT
    d.day_idx, d.revenue_date, m.merchant_idx, m.merchant_id, m.ticket_cents, m.tax_bp,
    CAST(6 + hash(m.merchant_idx, d.day_idx, 4) % 7
      + CASE WHEN dayofweek(d.revenue_date) IN (0, 6) THEN 2 ELSE 0 END AS BIGINT) AS orders,
    CAST(hash(m.merchant_idx, d.day_idx, 5) % 6 AS BIGINT) AS channel_offset
  FROM days d CROSS JOIN merchants m
  WHERE hash(m.merchant_idx, d.day_idx, 3) % 100 < 92
),
orders AS (
  SELECT *, unnest(range(orders)) AS k FROM merchant_days
),
priced AS (
  SELECT
    *,
    ['web', 'app', 'pos', 'web', 'app', 'marketplace'][1 + CAST((k + channel_offset) % 6 AS INTEGER)] AS channel,
    -- Sum of two uniforms: a triangular spread of 50%..150% around the merchant's typical ticket.
    CAST(ticket_cents
           * CAST(50 + hash(merchant_idx, day_idx, k, 6) % 51 + hash(merchant_idx, day_idx, k, 7) % 51 AS BIGINT)
           // 100 AS BIGINT) AS price_cents,
    CAST(hash(merchant_idx, day_idx, k, 8) % 86400 AS BIGINT) AS second_of_day
  FROM orders
),
taxed AS (
  SELECT
    *,
    channel = 'pos' AS tax_inclusive,
    -- Integer cents with half-up rounding: exact, so identical everywhere.
    CASE WHEN channel = 'pos'
      THEN (price_cents * tax_bp * 2 + 10000 + tax_bp) // (2 * (10000 + tax_bp))
      ELSE (price_cents * tax_bp + 5000) // 10000
    END AS tax_cents
  FROM priced
)
SELECT
  (day_idx + 1) * 100000000 + merchant_idx * 100 + k AS event_id,
  CAST(revenue_date AS TIMESTAMP) + to_seconds(second_of_day) AS event_ts,
  revenue_date,
  merchant_id,
  channel,
  CAST(CASE WHEN tax_inclusive THEN price_cents ELSE price_cents + tax_cents END * 0.01 AS DECIMAL(18, 2))
    AS gross_amount,
  CAST(tax_cents * 0.01 AS DECIMAL(18, 2)) AS tax_amount,
  tax_inclusive
FROM taxed`;

/** Net revenue per event before FIN-2841: tax-inclusive events kept their tax in net. */
const NET_BEFORE_FIX = 'CASE WHEN tax_inclusive THEN gross_amount ELSE gross_amount - tax_amount END';
/** Net revenue per event after FIN-2841 (examples/sql/revenue-tax-fix.sql). */
const NET_AFTER_FIX = 'gross_amount - tax_amount';

/**
 * The original nightly loads. $1: last day computed by the buggy transform. Each day was loaded
 * at 02:00 the next morning, a fixed timestamp so reruns are identical.
 */
const DAILY_SELECT = `
SELECT
  revenue_date,
  merchant_id,
  CAST(sum(gross_amount) AS DECIMAL(18, 2)) AS gross_revenue,
  CAST(sum(tax_amount) AS DECIMAL(18, 2)) AS tax_amount,
  CAST(sum(CASE WHEN revenue_date <= CAST($1 AS DATE) THEN ${NET_BEFORE_FIX} ELSE ${NET_AFTER_FIX} END)
       AS DECIMAL(18, 2)) AS net_revenue,
  count(*) AS order_count,
  CAST(revenue_date AS TIMESTAMP) + INTERVAL 26 HOUR AS recalculated_at,
  CAST(NULL AS VARCHAR) AS backfill_id
FROM staging.revenue_events
GROUP BY revenue_date, merchant_id`;

/** Row count and an order-independent hash of every column (sums do not cancel duplicates, unlike XOR). */
const fingerprintSql = (from: string, columns: readonly string[]): string =>
  `SELECT count(*) AS row_count, CAST(coalesce(sum(CAST(hash(${columns.join(', ')}) AS HUGEINT)), 0) AS VARCHAR) ` +
    `AS row_hash FROM (${from})`;

export function merchantCount(scale: number): number {
  const merchants = Math.round(MERCHANTS_PER_SCALE * scale);
  if (!Number.isFinite(scale) || scale <= 0 || merchants < 1 || merchants > MAX_MERCHANTS) {
    throw new RangeError(
      `scale must be a positive number giving 1..${MAX_MERCHANTS} merchants (${MERCHANTS_PER_SCALE} per ` +
        `unit); got ${scale}.`,
    );
  }
  return merchants;
}

interface ExistingTable {
  name: string;
  /** What seeding wrote into the table comment ("... scale 1"), if anything. */
  comment: string | null;
}

/** Every table seeding writes, the revenue events first. */
const SCENARIO_TABLES = [SCENARIO.sourceTable, SCENARIO.targetTable, SCENARIO.monthlyTable, SCENARIO.ltvTable];

async function existingTables(tx: Session): Promise<ExistingTable[]> {
  const rows = await tx.query(
    `SELECT schema_name || '.' || table_name AS name, comment FROM duckdb_tables()
     WHERE (schema_name, table_name) IN (('staging', 'revenue_events'), ('finance', 'daily_revenue'),
       ('finance', 'monthly_revenue'), ('finance', 'merchant_ltv_monthly')) ORDER BY name`,
  );
  return rows.map((r) => ({
    name: String(r.name),
    comment: typeof r.comment === 'string' && r.comment ? r.comment : null,
  }));
}

async function counts(tx: Session): Promise<Omit<SeedResult, 'ms'>> {
  const [events] = await tx.query(
    `SELECT count(*) AS events, count(DISTINCT merchant_id) AS merchants FROM staging.revenue_events`,
  );
  const [daily] = await tx.query(
    `SELECT count(*) AS daily_rows, count(DISTINCT revenue_date) AS days FROM finance.daily_revenue`,
  );
  const [release] = await tx.query(
    `SELECT (SELECT count(*) FROM finance.monthly_revenue) AS monthly_rows,
       (SELECT count(*) FROM finance.merchant_ltv_monthly) AS ltv_rows`,
  );
  return {
    events: Number(events?.events ?? 0),
    dailyRows: Number(daily?.daily_rows ?? 0),
    days: Number(daily?.days ?? 0),
    merchants: Number(events?.merchants ?? 0),
    monthlyRows: Number(release?.monthly_rows ?? 0),
    ltvRows: Number(release?.ltv_rows ?? 0),
  };
}

/** Whether the existing tables hold exactly what seeding at this scale would write. */
async function holdsScenario(tx: Session, merchants: number): Promise<boolean> {
  const generated = {
    sql: fingerprintSql(EVENTS_SELECT, EVENT_COLUMNS),
    params: [SCENARIO.backfillStart, SCENARIO.liveEnd, merchants],
  };
  const [want] = await tx.query(generated);
  const [have] = await tx.query(fingerprintSql('SELECT * FROM staging.revenue_events', EVENT_COLUMNS));
  if (!want || !have || want.row_count !== have.row_count || want.row_hash !== have.row_hash) return false;
  // The events match, so the daily table must equal the original loads recomputed from them.
  const [wantDaily] = await tx.query({
    sql: fingerprintSql(DAILY_SELECT, DAILY_COLUMNS),
    params: [SCENARIO.backfillEnd],
  });
  const [haveDaily] = await tx.query(fingerprintSql('SELECT * FROM finance.daily_revenue', DAILY_COLUMNS));
  return Boolean(
    wantDaily && haveDaily && wantDaily.row_count === haveDaily.row_count && wantDaily.row_hash === haveDaily.row_hash,
  );
}

/** Whether both release tables hold exactly what seedReleaseTables derives from finance.daily_revenue now. */
async function holdsReleaseTables(tx: Session): Promise<boolean> {
  for (const [select, table, columns] of [
    [MONTHLY_SELECT, SCENARIO.monthlyTable, MONTHLY_COLUMNS],
    [LTV_SELECT, SCENARIO.ltvTable, LTV_COLUMNS],
  ] as const) {
    const [want] = await tx.query(fingerprintSql(select, columns));
    const [have] = await tx.query(fingerprintSql(`SELECT * FROM ${table}`, columns));
    if (!want || !have || want.row_count !== have.row_count || want.row_hash !== have.row_hash) return false;
  }
  return true;
}

/**
 * Creates and fills the tables the nightly pipeline derives from finance.daily_revenue, the release
 * graph's downstream nodes (examples/revenue-release.yaml): finance.monthly_revenue (per merchant
 * and month) and finance.merchant_ltv_monthly (lifetime net revenue per merchant at each month's
 * end), over the whole history, from the daily table as it stands — so production agrees with the
 * old, wrong daily numbers until the release corrects all three. Run it in seeding's transaction
 * (`db` a transaction's session); the tables must not exist yet.
 */
export async function seedReleaseTables(db: Session): Promise<{ monthlyRows: number; ltvRows: number }> {
  await db.execute(CREATE_MONTHLY);
  await db.execute(CREATE_LTV);
  const monthlyRows = await db.execute(
    `INSERT INTO finance.monthly_revenue SELECT * FROM (${MONTHLY_SELECT}) ORDER BY revenue_month, merchant_id`,
  );
  const ltvRows = await db.execute(
    `INSERT INTO finance.merchant_ltv_monthly SELECT * FROM (${LTV_SELECT}) ORDER BY revenue_month, merchant_id`,
  );
  return { monthlyRows, ltvRows };
}

/**
 * Creates staging.revenue_events and finance.daily_revenue for the scenario, and the tables derived
 * from it (seedReleaseTables). Seeding a database
 * that already holds this scale's scenario is a no-op that returns its counts; anything else there
 * (another scale, or a published backfill) is refused unless `replace` is set.
 */
export async function seedRevenueScenario(db: Driver, opts: SeedOptions = {}): Promise<SeedResult> {
  const started = performance.now();
  const scale = opts.scale ?? 1;
  const merchants = merchantCount(scale);
  const result = await db.transaction(async (tx) => {
    const present = await existingTables(tx);
    if (opts.replace) {
      for (const table of [...SCENARIO_TABLES].reverse()) await tx.execute(`DROP TABLE IF EXISTS ${table}`);
    } else if (present.length > 0) {
      const base = present.filter((t) => t.name === SCENARIO.sourceTable || t.name === SCENARIO.targetTable);
      const derived = present.length - base.length;
      if (base.length === 2 && (await holdsScenario(tx, merchants))) {
        if (derived === 2 && (await holdsReleaseTables(tx))) return counts(tx);
        if (derived === 0) {
          // Seeded before the release tables existed: add them, as seeding now would.
          await seedReleaseTables(tx);
          await commentTables(tx, [SCENARIO.monthlyTable, SCENARIO.ltvTable], scale);
          return counts(tx);
        }
      }
      const found = present.map((t) => (t.comment ? `${t.name} (${t.comment})` : t.name));
      throw new SeedConflictError(
        `Refusing to seed the scale-${scale} revenue scenario: found ${listed(found)}, which do not hold exactly ` +
          `that data (seeded at another scale, only partly present, or changed since, e.g. by a published ` +
          `backfill). Re-run with replace (--replace) to drop and recreate ${listed(SCENARIO_TABLES)}.`,
      );
    }
    await tx.execute('CREATE SCHEMA IF NOT EXISTS staging');
    await tx.execute('CREATE SCHEMA IF NOT EXISTS finance');
    await tx.execute(CREATE_EVENTS);
    await tx.execute(CREATE_DAILY);
    // Stored in revenue_date order, as a partitioned warehouse table would be: one-day scans prune.
    await tx.execute({
      sql: `INSERT INTO staging.revenue_events SELECT * FROM (${EVENTS_SELECT}) ORDER BY event_id`,
      params: [SCENARIO.backfillStart, SCENARIO.liveEnd, merchants],
    });
    await tx.execute({
      sql: `INSERT INTO finance.daily_revenue SELECT * FROM (${DAILY_SELECT}) ORDER BY revenue_date, merchant_id`,
      params: [SCENARIO.backfillEnd],
    });
    await seedReleaseTables(tx);
    await commentTables(tx, SCENARIO_TABLES, scale);
    return counts(tx);
  });
  return { ...result, ms: Math.round(performance.now() - started) };
}

/** "a", "a and b", "a, b and c". */
const listed = (items: readonly string[]) =>
  items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;

async function commentTables(tx: Session, tables: readonly string[], scale: number): Promise<void> {
  // Comments cannot take bound values; scale is a validated number.
  for (const table of tables) {
    await tx.execute(`COMMENT ON TABLE ${table} IS 'FIN-2841 demo revenue scenario, seeded at scale ${scale}'`);
  }
}

/**
 * Test-only stand-in for the engine's placeholder binding: `:partition_start` / `:partition_end`
 * become the first and second bound DATE parameters.
 */
export function bindPartition(sql: string, start: string, end: string): { sql: string; params: string[] } {
  return {
    sql: sql.replace(/:partition_start\b/g, 'CAST($1 AS DATE)').replace(/:partition_end\b/g, 'CAST($2 AS DATE)'),
    params: [start, end],
  };
}
