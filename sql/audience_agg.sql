-- audience_agg, union_agg and intersect_agg, serial and parallel.
SET search_path = segment, public;

-- no rows and only NULLs give NULL, like array_agg; coalesce for an empty audience
SELECT audience_agg(x) FROM (SELECT 1 WHERE false) s(x);
SELECT audience_agg(x) FROM (VALUES (NULL::int), (NULL)) v(x);
SELECT coalesce(audience_agg(x), '{}') FROM (SELECT 1 WHERE false) s(x);
SELECT audience_agg(x) FROM (VALUES (3), (NULL), (1), (3), (2)) v(x);
SELECT audience_agg(x) FROM (VALUES (0::bigint), (4294967295)) v(x);

-- grouped
SELECT g, audience_agg(x) FROM (VALUES (1, 10), (1, 11), (2, 12), (2, NULL), (3, NULL)) v(g, x)
GROUP BY g ORDER BY g;

-- union_agg / intersect_agg, with NULL and empty inputs
SELECT union_agg(a), intersect_agg(a) FROM (VALUES ('{1-5}'::audience), ('{4-9}'), (NULL)) v(a);
SELECT union_agg(a), intersect_agg(a) FROM (VALUES ('{1-5}'::audience), ('{}')) v(a);
SELECT union_agg(a), intersect_agg(a) FROM (VALUES (NULL::audience)) v(a);
SELECT union_agg(a), intersect_agg(a) FROM (SELECT '{1}'::audience WHERE false) v(a);

-- a larger build agrees with the distinct ids
CREATE TABLE agg_ids AS
    SELECT (hashint4(g) & 2147483647) % 3000000 AS id, g % 7 AS grp
    FROM generate_series(1, 300000) g;
SELECT cardinality(audience_agg(id)) = (SELECT count(DISTINCT id) FROM agg_ids) AS agg_ok FROM agg_ids;
SELECT (SELECT cardinality(union_agg(a)) FROM (SELECT audience_agg(id) a FROM agg_ids GROUP BY grp) s)
     = (SELECT count(DISTINCT id) FROM agg_ids) AS union_ok;
SELECT cardinality(intersect_agg(a)) FROM (SELECT audience_agg(id) a FROM agg_ids GROUP BY grp) s;

-- parallel plans: partial aggregates in workers, combined in the leader
ANALYZE agg_ids;
CREATE TABLE agg_sets AS SELECT grp, audience_agg(id) | '{1-1000}' a FROM agg_ids GROUP BY grp;
CREATE TABLE serial_result AS
    SELECT audience_agg(id) a,
           (SELECT union_agg(a) FROM agg_sets) u,
           (SELECT intersect_agg(a) FROM agg_sets) i
    FROM agg_ids;
SELECT i FROM serial_result;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT audience_agg(id) FROM agg_ids;
SELECT audience_agg(id) = (SELECT a FROM serial_result) AS parallel_equal FROM agg_ids;
EXPLAIN (COSTS OFF) SELECT union_agg(a), intersect_agg(a) FROM agg_sets;
SELECT union_agg(a) = (SELECT u FROM serial_result) AS union_parallel_equal,
       intersect_agg(a) = (SELECT i FROM serial_result) AS intersect_parallel_equal
FROM agg_sets;
-- one more input narrows the intersection wherever its row is processed
SELECT intersect_agg(a) FROM (SELECT a FROM agg_sets UNION ALL SELECT '{1,2,5000}'::audience) s;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- as window aggregates
SELECT x, audience_agg(x) OVER (ORDER BY x) FROM generate_series(1, 4) x;

DROP TABLE agg_ids, serial_result, agg_sets;
