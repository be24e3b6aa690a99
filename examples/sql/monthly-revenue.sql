-- FIN-2841, release node 2: monthly revenue per merchant, rolled up from the corrected daily revenue.
-- {{ ref('finance.daily_revenue') }} reads the daily node's corrected rows (its shadow) while the
-- release runs, and finance.daily_revenue itself when the plan estimates the cost. The window is
-- half-open and holds whole months; the engine binds both bounds as DATEs (a month's first day).
SELECT
  CAST(date_trunc('month', revenue_date) AS DATE) AS revenue_month,
  merchant_id,
  CAST(sum(gross_revenue) AS DECIMAL(18, 2)) AS gross_revenue,
  CAST(sum(tax_amount) AS DECIMAL(18, 2)) AS tax_amount,
  CAST(sum(net_revenue) AS DECIMAL(18, 2)) AS net_revenue,
  CAST(sum(order_count) AS BIGINT) AS order_count,
  CAST(current_timestamp AS TIMESTAMP) AS recalculated_at,
  'FIN-2841' AS backfill_id
FROM {{ ref('finance.daily_revenue') }}
WHERE revenue_date >= :partition_start AND revenue_date < :partition_end
GROUP BY CAST(date_trunc('month', revenue_date) AS DATE), merchant_id
