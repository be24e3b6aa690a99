-- FX-412: hourly USD revenue per currency, each currency converted at its own daily rate. The old
-- hourly job joined GBP to the EUR rate from 2026-02-20. The window is half-open and may span
-- several hours; the engine binds both bounds as TIMESTAMPs.
SELECT
  p.hour,
  p.currency,
  CAST(p.amount AS DECIMAL(18, 2)) AS amount_local,
  CAST(p.amount * r.usd_per_unit AS DECIMAL(18, 2)) AS amount_usd,
  p.orders AS order_count,
  CAST(current_timestamp AS TIMESTAMP) AS recalculated_at,
  'FX-412' AS backfill_id
FROM staging.fx_payments p
JOIN staging.fx_rates r ON r.rate_date = CAST(p.hour AS DATE) AND r.currency = p.currency
WHERE p.hour >= :partition_start AND p.hour < :partition_end
