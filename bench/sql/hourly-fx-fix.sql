-- FX-311 (benchmark scenario): hourly USD revenue per currency, each currency converted at its own
-- daily rate. The old transform joined GBP events to the EUR rate from 2026-01-01 to 2026-04-02.
-- The window is half-open and may span several hours; the engine binds both bounds as TIMESTAMPs.
SELECT
  date_trunc('hour', e.event_ts) AS hour,
  e.currency,
  CAST(sum(e.amount) AS DECIMAL(18, 2)) AS amount_local,
  CAST(sum(e.amount * r.usd_per_unit) AS DECIMAL(18, 2)) AS amount_usd,
  count(*) AS order_count,
  CAST(current_timestamp AS TIMESTAMP) AS recalculated_at,
  'FX-311' AS backfill_id
FROM staging.fx_events e
JOIN staging.fx_rates r ON r.rate_date = CAST(e.event_ts AS DATE) AND r.currency = e.currency
WHERE e.event_ts >= :partition_start AND e.event_ts < :partition_end
GROUP BY 1, 2
