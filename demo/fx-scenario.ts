/**
 * A second world for the demo and the tests (issue 13): hourly USD revenue per currency with an FX
 * bug on part of the range. From 2026-02-20 the hourly job converted GBP at the EUR rate, so GBP
 * revenue in USD is ~15% low and every hour of the bug ~7% low in all, while the hours before are
 * right. Over the range (2026-01-16T00 .. 2026-03-31T23, 1,800 hours) the fix moves amount_usd by
 * about +3.7%; single days by 0% (before) or about +7.3% (after). Two month edges (Feb 1, Mar 1) fall
 * inside the range with nothing happening at them; the bug starts on Feb 20.
 *
 *   staging.fx_payments        one row per (hour, currency): amount in local currency, order count
 *   staging.fx_rates           one USD rate per currency and day (±1% around a base rate)
 *   finance.hourly_revenue_usd one row per (hour, currency), computed with the bug
 *
 * Values come from DuckDB's hash() of integer coordinates, so every run builds the same rows.
 */
import type { Driver } from '../warehouse/warehouse';

export const FX_WORLD = {
  targetTable: 'finance.hourly_revenue_usd',
  /** Hours of payments: 2026-01-01 .. 2026-04-30 (the range and a margin on both sides). */
  from: '2026-01-01 00:00:00',
  to: '2026-05-01 00:00:00',
  /** The first hour the old job got wrong. */
  bugFrom: '2026-02-20 00:00:00',
} as const;

/** Currency, base amount per hour in local currency, base USD per unit. */
const CURRENCIES: ReadonlyArray<readonly [string, number, number]> = [
  ['USD', 1000, 1],
  ['EUR', 500, 1.08],
  ['GBP', 1000, 1.27],
];

/** Creates (or recreates) the FX world's tables; returns the target's row count. */
export async function seedFxScenario(db: Driver): Promise<{ rows: number }> {
  const currencies = CURRENCIES.map(([c, amount, rate]) => `('${c}', ${amount}, ${rate})`).join(', ');
  await db.transaction(async (tx) => {
    await tx.execute('CREATE SCHEMA IF NOT EXISTS staging');
    await tx.execute('CREATE SCHEMA IF NOT EXISTS finance');
    await tx.execute(`CREATE OR REPLACE TEMP TABLE fx_currencies (currency VARCHAR, amount DOUBLE, rate DOUBLE)`);
    await tx.execute(`INSERT INTO fx_currencies VALUES ${currencies}`);
    // Amount per hour: the base, a daily pattern (busier in the afternoon) and ±10% noise.
    await tx.execute(`
      CREATE OR REPLACE TABLE staging.fx_payments AS
      SELECT h.hour, c.currency,
        CAST(c.amount * (1 + 0.3 * sin(2 * pi() * (hour(h.hour) - 9) / 24))
          * (0.9 + 0.2 * ((hash(epoch(h.hour), c.currency) % 1000) / 1000.0)) AS DECIMAL(18, 2)) AS amount,
        CAST(20 + (hash(epoch(h.hour), c.currency, 'n') % 30) AS BIGINT) AS orders
      FROM generate_series(TIMESTAMP '${FX_WORLD.from}', TIMESTAMP '${FX_WORLD.to}' - INTERVAL 1 HOUR,
        INTERVAL 1 HOUR) AS h(hour)
      CROSS JOIN fx_currencies c`);
    await tx.execute(`
      CREATE OR REPLACE TABLE staging.fx_rates AS
      SELECT CAST(d.day AS DATE) AS rate_date, c.currency,
        CAST(CASE WHEN c.currency = 'USD' THEN 1
          ELSE c.rate * (0.99 + 0.02 * ((hash(epoch(d.day), c.currency, 'r') % 1000) / 1000.0)) END
          AS DECIMAL(12, 6)) AS usd_per_unit
      FROM generate_series(TIMESTAMP '${FX_WORLD.from}', TIMESTAMP '${FX_WORLD.to}' - INTERVAL 1 DAY,
        INTERVAL 1 DAY) AS d(day)
      CROSS JOIN fx_currencies c`);
    // The old job: from bugFrom, GBP converted at the EUR rate of the day.
    await tx.execute(`
      CREATE OR REPLACE TABLE ${FX_WORLD.targetTable} AS
      SELECT p.hour, p.currency,
        CAST(p.amount AS DECIMAL(18, 2)) AS amount_local,
        CAST(p.amount * CASE WHEN p.currency = 'GBP' AND p.hour >= TIMESTAMP '${FX_WORLD.bugFrom}'
          THEN eur.usd_per_unit ELSE r.usd_per_unit END AS DECIMAL(18, 2)) AS amount_usd,
        p.orders AS order_count,
        TIMESTAMP '2026-04-02 03:00:00' AS recalculated_at,
        'hourly-job' AS backfill_id
      FROM staging.fx_payments p
      JOIN staging.fx_rates r ON r.rate_date = CAST(p.hour AS DATE) AND r.currency = p.currency
      JOIN staging.fx_rates eur ON eur.rate_date = CAST(p.hour AS DATE) AND eur.currency = 'EUR'`);
    await tx.execute('DROP TABLE fx_currencies');
  });
  const [row] = await db.query(`SELECT COUNT(*) AS n FROM ${FX_WORLD.targetTable}`);
  return { rows: Number(row!.n) };
}
