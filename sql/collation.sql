-- Text customer keys and count_distinct values sort under COLLATE "C"
-- where that gives the same groups: text, varchar and char under a
-- deterministic collation that is not C itself.  A nondeterministic
-- collation (case-insensitive here) keeps its own equality.  Every answer
-- is checked against hand-written SQL.  The columns name their collations,
-- so the test does not depend on the database's locale.
SET search_path = public, segment;
SET client_min_messages = warning;
CREATE COLLATION co_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE co_customers (id text COLLATE "und-x-icu" PRIMARY KEY);
CREATE TABLE co_events (customer_id text COLLATE "und-x-icu", sku text COLLATE "und-x-icu",
                        sku_ci text COLLATE co_ci, sku_c text COLLATE "C", code char(4) COLLATE "und-x-icu",
                        label varchar(10) COLLATE "und-x-icu", at timestamptz);
INSERT INTO co_customers VALUES ('a'), ('B'), ('ä'), ('日本'), ('z z');
INSERT INTO co_events (customer_id, sku, code, label, at) VALUES
    ('a', 'x', 'ab', 'é', '2026-01-01'), ('a', 'X', 'ab ', 'É', '2026-01-02'), ('a', NULL, NULL, NULL, '2026-01-03'),
    ('B', 'y', 'cd', 'n', '2026-01-01'), ('B', 'y', 'cd', 'n', '2026-01-05'),
    ('ä', 'é', 'ef', 'a', '2026-02-01'), ('ä', 'É', 'EF', 'b', '2026-02-02'), ('ä', 'e', 'ef', 'c', '2026-02-03'),
    ('日本', '寿司', 'jp', '寿司', '2026-03-01'), ('日本', '寿司', 'jp', '天', '2026-03-02'),
    ('ghost', 'x', 'zz', 'q', '2026-03-01');     -- no customer
UPDATE co_events SET sku_ci = sku, sku_c = sku;
SELECT register_customers('co_customers', 'id');
SELECT register_source('ev', 'co_events', 'customer_id', 'at');
-- the keys of a rule's members, in byte order
CREATE FUNCTION co_members(r text) RETURNS text[] LANGUAGE sql AS
$$ SELECT coalesce(array_agg(k ORDER BY k COLLATE "C"), '{}') FROM unnest(audience_keys(evaluate(r::segment_rule, '2026-04-01'), NULL::text)) k $$;
CREATE FUNCTION co_hand(q text) RETURNS text[] LANGUAGE plpgsql AS
$$ DECLARE r text[]; BEGIN
    EXECUTE format('SELECT coalesce(array_agg(k ORDER BY k COLLATE "C"), ''{}'') FROM (%s) h(k)', q) INTO r; RETURN r;
END $$;
-- what is sorted under "C", and the key put back under its own collation
SELECT r AS rule, compile(r::segment_rule, '2026-04-01') ~ 'e.customer_id COLLATE "C"' AS key_sorted_in_c,
       compile(r::segment_rule, '2026-04-01') ~ 'e.k COLLATE "und-x-icu" AS k' AS key_put_back,
       compile(r::segment_rule, '2026-04-01') ~ '\.sku(_ci|_c)? COLLATE "C" AS d' AS value_in_c
FROM unnest(ARRAY['count_distinct(ev.sku) >= 2', 'count_distinct(ev.sku_ci) >= 2', 'count_distinct(ev.sku_c) >= 2',
                  'first(ev.label) = ''é''']) r;
-- the same members as by hand
SELECT r.rule, co_members(r.rule) AS members, co_members(r.rule) = co_hand(r.hand) AS same
FROM (VALUES
    ('count_distinct(ev.sku) >= 2', $$SELECT customer_id FROM co_events WHERE customer_id IN (SELECT id FROM co_customers)
        GROUP BY 1 HAVING count(DISTINCT sku) >= 2$$),
    ('count_distinct(ev.sku_ci) >= 2', $$SELECT customer_id FROM co_events WHERE customer_id IN (SELECT id FROM co_customers)
        GROUP BY 1 HAVING count(DISTINCT sku_ci) >= 2$$),
    ('count_distinct(ev.sku_c) >= 2', $$SELECT customer_id FROM co_events WHERE customer_id IN (SELECT id FROM co_customers)
        GROUP BY 1 HAVING count(DISTINCT sku_c) >= 2$$),
    ('count_distinct(ev.code) >= 2', $$SELECT customer_id FROM co_events WHERE customer_id IN (SELECT id FROM co_customers)
        GROUP BY 1 HAVING count(DISTINCT code) >= 2$$),
    ('count_distinct(ev.label) = 2', $$SELECT customer_id FROM co_events WHERE customer_id IN (SELECT id FROM co_customers)
        GROUP BY 1 HAVING count(DISTINCT label) = 2$$),
    ('count_distinct(ev.sku) = 0', $$SELECT id FROM co_customers c WHERE NOT EXISTS
        (SELECT FROM co_events e WHERE e.customer_id = c.id AND e.sku IS NOT NULL)$$),
    ('count_distinct(ev.sku) < 2', $$SELECT id FROM co_customers c WHERE
        (SELECT count(DISTINCT sku) FROM co_events e WHERE e.customer_id = c.id) < 2$$),
    ('count_distinct(ev.sku DURING LAST 2 months) >= 1', $$SELECT DISTINCT customer_id FROM co_events
        WHERE customer_id IN (SELECT id FROM co_customers) AND sku IS NOT NULL AND at >= '2026-02-01'$$),
    ('first(ev.label) = ''é''', $$SELECT customer_id FROM (SELECT DISTINCT ON (customer_id) customer_id, label FROM co_events
        WHERE customer_id IN (SELECT id FROM co_customers) AND label IS NOT NULL ORDER BY customer_id, at) f WHERE label = 'é'$$),
    ('last(ev.label) = ''天''', $$SELECT customer_id FROM (SELECT DISTINCT ON (customer_id) customer_id, label FROM co_events
        WHERE customer_id IN (SELECT id FROM co_customers) AND label IS NOT NULL ORDER BY customer_id, at DESC) l WHERE label = '天'$$)
) r(rule, hand) ORDER BY 1;
-- bad input is still refused with its message
SELECT compile('count_distinct(ev.nosuch) >= 2');
SELECT unregister_source('ev'), unregister_customers();
DROP FUNCTION co_members, co_hand;
DROP TABLE co_customers, co_events;
DROP COLLATION co_ci;
