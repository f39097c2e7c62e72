-- event_funnel(): an ordered conversion funnel over events (doc/rules.md,
-- "Ordered funnels"; src/rule_compile_funnel.c).  Not STRICT: a NULL
-- argument is an error naming it, not an empty result.
CREATE FUNCTION @extschema@.event_funnel(steps @extschema@.segment_rule[], within interval,
                                         as_of timestamptz DEFAULT now())
RETURNS TABLE(step integer, members bigint, rate float8, reached @extschema@.audience)
    AS 'MODULE_PATHNAME', 'segment_event_funnel' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 8;
COMMENT ON FUNCTION @extschema@.event_funnel(@extschema@.segment_rule[], interval, timestamptz) IS 'ordered funnel over EXISTS steps: the customers reaching each step with events in order within the conversion window from the first step''s event, and the rate against the first step';
