-- Timing helpers for bench/: each figure is a median of several runs, and
-- every benchmark compares against a baseline measured in the same run.
CREATE SCHEMA IF NOT EXISTS bench;

-- Median wall-clock milliseconds of running a query reps times in this backend.
CREATE OR REPLACE FUNCTION bench.ms(q text, reps int DEFAULT 5) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    times float8[] := '{}';
BEGIN
    FOR i IN 1 .. reps LOOP
        t0 := clock_timestamp();
        EXECUTE q;
        times := times || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) t);
END $$;

-- Number of rows a query returns.
CREATE OR REPLACE FUNCTION bench.count_of(q text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM (%s) s', q) INTO n;
    RETURN n;
END $$;

-- The hand query with its placeholders filled for as_of (session time zone).
CREATE OR REPLACE FUNCTION bench.hand(q text, as_of timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT replace(replace(replace(q,
        '{day}', quote_literal(date_trunc('day', as_of)) || '::timestamptz'),
        '{tomorrow}', quote_literal(date_trunc('day', as_of) + interval '1 day') || '::timestamptz'),
        '{week}', quote_literal(date_trunc('week', as_of)) || '::timestamptz')
$$;
