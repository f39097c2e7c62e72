--------------------------------------------------------------------------
-- The audience type: a set of customer ordinals (a roaring bitmap)
--------------------------------------------------------------------------

CREATE TYPE @extschema@.audience;

CREATE FUNCTION @extschema@.audience_in(cstring) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_in(cstring) IS 'input function of type audience: parses ''{1,2,5-9}'' text';
CREATE FUNCTION @extschema@.audience_out(@extschema@.audience) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_out(@extschema@.audience) IS 'output function of type audience: members as ascending text, runs folded into ranges';
CREATE FUNCTION @extschema@.audience_recv(internal) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_recv(internal) IS 'binary input function of type audience (CRoaring portable bytes)';
CREATE FUNCTION @extschema@.audience_send(@extschema@.audience) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_send(@extschema@.audience) IS 'binary output function of type audience (CRoaring portable bytes)';

CREATE TYPE @extschema@.audience (
    INPUT = @extschema@.audience_in,
    OUTPUT = @extschema@.audience_out,
    RECEIVE = @extschema@.audience_recv,
    SEND = @extschema@.audience_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE @extschema@.audience IS 'set of customer ordinals stored as a compressed roaring bitmap';

-- Constructors and conversions ------------------------------------------

CREATE FUNCTION @extschema@.audience(integer[]) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_from_int4_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience(integer[]) IS 'audience of the array''s ids (NULL elements skipped)';

CREATE FUNCTION @extschema@.audience(bigint[]) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_from_int8_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience(bigint[]) IS 'audience of the array''s ids, 0 to 4294967295 (NULL elements skipped)';

CREATE FUNCTION @extschema@.to_array(@extschema@.audience) RETURNS integer[]
    AS 'MODULE_PATHNAME', 'audience_to_int4_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.to_array(@extschema@.audience) IS 'members as an ascending integer array';

CREATE FUNCTION @extschema@.to_bigint_array(@extschema@.audience) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'audience_to_int8_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.to_bigint_array(@extschema@.audience) IS 'members as an ascending bigint array';

-- Planner support: a constant audience's ids() are estimated at its cardinality.
CREATE FUNCTION @extschema@._ids_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'audience_ids_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.ids(@extschema@.audience) RETURNS SETOF integer
    AS 'MODULE_PATHNAME', 'audience_ids' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000
    SUPPORT @extschema@._ids_support;
COMMENT ON FUNCTION @extschema@.ids(@extschema@.audience) IS 'members as rows, ascending';

CREATE FUNCTION @extschema@.ids_bigint(@extschema@.audience) RETURNS SETOF bigint
    AS 'MODULE_PATHNAME', 'audience_ids_bigint' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000
    SUPPORT @extschema@._ids_support;
COMMENT ON FUNCTION @extschema@.ids_bigint(@extschema@.audience) IS 'members as bigint rows, ascending';

CREATE FUNCTION @extschema@.audience_from_bytea(bytea) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_from_bytea(bytea) IS 'validates CRoaring portable bytes as an audience';

CREATE CAST (integer[] AS @extschema@.audience)
    WITH FUNCTION @extschema@.audience(integer[]);
CREATE CAST (bigint[] AS @extschema@.audience)
    WITH FUNCTION @extschema@.audience(bigint[]);
CREATE CAST (@extschema@.audience AS integer[])
    WITH FUNCTION @extschema@.to_array(@extschema@.audience);
CREATE CAST (@extschema@.audience AS bigint[])
    WITH FUNCTION @extschema@.to_bigint_array(@extschema@.audience);
-- The stored bytes are the portable serialization, so this way needs no work.
CREATE CAST (@extschema@.audience AS bytea) WITHOUT FUNCTION;
CREATE CAST (bytea AS @extschema@.audience)
    WITH FUNCTION @extschema@.audience_from_bytea(bytea);

-- Scalar functions -------------------------------------------------------

-- Planner support: cardinality(a & b), (a | b), (a - b), (a # b) become the
-- matching *_cardinality(a, b) call, which never builds the set.
CREATE FUNCTION @extschema@._cardinality_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'audience_cardinality_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION @extschema@._cardinality_support(internal) FROM PUBLIC;

CREATE FUNCTION @extschema@.cardinality(@extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    SUPPORT @extschema@._cardinality_support;
COMMENT ON FUNCTION @extschema@.cardinality(@extschema@.audience) IS 'number of members';

CREATE FUNCTION @extschema@.is_empty(@extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME', 'audience_is_empty' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_empty(@extschema@.audience) IS 'true when the audience has no member';

CREATE FUNCTION @extschema@.min(@extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_min' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.min(@extschema@.audience) IS 'smallest member, NULL when empty';

CREATE FUNCTION @extschema@.max(@extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.max(@extschema@.audience) IS 'largest member, NULL when empty';

CREATE FUNCTION @extschema@.range(@extschema@.audience, lo bigint, hi bigint) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_range' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.range(@extschema@.audience, bigint, bigint) IS 'members between lo and hi inclusive';

-- Positions, for handing an audience to another system page by page
-- (src/audience_paging.c).
CREATE FUNCTION @extschema@.rank(@extschema@.audience, x bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_rank' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rank(@extschema@.audience, bigint) IS 'how many members are less than or equal to x';

CREATE FUNCTION @extschema@.slice(@extschema@.audience, "offset" bigint, "limit" bigint) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_slice' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.slice(@extschema@.audience, bigint, bigint) IS 'the members at 0-based positions offset .. offset + limit - 1';

CREATE FUNCTION @extschema@.page(@extschema@.audience, after bigint, "limit" integer) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_page' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.page(@extschema@.audience, bigint, integer) IS 'the first limit members greater than after (keyset paging; -1 for the first page)';

CREATE FUNCTION @extschema@.jaccard(@extschema@.audience, @extschema@.audience) RETURNS float8
    AS 'MODULE_PATHNAME', 'audience_jaccard' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jaccard(@extschema@.audience, @extschema@.audience) IS 'Jaccard similarity |a & b| / |a | b| (1 for two empty audiences)';

CREATE FUNCTION @extschema@.intersect_cardinality(@extschema@.audience, @extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_intersect_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.intersect_cardinality(@extschema@.audience, @extschema@.audience) IS 'cardinality(a & b) without building a & b';

CREATE FUNCTION @extschema@.union_cardinality(@extschema@.audience, @extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_union_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.union_cardinality(@extschema@.audience, @extschema@.audience) IS 'cardinality(a | b) without building a | b';

CREATE FUNCTION @extschema@.except_cardinality(@extschema@.audience, @extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_except_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.except_cardinality(@extschema@.audience, @extschema@.audience) IS 'cardinality(a - b) without building a - b';

CREATE FUNCTION @extschema@.xor_cardinality(@extschema@.audience, @extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_xor_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.xor_cardinality(@extschema@.audience, @extschema@.audience) IS 'cardinality(a # b) without building a # b';

CREATE FUNCTION @extschema@.add(@extschema@.audience, bigint) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.add(@extschema@.audience, bigint) IS 'the audience with one more member';

CREATE FUNCTION @extschema@.remove(@extschema@.audience, bigint) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_remove' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.remove(@extschema@.audience, bigint) IS 'the audience without one member';

-- Operators ------------------------------------------------------------

CREATE FUNCTION @extschema@.audience_union(@extschema@.audience, @extschema@.audience) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_union(@extschema@.audience, @extschema@.audience) IS 'implementation of the | operator: union of two audiences';
CREATE FUNCTION @extschema@.audience_intersect(@extschema@.audience, @extschema@.audience) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_intersect(@extschema@.audience, @extschema@.audience) IS 'implementation of the & operator: intersection of two audiences';
CREATE FUNCTION @extschema@.audience_except(@extschema@.audience, @extschema@.audience) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_except(@extschema@.audience, @extschema@.audience) IS 'implementation of the - operator: members of a not in b';
CREATE FUNCTION @extschema@.audience_xor(@extschema@.audience, @extschema@.audience) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_xor(@extschema@.audience, @extschema@.audience) IS 'implementation of the # operator: members of exactly one of the audiences';
CREATE FUNCTION @extschema@.audience_contains_audience(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_contains_audience(@extschema@.audience, @extschema@.audience) IS 'implementation of the @> operator: true when a holds every member of b';
CREATE FUNCTION @extschema@.audience_contained_by(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_contained_by(@extschema@.audience, @extschema@.audience) IS 'implementation of the <@ operator: true when every member of a is in b';
CREATE FUNCTION @extschema@.audience_overlaps(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_overlaps(@extschema@.audience, @extschema@.audience) IS 'implementation of the && operator: true when the audiences share a member';
CREATE FUNCTION @extschema@.audience_contains_int4(@extschema@.audience, integer) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_contains_int4(@extschema@.audience, integer) IS 'implementation of the audience @> integer operator: true when the id is a member';
CREATE FUNCTION @extschema@.audience_int4_contained_by(integer, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_int4_contained_by(integer, @extschema@.audience) IS 'implementation of the integer <@ audience operator: true when the id is a member';
CREATE FUNCTION @extschema@.audience_contains_int8(@extschema@.audience, bigint) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_contains_int8(@extschema@.audience, bigint) IS 'implementation of the audience @> bigint operator: true when the id is a member';
CREATE FUNCTION @extschema@.audience_eq(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_eq(@extschema@.audience, @extschema@.audience) IS 'implementation of the = operator: true when the audiences have the same members';
CREATE FUNCTION @extschema@.audience_ne(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_ne(@extschema@.audience, @extschema@.audience) IS 'implementation of the <> operator: true when the audiences differ';
CREATE FUNCTION @extschema@.audience_hash(@extschema@.audience) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_hash(@extschema@.audience) IS 'hash of an audience''s members (hash operator class, GROUP BY, DISTINCT)';

CREATE OPERATOR @extschema@.| (LEFTARG = @extschema@.audience, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_union, COMMUTATOR = OPERATOR(@extschema@.|));
CREATE OPERATOR @extschema@.& (LEFTARG = @extschema@.audience, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_intersect, COMMUTATOR = OPERATOR(@extschema@.&));
CREATE OPERATOR @extschema@.- (LEFTARG = @extschema@.audience, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_except);
CREATE OPERATOR @extschema@.# (LEFTARG = @extschema@.audience, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_xor, COMMUTATOR = OPERATOR(@extschema@.#));
CREATE OPERATOR @extschema@.@> (LEFTARG = @extschema@.audience, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_contains_audience, COMMUTATOR = OPERATOR(@extschema@.<@),
    RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR @extschema@.<@ (LEFTARG = @extschema@.audience, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_contained_by, COMMUTATOR = OPERATOR(@extschema@.@>),
    RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR @extschema@.&& (LEFTARG = @extschema@.audience, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_overlaps, COMMUTATOR = OPERATOR(@extschema@.&&),
    RESTRICT = areasel, JOIN = areajoinsel);
-- Selectivity of "column is a member of a constant audience".
CREATE FUNCTION @extschema@._member_sel(internal, oid, internal, integer) RETURNS float8
    AS 'MODULE_PATHNAME', 'audience_member_sel' LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE OPERATOR @extschema@.@> (LEFTARG = @extschema@.audience, RIGHTARG = integer,
    FUNCTION = @extschema@.audience_contains_int4, COMMUTATOR = OPERATOR(@extschema@.<@),
    RESTRICT = @extschema@._member_sel, JOIN = contjoinsel);
CREATE OPERATOR @extschema@.<@ (LEFTARG = integer, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_int4_contained_by, COMMUTATOR = OPERATOR(@extschema@.@>),
    RESTRICT = @extschema@._member_sel, JOIN = contjoinsel);
CREATE OPERATOR @extschema@.@> (LEFTARG = @extschema@.audience, RIGHTARG = bigint,
    FUNCTION = @extschema@.audience_contains_int8,
    RESTRICT = @extschema@._member_sel, JOIN = contjoinsel);
CREATE OPERATOR @extschema@.= (LEFTARG = @extschema@.audience, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_eq, COMMUTATOR = OPERATOR(@extschema@.=),
    NEGATOR = OPERATOR(@extschema@.<>), RESTRICT = eqsel, JOIN = eqjoinsel,
    HASHES);
CREATE OPERATOR @extschema@.<> (LEFTARG = @extschema@.audience, RIGHTARG = @extschema@.audience,
    FUNCTION = @extschema@.audience_ne, COMMUTATOR = OPERATOR(@extschema@.<>),
    NEGATOR = OPERATOR(@extschema@.=), RESTRICT = neqsel, JOIN = neqjoinsel);

CREATE OPERATOR CLASS @extschema@.audience_hash_ops
    DEFAULT FOR TYPE @extschema@.audience USING hash AS
        OPERATOR 1 @extschema@.= ,
        FUNCTION 1 @extschema@.audience_hash(@extschema@.audience);

-- Aggregates -----------------------------------------------------------
-- Transition functions are not STRICT: the state is internal and created on
-- the first non-NULL input, and NULL inputs are skipped.

CREATE FUNCTION @extschema@.audience_agg_trans(internal, integer) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_agg_trans(internal, integer) IS 'transition function of audience_agg(integer): adds an id to the state';
CREATE FUNCTION @extschema@.audience_agg_trans_int8(internal, bigint) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_agg_trans_int8(internal, bigint) IS 'transition function of audience_agg(bigint): adds an id to the state';
CREATE FUNCTION @extschema@.audience_union_trans(internal, @extschema@.audience) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_union_trans(internal, @extschema@.audience) IS 'transition function of union_agg: adds an audience''s members to the state';
CREATE FUNCTION @extschema@.audience_intersect_trans(internal, @extschema@.audience) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_intersect_trans(internal, @extschema@.audience) IS 'transition function of intersect_agg: keeps the state''s members that are in an audience';
CREATE FUNCTION @extschema@.audience_union_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_union_combine(internal, internal) IS 'combine function of audience_agg and union_agg: union of two partial states';
CREATE FUNCTION @extschema@.audience_intersect_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_intersect_combine(internal, internal) IS 'combine function of intersect_agg: intersection of two partial states';
CREATE FUNCTION @extschema@.audience_state_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_state_serialize(internal) IS 'serialize function of the audience aggregates: a partial state as bytes for parallel workers';
CREATE FUNCTION @extschema@.audience_state_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_state_deserialize(bytea, internal) IS 'deserialize function of the audience aggregates: a partial state from its bytes';
CREATE FUNCTION @extschema@.audience_agg_final(internal) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_agg_final(internal) IS 'final function of the audience aggregates: the state as an audience (NULL when no input was seen)';

CREATE AGGREGATE @extschema@.audience_agg(integer) (
    SFUNC = @extschema@.audience_agg_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.audience_agg_final,
    COMBINEFUNC = @extschema@.audience_union_combine,
    SERIALFUNC = @extschema@.audience_state_serialize,
    DESERIALFUNC = @extschema@.audience_state_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.audience_agg(integer) IS 'audience of the non-NULL ids (NULL when there are none)';

CREATE AGGREGATE @extschema@.audience_agg(bigint) (
    SFUNC = @extschema@.audience_agg_trans_int8,
    STYPE = internal,
    FINALFUNC = @extschema@.audience_agg_final,
    COMBINEFUNC = @extschema@.audience_union_combine,
    SERIALFUNC = @extschema@.audience_state_serialize,
    DESERIALFUNC = @extschema@.audience_state_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.audience_agg(bigint) IS 'audience of the non-NULL ids, 0 to 4294967295 (NULL when there are none)';

CREATE AGGREGATE @extschema@.union_agg(@extschema@.audience) (
    SFUNC = @extschema@.audience_union_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.audience_agg_final,
    COMBINEFUNC = @extschema@.audience_union_combine,
    SERIALFUNC = @extschema@.audience_state_serialize,
    DESERIALFUNC = @extschema@.audience_state_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.union_agg(@extschema@.audience) IS 'union of the non-NULL audiences (NULL when there are none)';

CREATE AGGREGATE @extschema@.intersect_agg(@extschema@.audience) (
    SFUNC = @extschema@.audience_intersect_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.audience_agg_final,
    COMBINEFUNC = @extschema@.audience_intersect_combine,
    SERIALFUNC = @extschema@.audience_state_serialize,
    DESERIALFUNC = @extschema@.audience_state_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.intersect_agg(@extschema@.audience) IS 'intersection of the non-NULL audiences (NULL when there are none)';
