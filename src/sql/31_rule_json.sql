--------------------------------------------------------------------------
-- segment_rule <-> jsonb: the form application rule builders send
-- (doc/rules-json.md)
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.rule_to_json(@extschema@.segment_rule) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'segment_rule_to_jsonb' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rule_to_json(@extschema@.segment_rule) IS 'the rule as JSON for rule-builder UIs (canonical)';

CREATE FUNCTION @extschema@.rule_from_json(jsonb) RETURNS @extschema@.segment_rule
    AS 'MODULE_PATHNAME', 'segment_rule_from_jsonb' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rule_from_json(jsonb) IS 'a rule from its JSON form, validated like rule text';

CREATE CAST (@extschema@.segment_rule AS jsonb) WITH FUNCTION @extschema@.rule_to_json(@extschema@.segment_rule);
CREATE CAST (jsonb AS @extschema@.segment_rule) WITH FUNCTION @extschema@.rule_from_json(jsonb);
