-- customer_ordinal(key) and the backend's cache of the key dictionary
SET search_path = segment, public;
SET client_min_messages = warning;

-- integer keys used directly are their own ordinals in [0, 2^32)
CREATE TABLE kd_int (id int PRIMARY KEY);
INSERT INTO kd_int VALUES (0), (5), (2147483647);
SELECT register_customers('kd_int', 'id');
SELECT customer_ordinal(5) AS five, customer_ordinal(0::smallint) AS zero,
       customer_ordinal(4294967295::bigint) AS top, customer_ordinal(4294967296::bigint) AS beyond,
       customer_ordinal(-1) AS negative, customer_ordinal(NULL::int) AS null_key;
SELECT customer_ordinal('5'::text);
-- audience_keys(): integer keys are the members themselves, of the type
-- asked for (an int key table has no member above 2^31-1; int2 none above 32767)
SELECT audience_keys('{0,5,40000,2147483647,4294967295}'::audience, NULL::int) AS int_keys,
       audience_keys('{0,5,40000}'::audience, NULL::smallint) AS smallint_keys,
       audience_keys('{5,4294967295}'::audience, NULL::bigint) AS bigint_keys,
       audience_keys('{}'::audience, NULL::int) AS empty, audience_keys(NULL, NULL::int) AS null_members;
SELECT audience_keys('{5}'::audience, NULL::text);
SELECT unregister_customers();

-- a customer view has no trigger to refuse keys outside [0, 2^32): its rows
-- with such keys are no customers, and rules over it still work
CREATE TABLE kd_extra (id bigint);
CREATE VIEW kd_int_view AS SELECT id::bigint AS id FROM kd_int UNION ALL SELECT id FROM kd_extra;
SELECT register_customers('kd_int_view', 'id');
INSERT INTO kd_extra VALUES (-1), (4294967296);
SELECT to_array(evaluate('customer.id >= -5')) AS members,
       to_array(evaluate('NOT customer.id = 5')) AS complement,
       compile('customer.id >= -5') ~ 'BETWEEN 0 AND 4294967295' AS guarded;
SELECT unregister_customers();
DROP VIEW kd_int_view;
DROP TABLE kd_extra;

-- text keys through the dictionary: Unicode, the empty string, long keys
CREATE TABLE kd_text (code text PRIMARY KEY, city text);
INSERT INTO kd_text VALUES ('b-002', '上海'), ('a-001', '北京'), ('😀', 'emoji'), ('', 'empty'),
                           (repeat('长', 3000), 'long');
SELECT register_customers('kd_text', 'code');
SELECT count(*) AS keys,
       count(*) FILTER (WHERE customer_ordinal(code) = (SELECT o.ordinal FROM customer_ordinals o WHERE o.key = t.code)) AS equal
FROM kd_text t;
SELECT customer_ordinal('😀'::text) = (SELECT ordinal FROM customer_ordinals WHERE key = '😀') AS emoji,
       customer_ordinal(''::text) = (SELECT ordinal FROM customer_ordinals WHERE key = '') AS empty,
       customer_ordinal('b-002'::varchar) = (SELECT ordinal FROM customer_ordinals WHERE key = 'b-002') AS from_varchar,
       customer_ordinal('nobody'::text) AS unknown, customer_ordinal(NULL::text) AS null_key;
-- audience_keys(): the keys of the members, in ordinal order, from the
-- cache; an ordinal no key has is left out; the key type must match
SELECT audience_keys((SELECT audience_agg(ordinal) FROM customer_ordinals), NULL::text)
       = (SELECT array_agg(key ORDER BY ordinal) FROM customer_ordinals) AS all_keys,
       audience_keys(audience_agg(customer_ordinal('😀'::text)) | '{4000000}'::audience, NULL::text) AS emoji_only,
       length(array_to_string(audience_keys(audience_agg(customer_ordinal(repeat('长', 3000))), NULL::text), '')) AS long_key
FROM (VALUES (1)) v;
SELECT audience_keys('{1}'::audience, NULL::bigint);
SELECT audience_keys('{1}'::audience, NULL::varchar)::text[] = audience_keys('{1}'::audience, NULL::text) AS varchar_ok,
       pg_typeof(audience_keys('{1}'::audience, NULL::varchar)) AS type;
-- the same unknown key many times in one query, and known keys among them
SELECT count(customer_ordinal(k)) AS found, count(*) AS asked
FROM (SELECT CASE WHEN i % 2 = 0 THEN 'nobody' ELSE 'a-001' END AS k FROM generate_series(1, 10000) i) s;
-- the key's type, not another
SELECT customer_ordinal(42);
SELECT customer_ordinal('a-001'::bytea);

-- keys added after the cache was filled are found (through the key index)
INSERT INTO kd_text VALUES ('z-new', NULL);
SELECT customer_ordinal('z-new'::text) = (SELECT ordinal FROM customer_ordinals WHERE key = 'z-new') AS new_key;

-- updating customers draws no ordinals for keys already there (no gaps)
SELECT max(ordinal) AS before_update FROM customer_ordinals \gset
UPDATE kd_text SET city = city;
INSERT INTO kd_text VALUES ('after-update', NULL);
SELECT (SELECT ordinal FROM customer_ordinals WHERE key = 'after-update') = :before_update + 1 AS no_gap;

-- a key read in a transaction that rolls back is not kept: the same key
-- inserted again gets another ordinal, and the cache must give that one
BEGIN;
INSERT INTO kd_text VALUES ('rolled-back', NULL);
SELECT customer_ordinal('rolled-back'::text) IS NOT NULL AS seen_inside;
ROLLBACK;
SELECT customer_ordinal('rolled-back'::text) AS after_rollback;
INSERT INTO kd_text VALUES ('rolled-back', NULL);
SELECT customer_ordinal('rolled-back'::text) = (SELECT ordinal FROM customer_ordinals WHERE key = 'rolled-back') AS reinserted;
-- the same for a savepoint
BEGIN;
SAVEPOINT s;
INSERT INTO kd_text VALUES ('sub-rolled-back', NULL);
SELECT customer_ordinal('sub-rolled-back'::text) IS NOT NULL AS seen_inside;
ROLLBACK TO SAVEPOINT s;
INSERT INTO kd_text VALUES ('sub-rolled-back', NULL);
SELECT customer_ordinal('sub-rolled-back'::text) = (SELECT ordinal FROM customer_ordinals WHERE key = 'sub-rolled-back') AS reinserted;
COMMIT;
-- a full load inside a transaction that aborts is dropped too
BEGIN;
INSERT INTO kd_text VALUES ('loaded-then-aborted', NULL);
SELECT unregister_customers();
SELECT register_customers('kd_text', 'code');
SELECT customer_ordinal('loaded-then-aborted'::text) IS NOT NULL AS seen_inside;
ROLLBACK;
SELECT customer_ordinal('loaded-then-aborted'::text) AS after_rollback,
       customer_ordinal('😀'::text) = (SELECT ordinal FROM customer_ordinals WHERE key = '😀') AS emoji;

-- a new registration is a new dictionary: the cache follows it
SELECT unregister_customers();
DELETE FROM kd_text WHERE code = 'a-001';
INSERT INTO kd_text VALUES ('0-first', NULL);
SELECT register_customers('kd_text', 'code');
SELECT count(*) FILTER (WHERE customer_ordinal(code) = (SELECT o.ordinal FROM customer_ordinals o WHERE o.key = t.code)) AS equal,
       count(*) AS keys, customer_ordinal('a-001'::text) AS dropped_key
FROM kd_text t;
SELECT unregister_customers();
-- no dictionary any more: text keys are not ordinals
SELECT customer_ordinal('😀'::text);

-- numeric keys: equal keys with other bytes (1.0 and 1.00) are found by
-- the type's own equality
CREATE TABLE kd_num (id numeric PRIMARY KEY);
INSERT INTO kd_num VALUES (1.0), (2.5), (99999999999999999999.5);
SELECT register_customers('kd_num', 'id');
SELECT customer_ordinal(1.00::numeric) = customer_ordinal(1.0::numeric) AS same,
       customer_ordinal(1.00::numeric) = (SELECT ordinal FROM customer_ordinals WHERE key = 1) AS right_one,
       customer_ordinal(99999999999999999999.50::numeric) IS NOT NULL AS huge,
       customer_ordinal(3::numeric) AS unknown;
SELECT unregister_customers();

-- bigint keys at the ends of the range
CREATE TABLE kd_big (id bigint PRIMARY KEY, city text);
INSERT INTO kd_big VALUES (9223372036854775807, 'a'), (-9223372036854775808, 'b'), (0, NULL), (4294967296, 'a');
SELECT register_customers('kd_big', 'id', dictionary => true);
SELECT id, customer_ordinal(id) = (SELECT ordinal FROM customer_ordinals WHERE key = id) AS equal
FROM kd_big ORDER BY id;
SELECT audience_keys(audience_agg(customer_ordinal(id)), NULL::bigint) AS keys FROM kd_big;

-- parallel workers read the leader's copy of the cache, or look keys up
-- through the index when the leader has none; both give the same ordinals
CREATE TABLE kd_many (id bigint PRIMARY KEY);
INSERT INTO kd_many SELECT 1000000000000 + i * 7 FROM generate_series(1, 20000) i;
SELECT unregister_customers();
SELECT register_customers('kd_many', 'id', dictionary => true);
ANALYZE kd_many, customer_ordinals;
CREATE TABLE kd_expected AS SELECT key, ordinal FROM customer_ordinals;
-- a new session: the workers' first lookups find no copy
\c
SET search_path = segment, public;
SET client_min_messages = warning;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET force_parallel_mode = on;
SELECT count(*) AS keys, count(*) FILTER (WHERE customer_ordinal(m.id) = e.ordinal) AS equal,
       count(customer_ordinal(m.id + 1)) AS unknown
FROM kd_many m JOIN kd_expected e ON e.key = m.id;
-- audience_agg_keys() in the workers, without a copy: through the index
SELECT cardinality(audience_agg_keys(id)) AS batched FROM kd_many;
SELECT audience_agg_keys(id + 1) IS NULL AS unknown FROM kd_many;
-- the leader fills its cache (evaluate() does before its query), and the
-- next query's workers read its copy
RESET force_parallel_mode;
SELECT cardinality(evaluate('customer.id > 0')) AS members;
SET force_parallel_mode = on;
SELECT current_setting('segment._dictionary_share') <> '' AS shared;
SELECT count(*) AS keys, count(*) FILTER (WHERE customer_ordinal(m.id) = e.ordinal) AS equal,
       count(customer_ordinal(m.id + 1)) AS unknown
FROM kd_many m JOIN kd_expected e ON e.key = m.id;
EXPLAIN (COSTS OFF) SELECT audience_agg(customer_ordinal(id)) FROM kd_many;
SELECT cardinality(audience_agg(customer_ordinal(id))) FROM kd_many;
-- audience_agg_keys(): partial states mapped in the workers, from the copy
EXPLAIN (COSTS OFF) SELECT audience_agg_keys(id) FROM kd_many;
SELECT audience_agg_keys(id) = (SELECT audience_agg(ordinal) FROM kd_expected) AS same FROM kd_many;
SELECT audience_agg_keys(CASE WHEN id % 3 = 0 THEN -id ELSE id END) = (SELECT audience_agg(ordinal) FROM kd_expected WHERE key % 3 <> 0) AS some_unknown
FROM kd_many;
-- keys added since the copy was written are found through the index
INSERT INTO kd_many VALUES (5), (6);
SELECT customer_ordinal(k) = (SELECT ordinal FROM customer_ordinals WHERE key = k) AS equal
FROM (VALUES (5::bigint), (6)) v(k);
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT unregister_customers();
DROP TABLE kd_many, kd_expected;
SELECT register_customers('kd_big', 'id', dictionary => true);

-- rules read the cache when the dictionary fits segment.dictionary_cache_size,
-- and join the dictionary when it is 0; both give the same members
SELECT compile('customer.city = ''a''', now()) ~ 'audience_agg_keys\(cu\.id::bigint\)' AS through_cache;
SET segment.dictionary_cache_size = 0;
SELECT compile('customer.city = ''a''', now()) ~ 'JOIN segment.customer_ordinals' AS through_join;
SELECT array_agg(o.key ORDER BY o.key) AS joined FROM ids_bigint(evaluate('customer.city = ''a'' OR customer.city IS NULL')) i JOIN customer_ordinals o ON o.ordinal = i;
RESET segment.dictionary_cache_size;
SELECT array_agg(o.key ORDER BY o.key) AS cached FROM ids_bigint(evaluate('customer.city = ''a'' OR customer.city IS NULL')) i JOIN customer_ordinals o ON o.ordinal = i;
SHOW segment.dictionary_cache_size;
SET segment.dictionary_cache_size = -1;

-- the cache is read in C: SELECT on the dictionary is still required
CREATE ROLE kd_reader;
GRANT USAGE ON SCHEMA segment TO kd_reader;
SET ROLE kd_reader;
SELECT customer_ordinal(0::bigint);
RESET ROLE;
REVOKE USAGE ON SCHEMA segment FROM kd_reader;
DROP ROLE kd_reader;

SELECT unregister_customers();

-- audience_agg_keys(key): the audience of audience_agg(customer_ordinal(key)),
-- the keys mapped many at a time.  Integer keys used directly: their own
-- ordinals in [0, 2^32), the others (no customer's) left out.
SELECT register_customers('kd_int', 'id');
SELECT to_array(audience_agg_keys(k)) AS direct FROM (VALUES (5), (0), (-1), (NULL), (5)) v(k);
SELECT to_bigint_array(audience_agg_keys(k)) AS edges FROM (VALUES (4294967295::bigint), (4294967296), (7::bigint)) v(k);
SELECT audience_agg_keys(k) IS NULL AS none FROM (VALUES (-1), (NULL::int)) v(k);
SELECT audience_agg_keys(k) IS NULL AS no_rows FROM (SELECT 1 WHERE false) v(k);
SELECT audience_agg_keys('5'::text);
SELECT unregister_customers();

-- text keys: Unicode, the empty string, a long key, unknown keys, NULL
SELECT register_customers('kd_text', 'code');
SELECT audience_agg_keys(code) = audience_agg(customer_ordinal(code)) AS same,
       cardinality(audience_agg_keys(code)) AS members
FROM (SELECT code FROM kd_text UNION ALL VALUES ('nobody'), (NULL), ('😀'), (''), (repeat('长', 3000))) s(code);
SELECT audience_agg_keys(k) IS NULL AS none FROM (VALUES ('nobody'::text), (NULL), ('😀 ')) v(k);
-- varchar is binary-coercible to text; other types are refused
SELECT cardinality(audience_agg_keys(code::varchar)) AS from_varchar FROM kd_text;
SELECT audience_agg_keys(42);
SELECT audience_agg_keys('a-001'::bytea);
-- more keys than one batch (16384), a third of them unknown, in one query
SELECT audience_agg_keys(k) = audience_agg(customer_ordinal(k)) AS same_many,
       cardinality(audience_agg_keys(k)) AS members, count(*) AS rows
FROM (SELECT CASE WHEN i % 3 = 0 THEN 'nobody-' || i ELSE t.code END AS k
      FROM kd_text t, generate_series(1, 8000) i) s;
-- keys of more bytes than a batch holds (1 MB): flushed by size
SELECT cardinality(audience_agg_keys(k)) AS huge_keys
FROM (SELECT CASE WHEN i % 2 = 0 THEN repeat('x', 300000) || i ELSE '😀' END AS k
      FROM generate_series(1, 10) i) s;
-- keys added after the cache was filled: through the key index, as one key
INSERT INTO kd_text VALUES ('added-later', NULL);
SELECT audience_agg_keys(k) = audience_agg(customer_ordinal(k)) AS new_key_same,
       cardinality(audience_agg_keys(k)) AS members
FROM (VALUES ('added-later'::text), ('😀')) v(k);
-- parallel workers send their text keys unmapped; the leader maps them
CREATE TABLE kd_par (code text);
INSERT INTO kd_par SELECT t.code FROM kd_text t, generate_series(1, 3000);
INSERT INTO kd_par SELECT 'nobody-' || i FROM generate_series(1, 5000) i;
INSERT INTO kd_par VALUES (NULL), ('');
ANALYZE kd_par;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT audience_agg_keys(code) FROM kd_par;
SELECT audience_agg_keys(code) = (SELECT audience_agg(o.ordinal) FROM customer_ordinals o) AS same_parallel,
       cardinality(audience_agg_keys(code)) AS members
FROM kd_par;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE kd_par;
-- one small state per group
SELECT city, audience_agg_keys(code) = audience_agg(customer_ordinal(code)) AS same
FROM kd_text GROUP BY city ORDER BY city COLLATE "C";
SELECT unregister_customers();
DROP TABLE kd_int, kd_text, kd_num, kd_big;
