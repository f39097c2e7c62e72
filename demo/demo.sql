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
