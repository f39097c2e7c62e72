-- grouped_audience_agg(): a per-customer aggregate and its comparison as
-- one audience (src/grouped_audience_agg.c), against GROUP BY ... HAVING.
SET search_path = segment, public;

-- 3000 rows over 300 customers (10 each), some rows without a customer,
-- NULL values, ties of times, Unicode text, sums past the range of bigint;
-- customers 400-402 have only NULL values and times.  A customer's v and n
-- are distinct (ties of every value for mode), its d and w repeat unevenly.
CREATE TABLE ga (c bigint, v int, big bigint, n numeric, s text, d date, t timestamptz, w text);
INSERT INTO ga
SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE i % 300 END,
       CASE WHEN i % 11 = 0 THEN NULL ELSE i % 13 END,
       9223372036854775807 - i,
       (i % 17) / 3.0,
       (ARRAY['a', 'b', 'Ä', '日本', NULL])[i % 5 + 1],
       date '2024-01-01' + i % 7,
       CASE WHEN i % 13 = 0 THEN NULL ELSE timestamptz '2024-01-01 00:00+00' + (i % 5) * interval '1 hour' END,
       (ARRAY['x', 'ÿ', '日', 'x', 'ÿ', 'x', NULL, 'Ω'])[(i * i / 300) % 8 + 1]
FROM generate_series(1, 3000) i;
INSERT INTO ga (c) VALUES (400), (401), (401), (402);

-- the audience of grouped_audience_agg() and of the plain query must be equal,
-- for the customers that satisfy the comparison and for those that do not
CREATE FUNCTION ga_check_on(tbl text, kind int, value text, ttime text, plain text, rows_where text,
                            op int, args text, cond text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    a audience;
    b audience;
    sat boolean;
    out text := '';
BEGIN
    FOREACH sat IN ARRAY ARRAY[true, false] LOOP
        EXECUTE format('SELECT grouped_audience_agg(c, %s, %s, %s, %s, %s, %L) FROM %I', value, ttime, kind, op, args, sat, tbl)
            INTO a;
        EXECUTE format('SELECT coalesce(audience_agg(c), ''{}'') FROM (SELECT c FROM %I WHERE c IS NOT NULL %s '
                       'GROUP BY c HAVING (%s %s) IS %s TRUE) x', tbl, rows_where, plain, cond, CASE WHEN sat THEN '' ELSE 'NOT' END)
            INTO b;
        IF a IS DISTINCT FROM b THEN
            RETURN format('MISMATCH %s: %s vs %s', sat, a, b);
        END IF;
        out := out || cardinality(a) || ' ';
    END LOOP;
    RETURN out;
END $$;
CREATE FUNCTION ga_check(kind int, value text, ttime text, plain text, rows_where text,
                         op int, args text, cond text) RETURNS text LANGUAGE sql
    AS $$ SELECT ga_check_on('ga', kind, value, ttime, plain, rows_where, op, args, cond) $$;

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
    ('last(n) by date', 6, 'n', 'd', 'last_by(n, d)', 'AND d IS NOT NULL', 'numeric', '1', '4.6666666666666667'),
    -- s10-shkinds: distinct values (NULLs not counted: 0 over only NULLs) and the
    -- mode (NULL over only NULLs, ties to the smallest value, as mode() WITHIN GROUP)
    ('count_distinct(v)', 7, 'v', 'NULL::date', 'count(DISTINCT v)', '', 'bigint', '8', '9'),
    ('count_distinct(n)', 7, 'n', 'NULL::date', 'count(DISTINCT n)', '', 'bigint', '9', '10'),
    ('count_distinct(d)', 7, 'd', 'NULL::date', 'count(DISTINCT d)', '', 'bigint', '6', '7'),
    ('count_distinct(w)', 7, 'w', 'NULL::date', 'count(DISTINCT w)', '', 'bigint', '2', '3'),
    ('count_distinct(s)', 7, 's', 'NULL::date', 'count(DISTINCT s)', '', 'bigint', '0', '1'),
    ('mode(v)', 8, 'v', 'NULL::date', 'mode() WITHIN GROUP (ORDER BY v)', '', 'integer', '0', '2'),
    ('mode(n)', 8, 'n', 'NULL::date', 'mode() WITHIN GROUP (ORDER BY n)', '', 'numeric', '0.33333333333333333333', '1.0'),
    ('mode(d)', 8, 'd', 'NULL::date', 'mode() WITHIN GROUP (ORDER BY d)', '', 'date', '''2024-01-02''', '''2024-01-04'''),
    ('mode(w)', 8, 'w', 'NULL::date', 'mode() WITHIN GROUP (ORDER BY w)', '', 'text', '''x''', '''日'''),
    ('mode(t)', 8, 't', 'NULL::date', 'mode() WITHIN GROUP (ORDER BY t)', '', 'timestamptz', '''2024-01-01 01:00+00''', '''2024-01-01 03:00+00''');
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

-- s10-shkinds: mode's ties go to the smallest value, the NULL values take no part
SELECT grouped_audience_agg(c, w, NULL::date, 8, 0, ARRAY['ÿ'], true) AS "mode ÿ",
       grouped_audience_agg(c, w, NULL::date, 8, 0, ARRAY['日'], true) AS "mode 日",
       grouped_audience_agg(c, w, NULL::date, 8, 10, NULL::text[], true) AS "mode NULL",
       grouped_audience_agg(c, w, NULL::date, 7, 0, ARRAY[2::bigint], true) AS "2 distinct"
FROM (VALUES (1, '日'), (1, 'ÿ'), (1, '日'), (1, 'ÿ'), (1, NULL), (1, NULL), (1, NULL),
             (2, 'ÿ'), (2, '日'), (2, '日'), (3, NULL), (4, 'ÿ')) x(c, w);

-- active_days / active_weeks / active_months: distinct local days, weeks
-- (from Monday) and months, against count(DISTINCT ...) of the single node's
-- periods.  3000 times over 500 customers, each near one instant: New
-- York's DST changes (local midnight moves), Shanghai's week, month and
-- year ends (UTC+8: they begin at 16:00 UTC), Moscow's change from +4 to +3
-- in 2014 (the dynamic abbreviation MSK); within hours or days of it, so
-- that the zone decides the periods; some NULL times; customer 600 has
-- infinite times, 601 only NULL times
CREATE TABLE gt (c bigint, t timestamptz, ts timestamp, d date);
INSERT INTO gt
SELECT c, t, t AT TIME ZONE 'America/New_York', (t AT TIME ZONE 'Asia/Shanghai')::date
FROM (SELECT i % 500 AS c,
             CASE WHEN i % 41 = 0 THEN NULL
                  ELSE (ARRAY[timestamptz '2024-03-10 05:00+00', '2024-11-03 04:00+00', '2024-01-28 16:00+00',
                              '2024-12-31 16:00+00', '2014-10-25 21:00+00'])[i % 5 + 1]
                       + ((i * 7919) % 97 - 48) * (ARRAY[7, 31, 90])[i % 3 + 1] * interval '1 minute' END AS t
      FROM generate_series(1, 3000) i) x;
INSERT INTO gt VALUES (600, 'infinity', 'infinity', 'infinity'), (600, '-infinity', '-infinity', '-infinity'),
    (600, 'infinity', 'infinity', 'infinity'), (600, '2024-01-01 00:00+00', '2024-01-01', '2024-01-01'),
    (601, NULL, NULL, NULL), (601, NULL, NULL, NULL);
CREATE TABLE gt_kinds (name text, kind int, value text, ttime text, plain text, lo text, hi text);
INSERT INTO gt_kinds
SELECT format('%s(%s%s)', p.name, v.value, coalesce(' ' || z.zone, '')), p.kind, v.value,
       coalesce(quote_literal(z.zone) || '::bytea', 'NULL::bytea'),
       format('count(DISTINCT %s)', format(CASE v.value WHEN 'd' THEN p.date_period ELSE p.period END,
                                           CASE v.value WHEN 't' THEN format('(t AT TIME ZONE %L)', z.zone) ELSE v.value END)),
       p.lo, p.hi
FROM (VALUES ('active_days', 9, '(%s)::date', '%s', '2', '3'),
             ('active_weeks', 10, 'date_trunc(''week'', %s)', 'date_trunc(''week'', (%s)::timestamp)', '1', '2'),
             ('active_months', 11, 'date_trunc(''month'', %s)', 'date_trunc(''month'', (%s)::timestamp)', '1', '2'))
         p(name, kind, period, date_period, lo, hi)
CROSS JOIN (VALUES ('t'), ('ts'), ('d')) v(value)
LEFT JOIN (VALUES ('America/New_York'), ('Asia/Shanghai'), ('UTC'), ('MSK'), ('EST'), ('europe/moscow')) z(zone)
       ON v.value = 't';
SELECT k.name, string_agg(format('%s: %s', o.op,
           ga_check_on('gt', k.kind, k.value, k.ttime, k.plain, '', o.op,
                       format(o.args, k.lo, k.hi, 'bigint'), format(o.cond, k.lo, k.hi))), '| ' ORDER BY o.op) AS results
FROM gt_kinds k CROSS JOIN ga_ops o GROUP BY k.name ORDER BY min(k.kind), k.name;
-- across local midnight: 2024-11-02 23:30 and 2024-11-03 00:30 in New York
-- (EDT), one day in UTC; 2024-03-09 23:30 / 2024-03-10 00:30 (EST);
-- Shanghai: 23:30 and 00:30 are 15:30 and 16:30 UTC; 2024-01-28 was a
-- Sunday (a week ends), 2024-01-31 the end of a month
CREATE FUNCTION ga_periods(zone text) RETURNS TABLE (days audience, weeks audience, months audience)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT grouped_audience_agg(c, t, %1$L::bytea, 9, 0, ARRAY[2::bigint], true),
               grouped_audience_agg(c, t, %1$L::bytea, 10, 0, ARRAY[2::bigint], true),
               grouped_audience_agg(c, t, %1$L::bytea, 11, 0, ARRAY[2::bigint], true)
        FROM (VALUES (1, timestamptz '2024-11-03 03:30+00'), (1, '2024-11-03 04:30+00'),
                     (2, '2024-03-10 04:30+00'), (2, '2024-03-10 05:30+00'),
                     (3, '2024-01-28 15:30+00'), (3, '2024-01-28 16:30+00'),
                     (4, '2024-01-31 15:30+00'), (4, '2024-01-31 16:30+00'), (5, NULL)) x(c, t)$q$, zone);
END $$;
SELECT z AS zone, p.days AS "2 days", p.weeks AS "2 weeks", p.months AS "2 months"
FROM unnest(ARRAY['America/New_York', 'Asia/Shanghai', 'UTC']) z, ga_periods(z) p;
-- a date is its own day (the zone is not read); no rows, only NULL times: empty
SELECT grouped_audience_agg(c, d, NULL::bytea, 9, 5, ARRAY[2::bigint], true),
       grouped_audience_agg(c, d, 'Nowhere/Zone'::bytea, 10, 5, ARRAY[1::bigint], true)
FROM (VALUES (1, date '2024-01-01'), (1, '2024-01-02'), (2, '2024-01-01')) x(c, d);
SELECT grouped_audience_agg(c, t, 'UTC'::bytea, 9, 0, ARRAY[0::bigint], true) FROM gt WHERE false;
SELECT grouped_audience_agg(c, t, 'UTC'::bytea, 9, 0, ARRAY[0::bigint], true) AS zero,
       grouped_audience_agg(c, v, NULL::date, 7, 0, ARRAY[0::bigint], true) AS "no distinct",
       grouped_audience_agg(c, v, NULL::date, 8, 10, NULL::int[], true) AS "no mode"
FROM (SELECT 5 AS c, NULL::timestamptz AS t, NULL::int AS v) x;

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
SELECT grouped_audience_agg(c, 1, NULL::date, 12, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, 1, NULL::date, -1, 0, ARRAY[1::bigint], true) FROM ga;
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
-- s10-shkinds: active_* of a non-time value, a timestamptz without a zone,
-- a zone that varies or is unknown; distinct values of a type without hashing
SELECT grouped_audience_agg(c, v, 'UTC'::bytea, 9, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, t, NULL::date, 9, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, t, NULL::bytea, 10, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, t, 'UTC', 11, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, t, convert_to(w, 'UTF8'), 9, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, t, 'Nowhere/Zone'::bytea, 9, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, t, ''::bytea, 9, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, t, '\x5554430041'::bytea, 9, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, v, NULL::date, 9, 0, ARRAY[1::int], true) FROM ga;
SELECT grouped_audience_agg(c, v, NULL::date, 7, 0, ARRAY[1::int], true) FROM ga;
SELECT grouped_audience_agg(c, v::money, NULL::date, 7, 0, ARRAY[1::bigint], true) FROM ga;
SELECT grouped_audience_agg(c, point(v, 1), NULL::date, 8, 10, NULL::point[], true) FROM ga;
SELECT grouped_audience_agg(c, d, NULL::bytea, 10, 0, ARRAY[1::bigint], true) FROM (VALUES (1, date '300000-01-01')) x(c, d);
SELECT grouped_audience_agg(c, t, 'Asia/Shanghai'::bytea, 9, 0, ARRAY[1::bigint], true)
FROM (VALUES (1, timestamptz '294276-12-31 23:00:00+00')) x(c, t);
