-- Bad input to the audience type: every one is a clear error, none a crash.
SET search_path = segment, public;
\set VERBOSITY default

-- text input
SELECT ''::audience;
SELECT '{'::audience;
SELECT '}'::audience;
SELECT '{1,}'::audience;
SELECT '{,1}'::audience;
SELECT '{a}'::audience;
SELECT '{-1}'::audience;
SELECT '{4294967296}'::audience;
SELECT '{99999999999999999999999}'::audience;
SELECT '{5-3}'::audience;
SELECT '{1 2}'::audience;
SELECT '{1}x'::audience;
SELECT '{1-}'::audience;
SELECT '[1]'::audience;
SELECT '{１}'::audience;
SELECT '{1.5}'::audience;
SELECT '{1,2'::audience;

-- arrays and single members
SELECT audience(ARRAY[1, -1]);
SELECT audience(ARRAY[-1]::bigint[]);
SELECT audience(ARRAY[4294967296]::bigint[]);
SELECT add('{}', -1);
SELECT remove('{}', 4294967296);
SELECT audience_agg(x) FROM (VALUES (1), (-7)) v(x);
SELECT audience_agg(x) FROM (VALUES (1::bigint), (4294967296)) v(x);

-- members beyond int4 cannot come out as int4
SELECT to_array('{3000000000}');
SELECT * FROM ids('{1,3000000000}');
SELECT to_bigint_array('{3000000000}'), (SELECT array_agg(i) FROM ids_bigint('{3000000000}') i);

-- untrusted bytes (bytea casts and binary input share the validator)
SELECT ''::bytea::audience;                                   -- empty
SELECT '\x3a30'::bytea::audience;                             -- truncated cookie
SELECT '\x3a300000'::bytea::audience;                         -- truncated count
SELECT '\x01020304'::bytea::audience;                         -- wrong cookie
SELECT '\x3a300000ffffffff'::bytea::audience;                 -- huge container count
SELECT '\x3a3000000100000000000200'::bytea::audience;         -- header without offsets
SELECT '\x3a30000001000000000002001000000003000100'::bytea::audience;        -- truncated array
SELECT '\x3a300000010000000000020010000000030001000200'::bytea::audience;    -- unsorted array
SELECT '\x3a300000010000000000020010000000010001000200'::bytea::audience;    -- duplicate in array
SELECT '\x3a300000010000000000020011000000010002000300'::bytea::audience;    -- bad offset
SELECT '\x3a30000002000000010000000000000018000000001a00000100000000'::bytea::audience; -- keys descending
SELECT '\x3b300000010000080002000100040003000400'::bytea::audience;             -- overlapping runs
SELECT '\x3b30000001000004000100fcff0a00'::bytea::audience;                   -- run past 65535
SELECT '\x3b3000000100000500010001000900'::bytea::audience;                 -- run length != cardinality
SELECT '\x3b3000000100000000000000'::bytea::audience;                         -- zero runs
SELECT ('{1}'::audience::bytea || '\xff'::bytea)::audience;                   -- trailing garbage
SELECT (substr('{0-100000}'::audience::bytea, 1, 20))::audience;             -- truncated real value
-- a bitset container whose popcount disagrees with its header
SELECT (substr(b, 1, 10) || '\x8713'::bytea || substr(b, 13))::audience
FROM (SELECT audience(array_agg(g * 2))::bytea AS b FROM generate_series(0, 5000) g) s;
-- 4096 values of an array container that are not ascending
SELECT decode('3a30000001000000' || '0000ff0f' || '10000000' || repeat('0000', 4096), 'hex')::audience;
-- a container claiming 4097 values is a bitset, whatever the bytes say
SELECT decode('3a30000001000000' || '00000010' || '10000000' || repeat('0100', 4097), 'hex')::audience;
SELECT decode('3a30000001000000' || '00000010' || '10000000' || repeat('0100', 4096), 'hex')::audience;

-- the same bytes through binary COPY are refused too
CREATE TEMP TABLE bad_bytes (b bytea);
INSERT INTO bad_bytes VALUES ('\x3a300000010000000000020010000000030001000200');
CREATE TEMP TABLE bad_dst (a audience);
DO $$
DECLARE f text := '/tmp/segment_regress_bad_' || pg_backend_pid();
BEGIN
    EXECUTE format('COPY bad_bytes TO %L (FORMAT binary)', f);
    EXECUTE format('COPY bad_dst FROM PROGRAM %L (FORMAT binary)', 'cat ' || f || ' && rm -f ' || f);
EXCEPTION WHEN invalid_binary_representation THEN
    RAISE NOTICE 'binary COPY refused: %', SQLERRM;
END $$;
SELECT count(*) FROM bad_dst;
