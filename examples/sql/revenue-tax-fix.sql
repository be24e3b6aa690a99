-- FIN-2841: daily revenue per merchant with the corrected tax handling, for one partition window.
-- gross_amount is what the customer paid and always contains tax_amount, whether the price was shown
-- tax-inclusive (in-store shelf price) or had tax added at checkout. Net revenue is therefore gross
-- minus tax for every event; the old transform skipped the subtraction for tax-inclusive events.
-- The window is half-open and may span several days; the engine binds both bounds as DATEs.
SELECT
  revenue_date,
  merchant_id,
  CAST(sum(gross_amount) AS DECIMAL(18, 2)) AS gross_revenue,
  CAST(sum(tax_amount) AS DECIMAL(18, 2)) AS tax_amount,
  CAST(sum(gross_amount - tax_amount) AS DECIMAL(18, 2)) AS net_revenue,
  count(*) AS order_count,
  CAST(current_timestamp AS TIMESTAMP) AS recalculated_at,
  'FIN-2841' AS backfill_id
FROM staging.revenue_events
WHERE revenue_date >= :partition_start AND revenue_date < :partition_end
GROUP BY revenue_date, merchant_id
