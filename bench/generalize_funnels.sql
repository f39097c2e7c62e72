-- Ordered funnels for the generalization benchmark (issue 15):
--   FUNNELS=1 bash bench/generalize.sh      (or bash bench/funnel.sh)
-- event_funnel() against hand-written SQL over the shop of
-- bench/generalize_data.sql, as of 2025-03-31 09:15 Europe/Berlin: the
-- per-step member counts must agree.  Two hand-written forms per funnel:
--   window:  the step events in one pass, "the next event of step k
--            strictly after this one" by min() FILTER over a window
--            ordered by time descending (a frame from the partition start,
--            so each aggregate is computed incrementally), the chain
--            followed by a join on (customer, time);
--   lateral: each first-step event, then LEFT JOIN LATERAL (SELECT min(time)
--            ...) per later step.
-- Both restrict to registered customers and count, per step, those whose
-- longest chain reaches it (Doris window_funnel, 'increase' mode:
-- doc/rules.md).  event_funnel() also builds each step's audience.
CREATE TABLE bench.g_funnels (n int PRIMARY KEY, name text NOT NULL, steps text[] NOT NULL, within interval NOT NULL,
                              window_sql text NOT NULL, lateral_sql text NOT NULL);
INSERT INTO bench.g_funnels VALUES
(1, 'app: view_item (last 30 days) -> add_to_cart -> purchase, within 1 day',
 ARRAY[$$EXISTS app WHERE event_name = 'view_item' DURING LAST 30 days$$, $$EXISTS app WHERE event_name = 'add_to_cart'$$,
       $$EXISTS app WHERE event_name = 'purchase'$$], '1 day',
 $$WITH ev AS (SELECT a.user_key AS k, a.occurred_at AS t,
                      CASE a.event_name WHEN 'view_item' THEN 1 WHEN 'add_to_cart' THEN 2 ELSE 3 END AS s
               FROM shop.app_events a
               WHERE a.event_name IN ('view_item', 'add_to_cart', 'purchase')
                 AND a.occurred_at >= '2025-03-01 00:00+01' AND a.occurred_at < '2025-04-02 00:00+02'
                 AND EXISTS (SELECT FROM shop.customers c WHERE c.id = a.user_key)),
        w AS (SELECT k, t, s, min(t) FILTER (WHERE s = 2) OVER later AS n2, min(t) FILTER (WHERE s = 3) OVER later AS n3
              FROM ev WINDOW later AS (PARTITION BY k ORDER BY t DESC RANGE BETWEEN UNBOUNDED PRECEDING AND '1 microsecond' PRECEDING)),
        f AS (SELECT v.k, 1 + (c.t <= v.t + interval '1 day')::int + coalesce((c.n3 <= v.t + interval '1 day')::int, 0) AS level
              FROM w v LEFT JOIN (SELECT DISTINCT k, t, n3 FROM w WHERE s = 2) c ON c.k = v.k AND c.t = v.n2
              WHERE v.s = 1 AND v.t < '2025-04-01 00:00+02'),
        best AS (SELECT k, max(coalesce(level, 1)) AS level FROM f GROUP BY 1)
   SELECT s.step, count(b.k) FROM generate_series(1, 3) s(step) LEFT JOIN best b ON b.level >= s.step GROUP BY 1 ORDER BY 1$$,
 $$WITH f AS (SELECT v.k, 1 + (x2.t IS NOT NULL)::int + (x3.t IS NOT NULL)::int AS level
              FROM (SELECT DISTINCT user_key AS k, occurred_at AS t FROM shop.app_events
                    WHERE event_name = 'view_item' AND occurred_at >= '2025-03-01 00:00+01' AND occurred_at < '2025-04-01 00:00+02') v
              LEFT JOIN LATERAL (SELECT min(occurred_at) AS t FROM shop.app_events a WHERE a.user_key = v.k AND a.event_name = 'add_to_cart'
                                 AND a.occurred_at > v.t AND a.occurred_at <= v.t + interval '1 day') x2 ON true
              LEFT JOIN LATERAL (SELECT min(occurred_at) AS t FROM shop.app_events a WHERE a.user_key = v.k AND a.event_name = 'purchase'
                                 AND a.occurred_at > x2.t AND a.occurred_at <= v.t + interval '1 day') x3 ON true),
        best AS (SELECT f.k, max(f.level) AS level FROM f WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = f.k) GROUP BY 1)
   SELECT s.step, count(b.k) FROM generate_series(1, 3) s(step) LEFT JOIN best b ON b.level >= s.step GROUP BY 1 ORDER BY 1$$),
(2, 'views: a product page (last 7 days) -> app add_to_cart -> completed order, within 2 days',
 ARRAY[$$EXISTS views WHERE url_path LIKE '/product/%' DURING LAST 7 days$$, $$EXISTS app WHERE event_name = 'add_to_cart'$$,
       $$EXISTS orders WHERE status = 'completed'$$], '2 days',
 $$WITH ev AS (SELECT v.visitor_id AS k, v.viewed_at AS t, 1 AS s FROM shop.page_views v
               WHERE v.url_path LIKE '/product/%' AND v.viewed_at >= '2025-03-24 00:00+01' AND v.viewed_at < '2025-04-01 00:00+02'
               UNION ALL
               SELECT a.user_key, a.occurred_at, 2 FROM shop.app_events a
               WHERE a.event_name = 'add_to_cart' AND a.occurred_at >= '2025-03-24 00:00+01' AND a.occurred_at < '2025-04-03 00:00+02'
               UNION ALL
               SELECT o.buyer_id, o.placed_at, 3 FROM shop.orders o
               WHERE o.status = 'completed' AND o.placed_at >= '2025-03-24 00:00+01' AND o.placed_at < '2025-04-03 00:00+02'),
        w AS (SELECT k, t, s, min(t) FILTER (WHERE s = 2) OVER later AS n2, min(t) FILTER (WHERE s = 3) OVER later AS n3
              FROM ev WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = ev.k)
              WINDOW later AS (PARTITION BY k ORDER BY t DESC RANGE BETWEEN UNBOUNDED PRECEDING AND '1 microsecond' PRECEDING)),
        f AS (SELECT v.k, 1 + (c.t <= v.t + interval '2 days')::int + coalesce((c.n3 <= v.t + interval '2 days')::int, 0) AS level
              FROM w v LEFT JOIN (SELECT DISTINCT k, t, n3 FROM w WHERE s = 2) c ON c.k = v.k AND c.t = v.n2
              WHERE v.s = 1),
        best AS (SELECT k, max(coalesce(level, 1)) AS level FROM f GROUP BY 1)
   SELECT s.step, count(b.k) FROM generate_series(1, 3) s(step) LEFT JOIN best b ON b.level >= s.step GROUP BY 1 ORDER BY 1$$,
 $$WITH f AS (SELECT v.k, 1 + (x2.t IS NOT NULL)::int + (x3.t IS NOT NULL)::int AS level
              FROM (SELECT DISTINCT visitor_id AS k, viewed_at AS t FROM shop.page_views
                    WHERE visitor_id IS NOT NULL AND url_path LIKE '/product/%'
                      AND viewed_at >= '2025-03-24 00:00+01' AND viewed_at < '2025-04-01 00:00+02') v
              LEFT JOIN LATERAL (SELECT min(occurred_at) AS t FROM shop.app_events a WHERE a.user_key = v.k AND a.event_name = 'add_to_cart'
                                 AND a.occurred_at > v.t AND a.occurred_at <= v.t + interval '2 days') x2 ON true
              LEFT JOIN LATERAL (SELECT min(placed_at) AS t FROM shop.orders o WHERE o.buyer_id = v.k AND o.status = 'completed'
                                 AND o.placed_at > x2.t AND o.placed_at <= v.t + interval '2 days') x3 ON true),
        best AS (SELECT f.k, max(f.level) AS level FROM f WHERE EXISTS (SELECT FROM shop.customers c WHERE c.id = f.k) GROUP BY 1)
   SELECT s.step, count(b.k) FROM generate_series(1, 3) s(step) LEFT JOIN best b ON b.level >= s.step GROUP BY 1 ORDER BY 1$$);

CREATE TABLE bench.g_funnel_results (mode text, customers bigint, n int, name text, members bigint[], window_members bigint[],
                                     lateral_members bigint[], segment_ms float8, window_ms float8, lateral_ms float8, error text,
                                     PRIMARY KEY (mode, customers, n));

-- the check (each side's warm-up run), then median of 3 of each side
CREATE PROCEDURE bench.g_funnel_run(p_mode text, p_as_of timestamptz, p_customers bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    ev bigint[]; wm bigint[]; lm bigint[]; sms float8; wms float8; lms float8; err text;
    call text;
BEGIN
    FOR r IN SELECT * FROM bench.g_funnels ORDER BY n LOOP
        ev := NULL; wm := NULL; lm := NULL; sms := NULL; wms := NULL; lms := NULL; err := NULL;
        call := format('SELECT array_agg(members ORDER BY step) FROM segment.event_funnel(%L::segment.segment_rule[], %L, %L)',
                       r.steps, r.within, p_as_of);
        BEGIN
            EXECUTE call INTO ev;
            EXECUTE format('SELECT array_agg(c ORDER BY s) FROM (%s) h(s, c)', r.window_sql) INTO wm;
            EXECUTE format('SELECT array_agg(c ORDER BY s) FROM (%s) h(s, c)', r.lateral_sql) INTO lm;
            sms := bench.ms(call, 3);
            wms := bench.ms(r.window_sql, 3);
            lms := bench.ms(r.lateral_sql, 3);
        EXCEPTION WHEN OTHERS THEN
            err := SQLERRM;
        END;
        INSERT INTO bench.g_funnel_results VALUES (p_mode, p_customers, r.n, r.name, ev, wm, lm, sms, wms, lms, err);
        RAISE NOTICE '% % funnel %: % (window %, lateral %), segment % ms, window % ms, lateral % ms%', p_mode, p_customers, r.n,
            ev, wm, lm, round(sms::numeric, 1), round(wms::numeric, 1), round(lms::numeric, 1), coalesce(' ERROR ' || err, '');
        COMMIT;
    END LOOP;
END $$;
