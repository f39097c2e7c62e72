-- Rules of the generalization benchmark (bench/generalize.sh) over the
-- shop of bench/generalize_data.sql, each with the best plain SQL we could
-- write for the same customers, returning customer keys (shop.customers.id).
--
-- As of 2025-03-31 09:15 Europe/Berlin (a Monday, the day after the spring
-- DST change), session TimeZone Europe/Berlin.  The hand-written queries
-- carry literal bounds, as a person would write them; the windows resolve
-- to (segment.resolve_window; bench.g_windows below checks each one):
--   LAST 3 hours     [2025-03-31 06:15, 2025-03-31 09:15)
--   LAST 12 hours    [2025-03-30 21:15, 2025-03-31 09:15)
--   LAST 36 hours    [2025-03-29 20:15+01, 2025-03-31 09:15+02)   (36 hours, 37 of wall clock across DST)
--   TODAY            [2025-03-31, 2025-04-01)
--   YESTERDAY        [2025-03-30, 2025-03-31)                     (23 hours)
--   THIS week        [2025-03-31, 2025-04-01)   PREVIOUS week  [2025-03-24, 2025-03-31)
--   LAST 6 days      [2025-03-25, 2025-04-01)   LAST 7 days    [2025-03-24, 2025-04-01)
--   PAST 7 TO 14 days [2025-03-17, 2025-03-25)  LAST 2 weeks   [2025-03-17, 2025-04-01)
--   THIS month       [2025-03-01, 2025-04-01)   PREVIOUS month [2025-02-01, 2025-03-01)
--   LAST 30 days     [2025-03-01, 2025-04-01)   LAST 3 months  [2024-12-31, 2025-04-01)
--   LAST 90 days     [2024-12-31, 2025-04-01)   LAST 6 months  [2024-09-30, 2025-04-01)
--   LAST 1 year      [2024-03-31, 2025-04-01)   LAST 2 years   [2023-03-31, 2025-04-01)
--   THIS year        [2025-01-01, 2025-04-01)   PREVIOUS year  [2024-01-01, 2025-01-01)
--   BETWEEN '2024-12-01' AND '2024-12-24'  [2024-12-01, 2024-12-25)
--   60 days ago = 2025-01-30, 180 days ago = 2024-10-02
-- Data runs to 2025-04-01 12:00, past the as-of instant and past midnight.
--
-- Semantics the hand SQL follows (doc/rules.md): the universe is the
-- registered customers, so event-side results are restricted to
-- shop.customers (events of deleted customers remain, there is no foreign
-- key); NOT x is the universe minus x (a NULL attribute does not satisfy
-- x, so it satisfies NOT x); count and sum over no rows are 0, avg, min,
-- max NULL; a timestamp-without-time-zone column holds Berlin wall-clock
-- time and a date column is the day starting at local midnight.
-- Tags and segment memberships are stored by ordinal; the hand SQL maps
-- them back through segment.customer_ordinals / segment.membership.
CREATE TABLE bench.g_rules (n int PRIMARY KEY, name text NOT NULL, rule text NOT NULL, hand text NOT NULL,
                            growth boolean NOT NULL DEFAULT false);

-- the bounds the hand queries assume
CREATE TABLE bench.g_windows (w text PRIMARY KEY, expect tstzrange NOT NULL);
INSERT INTO bench.g_windows VALUES
('LAST 3 hours', '[2025-03-31 06:15+02, 2025-03-31 09:15+02)'),
('LAST 12 hours', '[2025-03-30 21:15+02, 2025-03-31 09:15+02)'),
('LAST 36 hours', '[2025-03-29 20:15+01, 2025-03-31 09:15+02)'),
('TODAY', '[2025-03-31 00:00+02, 2025-04-01 00:00+02)'),
('YESTERDAY', '[2025-03-30 00:00+01, 2025-03-31 00:00+02)'),
('THIS week', '[2025-03-31 00:00+02, 2025-04-01 00:00+02)'),
('PREVIOUS week', '[2025-03-24 00:00+01, 2025-03-31 00:00+02)'),
('LAST 6 days', '[2025-03-25 00:00+01, 2025-04-01 00:00+02)'),
('LAST 7 days', '[2025-03-24 00:00+01, 2025-04-01 00:00+02)'),
('PAST 7 TO 14 days', '[2025-03-17 00:00+01, 2025-03-25 00:00+01)'),
('LAST 2 weeks', '[2025-03-17 00:00+01, 2025-04-01 00:00+02)'),
('THIS month', '[2025-03-01 00:00+01, 2025-04-01 00:00+02)'),
('PREVIOUS month', '[2025-02-01 00:00+01, 2025-03-01 00:00+01)'),
('LAST 30 days', '[2025-03-01 00:00+01, 2025-04-01 00:00+02)'),
('LAST 3 months', '[2024-12-31 00:00+01, 2025-04-01 00:00+02)'),
('LAST 90 days', '[2024-12-31 00:00+01, 2025-04-01 00:00+02)'),
('LAST 6 months', '[2024-09-30 00:00+02, 2025-04-01 00:00+02)'),
('LAST 1 year', '[2024-03-31 00:00+01, 2025-04-01 00:00+02)'),
('LAST 2 years', '[2023-03-31 00:00+02, 2025-04-01 00:00+02)'),
('THIS year', '[2025-01-01 00:00+01, 2025-04-01 00:00+02)'),
('PREVIOUS year', '[2024-01-01 00:00+01, 2025-01-01 00:00+01)'),
($$BETWEEN '2024-12-01' AND '2024-12-24'$$, '[2024-12-01 00:00+01, 2024-12-25 00:00+01)'),
('BEFORE 60 days ago', '(, 2025-01-30 00:00+01)'),
('BEFORE 180 days ago', '(, 2024-10-02 00:00+02)');

INSERT INTO bench.g_rules (n, name, rule, hand, growth) VALUES
------------------------------------------------------------ customer columns
(1, 'seniors in Hamburg or Bremen', $$customer.city IN ('Hamburg', 'Bremen') AND customer.age >= 60$$,
 $$SELECT id FROM shop.customers WHERE city IN ('Hamburg', 'Bremen') AND age >= 60$$, true),
(2, 'vip or many points', $$customer.vip = true OR customer.loyalty_points >= 8000$$,
 $$SELECT id FROM shop.customers WHERE vip OR loyalty_points >= 8000$$, false),
(3, 'NOT (Berlin OR opted out), NULLs', $$NOT (customer.city = 'Berlin' OR customer.email_opt_in = false)$$,
 $$SELECT id FROM shop.customers WHERE (city = 'Berlin' OR email_opt_in = false) IS NOT TRUE$$, false),
(4, 'signed up in 30 days, no city', $$customer.signup_at DURING LAST 30 days AND customer.city IS NULL$$,
 $$SELECT id FROM shop.customers WHERE signup_at >= '2025-03-01' AND signup_at < '2025-04-01' AND city IS NULL$$, false),
(5, 'women born 1990-94 outside CH', $$customer.birth_date BETWEEN '1990-01-01' AND '1994-12-31' AND customer.gender = 'f' AND NOT customer.country = 'CH'$$,
 $$SELECT id FROM shop.customers WHERE birth_date BETWEEN '1990-01-01' AND '1994-12-31' AND gender = 'f' AND country <> 'CH'$$, false),
(6, 'example.org or no email', $$customer.email LIKE '%@example.org' OR customer.email IS NULL$$,
 $$SELECT id FROM shop.customers WHERE email LIKE '%@example.org' OR email IS NULL$$, false),
------------------------------------------------------------ tags
(7, 'sports or garden, not books', $$TAG 'interest' IN ('sports', 'garden') AND NOT TAG 'interest' IN ('books')$$,
 $$SELECT o.key FROM segment.customer_ordinals o
   JOIN (SELECT m.ordinal FROM segment.tag_members m JOIN segment.tags t ON t.id = m.tag_id
         JOIN segment.tag_groups g ON g.id = t.group_id AND g.name = 'interest'
         WHERE t.value IN ('sports', 'garden', 'books')
         GROUP BY m.ordinal HAVING bool_and(t.value <> 'books')) s ON s.ordinal = o.ordinal$$, true),
(8, 'vip without interests', $$TAG 'interest' IS EMPTY AND customer.vip = true$$,
 $$SELECT c.id FROM shop.customers c JOIN segment.customer_ordinals o ON o.key = c.id
   WHERE c.vip AND NOT EXISTS (SELECT FROM segment.tag_members m WHERE m.ordinal = o.ordinal
         AND m.tag_id IN (SELECT t.id FROM segment.tags t JOIN segment.tag_groups g ON g.id = t.group_id WHERE g.name = 'interest'))$$, false),
(9, 'opted in, not unsubscribed, Munich', $$TAG 'consent' NOT IN ('email_unsub') AND customer.email_opt_in = true AND customer.city = 'Munich'$$,
 $$SELECT c.id FROM shop.customers c JOIN segment.customer_ordinals o ON o.key = c.id
   WHERE c.email_opt_in AND c.city = 'Munich'
     AND NOT EXISTS (SELECT FROM segment.tag_members m WHERE m.ordinal = o.ordinal
         AND m.tag_id = (SELECT t.id FROM segment.tags t JOIN segment.tag_groups g ON g.id = t.group_id
                         WHERE g.name = 'consent' AND t.value = 'email_unsub'))$$, false),
------------------------------------------------------------ one source
(10, 'heavy buyers over 2 years', $$count(orders WHERE status = 'completed' DURING LAST 2 years) >= 25$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM shop.orders WHERE status = 'completed' AND placed_at >= '2023-03-31' AND placed_at < '2025-04-01'
   GROUP BY 1 HAVING count(*) >= 25) s WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$, true),
(11, 'spent under 100 this year (zero incl.)', $$sum(orders.total WHERE status = 'completed' DURING THIS year) < 100$$,
 $$SELECT c.id FROM shop.customers c LEFT JOIN (SELECT buyer_id FROM shop.orders WHERE status = 'completed'
   AND placed_at >= '2025-01-01' AND placed_at < '2025-04-01' GROUP BY 1 HAVING sum(total) >= 100) big ON big.buyer_id = c.id
   WHERE big.buyer_id IS NULL$$, true),
(12, 'pricey electronics on average', $$avg(items.unit_price WHERE category = 'electronics') > 60$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM shop.order_items WHERE category = 'electronics' GROUP BY 1 HAVING avg(unit_price) > 60) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$, false),
(13, 'first order last year', $$min(orders.placed_at) DURING PREVIOUS year$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM shop.orders WHERE placed_at < '2025-01-01' GROUP BY 1 HAVING min(placed_at) >= '2024-01-01') s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$, false),
(14, 'no page view in 60 days', $$max(views.viewed_at) < 60 days ago$$,
 $$SELECT DISTINCT v.visitor_id FROM shop.page_views v WHERE v.viewed_at < '2025-01-30'
   AND NOT EXISTS (SELECT FROM shop.page_views w WHERE w.visitor_id = v.visitor_id AND w.viewed_at >= '2025-01-30')
   AND EXISTS (SELECT FROM shop.customers c WHERE c.id = v.visitor_id)$$, false),
(15, '12+ distinct SKUs shipped in 6 months', $$count_distinct(items.sku DURING LAST 6 months) >= 12$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM (SELECT DISTINCT buyer_id, sku FROM shop.order_items WHERE shipped_on >= '2024-09-30' AND shipped_on < '2025-04-01') d
   GROUP BY 1 HAVING count(*) >= 12) s WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$, false),
(16, 'urgent ticket in 12 hours', $$count(tickets WHERE priority >= 3 DURING LAST 12 hours) >= 1$$,
 $$SELECT DISTINCT t.requester FROM shop.support_tickets t WHERE t.priority >= 3 AND t.opened_at >= '2025-03-30 21:15' AND t.opened_at < '2025-03-31 09:15'
   AND EXISTS (SELECT FROM shop.customers c WHERE c.id = t.requester)$$, false),
(17, 'cart, no purchase, 7 days', $$EXISTS app WHERE event_name = 'add_to_cart' DURING LAST 7 days AND NOT EXISTS app WHERE event_name = 'purchase' DURING LAST 7 days$$,
 $$SELECT s.user_key FROM (SELECT user_key FROM shop.app_events WHERE event_name IN ('add_to_cart', 'purchase')
   AND occurred_at >= '2025-03-24' AND occurred_at < '2025-04-01' GROUP BY 1 HAVING bool_and(event_name = 'add_to_cart')) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.user_key)$$, true),
(18, 'store buyer, never web', $$EXISTS orders WHERE channel = 'store' AND NOT EXISTS orders WHERE channel = 'web'$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM shop.orders WHERE channel IN ('store', 'web') GROUP BY 1 HAVING bool_and(channel = 'store')) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$, false),
(19, 'order of 100+ in 3 hours', $$EXISTS orders WHERE total >= 100 DURING LAST 3 hours$$,
 $$SELECT DISTINCT o.buyer_id FROM shop.orders o WHERE o.total >= 100 AND o.placed_at >= '2025-03-31 06:15' AND o.placed_at < '2025-03-31 09:15'
   AND EXISTS (SELECT FROM shop.customers c WHERE c.id = o.buyer_id)$$, false),
(20, 'visited in 6 days, no mobile the week before', $$count(views WHERE device = 'mobile' DURING PAST 7 TO 14 days) = 0 AND EXISTS views DURING LAST 6 days$$,
 $$SELECT s.visitor_id FROM (SELECT visitor_id FROM shop.page_views WHERE visitor_id IS NOT NULL AND viewed_at >= '2025-03-17' AND viewed_at < '2025-04-01'
   AND (viewed_at >= '2025-03-25' OR device = 'mobile')
   GROUP BY 1 HAVING bool_or(viewed_at >= '2025-03-25') AND NOT bool_or(viewed_at < '2025-03-25')) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.visitor_id)$$, false),
(21, 'average csat below 2.5', $$avg(tickets.csat) < 2.5$$,
 $$SELECT s.requester FROM (SELECT requester FROM shop.support_tickets GROUP BY 1 HAVING avg(csat) < 2.5) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.requester)$$, false),
(22, 'three channels in a year', $$count_distinct(orders.channel DURING LAST 1 year) >= 3$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM (SELECT buyer_id, channel FROM shop.orders WHERE placed_at >= '2024-03-31' AND placed_at < '2025-04-01' AND channel IS NOT NULL ORDER BY buyer_id, channel) d
   GROUP BY 1 HAVING count(DISTINCT channel) >= 3) s WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$, false),
(23, 'first order this month', $$min(orders.placed_at) DURING THIS month$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM shop.orders WHERE placed_at >= '2025-03-01' AND placed_at < '2025-04-01'
   EXCEPT SELECT buyer_id FROM shop.orders WHERE placed_at < '2025-03-01') s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$, false),
(24, 'shipped long ago and last week (date column)', $$min(items.shipped_on) < 180 days ago AND max(items.shipped_on) DURING LAST 7 days$$,
 $$SELECT DISTINCT i.buyer_id FROM shop.order_items i WHERE i.shipped_on >= '2025-03-24' AND i.shipped_on < '2025-04-01'
   AND NOT EXISTS (SELECT FROM shop.order_items j WHERE j.buyer_id = i.buyer_id AND j.shipped_on >= '2025-04-01')
   AND EXISTS (SELECT FROM shop.order_items j WHERE j.buyer_id = i.buyer_id AND j.shipped_on < '2024-10-02')
   AND EXISTS (SELECT FROM shop.customers c WHERE c.id = i.buyer_id)$$, false),
(25, 'logged in last week, not this week', $$EXISTS app WHERE event_name = 'login' DURING PREVIOUS week AND NOT EXISTS app WHERE event_name = 'login' DURING THIS week$$,
 $$SELECT s.user_key FROM (SELECT user_key FROM shop.app_events WHERE event_name = 'login' AND occurred_at >= '2025-03-24' AND occurred_at < '2025-04-01'
   GROUP BY 1 HAVING NOT bool_or(occurred_at >= '2025-03-31')) s WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.user_key)$$, false),
------------------------------------------------------------ mixes, OR across sources, NOT of groups, segments
(26, 'under 30 and active in app or web', $$customer.age < 30 AND (EXISTS app DURING LAST 30 days OR count(views DURING LAST 30 days) >= 5)$$,
 $$SELECT c.id FROM shop.customers c WHERE c.age < 30
   AND (EXISTS (SELECT FROM shop.app_events a WHERE a.user_key = c.id AND a.occurred_at >= '2025-03-01' AND a.occurred_at < '2025-04-01')
   OR (SELECT count(*) FROM shop.page_views v WHERE v.visitor_id = c.id AND v.viewed_at >= '2025-03-01' AND v.viewed_at < '2025-04-01') >= 5)$$, true),
(27, 'silent for a year: NOT (orders OR tickets)', $$NOT (EXISTS orders DURING LAST 1 year OR EXISTS tickets DURING LAST 1 year)$$,
 $$SELECT c.id FROM shop.customers c
   WHERE NOT EXISTS (SELECT FROM shop.orders o WHERE o.buyer_id = c.id AND o.placed_at >= '2024-03-31' AND o.placed_at < '2025-04-01')
     AND NOT EXISTS (SELECT FROM shop.support_tickets t WHERE t.requester = c.id AND t.opened_at >= '2024-03-31' AND t.opened_at < '2025-04-01')$$, true),
(28, 'lapsed big spenders into tech', $$IN SEGMENT 'big_spenders' AND NOT EXISTS orders DURING LAST 90 days AND TAG 'interest' IN ('tech')$$,
 $$SELECT o.key FROM segment.segments s CROSS JOIN LATERAL segment.ids_bigint(s.members) i(ordinal)
   JOIN segment.customer_ordinals o ON o.ordinal = i.ordinal
   WHERE s.name = 'big_spenders'
     AND EXISTS (SELECT FROM segment.tag_members m WHERE m.ordinal = i.ordinal
                 AND m.tag_id = (SELECT t.id FROM segment.tags t JOIN segment.tag_groups g ON g.id = t.group_id WHERE g.name = 'interest' AND t.value = 'tech'))
     AND NOT EXISTS (SELECT FROM shop.orders r WHERE r.buyer_id = o.key AND r.placed_at >= '2024-12-31' AND r.placed_at < '2025-04-01')$$, true),
(29, 'app buyers segment or vip', $$IN SEGMENT 'app_buyers' OR customer.vip = true$$,
 $$SELECT customer_key FROM segment.membership WHERE segment_name = 'app_buyers'
   UNION SELECT id FROM shop.customers WHERE vip$$, false),
(30, 'unhappy in 6 months, spent 500+', $$EXISTS tickets WHERE csat <= 2 DURING LAST 6 months AND sum(orders.total WHERE status = 'completed') >= 500$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM shop.orders WHERE status = 'completed' GROUP BY 1 HAVING sum(total) >= 500) s
   WHERE s.buyer_id IN (SELECT requester FROM shop.support_tickets WHERE csat <= 2 AND opened_at >= '2024-09-30' AND opened_at < '2025-04-01')
     AND EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$, false),
(31, 'big order or big quantity (max, OR)', $$max(orders.total) >= 2000 OR max(items.qty) >= 9$$,
 $$SELECT s.k FROM (SELECT buyer_id AS k FROM shop.orders WHERE total >= 2000 UNION SELECT buyer_id FROM shop.order_items WHERE qty >= 9) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.k)$$, false),
(32, 'christmas gift buyers', $$EXISTS orders WHERE gift = true DURING BETWEEN '2024-12-01' AND '2024-12-24'$$,
 $$SELECT DISTINCT o.buyer_id FROM shop.orders o WHERE o.gift AND o.placed_at >= '2024-12-01' AND o.placed_at < '2024-12-25'
   AND EXISTS (SELECT FROM shop.customers c WHERE c.id = o.buyer_id)$$, false),
(33, 'returned last month, not vip', $$EXISTS items WHERE returned = true DURING PREVIOUS month AND NOT customer.vip = true$$,
 $$SELECT c.id FROM shop.customers c WHERE NOT c.vip
   AND c.id IN (SELECT buyer_id FROM shop.order_items WHERE returned AND shipped_on >= '2025-02-01' AND shipped_on < '2025-03-01')$$, false),
(34, '2-5 orders over 50 in a year, subscribed', $$count(orders WHERE total > 50 DURING LAST 1 year) BETWEEN 2 AND 5 AND TAG 'consent' NOT IN ('email_unsub')$$,
 $$SELECT o.key FROM segment.customer_ordinals o
   JOIN (SELECT buyer_id FROM shop.orders WHERE total > 50 AND placed_at >= '2024-03-31' AND placed_at < '2025-04-01'
         GROUP BY 1 HAVING count(*) BETWEEN 2 AND 5) s ON s.buyer_id = o.key
   WHERE NOT EXISTS (SELECT FROM segment.tag_members m WHERE m.ordinal = o.ordinal
         AND m.tag_id = (SELECT t.id FROM segment.tags t JOIN segment.tag_groups g ON g.id = t.group_id
                         WHERE g.name = 'consent' AND t.value = 'email_unsub'))$$, false),
(35, 'purchases of 300+ in app or app channel', $$sum(app.value WHERE event_name = 'purchase' DURING LAST 3 months) > 300 OR sum(orders.total WHERE channel = 'app' DURING LAST 3 months) > 300$$,
 $$SELECT s.k FROM (SELECT user_key AS k FROM shop.app_events WHERE event_name = 'purchase' AND occurred_at >= '2024-12-31' AND occurred_at < '2025-04-01'
         GROUP BY 1 HAVING sum(value) > 300
         UNION
         SELECT buyer_id FROM shop.orders WHERE channel = 'app' AND placed_at >= '2024-12-31' AND placed_at < '2025-04-01'
         GROUP BY 1 HAVING sum(total) > 300) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.k)$$, false),
(36, 'ticket or share in 36 hours (DST)', $$EXISTS tickets WHERE topic IS NULL DURING LAST 36 hours OR EXISTS app WHERE event_name = 'share' DURING LAST 36 hours$$,
 $$SELECT s.k FROM (SELECT requester AS k FROM shop.support_tickets WHERE topic IS NULL AND opened_at >= '2025-03-29 20:15' AND opened_at < '2025-03-31 09:15'
         UNION
         SELECT user_key FROM shop.app_events WHERE event_name = 'share' AND occurred_at >= '2025-03-29 20:15+01' AND occurred_at < '2025-03-31 09:15+02') s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.k)$$, false),
(37, 'ordered today, city known', $$count(orders DURING TODAY) >= 1 AND customer.city IS NOT NULL$$,
 $$SELECT c.id FROM shop.customers c WHERE c.city IS NOT NULL
   AND c.id IN (SELECT buyer_id FROM shop.orders WHERE placed_at >= '2025-03-31' AND placed_at < '2025-04-01')$$, false),
(38, 'NOT (vip OR tagged), 3+ orders', $$NOT (customer.vip = true OR TAG 'interest' IS NOT EMPTY) AND count(orders) >= 3$$,
 $$SELECT c.id FROM shop.customers c JOIN segment.customer_ordinals o ON o.key = c.id
   JOIN (SELECT buyer_id FROM shop.orders GROUP BY 1 HAVING count(*) >= 3) s ON s.buyer_id = c.id
   WHERE NOT c.vip AND NOT EXISTS (SELECT FROM segment.tag_members m WHERE m.ordinal = o.ordinal
         AND m.tag_id IN (SELECT t.id FROM segment.tags t JOIN segment.tag_groups g ON g.id = t.group_id WHERE g.name = 'interest'))$$, false),
(39, 'product browsing, no order in 2 weeks', $$count(views WHERE url_path LIKE '/product/%' DURING LAST 2 weeks) >= 3 AND NOT EXISTS orders DURING LAST 2 weeks$$,
 $$SELECT s.visitor_id FROM (SELECT visitor_id FROM shop.page_views WHERE url_path LIKE '/product/%' AND viewed_at >= '2025-03-17' AND viewed_at < '2025-04-01'
         AND visitor_id IS NOT NULL GROUP BY 1 HAVING count(*) >= 3) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.visitor_id)
     AND NOT EXISTS (SELECT FROM shop.orders o WHERE o.buyer_id = s.visitor_id AND o.placed_at >= '2025-03-17' AND o.placed_at < '2025-04-01')$$, false),
(40, 'points but never ordered', $$customer.loyalty_points BETWEEN 1000 AND 3000 AND count(orders) = 0$$,
 $$SELECT c.id FROM shop.customers c WHERE c.loyalty_points BETWEEN 1000 AND 3000
   AND NOT EXISTS (SELECT FROM shop.orders o WHERE o.buyer_id = c.id)$$, false),
(41, 'checkout yesterday (DST day), no order today', $$EXISTS views WHERE url_path = '/checkout' DURING YESTERDAY AND NOT EXISTS orders DURING TODAY$$,
 $$SELECT DISTINCT v.visitor_id FROM shop.page_views v WHERE v.url_path = '/checkout' AND v.viewed_at >= '2025-03-30' AND v.viewed_at < '2025-03-31'
   AND EXISTS (SELECT FROM shop.customers c WHERE c.id = v.visitor_id)
   AND NOT EXISTS (SELECT FROM shop.orders o WHERE o.buyer_id = v.visitor_id AND o.placed_at >= '2025-03-31' AND o.placed_at < '2025-04-01')$$, false);

------------------------------------------------------------ the harness
-- One row per settings mode, size and rule.  members: evaluate()'s
-- cardinality; hand_rows: rows of the hand query; missing / extra: keys the
-- hand query returns that evaluate() lacks / the reverse (evaluate()'s
-- audience mapped back to keys through segment.customer_ordinals);
-- duplicates: repeated keys in the hand query.
CREATE TABLE bench.g_results (mode text, customers bigint, n int, name text, members bigint, hand_rows bigint,
                              missing bigint, extra bigint, duplicates bigint,
                              segment_ms float8, hand_ms float8, error text,
                              PRIMARY KEY (mode, customers, n));

-- Runs the rules (only the growth subset when p_growth): first the check,
-- which is also each side's warm-up run, then median of 3 of each side (of 21 when a run takes under 50 ms).
CREATE PROCEDURE bench.g_run(p_mode text, p_as_of timestamptz, p_growth boolean, p_customers bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    ev bigint; hr bigint; mi bigint; ex bigint; du bigint; sms float8; hms float8; err text; reps int;
BEGIN
    FOR r IN SELECT * FROM bench.g_rules WHERE growth OR NOT p_growth ORDER BY n LOOP
        ev := NULL; hr := NULL; mi := NULL; ex := NULL; du := NULL; sms := NULL; hms := NULL; err := NULL;
        BEGIN
            CREATE TEMP TABLE g_eval AS
            SELECT o.key AS k FROM segment.ids_bigint(segment.evaluate(r.rule::segment.segment_rule, p_as_of)) i
            JOIN segment.customer_ordinals o ON o.ordinal = i;
            EXECUTE format('CREATE TEMP TABLE g_hand AS SELECT h.k FROM (%s) h(k)', r.hand);
            SELECT count(*) INTO ev FROM g_eval;
            SELECT count(*), count(*) - count(DISTINCT k) INTO hr, du FROM g_hand;
            SELECT count(*) INTO mi FROM (SELECT k FROM g_hand EXCEPT SELECT k FROM g_eval) s;
            SELECT count(*) INTO ex FROM (SELECT k FROM g_eval EXCEPT SELECT k FROM g_hand) s;
            IF ev <> (SELECT segment.cardinality(segment.evaluate(r.rule::segment.segment_rule, p_as_of))) THEN
                err := 'evaluate() has members without a key in segment.customer_ordinals';
            END IF;
            DROP TABLE g_eval, g_hand;
            -- median of 3 runs; of 21 for rules whose one run takes under 50 ms
            -- either way (a millisecond rule's median of 3 moves by 40% between runs)
            sms := bench.ms(format('SELECT segment.cardinality(segment.evaluate(%L::segment.segment_rule, %L))', r.rule, p_as_of), 1);
            hms := bench.ms(format('SELECT count(*) FROM (%s) s', r.hand), 1);
            reps := CASE WHEN greatest(sms, hms) < 50 THEN 21 ELSE 3 END;
            sms := bench.ms(format('SELECT segment.cardinality(segment.evaluate(%L::segment.segment_rule, %L))', r.rule, p_as_of), reps);
            hms := bench.ms(format('SELECT count(*) FROM (%s) s', r.hand), reps);
        EXCEPTION WHEN OTHERS THEN
            err := SQLERRM;
        END;
        INSERT INTO bench.g_results VALUES (p_mode, p_customers, r.n, r.name, ev, hr, mi, ex, du, sms, hms, err);
        RAISE NOTICE '% % rule %: % members, segment % ms, hand % ms%', p_mode, p_customers, r.n, ev,
            round(sms::numeric, 1), round(hms::numeric, 1), coalesce(' ERROR ' || err, '');
        COMMIT;
    END LOOP;
END $$;

-- A rule's result is wrong when the key sets differ, the hand query repeats
-- keys, or either side failed.
CREATE FUNCTION bench.g_ok(r bench.g_results) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT r.error IS NULL AND r.missing = 0 AND r.extra = 0 AND r.duplicates = 0 AND r.members = r.hand_rows $$;
