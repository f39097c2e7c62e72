-- Saved segments on the sample CRM (run by scripts/demo.sh after demo.sql).
SET search_path = segment, public;
SET client_min_messages = warning;
SET TimeZone = 'Asia/Shanghai';
SET segment.timezone = 'Asia/Shanghai';
\pset footer off

-- 11. Saved segments refresh as of now; the sample is anchored at
--     2024-08-09 11:00+08, so move its clock to today first.
DO $$
DECLARE
    shift interval := date_trunc('day', now()) - date_trunc('day', timestamptz '2024-08-09 11:00+08');
BEGIN
    UPDATE customers SET registered_at = registered_at + shift, followed_at = followed_at + shift;
    UPDATE orders SET paid_at = paid_at + shift;
    UPDATE order_lines SET paid_at = paid_at + shift;
    UPDATE messages SET sent_at = sent_at + shift;
    UPDATE page_views SET viewed_at = viewed_at + shift;
END $$;
SELECT create_tag_group('退订标签') > 0 AS tag_group, add_tag('退订标签', '已退订') > 0 AS tag;
SELECT count(*) FILTER (WHERE tag_customer('退订标签', '已退订', id)) AS unsubscribed FROM customers WHERE id % 9 = 0;

-- Eighteen typical segments, saved (validated when saved)
SELECT count(create_segment(name, rule::segment_rule, refresh => false)) AS segments_created
FROM (VALUES
 ('01 unsubscribed-free over 30', $$TAG '退订标签' NOT IN ('已退订') AND customer.age > 30$$),
 ('02 win-back', $$max(orders.paid_at) < 90 days ago AND count(orders WHERE status = 'paid') >= 1$$),
 ('03 bought last year, not this year', $$EXISTS orders DURING PREVIOUS year AND NOT EXISTS orders DURING THIS year$$),
 ('04 cross-sell', $$EXISTS order_lines WHERE sku = 'SKU-1' AND NOT EXISTS order_lines WHERE sku = 'SKU-2'$$),
 ('05 loyal', $$count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3$$),
 ('06 lapsed', $$EXISTS orders AND NOT EXISTS orders DURING LAST 1 year$$),
 ('07 prospects', $$customer.registered_at DURING LAST 15 days AND count(orders) = 0$$),
 ('08 to nurture', $$min(orders.paid_at) DURING LAST 60 days AND count(orders WHERE status = 'paid') > 1$$),
 ('09 high-value lapsed', $$NOT EXISTS orders DURING LAST 90 days AND count(orders WHERE status = 'paid') > 4 AND avg(orders.amount WHERE status = 'paid') > 200$$),
 ('10 delivered not read', $$EXISTS messages WHERE campaign = 'A' AND kind = 'delivered' DURING YESTERDAY AND NOT EXISTS messages WHERE campaign = 'A' AND kind = 'read' DURING YESTERDAY$$),
 ('11 coupon clicked, no order', $$EXISTS messages WHERE kind = 'clicked' AND button = 'coupon' DURING PREVIOUS week THEN NOT EXISTS orders WHERE status = 'paid'$$),
 ('12 chatted, never ordered', $$EXISTS messages WHERE kind = 'inbound' AND count(orders) = 0$$),
 ('13 mid value tier', $$sum(orders.amount WHERE status = 'paid') >= 300 AND sum(orders.amount WHERE status = 'paid') < 2000$$),
 ('14 1-3 orders', $$count(orders WHERE status = 'paid') BETWEEN 1 AND 3$$),
 ('15 watched, never bought', $$EXISTS page_views WHERE seconds > 15 DURING LAST 15 days AND NOT EXISTS orders WHERE status = 'paid'$$),
 ('16 store to online', $$sum(orders.amount WHERE channel = 'store' AND status = 'paid') > 1000 AND NOT EXISTS orders DURING LAST 30 days$$),
 ('17 new followers, no order', $$customer.followed_at DURING LAST 1 month AND NOT EXISTS orders$$),
 ('18 replenishment due', $$EXISTS order_lines WHERE product_type = 'consumable-1m' DURING PAST 25 TO 35 days$$),
 ('19 loyal but silent lately', $$IN SEGMENT '05 loyal' AND NOT EXISTS orders DURING LAST 14 days$$)
) v(name, rule);

-- refresh_all: dependencies first, shared sub-conditions computed once
SELECT name, members, round(milliseconds::numeric, 1) AS ms FROM refresh_all() ORDER BY name;
SELECT name, status, member_count FROM segments ORDER BY name LIMIT 3;

-- 12. BI: segment.membership joins the customer table by its own key
SELECT m.segment_name, c.id, c.name, c.city
FROM membership m JOIN customers c ON c.id = m.customer_key
WHERE m.segment_name = '18 replenishment due' ORDER BY c.id LIMIT 5;

-- ...and exports phone numbers with COPY
COPY (SELECT c.phone FROM membership m JOIN customers c ON c.id = m.customer_key
      WHERE m.segment_name = '02 win-back' AND c.phone IS NOT NULL ORDER BY c.id LIMIT 3) TO STDOUT;

-- 13. New orders arrive; a refresh records who entered and left
INSERT INTO orders (customer_id, status, amount, channel, paid_at)
SELECT c.id, 'paid', 120, 'online', now() - n * interval '3 days'
FROM customers c, generate_series(1, 3) n WHERE c.id IN (7, 14, 21);
SELECT refresh('05 loyal') AS loyal_now;
SELECT * FROM changes('05 loyal') WHERE change = 'entered' AND customer_ordinal IN (7, 14, 21);
SELECT h.member_count, h.entered, h.exited FROM history h JOIN segments s ON s.id = h.segment_id
WHERE s.name = '05 loyal' ORDER BY h.id;
SELECT is_member('05 loyal', 7) AS customer_7_is_loyal;

-- 14. Nightly refresh with pg_cron
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT schedule_refresh('05 loyal', '0 3 * * *') > 0 AS scheduled;
SELECT jobname, schedule, command FROM cron.job;
SELECT unschedule_refresh('05 loyal');

-- 15. Auto-tagging: value tiers, kept current by triggers
SELECT create_tag_group('价值等级', exclusive => true, allow_manual => false, allow_auto => true) > 0 AS tier_group;
SELECT add_tag('价值等级', '低', rule => 'sum(orders.amount WHERE status = ''paid'') < 300') > 0 AS low,
       add_tag('价值等级', '中', rule => 'sum(orders.amount WHERE status = ''paid'') >= 300 AND sum(orders.amount WHERE status = ''paid'') < 2000') > 0 AS mid,
       add_tag('价值等级', '高', rule => 'sum(orders.amount WHERE status = ''paid'') >= 2000') > 0 AS high;
SELECT value AS tier, count(*) AS customers FROM customer_tags WHERE group_name = '价值等级' GROUP BY 1 ORDER BY 2 DESC;
-- customer 1 never ordered: low; each order below moves them, in the same transaction
SELECT value AS tier_of_customer_1 FROM customer_tags WHERE customer_key = 1 AND group_name = '价值等级';
INSERT INTO orders (customer_id, status, amount, channel, paid_at) VALUES (1, 'paid', 450, 'online', now());
SELECT value AS after_450 FROM customer_tags WHERE customer_key = 1 AND group_name = '价值等级';
INSERT INTO orders (customer_id, status, amount, channel, paid_at) VALUES (1, 'paid', 1800, 'store', now());
SELECT value AS after_1800_more FROM customer_tags WHERE customer_key = 1 AND group_name = '价值等级';
UPDATE orders SET status = 'refunded' WHERE customer_id = 1 AND amount = 1800;
SELECT value AS after_refund FROM customer_tags WHERE customer_key = 1 AND group_name = '价值等级';
SELECT action, value, source, actor FROM tag_log WHERE ordinal = 1 AND group_name = '价值等级' ORDER BY id;
-- segments can use the tiers
SELECT estimate('TAG ''价值等级'' IN (''高'') AND customer.city = ''上海''') AS high_value_in_shanghai;

-- 15b. Behavioural conditions: the order of events, first and last
-- values, active days, ranks (doc/rules.md)
SELECT r.label, estimate(r.rule::segment_rule) AS customers
FROM (VALUES
 ('coupon clicked, no paid order since the click', $$EXISTS messages WHERE kind = 'clicked' AND button = 'coupon' DURING LAST 30 days THEN NOT EXISTS orders WHERE status = 'paid'$$),
 ('viewed a product, bought nothing within 2 days', $$EXISTS page_views WHERE url LIKE '/product/%' DURING LAST 7 days THEN NOT EXISTS orders WITHIN 2 days$$),
 ('first order in a store, last order over 30 days ago', $$first(orders.channel) = 'store' AND last(orders.paid_at) < 30 days ago$$),
 ('ordered on 3 or more days of the last year', $$active_days(orders DURING LAST 365 days) >= 3$$),
 ('top 10% by paid amount this year, no order this week', $$sum(orders.amount WHERE status = 'paid' DURING LAST 365 days) IN TOP 10 PERCENT AND NOT EXISTS orders DURING LAST 7 days$$)
) r(label, rule);
-- an ordered funnel (event_funnel, doc/rules.md): clicked a message in the
-- last 30 days, then viewed a product, then paid, all within 7 days of the
-- click; rate is against the first step.  At the demo's instant:
--  step | members | rate
--     1 |    1239 | 1.000
--     2 |     240 | 0.194
--     3 |       3 | 0.002
SELECT step, members, round(rate::numeric, 3) AS rate
FROM event_funnel(ARRAY['EXISTS messages WHERE kind = ''clicked'' DURING LAST 30 days',
                        'EXISTS page_views WHERE url LIKE ''/product/%''',
                        'EXISTS orders WHERE status = ''paid''']::segment_rule[], '7 days', '2024-08-09 11:00+08');
-- how the coupon rule runs: the first step's scan, the second as an anti-join
SELECT line FROM regexp_split_to_table(compile($$EXISTS messages WHERE kind = 'clicked' AND button = 'coupon' DURING LAST 30 days THEN NOT EXISTS orders WHERE status = 'paid'$$), E'\n') line
WHERE line LIKE '--%';

-- 16. The change feed: an ad platform follows '05 loyal'.  Its consumer
-- replays the log from the beginning (the first refresh's members enter),
-- applies each page, then acknowledges it; NOTIFY segment_refresh tells
-- it when to run.
CREATE TEMP TABLE ads_audience (customer_key text PRIMARY KEY);
CREATE FUNCTION pg_temp.sync_ads() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n_in int := 0;
    n_out int := 0;
    last bigint;
BEGIN
    FOR r IN SELECT * FROM segment.read_changes('ads', 100000) LOOP
        IF r.change = 'entered' THEN
            INSERT INTO ads_audience VALUES (r.customer_key) ON CONFLICT DO NOTHING;
            n_in := n_in + 1;
        ELSE
            DELETE FROM ads_audience WHERE customer_key = r.customer_key;
            n_out := n_out + 1;
        END IF;
        last := r.position;
    END LOOP;
    IF last IS NOT NULL THEN
        PERFORM segment.ack_changes('ads', last);
    END IF;
    RETURN format('+%s -%s: %s customers in the ad audience', n_in, n_out, (SELECT count(*) FROM ads_audience));
END $$;
SELECT create_consumer('ads', '05 loyal') AS start_position;
SELECT pg_temp.sync_ads() AS sync_1;               -- the two refreshes so far
SELECT pg_temp.sync_ads() AS sync_again;           -- nothing new: nothing delivered twice
UPDATE orders SET status = 'refunded' WHERE customer_id IN (7, 14) AND paid_at > now() - interval '10 days';
SELECT refresh('05 loyal') AS loyal_after_refunds;
SELECT pg_temp.sync_ads() AS sync_2;
SELECT (SELECT count(*) FROM ads_audience) = (SELECT member_count FROM segments WHERE name = '05 loyal') AS in_step,
       NOT EXISTS (SELECT customer_key::text FROM membership WHERE segment_name = '05 loyal'
                   EXCEPT SELECT customer_key FROM ads_audience) AS same_customers;
-- positions in the log, and a past membership rebuilt from it
SELECT position, reason, cardinality(entered) AS entered, cardinality(exited) AS exited
FROM change_log WHERE segment_name = '05 loyal' ORDER BY position;
SELECT cardinality(members_at('05 loyal', (SELECT min(logged_at) FROM change_log WHERE segment_name = '05 loyal')))
       AS members_after_first_refresh;
SELECT drop_consumer('ads');

-- 17. Snapshots: who got the 双11 campaign.  The campaign went to
-- '05 loyal' as it is now; the snapshot keeps those customers whatever
-- the segment does later, and rules read it with IN SNAPSHOT.
SELECT snapshot_segment('05 loyal', '双11 campaign') AS campaign_recipients;
UPDATE orders SET status = 'refunded' WHERE customer_id IN (21, 28) AND paid_at > now() - interval '10 days';
SELECT refresh('05 loyal') AS loyal_now;
SELECT label, segment_name, member_count AS frozen, (SELECT member_count FROM segments WHERE name = '05 loyal') AS segment_now
FROM snapshots;
INSERT INTO orders (customer_id, status, amount, channel, paid_at)
SELECT o, 'paid', 99, 'online', now() FROM ids_bigint((SELECT members FROM snapshots WHERE label = '双11 campaign')) o LIMIT 5;
SELECT estimate($$IN SNAPSHOT '双11 campaign' AND EXISTS orders WHERE status = 'paid' DURING TODAY$$) AS recipients_who_ordered_today,
       estimate($$IN SNAPSHOT '双11 campaign' AND NOT IN SEGMENT '05 loyal'$$) AS recipients_no_longer_loyal;

-- 18. A CRM mirrors the value tiers: a tag consumer of '价值等级' gets
-- every tier change, in commit order, as tagged/untagged
SELECT create_tag_consumer('crm-tiers', '价值等级', start => 'now') > 0 AS created;
INSERT INTO orders (customer_id, status, amount, channel, paid_at) VALUES (2, 'paid', 2500, 'store', now());
SELECT segment_name AS tag, customer_key, change FROM read_changes('crm-tiers') ORDER BY position;
SELECT ack_changes('crm-tiers', max(position)) > 0 AS acknowledged FROM read_changes('crm-tiers');
SELECT count(*) AS left_to_read FROM read_changes('crm-tiers');
SELECT drop_consumer('crm-tiers');
-- while refresh_all() runs, another session sees its progress here
SELECT count(*) AS refreshes_running_now FROM refresh_progress;
-- 19. Why is a customer in a segment (or not), and which condition
-- shrinks it (doc/explain.md): each node of the rule with the customer's
-- value, from the same compiled predicates as the refresh; then the
-- customers each condition keeps alone and as they combine
SELECT * FROM explain_membership('09 high-value lapsed', 6);    -- a member
SELECT * FROM explain_membership('09 high-value lapsed', 24);   -- why not: the average
SELECT * FROM condition_counts((SELECT rule FROM segments WHERE name = '09 high-value lapsed'));
