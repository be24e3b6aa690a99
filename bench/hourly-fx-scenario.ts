/**
 * The hourly benchmark's world (issue 11): hourly USD revenue per currency, wrong for three months
 * because the old transform converted GBP at the EUR rate, computed from 3 M payment events stored in
 * random order (as a landing table filled by many loaders is), so no scan of one hour can skip data.
 *
 *   staging.fx_events           3,000,000 events, 2025-12-01 .. 2026-04-30, random row order
 *   staging.fx_rates            one USD rate per currency and day (±1% around a base rate)
 *   finance.hourly_revenue_usd  one row per (hour, currency); from 2026-01-01T00 to 2026-04-02T23
 *                               (2,208 hours, bench/hourly-fx-fix.yaml's range) GBP was converted at
 *                               the EUR rate, so amount_usd is ~15% low for GBP and ~1.5% low in all
 *
 * Values come from DuckDB's hash() of integer coordinates (event number, day, currency), so every run
 * builds the same rows, in one SQL statement per table.
 */
import type { Driver } from '../warehouse/warehouse';

export const FX_SCENARIO = {
  sourceTable: 'staging.fx_events',
  ratesTable: 'staging.fx_rates',
  targetTable: 'finance.hourly_revenue_usd',
  /** First day of events. */
  sourceStart: '2025-12-01',
  /** Days of events: 2025-12-01 .. 2026-04-30. */
  sourceDays: 151,
  events: 3_000_000,
  /** The hours the old transform got wrong, as a half-open range (the spec's range, inclusive end 2026-04-02T23). */
  bugFrom: '2026-01-01 00:00:00',
  bugTo: '2026-04-03 00:00:00',
} as const;

/** Currency, share of events in percent, base USD per unit. USD first: its rate is exactly 1. */
const CURRENCIES: ReadonlyArray<readonly [string, number, number]> = [
  ['USD', 40, 1],
  ['EUR', 20, 1.08],
  ['GBP', 10, 1.27],
  ['JPY', 10, 0.0067],
  ['CAD', 6, 0.74],
  ['AUD', 5, 0.66],
  ['CHF', 5, 1.12],
  ['SEK', 4, 0.095],
];

/** `CASE WHEN bucket < 40 THEN 'USD' WHEN bucket < 60 THEN 'EUR' … END` over a 0..99 bucket. */
function byShare(bucket: string, value: (c: readonly [string, number, number]) => string): string {
  let upTo = 0;
  const whens = CURRENCIES.map((c) => {
    upTo += c[1];
    return `WHEN ${bucket} < ${upTo} THEN ${value(c)}`;
  });
  return `CASE ${whens.join(' ')} END`;
}

const CREATE_EVENTS = `CREATE TABLE ${FX_SCENARIO.sourceTable} (
  event_id BIGINT NOT NULL,
  event_ts TIMESTAMP NOT NULL,
  merchant_id VARCHAR NOT NULL,
  currency VARCHAR NOT NULL,
  amount DECIMAL(18, 2) NOT NULL
)`;

const CREATE_RATES = `CREATE TABLE ${FX_SCENARIO.ratesTable} (
  rate_date DATE NOT NULL,
  currency VARCHAR NOT NULL,
  usd_per_unit DECIMAL(18, 8) NOT NULL
)`;

const CREATE_TARGET = `CREATE TABLE ${FX_SCENARIO.targetTable} (
  hour TIMESTAMP NOT NULL,
  currency VARCHAR NOT NULL,
  amount_local DECIMAL(18, 2),
  amount_usd DECIMAL(18, 2),
  order_count BIGINT,
  recalculated_at TIMESTAMP,
  backfill_id VARCHAR
)`;

const SECONDS = FX_SCENARIO.sourceDays * 86_400;

/**
 * Events: a uniform second in the 151 days, a currency by share, a ticket of $5..$300 expressed in
 * the currency at its base rate, and one of 5,000 merchants. ORDER BY a hash shuffles the rows.
 */
const EVENTS_SELECT = `
WITH e AS (
  SELECT
    i AS event_id,
    TIMESTAMP '${FX_SCENARIO.sourceStart} 00:00:00' + to_seconds(CAST(hash(i, 1) % ${SECONDS} AS BIGINT)) AS event_ts,
    'M' || lpad(CAST(hash(i, 2) % 5000 AS VARCHAR), 4, '0') AS merchant_id,
    CAST(hash(i, 3) % 100 AS INTEGER) AS bucket,
    CAST(500 + hash(i, 4) % 29501 AS BIGINT) AS usd_cents
  FROM range(${FX_SCENARIO.events}) AS r(i)
)
SELECT
  event_id,
  event_ts,
  merchant_id,
  ${byShare('bucket', (c) => `'${c[0]}'`)} AS currency,
  CAST(usd_cents / 100.0 / ${byShare('bucket', (c) => String(c[2]))} AS DECIMAL(18, 2)) AS amount
FROM e
ORDER BY hash(event_id, 5)`;

/** Rates: base × (1 ± up to 1%), fixed per (day, currency); USD is always 1. */
const RATES_SELECT = `
SELECT
  CAST(DATE '${FX_SCENARIO.sourceStart}' + CAST(d AS INTEGER) AS DATE) AS rate_date,
  c.currency,
  CAST(CASE WHEN c.currency = 'USD' THEN 1
    ELSE c.base * (1 + (CAST(hash(d, c.currency) % 2001 AS BIGINT) - 1000) / 100000.0) END AS DECIMAL(18, 8))
    AS usd_per_unit
FROM range(${FX_SCENARIO.sourceDays}) AS r(d)
CROSS JOIN (VALUES ${CURRENCIES.map((c) => `('${c[0]}', ${c[2]})`).join(', ')}) AS c(currency, base)
ORDER BY rate_date, currency`;

/** The original hourly loads: GBP joined to the EUR rate in the bug's hours; each hour loaded an hour later. */
const TARGET_SELECT = `
SELECT
  date_trunc('hour', e.event_ts) AS hour,
  e.currency,
  CAST(sum(e.amount) AS DECIMAL(18, 2)) AS amount_local,
  CAST(sum(e.amount * r.usd_per_unit) AS DECIMAL(18, 2)) AS amount_usd,
  count(*) AS order_count,
  date_trunc('hour', e.event_ts) + INTERVAL 1 HOUR AS recalculated_at,
  CAST(NULL AS VARCHAR) AS backfill_id
FROM ${FX_SCENARIO.sourceTable} e
JOIN ${FX_SCENARIO.ratesTable} r
  ON r.rate_date = CAST(e.event_ts AS DATE)
 AND r.currency = CASE
   WHEN e.currency = 'GBP' AND e.event_ts >= TIMESTAMP '${FX_SCENARIO.bugFrom}'
     AND e.event_ts < TIMESTAMP '${FX_SCENARIO.bugTo}' THEN 'EUR'
   ELSE e.currency END
GROUP BY 1, 2
ORDER BY 1, 2`;

export interface FxSeedResult {
  events: number;
  targetRows: number;
  ms: number;
}

/** Drops and recreates the scenario's three tables. */
export async function seedHourlyFxScenario(db: Driver): Promise<FxSeedResult> {
  const started = performance.now();
  const result = await db.transaction(async (tx) => {
    for (const t of [FX_SCENARIO.targetTable, FX_SCENARIO.sourceTable, FX_SCENARIO.ratesTable]) {
      await tx.execute(`DROP TABLE IF EXISTS ${t}`);
    }
    await tx.execute('CREATE SCHEMA IF NOT EXISTS staging');
    await tx.execute('CREATE SCHEMA IF NOT EXISTS finance');
    await tx.execute(CREATE_EVENTS);
    await tx.execute(CREATE_RATES);
    await tx.execute(CREATE_TARGET);
    await tx.execute(`INSERT INTO ${FX_SCENARIO.sourceTable} ${EVENTS_SELECT}`);
    await tx.execute(`INSERT INTO ${FX_SCENARIO.ratesTable} ${RATES_SELECT}`);
    await tx.execute(`INSERT INTO ${FX_SCENARIO.targetTable} ${TARGET_SELECT}`);
    const [events] = await tx.query(`SELECT count(*) AS n FROM ${FX_SCENARIO.sourceTable}`);
    const [target] = await tx.query(`SELECT count(*) AS n FROM ${FX_SCENARIO.targetTable}`);
    return { events: Number(events?.n ?? 0), targetRows: Number(target?.n ?? 0) };
  });
  return { ...result, ms: Math.round(performance.now() - started) };
}
