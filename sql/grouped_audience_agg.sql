-- grouped_audience_agg(): a per-customer aggregate and its comparison as
-- one audience (src/grouped_audience_agg.c), against GROUP BY ... HAVING.
SET search_path = segment, public;

-- 3000 rows over 300 customers (10 each), some rows without a customer,
-- NULL values, ties of times, Unicode text, sums past the range of bigint;
-- customers 400-402 have only NULL values and times
CREATE TABLE ga (c bigint, v int, big bigint, n numeric, s text, d date, t timestamptz);
INSERT INTO ga
SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE i % 300 END,
       CASE WHEN i % 11 = 0 THEN NULL ELSE i % 13 END,
       9223372036854775807 - i,
       (i % 17) / 3.0,
       (ARRAY['a', 'b', 'Ä', '日本', NULL])[i % 5 + 1],
       date '2024-01-01' + i % 7,
       CASE WHEN i % 13 = 0 THEN NULL ELSE timestamptz '2024-01-01 00:00+00' + (i % 5) * interval '1 hour' END
FROM generate_series(1, 3000) i;
INSERT INTO ga (c) VALUES (400), (401), (401), (402);

-- the audience of grouped_audience_agg() and of the plain query must be equal,
-- for the customers that satisfy the comparison and for those that do not
CREATE FUNCTION ga_check(kind int, value text, ttime text, plain text, rows_where text,
                         op int, args text, cond text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    a audience;
    b audience;
    sat boolean;
    out text := '';
BEGIN
    FOREACH sat IN ARRAY ARRAY[true, false] LOOP
        EXECUTE format('SELECT grouped_audience_agg(c, %s, %s, %s, %s, %s, %L) FROM ga', value, ttime, kind, op, args, sat)
            INTO a;
        EXECUTE format('SELECT coalesce(audience_agg(c), ''{}'') FROM (SELECT c FROM ga WHERE c IS NOT NULL %s '
                       'GROUP BY c HAVING (%s %s) IS %s TRUE) x', rows_where, plain, cond, CASE WHEN sat THEN '' ELSE 'NOT' END)
            INTO b;
        IF a IS DISTINCT FROM b THEN
            RETURN format('MISMATCH %s: %s vs %s', sat, a, b);
        END IF;
        out := out || cardinality(a) || ' ';
    END LOOP;
    RETURN out;
END $$;

CREATE TABLE ga_kinds (name text, kind int, value text, ttime text, plain text, rows_where text, rtype text, lo text, hi text);
INSERT INTO ga_kinds VALUES
    ('count(*)',  0, '1',   'NULL::date', 'count(*)',                '', 'bigint', '10', '11'),
    ('count(v)',  0, 'v',   'NULL::date', 'count(v)',                '', 'bigint', '8', '9'),
    ('sum(v)',    1, 'v',   'NULL::date', 'coalesce(sum(v), 0)',     '', 'numeric', '50', '70'),
    ('sum(big)',  1, 'big', 'NULL::date', 'coalesce(sum(big), 0)',   '', 'numeric', '92233720368547743000', '92233720368547744000'),
    ('sum(n)',    1, 'n',   'NULL::date', 'coalesce(sum(n), 0)',     '', 'numeric', '25', '28.3333333333333333'),
    ('avg(v)',    2, 'v',   'NULL::date', 'avg(v)',                  '', 'numeric', '5', '6.5'),
    ('avg(n)',    2, 'n',   'NULL::date', 'avg(n)',                  '', 'numeric', '2.5', '2.8333333333333333'),
    ('min(v)',    3, 'v',   'NULL::date', 'min(v)',                  '', 'integer', '0', '2'),
    ('max(v)',    4, 'v',   'NULL::date', 'max(v)',                  '', 'integer', '11', '12'),
    ('min(s)',    3, 's',   'NULL::date', 'min(s)',                  '', 'text', '''a''', '''b'''),
    ('max(s)',    4, 's',   'NULL::date', 'max(s)',                  '', 'text', '''Ä''', '''日本'''),
    ('min(d)',    3, 'd',   'NULL::date', 'min(d)',                  '', 'date', '''2024-01-01''', '''2024-01-02'''),
    ('max(t)',    4, 't',   'NULL::date', 'max(t)',                  '', 'timestamptz', '''2024-01-01 03:00+00''', '''2024-01-01 04:00+00'''),
    ('first(s)',  5, 's',   't', 'first_by(s, t)', 'AND t IS NOT NULL', 'text', '''a''', '''Ä'''),
    ('last(v)',   6, 'v',   't', 'last_by(v, t)',  'AND t IS NOT NULL', 'integer', '4', '9'),
    ('first(d)',  5, 'd',   't', 'first_by(d, t)', 'AND t IS NOT NULL', 'date', '''2024-01-01''', '''2024-01-02'''),
    ('last(n) by date', 6, 'n', 'd', 'last_by(n, d)', 'AND d IS NOT NULL', 'numeric', '1', '4.6666666666666667');
CREATE TABLE ga_ops (op int, cond text, args text);
INSERT INTO ga_ops VALUES
    (0, '= %1$s', 'ARRAY[%1$s]::%3$s[]'), (1, '<> %1$s', 'ARRAY[%1$s]::%3$s[]'),
    (2, '< %1$s', 'ARRAY[%1$s]::%3$s[]'), (3, '<= %1$s', 'ARRAY[%1$s]::%3$s[]'),
    (4, '> %1$s', 'ARRAY[%1$s]::%3$s[]'), (5, '>= %1$s', 'ARRAY[%1$s]::%3$s[]'),
    (6, 'IN (%1$s, %2$s)', 'ARRAY[%1$s, %2$s]::%3$s[]'), (7, 'NOT IN (%1$s, %2$s)', 'ARRAY[%1$s, %2$s]::%3$s[]'),
    (8, 'BETWEEN %1$s AND %2$s', 'ARRAY[%1$s, %2$s]::%3$s[]'), (9, 'NOT BETWEEN %1$s AND %2$s', 'ARRAY[%1$s, %2$s]::%3$s[]'),
    (10, 'IS NULL', 'NULL::%3$s[]'), (11, 'IS NOT NULL', 'NULL::%3$s[]');

-- every kind and comparison: the members satisfying / not satisfying
SELECT k.name, string_agg(format('%s: %s', o.op,
           ga_check(k.kind, k.value, k.ttime, k.plain, k.rows_where, o.op,
                    format(o.args, k.lo, k.hi, k.rtype), format(o.cond, k.lo, k.hi))), '| ' ORDER BY o.op) AS results
FROM ga_kinds k CROSS JOIN ga_ops o GROUP BY k.name ORDER BY min(k.kind), k.name;

-- a customer set shown: count = 10 (NULL customers ignored)
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 0, ARRAY[10::bigint], true) AS ten,
       grouped_audience_agg(c, 1, NULL::date, 0, 2, ARRAY[10::bigint], true) AS fewer FROM ga WHERE c < 20 OR c > 399;
-- IN with a NULL element: unknown unless equal; NOT IN never true
SELECT grouped_audience_agg(c, v, NULL::date, 3, 6, ARRAY[0, NULL]::int[], true) AS in_null,
       grouped_audience_agg(c, v, NULL::date, 3, 7, ARRAY[0, NULL]::int[], true) AS not_in_null,
       grouped_audience_agg(c, v, NULL::date, 3, 7, ARRAY[0, NULL]::int[], false) AS not_in_null_not_true
FROM ga WHERE c < 12 OR c > 399;
-- per group of a GROUP BY, each group its own table
SELECT c % 3 AS g, cardinality(grouped_audience_agg(c, v, NULL::date, 1, 5, ARRAY[60]::numeric[], true))
FROM ga WHERE c IS NOT NULL GROUP BY 1 ORDER BY 1;

-- empty: no rows, only NULL customers, NULL time for first/last
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 0, ARRAY[0::bigint], true) FROM ga WHERE false;
SELECT grouped_audience_agg(NULL::bigint, 1, NULL::date, 0, 5, ARRAY[0::bigint], true) FROM generate_series(1, 3);
SELECT grouped_audience_agg(c, v, t, 5, 10, NULL::int[], true) FROM ga WHERE c >= 400;
-- the ends of the customer range
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 5, ARRAY[1::bigint], true)
FROM (VALUES (0::bigint), (4294967295)) v(c);

-- huge: 200000 rows over 100000 customers against the plain query
CREATE TABLE ga_big AS SELECT (hashint4(i) & 2147483647) % 100000 AS c, i % 1000 AS v FROM generate_series(1, 200000) i;
SELECT a = b AS equal, cardinality(a) > 10000 AS large
FROM (SELECT grouped_audience_agg(c, v, NULL::date, 1, 5, ARRAY[1000]::numeric[], true) a FROM ga_big) x,
     (SELECT audience_agg(c) b FROM (SELECT c FROM ga_big GROUP BY c HAVING sum(v) >= 1000) y) z;

-- bad input
SELECT grouped_audience_agg(c, 1, NULL::date, 7, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 12, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, NULL, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 0, ARRAY[1::bigint], NULL) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, v, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 0, ARRAY[1], true) FROM ga;
SELECT grouped_audience_agg(c, v, NULL::date, 1, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 0, NULL::bigint[], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 8, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 6, '{}'::bigint[], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 0, '{{1},{2}}'::bigint[], true) FROM ga;
SELECT grouped_audience_agg(c, s, NULL::date, 1, 0, ARRAY[1::numeric], true) FROM ga;
SELECT grouped_audience_agg(c, s, v, 5, 0, ARRAY['a'], true) FROM ga;
SELECT grouped_audience_agg(c, point(1, 2), NULL::date, 3, 0, ARRAY[point(1, 2)], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 0, ARRAY[1::bigint], true) FROM (VALUES (-1::bigint)) v(c);
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 0, ARRAY[1::bigint], true) FROM (VALUES (4294967296)) v(c);
SELECT grouped_audience_agg(c, 1, NULL::date, 0, 0, ARRAY[1::bigint], true) OVER () FROM ga LIMIT 1;
