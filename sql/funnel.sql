-- event_funnel(): ordered funnels over EXISTS steps (Doris window_funnel,
-- 'increase' mode) against an independent exhaustive reference written
-- here in plain SQL: every chain of events e1 < e2 < ... (strictly later,
-- all within the window from e1) by a recursive query, the longest per
-- customer.  Ties of equal timestamps, the window's inclusive end, several
-- first-step events, sources of different time types, DURING windows,
-- unregistered keys, zero events, Unicode, and bad input.
SET search_path = segment, public;
SET TimeZone = 'Asia/Shanghai';
SET DateStyle = 'ISO, YMD';
SET segment.timezone = 'Europe/Paris';
\set SHOW_CONTEXT never
\set as_of '''2026-03-31 12:00+02'''

CREATE TABLE fn_customers (id int PRIMARY KEY, name text);
CREATE TABLE fn_events (customer_id int, kind text, product text, at timestamptz);
CREATE TABLE fn_orders (customer_id int, status text, paid_at timestamptz);
CREATE TABLE fn_visits (customer_id int, shop text, day date);
INSERT INTO fn_customers SELECT g, 'customer ' || g FROM generate_series(1, 60) g;
INSERT INTO fn_customers VALUES (61, '顾客');
INSERT INTO fn_events VALUES
-- 1: view, cart, pay within the hour: 3 steps
(1, 'view', 'p1', '2026-03-30 10:00+02'), (1, 'cart', 'p1', '2026-03-30 10:10+02'), (1, 'pay', 'p1', '2026-03-30 10:20+02'),
-- 2: view, pay without a cart: 1 step (the pay does not count without the cart)
(2, 'view', 'p1', '2026-03-30 10:00+02'), (2, 'pay', 'p1', '2026-03-30 10:05+02'),
-- 3: the cart at the same instant as the view does not count; the pay after it neither
(3, 'view', 'p2', '2026-03-30 10:00+02'), (3, 'cart', 'p2', '2026-03-30 10:00+02'), (3, 'pay', 'p2', '2026-03-30 10:30+02'),
-- 4: the cart two hours after the view, outside the window: 1 step
(4, 'view', 'p1', '2026-03-30 10:00+02'), (4, 'cart', 'p1', '2026-03-30 12:00+02'), (4, 'pay', 'p1', '2026-03-30 12:01+02'),
-- 5: an early view without follow-up, a later view with the whole chain: 3
(5, 'view', 'p1', '2026-03-20 09:00+01'), (5, 'view', 'p1', '2026-03-30 18:00+02'),
(5, 'cart', 'p1', '2026-03-30 18:30+02'), (5, 'pay', 'p1', '2026-03-30 18:45+02'),
-- 6: wrong order (cart, view, pay): 1
(6, 'cart', 'p1', '2026-03-30 09:50+02'), (6, 'view', 'p1', '2026-03-30 10:00+02'), (6, 'pay', 'p1', '2026-03-30 10:10+02'),
-- 7: across the DST change in Paris (2026-03-29 02:00): the pay 23 hours
-- after the view is one calendar day later
(7, 'view', 'p1', '2026-03-28 12:00+01'), (7, 'cart', 'p1', '2026-03-28 13:00+01'), (7, 'pay', 'p1', '2026-03-29 12:00+02'),
-- 9: the pay exactly one hour after the view: the window's end is inclusive, 3
(9, 'view', 'p3', '2026-03-30 10:00+02'), (9, 'cart', 'p3', '2026-03-30 10:30+02'), (9, 'pay', 'p3', '2026-03-30 11:00+02'),
-- 10: the earliest cart leads on (carts at 10 and 20 minutes, the pay at 15): 3
(10, 'view', 'p1', '2026-03-30 10:00+02'), (10, 'cart', 'p1', '2026-03-30 10:10+02'),
(10, 'cart', 'p1', '2026-03-30 10:20+02'), (10, 'pay', 'p1', '2026-03-30 10:15+02'),
-- 11: the pay one microsecond past the window: 2
(11, 'view', 'p1', '2026-03-30 10:00+02'), (11, 'cart', 'p1', '2026-03-30 10:59+02'), (11, 'pay', 'p1', '2026-03-30 11:00:00.000001+02'),
-- 12: a view without a time and one without a customer take no part
(12, 'view', 'p1', NULL), (NULL, 'view', 'p1', '2026-03-30 10:00+02'),
-- 61: Unicode product, the whole chain
(61, 'view', '茶叶', '2026-03-30 10:00+02'), (61, 'cart', '茶叶', '2026-03-30 10:01+02'), (61, 'pay', '茶叶', '2026-03-30 10:02+02'),
-- 999 is not a customer: never counted
(999, 'view', 'p1', '2026-03-30 10:00+02'), (999, 'cart', 'p1', '2026-03-30 10:01+02');
-- 13 .. 60: pseudo-random events over two days, ties included (minutes only)
INSERT INTO fn_events
SELECT g, (ARRAY['view', 'cart', 'pay'])[1 + (g * 7 + n * 3) % 3], 'p' || (g + n) % 4,
       timestamptz '2026-03-29 08:00+02' + ((g * 13 + n * 29) % 50) * interval '2 minutes' + (n % 2) * interval '1 day'
FROM generate_series(13, 60) g, generate_series(1, 1 + g % 6) n;
INSERT INTO fn_orders
SELECT customer_id, CASE WHEN customer_id % 3 = 0 THEN 'refunded' ELSE 'paid' END, at + interval '5 minutes'
FROM fn_events WHERE kind = 'pay' AND customer_id IS NOT NULL;
INSERT INTO fn_visits
SELECT g, CASE WHEN g % 2 = 0 THEN 'Café' ELSE 'Markt' END, date '2026-03-20' + (g * n) % 9
FROM generate_series(1, 60) g, generate_series(1, 3) n WHERE g % 5 <> 0;

SELECT register_customers('fn_customers', 'id');
SELECT register_source('fn_events', 'fn_events', 'customer_id', 'at');
SELECT register_source('fn_orders', 'fn_orders', 'customer_id', 'paid_at');
SELECT register_source('fn_visits', 'fn_visits', 'customer_id', 'day');

-- The reference: the step events (customer, step, time) written by hand per
-- funnel into fn_ev, then every chain by recursion.
CREATE TABLE fn_ev (customer_id int, step int, t timestamptz);
CREATE FUNCTION fn_ref(n int, within interval)
RETURNS TABLE (step int, members bigint, rate float8, reached audience) LANGUAGE sql
-- days of within in the rules' zone, hours elapsed: timestamptz + interval in Paris
SET TimeZone = 'Europe/Paris' AS $$
    WITH RECURSIVE chain (customer_id, level, t1, t) AS (
        SELECT customer_id, 1, t, t FROM fn_ev
        WHERE step = 1 AND t IS NOT NULL AND customer_id IN (SELECT id FROM fn_customers)
        UNION
        SELECT c.customer_id, c.level + 1, c.t1, e.t FROM chain c
        JOIN fn_ev e ON e.customer_id = c.customer_id AND e.step = c.level + 1
                    AND e.t > c.t AND e.t <= c.t1 + within),
    best AS (SELECT customer_id, max(level) AS level FROM chain GROUP BY 1),
    r AS (SELECT s AS step, (SELECT coalesce(audience_agg(customer_id), '{}') FROM best WHERE level >= s) AS a
          FROM generate_series(1, n) s)
    SELECT step, cardinality(a), cardinality(a)::float8 / nullif(first_value(cardinality(a)) OVER (ORDER BY step), 0), a
    FROM r ORDER BY step
$$;

-- view -> cart -> pay within 1 hour
TRUNCATE fn_ev;
INSERT INTO fn_ev SELECT customer_id, CASE kind WHEN 'view' THEN 1 WHEN 'cart' THEN 2 ELSE 3 END, at FROM fn_events;
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events WHERE kind = ''view''', 'EXISTS fn_events WHERE kind = ''cart''',
                                 'EXISTS fn_events WHERE kind = ''pay''']::segment_rule[], '1 hour', :as_of);
SELECT * FROM fn_ref(3, '1 hour');
SELECT (SELECT array_agg(f ORDER BY step) FROM event_funnel(ARRAY['EXISTS fn_events WHERE kind = ''view''',
            'EXISTS fn_events WHERE kind = ''cart''', 'EXISTS fn_events WHERE kind = ''pay''']::segment_rule[], '1 hour', :as_of) f)::text
     = (SELECT array_agg(f ORDER BY step) FROM fn_ref(3, '1 hour') f)::text AS same;
-- the same steps at several windows (22 and 23 hours: across the DST change, customer 7)
SELECT w, (SELECT array_agg(f ORDER BY step) FROM event_funnel(ARRAY['EXISTS fn_events WHERE kind = ''view''',
            'EXISTS fn_events WHERE kind = ''cart''', 'EXISTS fn_events WHERE kind = ''pay''']::segment_rule[], w, :as_of) f)::text
     = (SELECT array_agg(f ORDER BY step) FROM fn_ref(3, w) f)::text AS same,
       (SELECT array_agg(members ORDER BY step) FROM fn_ref(3, w)) AS members
FROM unnest(ARRAY['1 minute', '10 minutes', '22 hours', '23 hours', '1 day', '2 days 3 hours']::interval[]) w;

-- one step: the customers with a matching event, rate 1
SELECT step, members, rate, reached FROM event_funnel(ARRAY['EXISTS fn_events WHERE product = ''茶叶''']::segment_rule[], '1 hour', :as_of);
-- a step repeated: two views strictly one after the other within a day
TRUNCATE fn_ev;
INSERT INTO fn_ev SELECT customer_id, s, at FROM fn_events, generate_series(1, 2) s WHERE kind = 'view';
SELECT (SELECT array_agg(f ORDER BY step) FROM event_funnel(ARRAY['EXISTS fn_events WHERE kind = ''view''',
            'EXISTS fn_events WHERE kind = ''view''']::segment_rule[], '30 days', :as_of) f)::text
     = (SELECT array_agg(f ORDER BY step) FROM fn_ref(2, '30 days') f)::text AS same,
       (SELECT array_agg(members ORDER BY step) FROM fn_ref(2, '30 days')) AS members;

-- three sources of three time types: a visit (date: the day from local
-- midnight), then a view, then a paid order, within 12 days; and the
-- first step DURING a window
TRUNCATE fn_ev;
INSERT INTO fn_ev SELECT customer_id, 1, day::timestamp AT TIME ZONE 'Europe/Paris' FROM fn_visits WHERE shop = 'Café';
INSERT INTO fn_ev SELECT customer_id, 2, at FROM fn_events WHERE kind = 'view';
INSERT INTO fn_ev SELECT customer_id, 3, paid_at FROM fn_orders WHERE status = 'paid';
SELECT step, members, rate FROM event_funnel(ARRAY['EXISTS fn_visits WHERE shop = ''Café''', 'EXISTS fn_events WHERE kind = ''view''',
                                                   'EXISTS fn_orders WHERE status = ''paid''']::segment_rule[], '12 days', :as_of);
SELECT (SELECT array_agg(f ORDER BY step) FROM event_funnel(ARRAY['EXISTS fn_visits WHERE shop = ''Café''',
            'EXISTS fn_events WHERE kind = ''view''', 'EXISTS fn_orders WHERE status = ''paid''']::segment_rule[], '12 days', :as_of) f)::text
     = (SELECT array_agg(f ORDER BY step) FROM fn_ref(3, '12 days') f)::text AS same;
DELETE FROM fn_ev WHERE step = 1 AND t < timestamptz '2026-03-24 00:00+01';
SELECT (SELECT array_agg(f ORDER BY step) FROM event_funnel(ARRAY['EXISTS fn_visits WHERE shop = ''Café'' DURING LAST 7 days',
            'EXISTS fn_events WHERE kind = ''view''', 'EXISTS fn_orders WHERE status = ''paid''']::segment_rule[], '12 days', :as_of) f)::text
     = (SELECT array_agg(f ORDER BY step) FROM fn_ref(3, '12 days') f)::text AS same,
       (SELECT array_agg(members ORDER BY step) FROM fn_ref(3, '12 days')) AS members;
-- a later step's window restricts that step only
TRUNCATE fn_ev;
INSERT INTO fn_ev SELECT customer_id, CASE kind WHEN 'view' THEN 1 WHEN 'cart' THEN 2 ELSE 3 END, at FROM fn_events
WHERE kind <> 'cart' OR at >= timestamptz '2026-03-30 00:00+02';
SELECT (SELECT array_agg(f ORDER BY step) FROM event_funnel(ARRAY['EXISTS fn_events WHERE kind = ''view''',
            'EXISTS fn_events WHERE kind = ''cart'' DURING YESTERDAY', 'EXISTS fn_events WHERE kind = ''pay''']::segment_rule[], '1 day', :as_of) f)::text
     = (SELECT array_agg(f ORDER BY step) FROM fn_ref(3, '1 day') f)::text AS same;

-- zero events: nobody at any step, the rate NULL
SELECT step, members, rate, reached FROM event_funnel(ARRAY['EXISTS fn_events WHERE kind = ''refund''',
    'EXISTS fn_events']::segment_rule[], '1 day', :as_of);
-- nobody after the first step: members 0, rate 0
SELECT step, members, rate FROM event_funnel(ARRAY['EXISTS fn_events WHERE kind = ''view''',
    'EXISTS fn_events WHERE kind = ''nothing''']::segment_rule[], '1 day', :as_of);
-- the reached audiences nest
SELECT bool_and(a.reached @> b.reached) AS nested
FROM event_funnel(ARRAY['EXISTS fn_events WHERE kind = ''view''', 'EXISTS fn_events WHERE kind = ''cart''',
                        'EXISTS fn_events WHERE kind = ''pay''']::segment_rule[], '1 day', :as_of) a
JOIN event_funnel(ARRAY['EXISTS fn_events WHERE kind = ''view''', 'EXISTS fn_events WHERE kind = ''cart''',
                        'EXISTS fn_events WHERE kind = ''pay''']::segment_rule[], '1 day', :as_of) b ON b.step = a.step + 1;

-- bad input
SELECT * FROM event_funnel(NULL, '1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY[]::segment_rule[], '1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events', NULL]::segment_rule[], '1 hour', :as_of);
SELECT * FROM event_funnel(array_fill('EXISTS fn_events'::segment_rule, ARRAY[17]), '1 hour', :as_of);
SELECT count(*) FROM event_funnel(array_fill('EXISTS fn_events'::segment_rule, ARRAY[16]), '1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events', 'NOT EXISTS fn_orders']::segment_rule[], '1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY['count(fn_events) >= 2']::segment_rule[], '1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events THEN EXISTS fn_orders']::segment_rule[], '1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events AND EXISTS fn_orders']::segment_rule[], '1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events']::segment_rule[], NULL, :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events']::segment_rule[], '0 seconds', :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events']::segment_rule[], '-1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events']::segment_rule[], '1 day -1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events']::segment_rule[], '1 hour', NULL);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events', 'EXISTS nowhere']::segment_rule[], '1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY['EXISTS fn_events WHERE colour = ''red''']::segment_rule[], '1 hour', :as_of);
SELECT * FROM event_funnel(ARRAY[['EXISTS fn_events'], ['EXISTS fn_orders']]::segment_rule[], '1 hour', :as_of);

-- bigint keys beyond 2^32 through the key dictionary, events of a key that
-- is no customer: reached holds ordinals, mapped back to the keys
CREATE TABLE fk_customers (id bigint PRIMARY KEY);
INSERT INTO fk_customers SELECT 7000000000 + g * 4099 FROM generate_series(1, 20) g;
CREATE TABLE fk_events (cid bigint, kind text, at timestamptz);
INSERT INTO fk_events
SELECT 7000000000 + g * 4099, (ARRAY['view', 'cart', 'pay'])[1 + (g + n) % 3],
       timestamptz '2026-03-30 10:00+02' + ((g * n) % 7) * interval '10 minutes'
FROM generate_series(1, 20) g, generate_series(1, 1 + g % 4) n;
INSERT INTO fk_events VALUES (42, 'view', '2026-03-30 10:00+02'), (42, 'cart', '2026-03-30 10:05+02');
SELECT unregister_source(s) FROM unnest(ARRAY['fn_events', 'fn_orders', 'fn_visits']) s;
SELECT register_customers('fk_customers', 'id', dictionary => true);
SELECT register_source('fk_events', 'fk_events', 'cid', 'at');
TRUNCATE fn_ev;
ALTER TABLE fn_ev ALTER customer_id TYPE bigint;
INSERT INTO fn_ev SELECT cid, CASE kind WHEN 'view' THEN 1 WHEN 'cart' THEN 2 ELSE 3 END, at FROM fk_events;
CREATE FUNCTION fk_ref(n int, within interval) RETURNS TABLE (step int, keys bigint[]) LANGUAGE sql
SET TimeZone = 'Europe/Paris' AS $$
    WITH RECURSIVE chain (customer_id, level, t1, t) AS (
        SELECT customer_id, 1, t, t FROM fn_ev WHERE step = 1 AND customer_id IN (SELECT id FROM fk_customers)
        UNION
        SELECT c.customer_id, c.level + 1, c.t1, e.t FROM chain c
        JOIN fn_ev e ON e.customer_id = c.customer_id AND e.step = c.level + 1 AND e.t > c.t AND e.t <= c.t1 + within),
    best AS (SELECT customer_id, max(level) AS level FROM chain GROUP BY 1)
    SELECT s, (SELECT array_agg(customer_id ORDER BY customer_id) FROM best WHERE level >= s) FROM generate_series(1, n) s
$$;
CREATE FUNCTION fk_got(n int, within interval) RETURNS TABLE (step int, keys bigint[]) LANGUAGE sql AS $$
    SELECT f.step, (SELECT array_agg(o.key::bigint ORDER BY o.key::bigint) FROM ids_bigint(f.reached) i
                    JOIN customer_ordinals o ON o.ordinal = i)
    FROM event_funnel((ARRAY['EXISTS fk_events WHERE kind = ''view''', 'EXISTS fk_events WHERE kind = ''cart''',
                             'EXISTS fk_events WHERE kind = ''pay''']::segment_rule[])[1:n], within, '2026-03-31 12:00+02') f
$$;
SELECT (SELECT array_agg(g ORDER BY step)::text FROM fk_got(3, '30 minutes') g)
     = (SELECT array_agg(r ORDER BY step)::text FROM fk_ref(3, '30 minutes') r) AS same,
       (SELECT array_agg(coalesce(cardinality(keys), 0) ORDER BY step) FROM fk_ref(3, '30 minutes')) AS members;
-- the dictionary joined instead of cached
SET segment.dictionary_cache_size = 0;
SELECT (SELECT array_agg(g ORDER BY step)::text FROM fk_got(3, '30 minutes') g)
     = (SELECT array_agg(r ORDER BY step)::text FROM fk_ref(3, '30 minutes') r) AS same;
RESET segment.dictionary_cache_size;
SELECT unregister_source('fk_events'), unregister_customers();
DROP TABLE fn_customers, fn_events, fn_orders, fn_visits, fn_ev, fk_customers, fk_events;
DROP FUNCTION fn_ref, fk_ref, fk_got;
RESET segment.timezone;
