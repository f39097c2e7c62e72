-- The behavioural conditions (doc/rules.md) over the sample CRM: the rule,
-- and the best plain SQL we could write for the same customers, in the
-- format of bench/scenarios.sql ({day}, {tomorrow}, {week}).  Run with
-- SCENARIOS=bench/behaviour_rules.sql bash bench/segments.sh.
CREATE TABLE bench.scenarios (n int PRIMARY KEY, name text, rule text, hand text);
INSERT INTO bench.scenarios VALUES
(1, 'coupon clicked last week, no paid order since the click',
 $$EXISTS messages WHERE kind = 'clicked' AND button = 'coupon' DURING PREVIOUS week THEN NOT EXISTS orders WHERE status = 'paid'$$,
 $$SELECT DISTINCT m.customer_id FROM messages m
   WHERE m.kind = 'clicked' AND m.button = 'coupon' AND m.sent_at >= {week} - interval '7 days' AND m.sent_at < {week}
     AND NOT EXISTS (SELECT FROM orders o WHERE o.customer_id = m.customer_id AND o.status = 'paid' AND o.paid_at > m.sent_at)$$),
(2, 'viewed a product in 7 days, no order within 2 days',
 $$EXISTS page_views WHERE url LIKE '/product/%' DURING LAST 7 days THEN NOT EXISTS orders WITHIN 2 days$$,
 $$SELECT DISTINCT v.customer_id FROM page_views v
   WHERE v.url LIKE '/product/%' AND v.viewed_at >= {day} - interval '7 days' AND v.viewed_at < {tomorrow}
     AND NOT EXISTS (SELECT FROM orders o WHERE o.customer_id = v.customer_id AND o.paid_at > v.viewed_at
                     AND o.paid_at <= v.viewed_at + interval '2 days')$$),
(3, 'clicked, then paid within 1 hour',
 $$EXISTS messages WHERE kind = 'clicked' DURING LAST 30 days THEN EXISTS orders WHERE status = 'paid' WITHIN 1 hour$$,
 $$SELECT DISTINCT m.customer_id FROM messages m
   WHERE m.kind = 'clicked' AND m.sent_at >= {day} - interval '30 days' AND m.sent_at < {tomorrow}
     AND EXISTS (SELECT FROM orders o WHERE o.customer_id = m.customer_id AND o.status = 'paid'
                 AND o.paid_at > m.sent_at AND o.paid_at <= m.sent_at + interval '1 hour')$$),
(4, 'first order in a store, last order over 30 days ago',
 $$first(orders.channel) = 'store' AND last(orders.paid_at) < 30 days ago$$,
 $$SELECT f.customer_id FROM (SELECT DISTINCT ON (customer_id) customer_id, channel FROM orders ORDER BY customer_id, paid_at, channel) f
   JOIN (SELECT customer_id FROM orders GROUP BY 1 HAVING max(paid_at) < {day} - interval '30 days') l USING (customer_id)
   WHERE f.channel = 'store'$$),
(5, 'ordered on 3 or more days of the last year',
 $$active_days(orders DURING LAST 365 days) >= 3$$,
 $$SELECT customer_id FROM orders WHERE paid_at >= {day} - interval '365 days' AND paid_at < {tomorrow}
   GROUP BY 1 HAVING count(DISTINCT (paid_at AT TIME ZONE 'Asia/Shanghai')::date) >= 3$$),
(6, 'top 10% by paid amount this year, no order this week',
 $$sum(orders.amount WHERE status = 'paid' DURING LAST 365 days) IN TOP 10 PERCENT AND NOT EXISTS orders DURING LAST 7 days$$,
 $$WITH v AS (SELECT c.id, coalesce(s.total, 0) AS total FROM customers c
              LEFT JOIN (SELECT customer_id, sum(amount) AS total FROM orders
                         WHERE status = 'paid' AND paid_at >= {day} - interval '365 days' AND paid_at < {tomorrow} GROUP BY 1) s
                ON s.customer_id = c.id),
        r AS (SELECT id, rank() OVER (ORDER BY total DESC) AS rk FROM v)
   SELECT id FROM r WHERE rk <= ceil((SELECT count(*) FROM customers) * 0.10)
   EXCEPT SELECT customer_id FROM orders WHERE paid_at >= {day} - interval '7 days' AND paid_at < {tomorrow}$$),
(7, 'consumable bought 25-35 days ago, not the same product since',
 $$EXISTS order_lines WHERE product_type = 'consumable-1m' DURING PAST 25 TO 35 days THEN NOT EXISTS order_lines WHERE sku = prev.sku$$,
 $$SELECT DISTINCT l.customer_id FROM order_lines l
   WHERE l.product_type = 'consumable-1m' AND l.paid_at >= {day} - interval '35 days' AND l.paid_at < {day} - interval '24 days'
     AND NOT EXISTS (SELECT FROM order_lines l2 WHERE l2.customer_id = l.customer_id AND l2.sku = l.sku AND l2.paid_at > l.paid_at)$$),
(8, 'mostly orders online',
 $$mode(orders.channel) = 'online'$$,
 $$SELECT customer_id FROM orders GROUP BY 1 HAVING mode() WITHIN GROUP (ORDER BY channel) = 'online'$$),
(9, 'last order refunded',
 $$last(orders.status) = 'refunded'$$,
 $$SELECT customer_id FROM (SELECT DISTINCT ON (customer_id) customer_id, status FROM orders
                            ORDER BY customer_id, paid_at DESC, status) x WHERE status = 'refunded'$$);
