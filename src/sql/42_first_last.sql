-- first_by() / last_by(): the aggregates behind the rule language's
-- first() and last() (src/first_last_agg.c, doc/reference/rules.md).
CREATE FUNCTION @extschema@.first_by_trans(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'segment_first_by_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.first_by_trans(internal, anyelement, anycompatible) IS 'transition function of first_by: keeps the row with the earliest time (ties: the smaller value, NULL last)';
CREATE FUNCTION @extschema@.last_by_trans(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'segment_last_by_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.last_by_trans(internal, anyelement, anycompatible) IS 'transition function of last_by: keeps the row with the latest time (ties: the smaller value, NULL last)';
CREATE FUNCTION @extschema@.first_last_final(internal, anyelement, anycompatible) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'segment_first_last_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.first_last_final(internal, anyelement, anycompatible) IS 'final function of first_by and last_by: the kept value (NULL over no row with a time)';
CREATE AGGREGATE @extschema@.first_by(anyelement, anycompatible) (
    SFUNC = @extschema@.first_by_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.first_last_final,
    FINALFUNC_EXTRA,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.first_by(anyelement, anycompatible) IS 'the value on the row with the earliest time (a date or timestamp; ties: the smaller value, NULL last; rows without a time ignored)';
CREATE AGGREGATE @extschema@.last_by(anyelement, anycompatible) (
    SFUNC = @extschema@.last_by_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.first_last_final,
    FINALFUNC_EXTRA,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.last_by(anyelement, anycompatible) IS 'the value on the row with the latest time (a date or timestamp; ties: the smaller value, NULL last; rows without a time ignored)';
