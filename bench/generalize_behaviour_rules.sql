-- Behavioural rules for the generalization benchmark (issue 15): run with
--   RULES=bench/generalize_behaviour_rules.sql bash bench/generalize.sh
-- over the shop of bench/generalize_data.sql (no foreign keys, bigint keys
-- beyond 2^32 through the key dictionary, monthly partitions, skew, NULLs,
-- a date and a timestamp-without-time-zone time column).  Loaded after
-- bench/generalize_rules.sql (whose g_run() and g_windows it uses), it
-- replaces the rules with sequences (THEN NOT, WITHIN, prev.column, three
-- steps), first/last/mode, active_days/weeks/months and IN TOP / BOTTOM
-- [PERCENT] [AMONG SEGMENT], each with the best plain SQL we could write
-- for the same customers.  The hand-written queries were written from the
-- semantics in doc/rules.md only, not from what the compiler emits.
--
-- As of 2025-03-31 09:15 Europe/Berlin, session TimeZone Europe/Berlin;
-- the bounds (checked by generalize.sh against segment.resolve_window):
--   PREVIOUS week [2025-03-24, 2025-03-31)   LAST 7 days  [2025-03-24, 2025-04-01)
--   LAST 30 days  [2025-03-01, 2025-04-01)   LAST 90 days [2024-12-31, 2025-04-01)
--   LAST 6 months [2024-09-30, 2025-04-01)   LAST 1 year  [2024-03-31, 2025-04-01)
--   60 days ago = 2025-01-30
-- Semantics the hand SQL follows: later is strictly later; WITHIN n hours
-- is elapsed time, n days calendar days in Berlin (timestamptz + interval
-- in a Berlin session); a timestamp column is Berlin wall-clock time, so an
-- event of it is compared as "opened_at AT TIME ZONE 'Europe/Berlin'";
-- first/last ignore rows without a time and break ties by the smaller
-- value, NULLs last; mode ignores NULLs, ties to the smaller value; active
-- periods are Berlin days, weeks from Monday, months; ranks are over the
-- registered customers (or the segment's registered members), rank()
-- with ties all in, percent of the population rounded up, NULL values
-- never selected; events of keys that are no customer do not count.
DELETE FROM bench.g_rules;
INSERT INTO bench.g_rules (n, name, rule, hand) VALUES
------------------------------------------------------------ sequences
(1, 'app cart not bought within 1 day',
 $$EXISTS app WHERE event_name = 'add_to_cart' DURING LAST 7 days THEN NOT EXISTS app WHERE event_name = 'purchase' WITHIN 1 day$$,
 $$SELECT DISTINCT a.user_key FROM shop.app_events a
   WHERE a.event_name = 'add_to_cart' AND a.occurred_at >= '2025-03-24 00:00+01' AND a.occurred_at < '2025-04-01 00:00+02'
     AND NOT EXISTS (SELECT FROM shop.app_events p WHERE p.user_key = a.user_key AND p.event_name = 'purchase'
                     AND p.occurred_at > a.occurred_at AND p.occurred_at <= a.occurred_at + interval '1 day')
     AND EXISTS (SELECT FROM shop.customers c WHERE c.id = a.user_key)$$),
(2, 'viewed, bought on the same platform within 2 hours (prev.)',
 $$EXISTS app WHERE event_name = 'view_item' DURING LAST 30 days THEN EXISTS app WHERE event_name = 'purchase' AND platform = prev.platform WITHIN 2 hours$$,
 $$SELECT DISTINCT a.user_key FROM shop.app_events a
   WHERE a.event_name = 'view_item' AND a.occurred_at >= '2025-03-01 00:00+01' AND a.occurred_at < '2025-04-01 00:00+02'
     AND EXISTS (SELECT FROM shop.app_events p WHERE p.user_key = a.user_key AND p.event_name = 'purchase' AND p.platform = a.platform
                 AND p.occurred_at > a.occurred_at AND p.occurred_at <= a.occurred_at + interval '2 hours')
     AND EXISTS (SELECT FROM shop.customers c WHERE c.id = a.user_key)$$),
(3, 'cancelled, reordered on the same channel within 14 days (prev.)',
 $$EXISTS orders WHERE status = 'cancelled' DURING LAST 90 days THEN EXISTS orders WHERE status = 'completed' AND channel = prev.channel WITHIN 14 days$$,
 $$SELECT DISTINCT o.buyer_id FROM shop.orders o
   WHERE o.status = 'cancelled' AND o.placed_at >= '2024-12-31 00:00+01' AND o.placed_at < '2025-04-01 00:00+02'
     AND EXISTS (SELECT FROM shop.orders r WHERE r.buyer_id = o.buyer_id AND r.status = 'completed' AND r.channel = o.channel
                 AND r.placed_at > o.placed_at AND r.placed_at <= o.placed_at + interval '14 days')
     AND EXISTS (SELECT FROM shop.customers c WHERE c.id = o.buyer_id)$$),
(4, 'return ticket, no completed order since, then the cart viewed (3 steps)',
 $$EXISTS tickets WHERE topic = 'return' DURING LAST 6 months THEN NOT EXISTS orders WHERE status = 'completed' THEN EXISTS views WHERE url_path = '/cart'$$,
 $$SELECT DISTINCT t.requester FROM shop.support_tickets t
   WHERE t.topic = 'return' AND t.opened_at >= '2024-09-30' AND t.opened_at < '2025-04-01'
     AND NOT EXISTS (SELECT FROM shop.orders o WHERE o.buyer_id = t.requester AND o.status = 'completed'
                     AND o.placed_at > t.opened_at AT TIME ZONE 'Europe/Berlin')
     AND EXISTS (SELECT FROM shop.page_views v WHERE v.visitor_id = t.requester AND v.url_path = '/cart'
                 AND v.viewed_at > t.opened_at AT TIME ZONE 'Europe/Berlin')
     AND EXISTS (SELECT FROM shop.customers c WHERE c.id = t.requester)$$),
(5, 'ticket last week, no order since',
 $$EXISTS tickets DURING PREVIOUS week THEN NOT EXISTS orders$$,
 $$SELECT DISTINCT t.requester FROM shop.support_tickets t
   WHERE t.opened_at >= '2025-03-24' AND t.opened_at < '2025-03-31'
     AND NOT EXISTS (SELECT FROM shop.orders o WHERE o.buyer_id = t.requester AND o.placed_at > t.opened_at AT TIME ZONE 'Europe/Berlin')
     AND EXISTS (SELECT FROM shop.customers c WHERE c.id = t.requester)$$),
(6, 'completed order, delivery ticket within 7 days',
 $$EXISTS orders WHERE status = 'completed' DURING LAST 30 days THEN EXISTS tickets WHERE topic = 'delivery' WITHIN 7 days$$,
 $$SELECT DISTINCT o.buyer_id FROM shop.orders o
   WHERE o.status = 'completed' AND o.placed_at >= '2025-03-01 00:00+01' AND o.placed_at < '2025-04-01 00:00+02'
     AND EXISTS (SELECT FROM shop.support_tickets t WHERE t.requester = o.buyer_id AND t.topic = 'delivery'
                 AND t.opened_at > (o.placed_at AT TIME ZONE 'Europe/Berlin')
                 AND t.opened_at <= (o.placed_at AT TIME ZONE 'Europe/Berlin') + interval '7 days')
     AND EXISTS (SELECT FROM shop.customers c WHERE c.id = o.buyer_id)$$),
------------------------------------------------------------ first, last, mode
(7, 'first order in a store, none in 60 days',
 $$first(orders.channel) = 'store' AND last(orders.placed_at) < 60 days ago$$,
 $$SELECT f.buyer_id FROM (SELECT DISTINCT ON (buyer_id) buyer_id, channel FROM shop.orders ORDER BY buyer_id, placed_at, channel) f
   WHERE f.channel = 'store'
     AND NOT EXISTS (SELECT FROM shop.orders o WHERE o.buyer_id = f.buyer_id AND o.placed_at >= '2025-01-30')
     AND EXISTS (SELECT FROM shop.customers c WHERE c.id = f.buyer_id)$$),
(8, 'last page view on mobile',
 $$last(views.device) = 'mobile'$$,
 $$SELECT x.visitor_id FROM (SELECT DISTINCT ON (visitor_id) visitor_id, device FROM shop.page_views
                             WHERE visitor_id IS NOT NULL ORDER BY visitor_id, viewed_at DESC, device) x
   WHERE x.device = 'mobile' AND EXISTS (SELECT FROM shop.customers c WHERE c.id = x.visitor_id)$$),
(9, 'mostly books',
 $$mode(items.category) = 'books'$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM shop.order_items GROUP BY 1 HAVING mode() WITHIN GROUP (ORDER BY category) = 'books') s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$),
(10, 'first shipped item electronics (date column, ties)',
 $$first(items.category) = 'electronics'$$,
 $$SELECT x.buyer_id FROM (SELECT DISTINCT ON (buyer_id) buyer_id, category FROM shop.order_items
                           WHERE shipped_on IS NOT NULL ORDER BY buyer_id, shipped_on, category) x
   WHERE x.category = 'electronics' AND EXISTS (SELECT FROM shop.customers c WHERE c.id = x.buyer_id)$$),
------------------------------------------------------------ active periods
(11, 'app on 10+ days of the last 30',
 $$active_days(app DURING LAST 30 days) >= 10$$,
 $$SELECT s.user_key FROM (SELECT user_key FROM shop.app_events
                           WHERE occurred_at >= '2025-03-01 00:00+01' AND occurred_at < '2025-04-01 00:00+02'
                           GROUP BY 1 HAVING count(DISTINCT (occurred_at AT TIME ZONE 'Europe/Berlin')::date) >= 10) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.user_key)$$),
(12, 'ordered in 4+ weeks of 6 months',
 $$active_weeks(orders DURING LAST 6 months) >= 4$$,
 $$SELECT s.buyer_id FROM (SELECT buyer_id FROM shop.orders
                           WHERE placed_at >= '2024-09-30 00:00+02' AND placed_at < '2025-04-01 00:00+02'
                           GROUP BY 1 HAVING count(DISTINCT date_trunc('week', placed_at AT TIME ZONE 'Europe/Berlin')) >= 4) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.buyer_id)$$),
(13, 'browsed in 6+ months of the year',
 $$active_months(views DURING LAST 1 year) >= 6$$,
 $$SELECT s.visitor_id FROM (SELECT visitor_id FROM shop.page_views
                             WHERE visitor_id IS NOT NULL AND viewed_at >= '2024-03-31 00:00+01' AND viewed_at < '2025-04-01 00:00+02'
                             GROUP BY 1 HAVING count(DISTINCT date_trunc('month', viewed_at AT TIME ZONE 'Europe/Berlin')) >= 6) s
   WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = s.visitor_id)$$),
------------------------------------------------------------ ranks
(14, 'top 5% by completed spend in a year',
 $$sum(orders.total WHERE status = 'completed' DURING LAST 1 year) IN TOP 5 PERCENT$$,
 $$WITH v AS (SELECT c.id, coalesce(s.total, 0) AS total FROM shop.customers c
              LEFT JOIN (SELECT buyer_id, sum(total) AS total FROM shop.orders
                         WHERE status = 'completed' AND placed_at >= '2024-03-31 00:00+01' AND placed_at < '2025-04-01 00:00+02'
                         GROUP BY 1) s ON s.buyer_id = c.id),
        r AS (SELECT id, rank() OVER (ORDER BY total DESC) AS rk FROM v)
   SELECT id FROM r WHERE rk <= ceil((SELECT count(*) FROM shop.customers) * 0.05)$$),
(15, 'big spenders with the fewest tickets (BOTTOM PERCENT AMONG SEGMENT)',
 $$count(tickets DURING LAST 1 year) IN BOTTOM 10 PERCENT AMONG SEGMENT 'big_spenders'$$,
 $$WITH p AS (SELECT m.customer_key AS id FROM segment.membership m
              WHERE m.segment_name = 'big_spenders' AND EXISTS (SELECT FROM shop.customers c WHERE c.id = m.customer_key)),
        v AS (SELECT p.id, count(t.requester) AS n FROM p
              LEFT JOIN shop.support_tickets t ON t.requester = p.id AND t.opened_at >= '2024-03-31' AND t.opened_at < '2025-04-01'
              GROUP BY p.id),
        r AS (SELECT id, rank() OVER (ORDER BY n) AS rk FROM v)
   SELECT id FROM r WHERE rk <= ceil((SELECT count(*) FROM p) * 0.10)$$),
(16, 'largest order in the top 1000, no order in 30 days',
 $$max(orders.total) IN TOP 1000 AND NOT EXISTS orders DURING LAST 30 days$$,
 $$WITH m AS (SELECT o.buyer_id, max(o.total) AS mx FROM shop.orders o
              WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = o.buyer_id) GROUP BY 1),
        r AS (SELECT buyer_id, rank() OVER (ORDER BY mx DESC) AS rk FROM m)
   SELECT r.buyer_id FROM r WHERE r.rk <= 1000
     AND NOT EXISTS (SELECT FROM shop.orders o WHERE o.buyer_id = r.buyer_id
                     AND o.placed_at >= '2025-03-01 00:00+01' AND o.placed_at < '2025-04-01 00:00+02')$$);
