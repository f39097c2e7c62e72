-- 18 typical segmentation scenarios over the sample CRM:
-- the rule, and the best plain SQL we could write for the same customers.
-- {day} is the start of the as-of day, {tomorrow} the next day's start and
-- {week} the start of the as-of week (Monday), all as timestamptz literals.
CREATE TABLE bench.scenarios (n int PRIMARY KEY, name text, rule text, hand text);
INSERT INTO bench.scenarios VALUES
(1, 'not unsubscribed, older than 30', $$TAG '退订标签' NOT IN ('已退订') AND customer.age > 30$$,
 $$SELECT id FROM customers c WHERE age > 30 AND NOT EXISTS (SELECT FROM segment.tag_members m
   WHERE m.tag_id = (SELECT t.id FROM segment.tags t WHERE t.value = '已退订') AND m.ordinal = c.id)$$),
(2, 'win-back', $$max(orders.paid_at) < 90 days ago AND count(orders WHERE status = 'paid') >= 1$$,
 $$SELECT customer_id FROM orders GROUP BY 1 HAVING max(paid_at) < {day} - interval '90 days' AND count(*) FILTER (WHERE status = 'paid') >= 1$$),
(3, 'December 2023 only', $$EXISTS orders DURING BETWEEN '2023-12-01' AND '2023-12-31' AND NOT EXISTS orders DURING SINCE '2024-01-01'$$,
 $$SELECT customer_id FROM orders WHERE paid_at >= '2023-12-01' AND paid_at < {tomorrow} GROUP BY 1 HAVING max(paid_at) < '2024-01-01'$$),
(4, 'cross-sell', $$EXISTS order_lines WHERE sku = 'SKU-1' AND NOT EXISTS order_lines WHERE sku = 'SKU-2'$$,
 $$SELECT customer_id FROM order_lines WHERE sku IN ('SKU-1', 'SKU-2') GROUP BY 1 HAVING bool_and(sku = 'SKU-1')$$),
(5, 'loyal', $$count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3$$,
 $$SELECT customer_id FROM orders WHERE status = 'paid' AND paid_at >= {day} - interval '180 days' AND paid_at < {tomorrow} GROUP BY 1 HAVING count(*) >= 3$$),
(6, 'lapsed', $$EXISTS orders AND NOT EXISTS orders DURING LAST 1 year$$,
 $$SELECT customer_id FROM orders GROUP BY 1 HAVING NOT bool_or(paid_at >= {day} - interval '1 year' AND paid_at < {tomorrow})$$),
(7, 'prospects: registered, no order', $$customer.registered_at DURING LAST 15 days AND count(orders) = 0$$,
 $$SELECT id FROM customers c WHERE registered_at >= {day} - interval '15 days' AND registered_at < {tomorrow}
   AND NOT EXISTS (SELECT FROM orders o WHERE o.customer_id = c.id)$$),
(8, 'to nurture', $$min(orders.paid_at) DURING LAST 60 days AND count(orders WHERE status = 'paid') > 1$$,
 $$SELECT customer_id FROM orders GROUP BY 1 HAVING min(paid_at) >= {day} - interval '60 days' AND min(paid_at) < {tomorrow} AND count(*) FILTER (WHERE status = 'paid') > 1$$),
(9, 'high-value lapsed', $$NOT EXISTS orders DURING LAST 90 days AND count(orders WHERE status = 'paid') > 4 AND avg(orders.amount WHERE status = 'paid') > 200$$,
 $$SELECT customer_id FROM orders GROUP BY 1 HAVING NOT bool_or(paid_at >= {day} - interval '90 days' AND paid_at < {tomorrow})
   AND count(*) FILTER (WHERE status = 'paid') > 4 AND avg(amount) FILTER (WHERE status = 'paid') > 200$$),
(10, 'delivered, not read', $$EXISTS messages WHERE campaign = 'A' AND kind = 'delivered' DURING YESTERDAY AND NOT EXISTS messages WHERE campaign = 'A' AND kind = 'read' DURING YESTERDAY$$,
 $$SELECT customer_id FROM messages WHERE campaign = 'A' AND kind IN ('delivered', 'read') AND sent_at >= {day} - interval '1 day' AND sent_at < {day}
   GROUP BY 1 HAVING bool_and(kind = 'delivered')$$),
(11, 'clicked coupon, no order since', $$EXISTS messages WHERE kind = 'clicked' AND button = 'coupon' DURING PREVIOUS week AND NOT EXISTS orders WHERE status = 'paid' DURING THIS week$$,
 $$SELECT customer_id FROM messages WHERE kind = 'clicked' AND button = 'coupon' AND sent_at >= {week} - interval '7 days' AND sent_at < {week}
   EXCEPT SELECT customer_id FROM orders WHERE status = 'paid' AND paid_at >= {week} AND paid_at < {tomorrow}$$),
(12, 'chatted, never ordered', $$EXISTS messages WHERE kind = 'inbound' AND count(orders) = 0$$,
 $$SELECT DISTINCT customer_id FROM messages m WHERE kind = 'inbound' AND NOT EXISTS (SELECT FROM orders o WHERE o.customer_id = m.customer_id)$$),
(13, 'mid value tier', $$sum(orders.amount WHERE status = 'paid') >= 300 AND sum(orders.amount WHERE status = 'paid') < 2000$$,
 $$SELECT customer_id FROM orders WHERE status = 'paid' GROUP BY 1 HAVING coalesce(sum(amount), 0) >= 300 AND coalesce(sum(amount), 0) < 2000$$),
(14, 'order band 1-3', $$count(orders WHERE status = 'paid') BETWEEN 1 AND 3$$,
 $$SELECT customer_id FROM orders WHERE status = 'paid' GROUP BY 1 HAVING count(*) BETWEEN 1 AND 3$$),
(15, 'official prospects', $$EXISTS page_views WHERE seconds > 15 DURING LAST 15 days AND NOT EXISTS orders WHERE status = 'paid'$$,
 $$SELECT DISTINCT customer_id FROM page_views v WHERE seconds > 15 AND viewed_at >= {day} - interval '15 days' AND viewed_at < {tomorrow}
   AND NOT EXISTS (SELECT FROM orders o WHERE o.customer_id = v.customer_id AND o.status = 'paid')$$),
(16, 'channel migration', $$sum(orders.amount WHERE channel = 'store' AND status = 'paid') > 1000 AND NOT EXISTS orders DURING LAST 30 days$$,
 $$SELECT customer_id FROM orders GROUP BY 1 HAVING coalesce(sum(amount) FILTER (WHERE channel = 'store' AND status = 'paid'), 0) > 1000
   AND NOT bool_or(paid_at >= {day} - interval '30 days' AND paid_at < {tomorrow})$$),
(17, 'new followers without orders', $$customer.followed_at DURING LAST 1 month AND NOT EXISTS orders$$,
 $$SELECT id FROM customers c WHERE followed_at >= {day} - interval '1 month' AND followed_at < {tomorrow}
   AND NOT EXISTS (SELECT FROM orders o WHERE o.customer_id = c.id)$$),
(18, 'replenishment', $$EXISTS order_lines WHERE product_type = 'consumable-1m' DURING PAST 25 TO 35 days$$,
 $$SELECT DISTINCT customer_id FROM order_lines WHERE product_type = 'consumable-1m' AND paid_at >= {day} - interval '35 days' AND paid_at < {day} - interval '24 days'$$);

-- Twenty saved segments built from a handful of shared sub-conditions, as a
-- marketing team's list tends to be.
CREATE TABLE bench.shared_segments (name text, rule text);
INSERT INTO bench.shared_segments
SELECT 'seg' || i, format('%s AND %s', p1, p2)
FROM (VALUES
    (1, $$count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3$$, $$customer.age > 30$$),
    (2, $$count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3$$, $$customer.city = '上海'$$),
    (3, $$count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3$$, $$EXISTS page_views DURING LAST 7 days$$),
    (4, $$count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3$$, $$NOT EXISTS messages WHERE kind = 'read' DURING LAST 30 days$$),
    (5, $$sum(orders.amount WHERE status = 'paid') >= 2000$$, $$customer.age > 30$$),
    (6, $$sum(orders.amount WHERE status = 'paid') >= 2000$$, $$customer.city = '上海'$$),
    (7, $$sum(orders.amount WHERE status = 'paid') >= 2000$$, $$EXISTS page_views DURING LAST 7 days$$),
    (8, $$sum(orders.amount WHERE status = 'paid') >= 2000$$, $$NOT EXISTS messages WHERE kind = 'read' DURING LAST 30 days$$),
    (9, $$NOT EXISTS orders DURING LAST 90 days$$, $$customer.age > 30$$),
    (10, $$NOT EXISTS orders DURING LAST 90 days$$, $$customer.city = '上海'$$),
    (11, $$NOT EXISTS orders DURING LAST 90 days$$, $$EXISTS page_views DURING LAST 7 days$$),
    (12, $$NOT EXISTS orders DURING LAST 90 days$$, $$NOT EXISTS messages WHERE kind = 'read' DURING LAST 30 days$$),
    (13, $$EXISTS messages WHERE kind = 'inbound'$$, $$count(orders) = 0$$),
    (14, $$EXISTS messages WHERE kind = 'inbound'$$, $$customer.age > 30$$),
    (15, $$EXISTS messages WHERE kind = 'inbound'$$, $$sum(orders.amount WHERE status = 'paid') >= 2000$$),
    (16, $$EXISTS messages WHERE kind = 'inbound'$$, $$EXISTS page_views DURING LAST 7 days$$),
    (17, $$count(orders) = 0$$, $$EXISTS page_views DURING LAST 7 days$$),
    (18, $$count(orders) = 0$$, $$customer.city = '上海'$$),
    (19, $$count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3$$, $$sum(orders.amount WHERE status = 'paid') >= 2000$$),
    (20, $$NOT EXISTS orders DURING LAST 90 days$$, $$sum(orders.amount WHERE status = 'paid') >= 2000$$)
) v(i, p1, p2);
