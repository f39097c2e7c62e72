-- compile / evaluate / estimate: rules give the same customers as
-- hand-written SQL, including customers without events, refunds, NULL
-- amounts and events exactly on window boundaries.
SET search_path = segment, public;
SET TimeZone = 'Asia/Shanghai';
SET DateStyle = 'ISO, YMD';
\set SHOW_CONTEXT never

CREATE TABLE ev_customers (id int PRIMARY KEY, age int, city text, registered_at timestamptz, followed_at timestamptz);
CREATE TABLE ev_orders (customer_id int, status text, amount numeric, channel text, paid_at timestamptz);
CREATE TABLE ev_lines (customer_id int, sku text, product_type text, paid_at timestamptz);
CREATE TABLE ev_messages (customer_id int, campaign text, kind text, button text, sent_at timestamptz);
CREATE TABLE ev_views (customer_id int, seconds int, viewed_at timestamptz);
SELECT setseed(0.7);
INSERT INTO ev_customers
SELECT g, CASE WHEN g % 13 = 0 THEN NULL ELSE 18 + g % 50 END, (ARRAY['上海','北京',NULL])[1 + g % 3],
       timestamptz '2024-08-09 00:00' - (g % 400) * interval '1 day',
       CASE WHEN g % 4 = 0 THEN NULL ELSE timestamptz '2024-08-09 00:00' - (g % 90) * interval '1 day' + (g % 5) * interval '5 hours' END
FROM generate_series(1, 3000) g;
-- orders: a third of the customers never ordered; refunds; NULL amounts;
-- some orders exactly on window boundaries (local midnight)
INSERT INTO ev_orders
SELECT c.id, CASE WHEN random() < 0.1 THEN 'refunded' ELSE 'paid' END,
       CASE WHEN random() < 0.03 THEN NULL ELSE round((random() * 800)::numeric, 2) END,
       CASE WHEN random() < 0.3 THEN 'store' ELSE 'online' END,
       CASE WHEN random() < 0.1 THEN date_trunc('day', timestamptz '2024-08-09 11:00') - (floor(random() * 400))::int * interval '1 day'
            ELSE timestamptz '2024-08-09 11:00' - random() * interval '400 days' END
FROM ev_customers c, generate_series(1, (c.id * 7) % 9) n
WHERE c.id % 3 <> 0;
INSERT INTO ev_lines
SELECT customer_id, (ARRAY['A','B','C'])[1 + (hashtext(paid_at::text) & 3) % 3],
       (ARRAY['consumable-1m','gadget'])[1 + (hashtext(status || paid_at::text) & 1)], paid_at
FROM ev_orders;
INSERT INTO ev_messages
SELECT c.id, (ARRAY['A','B'])[1 + n % 2], (ARRAY['delivered','read','clicked','inbound'])[1 + (c.id + n) % 4],
       CASE WHEN (c.id + n) % 4 = 2 THEN 'coupon' END,
       timestamptz '2024-08-09 11:00' - (c.id % 10) * interval '1 day' - n * interval '3 hours'
FROM ev_customers c, generate_series(1, c.id % 5) n;
-- page views of 0..40 seconds; coupon clicks across the week boundaries
INSERT INTO ev_views
SELECT c.id, (c.id * n) % 41, timestamptz '2024-08-09 11:00' - ((c.id + n) % 25) * interval '1 day' + n * interval '1 hour'
FROM ev_customers c, generate_series(1, c.id % 4) n;
INSERT INTO ev_messages
SELECT c.id, 'coupon', 'clicked', CASE WHEN c.id % 2 = 0 THEN 'coupon' ELSE 'shop' END,
       timestamptz '2024-07-25 00:00' + (c.id % 17) * interval '1 day'
FROM ev_customers c WHERE c.id % 5 = 1;
-- campaign A delivered yesterday to every 11th customer, read by half of them
-- (and by some only today, which does not count)
INSERT INTO ev_messages
SELECT c.id, 'A', k, NULL, timestamptz '2024-08-08 00:00' + CASE WHEN k = 'delivered' THEN interval '10 hours'
                                                                 WHEN c.id % 3 = 0 THEN interval '1 day 1 hour'
                                                                 ELSE interval '23 hours 59 minutes' END
FROM ev_customers c, (VALUES ('delivered'), ('read')) v(k)
WHERE c.id % 11 = 0 AND (k = 'delivered' OR c.id % 2 = 0);
ANALYZE ev_customers, ev_orders, ev_lines, ev_messages, ev_views;

-- orders carry a foreign key (their customers need no check); order lines do
-- not, and one of them belongs to no registered customer
ALTER TABLE ev_orders ADD FOREIGN KEY (customer_id) REFERENCES ev_customers;
INSERT INTO ev_lines VALUES (99999, 'orphan', 'gadget', '2024-08-01'), (-5, 'orphan', 'gadget', '2024-08-01');
SELECT register_customers('ev_customers', 'id');
SELECT register_source('orders', 'ev_orders', 'customer_id', 'paid_at');
SELECT register_source('order_lines', 'ev_lines', 'customer_id', 'paid_at');
SELECT register_source('messages', 'ev_messages', 'customer_id', 'sent_at');
SELECT register_source('page_views', 'ev_views', 'customer_id', 'viewed_at');
-- scenario 1 reads the tag store: every 7th customer unsubscribed
SELECT create_tag_group('退订标签') > 0, add_tag('退订标签', '已退订') > 0;
SELECT count(*) FILTER (WHERE tag_customer('退订标签', '已退订', id)) FROM ev_customers WHERE id % 7 = 0;

-- rule vs hand-written SQL, at two as-of instants
CREATE TABLE checks (name text, rule segment_rule, expected text);
INSERT INTO checks VALUES
('1 not unsubscribed, older than 30', 'TAG ''退订标签'' NOT IN (''已退订'') AND customer.age > 30',
 $$SELECT id FROM ev_customers WHERE id % 7 <> 0 AND age > 30$$),
('8 to nurture', 'min(orders.paid_at) DURING LAST 60 days AND count(orders WHERE status = ''paid'') > 1',
 $$SELECT customer_id FROM ev_orders GROUP BY 1 HAVING min(paid_at) >= date_trunc('day', :'as_of'::timestamptz) - interval '60 days' AND min(paid_at) < date_trunc('day', :'as_of'::timestamptz) + interval '1 day' AND count(*) FILTER (WHERE status = 'paid') > 1$$),
('11 clicked coupon last week, no paid order this week', 'EXISTS messages WHERE kind = ''clicked'' AND button = ''coupon'' DURING PREVIOUS week AND NOT EXISTS orders WHERE status = ''paid'' DURING THIS week',
 $$SELECT customer_id FROM ev_messages WHERE kind = 'clicked' AND button = 'coupon' AND sent_at >= date_trunc('week', :'as_of'::timestamptz) - interval '7 days' AND sent_at < date_trunc('week', :'as_of'::timestamptz)
   EXCEPT SELECT customer_id FROM ev_orders WHERE status = 'paid' AND paid_at >= date_trunc('week', :'as_of'::timestamptz) AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day'$$),
('15 prospects: watched > 15 s, never paid', 'EXISTS page_views WHERE seconds > 15 DURING LAST 15 days AND NOT EXISTS orders WHERE status = ''paid''',
 $$SELECT customer_id FROM ev_views WHERE seconds > 15 AND viewed_at >= date_trunc('day', :'as_of'::timestamptz) - interval '15 days' AND viewed_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day'
   EXCEPT SELECT customer_id FROM ev_orders WHERE status = 'paid'$$),
('15 official: new', 'min(orders.paid_at WHERE status = ''paid'') DURING LAST 180 days AND EXISTS orders WHERE status = ''paid'' DURING LAST 30 days',
 $$SELECT customer_id FROM ev_orders WHERE status = 'paid' GROUP BY 1 HAVING min(paid_at) >= date_trunc('day', :'as_of'::timestamptz) - interval '180 days' AND min(paid_at) < date_trunc('day', :'as_of'::timestamptz) + interval '1 day'
   AND bool_or(paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '30 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day')$$),
('15 official: returning', 'min(orders.paid_at WHERE status = ''paid'') < 180 days ago AND EXISTS orders WHERE status = ''paid'' DURING LAST 30 days',
 $$SELECT customer_id FROM ev_orders WHERE status = 'paid' GROUP BY 1 HAVING min(paid_at) < date_trunc('day', :'as_of'::timestamptz) - interval '180 days'
   AND bool_or(paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '30 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day')$$),
('15 official: silent', 'NOT EXISTS orders WHERE status = ''paid'' DURING LAST 30 days AND EXISTS orders WHERE status = ''paid'' DURING LAST 180 days',
 $$SELECT customer_id FROM ev_orders WHERE status = 'paid' AND paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '180 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day'
   EXCEPT SELECT customer_id FROM ev_orders WHERE status = 'paid' AND paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '30 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day'$$),
('15 official: loyal', 'EXISTS orders WHERE status = ''paid'' DURING LAST 30 days AND count(orders WHERE status = ''paid'' DURING LAST 180 days) >= 2',
 $$SELECT customer_id FROM ev_orders WHERE status = 'paid' AND paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '180 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day'
   GROUP BY 1 HAVING count(*) >= 2 AND bool_or(paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '30 days')$$),
('15 official: repeat', 'count(orders WHERE status = ''paid'' DURING LAST 180 days) >= 2',
 $$SELECT customer_id FROM ev_orders WHERE status = 'paid' AND paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '180 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day'
   GROUP BY 1 HAVING count(*) >= 2$$),
('17 new followers without orders', 'customer.followed_at DURING LAST 1 month AND NOT EXISTS orders',
 $$SELECT id FROM ev_customers c WHERE followed_at >= date_trunc('day', :'as_of'::timestamptz) - interval '1 month' AND followed_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day' AND NOT EXISTS (SELECT FROM ev_orders o WHERE o.customer_id = c.id)$$),
('attribute', 'customer.age > 30', $$SELECT id FROM ev_customers WHERE age > 30$$),
('attribute is null', 'customer.age IS NULL OR customer.city IS NULL', $$SELECT id FROM ev_customers WHERE age IS NULL OR city IS NULL$$),
('not attribute (NULLs included)', 'NOT customer.age > 30', $$SELECT id FROM ev_customers WHERE NOT coalesce(age > 30, false)$$),
('in list', 'customer.city IN (''上海'', ''北京'')', $$SELECT id FROM ev_customers WHERE city IN ('上海','北京')$$),
('registered during', 'customer.registered_at DURING LAST 15 days', $$SELECT id FROM ev_customers WHERE registered_at >= date_trunc('day', :'as_of'::timestamptz) - interval '15 days' AND registered_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day'$$),
('2 win-back', 'max(orders.paid_at) < 90 days ago AND count(orders WHERE status = ''paid'') >= 1',
 $$SELECT customer_id FROM ev_orders GROUP BY 1 HAVING max(paid_at) < date_trunc('day', :'as_of'::timestamptz) - interval '90 days' AND count(*) FILTER (WHERE status = 'paid') >= 1$$),
('3 december only', 'EXISTS orders DURING BETWEEN ''2023-12-01'' AND ''2023-12-31'' AND NOT EXISTS orders DURING SINCE ''2024-01-01''',
 $$SELECT customer_id FROM ev_orders GROUP BY 1 HAVING bool_or(paid_at >= '2023-12-01' AND paid_at < '2024-01-01') AND NOT bool_or(paid_at >= '2024-01-01' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day')$$),
('4 cross-sell', 'EXISTS order_lines WHERE sku = ''A'' AND NOT EXISTS order_lines WHERE sku = ''B''',
 $$SELECT customer_id FROM ev_lines GROUP BY 1 HAVING bool_or(sku = 'A') AND NOT bool_or(sku = 'B')$$),
('5 loyal', 'count(orders WHERE status = ''paid'' DURING LAST 180 days) >= 3',
 $$SELECT customer_id FROM ev_orders WHERE status = 'paid' AND paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '180 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day' GROUP BY 1 HAVING count(*) >= 3$$),
('6 lapsed', 'EXISTS orders AND NOT EXISTS orders DURING LAST 1 year',
 $$SELECT customer_id FROM ev_orders GROUP BY 1 HAVING NOT bool_or(paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '1 year' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day')$$),
('7 prospects (zero count)', 'customer.registered_at DURING LAST 15 days AND count(orders) = 0',
 $$SELECT id FROM ev_customers c WHERE registered_at >= date_trunc('day', :'as_of'::timestamptz) - interval '15 days' AND registered_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day' AND NOT EXISTS (SELECT FROM ev_orders o WHERE o.customer_id = c.id)$$),
('9 high value lapsed', 'NOT EXISTS orders DURING LAST 90 days AND count(orders WHERE status = ''paid'') > 4 AND avg(orders.amount WHERE status = ''paid'') > 200',
 $$SELECT customer_id FROM ev_orders GROUP BY 1 HAVING NOT bool_or(paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '90 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day') AND count(*) FILTER (WHERE status = 'paid') > 4 AND avg(amount) FILTER (WHERE status = 'paid') > 200$$),
('10 delivered not read', 'EXISTS messages WHERE campaign = ''A'' AND kind = ''delivered'' DURING YESTERDAY AND NOT EXISTS messages WHERE campaign = ''A'' AND kind = ''read'' DURING YESTERDAY',
 $$SELECT customer_id FROM ev_messages WHERE sent_at >= date_trunc('day', :'as_of'::timestamptz) - interval '1 day' AND sent_at < date_trunc('day', :'as_of'::timestamptz) GROUP BY 1 HAVING bool_or(campaign = 'A' AND kind = 'delivered') AND NOT bool_or(campaign = 'A' AND kind = 'read')$$),
('12 chatted never ordered', 'EXISTS messages WHERE kind = ''inbound'' AND count(orders) = 0',
 $$SELECT DISTINCT customer_id FROM ev_messages m WHERE kind = 'inbound' AND NOT EXISTS (SELECT FROM ev_orders o WHERE o.customer_id = m.customer_id)$$),
('13 mid tier (sum, NULL amounts)', 'sum(orders.amount WHERE status = ''paid'') >= 300 AND sum(orders.amount WHERE status = ''paid'') < 2000',
 $$SELECT customer_id FROM ev_orders WHERE status = 'paid' GROUP BY 1 HAVING coalesce(sum(amount), 0) >= 300 AND coalesce(sum(amount), 0) < 2000$$),
('13 low tier includes never-paid', 'sum(orders.amount WHERE status = ''paid'') < 300',
 $$SELECT id FROM ev_customers c WHERE coalesce((SELECT sum(amount) FROM ev_orders o WHERE o.customer_id = c.id AND status = 'paid'), 0) < 300$$),
('14 band 1-3', 'count(orders WHERE status = ''paid'') BETWEEN 1 AND 3',
 $$SELECT customer_id FROM ev_orders WHERE status = 'paid' GROUP BY 1 HAVING count(*) BETWEEN 1 AND 3$$),
('avg is null without rows', 'avg(orders.amount) IS NULL',
 $$SELECT id FROM ev_customers c WHERE (SELECT avg(amount) FROM ev_orders o WHERE o.customer_id = c.id) IS NULL$$),
('16 channel migration', 'sum(orders.amount WHERE channel = ''store'' AND status = ''paid'') > 1000 AND NOT EXISTS orders DURING LAST 30 days',
 $$SELECT customer_id FROM ev_orders GROUP BY 1 HAVING coalesce(sum(amount) FILTER (WHERE channel = 'store' AND status = 'paid'), 0) > 1000 AND NOT bool_or(paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '30 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) + interval '1 day')$$),
('18 replenishment', 'EXISTS order_lines WHERE product_type = ''consumable-1m'' DURING PAST 25 TO 35 days',
 $$SELECT DISTINCT customer_id FROM ev_lines WHERE product_type = 'consumable-1m' AND paid_at >= date_trunc('day', :'as_of'::timestamptz) - interval '35 days' AND paid_at < date_trunc('day', :'as_of'::timestamptz) - interval '24 days'$$),
('or / not mix', 'NOT (customer.city = ''上海'' OR EXISTS orders WHERE channel = ''store'')',
 $$SELECT id FROM ev_customers c WHERE coalesce(city, '') <> '上海' AND NOT EXISTS (SELECT FROM ev_orders o WHERE o.customer_id = c.id AND channel = 'store')$$),
('count distinct', 'count_distinct(order_lines.sku) >= 2',
 $$SELECT customer_id FROM ev_lines GROUP BY 1 HAVING count(DISTINCT sku) >= 2$$);

CREATE FUNCTION check_rules(as_of timestamptz) RETURNS TABLE(name text, members bigint, equal boolean)
LANGUAGE plpgsql AS $f$
DECLARE
    r record;
    q text;
    want audience;
BEGIN
    FOR r IN SELECT * FROM checks LOOP
        q := replace(r.expected, ':''as_of''', quote_literal(as_of));
        EXECUTE format('SELECT coalesce(audience_agg(x), ''{}'') FROM (%s) s(x)', q) INTO want;
        name := r.name;
        members := cardinality(evaluate(r.rule, as_of));
        equal := evaluate(r.rule, as_of) = want;
        RETURN NEXT;
    END LOOP;
END $f$;
SELECT * FROM check_rules('2024-08-09 11:00');
SELECT name, equal FROM check_rules('2024-03-01 00:00') WHERE NOT equal;
SELECT name, equal FROM check_rules('2024-08-10 00:00') WHERE NOT equal;
-- each form alone (segment.rule_form) gives the same members (with the
-- indexes a DBA adds, so that per customer is not a scan per customer)
CREATE INDEX ev_orders_c ON ev_orders (customer_id);
CREATE INDEX ev_lines_c ON ev_lines (customer_id);
CREATE INDEX ev_messages_c ON ev_messages (customer_id);
CREATE INDEX ev_views_c ON ev_views (customer_id);
SET segment.rule_form = set_algebra;
SELECT name, equal FROM check_rules('2024-08-09 11:00') WHERE NOT equal;
SELECT name, equal FROM check_rules('2024-03-01 00:00') WHERE NOT equal;
SET segment.rule_form = per_customer;
SELECT name, equal FROM check_rules('2024-08-09 11:00') WHERE NOT equal;
SELECT name, equal FROM check_rules('2024-03-01 00:00') WHERE NOT equal;
-- reduced: every AND's cheapest child first, the others among its members
-- (semi-join reduction, always taken in this form)
SET segment.rule_form = reduced;
SELECT name, equal FROM check_rules('2024-08-09 11:00') WHERE NOT equal;
SELECT name, equal FROM check_rules('2024-03-01 00:00') WHERE NOT equal;
SELECT count(*) AS rules, count(*) FILTER (WHERE equal) AS equal FROM check_rules('2024-08-10 00:00');
RESET segment.rule_form;
DROP INDEX ev_orders_c, ev_lines_c, ev_messages_c, ev_views_c;

-- evaluation among candidates (what the tagging triggers use) equals the
-- full evaluation intersected with them: none, a few (compared as a list),
-- every 7th id and more than all (probed in the bitmap)
SELECT c.name, k.label
FROM checks c,
     (VALUES ('none', '{}'::audience),
             ('a few', '{1-3,7,14,100,2999,3000,3001}'::audience),
             ('every 7th', (SELECT audience_agg(g) FROM generate_series(0, 6000, 7) g)),
             ('beyond all', '{0-100000}'::audience)) k(label, cand)
WHERE _evaluate_among(c.rule, k.cand, '2024-08-09 11:00') <> evaluate(c.rule, '2024-08-09 11:00') & k.cand;
SELECT count(*) AS rules_checked FROM checks
WHERE cardinality(_evaluate_among(rule, (SELECT audience_agg(g) FROM generate_series(0, 6000, 7) g), '2024-08-09 11:00')) > 0;
SELECT _evaluate_among('customer.age > 30', NULL), _evaluate_among(NULL, '{1}');
-- the candidates reach the SQL as a parameter and restrict every scan
SELECT position('$1' IN compile('customer.age > 30')) = 0 AS plain_has_no_parameter;

-- predicate sharing (what refresh_all does): every distinct predicate and the
-- universe computed once; results equal to unshared evaluation
BEGIN;
SELECT _share_begin();
CREATE TEMP TABLE shared AS SELECT name, evaluate(rule, '2024-08-09 11:00') AS a FROM checks;
INSERT INTO shared SELECT name || ' again', evaluate(rule, '2024-08-09 11:00') FROM checks;
SELECT _share_end() AS evaluations_saved, _share_end() AS after_end;
COMMIT;
SELECT count(*) AS rules, count(*) FILTER (WHERE s.a = evaluate(c.rule, '2024-08-09 11:00')) AS equal
FROM checks c JOIN shared s ON s.name = c.name OR s.name = c.name || ' again';
-- a cache from an aborted transaction is gone
BEGIN;
SELECT _share_begin();
SELECT evaluate('customer.age > 30', '2024-08-09 11:00') IS NOT NULL;
ROLLBACK;
SELECT _share_end() AS nothing_left;
DROP TABLE shared;

-- estimate counts without saving
SELECT estimate('customer.age > 30', '2024-08-09 11:00') = (SELECT count(*) FROM ev_customers WHERE age > 30);

-- the compiled SQL: quoted identifiers, typed literals, resolved windows
SELECT compile('count(orders WHERE status = ''paid'' DURING LAST 3 days) >= 2 AND NOT customer.city IN (''上海'')', '2024-08-09 11:00');

-- predicates over the same source share one grouped scan (s1), one column each
SELECT compile('NOT EXISTS orders DURING LAST 90 days AND count(orders WHERE status = ''paid'') > 4 AND avg(orders.amount WHERE status = ''paid'') > 200', '2024-08-09 11:00');

-- without NOT or zero-inclusive predicates no universe is built: the result
-- is checked against the customer table (x)
SELECT compile('EXISTS order_lines WHERE product_type = ''consumable-1m'' DURING PAST 25 TO 35 days AND customer.age > 30', '2024-08-09 11:00');

-- an event of an unregistered customer never makes a member
SELECT evaluate('EXISTS order_lines WHERE sku = ''orphan''') AS orphan_line_members;
-- a source with a foreign key to the customers needs no check at all
SELECT compile('count(orders WHERE status = ''paid'') BETWEEN 1 AND 3', '2024-08-09 11:00');

-- registry validation at compile time
SELECT evaluate('EXISTS nosuch');
SELECT evaluate('customer.nosuch = 1');
SELECT evaluate('EXISTS orders WHERE nosuch = 1');
SELECT evaluate('customer.age > ''abc''');
SELECT evaluate('customer.city > 5');
SELECT evaluate('sum(orders.status) > 5');
SELECT evaluate('customer.age DURING LAST 3 days');
SELECT evaluate('customer.age < 3 days ago');
SELECT evaluate('TAG ''nosuch'' IS EMPTY');
SELECT evaluate('IN SEGMENT ''nosuch''');
SELECT evaluate('customer.age = true');
SELECT evaluate(NULL), compile(NULL);

SELECT drop_tag_group('退订标签');
DELETE FROM tag_log WHERE group_name = '退订标签';
-- later tests print tag ids: leave the sequences as they were
SELECT setval('tag_groups_id_seq', 1, false), setval('tags_id_seq', 1, false);
SELECT unregister_source('orders'), unregister_source('order_lines'), unregister_source('messages'), unregister_source('page_views');
SELECT unregister_customers();
DROP TABLE ev_customers, ev_orders, ev_lines, ev_messages, ev_views, checks;
DROP FUNCTION check_rules;

-- bigint keys beyond 2^32 through the dictionary, no foreign keys, events
-- of unknown customers and NULL keys: every strategy gives the hand-written
-- members
CREATE TABLE dk_customers (id bigint PRIMARY KEY, city text, age int);
INSERT INTO dk_customers
SELECT 5000000000 + g * 7919, (ARRAY['上海', '北京', NULL])[1 + g % 3], CASE WHEN g % 5 = 0 THEN NULL ELSE 20 + g % 50 END
FROM generate_series(1, 300) g;
CREATE TABLE dk_orders (customer_id bigint, amount numeric, paid_at timestamptz);
INSERT INTO dk_orders
SELECT 5000000000 + (g % 200) * 7919, g % 90, timestamptz '2024-08-09 11:00+08' - ((g % 200) * 3 + (g / 200) * 10) * interval '1 day'
FROM generate_series(1, 2000) g;
INSERT INTO dk_orders VALUES (42, 10, '2024-08-01'), (NULL, 10, '2024-08-01'), (9223372036854775807, 5, '2024-01-01');
SELECT register_customers('dk_customers', 'id', dictionary => true);
SELECT register_source('orders', 'dk_orders', 'customer_id', 'paid_at');
CREATE TABLE dk_checks (rule text, hand text);
INSERT INTO dk_checks VALUES
('EXISTS orders DURING LAST 30 days', $$SELECT DISTINCT customer_id FROM dk_orders o JOIN dk_customers c ON c.id = o.customer_id WHERE paid_at >= '2024-07-10 00:00+08' AND paid_at < '2024-08-10 00:00+08'$$),
('count(orders) > 0 AND count(orders DURING LAST 1 year) = 0', $$SELECT customer_id FROM dk_orders o JOIN dk_customers c ON c.id = o.customer_id GROUP BY 1 HAVING max(paid_at) < '2023-08-09 00:00+08'$$),
('sum(orders.amount) >= 300 AND sum(orders.amount) < 500', $$SELECT customer_id FROM dk_orders o JOIN dk_customers c ON c.id = o.customer_id GROUP BY 1 HAVING sum(amount) >= 300 AND sum(amount) < 500$$),
('sum(orders.amount) < 500', $$SELECT id FROM dk_customers c WHERE coalesce((SELECT sum(amount) FROM dk_orders o WHERE o.customer_id = c.id), 0) < 500$$),
('customer.city IN (''上海'') AND customer.age >= 40 AND max(orders.paid_at) < 200 days ago', $$SELECT c.id FROM dk_customers c JOIN dk_orders o ON o.customer_id = c.id WHERE city = '上海' AND age >= 40 GROUP BY 1 HAVING max(paid_at) < '2024-01-22 00:00+08'$$),
('NOT (customer.city = ''北京'' OR customer.age < 30) AND count(orders) = 0', $$SELECT id FROM dk_customers c WHERE (city = '北京' OR age < 30) IS NOT TRUE AND NOT EXISTS (SELECT FROM dk_orders o WHERE o.customer_id = c.id)$$),
('customer.age IS NULL OR min(orders.amount) < 2', $$SELECT id FROM dk_customers c WHERE age IS NULL OR EXISTS (SELECT FROM dk_orders o WHERE o.customer_id = c.id AND amount < 2)$$);
CREATE FUNCTION dk_hand(q text) RETURNS SETOF bigint LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE q; END $$;
SET TimeZone = 'Asia/Shanghai';
SELECT rule, cardinality(evaluate(rule::segment_rule, '2024-08-09 11:00+08')) AS members,
       (SELECT array_agg(o.key ORDER BY o.key) FROM ids_bigint(evaluate(rule::segment_rule, '2024-08-09 11:00+08')) i
        JOIN customer_ordinals o ON o.ordinal = i) IS NOT DISTINCT FROM
       (SELECT array_agg(k ORDER BY k) FROM (SELECT DISTINCT k FROM dk_hand(hand) k) s) AS equal
FROM dk_checks
ORDER BY rule;
-- every form gives the same members (segment.rule_form forces one)
CREATE FUNCTION dk_equal_forms() RETURNS TABLE(form text, rules bigint, equal bigint) LANGUAGE plpgsql AS $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['set_algebra', 'per_customer', 'reduced', 'auto'] LOOP
        PERFORM set_config('segment.rule_form', f, true);
        RETURN QUERY SELECT f, count(*), count(*) FILTER (WHERE
            (SELECT array_agg(o.key ORDER BY o.key) FROM ids_bigint(evaluate(rule::segment_rule, '2024-08-09 11:00+08')) i
             JOIN customer_ordinals o ON o.ordinal = i) IS NOT DISTINCT FROM
            (SELECT array_agg(k ORDER BY k) FROM (SELECT DISTINCT k FROM dk_hand(hand) k) s))
        FROM dk_checks;
    END LOOP;
END $$;
SELECT * FROM dk_equal_forms();
SET segment.rule_form = per_customer;
SELECT split_part(compile('EXISTS orders', '2024-08-09 11:00+08'), E'\n', 1) AS forced;
SET segment.rule_form = 'nope';
RESET segment.rule_form;
DROP FUNCTION dk_equal_forms;

-- a quoted date or timestamp compared with a time value is a moment of the
-- rule's zone (segment.timezone), never cast to the column's type
ALTER TABLE dk_customers ADD COLUMN born date, ADD COLUMN seen timestamp, ADD COLUMN joined timestamptz;
UPDATE dk_customers SET born = date '2024-03-30' + (id % 3)::int, seen = timestamp '2024-03-31 11:00' + (id % 3) * interval '1 hour',
       joined = timestamptz '2024-03-30 16:00+00' + (id % 3) * interval '1 hour';
SET segment.timezone = 'Asia/Shanghai';
SET TimeZone = 'UTC';
SELECT r AS rule, cardinality(evaluate(r::segment_rule, '2024-08-09 11:00+08')) AS members
FROM unnest(ARRAY['customer.born < ''2024-03-31 11:59:59''',            -- 30th and 31st: 2 of 3
                  'customer.born < ''2024-03-31''',                     -- the 30th: 1 of 3
                  'customer.born = ''2024-03-31''',
                  'customer.seen >= ''2024-03-31 12:00''',              -- 12:00 and 13:00
                  'customer.seen < ''2024-03-31 04:00:00+00''',         -- 12:00 Shanghai: 11:00 only
                  'customer.joined < ''2024-03-31 01:00''',             -- 00:00 and 01:00 Shanghai are 16:00, 17:00 UTC: 1 of 3
                  'customer.joined IN (''2024-03-31 01:00'')',
                  'customer.born BETWEEN ''2024-03-31'' AND ''2024-04-01''']) r;
RESET segment.timezone;
SET TimeZone = 'Asia/Shanghai';
-- the plan choices are visible in compile()
SELECT line FROM regexp_split_to_table(compile('count(orders) > 0 AND count(orders DURING LAST 1 year) = 0', '2024-08-09 11:00+08'), E'\n') line
WHERE line LIKE '--%';
RESET TimeZone;
SELECT unregister_source('orders'), unregister_customers();
DROP TABLE dk_customers, dk_orders, dk_checks;
DROP FUNCTION dk_hand;
