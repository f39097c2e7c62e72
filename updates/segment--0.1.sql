-- segment: customer segmentation inside PostgreSQL.
-- This script is assembled from src/sql/*.sql, one file per feature.

\echo Use "CREATE EXTENSION segment" to load this file. \quit
--------------------------------------------------------------------------
-- The audience type: a set of customer ordinals (a roaring bitmap)
--------------------------------------------------------------------------

CREATE TYPE @extschema@.audience;

CREATE FUNCTION @extschema@.audience_in(cstring) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_out(@extschema@.audience) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_recv(internal) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_send(@extschema@.audience) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

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

CREATE FUNCTION @extschema@.cardinality(@extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
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

CREATE FUNCTION @extschema@.jaccard(@extschema@.audience, @extschema@.audience) RETURNS float8
    AS 'MODULE_PATHNAME', 'audience_jaccard' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jaccard(@extschema@.audience, @extschema@.audience) IS 'Jaccard similarity |a & b| / |a | b| (1 for two empty audiences)';

CREATE FUNCTION @extschema@.intersect_cardinality(@extschema@.audience, @extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_intersect_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.intersect_cardinality(@extschema@.audience, @extschema@.audience) IS 'cardinality(a & b) without building a & b';

CREATE FUNCTION @extschema@.union_cardinality(@extschema@.audience, @extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_union_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.union_cardinality(@extschema@.audience, @extschema@.audience) IS 'cardinality(a | b) without building a | b';

CREATE FUNCTION @extschema@.add(@extschema@.audience, bigint) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.add(@extschema@.audience, bigint) IS 'the audience with one more member';

CREATE FUNCTION @extschema@.remove(@extschema@.audience, bigint) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_remove' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.remove(@extschema@.audience, bigint) IS 'the audience without one member';

-- Operators ------------------------------------------------------------

CREATE FUNCTION @extschema@.audience_union(@extschema@.audience, @extschema@.audience) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_intersect(@extschema@.audience, @extschema@.audience) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_except(@extschema@.audience, @extschema@.audience) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_xor(@extschema@.audience, @extschema@.audience) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_contains_audience(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_contained_by(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_overlaps(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_contains_int4(@extschema@.audience, integer) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_int4_contained_by(integer, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_contains_int8(@extschema@.audience, bigint) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_eq(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_ne(@extschema@.audience, @extschema@.audience) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_hash(@extschema@.audience) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

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
CREATE FUNCTION @extschema@.audience_agg_trans_int8(internal, bigint) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_union_trans(internal, @extschema@.audience) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_intersect_trans(internal, @extschema@.audience) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_union_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_intersect_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_state_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_state_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.audience_agg_final(internal) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

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
--------------------------------------------------------------------------
-- Registry: the application's customer table and event sources
--------------------------------------------------------------------------

-- The time zone of calendar days: segment.timezone, else the session's.
CREATE FUNCTION @extschema@._zone() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(pg_catalog.current_setting('segment.timezone', true), ''),
                    pg_catalog.current_setting('TimeZone'))
$$;

-- Roles allowed to act for a tenant (segment.grant_tenant).  While the
-- table is empty any role may choose any tenant with segment.tenant; once a
-- tenant has grants, only members of its roles (and superusers and
-- BYPASSRLS roles) may.
CREATE TABLE @extschema@.tenant_roles (
    tenant    text NOT NULL CHECK (tenant <> ''),
    role_name name NOT NULL,
    PRIMARY KEY (tenant, role_name)
);
COMMENT ON TABLE @extschema@.tenant_roles IS 'roles allowed to set segment.tenant to a tenant (see segment.grant_tenant)';

-- Whether role "who" may act for tenant t.  SECURITY DEFINER: tenant roles
-- cannot read tenant_roles themselves.
CREATE FUNCTION @extschema@._tenant_granted(t text, who name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT NOT EXISTS (SELECT FROM @extschema@.tenant_roles)
        OR EXISTS (SELECT FROM pg_roles r WHERE r.rolname = who AND (r.rolsuper OR r.rolbypassrls))
        OR EXISTS (SELECT FROM @extschema@.tenant_roles g
                   WHERE g.tenant = t AND pg_has_role(who, g.role_name, 'MEMBER'))
$$;

-- The current tenant: segment.tenant, checked.  '' when the registry has no
-- tenant column; an error when one is registered and the setting is empty,
-- or when the current role was not granted the tenant.
CREATE FUNCTION @extschema@._tenant() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    t text := coalesce(pg_catalog.current_setting('segment.tenant', true), '');
BEGIN
    IF t = '' THEN
        IF EXISTS (SELECT FROM @extschema@.customer_registry WHERE tenant_column IS NOT NULL) THEN
            RAISE EXCEPTION 'segment.tenant is not set'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'The customer table was registered with a tenant column.',
                      HINT = 'SET segment.tenant = ''...'' to choose the tenant.';
        END IF;
        RETURN '';
    END IF;
    IF NOT @extschema@._tenant_granted(t, current_user) THEN
        RAISE EXCEPTION 'permission denied for tenant "%"', t
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A superuser grants tenants to roles with segment.grant_tenant().';
    END IF;
    RETURN t;
END $$;

-- The customer table.  One row at most (the universe of every rule).
CREATE TABLE @extschema@.customer_registry (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    rel           regclass NOT NULL,
    key_column    name NOT NULL,
    key_type      regtype NOT NULL,
    -- 'direct': integer keys in [0, 2^32) are their own ordinals;
    -- 'dictionary': ordinals come from @extschema@.customer_ordinals
    ordinal_mode  text NOT NULL CHECK (ordinal_mode IN ('direct', 'dictionary')),
    tenant_column name,
    registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.customer_registry IS 'the registered customer table (see segment.register_customers)';

-- Event sources usable in rules: orders, messages, clicks...
CREATE TABLE @extschema@.sources (
    name            text PRIMARY KEY,
    rel             regclass NOT NULL,
    customer_column name NOT NULL,
    time_column     name NOT NULL,
    registered_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND name NOT IN ('customer'))
);
COMMENT ON TABLE @extschema@.sources IS 'registered event sources (see segment.register_source)';

-- Number of saved segments; the segments catalog arrives later in the script.
CREATE FUNCTION @extschema@._segment_count() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n bigint := 0;
BEGIN
    IF to_regclass('@extschema@.segments') IS NOT NULL THEN
        EXECUTE 'SELECT count(*) FROM @extschema@.segments' INTO n;
    END IF;
    RETURN n;
END $$;

-- Columns of a relation as "name type" for hints.
CREATE FUNCTION @extschema@._columns_hint(rel regclass) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT 'Columns of ' || rel::text || ': ' ||
           coalesce(string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum), '(none)') || '.'
    FROM pg_catalog.pg_attribute
    WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped
$$;

-- The type of a column, or an error naming the columns that exist.
CREATE FUNCTION @extschema@._column_type(rel regclass, col name, what text) RETURNS regtype
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t regtype;
BEGIN
    IF col IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT atttypid INTO t FROM pg_catalog.pg_attribute
    WHERE attrelid = rel AND attname = col AND attnum > 0 AND NOT attisdropped;
    IF t IS NULL THEN
        RAISE EXCEPTION 'column "%" does not exist in %', col, rel
            USING ERRCODE = 'undefined_column', HINT = @extschema@._columns_hint(rel);
    END IF;
    RETURN t;
END $$;

-- Refuses relations rules cannot read (sequences, indexes, composite types).
CREATE FUNCTION @extschema@._check_readable(rel regclass) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    kind "char";
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT relkind INTO kind FROM pg_catalog.pg_class WHERE oid = rel;
    IF kind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
        RAISE EXCEPTION '"%" is not a table, view, materialized view or foreign table', rel
            USING ERRCODE = 'wrong_object_type';
    END IF;
END $$;

-- Integer types whose values can be used directly as ordinals.
CREATE FUNCTION @extschema@._is_integer_type(t regtype) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT t IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
$$;

-- The dense ordinal dictionary for non-integer keys, created with the key's type.
CREATE SEQUENCE @extschema@.customer_ordinal_seq AS bigint MINVALUE 0 MAXVALUE 4294967295 START 0 NO CYCLE;

-- Adds keys of new customers to the dictionary (statement-level, once per statement).
CREATE FUNCTION @extschema@._dictionary_add() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    reg @extschema@.customer_registry;
BEGIN
    SELECT * INTO reg FROM @extschema@.customer_registry;
    EXECUTE format('INSERT INTO @extschema@.customer_ordinals (key)
                    SELECT DISTINCT n.%1$I FROM new_rows n WHERE n.%1$I IS NOT NULL
                    ON CONFLICT (key) DO NOTHING', reg.key_column);
    RETURN NULL;
END $$;

-- Rejects integer keys outside [0, 2^32), which cannot be ordinals.
CREATE FUNCTION @extschema@._direct_key_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    reg @extschema@.customer_registry;
    bad text;
BEGIN
    SELECT * INTO reg FROM @extschema@.customer_registry;
    EXECUTE format('SELECT n.%1$I::text FROM new_rows n WHERE n.%1$I < 0 OR n.%1$I > 4294967295 LIMIT 1',
                   reg.key_column) INTO bad;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'customer key % is outside the range of ordinals', bad
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = 'Integer customer keys are used directly as ordinals between 0 and 4294967295.';
    END IF;
    RETURN NULL;
END $$;

-- Drops the key-typed views (they depend on the dictionary).
CREATE FUNCTION @extschema@._drop_views() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['customer_tags', 'membership'] LOOP
        IF to_regclass('@extschema@.' || v) IS NOT NULL THEN
            EXECUTE format('DROP VIEW @extschema@.%I', v);
        END IF;
    END LOOP;
END $$;

-- Drops what a previous registration installed on its customer table.
CREATE FUNCTION @extschema@._unregister_customer_objects() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    reg @extschema@.customer_registry;
    trg name;
BEGIN
    SELECT * INTO reg FROM @extschema@.customer_registry;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM @extschema@._drop_views();
    FOR trg IN SELECT tgname FROM pg_catalog.pg_trigger
               WHERE tgrelid = reg.rel AND tgname IN ('segment_dictionary_add', 'segment_dictionary_upd',
                                                       'segment_key_check', 'segment_key_check_upd')
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trg, reg.rel);
    END LOOP;
    IF to_regclass('@extschema@.customer_ordinals') IS NOT NULL THEN
        DROP TABLE @extschema@.customer_ordinals;
    END IF;
    DELETE FROM @extschema@.customer_registry;
END $$;

CREATE FUNCTION @extschema@.register_customers(rel regclass, key_column name, tenant_column name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    ktype regtype;
    mode text;
    old @extschema@.customer_registry;
    bad text;
    is_table boolean;
BEGIN
    PERFORM @extschema@._check_readable(rel);
    ktype := @extschema@._column_type(rel, key_column, 'key column');
    IF tenant_column IS NOT NULL THEN
        PERFORM @extschema@._column_type(rel, tenant_column, 'tenant column');
    END IF;
    IF @extschema@._is_integer_type(ktype) THEN
        mode := 'direct';
        EXECUTE format('SELECT %1$I::text FROM %2$s WHERE %1$I < 0 OR %1$I > 4294967295 LIMIT 1', key_column, rel) INTO bad;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'customer key % is outside the range of ordinals', bad
                USING ERRCODE = 'numeric_value_out_of_range',
                      DETAIL = 'Integer customer keys are used directly as ordinals between 0 and 4294967295.';
        END IF;
    ELSIF NOT EXISTS (SELECT FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod
                      WHERE a.amname = 'btree' AND c.opcdefault AND c.opcintype = ktype) THEN
        RAISE EXCEPTION 'customer key column "%" has type %, which cannot be a key', key_column, ktype
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Use an integer, bigint, uuid or text key column.';
    ELSE
        mode := 'dictionary';
    END IF;

    SELECT * INTO old FROM @extschema@.customer_registry;
    IF FOUND AND (old.key_type <> ktype OR old.rel <> rel OR old.key_column <> key_column)
       AND @extschema@._segment_count() > 0 THEN
        RAISE EXCEPTION 'cannot change the customer registration while segments exist'
            USING ERRCODE = 'object_in_use',
                  HINT = 'Drop the segments first, or register the same table and key again.';
    END IF;
    SELECT string_agg(format('%s (%s.%s)', s.name, s.rel, s.customer_column), ', ' ORDER BY s.name) INTO bad
    FROM @extschema@.sources s
    JOIN pg_catalog.pg_attribute a ON a.attrelid = s.rel AND a.attname = s.customer_column
    WHERE NOT (a.atttypid = ktype OR (mode = 'direct' AND @extschema@._is_integer_type(a.atttypid)));
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'registered sources do not match the type % of the new customer key', ktype
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'Mismatched sources: ' || bad || '.',
                  HINT = 'Unregister them with segment.unregister_source() first.';
    END IF;
    PERFORM @extschema@._unregister_customer_objects();

    INSERT INTO @extschema@.customer_registry (rel, key_column, key_type, ordinal_mode, tenant_column)
    VALUES (rel, key_column, ktype, mode, tenant_column);

    SELECT relkind IN ('r', 'p') INTO is_table FROM pg_catalog.pg_class WHERE oid = rel;
    IF mode = 'dictionary' THEN
        EXECUTE format('CREATE TABLE @extschema@.customer_ordinals (
                            ordinal bigint PRIMARY KEY DEFAULT nextval(''@extschema@.customer_ordinal_seq''),
                            key %s NOT NULL UNIQUE)', ktype);
        EXECUTE format('INSERT INTO @extschema@.customer_ordinals (key)
                        SELECT %1$I FROM %2$s WHERE %1$I IS NOT NULL GROUP BY 1 ORDER BY 1
                        ON CONFLICT (key) DO NOTHING', key_column, rel);
        IF is_table THEN
            EXECUTE format('CREATE TRIGGER segment_dictionary_add AFTER INSERT ON %s
                            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                            EXECUTE FUNCTION @extschema@._dictionary_add()', rel);
            EXECUTE format('CREATE TRIGGER segment_dictionary_upd AFTER UPDATE ON %s
                            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                            EXECUTE FUNCTION @extschema@._dictionary_add()', rel);
        END IF;
    ELSIF is_table AND ktype = 'bigint'::regtype THEN
        EXECUTE format('CREATE TRIGGER segment_key_check AFTER INSERT ON %s
                        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                        EXECUTE FUNCTION @extschema@._direct_key_check()', rel);
        EXECUTE format('CREATE TRIGGER segment_key_check_upd AFTER UPDATE ON %s
                        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                        EXECUTE FUNCTION @extschema@._direct_key_check()', rel);
    END IF;
    IF to_regprocedure('@extschema@._rebuild_views()') IS NOT NULL THEN
        PERFORM @extschema@._rebuild_views();
    END IF;
END $$;
-- (Re)creates the views whose customer_key column has the registered key
-- type, so BI tools can join them to the customer table.  They are
-- ordinary views (not extension members) so pg_dump keeps their real type.
CREATE FUNCTION @extschema@._rebuild_views() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    reg @extschema@.customer_registry;
    key_expr text;
    key_join text := '';
    r record;
BEGIN
    PERFORM @extschema@._drop_views();
    SELECT * INTO reg FROM @extschema@.customer_registry;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF reg.ordinal_mode = 'direct' THEN
        key_expr := format('m.ordinal::%s', reg.key_type);
    ELSE
        key_expr := 'o.key';
        key_join := 'JOIN @extschema@.customer_ordinals o ON o.ordinal = m.ordinal';
    END IF;
    EXECUTE format($v$
        CREATE VIEW @extschema@.customer_tags AS
        SELECT %s AS customer_key, g.name AS group_name, t.value, m.source, m.tagged_at
        FROM @extschema@.tag_members m
        JOIN @extschema@.tags t ON t.id = m.tag_id AND t.enabled
        JOIN @extschema@.tag_groups g ON g.id = t.group_id AND g.enabled
             AND g.tenant = @extschema@._tenant()
        %s$v$, key_expr, key_join);
    COMMENT ON VIEW @extschema@.customer_tags IS 'tags held by customers (enabled groups and values of the current tenant)';
    EXECUTE format($v$
        CREATE VIEW @extschema@.membership AS
        SELECT s.name AS segment_name, %s AS customer_key
        FROM @extschema@.segments s
        CROSS JOIN LATERAL @extschema@.ids_bigint(coalesce(s.members, '{}')) AS m(ordinal)
        %s
        WHERE s.tenant = @extschema@._tenant()$v$, key_expr, key_join);
    COMMENT ON VIEW @extschema@.membership IS 'members of every saved segment at its last refresh, by customer key';
    -- the views are new objects: give the tenant roles their privileges back
    FOR r IN SELECT DISTINCT role_name FROM @extschema@.tenant_roles LOOP
        EXECUTE format('GRANT SELECT ON @extschema@.membership, @extschema@.customer_tags TO %I', r.role_name);
        IF reg.ordinal_mode = 'dictionary' THEN
            EXECUTE format('GRANT SELECT ON @extschema@.customer_ordinals TO %I', r.role_name);
        END IF;
    END LOOP;
END $$;

COMMENT ON FUNCTION @extschema@.register_customers(regclass, name, name) IS 'registers the customer table: the universe of every rule';

CREATE FUNCTION @extschema@.unregister_customers() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF @extschema@._segment_count() > 0 THEN
        RAISE EXCEPTION 'cannot unregister the customer table while segments exist'
            USING ERRCODE = 'object_in_use', HINT = 'Drop the segments first.';
    END IF;
    PERFORM @extschema@._unregister_customer_objects();
    PERFORM @extschema@._rebuild_views();
END $$;
COMMENT ON FUNCTION @extschema@.unregister_customers() IS 'removes the customer registration and its key dictionary';

CREATE FUNCTION @extschema@.register_source(name text, rel regclass, customer_column name, time_column name)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    reg @extschema@.customer_registry;
    ctype regtype;
    ttype regtype;
BEGIN
    IF name IS NULL OR name !~ '^[a-z_][a-z0-9_]*$' OR name = 'customer' THEN
        RAISE EXCEPTION 'invalid source name "%"', name
            USING ERRCODE = 'invalid_name',
                  HINT = 'Source names are lower-case identifiers (letters, digits, underscores) other than "customer".';
    END IF;
    SELECT * INTO reg FROM @extschema@.customer_registry;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer table is registered'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call segment.register_customers() first.';
    END IF;
    PERFORM @extschema@._check_readable(rel);
    ctype := @extschema@._column_type(rel, customer_column, 'customer column');
    ttype := @extschema@._column_type(rel, time_column, 'time column');
    IF NOT (ctype = reg.key_type OR (reg.ordinal_mode = 'direct' AND @extschema@._is_integer_type(ctype))) THEN
        RAISE EXCEPTION 'customer column "%" of % has type %, but the customer key % has type %',
                customer_column, rel, ctype, reg.key_column, reg.key_type
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    IF ttype NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
        RAISE EXCEPTION 'time column "%" of % has type %, not a date or timestamp', time_column, rel, ttype
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    INSERT INTO @extschema@.sources AS s (name, rel, customer_column, time_column)
    VALUES (register_source.name, rel, customer_column, time_column)
    ON CONFLICT ON CONSTRAINT sources_pkey DO UPDATE
        SET rel = excluded.rel, customer_column = excluded.customer_column,
            time_column = excluded.time_column, registered_at = now();
    -- a re-registered source may live in another table now
    IF to_regprocedure('@extschema@._sync_triggers()') IS NOT NULL THEN
        PERFORM @extschema@._sync_triggers();
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@.register_source(text, regclass, name, name) IS 'registers (or re-registers) an event source usable in rules';

-- A registered source, or the error every function reports for an unknown
-- one (the rule compiler's too): its name, and the sources there are.
CREATE FUNCTION @extschema@._source(name text) RETURNS @extschema@.sources
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s @extschema@.sources;
BEGIN
    SELECT * INTO s FROM @extschema@.sources x WHERE x.name = _source.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = coalesce('Registered sources: ' || (SELECT string_agg(x.name, ', ' ORDER BY x.name) FROM @extschema@.sources x) || '.',
                                  'No source is registered; use segment.register_source().');
    END IF;
    RETURN s;
END $$;

CREATE FUNCTION @extschema@.unregister_source(name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    users text;
BEGIN
    IF to_regclass('@extschema@.tags') IS NOT NULL THEN
        EXECUTE 'SELECT string_agg(DISTINCT g.name || ''-'' || t.value, '', '') FROM @extschema@.tags t
                 JOIN @extschema@.tag_groups g ON g.id = t.group_id
                 WHERE t.rule IS NOT NULL AND ''source:'' || $1 = ANY(@extschema@.rule_refs(t.rule))'
            INTO users USING name;
        IF users IS NOT NULL THEN
            RAISE EXCEPTION 'source "%" is used by auto-tagging rules', name
                USING ERRCODE = 'dependent_objects_still_exist', DETAIL = 'Rules of: ' || users || '.',
                      HINT = 'Remove those rules with segment.set_tag_rule(group, value, NULL) first.';
        END IF;
    END IF;
    PERFORM @extschema@._source(name);
    DELETE FROM @extschema@.sources s WHERE s.name = unregister_source.name;
END $$;
COMMENT ON FUNCTION @extschema@.unregister_source(text) IS 'removes an event source';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_registry', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sources', '');
--------------------------------------------------------------------------
-- segment_rule: the rule language, and time windows
--------------------------------------------------------------------------

CREATE TYPE @extschema@.segment_rule;

CREATE FUNCTION @extschema@.segment_rule_in(cstring) RETURNS @extschema@.segment_rule
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.segment_rule_out(@extschema@.segment_rule) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.segment_rule_recv(internal) RETURNS @extschema@.segment_rule
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.segment_rule_send(@extschema@.segment_rule) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

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
--------------------------------------------------------------------------
-- Saved segments: definitions, atomic refresh, history, membership
--------------------------------------------------------------------------

CREATE TABLE @extschema@.segments (
    id           bigserial PRIMARY KEY,
    tenant       text NOT NULL DEFAULT @extschema@._tenant(),
    name         text NOT NULL CHECK (btrim(name) <> ''),
    description  text,
    rule         @extschema@.segment_rule NOT NULL,
    members      @extschema@.audience,
    member_count bigint,
    max_members  bigint CHECK (max_members > 0),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'ready', 'failed')),
    last_error   text,
    entered      @extschema@.audience,   -- who entered at the last refresh
    exited       @extschema@.audience,   -- who left at the last refresh
    refreshed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, name)
);
COMMENT ON TABLE @extschema@.segments IS 'saved segments: rule, last refreshed members and status';

CREATE TABLE @extschema@.history (
    id           bigserial PRIMARY KEY,
    segment_id   bigint NOT NULL REFERENCES @extschema@.segments ON DELETE CASCADE,
    tenant       text NOT NULL DEFAULT @extschema@._tenant(),
    refreshed_at timestamptz NOT NULL,
    member_count bigint,
    entered      bigint,
    exited       bigint,
    milliseconds float8 NOT NULL,
    error        text
);
CREATE INDEX ON @extschema@.history (segment_id, refreshed_at);
COMMENT ON TABLE @extschema@.history IS 'one row per refresh of a saved segment';

-- The segment row of the current tenant, or an error listing what exists.
CREATE FUNCTION @extschema@._segment(name text) RETURNS @extschema@.segments
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s @extschema@.segments;
BEGIN
    SELECT * INTO s FROM @extschema@.segments x WHERE x.tenant = @extschema@._tenant() AND x.name = _segment.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'segment "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = coalesce('Segments: ' || (SELECT string_agg(quote_literal(x.name), ', ' ORDER BY x.name)
                                                   FROM @extschema@.segments x WHERE x.tenant = @extschema@._tenant()) || '.',
                                  'No segment exists yet; create one with segment.create_segment().');
    END IF;
    RETURN s;
END $$;

-- Rejects a rule whose IN SEGMENT references lead back to the segment itself.
CREATE FUNCTION @extschema@._check_cycles(name text, rule @extschema@.segment_rule) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    path text[];
BEGIN
    WITH RECURSIVE deps(seg, path) AS (
        SELECT d, ARRAY[name, d] FROM unnest(@extschema@.rule_segments(rule)) d
        UNION ALL
        SELECT d2, deps.path || d2
        FROM deps JOIN @extschema@.segments s ON s.tenant = @extschema@._tenant() AND s.name = deps.seg,
             unnest(@extschema@.rule_segments(s.rule)) d2
        WHERE NOT deps.seg = ANY(deps.path[1:array_length(deps.path, 1) - 1])
    )
    SELECT deps.path INTO path FROM deps WHERE deps.seg = name LIMIT 1;
    IF path IS NOT NULL THEN
        RAISE EXCEPTION 'segment "%" would depend on itself', name
            USING ERRCODE = 'invalid_recursion',
                  DETAIL = 'IN SEGMENT cycle: ' || array_to_string(path, ' -> ') || '.';
    END IF;
END $$;

CREATE FUNCTION @extschema@.create_segment(name text, rule @extschema@.segment_rule,
                                           description text DEFAULT NULL, refresh boolean DEFAULT true,
                                           max_members bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    id bigint;
    lim integer := pg_catalog.current_setting('segment.max_segments_per_tenant')::integer;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'segment name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF rule IS NULL THEN
        RAISE EXCEPTION 'segment rule must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF max_members IS NOT NULL AND max_members < 1 THEN
        RAISE EXCEPTION 'max_members must be positive, not %', max_members USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.segments s WHERE s.tenant = @extschema@._tenant() AND s.name = create_segment.name) THEN
        RAISE EXCEPTION 'segment "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    IF lim > 0 AND (SELECT count(*) FROM @extschema@.segments s WHERE s.tenant = @extschema@._tenant()) >= lim THEN
        RAISE EXCEPTION 'tenant already has % segments, the maximum', lim
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Drop unused segments, or raise segment.max_segments_per_tenant.';
    END IF;
    PERFORM @extschema@._check_cycles(name, rule);
    PERFORM @extschema@.compile(rule);      -- validates sources, columns, literals now
    INSERT INTO @extschema@.segments (name, rule, description, max_members)
    VALUES (name, rule, description, max_members)
    RETURNING segments.id INTO id;
    IF refresh THEN
        PERFORM @extschema@.refresh(name);
    END IF;
    RETURN id;
END $$;
COMMENT ON FUNCTION @extschema@.create_segment(text, @extschema@.segment_rule, text, boolean, bigint) IS 'saves a segment (validated now) and, by default, refreshes it; returns its id';

CREATE FUNCTION @extschema@.alter_segment(name text, rule @extschema@.segment_rule DEFAULT NULL,
                                          description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
BEGIN
    IF rule IS NOT NULL THEN
        PERFORM @extschema@._check_cycles(name, rule);
        PERFORM @extschema@.compile(rule);
    END IF;
    UPDATE @extschema@.segments x
    SET rule = coalesce(alter_segment.rule, x.rule),
        description = coalesce(alter_segment.description, x.description),
        status = CASE WHEN alter_segment.rule IS NOT NULL THEN 'pending' ELSE x.status END,
        updated_at = now()
    WHERE x.id = s.id;
END $$;
COMMENT ON FUNCTION @extschema@.alter_segment(text, @extschema@.segment_rule, text) IS 'changes a segment''s rule or description; a new rule makes it pending until refreshed';

CREATE FUNCTION @extschema@.drop_segment(name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    users text;
BEGIN
    SELECT string_agg(quote_literal(x.name), ', ' ORDER BY x.name) INTO users
    FROM @extschema@.segments x
    WHERE x.tenant = s.tenant AND x.id <> s.id AND s.name = ANY(@extschema@.rule_segments(x.rule));
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'segment "%" is used by other segments', name
            USING ERRCODE = 'dependent_objects_still_exist', DETAIL = 'IN SEGMENT ''' || name || ''' appears in: ' || users || '.';
    END IF;
    IF to_regnamespace('cron') IS NOT NULL THEN
        PERFORM @extschema@.unschedule_refresh(name, missing_ok => true);
    END IF;
    DELETE FROM @extschema@.segments WHERE id = s.id;
END $$;

-- Refreshes one segment atomically: the new members replace the old ones
-- in one UPDATE, visible when the caller's transaction commits.  A failed
-- evaluation keeps the old members and records the error.
CREATE FUNCTION @extschema@.refresh(name text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    t0 timestamptz := clock_timestamp();
    fresh @extschema@.audience;
    n bigint;
    err text;
BEGIN
    -- one refresh per segment at a time; a second caller is told, never blocked
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('segment.refresh'), s.id::integer) THEN
        RAISE EXCEPTION 'segment "%" is already being refreshed', name
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Wait for the running refresh to commit; see segment.running_refreshes.';
    END IF;
    -- re-read under the lock: a refresh that committed meanwhile changed the members
    s := @extschema@._segment(name);
    BEGIN
        fresh := @extschema@.evaluate(s.rule, now());
        n := @extschema@.cardinality(fresh);
        IF s.max_members IS NOT NULL AND n > s.max_members THEN
            RAISE EXCEPTION 'segment "%" would have % members, more than its max_members of %', name, n, s.max_members
                USING ERRCODE = 'program_limit_exceeded';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        err := SQLERRM;
    END;
    IF err IS NOT NULL THEN
        UPDATE @extschema@.segments SET status = 'failed', last_error = err, updated_at = now() WHERE id = s.id;
        INSERT INTO @extschema@.history (segment_id, refreshed_at, milliseconds, error)
        VALUES (s.id, now(), extract(epoch FROM clock_timestamp() - t0) * 1000, err);
        RAISE WARNING 'refresh of segment "%" failed: %', name, err
            USING HINT = 'The previous members are kept; see segment.segments.last_error.';
        RETURN NULL;
    END IF;
    UPDATE @extschema@.segments
    SET members = fresh, member_count = n, status = 'ready', last_error = NULL,
        entered = fresh OPERATOR(@extschema@.-) coalesce(s.members, '{}'),
        exited = coalesce(s.members, '{}') OPERATOR(@extschema@.-) fresh,
        refreshed_at = now(), updated_at = now()
    WHERE id = s.id;
    INSERT INTO @extschema@.history (segment_id, refreshed_at, member_count, entered, exited, milliseconds)
    SELECT s.id, now(), n, @extschema@.cardinality(x.entered), @extschema@.cardinality(x.exited),
           extract(epoch FROM clock_timestamp() - t0) * 1000
    FROM @extschema@.segments x WHERE x.id = s.id;
    RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@.refresh(text) IS 'recomputes a segment''s members atomically; returns the member count (NULL when it failed)';

-- Segments of the current tenant, those read by IN SEGMENT first.
CREATE FUNCTION @extschema@._refresh_order() RETURNS TABLE(name text)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE lvl(name, depth) AS (
        SELECT s.name, 0 FROM @extschema@.segments s WHERE s.tenant = @extschema@._tenant()
        UNION ALL
        SELECT d, lvl.depth + 1
        FROM lvl JOIN @extschema@.segments s ON s.tenant = @extschema@._tenant() AND s.name = lvl.name,
             unnest(@extschema@.rule_segments(s.rule)) d
        WHERE lvl.depth < 100
    )
    SELECT lvl.name FROM lvl GROUP BY lvl.name ORDER BY max(depth) DESC, lvl.name
$$;

-- Predicate sharing for refresh_all(): between the two calls, evaluate()
-- computes each distinct predicate (same source, filter, aggregate,
-- comparison and resolved window) and the universe once (src/rule_share.c).
CREATE FUNCTION @extschema@._share_begin() RETURNS void
    AS 'MODULE_PATHNAME', 'segment_share_begin' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@._share_end() RETURNS bigint
    AS 'MODULE_PATHNAME', 'segment_share_end' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._share_end() IS 'stops predicate sharing; returns how many predicate evaluations were saved';

CREATE FUNCTION @extschema@.refresh_all() RETURNS TABLE(name text, members bigint, milliseconds float8)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    i integer := 0;
    total integer := (SELECT count(*) FROM @extschema@.segments s WHERE s.tenant = @extschema@._tenant());
    saved bigint;
BEGIN
    PERFORM @extschema@._share_begin();
    FOR name IN SELECT o.name FROM @extschema@._refresh_order() o LOOP
        i := i + 1;
        t0 := clock_timestamp();
        BEGIN
            members := @extschema@.refresh(name);
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'segment "%" is being refreshed by another session, skipped', name;
            members := NULL;
            milliseconds := NULL;
            RETURN NEXT;
            CONTINUE;
        END;
        milliseconds := extract(epoch FROM clock_timestamp() - t0) * 1000;
        RAISE NOTICE 'refreshed segment % of %: "%" (% members, % ms)', i, total, name, members, round(milliseconds::numeric, 1);
        RETURN NEXT;
    END LOOP;
    saved := @extschema@._share_end();
    IF saved > 0 THEN
        RAISE NOTICE 'refresh_all: % predicate evaluations shared', saved;
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@.refresh_all() IS 'refreshes every segment of the tenant, dependencies first; skips (members NULL) segments another session is refreshing';

CREATE FUNCTION @extschema@.changes(name text) RETURNS TABLE(customer_ordinal bigint, change text)
LANGUAGE sql STABLE AS $$
    SELECT i, 'entered' FROM @extschema@._segment(name) s, @extschema@.ids_bigint(coalesce(s.entered, '{}')) i
    UNION ALL
    SELECT i, 'exited' FROM @extschema@._segment(name) s, @extschema@.ids_bigint(coalesce(s.exited, '{}')) i
    ORDER BY 1
$$;
COMMENT ON FUNCTION @extschema@.changes(text) IS 'customers (ordinals) who entered or exited the segment at its last refresh';

CREATE FUNCTION @extschema@.is_member(name text, customer_key anyelement) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    ord bigint;
BEGIN
    IF customer_key IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        ord := @extschema@._ordinal_of(customer_key);
    EXCEPTION WHEN foreign_key_violation THEN
        RETURN false;           -- not a registered customer: in no segment
    END;
    RETURN coalesce(s.members OPERATOR(@extschema@.@>) ord, false);
END $$;
COMMENT ON FUNCTION @extschema@.is_member(text, anyelement) IS 'whether a customer was in the segment at its last refresh';

CREATE VIEW @extschema@.running_refreshes WITH (security_invoker = true) AS
SELECT s.name AS segment_name, s.tenant, a.pid, a.usename, a.xact_start, now() - a.xact_start AS running_for
FROM pg_catalog.pg_locks l
JOIN @extschema@.segments s ON l.locktype = 'advisory' AND l.classid::bigint = (pg_catalog.hashtext('segment.refresh')::bigint & 4294967295)
     AND l.objid::bigint = s.id AND l.granted
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid;
COMMENT ON VIEW @extschema@.running_refreshes IS 'segments being refreshed right now, by which session';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.segments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history_id_seq', '');
--------------------------------------------------------------------------
-- Scheduling refreshes with pg_cron
--------------------------------------------------------------------------

-- Raises a clear error when pg_cron is not installed in this database.
CREATE FUNCTION @extschema@._require_pg_cron() RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, and run CREATE EXTENSION pg_cron.';
    END IF;
END $$;

CREATE FUNCTION @extschema@._refresh_job_name(s @extschema@.segments) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'segment refresh ' || CASE WHEN s.tenant = '' THEN '' ELSE s.tenant || '/' END || s.name
$$;

CREATE FUNCTION @extschema@.schedule_refresh(name text, cron text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    job bigint;
BEGIN
    PERFORM @extschema@._require_pg_cron();
    EXECUTE 'SELECT cron.schedule($1, $2, $3)'
        INTO job
        USING @extschema@._refresh_job_name(s), cron,
              format('SET segment.tenant = %L; SELECT @extschema@.refresh(%L)', s.tenant, s.name);
    RETURN job;
END $$;
COMMENT ON FUNCTION @extschema@.schedule_refresh(text, text) IS 'schedules a pg_cron job refreshing the segment (cron syntax, e.g. ''0 3 * * *''); re-scheduling replaces it';

CREATE FUNCTION @extschema@.unschedule_refresh(name text, missing_ok boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    job_name text := @extschema@._refresh_job_name(s);
BEGIN
    PERFORM @extschema@._require_pg_cron();
    IF NOT EXISTS (SELECT FROM cron.job j WHERE j.jobname = job_name AND j.username = current_user) THEN
        IF missing_ok THEN
            RETURN false;
        END IF;
        RAISE EXCEPTION 'segment "%" has no scheduled refresh', name USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' USING job_name;
    RETURN true;
END $$;
COMMENT ON FUNCTION @extschema@.unschedule_refresh(text, boolean) IS 'removes the segment''s pg_cron refresh job';
--------------------------------------------------------------------------
-- Tag groups, tags and the customer tag store
--------------------------------------------------------------------------

CREATE TABLE @extschema@.tag_groups (
    id           serial PRIMARY KEY,
    tenant       text NOT NULL DEFAULT @extschema@._tenant(),
    name         text NOT NULL CHECK (name <> ''),
    exclusive    boolean NOT NULL DEFAULT false,
    allow_manual boolean NOT NULL DEFAULT true,
    allow_auto   boolean NOT NULL DEFAULT false,
    enabled      boolean NOT NULL DEFAULT true,
    position     integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, name)
);
COMMENT ON TABLE @extschema@.tag_groups IS 'tag groups (标签组): exclusive groups hold at most one value per customer';

CREATE TABLE @extschema@.tags (
    id          serial PRIMARY KEY,
    group_id    integer NOT NULL REFERENCES @extschema@.tag_groups ON DELETE CASCADE,
    value       text NOT NULL CHECK (value <> ''),
    auto_remove boolean NOT NULL DEFAULT true,
    rule        @extschema@.segment_rule,   -- auto-tagging rule (51_autotag.sql), or NULL
    enabled     boolean NOT NULL DEFAULT true,
    position    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (group_id, value)
);
COMMENT ON TABLE @extschema@.tags IS 'values of tag groups, with optional auto-tagging rules';

-- Who holds which tag: one row per customer and tag value.
CREATE TABLE @extschema@.tag_members (
    tag_id    integer NOT NULL,     -- a tags.id: checked per statement, below
    ordinal   bigint NOT NULL,
    source    text NOT NULL CHECK (source IN ('manual', 'auto', 'import')),
    tagged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tag_id, ordinal)
);
CREATE INDEX ON @extschema@.tag_members (ordinal);

-- tag_members.tag_id behaves as a foreign key to tags ON DELETE CASCADE,
-- checked once per statement instead of once per row (src/tag_store.c):
-- auto-tagging writes tens of thousands of members in one statement, and
-- a foreign key would run one lookup query for each.
CREATE FUNCTION @extschema@._tag_members_check() RETURNS trigger
AS 'MODULE_PATHNAME', 'segment_tag_members_check' LANGUAGE C;
CREATE TRIGGER tag_members_insert_check AFTER INSERT ON @extschema@.tag_members
    REFERENCING NEW TABLE AS segment_members FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._tag_members_check();
CREATE TRIGGER tag_members_update_check AFTER UPDATE ON @extschema@.tag_members
    REFERENCING NEW TABLE AS segment_members FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._tag_members_check();

CREATE FUNCTION @extschema@._tags_drop_members() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM @extschema@.tag_members m WHERE m.tag_id IN (SELECT o.id FROM segment_old_tags o);
    RETURN NULL;
END $$;
CREATE TRIGGER tags_drop_members AFTER DELETE ON @extschema@.tags
    REFERENCING OLD TABLE AS segment_old_tags FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._tags_drop_members();

CREATE TABLE @extschema@.tag_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    tenant     text NOT NULL DEFAULT @extschema@._tenant(),
    group_name text NOT NULL,
    value      text NOT NULL,
    ordinal    bigint NOT NULL,
    action     text NOT NULL CHECK (action IN ('add', 'remove')),
    source     text NOT NULL CHECK (source IN ('manual', 'auto', 'import')),
    actor      text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE @extschema@.tag_log IS 'every tag added or removed: when, how, by whom or which rule';

-- The ordinal of a customer key, or an error when it is not a registered customer.
CREATE FUNCTION @extschema@._ordinal_of(customer_key anyelement) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    reg @extschema@.customer_registry;
    ord bigint;
    found_it boolean;
BEGIN
    SELECT * INTO reg FROM @extschema@.customer_registry;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer table is registered'
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call segment.register_customers() first.';
    END IF;
    IF customer_key IS NULL THEN
        RAISE EXCEPTION 'customer key must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- another tenant's customer is as unknown as a missing one
    IF reg.ordinal_mode = 'direct' THEN
        EXECUTE format('SELECT c.%1$I::bigint FROM %2$s c WHERE c.%1$I = $1::text::%3$s %4$s', reg.key_column, reg.rel, reg.key_type,
                       CASE WHEN reg.tenant_column IS NULL THEN '' ELSE format('AND c.%I::text = $2', reg.tenant_column) END)
            INTO ord USING customer_key, @extschema@._tenant();
    ELSE
        EXECUTE format('SELECT o.ordinal FROM @extschema@.customer_ordinals o JOIN %2$s c ON c.%1$I = o.key
                        WHERE o.key = $1::text::%3$s %4$s', reg.key_column, reg.rel, reg.key_type,
                       CASE WHEN reg.tenant_column IS NULL THEN '' ELSE format('AND c.%I::text = $2', reg.tenant_column) END)
            INTO ord USING customer_key, @extschema@._tenant();
    END IF;
    IF ord IS NULL THEN
        RAISE EXCEPTION 'customer % is not in %', customer_key, reg.rel
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN ord;
END $$;

-- The key of an ordinal as text, for logs and messages.
CREATE FUNCTION @extschema@._group(group_name text) RETURNS @extschema@.tag_groups
LANGUAGE plpgsql STABLE AS $$
DECLARE
    g @extschema@.tag_groups;
BEGIN
    SELECT * INTO g FROM @extschema@.tag_groups t WHERE t.tenant = @extschema@._tenant() AND t.name = group_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tag group "%" does not exist', group_name
            USING ERRCODE = 'undefined_object',
                  HINT = coalesce('Tag groups: ' || (SELECT string_agg(quote_literal(t.name), ', ' ORDER BY t.position)
                                                     FROM @extschema@.tag_groups t WHERE t.tenant = @extschema@._tenant()) || '.',
                                  'No tag group exists yet; create one with segment.create_tag_group().');
    END IF;
    RETURN g;
END $$;

CREATE FUNCTION @extschema@._tag(group_name text, value text) RETURNS @extschema@.tags
LANGUAGE plpgsql STABLE AS $$
DECLARE
    g @extschema@.tag_groups := @extschema@._group(group_name);
    t @extschema@.tags;
BEGIN
    SELECT * INTO t FROM @extschema@.tags x WHERE x.group_id = g.id AND x.value = _tag.value;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tag "%" does not exist in group "%"', value, group_name
            USING ERRCODE = 'undefined_object',
                  HINT = coalesce('Values of "' || group_name || '": ' || (SELECT string_agg(quote_literal(x.value), ', ' ORDER BY x.position)
                                                     FROM @extschema@.tags x WHERE x.group_id = g.id) || '.',
                                  'The group has no values yet; add one with segment.add_tag().');
    END IF;
    RETURN t;
END $$;

CREATE FUNCTION @extschema@.create_tag_group(name text, exclusive boolean DEFAULT false,
                                             allow_manual boolean DEFAULT true, allow_auto boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    id integer;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'tag group name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF position('-' IN name) > 0 THEN
        RAISE EXCEPTION 'tag group name must not contain "-": "%"', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Imported labels are written group-value, so a "-" in a group name would be ambiguous.';
    END IF;
    IF NOT allow_manual AND NOT allow_auto THEN
        RAISE EXCEPTION 'a tag group must allow manual or automatic tagging' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.tag_groups g WHERE g.tenant = @extschema@._tenant() AND g.name = create_tag_group.name) THEN
        RAISE EXCEPTION 'tag group "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO @extschema@.tag_groups (name, exclusive, allow_manual, allow_auto, position)
    VALUES (name, exclusive, allow_manual, allow_auto,
            coalesce((SELECT max(g.position) FROM @extschema@.tag_groups g WHERE g.tenant = @extschema@._tenant()), 0) + 1)
    RETURNING tag_groups.id INTO id;
    RETURN id;
END $$;
COMMENT ON FUNCTION @extschema@.create_tag_group(text, boolean, boolean, boolean) IS 'creates a tag group (exclusive: at most one value per customer)';

CREATE FUNCTION @extschema@.drop_tag_group(name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g @extschema@.tag_groups := @extschema@._group(name);
BEGIN
    INSERT INTO @extschema@.tag_log (group_name, value, ordinal, action, source)
    SELECT g.name, t.value, m.ordinal, 'remove', m.source
    FROM @extschema@.tags t JOIN @extschema@.tag_members m ON m.tag_id = t.id WHERE t.group_id = g.id;
    DELETE FROM @extschema@.tag_groups WHERE id = g.id;
    PERFORM @extschema@._sync_triggers();
END $$;
COMMENT ON FUNCTION @extschema@.drop_tag_group(text) IS 'drops a tag group, its values and its customers'' tags (logged)';

CREATE FUNCTION @extschema@.rename_tag_group(name text, new_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g @extschema@.tag_groups := @extschema@._group(name);
BEGIN
    IF new_name IS NULL OR btrim(new_name) = '' OR position('-' IN new_name) > 0 THEN
        RAISE EXCEPTION 'invalid tag group name "%"', new_name
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Names are non-empty and contain no "-".';
    END IF;
    UPDATE @extschema@.tag_groups SET name = new_name WHERE id = g.id;
END $$;

CREATE FUNCTION @extschema@.move_tag_group(name text, "position" integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g @extschema@.tag_groups := @extschema@._group(name);
    n integer;
    p integer;
BEGIN
    SELECT count(*) INTO n FROM @extschema@.tag_groups t WHERE t.tenant = g.tenant;
    p := greatest(1, least(coalesce("position", n), n));
    -- renumber 1..n with the moved group at p
    WITH ordered AS (
        SELECT t.id, row_number() OVER (ORDER BY t.position, t.id) AS r
        FROM @extschema@.tag_groups t WHERE t.tenant = g.tenant AND t.id <> g.id
    )
    UPDATE @extschema@.tag_groups t SET position = CASE WHEN o.r >= p THEN o.r + 1 ELSE o.r END
    FROM ordered o WHERE t.id = o.id;
    UPDATE @extschema@.tag_groups SET position = p WHERE id = g.id;
END $$;
COMMENT ON FUNCTION @extschema@.move_tag_group(text, integer) IS 'moves a tag group to a position (1 = first); the others shift';

CREATE FUNCTION @extschema@.set_tag_group_enabled(name text, enabled boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g @extschema@.tag_groups := @extschema@._group(name);
BEGIN
    UPDATE @extschema@.tag_groups SET enabled = coalesce(set_tag_group_enabled.enabled, true) WHERE id = g.id;
    PERFORM @extschema@._sync_triggers();
END $$;

CREATE FUNCTION @extschema@.add_tag(group_name text, value text, auto_remove boolean DEFAULT true,
                                     rule @extschema@.segment_rule DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    g @extschema@.tag_groups := @extschema@._group(group_name);
    id integer;
BEGIN
    IF value IS NULL OR btrim(value) = '' THEN
        RAISE EXCEPTION 'tag value must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.tags t WHERE t.group_id = g.id AND t.value = add_tag.value) THEN
        RAISE EXCEPTION 'tag "%" already exists in group "%"', value, group_name USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO @extschema@.tags (group_id, value, auto_remove, position)
    VALUES (g.id, value, coalesce(auto_remove, true),
            coalesce((SELECT max(t.position) FROM @extschema@.tags t WHERE t.group_id = g.id), 0) + 1)
    RETURNING tags.id INTO id;
    IF rule IS NOT NULL THEN
        PERFORM @extschema@.set_tag_rule(group_name, value, rule);
    END IF;
    RETURN id;
END $$;
COMMENT ON FUNCTION @extschema@.add_tag(text, text, boolean, @extschema@.segment_rule) IS 'adds a value to a tag group, with an optional auto-tagging rule (applied at once)';

CREATE FUNCTION @extschema@.move_tag(group_name text, value text, "position" integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
    n integer;
    p integer;
BEGIN
    SELECT count(*) INTO n FROM @extschema@.tags x WHERE x.group_id = t.group_id;
    p := greatest(1, least(coalesce("position", n), n));
    WITH ordered AS (
        SELECT x.id, row_number() OVER (ORDER BY x.position, x.id) AS r
        FROM @extschema@.tags x WHERE x.group_id = t.group_id AND x.id <> t.id
    )
    UPDATE @extschema@.tags x SET position = CASE WHEN o.r >= p THEN o.r + 1 ELSE o.r END
    FROM ordered o WHERE x.id = o.id;
    UPDATE @extschema@.tags SET position = p WHERE id = t.id;
END $$;

CREATE FUNCTION @extschema@.set_tag_enabled(group_name text, value text, enabled boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
BEGIN
    UPDATE @extschema@.tags SET enabled = coalesce(set_tag_enabled.enabled, true) WHERE id = t.id;
    PERFORM @extschema@._sync_triggers();
END $$;

CREATE FUNCTION @extschema@.rename_tag(group_name text, value text, new_value text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
BEGIN
    IF new_value IS NULL OR btrim(new_value) = '' THEN
        RAISE EXCEPTION 'tag value must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE @extschema@.tags SET value = new_value WHERE id = t.id;
END $$;

CREATE FUNCTION @extschema@.drop_tag(group_name text, value text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
BEGIN
    INSERT INTO @extschema@.tag_log (group_name, value, ordinal, action, source)
    SELECT group_name, t.value, m.ordinal, 'remove', m.source FROM @extschema@.tag_members m WHERE m.tag_id = t.id;
    DELETE FROM @extschema@.tags WHERE id = t.id;
    PERFORM @extschema@._sync_triggers();
END $$;

-- Applies one tag to one customer, honouring exclusive groups; returns
-- false when the customer already held it.
CREATE FUNCTION @extschema@._apply_tag(t @extschema@.tags, g @extschema@.tag_groups, ord bigint, how text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM @extschema@.tag_members m WHERE m.tag_id = t.id AND m.ordinal = ord) THEN
        RETURN false;
    END IF;
    IF g.exclusive THEN
        WITH gone AS (
            DELETE FROM @extschema@.tag_members m USING @extschema@.tags x
            WHERE m.tag_id = x.id AND x.group_id = g.id AND m.ordinal = ord
            RETURNING x.value, m.source
        )
        INSERT INTO @extschema@.tag_log (group_name, value, ordinal, action, source)
        SELECT g.name, gone.value, ord, 'remove', how FROM gone;
    END IF;
    INSERT INTO @extschema@.tag_members (tag_id, ordinal, source) VALUES (t.id, ord, how);
    INSERT INTO @extschema@.tag_log (group_name, value, ordinal, action, source) VALUES (g.name, t.value, ord, 'add', how);
    RETURN true;
END $$;

-- Refuses manual tagging where the group or value does not allow it.
CREATE FUNCTION @extschema@._check_manual(t @extschema@.tags, g @extschema@.tag_groups) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT g.allow_manual THEN
        RAISE EXCEPTION 'tag group "%" does not allow manual tagging', g.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Its values are applied by auto-tagging rules only.';
    END IF;
    IF NOT g.enabled THEN
        RAISE EXCEPTION 'tag group "%" is disabled', g.name
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Enable it with segment.set_tag_group_enabled().';
    END IF;
    IF NOT t.enabled THEN
        RAISE EXCEPTION 'tag "%" of group "%" is disabled', t.value, g.name
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Enable it with segment.set_tag_enabled().';
    END IF;
END $$;

CREATE FUNCTION @extschema@.tag_customer(group_name text, value text, customer_key anyelement) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
    g @extschema@.tag_groups := @extschema@._group(group_name);
BEGIN
    PERFORM @extschema@._check_manual(t, g);
    RETURN @extschema@._apply_tag(t, g, @extschema@._ordinal_of(customer_key), 'manual');
END $$;
COMMENT ON FUNCTION @extschema@.tag_customer(text, text, anyelement) IS 'tags a customer by hand; false when it already held the tag';

CREATE FUNCTION @extschema@.untag_customer(group_name text, value text, customer_key anyelement) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
    g @extschema@.tag_groups := @extschema@._group(group_name);
    ord bigint;
    how text;
BEGIN
    IF NOT g.allow_manual THEN
        PERFORM @extschema@._check_manual(t, g);
    END IF;
    ord := @extschema@._ordinal_of(customer_key);
    DELETE FROM @extschema@.tag_members m WHERE m.tag_id = t.id AND m.ordinal = ord RETURNING m.source INTO how;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO @extschema@.tag_log (group_name, value, ordinal, action, source) VALUES (g.name, t.value, ord, 'remove', 'manual');
    RETURN true;
END $$;
COMMENT ON FUNCTION @extschema@.untag_customer(text, text, anyelement) IS 'removes a tag from a customer by hand; false when it did not hold it';

-- import_tags(rel): rows (customer_key, label) with label "group-value".
-- All rows are checked first; nothing is applied unless every row is valid
-- or on_error => 'skip' is given, so an import never half-happens.
CREATE FUNCTION @extschema@.import_tags(rel regclass, on_error text DEFAULT 'abort')
RETURNS TABLE(row_number bigint, customer_key text, label text, status text, message text)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    grp text;
    val text;
    t @extschema@.tags;
    g @extschema@.tag_groups;
    ord bigint;
    bad integer := 0;
BEGIN
    IF on_error NOT IN ('abort', 'skip') THEN
        RAISE EXCEPTION 'on_error must be ''abort'' or ''skip'', not %', quote_literal(on_error)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS _segment_import (n bigint, key text, label text, tag_id integer, ordinal bigint, status text, message text)
        ON COMMIT DROP;
    TRUNCATE _segment_import;
    FOR r IN EXECUTE format('SELECT row_number() OVER () AS n, c.* FROM %s c', rel) LOOP
        row_number := r.n;
        customer_key := (to_jsonb(r) -> (SELECT attname FROM pg_attribute WHERE attrelid = rel AND attnum = 1)) #>> '{}';
        label := (to_jsonb(r) -> (SELECT attname FROM pg_attribute WHERE attrelid = rel AND attnum = 2)) #>> '{}';
        status := 'imported';
        message := NULL;
        t := NULL;
        ord := NULL;
        IF label IS NULL OR position('-' IN label) = 0 THEN
            status := 'rejected';
            message := format('label %s is not of the form group-value', coalesce(quote_literal(label), 'NULL'));
        ELSE
            grp := split_part(label, '-', 1);
            val := substr(label, length(grp) + 2);
            BEGIN
                t := @extschema@._tag(grp, val);
                g := @extschema@._group(grp);
                PERFORM @extschema@._check_manual(t, g);
                ord := @extschema@._ordinal_of(customer_key);
            EXCEPTION WHEN OTHERS THEN
                status := 'rejected';
                message := SQLERRM;
            END;
        END IF;
        IF status = 'rejected' THEN
            bad := bad + 1;
        END IF;
        INSERT INTO _segment_import VALUES (row_number, customer_key, label, t.id, ord, status, message);
    END LOOP;
    IF bad > 0 AND on_error = 'abort' THEN
        RAISE EXCEPTION 'import rejected: % of % rows are invalid', bad, (SELECT count(*) FROM _segment_import)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = (SELECT string_agg(format('row %s: %s', i.n, i.message), E'\n' ORDER BY i.n)
                            FROM (SELECT * FROM _segment_import WHERE _segment_import.status = 'rejected' ORDER BY n LIMIT 10) i),
                  HINT = 'Fix the rows, or pass on_error => ''skip'' to import the valid rows only.';
    END IF;
    FOR r IN SELECT * FROM _segment_import i WHERE i.status = 'imported' ORDER BY i.n LOOP
        SELECT * INTO t FROM @extschema@.tags WHERE id = r.tag_id;
        SELECT * INTO g FROM @extschema@.tag_groups WHERE id = t.group_id;
        IF NOT @extschema@._apply_tag(t, g, r.ordinal, 'import') THEN
            UPDATE _segment_import i SET status = 'unchanged', message = 'the customer already held this tag' WHERE i.n = r.n;
        END IF;
    END LOOP;
    RETURN QUERY SELECT i.n, i.key, i.label, i.status, i.message FROM _segment_import i ORDER BY i.n;
END $$;
COMMENT ON FUNCTION @extschema@.import_tags(regclass, text) IS 'imports (customer_key, label) rows with labels "group-value"; reports each row';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_groups', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tags', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_members', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_groups_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tags_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_log_id_seq', '');
--------------------------------------------------------------------------
-- Auto-tagging: tag values with rules, kept current by statement-level
-- triggers on the application's tables (doc/tags.md)
--------------------------------------------------------------------------

-- Base tables standing in for a source that is a view, so that changes to
-- them re-tag in real time (segment.watch).
CREATE TABLE @extschema@.watches (
    source          text NOT NULL REFERENCES @extschema@.sources ON DELETE CASCADE ON UPDATE CASCADE,
    base_table      regclass NOT NULL,
    customer_column name NOT NULL,
    PRIMARY KEY (source, base_table)
);
COMMENT ON TABLE @extschema@.watches IS 'base tables whose changes re-tag customers of a view source (see segment.watch)';

-- Tables that carry the auto-tagging triggers now.
CREATE TABLE @extschema@.autotag_triggers (
    rel regclass PRIMARY KEY
);
COMMENT ON TABLE @extschema@.autotag_triggers IS 'tables with auto-tagging triggers installed by the extension';

-- Enabled auto rules: (tag, group) of values with a rule in groups that
-- allow automatic tagging.
CREATE FUNCTION @extschema@._auto_rules() RETURNS TABLE(tag_id integer, group_id integer, refs text[])
LANGUAGE sql STABLE AS $$
    SELECT t.id, g.id, @extschema@.rule_refs(t.rule)
    FROM @extschema@.tags t JOIN @extschema@.tag_groups g ON g.id = t.group_id
    WHERE t.rule IS NOT NULL AND t.enabled AND g.enabled AND g.allow_auto
$$;

-- What a table's rows feed: "source:x" for the sources it holds (or stands
-- in for, with the column naming the customer), "customer" for the customer
-- table.
CREATE FUNCTION @extschema@._table_feeds(rel regclass) RETURNS TABLE(feed text, customer_column name)
LANGUAGE sql STABLE AS $$
    SELECT 'source:' || s.name, s.customer_column FROM @extschema@.sources s WHERE s.rel = _table_feeds.rel
    UNION
    SELECT 'source:' || w.source, w.customer_column FROM @extschema@.watches w WHERE w.base_table = _table_feeds.rel
    UNION
    SELECT 'customer', r.key_column FROM @extschema@.customer_registry r WHERE r.rel = _table_feeds.rel
$$;

-- The tables whose changes can change an auto tag: the tables of the
-- sources the rules read (or their watched base tables), and the customer
-- table when a rule reads customer columns.  Views are skipped: they need
-- segment.watch(), or retag().
CREATE FUNCTION @extschema@._watched_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
    WITH feeds AS (SELECT DISTINCT unnest(refs) AS feed FROM @extschema@._auto_rules())
    SELECT DISTINCT rel FROM (
        SELECT s.rel FROM @extschema@.sources s JOIN feeds f ON f.feed = 'source:' || s.name
        UNION SELECT w.base_table FROM @extschema@.watches w JOIN feeds f ON f.feed = 'source:' || w.source
        UNION SELECT r.rel FROM @extschema@.customer_registry r JOIN feeds f ON f.feed = 'customer'
    ) x
    WHERE (SELECT c.relkind IN ('r', 'p') FROM pg_catalog.pg_class c WHERE c.oid = x.rel)
$$;

-- Installs the triggers on the tables that need them and removes them
-- from the tables that no longer do.  SECURITY DEFINER: a tenant's role
-- that sets a rule need not own the application's tables.
CREATE FUNCTION @extschema@._sync_triggers() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @extschema@, pg_catalog, pg_temp AS $$
DECLARE
    r regclass;
BEGIN
    FOR r IN SELECT a.rel FROM @extschema@.autotag_triggers a
             WHERE a.rel NOT IN (SELECT * FROM @extschema@._watched_tables()) LOOP
        IF to_regclass(r::text) IS NOT NULL THEN
            EXECUTE format('DROP TRIGGER IF EXISTS segment_autotag_insert ON %s', r);
            EXECUTE format('DROP TRIGGER IF EXISTS segment_autotag_update ON %s', r);
            EXECUTE format('DROP TRIGGER IF EXISTS segment_autotag_delete ON %s', r);
            EXECUTE format('DROP TRIGGER IF EXISTS segment_autotag_truncate ON %s', r);
        END IF;
        DELETE FROM @extschema@.autotag_triggers a WHERE a.rel = r;
    END LOOP;
    FOR r IN SELECT w FROM @extschema@._watched_tables() w
             WHERE w NOT IN (SELECT a.rel FROM @extschema@.autotag_triggers a) LOOP
        EXECUTE format('CREATE TRIGGER segment_autotag_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS segment_new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._autotag_trigger()', r);
        EXECUTE format('CREATE TRIGGER segment_autotag_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS segment_old_rows
                        NEW TABLE AS segment_new_rows FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._autotag_trigger()', r);
        EXECUTE format('CREATE TRIGGER segment_autotag_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS segment_old_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._autotag_trigger()', r);
        EXECUTE format('CREATE TRIGGER segment_autotag_truncate AFTER TRUNCATE ON %s
                        FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._autotag_trigger()', r);
        INSERT INTO @extschema@.autotag_triggers VALUES (r);
    END LOOP;
END $$;

-- Serializes re-tagging of the same customers across transactions: one
-- of 256 advisory locks per customer ordinal, taken in order (no deadlock),
-- so the second transaction evaluates after the first committed and sees
-- its rows (READ COMMITTED takes a new snapshot per statement).
CREATE FUNCTION @extschema@._lock_customers(cand @extschema@.audience) RETURNS void
LANGUAGE sql AS $$
    SELECT count(pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('segment.tags'), b::integer))
    FROM (SELECT DISTINCT i % 256 AS b FROM @extschema@.ids_bigint(cand) i ORDER BY 1) x
$$;

-- Removes then adds automatic tags of one value, logged as its rule's
-- (what the engine in src/autotag.c does for each value; RFM uses it).
CREATE FUNCTION @extschema@._apply_auto(tag integer, added @extschema@.audience, removed @extschema@.audience)
RETURNS void
AS 'MODULE_PATHNAME', 'segment_apply_auto' LANGUAGE C VOLATILE STRICT;

-- The engine (src/autotag.c).  _retag_cascade re-tags groups among
-- candidates (NULL: every customer), then the groups whose TAG conditions
-- read the customers that changed, until nothing changes.  Exclusive
-- groups give each customer the first value (by position) whose rule
-- holds; manual and imported tags are never removed.
CREATE FUNCTION @extschema@._retag_cascade(start integer[], cand @extschema@.audience)
RETURNS TABLE(tag_group text, added bigint, removed bigint)
AS 'MODULE_PATHNAME', 'segment_retag_cascade' LANGUAGE C VOLATILE;

-- The statement-level trigger: the customers whose rows the statement
-- inserted, updated or deleted, re-tagged for the rules reading this
-- table, tenant by tenant.  SECURITY DEFINER: the application's role needs
-- no rights on the tag store, and works for every tenant its rows touch.
CREATE FUNCTION @extschema@._autotag_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'segment_autotag_trigger'
LANGUAGE C SECURITY DEFINER SET search_path = @extschema@, pg_catalog, pg_temp;

-- Each backend caches the auto groups and their prepared queries; a change
-- to the catalogs they come from drops every backend's cache at commit.
CREATE FUNCTION @extschema@._autotag_catalog_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'segment_autotag_catalog_changed' LANGUAGE C;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tag_groups', 'tags', 'sources', 'watches', 'customer_registry'] LOOP
        EXECUTE format('CREATE TRIGGER autotag_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
                        ON @extschema@.%I FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._autotag_catalog_changed()', t);
    END LOOP;
END $$;

-- Rejects a rule for group g that reads (through TAG, transitively) g itself.
CREATE FUNCTION @extschema@._check_tag_cycles(g @extschema@.tag_groups, rule @extschema@.segment_rule) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    path text[];
BEGIN
    WITH RECURSIVE deps(grp, path) AS (
        SELECT substr(r, 5), ARRAY[g.name, substr(r, 5)]
        FROM unnest(@extschema@.rule_refs(rule)) r WHERE r LIKE 'tag:%'
        UNION ALL
        SELECT substr(r, 5), deps.path || substr(r, 5)
        FROM deps JOIN @extschema@.tag_groups x ON x.tenant = g.tenant AND x.name = deps.grp
             JOIN @extschema@.tags t ON t.group_id = x.id AND t.rule IS NOT NULL,
             unnest(@extschema@.rule_refs(t.rule)) r
        WHERE r LIKE 'tag:%' AND NOT deps.grp = ANY(deps.path[1:array_length(deps.path, 1) - 1])
    )
    SELECT deps.path INTO path FROM deps WHERE deps.grp = g.name LIMIT 1;
    IF path IS NOT NULL THEN
        RAISE EXCEPTION 'tag group "%" would depend on itself', g.name
            USING ERRCODE = 'invalid_recursion',
                  DETAIL = 'TAG cycle: ' || array_to_string(path, ' -> ') || '.';
    END IF;
END $$;

-- Sets (or with NULL removes) the rule of a tag value, tags existing
-- customers at once and keeps the triggers in step.
CREATE FUNCTION @extschema@.set_tag_rule(group_name text, value text, rule @extschema@.segment_rule)
RETURNS TABLE(tag_group text, added bigint, removed bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(set_tag_rule.group_name, set_tag_rule.value);
    g @extschema@.tag_groups := @extschema@._group(set_tag_rule.group_name);
BEGIN
    IF rule IS NOT NULL THEN
        IF NOT g.allow_auto THEN
            RAISE EXCEPTION 'tag group "%" does not allow automatic tagging', g.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Create the group with allow_auto => true to give its values rules.';
        END IF;
        PERFORM @extschema@._check_tag_cycles(g, rule);
        PERFORM @extschema@.compile(rule);      -- unknown sources, columns, tag groups: errors now
    END IF;
    UPDATE @extschema@.tags x SET rule = set_tag_rule.rule WHERE x.id = t.id;
    PERFORM @extschema@._sync_triggers();
    RETURN QUERY SELECT * FROM @extschema@.retag(g.name);
END $$;
COMMENT ON FUNCTION @extschema@.set_tag_rule(text, text, @extschema@.segment_rule) IS 'sets or (NULL) removes a tag value''s auto-tagging rule and re-tags its group at once';

-- retag(): full re-evaluation (relative windows move with time), of one
-- group and the groups reading it, or of every auto group of the tenant.
CREATE FUNCTION @extschema@.retag(group_name text DEFAULT NULL)
RETURNS TABLE(tag_group text, added bigint, removed bigint)
LANGUAGE plpgsql AS $$
DECLARE
    start integer[];
BEGIN
    IF retag.group_name IS NOT NULL THEN
        start := ARRAY[(@extschema@._group(retag.group_name)).id];
        IF to_regclass('@extschema@.rfm_groups') IS NOT NULL
           AND start[1] IN (SELECT rg.group_id FROM @extschema@.rfm_groups rg) THEN
            start := '{}';      -- re-scored below
        END IF;
    ELSE
        start := ARRAY(SELECT DISTINCT a.group_id FROM @extschema@._auto_rules() a
                       JOIN @extschema@.tag_groups g ON g.id = a.group_id WHERE g.tenant = @extschema@._tenant()
                       ORDER BY 1);
    END IF;
    -- every customer may change: all 256 re-tagging locks
    PERFORM @extschema@._lock_customers('{0-255}');
    RETURN QUERY SELECT * FROM @extschema@._retag_cascade(start, NULL);
    -- RFM groups (63_rfm.sql) are re-scored, not evaluated rule by rule
    RETURN QUERY SELECT g.name, x.added, x.removed
        FROM @extschema@.rfm_groups rg JOIN @extschema@.tag_groups g ON g.id = rg.group_id,
             LATERAL @extschema@._rescore_rfm(rg.group_id) x
        WHERE g.tenant = @extschema@._tenant() AND g.enabled
          AND (retag.group_name IS NULL OR g.name = retag.group_name)
        ORDER BY g.position;
END $$;
COMMENT ON FUNCTION @extschema@.retag(text) IS 're-evaluates auto-tagging rules for every customer (one group and its readers, or all); returns tags added and removed per group';

-- A source that is a view: re-tag when one of its base tables changes.
CREATE FUNCTION @extschema@.watch(source text, base_table regclass, customer_column name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM @extschema@._source(source);
    PERFORM @extschema@._column_type(base_table, customer_column, 'customer column');
    INSERT INTO @extschema@.watches VALUES (source, base_table, customer_column)
    ON CONFLICT ON CONSTRAINT watches_pkey DO UPDATE SET customer_column = EXCLUDED.customer_column;
    PERFORM @extschema@._sync_triggers();
END $$;
COMMENT ON FUNCTION @extschema@.watch(text, regclass, name) IS 'makes changes to a base table of a view source re-tag its customers in real time';

CREATE FUNCTION @extschema@.unwatch(source text, base_table regclass) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM @extschema@.watches w WHERE w.source = unwatch.source AND w.base_table = unwatch.base_table;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM @extschema@._sync_triggers();
    RETURN true;
END $$;
COMMENT ON FUNCTION @extschema@.unwatch(text, regclass) IS 'stops watching a base table for a view source';

-- Nightly re-tagging with pg_cron.
CREATE FUNCTION @extschema@._retag_job_name() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'segment retag' || CASE WHEN @extschema@._tenant() = '' THEN '' ELSE ' ' || @extschema@._tenant() END
$$;

CREATE FUNCTION @extschema@.schedule_retag(cron text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    job bigint;
BEGIN
    PERFORM @extschema@._require_pg_cron();
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
        USING @extschema@._retag_job_name(), cron,
              format('SET segment.tenant = %L; SELECT count(*) FROM @extschema@.retag()', @extschema@._tenant());
    RETURN job;
END $$;
COMMENT ON FUNCTION @extschema@.schedule_retag(text) IS 'schedules a pg_cron job re-tagging every auto group of the tenant (e.g. ''0 2 * * *'')';

CREATE FUNCTION @extschema@.unschedule_retag(missing_ok boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM @extschema@._require_pg_cron();
    IF NOT EXISTS (SELECT FROM cron.job j WHERE j.jobname = @extschema@._retag_job_name() AND j.username = current_user) THEN
        IF missing_ok THEN
            RETURN false;
        END IF;
        RAISE EXCEPTION 'no re-tagging is scheduled' USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' USING @extschema@._retag_job_name();
    RETURN true;
END $$;
COMMENT ON FUNCTION @extschema@.unschedule_retag(boolean) IS 'removes the pg_cron re-tagging job';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.watches', '');
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
--------------------------------------------------------------------------
-- Contact policy: who was contacted when, and who may be contacted now
--------------------------------------------------------------------------

-- Contacts are stored as bit-sliced day counters: for each (channel, day),
-- slice k holds the customers contacted at least k times that day.  A day
-- of a million contacted customers is a few bitmaps, not a million rows.
CREATE TABLE @extschema@.contacts (
    tenant   text NOT NULL DEFAULT '',
    channel  text NOT NULL,
    day      date NOT NULL,
    times    integer NOT NULL CHECK (times >= 1),
    members  @extschema@.audience NOT NULL,
    PRIMARY KEY (tenant, channel, day, times)
);
COMMENT ON TABLE @extschema@.contacts IS 'customers contacted per channel and day (slice k: contacted at least k times)';

CREATE FUNCTION @extschema@.record_contact(members @extschema@.audience, channel text,
                                           at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    pending @extschema@.audience := members;
    cur @extschema@.audience;
    k integer := 1;
    t text := @extschema@._tenant();
BEGIN
    IF members IS NULL OR channel IS NULL OR at IS NULL THEN
        RAISE EXCEPTION 'record_contact arguments must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF channel = '' THEN
        RAISE EXCEPTION 'channel must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    d := (at AT TIME ZONE @extschema@._zone())::date;
    -- one writer per (tenant, channel, day): slices are read-modify-write
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('segment.contacts'),
                                             pg_catalog.hashtext(t || '/' || channel || '/' || d));
    WHILE NOT @extschema@.is_empty(pending) LOOP
        SELECT c.members INTO cur FROM @extschema@.contacts c
        WHERE c.tenant = t AND c.channel = record_contact.channel AND c.day = d AND c.times = k;
        IF NOT FOUND THEN
            INSERT INTO @extschema@.contacts VALUES (t, channel, d, k, pending);
            EXIT;
        END IF;
        UPDATE @extschema@.contacts c SET members = cur OPERATOR(@extschema@.|) pending
        WHERE c.tenant = t AND c.channel = record_contact.channel AND c.day = d AND c.times = k;
        -- those already at k contacts move on to slice k + 1
        pending := pending OPERATOR(@extschema@.&) cur;
        k := k + 1;
    END LOOP;
    RETURN @extschema@.cardinality(members);
END $$;
COMMENT ON FUNCTION @extschema@.record_contact(@extschema@.audience, text, timestamptz) IS 'records that these customers were contacted on a channel at a time';

CREATE FUNCTION @extschema@.contactable(members @extschema@.audience, channel text, cooldown interval,
                                        max_per_day integer DEFAULT 1, as_of timestamptz DEFAULT now())
RETURNS @extschema@.audience
LANGUAGE plpgsql STABLE AS $$
DECLARE
    zone text := @extschema@._zone();
    today date;
    first_day date;
    blocked @extschema@.audience;
    capped @extschema@.audience;
    t text := @extschema@._tenant();
BEGIN
    IF members IS NULL OR channel IS NULL OR as_of IS NULL THEN
        RETURN NULL;
    END IF;
    IF cooldown < interval '0' THEN
        RAISE EXCEPTION 'cooldown must not be negative: %', cooldown USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_per_day < 1 THEN
        RAISE EXCEPTION 'max_per_day must be at least 1, not %', max_per_day
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL for no daily limit.';
    END IF;
    today := (as_of AT TIME ZONE zone)::date;
    -- the cooldown counts whole days, rounded up: a contact on any day from
    -- the day of (as_of - cooldown) through today blocks the customer
    IF cooldown > interval '0' THEN
        first_day := ((as_of - cooldown) AT TIME ZONE zone)::date;
        SELECT @extschema@.union_agg(c.members) INTO blocked FROM @extschema@.contacts c
        WHERE c.tenant = t AND c.channel = contactable.channel AND c.times = 1
          AND c.day BETWEEN first_day AND today;
    END IF;
    IF max_per_day IS NOT NULL THEN
        SELECT c.members INTO capped FROM @extschema@.contacts c
        WHERE c.tenant = t AND c.channel = contactable.channel AND c.day = today AND c.times = max_per_day;
    END IF;
    RETURN members OPERATOR(@extschema@.-) coalesce(blocked, '{}')
                   OPERATOR(@extschema@.-) coalesce(capped, '{}');
END $$;
COMMENT ON FUNCTION @extschema@.contactable(@extschema@.audience, text, interval, integer, timestamptz) IS 'members not contacted on the channel within the cooldown and below the daily limit';

CREATE FUNCTION @extschema@.purge_contacts(keep interval DEFAULT interval '90 days', as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF keep IS NULL OR keep < interval '0' THEN
        RAISE EXCEPTION 'keep must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM @extschema@.contacts c
    WHERE c.tenant = @extschema@._tenant()
      AND c.day < ((as_of - keep) AT TIME ZONE @extschema@._zone())::date;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@.purge_contacts(interval, timestamptz) IS 'deletes contact history older than keep (for the current tenant); returns the rows deleted';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.contacts', '');
--------------------------------------------------------------------------
-- Preset audiences: the platform's standard segments (SPEC 9, item 15)
--------------------------------------------------------------------------

-- Creates the standard audiences as ordinary saved segments (editable with
-- alter_segment, droppable).  paid_filter narrows orders to paid ones in
-- the rule language's filter syntax (e.g. 'status = ''paid'''); NULL counts
-- every order.  Without a views source the prospects audience is skipped.
-- Re-running creates what is missing and keeps the rest as they are (they
-- may have been edited).
CREATE FUNCTION @extschema@.create_preset_segments(orders_source text, views_source text DEFAULT NULL,
                                                   paid_filter text DEFAULT NULL,
                                                   view_seconds_column name DEFAULT 'seconds')
RETURNS TABLE(name text, status text, members bigint)
LANGUAGE plpgsql AS $$
DECLARE
    o text;
    t text;
    p text;
    v text;
    r record;
BEGIN
    IF orders_source IS NULL THEN
        RAISE EXCEPTION 'orders_source must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT quote_ident(s.name), quote_ident(s.time_column) INTO o, t FROM @extschema@._source(orders_source) s;
    IF views_source IS NOT NULL THEN
        v := quote_ident((@extschema@._source(views_source)).name);
    END IF;
    p := CASE WHEN paid_filter IS NULL THEN '' ELSE ' WHERE ' || paid_filter END;
    FOR r IN SELECT * FROM (VALUES
        (1, 'preset: new', '新客: first paid order within 180 days, a purchase in the last 30 days',
         format('min(%1$s.%2$s%3$s) DURING LAST 180 days AND EXISTS %1$s%3$s DURING LAST 30 days', o, t, p)),
        (2, 'preset: returning', '老客: first paid order over 180 days ago, a purchase in the last 30 days',
         format('min(%1$s.%2$s%3$s) < 180 days ago AND EXISTS %1$s%3$s DURING LAST 30 days', o, t, p)),
        (3, 'preset: prospects', '潜客: watched over 15 seconds in the last 15 days, never bought',
         CASE WHEN v IS NULL THEN NULL
              ELSE format('EXISTS %s WHERE %I > 15 DURING LAST 15 days AND NOT EXISTS %s%s', v, view_seconds_column, o, p) END),
        (4, 'preset: silent', '沉默客户: no purchase in 30 days, some in 180 days',
         format('NOT EXISTS %1$s%2$s DURING LAST 30 days AND EXISTS %1$s%2$s DURING LAST 180 days', o, p)),
        (5, 'preset: loyal', '忠诚客户: bought in the last 30 days and at least twice in 180 days',
         format('EXISTS %1$s%2$s DURING LAST 30 days AND count(%1$s%2$s DURING LAST 180 days) >= 2', o, p)),
        (6, 'preset: repeat', '复购客户: at least two purchases in 180 days',
         format('count(%1$s%2$s DURING LAST 180 days) >= 2', o, p)),
        (7, 'preset: recent buyers', '近期购买: a purchase in the last 30 days',
         format('EXISTS %s%s DURING LAST 30 days', o, p))
    ) d(n, seg_name, description, rule) ORDER BY n LOOP
        name := r.seg_name;
        IF r.rule IS NULL THEN
            status := 'skipped: no views source';
            members := NULL;
        ELSIF EXISTS (SELECT FROM @extschema@.segments s WHERE s.tenant = @extschema@._tenant() AND s.name = r.seg_name) THEN
            status := 'kept';
            SELECT s.member_count INTO members FROM @extschema@.segments s
            WHERE s.tenant = @extschema@._tenant() AND s.name = r.seg_name;
        ELSE
            PERFORM @extschema@.create_segment(r.seg_name, r.rule::@extschema@.segment_rule, r.description);
            status := 'created';
            SELECT s.member_count INTO members FROM @extschema@.segments s
            WHERE s.tenant = @extschema@._tenant() AND s.name = r.seg_name;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.create_preset_segments(text, text, text, name) IS 'creates the standard audiences (new, returning, prospects, silent, loyal, repeat, recent buyers) as editable saved segments; re-running keeps existing ones';
--------------------------------------------------------------------------
-- RFM: recency, frequency, monetary scores and the eight classic classes
-- (doc/campaign.md)
--------------------------------------------------------------------------

-- The eight classes: R, F, M each high (better than the average customer)
-- or low.  Tag values are the Chinese names the brief's tools use.
CREATE TABLE @extschema@.rfm_classes (
    class   text PRIMARY KEY,
    label   text NOT NULL UNIQUE,
    r_high  boolean NOT NULL,
    f_high  boolean NOT NULL,
    m_high  boolean NOT NULL,
    position integer NOT NULL UNIQUE
);
INSERT INTO @extschema@.rfm_classes VALUES
    ('important_value',       '重要价值客户', true,  true,  true,  1),
    ('important_development', '重要发展客户', true,  false, true,  2),
    ('important_retention',   '重要保持客户', false, true,  true,  3),
    ('important_winback',     '重要挽留客户', false, false, true,  4),
    ('general_value',         '一般价值客户', true,  true,  false, 5),
    ('general_development',   '一般发展客户', true,  false, false, 6),
    ('general_retention',     '一般保持客户', false, true,  false, 7),
    ('general_winback',       '一般挽留客户', false, false, false, 8);
COMMENT ON TABLE @extschema@.rfm_classes IS 'the eight RFM classes: high or low recency, frequency and monetary value';

-- rfm(): per registered customer (of the current tenant) with at least one
-- event in the source up to as_of:
--   recency_days  days from the last event to as_of (calendar days in the
--                 segment.timezone zone), frequency = events, monetary = sum
--                 of amount (NULL amounts count as 0);
--   r, f, m       1..5 by quintile: ceil(5 * cume_dist()), so equal values
--                 always get equal scores (recency: more recent is higher);
--   class         from R, F, M each compared with the average customer
--                 (recency below the average, frequency and monetary above).
-- Customers without events are not scored.
CREATE FUNCTION @extschema@.rfm(source text, amount_column name, as_of timestamptz DEFAULT now())
RETURNS TABLE(customer_key text, ordinal bigint, recency_days integer, frequency bigint, monetary numeric,
              r integer, f integer, m integer, class text, class_label text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s @extschema@.sources;
    reg @extschema@.customer_registry;
    atype regtype;
    ord_expr text;
    key_join text := '';
    tenant_cond text := '';
BEGIN
    IF source IS NULL OR amount_column IS NULL OR as_of IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO reg FROM @extschema@.customer_registry;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no customer table is registered'
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call segment.register_customers() first.';
    END IF;
    s := @extschema@._source(source);
    atype := @extschema@._column_type(s.rel, amount_column, 'amount column');
    IF (SELECT t.typcategory FROM pg_catalog.pg_type t WHERE t.oid = atype) <> 'N' THEN
        RAISE EXCEPTION 'amount column "%" of % has type %, not a number', amount_column, s.rel, atype
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    IF reg.ordinal_mode = 'direct' THEN
        ord_expr := format('c.%I::bigint', reg.key_column);
    ELSE
        ord_expr := 'o.ordinal';
        key_join := format('JOIN @extschema@.customer_ordinals o ON o.key = c.%I', reg.key_column);
    END IF;
    IF reg.tenant_column IS NOT NULL THEN
        tenant_cond := format('AND c.%I::text = %L', reg.tenant_column, @extschema@._tenant());
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH per_customer AS (
            SELECT c.%1$I::text AS key, %2$s AS ord,
                   ((($1 AT TIME ZONE %10$L)::date) - ((max(e.%3$I)::timestamptz AT TIME ZONE %10$L)::date))::integer AS recency,
                   count(*) AS freq, coalesce(sum(e.%4$I), 0)::numeric AS money
            FROM %5$s e JOIN %6$s c ON c.%1$I = e.%7$I %8$s
            WHERE e.%3$I <= $1 %9$s
            GROUP BY 1, 2
        ), scored AS (
            SELECT p.*,
                   ceil(5 * cume_dist() OVER (ORDER BY p.recency DESC))::integer AS r,
                   ceil(5 * cume_dist() OVER (ORDER BY p.freq))::integer AS f,
                   ceil(5 * cume_dist() OVER (ORDER BY p.money))::integer AS m,
                   p.recency < avg(p.recency) OVER () AS r_high,
                   p.freq > avg(p.freq) OVER () AS f_high,
                   p.money > avg(p.money) OVER () AS m_high
            FROM per_customer p
        )
        SELECT sc.key, sc.ord, sc.recency, sc.freq, sc.money, sc.r, sc.f, sc.m, k.class, k.label
        FROM scored sc JOIN @extschema@.rfm_classes k
             ON k.r_high = sc.r_high AND k.f_high = sc.f_high AND k.m_high = sc.m_high
        ORDER BY sc.ord$q$,
        reg.key_column, ord_expr, s.time_column, amount_column, s.rel, reg.rel, s.customer_column,
        key_join, tenant_cond, @extschema@._zone())
    USING as_of;
END $$;
COMMENT ON FUNCTION @extschema@.rfm(text, name, timestamptz) IS 'recency, frequency, monetary, quintile scores 1-5 and the eight RFM classes per customer with events';

-- Tag groups kept as RFM classes; retag() re-scores them.
CREATE TABLE @extschema@.rfm_groups (
    group_id      integer PRIMARY KEY REFERENCES @extschema@.tag_groups ON DELETE CASCADE,
    source        text NOT NULL,
    amount_column name NOT NULL
);
COMMENT ON TABLE @extschema@.rfm_groups IS 'tag groups holding RFM classes (see segment.create_rfm_tags)';

-- Re-scores an RFM tag group: every scored customer gets its class as an
-- automatic tag, swaps logged; customers no longer scored lose it.
CREATE FUNCTION @extschema@._rescore_rfm(gid integer, as_of timestamptz DEFAULT now(),
                                         OUT added bigint, OUT removed bigint)
LANGUAGE plpgsql SET search_path = @extschema@, pg_catalog, pg_temp AS $$
DECLARE
    g tag_groups;
    rg rfm_groups;
    t tags;
    wins audience[] := '{}';
    vals tags[];
    cur audience;
    rem audience;
    i integer;
BEGIN
    added := 0;
    removed := 0;
    SELECT * INTO g FROM tag_groups WHERE id = gid;
    SELECT * INTO rg FROM rfm_groups WHERE group_id = gid;
    CREATE TEMP TABLE IF NOT EXISTS _segment_rfm (ordinal bigint, label text) ON COMMIT DROP;
    TRUNCATE _segment_rfm;
    INSERT INTO _segment_rfm SELECT x.ordinal, x.class_label FROM rfm(rg.source, rg.amount_column, as_of) x;
    vals := ARRAY(SELECT x FROM tags x WHERE x.group_id = gid ORDER BY x.position, x.id);
    FOR i IN 1 .. coalesce(array_length(vals, 1), 0) LOOP
        wins := wins || (SELECT coalesce(audience_agg(z.ordinal), '{}') FROM _segment_rfm z WHERE z.label = vals[i].value);
    END LOOP;
    -- removals first, so the log reads as swaps
    FOR i IN 1 .. coalesce(array_length(vals, 1), 0) LOOP
        cur := (SELECT coalesce(audience_agg(mm.ordinal), '{}') FROM tag_members mm
                WHERE mm.tag_id = vals[i].id AND mm.source = 'auto');
        rem := cur - wins[i];
        wins[i] := wins[i] - cur;
        PERFORM _apply_auto((vals[i]).id, '{}', rem);
        removed := removed + cardinality(rem);
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(vals, 1), 0) LOOP
        PERFORM _apply_auto((vals[i]).id, wins[i], '{}');
        added := added + cardinality(wins[i]);
    END LOOP;
END $$;

-- An exclusive, automatic tag group of the eight RFM classes.
CREATE FUNCTION @extschema@.create_rfm_tags(group_name text, source text, amount_column name)
RETURNS TABLE(value text, customers bigint)
LANGUAGE plpgsql AS $$
DECLARE
    gid integer;
    k record;
BEGIN
    -- validates the source and amount column before creating anything
    PERFORM count(*) FROM @extschema@.rfm(source, amount_column) LIMIT 1;
    gid := @extschema@.create_tag_group(group_name, exclusive => true, allow_manual => false, allow_auto => true);
    FOR k IN SELECT * FROM @extschema@.rfm_classes ORDER BY position LOOP
        PERFORM @extschema@.add_tag(group_name, k.label);
    END LOOP;
    INSERT INTO @extschema@.rfm_groups VALUES (gid, source, amount_column);
    PERFORM @extschema@._rescore_rfm(gid);
    RETURN QUERY SELECT t.value, count(m.ordinal)
        FROM @extschema@.tags t LEFT JOIN @extschema@.tag_members m ON m.tag_id = t.id
        WHERE t.group_id = gid GROUP BY t.value, t.position ORDER BY t.position;
END $$;
COMMENT ON FUNCTION @extschema@.create_rfm_tags(text, text, name) IS 'creates an exclusive auto tag group of the eight RFM classes, scored now and re-scored by retag()';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.rfm_groups', '');
--------------------------------------------------------------------------
-- Tenant isolation: row-level security on every catalog that carries a
-- tenant, and granting tenants to roles
--------------------------------------------------------------------------

-- Policies compare with (SELECT _tenant()): an init-plan, evaluated once per
-- query rather than once per row.  Table owners and superusers bypass them;
-- so do BYPASSRLS roles, as PostgreSQL intends.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['segments', 'history', 'tag_groups', 'tag_log', 'contacts'] LOOP
        EXECUTE format('ALTER TABLE @extschema@.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON @extschema@.%I USING (tenant = (SELECT @extschema@._tenant()))
                        WITH CHECK (tenant = (SELECT @extschema@._tenant()))', t);
    END LOOP;
END $$;

-- values and holders belong to the tenant of their group
ALTER TABLE @extschema@.tags ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON @extschema@.tags
    USING (group_id IN (SELECT g.id FROM @extschema@.tag_groups g WHERE g.tenant = (SELECT @extschema@._tenant())));

ALTER TABLE @extschema@.rfm_groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON @extschema@.rfm_groups
    USING (group_id IN (SELECT g.id FROM @extschema@.tag_groups g WHERE g.tenant = (SELECT @extschema@._tenant())));

ALTER TABLE @extschema@.tag_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON @extschema@.tag_members
    USING (tag_id IN (SELECT t.id FROM @extschema@.tags t JOIN @extschema@.tag_groups g ON g.id = t.group_id
                      WHERE g.tenant = (SELECT @extschema@._tenant())));

-- Lets a role work for a tenant: the privileges the segment functions need
-- (they run as the caller) and the right to SET segment.tenant to it.
CREATE FUNCTION @extschema@.grant_tenant(tenant text, role regrole) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF tenant IS NULL OR tenant = '' OR role IS NULL THEN
        RAISE EXCEPTION 'tenant and role must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.tenant_roles VALUES (tenant, role::text::name) ON CONFLICT DO NOTHING;
    EXECUTE format('GRANT USAGE ON SCHEMA @extschema@ TO %s', role);
    EXECUTE format('GRANT SELECT ON @extschema@.customer_registry, @extschema@.sources TO %s', role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.segments, @extschema@.history,
                    @extschema@.tag_groups, @extschema@.tags, @extschema@.tag_members, @extschema@.tag_log,
                    @extschema@.contacts, @extschema@.rfm_groups TO %s', role);
    EXECUTE format('GRANT SELECT ON @extschema@.rfm_classes, @extschema@.watches, @extschema@.autotag_triggers TO %s', role);
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA @extschema@ TO %s', role);
    EXECUTE format('GRANT SELECT ON @extschema@.running_refreshes TO %s', role);
    IF to_regclass('@extschema@.customer_ordinals') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON @extschema@.customer_ordinals TO %s', role);
    END IF;
    IF to_regclass('@extschema@.membership') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON @extschema@.membership, @extschema@.customer_tags TO %s', role);
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@.grant_tenant(text, regrole) IS 'allows a role (and its members) to act for a tenant, with the privileges segment functions need';

CREATE FUNCTION @extschema@.revoke_tenant(tenant text, role regrole) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM @extschema@.tenant_roles r WHERE r.tenant = revoke_tenant.tenant AND r.role_name = role::text::name;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION @extschema@.revoke_tenant(text, regrole) IS 'withdraws a tenant from a role (its table privileges stay; without a tenant they show nothing)';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tenant_roles', '');
