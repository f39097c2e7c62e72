--------------------------------------------------------------------------
-- Compiling and evaluating rules
--------------------------------------------------------------------------

-- STABLE: the result depends on the data, the registry and the settings, which
-- do not change within a statement.  PARALLEL RESTRICTED: they run SPI.
CREATE FUNCTION @extschema@.compile(rule @extschema@.segment_rule, as_of timestamptz DEFAULT now())
RETURNS text
    AS 'MODULE_PATHNAME', 'segment_compile' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.compile(@extschema@.segment_rule, timestamptz) IS 'the SQL query that evaluates the rule at as_of';

CREATE FUNCTION @extschema@.evaluate(rule @extschema@.segment_rule, as_of timestamptz DEFAULT now())
RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'segment_evaluate' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.evaluate(@extschema@.segment_rule, timestamptz) IS 'the customers satisfying the rule at as_of';

CREATE FUNCTION @extschema@.estimate(rule @extschema@.segment_rule, as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $$
    SELECT @extschema@.cardinality(@extschema@.evaluate(rule, as_of))
$$;
COMMENT ON FUNCTION @extschema@.estimate(@extschema@.segment_rule, timestamptz) IS 'how many customers satisfy the rule now (nothing saved)';

-- For the tagging triggers: the rule's audience within a set of candidates,
-- every scan restricted to them (cheap for the few customers a statement
-- touched).  Internal: the name may change.
CREATE FUNCTION @extschema@._evaluate_among(rule @extschema@.segment_rule, among @extschema@.audience,
                                            as_of timestamptz DEFAULT now())
RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'segment_evaluate_among' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@._evaluate_among(@extschema@.segment_rule, @extschema@.audience, timestamptz) IS 'evaluate(rule, as_of) & among, scanning only the candidates';

-- For auto-tagging: the audiences of several rules (a tag group's values)
-- from one query whose scans they share; among NULL means all customers.
CREATE FUNCTION @extschema@._evaluate_rules(rules @extschema@.segment_rule[], among @extschema@.audience,
                                            as_of timestamptz DEFAULT now())
RETURNS @extschema@.audience[]
    AS 'MODULE_PATHNAME', 'segment_evaluate_rules' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@._evaluate_rules(@extschema@.segment_rule[], @extschema@.audience, timestamptz) IS 'evaluate() of each rule (& among), sharing scans';
