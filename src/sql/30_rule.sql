--------------------------------------------------------------------------
-- segment_rule: the rule language, and time windows
--------------------------------------------------------------------------

CREATE TYPE @extschema@.segment_rule;

CREATE FUNCTION @extschema@.segment_rule_in(cstring) RETURNS @extschema@.segment_rule
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.segment_rule_in(cstring) IS 'input function of type segment_rule: parses a rule''s text';
CREATE FUNCTION @extschema@.segment_rule_out(@extschema@.segment_rule) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.segment_rule_out(@extschema@.segment_rule) IS 'output function of type segment_rule: the canonical text of a rule';
CREATE FUNCTION @extschema@.segment_rule_recv(internal) RETURNS @extschema@.segment_rule
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.segment_rule_recv(internal) IS 'binary input function of type segment_rule';
CREATE FUNCTION @extschema@.segment_rule_send(@extschema@.segment_rule) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.segment_rule_send(@extschema@.segment_rule) IS 'binary output function of type segment_rule';

CREATE TYPE @extschema@.segment_rule (
    INPUT = @extschema@.segment_rule_in,
    OUTPUT = @extschema@.segment_rule_out,
    RECEIVE = @extschema@.segment_rule_recv,
    SEND = @extschema@.segment_rule_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE @extschema@.segment_rule IS 'a parsed segmentation rule; text output is the canonical form';

-- STABLE, not IMMUTABLE: the result depends on segment.timezone / TimeZone
-- when time_zone is NULL.  Not STRICT: a NULL time_zone means the default.
CREATE FUNCTION @extschema@.resolve_window(window_text text, as_of timestamptz DEFAULT now(),
                                           time_zone text DEFAULT NULL)
RETURNS tstzrange
    AS 'MODULE_PATHNAME', 'segment_resolve_window' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.resolve_window(text, timestamptz, text) IS 'the half-open time range a window covers at as_of';

CREATE FUNCTION @extschema@.rule_segments(rule @extschema@.segment_rule) RETURNS text[]
    AS 'MODULE_PATHNAME', 'segment_rule_segments' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rule_segments(@extschema@.segment_rule) IS 'names of the segments the rule reads with IN SEGMENT';

CREATE FUNCTION @extschema@.rule_refs(rule @extschema@.segment_rule) RETURNS text[]
    AS 'MODULE_PATHNAME', 'segment_rule_refs' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rule_refs(@extschema@.segment_rule) IS 'what the rule reads: customer, source:name, tag:group, segment:name';
