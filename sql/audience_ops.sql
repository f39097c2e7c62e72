-- Operators and scalar functions of the audience type.
SET search_path = segment, public;

CREATE TEMP TABLE pairs (name text, a audience, b audience);
INSERT INTO pairs VALUES
    ('overlap',  '{1-5,10}', '{4-8,10,20}'),
    ('disjoint', '{1,2}',    '{3,4}'),
    ('empty-l',  '{}',       '{1,2}'),
    ('empty-b',  '{}',       '{}'),
    ('same',     '{7-9}',    '{7-9}'),
    ('subset',   '{2,3}',    '{1-5}'),
    ('big',      '{0-99999,4294967295}', '{50000-150000}');

SELECT name, a | b AS union, a & b AS inter, a - b AS minus, a # b AS xor
FROM pairs ORDER BY name;

SELECT name, a @> b AS contains, a <@ b AS contained, a && b AS overlaps,
       a = b AS eq, a <> b AS ne
FROM pairs ORDER BY name;

SELECT name, jaccard(a, b), intersect_cardinality(a, b), union_cardinality(a, b),
       except_cardinality(a, b), xor_cardinality(a, b),
       cardinality(a & b) = intersect_cardinality(a, b) AS ic_ok,
       cardinality(a | b) = union_cardinality(a, b) AS uc_ok
FROM pairs ORDER BY name;
-- the counting functions agree with counting the built set (the rewrite
-- below is off for these: the set is built by a subquery the planner keeps)
SELECT name,
       except_cardinality(a, b) = (SELECT cardinality(s) FROM (SELECT a - b OFFSET 0) q(s)) AS except_ok,
       xor_cardinality(a, b) = (SELECT cardinality(s) FROM (SELECT a # b OFFSET 0) q(s)) AS xor_ok,
       intersect_cardinality(a, b) = (SELECT cardinality(s) FROM (SELECT a & b OFFSET 0) q(s)) AS and_ok,
       union_cardinality(a, b) = (SELECT cardinality(s) FROM (SELECT a | b OFFSET 0) q(s)) AS or_ok
FROM pairs ORDER BY name;
SELECT except_cardinality(NULL, '{1}'), xor_cardinality('{1}', NULL);

-- cardinality(a OP b) is planned as the counting call, never building a OP b
EXPLAIN (VERBOSE, COSTS OFF)
SELECT cardinality(a & b), cardinality(a | b), cardinality(a - b), cardinality(a # b),
       cardinality(audience_intersect(a, b)), cardinality(a), cardinality(a & b & a)
FROM pairs;
-- not rewritten: an operator of another schema or type, or a constant
CREATE FUNCTION pg_temp.my_and(audience, audience) RETURNS audience
    LANGUAGE plpgsql IMMUTABLE AS 'BEGIN RETURN segment.audience_union($1, $2); END';
CREATE OPERATOR pg_temp.&&& (LEFTARG = audience, RIGHTARG = audience, FUNCTION = pg_temp.my_and);
EXPLAIN (VERBOSE, COSTS OFF) SELECT cardinality(a OPERATOR(pg_temp.&&&) b) FROM pairs;
EXPLAIN (VERBOSE, COSTS OFF) SELECT cardinality('{1-3}'::audience & '{2-9}');
SELECT cardinality(a OPERATOR(pg_temp.&&&) b) = union_cardinality(a, b) AS own_operator_ok FROM pairs WHERE name = 'overlap';

-- set operators on every container kind and mix (arrays, bitsets, runs,
-- full chunks, keys on one side only) agree with plain SQL over the members
CREATE TEMP TABLE mix AS
SELECT audience(ARRAY(SELECT g * 3 FROM generate_series(0, 40000) g)
                || ARRAY(SELECT g FROM generate_series(200000, 270000) g)
                || ARRAY(SELECT 400000 + g * 17 FROM generate_series(0, 300) g)) a,
       audience(ARRAY(SELECT g * 2 FROM generate_series(0, 70000) g)
                || ARRAY(SELECT g FROM generate_series(196608, 262143) g)
                || ARRAY[4294967295]) b;
SELECT op, result_ok, card_ok FROM mix, LATERAL (VALUES
    ('|', to_bigint_array(a | b) = ARRAY(SELECT ids_bigint(a) UNION SELECT ids_bigint(b) ORDER BY 1), cardinality(a | b) = cardinality(audience(to_bigint_array(a) || to_bigint_array(b)))),
    ('&', to_bigint_array(a & b) = ARRAY(SELECT ids_bigint(a) INTERSECT SELECT ids_bigint(b) ORDER BY 1), cardinality(a & b) = (SELECT count(*) FROM (SELECT ids_bigint(a) INTERSECT SELECT ids_bigint(b)) s)),
    ('-', to_bigint_array(a - b) = ARRAY(SELECT ids_bigint(a) EXCEPT SELECT ids_bigint(b) ORDER BY 1), cardinality(a - b) = (SELECT count(*) FROM (SELECT ids_bigint(a) EXCEPT SELECT ids_bigint(b)) s)),
    ('#', to_bigint_array(a # b) = ARRAY((SELECT ids_bigint(a) EXCEPT SELECT ids_bigint(b)) UNION (SELECT ids_bigint(b) EXCEPT SELECT ids_bigint(a)) ORDER BY 1),
          cardinality(a # b) = (SELECT count(*) FROM ((SELECT ids_bigint(a) EXCEPT SELECT ids_bigint(b)) UNION (SELECT ids_bigint(b) EXCEPT SELECT ids_bigint(a))) s))
) v(op, result_ok, card_ok);
SELECT a @> (a & b) AS sub1, (a & b) <@ b AS sub2, a @> b AS not_sub, a && b AS overlaps,
       (a - b) && b AS disjoint, (a | b) = (b | a) AS commutes, (a & b) = audience(to_bigint_array(a & b)) AS canonical_eq
FROM mix;

-- membership of one id, including boundaries and out-of-range ids
SELECT a @> 4 AS has4, a @> 6 AS has6, 4 <@ a AS in4, a @> (-1) AS neg,
       a @> 4294967295::bigint AS top, a @> 4294967296::bigint AS past_top
FROM (VALUES ('{1-5,4294967295}'::audience)) v(a);
SELECT '{}'::audience @> 0;
-- membership on every container kind: array, bitset, run
SELECT bool_and(a @> g) AS all_members, bool_or(a @> (g + 1)) AS any_nonmember
FROM (SELECT audience(array_agg(g * 2)) a FROM generate_series(0, 20000) g) s,
     generate_series(0, 40000, 2) g;
SELECT a @> 65535, a @> 65536, a @> 131071, a @> 131072
FROM (VALUES ('{65536-131071}'::audience)) v(a);

-- cardinality, min, max, is_empty
SELECT cardinality(a), min(a), max(a), is_empty(a)
FROM (VALUES ('{}'::audience), ('{0}'), ('{3,4294967295}'), ('{10-20,70000-80000}')) v(a);

-- range is inclusive; bounds are clamped to 0..4294967295
SELECT range('{1-10,20}', 3, 5), range('{1-10,20}', 5, 3), range('{1-10,20}', -5, 2),
       range('{1-10,4294967295}', 10, 99999999999), range('{}', 0, 10);

-- add and remove
SELECT add('{1,2}', 3), add('{1,2}', 2), remove('{1-3}', 2), remove('{}', 2), add('{}', 4294967295);

-- hashing: equal sets built differently group together
SELECT count(*) FROM (SELECT DISTINCT a FROM (VALUES ('{1,2,3}'::audience), (audience(ARRAY[3,2,1])), ('{1-3}'), ('{4}')) v(a)) d;
SELECT a, count(*) FROM (VALUES ('{1,2,3}'::audience), ('{1-3}'), ('{}'), ('{}')) v(a) GROUP BY a ORDER BY a::text;

-- algebra identities on random sets
WITH s AS (
    SELECT audience(array_agg((random() * 200000)::int)) a,
           audience(array_agg((random() * 200000)::int)) b
    FROM generate_series(1, 50000)
)
SELECT (a - b) | (a & b) = a AS split_ok,
       (a # b) = ((a | b) - (a & b)) AS xor_ok,
       (a & b) <@ a AND (a & b) <@ b AS inter_ok,
       cardinality(a | b) = cardinality(a) + cardinality(b) - cardinality(a & b) AS incl_excl
FROM s;

-- results agree with plain SQL over the members
WITH s AS (SELECT '{1-1000,5000-6000}'::audience a, '{900-5500}'::audience b)
SELECT (SELECT count(*) FROM ids(a) x WHERE x IN (SELECT ids(b))) = cardinality(a & b) AS inter_matches
FROM s;

-- NULL in, NULL out (STRICT)
SELECT NULL::audience | '{1}', '{1}'::audience @> NULL::int, cardinality(NULL::audience);

-- membership against stored (TOASTed) audiences: each row's own value is used
CREATE TEMP TABLE stored_ids AS
    SELECT k, (g::bigint * 7919 * k) % 3000000 AS id FROM generate_series(1, 3) k, generate_series(1, 200000) g;
CREATE TEMP TABLE stored AS SELECT k, audience_agg(id) a FROM stored_ids GROUP BY k;
SELECT k, pg_column_size(a) > 2000 AS out_of_line, cardinality(a) = (SELECT count(DISTINCT id) FROM stored_ids i WHERE i.k = s.k) AS card_ok
FROM stored s ORDER BY k;
SELECT k, (SELECT count(*) FROM generate_series(0, 99999) g WHERE a @> g)
          = (SELECT count(DISTINCT id) FROM stored_ids i WHERE i.k = s.k AND id < 100000) AS members_ok,
       (SELECT count(*) FROM generate_series(0, 99999) g WHERE g <@ a)
          = (SELECT count(*) FROM generate_series(0, 99999) g WHERE a @> g) AS commutator_ok
FROM stored s ORDER BY k;
-- alternating values in one scan
SELECT count(*) FILTER (WHERE s.a @> g) = (SELECT count(*) FROM (SELECT DISTINCT k, id FROM stored_ids WHERE id < 300) d) AS alternating_ok
FROM generate_series(0, 299) g, stored s;

-- the same set encoded as runs or as an array is equal and hashes alike
SELECT '{0-1,3-4}'::audience = '{0,1,3,4}'::audience AS eq,
       '{0-1,3-4}'::audience <> '{0,1,3,4}'::audience AS ne,
       audience_hash('{0-1,3-4}') = audience_hash('{0,1,3,4}') AS same_hash;
SELECT count(*) FROM (SELECT DISTINCT a FROM (VALUES ('{0-1,3-4}'::audience), ('{0,1,3,4}'), (audience(ARRAY[4,3,1,0]))) v(a)) d;

-- the planner estimates ids() of a constant audience at its cardinality
EXPLAIN (COSTS ON) SELECT * FROM ids('{1-50000}');
EXPLAIN (COSTS ON) SELECT * FROM ids_bigint('{7}');
EXPLAIN (COSTS ON) SELECT * FROM ids_bigint('{}');

-- "column is in a constant audience" keeps members / n_distinct of the rows
CREATE TEMP TABLE sel_rows (id int, big bigint);
INSERT INTO sel_rows SELECT g % 1000, g % 1000 FROM generate_series(1, 10000) g;
ANALYZE sel_rows;
CREATE TEMP TABLE sel_nostats (id int);
CREATE FUNCTION pg_temp.estimate(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    RETURN (plan->0->'Plan'->>'Plan Rows')::float8;
END $$;
SELECT q, pg_temp.estimate(q) AS estimated_rows
FROM unnest(ARRAY[
    $q$SELECT * FROM sel_rows WHERE '{1-100}'::audience @> id$q$,
    $q$SELECT * FROM sel_rows WHERE id <@ '{1-100}'::audience$q$,
    $q$SELECT * FROM sel_rows WHERE '{1-100}'::audience @> id::bigint$q$,
    $q$SELECT * FROM sel_rows WHERE '{1-100}'::audience @> big$q$,
    $q$SELECT * FROM sel_rows WHERE '{7}'::audience @> id$q$,
    $q$SELECT * FROM sel_rows WHERE '{}'::audience @> id$q$,
    $q$SELECT * FROM sel_rows WHERE '{0-4000000000}'::audience @> id$q$,
    $q$SELECT * FROM sel_rows WHERE NULL::audience @> id$q$,
    $q$SELECT * FROM sel_rows WHERE ('{1-10}'::audience | '{20-29}') @> id$q$,
    $q$SELECT * FROM sel_nostats WHERE '{1-100}'::audience @> id$q$]) q;

-- large stored audiences (out of line, uncompressed) are read from TOAST in
-- slices: every operation agrees with the same values copied into memory
CREATE TEMP TABLE big_stored (a audience, b audience);
ALTER TABLE big_stored ALTER COLUMN a SET STORAGE EXTERNAL, ALTER COLUMN b SET STORAGE EXTERNAL;
INSERT INTO big_stored
SELECT (SELECT audience_agg(g) FROM generate_series(0, 3500000) g WHERE hashint4(g) % 5 < 2),
       (SELECT audience_agg(g) FROM generate_series(1000000, 4500000) g WHERE hashint4(g + 7) % 3 = 0)
            | '{20000000-20500000}';
CREATE TEMP TABLE big_mem AS SELECT audience_from_bytea(a::bytea) a, audience_from_bytea(b::bytea) b FROM big_stored;
SELECT pg_column_size(s.a) > 300000 AS a_large, pg_column_size(s.b) > 300000 AS b_large,
       s.a | s.b = m.a | m.b AS or_ok, s.a & s.b = m.a & m.b AS and_ok,
       s.a - s.b = m.a - m.b AS andnot_ok, s.b - s.a = m.b - m.a AS andnot2_ok, s.a # s.b = m.a # m.b AS xor_ok,
       (s.a | s.b)::bytea = (m.a | m.b)::bytea AS same_bytes,
       cardinality(s.a & s.b) = cardinality(m.a & m.b) AS and_card_ok,
       cardinality(s.a | s.b) = cardinality(m.a | m.b) AS or_card_ok,
       cardinality(s.a - s.b) = cardinality(m.a - m.b) AS andnot_card_ok,
       cardinality(s.a # s.b) = cardinality(m.a # m.b) AS xor_card_ok,
       cardinality(s.a) = cardinality(m.a) AS card_ok, is_empty(s.a) AS empty,
       s.a && s.b AS overlaps, s.a @> (s.a & s.b) AS contains, (s.a & s.b) <@ s.b AS contained,
       s.a @> s.b AS not_contains, s.a = s.a AS eq, jaccard(s.a, s.b) = jaccard(m.a, m.b) AS jaccard_ok
FROM big_stored s, big_mem m;
SELECT cardinality(a), cardinality(b), intersect_cardinality(a, b) FROM big_stored;
-- membership in a large stored audience: the first probe reads slices, the
-- next ones a copy detoasted once; both agree with the in-memory value
SELECT bool_and((s.a @> g) = (m.a @> g)) AS probes_ok, bool_and((g <@ s.b) = (m.b @> g)) AS commutator_ok,
       bool_and((s.a @> (g + 4294000000::bigint)) = (m.a @> (g + 4294000000::bigint))) AS past_end_ok,
       count(*) FILTER (WHERE s.a @> g) = (SELECT cardinality(range(a, 0, 4000)) FROM big_mem) AS count_ok
FROM big_stored s, big_mem m, generate_series(0, 4000) g;
SELECT a @> 2 AS one_probe, a @> 3500001 AS past_last, b @> 20000100 AS in_run FROM big_stored;

-- rank, slice, page: positions in an audience
SELECT rank(a, 5) AS r5, rank(a, 4) AS r4, rank(a, 0) AS r0, rank(a, 1) AS r1,
       rank(a, -7) AS below, rank(a, 9999999999) AS beyond, rank('{}'::audience, 3) AS empty
FROM (SELECT '{1,5,9}'::audience AS a) x;
SELECT rank('{0,4294967295}'::audience, 4294967295) AS top, rank('{0,4294967295}'::audience, 4294967294) AS below_top;
-- an untyped literal first argument resolves to PostgreSQL's rank() aggregate: cast it
SELECT rank('{1,5,9}', 5);
SELECT slice('{10,20,30,40,50}', 0, 2) AS first2, slice('{10,20,30,40,50}', 3, 10) AS tail,
       slice('{10,20,30,40,50}', 5, 1) AS past_end, slice('{10,20,30,40,50}', 1, 0) AS none,
       slice('{}', 0, 5) AS empty, slice('{10,20,30,40,50}', 4, 9223372036854775807) AS huge_limit;
SELECT page('{10,20,30,40,50}', -1, 2) AS p1, page('{10,20,30,40,50}', 20, 2) AS p2,
       page('{10,20,30,40,50}', 40, 2) AS p3, page('{10,20,30,40,50}', 50, 2) AS p4,
       page('{10,20,30,40,50}', 25, 1) AS between_members, page('{10,20,30,40,50}', 4294967295, 5) AS at_top,
       page('{}', -1, 5) AS empty;
-- NULLs: STRICT
SELECT rank(NULL::audience, 1) IS NULL AS r, slice('{1}', NULL, 1) IS NULL AS s, page('{1}', 0, NULL) IS NULL AS p;
-- bad input
SELECT slice('{1,2}', -1, 1);
SELECT slice('{1,2}', 0, -1);
SELECT page('{1,2}', 0, -5);
-- pages of a large audience cover it exactly once, in order, whatever the page size
CREATE TEMP TABLE paged AS SELECT audience_agg(g::bigint * 3) AS a FROM generate_series(0, 300000) g;
WITH RECURSIVE p(n, last, got) AS (
    SELECT 1, max(page(a, -1, 7777)), page(a, -1, 7777) FROM paged
    UNION ALL
    SELECT n + 1, max(page(a, last, 7777)), page(a, last, 7777) FROM p, paged WHERE NOT is_empty(got)
)
SELECT count(*) FILTER (WHERE NOT is_empty(got)) AS pages, sum(cardinality(got)) AS members,
       (SELECT union_agg(got) FROM p) = (SELECT a FROM paged) AS same_members,
       (SELECT bool_and(cardinality(got) = 7777) FROM p WHERE n < 39) AS full_pages
FROM p;
SELECT slice(a, 100000, 3) AS mid, rank(a, 300000) AS rank_mid, cardinality(slice(a, 0, 300001)) AS all_of_it,
       slice(a, 0, 300001) = a AS equal, min(slice(a, 250000, 10)) = 750000 AS select_ok
FROM paged;
-- the largest audience: positions past 2^31
SELECT rank(range(('{0-4294967295}'::audience), 0, 4294967295), 3000000000) AS big_rank,
       slice('{0-4294967295}', 4294967290, 100) AS last_six, page('{0-4294967295}', 4294967293, 10) AS last_two;
