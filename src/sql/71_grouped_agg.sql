-- grouped_audience_agg(): a per-customer aggregate and its comparison
-- answered as one audience, so that a shard sends one audience for
-- "count(orders) >= 3" (src/grouped_audience_agg.c, doc/scale-out.md).
-- kind: 0 count, 1 sum, 2 avg, 3 min, 4 max, 5 first, 6 last, 7 count_distinct,
-- 8 mode, 9 active_days, 10 active_weeks, 11 active_months (of value, a date
-- or timestamp; a timestamptz's local days in the zone whose name time holds,
-- as bytea); op: 0 =, 1 <>, 2 <, 3 <=, 4 >, 5 >=, 6 IN, 7 NOT IN, 8 BETWEEN,
-- 9 NOT BETWEEN, 10 IS NULL, 11 IS NOT NULL; args: the compared values, of
-- the type the aggregate gives (bigint for count, numeric for sum and avg);
-- satisfying false: the customers whose comparison is not true.
CREATE FUNCTION @extschema@.grouped_audience_trans(internal, bigint, "any", "any", integer, integer, anyarray, boolean)
RETURNS internal
    AS 'MODULE_PATHNAME', 'segment_grouped_audience_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.grouped_audience_trans(internal, bigint, "any", "any", integer, integer, anyarray, boolean) IS 'transition function of grouped_audience_agg: adds a row to its customer''s partial aggregate';
CREATE FUNCTION @extschema@.grouped_audience_final(internal)
RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'segment_grouped_audience_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.grouped_audience_final(internal) IS 'final function of grouped_audience_agg: the customers whose aggregate satisfies the comparison';
CREATE AGGREGATE @extschema@.grouped_audience_agg(customer bigint, value "any", "time" "any", kind integer,
                                                  op integer, args anyarray, satisfying boolean) (
    SFUNC = @extschema@.grouped_audience_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.grouped_audience_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.grouped_audience_agg(bigint, "any", "any", integer, integer, anyarray, boolean) IS 'the customers whose aggregate of value (kind: 0 count ... 6 last, by time for first and last; 7 count_distinct, 8 mode, 9 .. 11 active_days/weeks/months of value in the zone named by time) satisfies op args (satisfying false: does not), as one audience';
