-- FIN-2841, release node 3: each merchant's lifetime net revenue at the end of every month.
-- A month's lifetime value sums every month up to it. The months the release corrects come from the
-- monthly node's corrected rows ({{ ref('finance.monthly_revenue') }}, its shadow, which holds only
-- the months rewritten so far); the months before them come from production finance.monthly_revenue
-- (listed in inputs), which the release does not change. Each month's row depends only on months up
-- to it, so a window of several months gives the union of its months' rows.
WITH corrected AS (
  SELECT revenue_month, merchant_id, net_revenue, order_count
  FROM {{ ref('finance.monthly_revenue') }}
  WHERE revenue_month < :partition_end
),
earlier AS (
  SELECT revenue_month, merchant_id, net_revenue, order_count
  FROM finance.monthly_revenue
  WHERE revenue_month < (SELECT min(revenue_month) FROM corrected)
),
months AS (
  SELECT * FROM corrected
  UNION ALL
  SELECT * FROM earlier
),
running AS (
  SELECT
    revenue_month,
    merchant_id,
    net_revenue,
    sum(net_revenue) OVER lifetime AS lifetime_net_revenue,
    sum(order_count) OVER lifetime AS lifetime_order_count
  FROM months
  WINDOW lifetime AS (PARTITION BY merchant_id ORDER BY revenue_month ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT
  revenue_month,
  merchant_id,
  CAST(net_revenue AS DECIMAL(18, 2)) AS month_net_revenue,
  CAST(lifetime_net_revenue AS DECIMAL(18, 2)) AS lifetime_net_revenue,
  CAST(lifetime_order_count AS BIGINT) AS lifetime_order_count,
  CAST(current_timestamp AS TIMESTAMP) AS recalculated_at,
  'FIN-2841' AS backfill_id
FROM running
WHERE revenue_month >= :partition_start
