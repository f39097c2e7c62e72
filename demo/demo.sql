-- What the extension does with the sample CRM (run by scripts/demo.sh).
\pset footer off
\set ECHO queries
SET search_path = segment, public;

-- 1. Audiences: compressed sets of customers, built straight from the data
SELECT cardinality(audience_agg(id)) AS customers FROM customers;

CREATE TEMP TABLE a AS SELECT
    (SELECT audience_agg(customer_id) FROM orders WHERE status = 'paid')       AS buyers,
    (SELECT audience_agg(customer_id) FROM orders WHERE channel = 'store')     AS store,
    (SELECT audience_agg(id) FROM customers WHERE city = '上海')                AS shanghai,
    (SELECT audience_agg(customer_id) FROM messages WHERE kind = 'inbound')    AS talked;

SELECT cardinality(buyers) AS buyers, cardinality(store) AS store_buyers,
       cardinality(shanghai) AS in_shanghai, cardinality(talked) AS started_chat
FROM a;

-- 2. Set algebra: union, intersection, exclusion, symmetric difference
SELECT cardinality(buyers & shanghai)  AS shanghai_buyers,
       cardinality(talked - buyers)    AS chatted_never_bought,
       cardinality(store | shanghai)   AS store_or_shanghai,
       cardinality(store # shanghai)   AS exactly_one,
       round(jaccard(store, shanghai)::numeric, 3) AS jaccard
FROM a;

-- 3. Membership, ranges and the folded text form
SELECT buyers @> 3 AS customer_3_bought, buyers @> 5 AS customer_5_bought,
       min(buyers), max(buyers), range(talked - buyers, 1, 60) AS first_chatters
FROM a;

-- 4. Join an audience back to the customer table
SELECT c.id, c.name, c.phone
FROM customers c, a
WHERE a.talked - a.buyers @> c.id
ORDER BY c.id LIMIT 5;

-- 5. Aggregates per group, combined with union_agg / intersect_agg
SELECT city, cardinality(audience_agg(customer_id)) AS buyers
FROM orders o JOIN customers c ON c.id = o.customer_id
GROUP BY city ORDER BY city;
SELECT cardinality(union_agg(s)) AS any_channel, cardinality(intersect_agg(s)) AS both_channels
FROM (SELECT audience_agg(customer_id) s FROM orders GROUP BY channel) x;

-- 6. Register the CRM tables (the universe of rules and the event sources)
SELECT register_customers('customers', 'id');
SELECT register_source('orders', 'orders', 'customer_id', 'paid_at');
SELECT register_source('order_lines', 'order_lines', 'customer_id', 'paid_at');
SELECT register_source('messages', 'messages', 'customer_id', 'sent_at');
SELECT register_source('page_views', 'page_views', 'customer_id', 'viewed_at');
SELECT name, rel, customer_column, time_column FROM sources ORDER BY name;

-- 7. A campaign: chatted but never bought, minus the recently contacted,
--    split 10% control / 90% coupon, priority over a second campaign
SET segment.timezone = 'Asia/Shanghai';
SET TimeZone = 'Asia/Shanghai';
SELECT record_contact(sample(talked, 100, 1), 'coupon', '2024-08-07 10:00+08') AS contacted_two_days_ago FROM a;
CREATE TEMP TABLE campaign AS
SELECT contactable(talked - buyers, 'coupon', interval '5 days', 1, '2024-08-09 11:00+08') AS target FROM a;
SELECT cardinality(target) AS target, cardinality(arms[1]) AS control, cardinality(arms[2]) AS coupon
FROM campaign, LATERAL (SELECT split(target, ARRAY[10, 90], 2024) arms) s;
SELECT cardinality(d[1]) AS win_back_campaign, cardinality(d[2]) AS store_campaign_after_dedupe
FROM campaign, a, LATERAL (SELECT dedupe(ARRAY[target, store]) d) x;
SELECT record_contact((split(target, ARRAY[10, 90], 2024))[2], 'coupon', '2024-08-09 11:00+08') AS sent FROM campaign;

-- 8. Measure the funnel: sent -> read a message -> viewed a product
SELECT f.* FROM campaign,
    LATERAL funnel((split(target, ARRAY[10, 90], 2024))[2],
                   (SELECT audience_agg(customer_id) FROM messages WHERE kind = 'read'),
                   (SELECT audience_agg(customer_id) FROM page_views)) f;

-- 9. Rules: typical segments as typed, validated rules (canonical text)
SELECT 'TAG ''退订标签'' NOT IN (''已退订'') AND customer.age > 30'::segment_rule AS scenario_1;
SELECT 'COUNT(orders WHERE status = ''paid'' DURING LAST 180 DAYS) >= 3'::segment_rule AS loyal;
SELECT 'EXISTS order_lines WHERE product_type = ''consumable-1m'' DURING PAST 25 TO 35 days'::segment_rule AS replenishment;

-- ...and as the JSON a rule-builder UI sends and receives
SELECT jsonb_pretty('COUNT(orders WHERE status = ''paid'' DURING LAST 180 DAYS) >= 3 AND TAG ''退订标签'' NOT IN (''已退订'')'::segment_rule::jsonb) AS as_json;
SELECT '{"group": "or", "conditions": [{"type": "exists", "source": "page_views", "window": {"type": "last", "count": 7, "unit": "day"}},
         {"type": "attribute", "field": "city", "operator": "in", "values": ["上海", "北京"]}]}'::jsonb::segment_rule AS from_json;

-- 10. ...and the time windows they use, resolved as of an example instant
SELECT w AS window, resolve_window(w, '2024-08-09 11:00+08') AS covers
FROM (VALUES ('LAST 3 days'), ('PAST 0 TO 1 days'), ('PAST 25 TO 35 days'), ('PREVIOUS week'),
             ('THIS month'), ('LAST 3 hours')) v(w);
