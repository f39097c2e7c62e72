-- Semi-join reduction in the auto form (doc/segments.md): an AND whose
-- cheapest child the planner expects to have more members than the rest
-- may run among (10% of the customers) is not split, and compile() says
-- why; a child expected below it drives.  Large enough for the planner to
-- find the rules worth splitting (estimated cost 20000 and more).
SET search_path = public, segment;
SET TimeZone = 'UTC';
SET max_parallel_workers_per_gather = 0;
CREATE TABLE rd_customers (id int PRIMARY KEY, followed_at timestamptz, city text);
CREATE TABLE rd_orders (customer_id int, paid_at timestamptz, amount int);
-- followers spread over 400 days; every 4th customer never ordered
INSERT INTO rd_customers
SELECT g, timestamptz '2024-08-09' - (g % 400) * interval '1 day', (ARRAY['上海', '北京', 'x'])[1 + g % 3]
FROM generate_series(1, 200000) g;
INSERT INTO rd_orders
SELECT c.id, timestamptz '2024-08-09' - ((c.id * n) % 700) * interval '1 day', n
FROM rd_customers c, generate_series(1, 1 + c.id % 9) n WHERE c.id % 4 <> 0;
-- page views of half the customers over 200 days
CREATE TABLE rd_views (customer_id int, viewed_at timestamptz);
INSERT INTO rd_views SELECT g, timestamptz '2024-08-09' - (g % 200) * interval '1 day' FROM generate_series(1, 200000, 2) g;
INSERT INTO rd_views SELECT g, timestamptz '2024-08-09' - (g % 150) * interval '1 day' FROM generate_series(1, 200000, 4) g;
CREATE INDEX ON rd_views (viewed_at);
CREATE INDEX ON rd_customers (followed_at);
CREATE INDEX ON rd_orders (customer_id);
CREATE INDEX ON rd_orders (paid_at);
ANALYZE rd_customers, rd_orders, rd_views;
SELECT register_customers('rd_customers', 'id');
SELECT register_source('orders', 'rd_orders', 'customer_id', 'paid_at');
SELECT register_source('views', 'rd_views', 'customer_id', 'viewed_at');

-- the first comment line of compile(), numbers masked
CREATE FUNCTION pg_temp.choice(r text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(split_part(compile(r::segment_rule, '2024-08-09 12:00+00'), E'\n', 1), '[0-9]{3,}', 'N', 'g') $$;
-- evaluate() against hand-written SQL
CREATE FUNCTION pg_temp.same(r text, hand text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE got bigint; want bigint;
BEGIN
    got := cardinality(evaluate(r::segment_rule, '2024-08-09 12:00+00'));
    EXECUTE 'SELECT count(*) FROM (' || hand || ') h' INTO want;
    RETURN format('%s members, hand-written SQL %s', got, want);
END $$;

-- 6 months of followers: 90k of 200k, above the 20000 the rest may run among
SELECT pg_temp.choice('customer.followed_at DURING LAST 6 months AND NOT EXISTS orders');
SELECT pg_temp.same('customer.followed_at DURING LAST 6 months AND NOT EXISTS orders',
    $$SELECT id FROM rd_customers c WHERE followed_at >= '2024-02-09' AND followed_at < '2024-08-10'
      AND NOT EXISTS (SELECT FROM rd_orders o WHERE o.customer_id = c.id)$$);
-- an EXISTS driver: the estimate is of its rows' distinct customers (50k
-- viewers in 100 days), not of its rows
SELECT pg_temp.choice('EXISTS views DURING LAST 100 days AND count(orders) > 2');
SELECT pg_temp.same('EXISTS views DURING LAST 100 days AND count(orders) > 2',
    $$SELECT customer_id FROM rd_orders o GROUP BY 1 HAVING count(*) > 2 AND EXISTS (SELECT FROM rd_views v
      WHERE v.customer_id = o.customer_id AND viewed_at >= '2024-05-01' AND viewed_at < '2024-08-10')$$);
-- 3 days of followers (2000): the driver runs, the rest among its members
SELECT pg_temp.choice('customer.followed_at DURING LAST 3 days AND count(orders) > 2');
SELECT pg_temp.same('customer.followed_at DURING LAST 3 days AND count(orders) > 2',
    $$SELECT id FROM rd_customers c WHERE followed_at >= '2024-08-06' AND followed_at < '2024-08-10'
      AND (SELECT count(*) FROM rd_orders o WHERE o.customer_id = c.id) > 2$$);
-- forced: split whatever the estimate
SET segment.rule_form = reduced;
SELECT pg_temp.choice('customer.followed_at DURING LAST 6 months AND NOT EXISTS orders');
SELECT pg_temp.same('customer.followed_at DURING LAST 6 months AND NOT EXISTS orders',
    $$SELECT id FROM rd_customers c WHERE followed_at >= '2024-02-09' AND followed_at < '2024-08-10'
      AND NOT EXISTS (SELECT FROM rd_orders o WHERE o.customer_id = c.id)$$);
RESET segment.rule_form;
-- a nested AND (min DURING's EXISTS AND NOT EXISTS) joins its parent: one
-- folded audience of one grouped scan
SELECT compile('min(orders.paid_at) DURING LAST 60 days AND count(orders) > 2', '2024-08-09 12:00+00') ~ 'AS fold' AS folded;
SELECT pg_temp.same('min(orders.paid_at) DURING LAST 60 days AND count(orders) > 2',
    $$SELECT customer_id FROM rd_orders GROUP BY 1 HAVING count(*) > 2
      AND min(paid_at) >= '2024-06-10' AND min(paid_at) < '2024-08-10'$$);
-- aggregates true over no rows fold beside a sibling that guarantees rows
-- in the same scope; NULL amounts sum to 0 as the language says
UPDATE rd_orders SET amount = NULL WHERE customer_id % 7 = 0;
SELECT compile('sum(orders.amount DURING LAST 200 days) >= 3 AND sum(orders.amount DURING LAST 200 days) < 10',
               '2024-08-09 12:00+00') ~ 'AS fold' AS folded;
SELECT pg_temp.same('sum(orders.amount DURING LAST 200 days) >= 3 AND sum(orders.amount DURING LAST 200 days) < 10',
    $$SELECT customer_id FROM rd_orders WHERE paid_at >= '2024-01-22' AND paid_at < '2024-08-10'
      GROUP BY 1 HAVING coalesce(sum(amount), 0) >= 3 AND coalesce(sum(amount), 0) < 10$$);
SELECT compile('EXISTS orders DURING LAST 200 days AND sum(orders.amount DURING LAST 200 days) < 3',
               '2024-08-09 12:00+00') ~ 'AS fold' AS folded;
SELECT pg_temp.same('EXISTS orders DURING LAST 200 days AND sum(orders.amount DURING LAST 200 days) < 3',
    $$SELECT customer_id FROM rd_orders WHERE paid_at >= '2024-01-22' AND paid_at < '2024-08-10'
      GROUP BY 1 HAVING coalesce(sum(amount), 0) < 3$$);
-- both true over no rows: nothing guarantees rows, no fold; the customers
-- without orders in the window are members
SELECT compile('sum(orders.amount DURING LAST 200 days) >= 0 AND sum(orders.amount DURING LAST 200 days) < 3',
               '2024-08-09 12:00+00') ~ 'AS fold' AS folded;
SELECT pg_temp.same('sum(orders.amount DURING LAST 200 days) >= 0 AND sum(orders.amount DURING LAST 200 days) < 3',
    $$SELECT id FROM rd_customers c WHERE (SELECT coalesce(sum(amount), 0) FROM rd_orders o WHERE o.customer_id = c.id
      AND paid_at >= '2024-01-22' AND paid_at < '2024-08-10') < 3$$);
-- a lone count, sum or avg (integer keys): one grouped_audience_agg()
-- over its rows, the same members as the grouped scan and the hand query;
-- "< 3" holds over no rows: the customers without orders are members
SELECT compile('count(orders) BETWEEN 2 AND 4', '2024-08-09 12:00+00') ~ 'grouped_audience_agg' AS one_pass;
SELECT pg_temp.same('count(orders) BETWEEN 2 AND 4',
    $$SELECT customer_id FROM rd_orders GROUP BY 1 HAVING count(*) BETWEEN 2 AND 4$$);
SELECT pg_temp.same('sum(orders.amount DURING LAST 200 days) < 3',
    $$SELECT id FROM rd_customers c WHERE (SELECT coalesce(sum(amount), 0) FROM rd_orders o WHERE o.customer_id = c.id
      AND paid_at >= '2024-01-22' AND paid_at < '2024-08-10') < 3$$);
SELECT pg_temp.same('avg(orders.amount) > 4 OR customer.city = ''上海''',
    $$SELECT customer_id FROM rd_orders GROUP BY 1 HAVING avg(amount) > 4
      UNION SELECT id FROM rd_customers WHERE city = '上海'$$);
SET segment.grouped_aggregates = off;
SELECT compile('count(orders) BETWEEN 2 AND 4', '2024-08-09 12:00+00') ~ 'grouped_audience_agg' AS one_pass;
SELECT pg_temp.same('count(orders) BETWEEN 2 AND 4',
    $$SELECT customer_id FROM rd_orders GROUP BY 1 HAVING count(*) BETWEEN 2 AND 4$$);
SELECT pg_temp.same('sum(orders.amount DURING LAST 200 days) < 3',
    $$SELECT id FROM rd_customers c WHERE (SELECT coalesce(sum(amount), 0) FROM rd_orders o WHERE o.customer_id = c.id
      AND paid_at >= '2024-01-22' AND paid_at < '2024-08-10') < 3$$);
RESET segment.grouped_aggregates;
-- an OR with customer conditions checks only its other children
SELECT split_part(compile('EXISTS views DURING LAST 3 days OR customer.city = ''上海''', '2024-08-09 12:00+00'), E'\n', 1);
SELECT unregister_source('orders'), unregister_source('views'), unregister_customers();
DROP TABLE rd_orders, rd_views, rd_customers;
