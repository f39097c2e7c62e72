-- The segment_rule type: parsing, canonical text, errors.
SET search_path = segment, public;

-- 18 everyday segmentation scenarios, as rules; output is the canonical text
CREATE TABLE scenario (n int PRIMARY KEY, rule segment_rule);
INSERT INTO scenario VALUES
 (1,  'TAG ''退订标签'' NOT IN (''已退订'') AND customer.age > 30'),
 (2,  'max(orders.paid_at) < 90 days ago AND count(orders WHERE status = ''paid'') >= 1'),
 (3,  'EXISTS orders DURING BETWEEN ''2023-12-01'' AND ''2023-12-31'' AND NOT EXISTS orders DURING SINCE ''2024-01-01'''),
 (4,  'EXISTS order_lines WHERE sku = ''A'' AND NOT EXISTS order_lines WHERE sku = ''B'''),
 (5,  'count(orders WHERE status = ''paid'' DURING LAST 180 days) >= 3'),
 (6,  'EXISTS orders AND NOT EXISTS orders DURING LAST 1 year'),
 (7,  'customer.registered_at DURING LAST 15 days AND count(orders) = 0'),
 (8,  'min(orders.paid_at) DURING LAST 60 days AND count(orders WHERE status = ''paid'') > 1'),
 (9,  'NOT EXISTS orders DURING LAST 90 days AND count(orders WHERE status = ''paid'') > 4 AND avg(orders.amount WHERE status = ''paid'') > 200'),
 (10, 'EXISTS messages WHERE campaign = ''A'' AND kind = ''delivered'' DURING YESTERDAY AND NOT EXISTS messages WHERE campaign = ''A'' AND kind = ''read'' DURING YESTERDAY'),
 (11, 'EXISTS messages WHERE kind = ''clicked'' AND button = ''coupon'' DURING PREVIOUS week AND NOT EXISTS orders WHERE status = ''paid'' DURING THIS week'),
 (12, 'EXISTS messages WHERE kind = ''inbound'' AND count(orders) = 0'),
 (13, 'sum(orders.amount WHERE status = ''paid'') >= 300 AND sum(orders.amount WHERE status = ''paid'') < 2000'),
 (14, 'count(orders WHERE status = ''paid'') BETWEEN 1 AND 3'),
 (15, 'EXISTS page_views WHERE seconds > 15 DURING LAST 15 days AND NOT EXISTS orders WHERE status = ''paid'''),
 (16, 'sum(orders.amount WHERE channel = ''store'' AND status = ''paid'') > 1000 AND NOT EXISTS orders DURING LAST 30 days'),
 (17, 'customer.followed_at DURING LAST 1 month AND NOT EXISTS orders'),
 (18, 'EXISTS order_lines WHERE product_type = ''consumable-1m'' DURING PAST 25 TO 35 days');
SELECT n, rule FROM scenario ORDER BY n;
-- text -> rule -> text is idempotent
SELECT n FROM scenario WHERE rule::text::segment_rule::text <> rule::text;

-- keywords are case-insensitive, spacing is canonical, identifiers quoted when needed
SELECT 'COUNT( Orders  where STATUS=''paid'' during LAST 1 DAYS )>=1'::segment_rule;
SELECT 'customer."Full Name" LIKE ''王%'' OR customer.city IN (''上海'', ''北京'')'::segment_rule;
SELECT '(customer.a = 1 OR customer.b = 2) AND NOT (customer.c IS NULL)'::segment_rule;
SELECT 'customer.a = 1 OR (customer.b = 2 AND customer.c = 3)'::segment_rule;
SELECT 'IN SEGMENT ''高价值 客户'' AND TAG ''tier'' IS NOT EMPTY'::segment_rule;
SELECT 'customer.score NOT BETWEEN -1.5 AND 1e3'::segment_rule;
SELECT 'customer.note = ''it''''s'''::segment_rule;

-- errors name the token and the character position
SELECT 'count(orders >'::segment_rule;
SELECT 'customer.age > '::segment_rule;
SELECT 'customer.age >> 3'::segment_rule;
SELECT 'customer.city IN ()'::segment_rule;
SELECT 'TAG ''x'' IN ()'::segment_rule;
SELECT 'EXISTS orders DURING LAST 3 fortnights'::segment_rule;
SELECT 'EXISTS orders DURING PAST 3 TO 1 days'::segment_rule;
SELECT 'EXISTS orders DURING BETWEEN ''2024-02-30'' AND ''2024-03-01'''::segment_rule;
SELECT 'customer.name = ''unterminated'::segment_rule;
SELECT 'customer.age > 3 garbage'::segment_rule;
SELECT ''::segment_rule;
SELECT (repeat('(', 70) || 'customer.a = 1' || repeat(')', 70))::segment_rule;
SELECT ('customer.a IN (' || repeat('1, ', 20000) || '1)')::segment_rule;
SELECT ('customer.a = ''' || repeat('x', 70000) || '''')::segment_rule;

-- rule_segments / rule_refs: what a rule reads (each named once, in order)
SELECT rule_segments('IN SEGMENT ''vip'' AND (IN SEGMENT ''churned'' OR IN SEGMENT ''vip'')') AS segments,
       rule_segments('customer.age > 3') AS none,
       rule_segments(NULL) IS NULL AS null_in_null_out,
       rule_segments('IN SEGMENT ''高价值 🛒''') AS unicode;
SELECT rule_refs('IN SEGMENT ''vip'' AND count(orders WHERE status = ''paid'') > 2 AND TAG ''tier'' IN (''a'') AND customer.age > 3 AND EXISTS orders') AS refs,
       rule_refs(NULL) IS NULL AS null_in_null_out;
