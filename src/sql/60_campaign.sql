--------------------------------------------------------------------------
-- Campaign building blocks on audiences
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.sample(@extschema@.audience, n bigint, seed integer DEFAULT 0)
RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_sample' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sample(@extschema@.audience, bigint, integer) IS 'exactly n members drawn uniformly (deterministic for a seed); the whole audience when n exceeds it';

CREATE FUNCTION @extschema@.sample_fraction(@extschema@.audience, fraction float8, seed integer DEFAULT 0)
RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_sample_fraction' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sample_fraction(@extschema@.audience, float8, integer) IS 'each member kept with the given probability, decided by a hash of member and seed';

CREATE FUNCTION @extschema@.split(@extschema@.audience, weights float8[], seed integer DEFAULT 0)
RETURNS @extschema@.audience[]
    AS 'MODULE_PATHNAME', 'audience_split' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.split(@extschema@.audience, float8[], integer) IS 'disjoint A/B arms in proportion to the weights; a customer''s arm depends only on the customer and the seed';

CREATE FUNCTION @extschema@.dedupe(@extschema@.audience[])
RETURNS @extschema@.audience[]
    AS 'MODULE_PATHNAME', 'audience_dedupe' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.dedupe(@extschema@.audience[]) IS 'each customer kept only in the first (highest-priority) audience holding it';

-- Successive intersections: covered -> notified -> visited -> paid.
-- A NULL step holds nobody.  rate is members / members of the previous step
-- (1 for the first step, NULL after an empty step).
CREATE FUNCTION @extschema@.funnel(VARIADIC steps @extschema@.audience[])
RETURNS TABLE(step integer, members bigint, rate float8)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    cur @extschema@.audience;
    prev bigint;
BEGIN
    FOR i IN 1 .. coalesce(array_length(steps, 1), 0) LOOP
        cur := CASE WHEN i = 1 THEN coalesce(steps[i], '{}'::@extschema@.audience)
                    ELSE cur OPERATOR(@extschema@.&) coalesce(steps[i], '{}'::@extschema@.audience) END;
        step := i;
        members := @extschema@.cardinality(cur);
        rate := CASE WHEN i = 1 THEN 1.0 WHEN prev = 0 THEN NULL ELSE members::float8 / prev END;
        prev := members;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.funnel(@extschema@.audience[]) IS 'members remaining at each step of successive intersections, with the step-to-step rate';

CREATE FUNCTION @extschema@.overlap(a @extschema@.audience, b @extschema@.audience,
    OUT a_members bigint, OUT b_members bigint, OUT both_members bigint,
    OUT only_a bigint, OUT only_b bigint, OUT jaccard float8)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ca, cb, ab, ca - ab, cb - ab, CASE WHEN ca + cb - ab = 0 THEN 1.0 ELSE ab::float8 / (ca + cb - ab) END
    FROM (SELECT @extschema@.cardinality(a) ca, @extschema@.cardinality(b) cb,
                 @extschema@.intersect_cardinality(a, b) ab) s
$$;
COMMENT ON FUNCTION @extschema@.overlap(@extschema@.audience, @extschema@.audience) IS 'sizes of a, b, their intersection and differences, and their Jaccard similarity';
