-- Text and binary I/O, casts and conversions of the audience type.
SET search_path = segment, public;

-- text input: canonical output folds runs of three or more
SELECT '{}'::audience;
SELECT '{1,2,5,6,7,8,9}'::audience;
SELECT '{ 9 , 1,5-8,  2, 2, 1 }'::audience;
SELECT '{0}'::audience, '{4294967295}'::audience, '{4294967290-4294967295}'::audience;
SELECT '  {3-3}  '::audience;
SELECT '{1-3,2-6,10,11}'::audience;
SELECT '{1,3,5}'::audience;
-- a large range is stored as a run container and stays small
SELECT cardinality(a), length(a::bytea) FROM (SELECT '{0-99999999}'::audience AS a) s;
SELECT '{0-99999999}'::audience;

-- NULL stays NULL; the empty audience is a value
SELECT NULL::audience IS NULL AS null_is_null, '{}'::audience IS NULL AS empty_is_null;
SELECT cardinality('{}'::audience), is_empty('{}'), is_empty('{1}');

-- arrays
SELECT audience(ARRAY[5,3,1,3,NULL,2]);
SELECT audience('{}'::int[]);
SELECT audience(ARRAY[NULL]::int[]);
SELECT audience(ARRAY[[1,2],[3,4]]);
SELECT audience(ARRAY[0, 4294967295]::bigint[]);
SELECT to_array('{1-5,9}');
SELECT to_array('{}');
SELECT to_bigint_array('{1,4294967295}');
SELECT ARRAY[3,1,2]::audience, '{7,8}'::audience::int[];

-- ids as rows
SELECT * FROM ids('{1-3,100}');
SELECT count(*) FROM ids('{}');
SELECT count(*), min(i), max(i) FROM ids('{0-199999}') i;
SELECT * FROM ids_bigint('{4294967294-4294967295}');

-- binary round trip through bytea and send/recv
SELECT a = (a::bytea)::audience AS bytea_roundtrip
FROM (VALUES ('{}'::audience), ('{1}'), ('{1-100000,200000,300000-300010}'), ('{4294967295}')) v(a);
SELECT encode('{1,2,3}'::audience::bytea, 'hex');
-- send/recv through a binary COPY
CREATE TEMP TABLE bin_src (a audience);
INSERT INTO bin_src VALUES ('{}'), ('{1,5-100}'), ('{0-70000,4294967295}'), (NULL);
CREATE TEMP TABLE bin_dst (a audience);
DO $$
DECLARE f text := '/tmp/segment_regress_bin_' || pg_backend_pid();
BEGIN
    EXECUTE format('COPY bin_src TO %L (FORMAT binary)', f);
    EXECUTE format('COPY bin_dst FROM PROGRAM %L (FORMAT binary)', 'cat ' || f || ' && rm -f ' || f);
END $$;
SELECT a FROM bin_dst;
SELECT count(*) AS same FROM bin_src s JOIN bin_dst d ON s.a = d.a;
-- non-canonical but valid bytes (an array container holding a run) are
-- accepted and stored canonically, so equality still holds
SELECT '\x3a30000001000000000004001000000000000100020003000400'::bytea::audience;
SELECT '\x3a30000001000000000004001000000000000100020003000400'::bytea::audience = '{0-4}'::audience;

-- Unicode and whitespace in input: only ASCII digits are members
SELECT E'{\t1,\n2 }'::audience;

-- huge: a million members in and out
SELECT cardinality(audience(array_agg(g))) FROM generate_series(1, 1000000, 3) g;
SELECT length(audience_out(audience(array_agg(g)))::text) FROM generate_series(1, 100000, 2) g;

-- long runs print without visiting every member (galloping to each run's end)
SELECT '{0-4294967295}'::audience, cardinality('{0-4294967295}'::audience);
SELECT '{0-4000000000}'::audience;
SELECT '{1-100000,100002,200000-300000,4294967290-4294967295}'::audience;
SELECT ('{1-5000000}'::audience - '{65536,65537,131071,2500000}')::text;
SELECT audience(ARRAY(SELECT g * 2 FROM generate_series(1, 3000) g))::text = '{' || (SELECT string_agg((g * 2)::text, ',') FROM generate_series(1, 3000) g) || '}' AS sparse_roundtrip;
SELECT ('{0-9999}'::audience | '{10001-20000}')::text, ('{0-10000}'::audience | '{10001-20000}')::text;
