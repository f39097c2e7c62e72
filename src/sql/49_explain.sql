--------------------------------------------------------------------------
-- Explanations: why a customer is (not) in a rule's audience, and how many
-- customers each condition keeps (src/rule_explain.c, doc/explain.md)
--------------------------------------------------------------------------

-- STABLE: the result depends on the data, the registry and the settings,
-- which do not change within a statement.  PARALLEL RESTRICTED: SPI.
CREATE FUNCTION @extschema@.explain_membership(rule @extschema@.segment_rule, customer_key anyelement,
                                               as_of timestamptz DEFAULT now())
RETURNS TABLE(path text, condition text, value text, holds boolean)
    AS 'MODULE_PATHNAME', 'segment_explain_membership' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.explain_membership(@extschema@.segment_rule, anyelement, timestamptz) IS 'each node of the rule (root first): the customer''s value and whether it holds at as_of, from the compiled predicates';

-- A saved segment: its rule as of now, on the current data (what a refresh
-- now would decide), with the caller's privileges.  A NOTICE says when the
-- stored membership of the last refresh differs.
CREATE FUNCTION @extschema@.explain_membership(name text, customer_key anyelement)
RETURNS TABLE(path text, condition text, value text, holds boolean)
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED AS $$
DECLARE
    s @extschema@.segments;
    was boolean;
    now_member boolean;
    msg text;
    hint text;
BEGIN
    BEGIN
        s := @extschema@._segment(name);
    EXCEPTION WHEN undefined_object THEN
        -- explain_membership('<rule text>', key) resolves to this function
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
        BEGIN
            PERFORM name::@extschema@.segment_rule;
            hint := 'To explain a rule rather than a saved segment, cast it: explain_membership(''...''::segment_rule, customer_key).';
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
        RAISE EXCEPTION '%', msg USING ERRCODE = 'undefined_object', HINT = hint;
    END;
    FOR path, condition, value, holds IN
        SELECT e.path, e.condition, e.value, e.holds FROM @extschema@.explain_membership(s.rule, customer_key, now()) e LOOP
        IF path = '1' THEN
            now_member := holds;
        END IF;
        RETURN NEXT;
    END LOOP;
    was := coalesce(s.members OPERATOR(@extschema@.@>) @extschema@._ordinal_of(customer_key), false);
    IF s.refreshed_at IS NULL THEN
        RAISE NOTICE 'segment "%" was never refreshed: the explanation is of its rule now', name;
    ELSIF was IS DISTINCT FROM now_member THEN
        RAISE NOTICE 'customer % % a member of segment "%" at its last refresh, and % now',
                     customer_key, CASE WHEN was THEN 'was' ELSE 'was not' END, name,
                     CASE WHEN now_member THEN 'would be' ELSE 'would not be' END
            USING DETAIL = format('The last refresh was at %s; the data changed since.', s.refreshed_at),
                  HINT = 'segment.refresh() brings the members up to date.';
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@.explain_membership(text, anyelement) IS 'explain_membership() of a saved segment''s rule now; a NOTICE when the last refresh decided otherwise';

CREATE FUNCTION @extschema@.condition_counts(rule @extschema@.segment_rule, as_of timestamptz DEFAULT now())
RETURNS TABLE(path text, condition text, members bigint, "running" bigint)
    AS 'MODULE_PATHNAME', 'segment_condition_counts' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.condition_counts(@extschema@.segment_rule, timestamptz) IS 'per node of the rule (root first): the customers satisfying it alone, and the running count as its parent''s conditions combine in rule order';
