-- explain_membership() and condition_counts(): one row per node of the
-- rule, root first; explanations agree with evaluate() on every customer,
-- and the counts with estimate() of every node and partial combination.
-- Runs last (Makefile REGRESS): its tagging writes tag_log rows, which are
-- append-only, and moves the tag ids the other tests print.
SET search_path = segment, public;
SET TimeZone = 'Asia/Shanghai';
SET DateStyle = 'ISO, YMD';
\set SHOW_CONTEXT never

CREATE TABLE ex_customers (id int PRIMARY KEY, name text, age int, city text, registered_at timestamptz);
CREATE TABLE ex_orders (customer_id int REFERENCES ex_customers, status text, amount numeric, paid_at timestamptz);
CREATE TABLE ex_views (customer_id bigint, url text, viewed_at timestamptz);
INSERT INTO ex_customers
SELECT g, CASE WHEN g % 4 = 0 THEN '王伟' || g ELSE 'c' || g END, CASE WHEN g % 7 = 0 THEN NULL ELSE 18 + g % 50 END,
       (ARRAY['上海', '北京', NULL])[1 + g % 3], timestamptz '2024-08-09 00:00' - (g % 40) * interval '1 day'
FROM generate_series(1, 60) g;
-- customers 1..40 ordered (some refunded, one NULL amount), page views of
-- every third customer and of one id that is no customer
INSERT INTO ex_orders
SELECT c.id, CASE WHEN n = 2 AND c.id % 5 = 0 THEN 'refunded' ELSE 'paid' END,
       CASE WHEN c.id = 13 AND n = 1 THEN NULL ELSE (c.id * 10 + n)::numeric END,
       timestamptz '2024-08-09 11:00' - (c.id * n % 50) * interval '1 day'
FROM ex_customers c, generate_series(1, 1 + c.id % 4) n WHERE c.id <= 40;
INSERT INTO ex_views SELECT id, '/cart', timestamptz '2024-08-08 10:00' - (id % 5) * interval '1 day' FROM ex_customers WHERE id % 3 = 0;
INSERT INTO ex_views VALUES (99999, '/cart', '2024-08-08 10:00');
ANALYZE ex_customers, ex_orders, ex_views;
SELECT register_customers('ex_customers', 'id');
SELECT register_source('orders', 'ex_orders', 'customer_id', 'paid_at');
SELECT register_source('views', 'ex_views', 'customer_id', 'viewed_at');
SELECT create_tag_group('会员等级') > 0 AS created;
SELECT add_tag('会员等级', 'gold') > 0 AS added, add_tag('会员等级', '白金') > 0 AS added;
SELECT count(tag_customer('会员等级', 'gold', id)) FROM ex_customers WHERE id % 6 = 1;
SELECT count(tag_customer('会员等级', '白金', id)) FROM ex_customers WHERE id % 12 = 1;
SELECT create_segment('北京 客户', 'customer.city = ''北京''') > 0 AS created;

-- errors with their SQLSTATE, hint and detail
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    m text; d text; h text; c text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT, c = RETURNED_SQLSTATE;
    RETURN c || ' ' || m || coalesce(E'\nDETAIL: ' || nullif(d, ''), '') || coalesce(E'\nHINT: ' || nullif(h, ''), '');
END $$;

-- a loyal customer in Shanghai: every kind of value
SELECT * FROM explain_membership(
    'count(orders WHERE status = ''paid'' DURING LAST 60 days) >= 2 AND customer.city = ''上海''
     AND (sum(orders.amount) > 100 OR last(orders.status) = ''refunded'')
     AND NOT EXISTS views WHERE url = ''/cart'' DURING LAST 7 days', 4, '2024-08-09 12:00');
-- the same rule for customer 9: views the cart, so not a member
SELECT * FROM explain_membership(
    'count(orders WHERE status = ''paid'' DURING LAST 60 days) >= 2 AND customer.city = ''上海''
     AND (sum(orders.amount) > 100 OR last(orders.status) = ''refunded'')
     AND NOT EXISTS views WHERE url = ''/cart'' DURING LAST 7 days', 9, '2024-08-09 12:00');
-- a customer without orders: aggregates over no rows (0 for count and sum, NULL otherwise)
SELECT * FROM explain_membership('count(orders) < 1 AND sum(orders.amount) = 0 AND avg(orders.amount) IS NULL
                                  AND first(orders.status) IS NULL', 50, '2024-08-09 12:00');
-- NULL values: a customer without an age; NOT of a NULL comparison holds
SELECT * FROM explain_membership('customer.age > 30 OR NOT customer.age > 30', 7, '2024-08-09 12:00');
-- tags (the customer's values in the group, Unicode), IN SEGMENT, mode,
-- active days, min/max DURING, BETWEEN, IN TOP, a sequence
SELECT * FROM explain_membership('TAG ''会员等级'' IN (''白金'') OR TAG ''会员等级'' IS EMPTY OR IN SEGMENT ''北京 客户''', 13, '2024-08-09 12:00');
SELECT * FROM explain_membership('mode(orders.status) = ''paid'' AND active_days(orders) BETWEEN 2 AND 3
                                  AND max(orders.paid_at) DURING LAST 30 days
                                  AND sum(orders.amount) IN TOP 10', 37, '2024-08-09 12:00');
SELECT * FROM explain_membership('EXISTS orders THEN EXISTS views WHERE url = ''/cart'' WITHIN 30 days', 3, '2024-08-09 12:00');
-- the key converted to the registered type (text, bigint, numeric)
SELECT path, holds FROM explain_membership('customer.age > 30', '40'::text, '2024-08-09 12:00');
SELECT path, holds FROM explain_membership('customer.age > 30', 40::bigint, '2024-08-09 12:00');
-- as_of defaults to now(); without it, an untyped literal is a segment's name
SELECT count(*) FROM explain_membership('EXISTS orders AND customer.age > 0'::segment_rule, 1);
SELECT pg_temp.err($$SELECT count(*) FROM explain_membership('EXISTS orders AND customer.age > 0', 1)$$);

-- a saved segment: its rule now; a NOTICE when the last refresh decided otherwise
SELECT * FROM explain_membership('北京 客户', 1);
UPDATE ex_customers SET city = '北京' WHERE id = 3;
\set VERBOSITY terse
SELECT * FROM explain_membership('北京 客户', 3);
\set VERBOSITY default
UPDATE ex_customers SET city = NULL WHERE id = 3;
SELECT create_segment('never refreshed', 'EXISTS orders', refresh => false) > 0 AS created;
SELECT * FROM explain_membership('never refreshed', 2);
SELECT drop_segment('never refreshed');

-- condition counts: members of each node alone, the running count of the
-- parent's conditions 1..k
SELECT * FROM condition_counts(
    'count(orders WHERE status = ''paid'' DURING LAST 60 days) >= 2 AND customer.city = ''上海''
     AND (sum(orders.amount) > 100 OR last(orders.status) = ''refunded'')
     AND NOT EXISTS views WHERE url = ''/cart'' DURING LAST 7 days', '2024-08-09 12:00');
SELECT * FROM condition_counts('NOT (customer.age > 30 OR NOT EXISTS orders) OR TAG ''会员等级'' IS NOT EMPTY', '2024-08-09 12:00');
-- a leaf alone; a repeated leaf is evaluated once and counted twice
SELECT * FROM condition_counts('EXISTS views', '2024-08-09 12:00');
SELECT * FROM condition_counts('EXISTS views OR customer.age > 60 OR EXISTS views', '2024-08-09 12:00');
-- empty results: a rule nobody satisfies
SELECT * FROM condition_counts('customer.age > 1000 AND EXISTS orders', '2024-08-09 12:00');
SELECT * FROM explain_membership('customer.age > 1000 AND EXISTS orders', 1, '2024-08-09 12:00');
SELECT count(*) AS rows FROM condition_counts('EXISTS orders');

-- NULL arguments: no rows (STRICT)
SELECT count(*) FROM explain_membership(NULL::segment_rule, 1, now());
SELECT count(*) FROM explain_membership('EXISTS orders'::segment_rule, NULL::int, now());
SELECT count(*) FROM explain_membership('EXISTS orders'::segment_rule, 1, NULL);
SELECT count(*) FROM explain_membership(NULL::text, 1);
SELECT count(*) FROM condition_counts(NULL);
SELECT count(*) FROM condition_counts('EXISTS orders', NULL);

-- bad input
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS orders'::segment_rule, 61)$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS orders'::segment_rule, -1)$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS orders'::segment_rule, 99999)$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS orders'::segment_rule, 'abc'::text)$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS orders'::segment_rule, 40.0)$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS orders'::segment_rule, 1, 'infinity')$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('nosuch', 1)$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS nosuch'::segment_rule, 1)$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('customer.nosuch = 1'::segment_rule, 1)$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('sum(orders.status) > 1'::segment_rule, 1)$$);
SELECT pg_temp.err($$SELECT * FROM condition_counts('EXISTS nosuch')$$);
SELECT pg_temp.err($$SELECT * FROM condition_counts('TAG ''nosuch'' IS EMPTY')$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS orders AND'::segment_rule, 1)$$);
SELECT pg_temp.err($$SELECT * FROM condition_counts('count(orders) >')$$);

-- agreement on every customer (and an id that is none) for a set of rules:
-- each node holds exactly for the members of evaluate() of its own text,
-- and each node's counts are estimate() of it and of its partial combination
CREATE TEMP TABLE ex_rules (n int, rule text);
INSERT INTO ex_rules VALUES
 (1, 'count(orders WHERE status = ''paid'' DURING LAST 60 days) >= 2 AND customer.city = ''上海'' AND (sum(orders.amount) > 100 OR last(orders.status) = ''refunded'') AND NOT EXISTS views WHERE url = ''/cart'' DURING LAST 7 days'),
 (2, 'NOT (customer.age > 30 OR NOT EXISTS orders) OR TAG ''会员等级'' IS NOT EMPTY'),
 (3, 'count(orders) < 2 OR avg(orders.amount WHERE status = ''paid'') BETWEEN 100 AND 300'),
 (4, 'EXISTS views AND NOT (customer.name LIKE ''王%'' AND NOT customer.age IS NULL)'),
 (5, 'first(orders.amount) > 50 AND max(orders.paid_at) DURING LAST 20 days OR IN SEGMENT ''北京 客户'''),
 (6, 'EXISTS orders THEN NOT EXISTS views WITHIN 10 days AND TAG ''会员等级'' NOT IN (''gold'')'),
 (7, 'sum(orders.amount) IN TOP 20 PERCENT AND NOT count_distinct(orders.status) > 1');
CREATE TEMP TABLE ex_explained AS
SELECT r.n, c.id, e.*
FROM ex_rules r, ex_customers c, explain_membership(r.rule::segment_rule, c.id, '2024-08-09 12:00') e;
SELECT count(*) AS explanations, count(DISTINCT (n, id)) AS pairs FROM ex_explained;
SELECT x.n, x.path, x.condition, count(*) AS disagree
FROM ex_explained x
WHERE x.holds IS DISTINCT FROM (evaluate(x.condition::segment_rule, '2024-08-09 12:00') @> x.id)
GROUP BY 1, 2, 3 ORDER BY 1, 2;
SELECT count(*) AS roots_agree FROM ex_explained x JOIN ex_rules r USING (n)
WHERE x.path = '1' AND x.holds = (evaluate(r.rule::segment_rule, '2024-08-09 12:00') @> x.id);
-- every counts row against estimate(): the node, and its parent's children 1..k
CREATE TEMP TABLE ex_counts AS
SELECT r.n, k.* FROM ex_rules r, condition_counts(r.rule::segment_rule, '2024-08-09 12:00') k;
CREATE FUNCTION pg_temp.partial(rule_n int, p text) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN p = '1' OR (SELECT q.condition::segment_rule::jsonb ? 'not' FROM ex_counts q
                                 WHERE q.n = rule_n AND q.path = regexp_replace(p, '\.[0-9]+$', ''))
                THEN (SELECT condition FROM ex_counts WHERE n = rule_n AND path = p)
                ELSE (SELECT string_agg('(' || s.condition || ')',
                                        ' ' || (q.condition::segment_rule::jsonb ->> 'group') || ' ' ORDER BY s.k)
                      FROM ex_counts q,
                           LATERAL (SELECT c.condition, substring(c.path FROM '[0-9]+$')::int AS k FROM ex_counts c
                                    WHERE c.n = rule_n AND c.path ~ ('^' || replace(q.path, '.', '\.') || '\.[0-9]+$')) s
                      WHERE q.n = rule_n AND q.path = regexp_replace(p, '\.[0-9]+$', '')
                        AND s.k <= substring(p FROM '[0-9]+$')::int) END
$$;
SELECT n, path, members, "running", members = estimate(condition::segment_rule, '2024-08-09 12:00') AS members_ok,
       "running" = estimate(pg_temp.partial(n, path)::segment_rule, '2024-08-09 12:00') AS running_ok
FROM ex_counts ORDER BY n, string_to_array(path, '.')::int[];

-- text keys through the key dictionary, Unicode keys, a tenant column
CREATE TABLE ex_t_customers (key text PRIMARY KEY, tenant text, age int);
CREATE TABLE ex_t_orders (customer_key text, amount numeric, paid_at timestamptz);
INSERT INTO ex_t_customers VALUES ('顾客-1', 'a', 30), ('Zoë 🛒', 'a', 41), ('k3', 'b', 50), ('', 'a', NULL);
INSERT INTO ex_t_orders VALUES ('顾客-1', 10, '2024-08-01'), ('Zoë 🛒', 500, '2024-08-02'), ('Zoë 🛒', 5, '2024-08-03'),
                               ('k3', 900, '2024-08-01'), ('nobody', 1, '2024-08-01');
SELECT unregister_source('orders'), unregister_source('views');
SELECT drop_segment('北京 客户');
SELECT drop_tag_group('会员等级');
SELECT unregister_customers();
SELECT register_customers('ex_t_customers', 'key', tenant_column => 'tenant');
SELECT register_source('orders', 'ex_t_orders', 'customer_key', 'paid_at');
SET segment.tenant = 'a';
SELECT * FROM explain_membership('sum(orders.amount) > 100 AND NOT customer.age < 35', 'Zoë 🛒'::text, '2024-08-09 12:00');
SELECT * FROM explain_membership('sum(orders.amount) > 100 OR customer.age IS NULL', ''::text, '2024-08-09 12:00');
SELECT * FROM condition_counts('sum(orders.amount) > 100 AND NOT customer.age < 35', '2024-08-09 12:00');
-- another tenant's customer is unknown here
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS orders'::segment_rule, 'k3'::text)$$);
SELECT pg_temp.err($$SELECT * FROM explain_membership('EXISTS orders'::segment_rule, 'nobody'::text)$$);
SET segment.tenant = 'b';
SELECT path, value, holds FROM explain_membership('sum(orders.amount) > 100 AND NOT customer.age < 35', 'k3'::text, '2024-08-09 12:00');
RESET segment.tenant;

SELECT unregister_source('orders');
SELECT unregister_customers();
DROP TABLE ex_t_customers, ex_t_orders, ex_customers, ex_orders, ex_views CASCADE;
