-- segment 0.1 -> 0.2: ALTER EXTENSION segment UPDATE.
-- Every change to the SQL surface since 0.1, in the install script's order
-- (src/sql/*.sql); test/t/013_upgrade.pl compares the result with a fresh
-- install object by object.

\echo Use "ALTER EXTENSION segment UPDATE" to load this file. \quit

-- Signatures that changed: register_customers() gained dictionary;
-- add_tag() takes the rule third.
DROP FUNCTION @extschema@.register_customers(regclass, name, name);
DROP FUNCTION @extschema@.add_tag(text, text, boolean, @extschema@.segment_rule);
-- The column hint is built by the C catalog layer (one error site).
DROP FUNCTION @extschema@._columns_hint(regclass);

COMMENT ON FUNCTION @extschema@.audience_in(cstring) IS 'input function of type audience: parses ''{1,2,5-9}'' text';

COMMENT ON FUNCTION @extschema@.audience_out(@extschema@.audience) IS 'output function of type audience: members as ascending text, runs folded into ranges';

COMMENT ON FUNCTION @extschema@.audience_recv(internal) IS 'binary input function of type audience (CRoaring portable bytes)';

COMMENT ON FUNCTION @extschema@.audience_send(@extschema@.audience) IS 'binary output function of type audience (CRoaring portable bytes)';

-- Scalar functions -------------------------------------------------------

-- Planner support: cardinality(a & b), (a | b), (a - b), (a # b) become the
-- matching *_cardinality(a, b) call, which never builds the set.
CREATE FUNCTION @extschema@._cardinality_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'audience_cardinality_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

REVOKE ALL ON FUNCTION @extschema@._cardinality_support(internal) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.cardinality(@extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    SUPPORT @extschema@._cardinality_support;

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

CREATE FUNCTION @extschema@.except_cardinality(@extschema@.audience, @extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_except_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.except_cardinality(@extschema@.audience, @extschema@.audience) IS 'cardinality(a - b) without building a - b';

CREATE FUNCTION @extschema@.xor_cardinality(@extschema@.audience, @extschema@.audience) RETURNS bigint
    AS 'MODULE_PATHNAME', 'audience_xor_cardinality' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.xor_cardinality(@extschema@.audience, @extschema@.audience) IS 'cardinality(a # b) without building a # b';

COMMENT ON FUNCTION @extschema@.audience_union(@extschema@.audience, @extschema@.audience) IS 'implementation of the | operator: union of two audiences';

COMMENT ON FUNCTION @extschema@.audience_intersect(@extschema@.audience, @extschema@.audience) IS 'implementation of the & operator: intersection of two audiences';

COMMENT ON FUNCTION @extschema@.audience_except(@extschema@.audience, @extschema@.audience) IS 'implementation of the - operator: members of a not in b';

COMMENT ON FUNCTION @extschema@.audience_xor(@extschema@.audience, @extschema@.audience) IS 'implementation of the # operator: members of exactly one of the audiences';

COMMENT ON FUNCTION @extschema@.audience_contains_audience(@extschema@.audience, @extschema@.audience) IS 'implementation of the @> operator: true when a holds every member of b';

COMMENT ON FUNCTION @extschema@.audience_contained_by(@extschema@.audience, @extschema@.audience) IS 'implementation of the <@ operator: true when every member of a is in b';

COMMENT ON FUNCTION @extschema@.audience_overlaps(@extschema@.audience, @extschema@.audience) IS 'implementation of the && operator: true when the audiences share a member';

COMMENT ON FUNCTION @extschema@.audience_contains_int4(@extschema@.audience, integer) IS 'implementation of the audience @> integer operator: true when the id is a member';

COMMENT ON FUNCTION @extschema@.audience_int4_contained_by(integer, @extschema@.audience) IS 'implementation of the integer <@ audience operator: true when the id is a member';

COMMENT ON FUNCTION @extschema@.audience_contains_int8(@extschema@.audience, bigint) IS 'implementation of the audience @> bigint operator: true when the id is a member';

COMMENT ON FUNCTION @extschema@.audience_eq(@extschema@.audience, @extschema@.audience) IS 'implementation of the = operator: true when the audiences have the same members';

COMMENT ON FUNCTION @extschema@.audience_ne(@extschema@.audience, @extschema@.audience) IS 'implementation of the <> operator: true when the audiences differ';

COMMENT ON FUNCTION @extschema@.audience_hash(@extschema@.audience) IS 'hash of an audience''s members (hash operator class, GROUP BY, DISTINCT)';

COMMENT ON FUNCTION @extschema@.audience_agg_trans(internal, integer) IS 'transition function of audience_agg(integer): adds an id to the state';

COMMENT ON FUNCTION @extschema@.audience_agg_trans_int8(internal, bigint) IS 'transition function of audience_agg(bigint): adds an id to the state';

COMMENT ON FUNCTION @extschema@.audience_union_trans(internal, @extschema@.audience) IS 'transition function of union_agg: adds an audience''s members to the state';

COMMENT ON FUNCTION @extschema@.audience_intersect_trans(internal, @extschema@.audience) IS 'transition function of intersect_agg: keeps the state''s members that are in an audience';

COMMENT ON FUNCTION @extschema@.audience_union_combine(internal, internal) IS 'combine function of audience_agg and union_agg: union of two partial states';

COMMENT ON FUNCTION @extschema@.audience_intersect_combine(internal, internal) IS 'combine function of intersect_agg: intersection of two partial states';

COMMENT ON FUNCTION @extschema@.audience_state_serialize(internal) IS 'serialize function of the audience aggregates: a partial state as bytes for parallel workers';

COMMENT ON FUNCTION @extschema@.audience_state_deserialize(bytea, internal) IS 'deserialize function of the audience aggregates: a partial state from its bytes';

COMMENT ON FUNCTION @extschema@.audience_agg_final(internal) IS 'final function of the audience aggregates: the state as an audience (NULL when no input was seen)';

--------------------------------------------------------------------------
-- Privileges: who a function acts for, and acting as a rule's author
-- (src/rule_privilege.c; the grants themselves are in 90_tenancy.sql)
--------------------------------------------------------------------------

-- The role the current segment function acts for: inside a catalog-writing
-- API function (run as the extension owner), the role that called it;
-- elsewhere current_user.  Saved rules record it as their author.
CREATE FUNCTION @extschema@._caller() RETURNS regrole
    AS 'MODULE_PATHNAME', 'segment_caller_sql' LANGUAGE C STABLE PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@._caller() IS 'the role the current segment function acts for';

-- The current tenant: segment.tenant, checked.  '' when the registry has no
-- tenant column; an error when one is registered and the setting is empty,
-- or when the role it acts for (_caller()) was not granted the tenant.
CREATE OR REPLACE FUNCTION @extschema@._tenant() RETURNS text
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
    IF NOT @extschema@._tenant_granted(t, pg_catalog.pg_get_userbyid(@extschema@._caller())) THEN
        RAISE EXCEPTION 'permission denied for tenant "%"', t
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A superuser grants tenants to roles with segment.grant_tenant().';
    END IF;
    RETURN t;
END $$;

-- The zone of calendar days is stored with the registration.  0.1 used
-- segment.timezone, else the session's TimeZone: the registration gets the
-- zone of the session running the update (check it with
-- segment.time_zone(), change it with segment.set_time_zone()).
ALTER TABLE @extschema@.customer_registry ADD COLUMN time_zone text;
UPDATE @extschema@.customer_registry
SET time_zone = coalesce(nullif(pg_catalog.current_setting('segment.timezone', true), ''),
                         pg_catalog.current_setting('TimeZone'));
ALTER TABLE @extschema@.customer_registry ALTER COLUMN time_zone SET NOT NULL;

-- The registration, or the error "no customer table is registered" (its
-- hint followed by note, if any): raised in one place, src/catalog_lookup.c.
CREATE FUNCTION @extschema@._customers(note text DEFAULT NULL) RETURNS @extschema@.customer_registry
    AS 'MODULE_PATHNAME', 'segment_catalog_customers' LANGUAGE C STABLE;

-- A tenant's own time zone, where it differs from the registration's.
CREATE TABLE @extschema@.tenant_settings (
    tenant    text PRIMARY KEY CHECK (tenant <> ''),
    time_zone text NOT NULL
);

COMMENT ON TABLE @extschema@.tenant_settings IS 'per-tenant settings: the time zone of the tenant''s calendar days (see segment.set_time_zone)';

-- The registered zone: the current tenant's, else the registration's
-- (NULL before any registration).  Read by the C code too (rule_pg_zone),
-- whoever calls: SECURITY DEFINER, as a zone is no secret and a role
-- without rights on the registry must still get the same calendar days.
CREATE FUNCTION @extschema@.registered_time_zone() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT t.time_zone FROM @extschema@.tenant_settings t
                     WHERE t.tenant = coalesce(current_setting('segment.tenant', true), '')),
                    (SELECT r.time_zone FROM @extschema@.customer_registry r))
$$;

COMMENT ON FUNCTION @extschema@.registered_time_zone() IS 'the registered zone of calendar days: the current tenant''s, else the registration''s';

-- The time zone of calendar days: segment.timezone (an explicit
-- override), else the registered zone, else the session's TimeZone.
CREATE OR REPLACE FUNCTION @extschema@._zone() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(nullif(current_setting('segment.timezone', true), ''),
                    @extschema@.registered_time_zone(),
                    current_setting('TimeZone'))
$$;

-- The zone rules, refreshes, auto-tagging and contact days use now.
CREATE FUNCTION @extschema@.time_zone() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@._zone()
$$;

COMMENT ON FUNCTION @extschema@.time_zone() IS 'the time zone of calendar days now: segment.timezone, else the tenant''s or registration''s zone, else TimeZone';

-- Sets the registered zone: the current tenant's when the customer table
-- has tenants (NULL: back to the registration's), else the registration's.
CREATE FUNCTION @extschema@.set_time_zone(time_zone text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    reg @extschema@.customer_registry;
    t text;
BEGIN
    reg := @extschema@._customers('it records the zone of the registering session');
    IF time_zone IS NOT NULL THEN
        IF btrim(time_zone) = '' OR NOT EXISTS (SELECT FROM pg_timezone_names n WHERE n.name = set_time_zone.time_zone)
           AND NOT EXISTS (SELECT FROM pg_timezone_abbrevs a WHERE a.abbrev = set_time_zone.time_zone) THEN
            RAISE EXCEPTION 'time zone "%" not recognized', time_zone
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use a name from pg_timezone_names, such as ''Asia/Shanghai'' or ''UTC''.';
        END IF;
    END IF;
    IF reg.tenant_column IS NULL THEN
        IF time_zone IS NULL THEN
            RAISE EXCEPTION 'time zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
        END IF;
        UPDATE @extschema@.customer_registry SET time_zone = set_time_zone.time_zone;
    ELSE
        t := @extschema@._tenant();
        IF time_zone IS NULL THEN
            DELETE FROM @extschema@.tenant_settings s WHERE s.tenant = t;
        ELSE
            INSERT INTO @extschema@.tenant_settings AS s VALUES (t, time_zone)
            ON CONFLICT (tenant) DO UPDATE SET time_zone = excluded.time_zone;
        END IF;
    END IF;
    RETURN @extschema@.registered_time_zone();
END $$;

COMMENT ON FUNCTION @extschema@.set_time_zone(text) IS 'sets the zone of calendar days: the current tenant''s (NULL resets it), or the registration''s';

-- Number of saved segments: the registration does not change under them.
-- PL/pgSQL, so that it may precede the segments catalog (45_segments.sql).
CREATE OR REPLACE FUNCTION @extschema@._segment_count() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM @extschema@.segments);
END $$;

-- The type of a column, or an error naming the columns that exist.
CREATE OR REPLACE FUNCTION @extschema@._column_type(rel regclass, col name, what text) RETURNS regtype
    AS 'MODULE_PATHNAME', 'segment_catalog_column_type' LANGUAGE C STABLE;

-- Adds keys of new customers to the dictionary (statement-level, once per statement).
CREATE OR REPLACE FUNCTION @extschema@._dictionary_add() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    reg @extschema@.customer_registry;
BEGIN
    SELECT * INTO reg FROM @extschema@.customer_registry;
    -- keys already there are left out before the insert: ON CONFLICT alone
    -- would still draw an ordinal from the sequence for each of them, so
    -- every UPDATE of the customers would leave gaps in the ordinals
    EXECUTE format('INSERT INTO @extschema@.customer_ordinals (key)
                    SELECT DISTINCT n.%1$I FROM new_rows n WHERE n.%1$I IS NOT NULL
                    AND NOT EXISTS (SELECT FROM @extschema@.customer_ordinals o WHERE o.key = n.%1$I)
                    ON CONFLICT (key) DO NOTHING', reg.key_column);
    RETURN NULL;
END $$;

-- Rejects integer keys outside [0, 2^32), which cannot be ordinals.
CREATE OR REPLACE FUNCTION @extschema@._direct_key_check() RETURNS trigger
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
                  DETAIL = 'Integer customer keys are used directly as ordinals between 0 and 4294967295.',
                  HINT = 'Use keys in that range, or register the customer table with dictionary => true to map keys of any value.';
    END IF;
    RETURN NULL;
END $$;

-- Drops what a previous registration installed on its customer table.
CREATE OR REPLACE FUNCTION @extschema@._unregister_customer_objects() RETURNS void
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
    -- only a registration with a dictionary created it
    IF to_regclass('@extschema@.customer_ordinals') IS NOT NULL THEN
        DROP TABLE @extschema@.customer_ordinals;
    END IF;
    DELETE FROM @extschema@.customer_registry;
END $$;

-- dictionary: NULL or false uses integer keys as their own ordinals (an
-- error for other types), true maps keys of any type (bigint ids beyond
-- 2^32 among them) to dense ordinals through segment.customer_ordinals.
CREATE FUNCTION @extschema@.register_customers(rel regclass, key_column name, tenant_column name DEFAULT NULL,
                                               dictionary boolean DEFAULT NULL)
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
    IF @extschema@._is_integer_type(ktype) AND NOT coalesce(dictionary, false) THEN
        mode := 'direct';
        EXECUTE format('SELECT %1$I::text FROM %2$s WHERE %1$I < 0 OR %1$I > 4294967295 LIMIT 1', key_column, rel) INTO bad;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'customer key % is outside the range of ordinals', bad
                USING ERRCODE = 'numeric_value_out_of_range',
                      DETAIL = 'Integer customer keys are used directly as ordinals between 0 and 4294967295.',
                      HINT = 'Register with dictionary => true to map keys of any size to ordinals.';
        END IF;
    ELSIF NOT coalesce(dictionary, true) THEN
        RAISE EXCEPTION 'customer key column "%" has type %, which cannot be used as ordinals', key_column, ktype
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'Only smallint, integer and bigint keys can be their own ordinals.',
                  HINT = 'Register with dictionary => true or NULL.';
    ELSIF NOT EXISTS (SELECT FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod
                      WHERE a.amname = 'btree' AND c.opcdefault AND c.opcintype = ktype) THEN
        RAISE EXCEPTION 'customer key column "%" has type %, which cannot be a key', key_column, ktype
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Use an integer, bigint, uuid or text key column.';
    ELSE
        mode := 'dictionary';
    END IF;

    SELECT * INTO old FROM @extschema@.customer_registry;
    IF FOUND AND (old.key_type <> ktype OR old.rel <> rel OR old.key_column <> key_column
                  OR old.ordinal_mode <> mode)
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

    -- a re-registration keeps the zone; a first one records the session's
    INSERT INTO @extschema@.customer_registry (rel, key_column, key_type, ordinal_mode, tenant_column, time_zone)
    VALUES (rel, key_column, ktype, mode, tenant_column, coalesce(old.time_zone, @extschema@._zone()));

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
    ELSIF is_table THEN
        -- any integer key (smallint and integer too: -1 is as impossible an
        -- ordinal as 2^32) is checked as it is written, so that no one row
        -- makes every rule fail with "audience member is out of range"
        EXECUTE format('CREATE TRIGGER segment_key_check AFTER INSERT ON %s
                        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                        EXECUTE FUNCTION @extschema@._direct_key_check()', rel);
        EXECUTE format('CREATE TRIGGER segment_key_check_upd AFTER UPDATE ON %s
                        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                        EXECUTE FUNCTION @extschema@._direct_key_check()', rel);
    END IF;
    PERFORM @extschema@._rebuild_views();
END $$;

COMMENT ON FUNCTION @extschema@.register_customers(regclass, name, name, boolean) IS 'registers the customer table: the universe of every rule';

-- A customer key's ordinal: through a backend-local cache of the dictionary
-- (src/key_dictionary.c), or the key itself when integer keys are used
-- directly.  Parallel workers read the leader's copy of the cache in
-- dynamic shared memory (src/key_dictionary_share.c).
CREATE FUNCTION @extschema@.customer_ordinal(key anyelement) RETURNS bigint
    AS 'MODULE_PATHNAME', 'customer_ordinal' LANGUAGE C STRICT STABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.customer_ordinal(anyelement) IS 'the ordinal of a customer key (NULL for a key that is no registered customer''s)';

CREATE OR REPLACE FUNCTION @extschema@.register_source(name text, rel regclass, customer_column name, time_column name)
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
    reg := @extschema@._customers();
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
    PERFORM @extschema@._sync_triggers();
END $$;

-- A registered source, or the error every function reports for an unknown
-- one (the rule compiler's too): its name, and the sources there are
-- (src/catalog_lookup.c).
CREATE OR REPLACE FUNCTION @extschema@._source(name text) RETURNS @extschema@.sources
    AS 'MODULE_PATHNAME', 'segment_catalog_source' LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION @extschema@.unregister_source(name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    users text;
BEGIN
    SELECT string_agg(DISTINCT g.name || '-' || t.value, ', ') INTO users
    FROM @extschema@.tags t JOIN @extschema@.tag_groups g ON g.id = t.group_id
    WHERE t.rule IS NOT NULL AND 'source:' || unregister_source.name = ANY(@extschema@.rule_refs(t.rule));
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'source "%" is used by auto-tagging rules', name
            USING ERRCODE = 'dependent_objects_still_exist', DETAIL = 'Rules of: ' || users || '.',
                  HINT = 'Remove those rules with segment.set_tag_rule(group, value, NULL) first.';
    END IF;
    -- saved segments of every tenant: their next refresh would fail
    SELECT string_agg(DISTINCT quote_literal(x.name) || @extschema@._of_tenant(x.tenant), ', ') INTO users
    FROM @extschema@.segments x
    WHERE 'source:' || unregister_source.name = ANY(@extschema@.rule_refs(x.rule));
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'source "%" is used by saved segments', name
            USING ERRCODE = 'dependent_objects_still_exist', DETAIL = 'Segments: ' || users || '.',
                  HINT = 'Drop those segments, or change their rules with segment.alter_segment(), first.';
    END IF;
    PERFORM @extschema@._source(name);
    DELETE FROM @extschema@.sources s WHERE s.name = unregister_source.name;
END $$;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tenant_settings', '');

COMMENT ON FUNCTION @extschema@.segment_rule_in(cstring) IS 'input function of type segment_rule: parses a rule''s text';

COMMENT ON FUNCTION @extschema@.segment_rule_out(@extschema@.segment_rule) IS 'output function of type segment_rule: the canonical text of a rule';

COMMENT ON FUNCTION @extschema@.segment_rule_recv(internal) IS 'binary input function of type segment_rule';

COMMENT ON FUNCTION @extschema@.segment_rule_send(@extschema@.segment_rule) IS 'binary output function of type segment_rule';

-- A saved rule runs as its author; 0.1's segments were refreshed with the
-- rights of whoever refreshed them: they get the role running the update.
ALTER TABLE @extschema@.segments ADD COLUMN owner regrole NOT NULL DEFAULT @extschema@._caller();

-- history is append-only and outlives its segment; it records the rule
-- of each refresh (NULL for 0.1's rows).
ALTER TABLE @extschema@.history DROP CONSTRAINT history_segment_id_fkey;
ALTER TABLE @extschema@.history ADD COLUMN rule text;

COMMENT ON TABLE @extschema@.history IS 'one row per refresh of a saved segment (append-only)';

-- The segment row of the current tenant, or an error listing what exists
-- (src/catalog_lookup.c, the rule compiler's too).
CREATE OR REPLACE FUNCTION @extschema@._segment(name text) RETURNS @extschema@.segments
    AS 'MODULE_PATHNAME', 'segment_catalog_segment' LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION @extschema@.create_segment(name text, rule @extschema@.segment_rule,
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
    PERFORM @extschema@._check_rule_privileges(rule);
    INSERT INTO @extschema@.segments (name, rule, description, max_members)
    VALUES (name, rule, description, max_members)
    RETURNING segments.id INTO id;
    IF refresh THEN
        PERFORM @extschema@.refresh(name);
    END IF;
    RETURN id;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.alter_segment(name text, rule @extschema@.segment_rule DEFAULT NULL,
                                          description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
BEGIN
    IF rule IS NOT NULL THEN
        PERFORM @extschema@._check_cycles(name, rule);
        PERFORM @extschema@.compile(rule);
        PERFORM @extschema@._check_rule_privileges(rule);
    END IF;
    UPDATE @extschema@.segments x
    SET rule = coalesce(alter_segment.rule, x.rule),
        description = coalesce(alter_segment.description, x.description),
        status = CASE WHEN alter_segment.rule IS NOT NULL THEN 'pending' ELSE x.status END,
        owner = CASE WHEN alter_segment.rule IS NOT NULL THEN @extschema@._caller() ELSE x.owner END,
        updated_at = now()
    WHERE x.id = s.id;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.drop_segment(name text) RETURNS void
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
    -- its followers see its last members exit (47_changes.sql)
    PERFORM @extschema@._log_changes(s, 0, '{}', coalesce(s.members, '{}'), 'drop');
    DELETE FROM @extschema@.segments WHERE id = s.id;
END $$;

COMMENT ON FUNCTION @extschema@.drop_segment(text) IS 'drops a segment and its pg_cron refresh job; refused while other segments read it with IN SEGMENT';

-- Refreshes one segment atomically: the new members replace the old ones
-- in one UPDATE, visible when the caller's transaction commits.  A failed
-- evaluation keeps the old members and records the error.
CREATE OR REPLACE FUNCTION @extschema@.refresh(name text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    t0 timestamptz := clock_timestamp();
    fresh @extschema@.audience;
    ent @extschema@.audience;
    ext @extschema@.audience;
    n bigint;
    err text;
BEGIN
    -- one refresh per segment at a time; a second caller is told, never
    -- blocked.  Two int4 keys carry the whole bigint id (its high half folded
    -- into the name's hash, its low half as the second key), so ids beyond
    -- 2^31 neither fail nor collide; running_refreshes decodes the same.
    IF NOT pg_catalog.pg_try_advisory_xact_lock(
               pg_catalog.hashtext('segment.refresh') # (s.id >> 32)::integer,
               ((s.id & 4294967295) - CASE WHEN (s.id & 4294967295) > 2147483647 THEN 4294967296 ELSE 0 END)::integer) THEN
        RAISE EXCEPTION 'segment "%" is already being refreshed', name
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Wait for the running refresh to commit; see segment.running_refreshes.';
    END IF;
    -- re-read under the lock: a refresh that committed meanwhile changed the members
    s := @extschema@._segment(name);
    BEGIN
        -- as the rule's author: it reads no more than its author could
        fresh := @extschema@._evaluate_as(s.owner, s.rule, now());
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
        INSERT INTO @extschema@.history (segment_id, refreshed_at, milliseconds, error, rule)
        VALUES (s.id, now(), extract(epoch FROM clock_timestamp() - t0) * 1000, err, s.rule::text);
        RAISE WARNING 'refresh of segment "%" failed: %', name, err
            USING HINT = 'The previous members are kept; see segment.segments.last_error.';
        RETURN NULL;
    END IF;
    -- who entered and exited, computed once for the row, the history and
    -- the change feed (47_changes.sql)
    ent := fresh OPERATOR(@extschema@.-) coalesce(s.members, '{}');
    ext := coalesce(s.members, '{}') OPERATOR(@extschema@.-) fresh;
    UPDATE @extschema@.segments
    SET members = fresh, member_count = n, status = 'ready', last_error = NULL,
        entered = ent, exited = ext, refreshed_at = now(), updated_at = now()
    WHERE id = s.id;
    INSERT INTO @extschema@.history (segment_id, refreshed_at, member_count, entered, exited, milliseconds, rule)
    VALUES (s.id, now(), n, @extschema@.cardinality(ent), @extschema@.cardinality(ext),
            extract(epoch FROM clock_timestamp() - t0) * 1000, s.rule::text);
    PERFORM @extschema@._log_changes(s, n, ent, ext, 'refresh');
    RETURN n;
END $$;

CREATE OR REPLACE VIEW @extschema@.running_refreshes WITH (security_invoker = true) AS
SELECT s.name AS segment_name, s.tenant, a.pid, a.usename, a.xact_start, now() - a.xact_start AS running_for
FROM pg_catalog.pg_locks l
JOIN @extschema@.segments s ON l.locktype = 'advisory' AND l.objsubid = 2
     AND l.classid::bigint = ((pg_catalog.hashtext('segment.refresh') # (s.id >> 32)::integer)::bigint & 4294967295)
     AND l.objid::bigint = (s.id & 4294967295) AND l.granted
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid;

--------------------------------------------------------------------------
-- Scheduling refreshes with pg_cron
--------------------------------------------------------------------------

-- Raises a clear error when pg_cron is not installed in this database.
CREATE OR REPLACE FUNCTION @extschema@._require_pg_cron() RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    hint text := 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, and run CREATE EXTENSION pg_cron.';
BEGIN
    IF to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
        IF coalesce(current_setting('cron.database_name', true), current_database()) <> current_database() THEN
            RAISE EXCEPTION 'pg_cron is not installed in this database'
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = format('pg_cron runs in database %s (cron.database_name).',
                                      quote_ident(current_setting('cron.database_name'))),
                      HINT = 'Run the statement that segment.schedule_refresh_command() or '
                             'segment.schedule_retag_command() returns in that database.';
        END IF;
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'feature_not_supported', HINT = hint;
    END IF;
END $$;

-- The command of a segment's refresh job.  It starts with the settings
-- that make it compute what the scheduling session computes: the tenant,
-- and the zone of calendar days when the session overrides it with
-- segment.timezone (otherwise the job, like every caller, uses the
-- registered zone: segment.time_zone()).
CREATE FUNCTION @extschema@.refresh_command(name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('SET segment.tenant = %L; ', s.tenant) ||
           CASE WHEN coalesce(current_setting('segment.timezone', true), '') = '' THEN ''
                ELSE format('SET segment.timezone = %L; ', current_setting('segment.timezone')) END ||
           format('SELECT @extschema@.refresh(%L)', s.name)
    FROM @extschema@._segment(name) s
$$;

COMMENT ON FUNCTION @extschema@.refresh_command(text) IS 'the command a pg_cron job runs to refresh the segment (tenant, and segment.timezone when set)';

CREATE OR REPLACE FUNCTION @extschema@.schedule_refresh(name text, cron text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    job bigint;
BEGIN
    PERFORM @extschema@._require_pg_cron();
    EXECUTE 'SELECT cron.schedule($1, $2, $3)'
        INTO job
        USING @extschema@._refresh_job_name(s), cron, @extschema@.refresh_command(name);
    RETURN job;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.unschedule_refresh(name text, missing_ok boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    job_name text := @extschema@._refresh_job_name(s);
BEGIN
    PERFORM @extschema@._require_pg_cron();
    -- the caller's job, also when drop_segment() (run as the owner) calls this
    IF NOT EXISTS (SELECT FROM cron.job j WHERE j.jobname = job_name
                   AND j.username = pg_catalog.pg_get_userbyid(@extschema@._caller())) THEN
        IF missing_ok THEN
            RETURN false;
        END IF;
        RAISE EXCEPTION 'segment "%" has no scheduled refresh', name USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE 'SELECT cron.unschedule(j.jobid) FROM cron.job j WHERE j.jobname = $1 AND j.username = $2'
        USING job_name, pg_catalog.pg_get_userbyid(@extschema@._caller());
    RETURN true;
END $$;

-- pg_cron usually lives in one database (cron.database_name) and the shop
-- in another: the statement to run there, scheduling the same job in this
-- database (cron.schedule_in_database, pg_cron 1.4; a superuser grants
-- EXECUTE on it).  Nothing is scheduled by this function itself.
CREATE FUNCTION @extschema@.schedule_refresh_command(name text, cron text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
BEGIN
    IF cron IS NULL OR btrim(cron) = '' THEN
        RAISE EXCEPTION 'cron schedule must not be empty' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Use cron syntax, e.g. ''0 3 * * *''.';
    END IF;
    RETURN format('SELECT cron.schedule_in_database(%L, %L, %L, %L, %L);',
                  @extschema@._refresh_job_name(s), cron, @extschema@.refresh_command(name),
                  current_database(), current_user);
END $$;

COMMENT ON FUNCTION @extschema@.schedule_refresh_command(text, text) IS 'the statement that schedules the segment''s refresh from the pg_cron database when it is another database';

CREATE FUNCTION @extschema@.unschedule_refresh_command(name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %L AND database = %L AND username = %L;',
                  @extschema@._refresh_job_name(@extschema@._segment(name)), current_database(), current_user)
$$;

COMMENT ON FUNCTION @extschema@.unschedule_refresh_command(text) IS 'the statement that removes the segment''s refresh job from the pg_cron database when it is another database';

--------------------------------------------------------------------------
-- Change feed: every refresh's entered and exited customers in a durable
-- log, named consumers that read it page by page and acknowledge what
-- they delivered, and a NOTIFY after each refresh (doc/changes.md)
--------------------------------------------------------------------------

-- One row per refresh that changed a segment's members (and one when a
-- segment is dropped: its last members exit).  The sets are audiences,
-- so a refresh of a million members is one row.
CREATE TABLE @extschema@.change_log (
    position     bigserial PRIMARY KEY,
    tenant       text NOT NULL DEFAULT @extschema@._tenant(),
    segment_id   bigint NOT NULL,      -- no foreign key: outlives drop_segment
    segment_name text NOT NULL,
    logged_at    timestamptz NOT NULL DEFAULT now(),
    entered      @extschema@.audience NOT NULL,
    exited       @extschema@.audience NOT NULL,
    reason       text NOT NULL CHECK (reason IN ('refresh', 'drop'))
);

CREATE INDEX ON @extschema@.change_log (segment_id, position);

CREATE INDEX ON @extschema@.change_log (logged_at);

COMMENT ON TABLE @extschema@.change_log IS 'entered and exited customers of every refresh, by position (see segment.read_changes)';

-- The newest position purge_changes() removed, per segment: a consumer
-- that has not read up to it has lost changes and is told so.
CREATE TABLE @extschema@.change_log_horizon (
    segment_id   bigint PRIMARY KEY,
    tenant       text NOT NULL,
    purged_upto  bigint NOT NULL,
    purged_until timestamptz NOT NULL  -- the newest logged_at removed
);

COMMENT ON TABLE @extschema@.change_log_horizon IS 'per segment, the last change-log position removed by segment.purge_changes()';

CREATE TABLE @extschema@.consumers (
    tenant       text NOT NULL DEFAULT @extschema@._tenant(),
    name         text NOT NULL CHECK (btrim(name) <> ''),
    segment_id   bigint,               -- NULL: every segment of the tenant
    segment_name text,
    position     bigint NOT NULL,      -- acknowledged up to and including
    created_at   timestamptz NOT NULL DEFAULT now(),
    acked_at     timestamptz,
    PRIMARY KEY (tenant, name)
);

COMMENT ON TABLE @extschema@.consumers IS 'named readers of the change feed and the position each acknowledged (see segment.create_consumer)';

-- A change's position: the log row's position times 2^33, plus 2^32 for
-- an exit, plus the customer's ordinal.  Positions increase in the order
-- read_changes() returns changes, and stay below 2^63 for 2^30 log rows.
CREATE FUNCTION @extschema@._change_position(log_position bigint, exited boolean, ordinal bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (log_position << 33) | (CASE WHEN exited THEN 1::bigint << 32 ELSE 0 END) | ordinal
$$;

-- Appends a refresh's changes (called by refresh() and drop_segment()) and
-- notifies listeners on channel segment_refresh when the transaction
-- commits.  Positions are drawn under a transaction-level lock, so they
-- commit in increasing order: a reader that has seen position p will
-- never later see a smaller one commit.
CREATE FUNCTION @extschema@._log_changes(s @extschema@.segments, members bigint, entered @extschema@.audience,
                                         exited @extschema@.audience, reason text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    pos bigint;
BEGIN
    IF NOT @extschema@.is_empty(entered) OR NOT @extschema@.is_empty(exited) THEN
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('segment.change_log'));
        INSERT INTO @extschema@.change_log (tenant, segment_id, segment_name, entered, exited, reason)
        VALUES (s.tenant, s.id, s.name, entered, exited, reason)
        RETURNING position INTO pos;
    END IF;
    PERFORM pg_catalog.pg_notify('segment_refresh', pg_catalog.json_build_object(
        'segment', s.name, 'tenant', s.tenant, 'reason', reason,
        'members', members,
        'entered', @extschema@.cardinality(entered), 'exited', @extschema@.cardinality(exited),
        'position', CASE WHEN pos IS NULL THEN NULL ELSE pos << 33 END)::text);
END $$;

-- The consumer row of the current tenant, or an error naming the fix.
CREATE FUNCTION @extschema@._consumer(name text) RETURNS @extschema@.consumers
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c @extschema@.consumers;
BEGIN
    SELECT * INTO c FROM @extschema@.consumers x WHERE x.tenant = @extschema@._tenant() AND x.name = _consumer.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with segment.create_consumer(); segment.consumers lists the existing ones.';
    END IF;
    RETURN c;
END $$;

CREATE FUNCTION @extschema@.create_consumer(name text, segment_name text DEFAULT NULL,
                                            start text DEFAULT 'beginning')
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments;
    pos bigint := 0;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'consumer name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF start IS NULL OR start NOT IN ('beginning', 'now') THEN
        RAISE EXCEPTION 'start must be ''beginning'' or ''now'', not %', coalesce(quote_literal(start), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '''beginning'' replays the retained log (a segment''s first refresh enters its members); ''now'' follows only later refreshes.';
    END IF;
    IF segment_name IS NOT NULL THEN
        s := @extschema@._segment(segment_name);
    END IF;
    IF start = 'now' THEN
        -- every position drawn later is larger (see _log_changes); purged
        -- positions count as read
        SELECT greatest(coalesce((SELECT max(l.position) FROM @extschema@.change_log l), 0),
                        coalesce((SELECT max(h.purged_upto) FROM @extschema@.change_log_horizon h), 0))
               << 33 | ((1::bigint << 33) - 1) INTO pos;
    END IF;
    IF EXISTS (SELECT FROM @extschema@.consumers c WHERE c.tenant = @extschema@._tenant()
               AND c.name = create_consumer.name) THEN
        RAISE EXCEPTION 'consumer "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO @extschema@.consumers (name, segment_id, segment_name, position)
    VALUES (name, s.id, s.name, pos);
    RETURN pos;
END $$;

COMMENT ON FUNCTION @extschema@.create_consumer(text, text, text) IS 'creates a named reader of the change feed of one segment (or all); returns its starting position';

CREATE FUNCTION @extschema@.drop_consumer(name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c @extschema@.consumers := @extschema@._consumer(name);
BEGIN
    DELETE FROM @extschema@.consumers x WHERE x.tenant = c.tenant AND x.name = c.name;
END $$;

COMMENT ON FUNCTION @extschema@.drop_consumer(text) IS 'drops a consumer of the change feed';

-- The next changes after the consumer's acknowledged position, in
-- position order, at most max_rows; reading does not move the consumer.
CREATE FUNCTION @extschema@.read_changes(consumer text, max_rows integer DEFAULT 10000)
RETURNS TABLE("position" bigint, segment_name text, customer_key text, change text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c @extschema@.consumers := @extschema@._consumer(consumer);
    reg @extschema@.customer_registry;
    lost bigint;
    left_rows integer := max_rows;
    l @extschema@.change_log;
    after_entered bigint;
    after_exited bigint;
    part @extschema@.audience;
    phase boolean;
BEGIN
    IF max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'max_rows must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT max(h.purged_upto) INTO lost FROM @extschema@.change_log_horizon h
    WHERE h.tenant = c.tenant AND (c.segment_id IS NULL OR h.segment_id = c.segment_id)
      AND (h.purged_upto << 33) | ((1::bigint << 33) - 1) > c.position;
    IF lost IS NOT NULL THEN
        RAISE EXCEPTION 'consumer "%" has fallen behind the change log', consumer
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Changes up to log position %s were purged before the consumer read them (it acknowledged %s).',
                                  lost, c.position),
                  HINT = 'Resynchronise from the current members (segment.membership), then drop the consumer and create it again with start => ''now''.';
    END IF;
    SELECT * INTO reg FROM @extschema@.customer_registry;
    FOR l IN SELECT * FROM @extschema@.change_log x
             WHERE x.tenant = c.tenant AND (c.segment_id IS NULL OR x.segment_id = c.segment_id)
               AND x.position >= c.position >> 33
             ORDER BY x.position LOOP
        -- where in this row the consumer stands: ordinals after which to go on
        after_entered := -1;
        after_exited := -1;
        IF l.position = c.position >> 33 THEN
            IF (c.position >> 32) & 1 = 0 THEN
                after_entered := c.position & 4294967295;
            ELSE
                after_entered := 4294967295;
                after_exited := c.position & 4294967295;
            END IF;
        END IF;
        FOREACH phase IN ARRAY ARRAY[false, true] LOOP
            EXIT WHEN left_rows = 0;
            part := CASE WHEN phase THEN @extschema@.page(l.exited, after_exited, left_rows)
                         ELSE @extschema@.page(l.entered, after_entered, left_rows) END;
            CONTINUE WHEN @extschema@.is_empty(part);
            -- keys of exited customers deleted since are still named: the
            -- dictionary is append-only, direct keys are the ordinals.  ORDER
            -- BY 1: the position (a bare "i" would be the text key column)
            RETURN QUERY EXECUTE format(
                'SELECT @extschema@._change_position($1, $2, i), $3, %s, $4
                 FROM @extschema@.ids_bigint($5) i %s ORDER BY 1',
                CASE WHEN reg.ordinal_mode = 'dictionary' THEN 'o.key::text' ELSE 'i::text' END,
                CASE WHEN reg.ordinal_mode = 'dictionary'
                     THEN 'LEFT JOIN @extschema@.customer_ordinals o ON o.ordinal = i' ELSE '' END)
                USING l.position, phase, l.segment_name, CASE WHEN phase THEN 'exited' ELSE 'entered' END, part;
            left_rows := left_rows - @extschema@.cardinality(part)::integer;
        END LOOP;
        EXIT WHEN left_rows = 0;
    END LOOP;
END $$;

COMMENT ON FUNCTION @extschema@.read_changes(text, integer) IS 'the next changes (entered/exited customers) after the consumer''s acknowledged position, at most max_rows; does not move the consumer';

-- Moves the consumer up to and including upto (a position read_changes()
-- returned).  Never backwards.
CREATE FUNCTION @extschema@.ack_changes(consumer text, upto bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    c @extschema@.consumers := @extschema@._consumer(consumer);
    pos bigint;
BEGIN
    IF upto IS NULL THEN
        RAISE EXCEPTION 'position must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF upto < c.position THEN
        RAISE EXCEPTION 'consumer "%" has already acknowledged position %', consumer, c.position
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Position %s is before it; acknowledgements never move a consumer back.', upto);
    END IF;
    -- the last change of its log row: the whole row is read (so purging
    -- that row later loses this consumer nothing)
    SELECT CASE WHEN upto >= @extschema@._change_position(l.position, NOT @extschema@.is_empty(l.exited),
                               @extschema@.max(CASE WHEN @extschema@.is_empty(l.exited) THEN l.entered ELSE l.exited END))
                THEN (l.position << 33) | ((1::bigint << 33) - 1) ELSE upto END
    INTO pos FROM @extschema@.change_log l WHERE l.position = upto >> 33;
    UPDATE @extschema@.consumers x SET position = coalesce(pos, upto), acked_at = now()
    WHERE x.tenant = c.tenant AND x.name = c.name;
    RETURN upto;
END $$;

COMMENT ON FUNCTION @extschema@.ack_changes(text, bigint) IS 'acknowledges the consumer''s changes up to and including a position';

-- Removes log rows older than keep (a cron job runs it); consumers that
-- had not read them are told by read_changes().
CREATE FUNCTION @extschema@.purge_changes(keep interval DEFAULT interval '30 days') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF keep IS NULL OR keep < interval '0' THEN
        RAISE EXCEPTION 'keep must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH gone AS (
        DELETE FROM @extschema@.change_log l
        WHERE l.tenant = @extschema@._tenant() AND l.logged_at < now() - keep
        RETURNING l.segment_id, l.tenant, l.position, l.logged_at
    ), per_segment AS (
        SELECT g.segment_id, g.tenant, max(g.position) AS upto, max(g.logged_at) AS until, count(*) AS n
        FROM gone g GROUP BY 1, 2
    ), horizon AS (
        INSERT INTO @extschema@.change_log_horizon AS h (segment_id, tenant, purged_upto, purged_until)
        SELECT p.segment_id, p.tenant, p.upto, p.until FROM per_segment p
        ON CONFLICT (segment_id) DO UPDATE SET purged_upto = greatest(h.purged_upto, excluded.purged_upto),
                                               purged_until = greatest(h.purged_until, excluded.purged_until)
    )
    SELECT coalesce(sum(p.n), 0) INTO n FROM per_segment p;
    RETURN n;
END $$;

COMMENT ON FUNCTION @extschema@.purge_changes(interval) IS 'removes change-log rows older than keep; returns how many';

-- The segment's members as they were at as_of, rebuilt from its current
-- members by undoing, newest first, every change logged after as_of.  It
-- needs only the log rows after as_of, so it works back to the retention.
CREATE FUNCTION @extschema@.members_at(name text, as_of timestamptz) RETURNS @extschema@.audience
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    m @extschema@.audience := coalesce(s.members, '{}');
    l @extschema@.change_log;
BEGIN
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF s.refreshed_at IS NULL OR as_of < (SELECT min(h.refreshed_at) FROM @extschema@.history h
                                          WHERE h.segment_id = s.id AND h.error IS NULL) THEN
        RETURN NULL;                -- not refreshed yet at as_of: no members to speak of
    END IF;
    IF EXISTS (SELECT FROM @extschema@.change_log_horizon h WHERE h.segment_id = s.id AND h.purged_until > as_of) THEN
        RAISE EXCEPTION 'the change log of segment "%" no longer reaches back to %', name, as_of
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Changes logged before that were purged by segment.purge_changes().',
                  HINT = 'Ask for a later instant, or keep the log longer.';
    END IF;
    FOR l IN SELECT * FROM @extschema@.change_log x WHERE x.segment_id = s.id AND x.logged_at > as_of
             ORDER BY x.position DESC LOOP
        m := (m OPERATOR(@extschema@.-) l.entered) OPERATOR(@extschema@.|) l.exited;
    END LOOP;
    RETURN m;
END $$;

COMMENT ON FUNCTION @extschema@.members_at(text, timestamptz) IS 'the segment''s members as of a past instant, rebuilt from the change log (within its retention)';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.change_log', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.change_log_position_seq', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.change_log_horizon', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.consumers', '');

-- The author of a group's rules (auto-tagging runs them as it): for the
-- groups with rules, the role running the update.
ALTER TABLE @extschema@.tag_groups ADD COLUMN rule_owner regrole;
UPDATE @extschema@.tag_groups g SET rule_owner = pg_catalog.current_user()::regrole
WHERE EXISTS (SELECT FROM @extschema@.tags t WHERE t.group_id = g.id AND t.rule IS NOT NULL)
   OR EXISTS (SELECT FROM @extschema@.rfm_groups r WHERE r.group_id = g.id);

ALTER TABLE @extschema@.tag_log ALTER COLUMN actor SET DEFAULT @extschema@._caller()::text;

-- The ordinal of a customer key, or an error when it is not a registered customer.
CREATE OR REPLACE FUNCTION @extschema@._ordinal_of(customer_key anyelement) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    reg @extschema@.customer_registry;
    ord bigint;
    found_it boolean;
BEGIN
    reg := @extschema@._customers();
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
-- The tenant's tag group, or an error naming its groups; a value of one,
-- or an error naming its values (src/catalog_lookup.c).
CREATE OR REPLACE FUNCTION @extschema@._group(group_name text) RETURNS @extschema@.tag_groups
    AS 'MODULE_PATHNAME', 'segment_catalog_group' LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION @extschema@._tag(group_name text, value text) RETURNS @extschema@.tags
    AS 'MODULE_PATHNAME', 'segment_catalog_tag' LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION @extschema@.create_tag_group(name text, exclusive boolean DEFAULT false,
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
    IF exclusive IS NULL OR allow_manual IS NULL OR allow_auto IS NULL THEN
        RAISE EXCEPTION 'exclusive, allow_manual and allow_auto must not be NULL' USING ERRCODE = 'null_value_not_allowed',
              HINT = 'Leave a parameter out to take its default.';
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

CREATE OR REPLACE FUNCTION @extschema@.rename_tag_group(name text, new_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g @extschema@.tag_groups := @extschema@._group(name);
BEGIN
    IF new_name IS NULL OR btrim(new_name) = '' OR position('-' IN new_name) > 0 THEN
        RAISE EXCEPTION 'invalid tag group name "%"', new_name
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Names are non-empty and contain no "-".';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.tag_groups x WHERE x.tenant = g.tenant AND x.name = new_name AND x.id <> g.id) THEN
        RAISE EXCEPTION 'tag group "%" already exists', new_name USING ERRCODE = 'duplicate_object';
    END IF;
    UPDATE @extschema@.tag_groups SET name = new_name WHERE id = g.id;
END $$;

COMMENT ON FUNCTION @extschema@.rename_tag_group(text, text) IS 'renames a tag group (non-empty, no "-")';

-- New positions 1..n for ids listed in their current order: moved at
-- target (clamped to 1..n; NULL: last), the others in order around it.
-- move_tag_group() and move_tag() renumber with it.
CREATE FUNCTION @extschema@._renumber(ids integer[], moved integer, target integer)
RETURNS TABLE(id integer, "position" integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH p AS (
        SELECT greatest(1, least(coalesce(target, cardinality(ids)), cardinality(ids))) AS p
    ), others AS (
        SELECT x.id, row_number() OVER (ORDER BY x.ord)::integer AS r
        FROM unnest(ids) WITH ORDINALITY AS x(id, ord) WHERE x.id <> moved
    )
    SELECT o.id, CASE WHEN o.r >= p.p THEN o.r + 1 ELSE o.r END FROM others o, p
    UNION ALL
    SELECT moved, p.p FROM p
$$;

CREATE OR REPLACE FUNCTION @extschema@.move_tag_group(name text, "position" integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g @extschema@.tag_groups := @extschema@._group(name);
BEGIN
    UPDATE @extschema@.tag_groups t SET position = r.position
    FROM @extschema@._renumber(ARRAY(SELECT x.id FROM @extschema@.tag_groups x WHERE x.tenant = g.tenant
                                     ORDER BY x.position, x.id), g.id, move_tag_group."position") r
    WHERE t.id = r.id;
END $$;

COMMENT ON FUNCTION @extschema@.set_tag_group_enabled(text, boolean) IS 'enables or disables a tag group: a disabled group is hidden from customer_tags and tags no one, by hand or by rule; its customers keep their tags';

-- The rule is the third parameter, so add_tag('价值', '低价值',
-- 'sum(...) < 300') reads as it looks.
CREATE FUNCTION @extschema@.add_tag(group_name text, value text, rule @extschema@.segment_rule DEFAULT NULL,
                                     auto_remove boolean DEFAULT true)
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

COMMENT ON FUNCTION @extschema@.add_tag(text, text, @extschema@.segment_rule, boolean) IS 'adds a value to a tag group, with an optional auto-tagging rule (applied at once)';

CREATE OR REPLACE FUNCTION @extschema@.move_tag(group_name text, value text, "position" integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
BEGIN
    UPDATE @extschema@.tags x SET position = r.position
    FROM @extschema@._renumber(ARRAY(SELECT y.id FROM @extschema@.tags y WHERE y.group_id = t.group_id
                                     ORDER BY y.position, y.id), t.id, move_tag."position") r
    WHERE x.id = r.id;
END $$;

COMMENT ON FUNCTION @extschema@.move_tag(text, text, integer) IS 'moves a value to a position in its tag group (1 = first); the others shift';

COMMENT ON FUNCTION @extschema@.set_tag_enabled(text, text, boolean) IS 'enables or disables a value of a tag group: a disabled value is hidden from customer_tags and tags no one, by hand or by rule; its customers keep it';

CREATE OR REPLACE FUNCTION @extschema@.rename_tag(group_name text, value text, new_value text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
BEGIN
    IF new_value IS NULL OR btrim(new_value) = '' THEN
        RAISE EXCEPTION 'tag value must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.tags x WHERE x.group_id = t.group_id AND x.value = new_value AND x.id <> t.id) THEN
        RAISE EXCEPTION 'tag "%" already exists in group "%"', new_value, group_name USING ERRCODE = 'duplicate_object';
    END IF;
    UPDATE @extschema@.tags SET value = new_value WHERE id = t.id;
END $$;

COMMENT ON FUNCTION @extschema@.rename_tag(text, text, text) IS 'renames a value of a tag group';

COMMENT ON FUNCTION @extschema@.drop_tag(text, text) IS 'drops a value of a tag group and its customers'' tags (logged)';

CREATE OR REPLACE FUNCTION @extschema@.untag_customer(group_name text, value text, customer_key anyelement) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
    g @extschema@.tag_groups := @extschema@._group(group_name);
    ord bigint;
    how text;
BEGIN
    -- a disabled group or value keeps its customers' tags (doc/tags.md)
    PERFORM @extschema@._check_manual(t, g);
    ord := @extschema@._ordinal_of(customer_key);
    DELETE FROM @extschema@.tag_members m WHERE m.tag_id = t.id AND m.ordinal = ord RETURNING m.source INTO how;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO @extschema@.tag_log (group_name, value, ordinal, action, source) VALUES (g.name, t.value, ord, 'remove', 'manual');
    RETURN true;
END $$;

-- import_tags(rel): rows (customer_key, label) with label "group-value".
-- All rows are checked first; nothing is applied unless every row is valid
-- or on_error => 'skip' is given, so an import never half-happens.
CREATE OR REPLACE FUNCTION @extschema@.import_tags(rel regclass, on_error text DEFAULT 'abort')
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
    IF on_error IS NULL OR on_error NOT IN ('abort', 'skip') THEN
        RAISE EXCEPTION 'on_error must be ''abort'' or ''skip'', not %', coalesce(quote_literal(on_error), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS _segment_import (n bigint, key text, label text, tag_id integer, ordinal bigint, status text, message text)
        ON COMMIT DROP;
    PERFORM @extschema@._check_import(rel, 'pg_temp._segment_import');
    TRUNCATE _segment_import;
    -- rows numbered in input order, WITH ORDINALITY over the rows as read: a
    -- table's in physical order (ctid: the order COPY or INSERT wrote them,
    -- whatever plan or synchronized scan reads it), a view's in its own order
    FOR r IN EXECUTE format('SELECT o.n, o.j FROM unnest(ARRAY(SELECT to_jsonb(c) FROM %s c %s))
                                 WITH ORDINALITY AS o(j, n)', rel,
                            CASE WHEN (SELECT relkind IN ('r', 'm') FROM pg_class WHERE oid = rel)
                                 THEN 'ORDER BY c.ctid' ELSE '' END) LOOP
        row_number := r.n;
        customer_key := (r.j -> (SELECT attname FROM pg_attribute WHERE attrelid = rel AND attnum = 1)) #>> '{}';
        label := (r.j -> (SELECT attname FROM pg_attribute WHERE attrelid = rel AND attnum = 2)) #>> '{}';
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

-- Groups whose auto-tagging failed inside the trigger (the application's
-- statement went through without their re-tagging): stale until retag()
-- succeeds for them; the trigger skips them meanwhile (src/autotag_trigger.c).
CREATE TABLE @extschema@.tag_group_errors (
    group_id  integer PRIMARY KEY REFERENCES @extschema@.tag_groups ON DELETE CASCADE,
    failed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    relation  text NOT NULL,        -- the table whose statement fired the trigger
    error     text NOT NULL
);

COMMENT ON TABLE @extschema@.tag_group_errors IS 'auto-tagging failures: groups whose tags are stale until segment.retag()';

CREATE VIEW @extschema@.stale_tag_groups AS
SELECT g.name AS group_name, e.failed_at, e.relation, e.error
FROM @extschema@.tag_group_errors e JOIN @extschema@.tag_groups g ON g.id = e.group_id
WHERE g.tenant = @extschema@._tenant();

COMMENT ON VIEW @extschema@.stale_tag_groups IS 'tag groups of the current tenant whose auto-tagging failed; segment.retag(group) repairs them';

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tag_group_errors', 'tenant_settings'] LOOP
        EXECUTE format('CREATE TRIGGER autotag_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
                        ON @extschema@.%I FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._autotag_catalog_changed()', t);
    END LOOP;
END $$;

-- Sets (or with NULL removes) the rule of a tag value, tags existing
-- customers at once and keeps the triggers in step.
CREATE OR REPLACE FUNCTION @extschema@.set_tag_rule(group_name text, value text, rule @extschema@.segment_rule)
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
        PERFORM @extschema@._claim_tag_rules(g, t, rule);
    END IF;
    UPDATE @extschema@.tags x SET rule = set_tag_rule.rule WHERE x.id = t.id;
    PERFORM @extschema@._sync_triggers();
    RETURN QUERY SELECT * FROM @extschema@.retag(g.name);
END $$;

-- retag(): full re-evaluation (relative windows move with time), of one
-- group and the groups reading it, or of every auto group of the tenant.
CREATE OR REPLACE FUNCTION @extschema@.retag(group_name text DEFAULT NULL)
RETURNS TABLE(tag_group text, added bigint, removed bigint)
LANGUAGE plpgsql AS $$
DECLARE
    start integer[];
BEGIN
    IF retag.group_name IS NOT NULL THEN
        start := ARRAY[(@extschema@._group(retag.group_name)).id];
        IF start[1] IN (SELECT rg.group_id FROM @extschema@.rfm_groups rg) THEN
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
    -- evaluated for everyone without error: no longer stale (an error above
    -- keeps the mark, rolled back with the rest)
    DELETE FROM @extschema@.tag_group_errors e
    WHERE e.group_id IN (SELECT g.id FROM @extschema@.tag_groups g
                         WHERE g.tenant = @extschema@._tenant()
                           AND (retag.group_name IS NULL OR g.name = retag.group_name));
    -- RFM groups (63_rfm.sql) are re-scored, not evaluated rule by rule
    RETURN QUERY SELECT g.name, x.added, x.removed
        FROM @extschema@.rfm_groups rg JOIN @extschema@.tag_groups g ON g.id = rg.group_id,
             LATERAL @extschema@._rescore_rfm(rg.group_id) x
        WHERE g.tenant = @extschema@._tenant() AND g.enabled
          AND (retag.group_name IS NULL OR g.name = retag.group_name)
        ORDER BY g.position;
END $$;

-- The command of the tenant's re-tagging job (tenant and zone override,
-- as segment.refresh_command).
CREATE FUNCTION @extschema@.retag_command() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('SET segment.tenant = %L; ', @extschema@._tenant()) ||
           CASE WHEN coalesce(current_setting('segment.timezone', true), '') = '' THEN ''
                ELSE format('SET segment.timezone = %L; ', current_setting('segment.timezone')) END ||
           'SELECT count(*) FROM @extschema@.retag()'
$$;

COMMENT ON FUNCTION @extschema@.retag_command() IS 'the command a pg_cron job runs to re-tag the tenant''s auto groups';

-- The statement to run in the pg_cron database when it is another one.
CREATE FUNCTION @extschema@.schedule_retag_command(cron text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cron IS NULL OR btrim(cron) = '' THEN
        RAISE EXCEPTION 'cron schedule must not be empty' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Use cron syntax, e.g. ''0 2 * * *''.';
    END IF;
    RETURN format('SELECT cron.schedule_in_database(%L, %L, %L, %L, %L);', @extschema@._retag_job_name(), cron,
                  @extschema@.retag_command(), current_database(), current_user);
END $$;

COMMENT ON FUNCTION @extschema@.schedule_retag_command(text) IS 'the statement that schedules re-tagging from the pg_cron database when it is another database';

CREATE OR REPLACE FUNCTION @extschema@.schedule_retag(cron text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    job bigint;
BEGIN
    PERFORM @extschema@._require_pg_cron();
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
        USING @extschema@._retag_job_name(), cron, @extschema@.retag_command();
    RETURN job;
END $$;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_group_errors', '');

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
CREATE OR REPLACE FUNCTION @extschema@.rfm(source text, amount_column name, as_of timestamptz DEFAULT now())
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
    reg := @extschema@._customers();
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

-- Re-scores an RFM tag group: every scored customer gets its class as an
-- automatic tag, swaps logged; customers no longer scored lose it.
CREATE OR REPLACE FUNCTION @extschema@._rescore_rfm(gid integer, as_of timestamptz DEFAULT now(),
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
    -- rfm() reads the source with the owner's rights: only what the author may read
    PERFORM _check_rfm_privileges(rg.source, rg.amount_column, g.rule_owner);
    CREATE TEMP TABLE IF NOT EXISTS _segment_rfm (ordinal bigint, label text) ON COMMIT DROP;
    PERFORM _check_own_table('pg_temp._segment_rfm');
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
CREATE OR REPLACE FUNCTION @extschema@.create_rfm_tags(group_name text, source text, amount_column name)
RETURNS TABLE(value text, customers bigint)
LANGUAGE plpgsql AS $$
DECLARE
    gid integer;
    k record;
BEGIN
    -- validates the source and amount column before creating anything
    PERFORM count(*) FROM @extschema@.rfm(source, amount_column) LIMIT 1;
    PERFORM @extschema@._check_rfm_privileges(source, amount_column, @extschema@._caller());
    gid := @extschema@.create_tag_group(group_name, exclusive => true, allow_manual => false, allow_auto => true);
    UPDATE @extschema@.tag_groups SET rule_owner = @extschema@._caller() WHERE id = gid;
    FOR k IN SELECT * FROM @extschema@.rfm_classes ORDER BY position LOOP
        PERFORM @extschema@.add_tag(group_name, k.label);
    END LOOP;
    INSERT INTO @extschema@.rfm_groups VALUES (gid, source, amount_column);
    PERFORM @extschema@._rescore_rfm(gid);
    RETURN QUERY SELECT t.value, count(m.ordinal)
        FROM @extschema@.tags t LEFT JOIN @extschema@.tag_members m ON m.tag_id = t.id
        WHERE t.group_id = gid GROUP BY t.value, t.position ORDER BY t.position;
END $$;

-- (Re)creates the views whose customer_key column has the registered key
-- type, so BI tools can join them to the customer table.  They are
-- ordinary views (not extension members) so pg_dump keeps their real type.
CREATE OR REPLACE FUNCTION @extschema@._rebuild_views() RETURNS void
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
    -- the views are new objects: give the roles that read the catalogs
    -- (grant_tenant, grant_usage) their privileges back
    FOR r IN SELECT DISTINCT a.grantee::regrole::text AS role_name
             FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
             WHERE c.oid = '@extschema@.segments'::regclass AND a.privilege_type = 'SELECT'
               AND a.grantee NOT IN (0, c.relowner) LOOP
        EXECUTE format('GRANT SELECT ON @extschema@.membership, @extschema@.customer_tags TO %s', r.role_name);
        IF reg.ordinal_mode = 'dictionary' THEN
            EXECUTE format('GRANT SELECT ON @extschema@.customer_ordinals TO %s', r.role_name);
        END IF;
    END LOOP;
END $$;

--------------------------------------------------------------------------
-- Dependencies: schema changes that would break registrations or rules
-- are refused, as PostgreSQL refuses them under views (doc/operations.md)
--------------------------------------------------------------------------

-- What a relation feeds: "source:x" for the sources it is (or is a watched
-- base table of), "customer" for the customer table.
CREATE FUNCTION @extschema@._feeds_of(rel oid) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(DISTINCT f), '{}') FROM (
        SELECT 'source:' || s.name FROM @extschema@.sources s WHERE s.rel = _feeds_of.rel
        UNION ALL SELECT 'source:' || w.source FROM @extschema@.watches w WHERE w.base_table = _feeds_of.rel
        UNION ALL SELECT 'customer' FROM @extschema@.customer_registry r WHERE r.rel = _feeds_of.rel
    ) x(f)
$$;

REVOKE EXECUTE ON FUNCTION @extschema@._feeds_of(oid) FROM PUBLIC;

-- ' of tenant "t"' in messages, or nothing without tenants.
CREATE FUNCTION @extschema@._of_tenant(tenant text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN tenant = '' THEN '' ELSE format(' of tenant "%s"', tenant) END
$$;

REVOKE EXECUTE ON FUNCTION @extschema@._of_tenant(text) FROM PUBLIC;

-- Every saved rule reading what rel feeds, of every tenant: segments and
-- auto-tagging rules.  The dependents listed in errors come from here.
CREATE FUNCTION @extschema@._rule_dependents(rel oid)
RETURNS TABLE(kind text, tenant text, label text, rule @extschema@.segment_rule)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH f AS (SELECT @extschema@._feeds_of(rel) AS feeds)
    SELECT 'segment', s.tenant, format('segment "%s"', s.name) || @extschema@._of_tenant(s.tenant), s.rule
    FROM @extschema@.segments s, f WHERE @extschema@.rule_refs(s.rule) && f.feeds
    UNION ALL
    SELECT 'tag', g.tenant, format('auto-tagging rule of tag "%s-%s"', g.name, t.value) || @extschema@._of_tenant(g.tenant), t.rule
    FROM @extschema@.tags t JOIN @extschema@.tag_groups g ON g.id = t.group_id, f
    WHERE t.rule IS NOT NULL AND @extschema@.rule_refs(t.rule) && f.feeds
    ORDER BY 1, 2, 3
$$;

REVOKE EXECUTE ON FUNCTION @extschema@._rule_dependents(oid) FROM PUBLIC;

-- The registrations naming a column of rel ('source "orders" (time
-- column)'), or every registration of rel when col is NULL.
CREATE FUNCTION @extschema@._registrations_of(rel oid, col name DEFAULT NULL) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(DISTINCT d ORDER BY d), '{}') FROM (
        SELECT format('source "%s"', s.name) || CASE WHEN col IS NULL THEN '' ELSE format(' (%s)', c.what) END
        FROM @extschema@.sources s,
             LATERAL (VALUES ('customer column', s.customer_column), ('time column', s.time_column)) c(what, colname)
        WHERE s.rel = _registrations_of.rel AND (col IS NULL OR c.colname = col)
        UNION ALL
        SELECT 'the customer table' || CASE WHEN col IS NULL THEN '' ELSE format(' (%s)', c.what) END
        FROM @extschema@.customer_registry r,
             LATERAL (VALUES ('key column', r.key_column), ('tenant column', r.tenant_column)) c(what, colname)
        WHERE r.rel = _registrations_of.rel AND c.colname IS NOT NULL AND (col IS NULL OR c.colname = col)
        UNION ALL
        SELECT format('a base table watched for source "%s"', w.source) || CASE WHEN col IS NULL THEN '' ELSE ' (customer column)' END
        FROM @extschema@.watches w
        WHERE w.base_table = _registrations_of.rel AND (col IS NULL OR w.customer_column = col)
    ) x(d)
$$;

REVOKE EXECUTE ON FUNCTION @extschema@._registrations_of(oid, name) FROM PUBLIC;

-- How to undo each kind of registration, for hints (relname: rel as the
-- statement named it; a dropped relation's OID no longer prints as a name).
CREATE FUNCTION @extschema@._unregister_hint(rel oid, relname text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'Remove the registrations first: ' || string_agg(h, '; ' ORDER BY h) || '.'
    FROM (
        SELECT format('segment.unregister_source(%L)', s.name) FROM @extschema@.sources s WHERE s.rel = _unregister_hint.rel
        UNION SELECT format('segment.unwatch(%L, %L)', w.source, relname) FROM @extschema@.watches w
              WHERE w.base_table = _unregister_hint.rel
        UNION SELECT 'segment.unregister_customers()' FROM @extschema@.customer_registry r WHERE r.rel = _unregister_hint.rel
    ) x(h)
$$;

REVOKE EXECUTE ON FUNCTION @extschema@._unregister_hint(oid, text) FROM PUBLIC;

-- sql_drop: refuses dropping a registered table or view, or a column a
-- registration names.  (The statement is still in progress: raising here
-- rolls it back, as a dependent view would have refused it.)
CREATE FUNCTION @extschema@._dependencies_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
    regs text[];
BEGIN
    -- dropping the extension (or its own objects) is never refused; the
    -- look-up because the event triggers may still fire during DROP
    -- EXTENSION (or DROP SCHEMA ... CASCADE), after the catalogs are gone
    IF EXISTS (SELECT FROM pg_event_trigger_dropped_objects() x WHERE x.object_type = 'extension')
       OR to_regclass('@extschema@.sources') IS NULL THEN
        RETURN;
    END IF;
    FOR d IN SELECT * FROM pg_event_trigger_dropped_objects() x
             WHERE x.classid = 'pg_class'::regclass
               AND x.object_type IN ('table', 'view', 'materialized view', 'foreign table', 'table column',
                                     'view column', 'materialized view column', 'foreign table column')
    LOOP
        IF d.objsubid = 0 THEN
            regs := @extschema@._registrations_of(d.objid);
            IF regs <> '{}' THEN
                RAISE EXCEPTION 'cannot drop % % because segment registrations depend on it', d.object_type, d.object_identity
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = format('%s is registered as %s.', d.object_identity, array_to_string(regs, ', ')),
                          HINT = @extschema@._unregister_hint(d.objid, d.object_identity);
            END IF;
        ELSE
            regs := @extschema@._registrations_of(d.objid, d.address_names[array_length(d.address_names, 1)]);
            IF regs <> '{}' THEN
                RAISE EXCEPTION 'cannot drop column % because segment registrations depend on it', d.object_identity
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = format('The column is registered as %s.', array_to_string(regs, ', ')),
                          HINT = @extschema@._unregister_hint(d.objid, array_to_string(d.address_names[1:2], '.'))
                                 || ' Or register another column.';
            END IF;
        END IF;
    END LOOP;
END $$;

REVOKE EXECUTE ON FUNCTION @extschema@._dependencies_sql_drop() FROM PUBLIC;

-- Whether a registered relation still has each registered column with a
-- usable type; the problems found.
CREATE FUNCTION @extschema@._registration_problems(rel oid) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH cols AS (
        SELECT format('source "%s"', s.name) AS who, c.what, c.colname, c.ok
        FROM @extschema@.sources s, @extschema@.customer_registry r,
             LATERAL (VALUES ('customer column', s.customer_column, ARRAY[r.key_type::oid] ||
                              CASE WHEN r.ordinal_mode = 'direct' THEN '{int2,int4,int8}'::regtype[]::oid[] ELSE '{}' END),
                             ('time column', s.time_column, '{timestamptz,timestamp,date}'::regtype[]::oid[])) c(what, colname, ok)
        WHERE s.rel = _registration_problems.rel
        UNION ALL
        SELECT 'the customer table', c.what, c.colname, c.ok
        FROM @extschema@.customer_registry r,
             LATERAL (VALUES ('key column', r.key_column, ARRAY[r.key_type::oid]),
                             ('tenant column', r.tenant_column, NULL)) c(what, colname, ok)
        WHERE r.rel = _registration_problems.rel AND c.colname IS NOT NULL
        UNION ALL
        SELECT format('the watch of source "%s"', w.source), 'customer column', w.customer_column, NULL
        FROM @extschema@.watches w WHERE w.base_table = _registration_problems.rel
    )
    SELECT coalesce(array_agg(CASE WHEN a.attname IS NULL
                                   THEN format('%s: %s "%s" does not exist', cols.who, cols.what, cols.colname)
                                   ELSE format('%s: %s "%s" has type %s', cols.who, cols.what, cols.colname,
                                               format_type(a.atttypid, NULL)) END ORDER BY cols.who, cols.what), '{}')
    FROM cols
    LEFT JOIN pg_attribute a ON a.attrelid = _registration_problems.rel AND a.attname = cols.colname
                            AND a.attnum > 0 AND NOT a.attisdropped
    WHERE a.attname IS NULL OR NOT (cols.ok IS NULL OR a.atttypid = ANY (cols.ok))
$$;

REVOKE EXECUTE ON FUNCTION @extschema@._registration_problems(oid) FROM PUBLIC;

-- The saved rules reading rel that no longer compile, with their errors.
-- Each is compiled as its tenant would (segment.tenant set for the call).
CREATE FUNCTION @extschema@._broken_rules(rel oid) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
    before text := coalesce(current_setting('segment.tenant', true), '');
    broken text[] := '{}';
BEGIN
    FOR d IN SELECT * FROM @extschema@._rule_dependents(rel) LOOP
        BEGIN
            PERFORM set_config('segment.tenant', d.tenant, true);
            PERFORM @extschema@.compile(d.rule);
        EXCEPTION WHEN OTHERS THEN
            broken := broken || format('%s: %s', d.label, SQLERRM);
        END;
    END LOOP;
    PERFORM set_config('segment.tenant', before, true);
    RETURN broken;
END $$;

REVOKE EXECUTE ON FUNCTION @extschema@._broken_rules(oid) FROM PUBLIC;

-- ddl_command_end: after ALTER TABLE (and the like) on a registered
-- relation, its registrations must still find their columns with usable
-- types, and every rule reading it must still compile; otherwise the
-- statement is refused, naming the dependents.
CREATE FUNCTION @extschema@._dependencies_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;
    problems text[];
BEGIN
    -- may fire during DROP EXTENSION, after the catalogs are gone
    IF to_regclass('@extschema@.sources') IS NULL THEN
        RETURN;
    END IF;
    FOR c IN SELECT DISTINCT x.objid FROM pg_event_trigger_ddl_commands() x
             WHERE x.classid = 'pg_class'::regclass
               AND x.objid IN (SELECT s.rel FROM @extschema@.sources s
                               UNION SELECT w.base_table FROM @extschema@.watches w
                               UNION SELECT r.rel FROM @extschema@.customer_registry r)
    LOOP
        problems := @extschema@._registration_problems(c.objid);
        IF problems <> '{}' THEN
            RAISE EXCEPTION 'cannot alter % because segment registrations depend on it', c.objid::regclass
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = array_to_string(problems, E'\n') || '.',
                      HINT = @extschema@._unregister_hint(c.objid, c.objid::regclass::text) || ' Or keep the column and its type.';
        END IF;
        problems := @extschema@._broken_rules(c.objid);
        IF problems <> '{}' THEN
            RAISE EXCEPTION 'cannot alter % because segment rules depend on it', c.objid::regclass
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = 'Rules that would no longer compile:' || E'\n' || array_to_string(problems, E'\n'),
                      HINT = 'Change or remove those rules first (segment.alter_segment(), segment.drop_segment(), '
                             'segment.set_tag_rule(group, value, NULL)), then repeat the statement.';
        END IF;
    END LOOP;
END $$;

REVOKE EXECUTE ON FUNCTION @extschema@._dependencies_ddl_end() FROM PUBLIC;

CREATE EVENT TRIGGER segment_dependencies_drop ON sql_drop
    EXECUTE FUNCTION @extschema@._dependencies_sql_drop();

CREATE EVENT TRIGGER segment_dependencies_alter ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER VIEW', 'ALTER FOREIGN TABLE', 'ALTER MATERIALIZED VIEW', 'CREATE VIEW')
    EXECUTE FUNCTION @extschema@._dependencies_ddl_end();

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
    FOREACH t IN ARRAY ARRAY['tenant_settings', 'change_log', 'change_log_horizon', 'consumers'] LOOP
        EXECUTE format('ALTER TABLE @extschema@.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON @extschema@.%I USING (tenant = (SELECT @extschema@._tenant()))
                        WITH CHECK (tenant = (SELECT @extschema@._tenant()))', t);
    END LOOP;
END $$;

ALTER TABLE @extschema@.tag_group_errors ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON @extschema@.tag_group_errors
    USING (group_id IN (SELECT g.id FROM @extschema@.tag_groups g WHERE g.tenant = (SELECT @extschema@._tenant())));

-- Lets a role work for a tenant: the privileges the segment functions need
-- and the right to SET segment.tenant to it.
CREATE OR REPLACE FUNCTION @extschema@.grant_tenant(tenant text, role regrole) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF tenant IS NULL OR role IS NULL THEN
        RAISE EXCEPTION 'tenant and role must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF tenant = '' THEN
        RAISE EXCEPTION 'tenant must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.tenant_roles VALUES (tenant, role::text::name) ON CONFLICT DO NOTHING;
    PERFORM @extschema@.grant_usage(role);
END $$;

COMMENT ON FUNCTION @extschema@.grant_tenant(text, regrole) IS 'allows a role (and its members) to act for a tenant: SELECT on the catalogs, EXECUTE on the segment functions';

COMMENT ON FUNCTION @extschema@.revoke_tenant(text, regrole) IS 'withdraws a tenant from a role (its privileges stay; without a tenant they show nothing)';

--------------------------------------------------------------------------
-- Privileges: the pg_cron model (doc/tenancy.md, doc/operations.md)
--
--   * Application roles read the catalogs (SELECT, row-level security per
--     tenant) and write them only through the functions below, which
--     validate what they write.  Each is a C stub (src/rule_privilege.c)
--     in front of its PL/pgSQL body, moved to @extschema@_api: the stub notes
--     the calling role and runs the body as the extension owner; the body
--     reads the caller back with _caller() for the tenant check and to
--     record who wrote a rule.
--   * A saved rule runs as its author (segments.owner, for auto tags
--     tag_groups.rule_owner), and is refused when saved if its author may
--     not read a column it reads.
--   * tag_log and history are append-only: no role is granted any write,
--     no function updates or deletes them, and UPDATE is refused outright.
--   * Every SQL and PL/pgSQL function, and every SECURITY DEFINER one, runs
--     with search_path = pg_catalog, @extschema@, pg_temp; internal
--     functions (a leading "_") and trigger functions are not executable
--     by PUBLIC, nor are the writing and administrative functions.
--------------------------------------------------------------------------

-- Catalog-writing functions (besides the administrative ones, which run
-- as their caller and are for the extension owner or a superuser).
CREATE FUNCTION @extschema@._api_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['create_segment', 'alter_segment', 'drop_segment', 'refresh', 'refresh_all',
                 'create_tag_group', 'drop_tag_group', 'rename_tag_group', 'move_tag_group',
                 'set_tag_group_enabled', 'add_tag', 'move_tag', 'set_tag_enabled', 'rename_tag',
                 'drop_tag', 'tag_customer', 'untag_customer', 'import_tags', 'set_tag_rule', 'retag',
                 'record_contact', 'purge_contacts', 'create_rfm_tags', 'set_time_zone',
                 'create_consumer', 'drop_consumer', 'ack_changes', 'purge_changes']
$$;

-- Administrative functions: they run as their caller, the extension owner
-- or a superuser; not executable by PUBLIC.
CREATE FUNCTION @extschema@._admin_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['register_customers', 'unregister_customers', 'register_source', 'unregister_source',
                 'watch', 'unwatch', 'grant_tenant', 'revoke_tenant', 'grant_usage', 'revoke_usage']
$$;

-- Functions of the extension a granted role calls besides the API:
-- helpers of the functions that run as the caller (reads, scheduling),
-- of the row-level security policies and of the views.
CREATE FUNCTION @extschema@._reader_helpers() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['_tenant', '_tenant_granted', '_caller', '_zone', '_segment', '_group', '_tag',
                 '_ordinal_of', '_source', '_customers', '_column_type', '_require_pg_cron',
                 '_refresh_job_name', '_retag_job_name', '_consumer', '_change_position']
$$;

-- The functions of this extension (pg_depend), optionally by name.
CREATE FUNCTION @extschema@._extension_functions() RETURNS SETOF regprocedure
LANGUAGE sql STABLE AS $$
    SELECT p.oid::regprocedure
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
         AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'segment'
$$;

-- What grant_tenant() gives a role, and alone what a role needs where the
-- customer table has no tenant column: USAGE on the schema, SELECT on the
-- catalogs and views, EXECUTE on the API and the helpers it calls as the
-- caller.  No INSERT, UPDATE, DELETE, TRUNCATE, no sequence.
CREATE FUNCTION @extschema@.grant_usage(role regrole) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    f regprocedure;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA @extschema@ TO %s', role);
    EXECUTE format('GRANT SELECT ON @extschema@.customer_registry, @extschema@.sources, @extschema@.segments,
                    @extschema@.history, @extschema@.tag_groups, @extschema@.tags, @extschema@.tag_members,
                    @extschema@.tag_log, @extschema@.contacts, @extschema@.rfm_groups, @extschema@.rfm_classes,
                    @extschema@.watches, @extschema@.autotag_triggers, @extschema@.running_refreshes,
                    @extschema@.tag_group_errors, @extschema@.stale_tag_groups, @extschema@.tenant_settings,
                    @extschema@.change_log, @extschema@.change_log_horizon, @extschema@.consumers TO %s', role);
    -- the dictionary and the views exist only while a customer table is
    -- registered (with a dictionary); _rebuild_views() grants them anew
    IF to_regclass('@extschema@.customer_ordinals') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON @extschema@.customer_ordinals TO %s', role);
    END IF;
    IF to_regclass('@extschema@.membership') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON @extschema@.membership, @extschema@.customer_tags TO %s', role);
    END IF;
    FOR f IN SELECT x FROM @extschema@._extension_functions() x
             JOIN pg_catalog.pg_proc p ON p.oid = x
             WHERE p.pronamespace = '@extschema@'::regnamespace
               AND p.proname = ANY (@extschema@._api_functions() || @extschema@._reader_helpers()) LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f, role);
    END LOOP;
END $$;

COMMENT ON FUNCTION @extschema@.grant_usage(regrole) IS 'lets a role use segment (read the catalogs, call the functions) without tying it to a tenant';

-- Undoes grant_tenant() and grant_usage(): the role's tenants and every
-- privilege it holds on the extension's schema, tables and functions.
CREATE FUNCTION @extschema@.revoke_usage(role regrole) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM @extschema@.tenant_roles r WHERE r.role_name = role::text::name;
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM %s', role);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM %s', role);
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM %s', role);
    EXECUTE format('REVOKE ALL ON SCHEMA @extschema@ FROM %s', role);
END $$;

COMMENT ON FUNCTION @extschema@.revoke_usage(regrole) IS 'withdraws every tenant and every segment privilege of a role (e.g. before DROP ROLE)';

-- _evaluate_as(role, rule, as_of): evaluate(rule, as_of) run as role.
CREATE FUNCTION @extschema@._evaluate_as(role regrole, rule @extschema@.segment_rule, as_of timestamptz)
RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'segment_evaluate_as' LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION @extschema@._evaluate_as(regrole, @extschema@.segment_rule, timestamptz) IS 'evaluate(rule, as_of) with the privileges of role (a saved rule''s author)';

-- (source, column_name) of every column a rule names (source NULL: the
-- customer table; column_name NULL: a source read as rows).
CREATE FUNCTION @extschema@._rule_columns(rule @extschema@.segment_rule)
RETURNS TABLE(source text, column_name text)
    AS 'MODULE_PATHNAME', 'segment_rule_columns' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Refuses when role who may not SELECT column col of rel.
CREATE FUNCTION @extschema@._check_column_privilege(who regrole, rel regclass, col name, what text)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF who IS NULL OR NOT pg_catalog.has_column_privilege(who, rel, col, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for column "%" of relation %', col, rel
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('%s reads column %s of %s, and role %s has no SELECT privilege on it.',
                                  what, quote_ident(col), rel, who),
                  HINT = format('Saved rules run with their author''s privileges: GRANT SELECT (%s) ON %s TO %s, or save the rule as a role that may read it.',
                                quote_ident(col), rel, who);
    END IF;
END $$;

-- Checks a rule against the SELECT privileges of the role it will run as
-- (by default the caller): every customer and source column it names, the
-- customer key (and tenant) column every rule reads, and the customer and
-- time columns of every source it reads.
CREATE FUNCTION @extschema@._check_rule_privileges(rule @extschema@.segment_rule,
                                                   who regrole DEFAULT @extschema@._caller())
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    reg @extschema@.customer_registry;
    c record;
BEGIN
    SELECT * INTO reg FROM @extschema@.customer_registry;
    IF NOT FOUND OR rule IS NULL THEN
        RETURN;                 -- compile() has refused the rule already
    END IF;
    FOR c IN
        SELECT reg.rel AS rel, x.col FROM (
            SELECT reg.key_column UNION SELECT reg.tenant_column
            UNION SELECT r.column_name FROM @extschema@._rule_columns(rule) r WHERE r.source IS NULL
        ) x(col) WHERE x.col IS NOT NULL
        UNION ALL
        SELECT s.rel, x.col
        FROM @extschema@.sources s
        JOIN (SELECT DISTINCT r.source FROM @extschema@._rule_columns(rule) r WHERE r.source IS NOT NULL) u
             ON u.source = s.name,
             LATERAL (SELECT s.customer_column UNION SELECT s.time_column
                      UNION SELECT r.column_name FROM @extschema@._rule_columns(rule) r
                            WHERE r.source = s.name AND r.column_name IS NOT NULL) x(col)
    LOOP
        PERFORM @extschema@._check_column_privilege(who, c.rel, c.col, 'The rule');
    END LOOP;
END $$;

-- set_tag_rule(): the caller becomes the author of the group's rules, so
-- it must be able to read what the new rule and every other rule of the
-- group read.
CREATE FUNCTION @extschema@._claim_tag_rules(g @extschema@.tag_groups, t @extschema@.tags,
                                             rule @extschema@.segment_rule)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    other @extschema@.segment_rule;
BEGIN
    PERFORM @extschema@._check_rule_privileges(rule);
    FOR other IN SELECT x.rule FROM @extschema@.tags x WHERE x.group_id = g.id AND x.id <> t.id AND x.rule IS NOT NULL LOOP
        PERFORM @extschema@._check_rule_privileges(other);
    END LOOP;
    UPDATE @extschema@.tag_groups x SET rule_owner = @extschema@._caller() WHERE x.id = g.id;
END $$;

-- RFM groups read their source as the extension owner (rfm() is not a
-- rule): they are scored only while their author may read those columns.
CREATE FUNCTION @extschema@._check_rfm_privileges(source text, amount_column name, who regrole)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    reg @extschema@.customer_registry;
    s @extschema@.sources := @extschema@._source(source);
    col name;
BEGIN
    SELECT * INTO reg FROM @extschema@.customer_registry;
    FOREACH col IN ARRAY ARRAY[reg.key_column, reg.tenant_column] LOOP
        IF col IS NOT NULL THEN
            PERFORM @extschema@._check_column_privilege(who, reg.rel, col, 'RFM scoring');
        END IF;
    END LOOP;
    FOREACH col IN ARRAY ARRAY[s.customer_column, s.time_column, amount_column] LOOP
        PERFORM @extschema@._check_column_privilege(who, s.rel, col, 'RFM scoring');
    END LOOP;
END $$;

-- The work table a function is about to use as the extension owner must
-- be its own: a caller could have created a temporary table of that name
-- first, with triggers that would then run with the owner's rights.
CREATE FUNCTION @extschema@._check_own_table(work regclass) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = work)
       IS DISTINCT FROM (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'relation % was not created by segment', work
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A table of that name existed before the function ran; segment uses it as a work table.',
                  HINT = format('Drop it (DROP TABLE %s) and call the function again.', work);
    END IF;
END $$;

-- import_tags() reads rel as the extension owner, so rel must be one the
-- caller may read, and one whose reading runs no code of anyone (a table,
-- without row-level security that the owner would bypass).
CREATE FUNCTION @extschema@._check_import(rel regclass, work regclass) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c pg_catalog.pg_class;
BEGIN
    PERFORM @extschema@._check_own_table(work);
    SELECT * INTO c FROM pg_catalog.pg_class x WHERE x.oid = rel;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF c.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'cannot import tags from %: not a table', rel
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'import_tags() reads with the extension owner''s rights, so it reads only tables, not views or foreign tables.',
                  HINT = format('Copy the rows into a table first: CREATE TEMP TABLE t AS SELECT * FROM %s;', rel);
    END IF;
    IF c.relrowsecurity THEN
        RAISE EXCEPTION 'cannot import tags from %: it has row-level security', rel
            USING ERRCODE = 'feature_not_supported',
                  HINT = format('Copy the rows you may see into a table first: CREATE TEMP TABLE t AS SELECT * FROM %s;', rel);
    END IF;
    IF NOT pg_catalog.has_table_privilege(@extschema@._caller(), rel, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table %', rel
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Role %s has no SELECT privilege on %s.', @extschema@._caller(), rel);
    END IF;
END $$;

-- history and tag_log are never updated, by anyone.
CREATE FUNCTION @extschema@._append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'segment.% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Its rows are written by the segment functions and never updated.';
END $$;

CREATE TRIGGER append_only BEFORE UPDATE ON @extschema@.history
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._append_only();

CREATE TRIGGER append_only BEFORE UPDATE ON @extschema@.tag_log
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._append_only();

-- _tenant() reads _caller(), which parallel workers do not know (they
-- would see the extension owner inside the writing functions).
ALTER FUNCTION @extschema@._tenant() PARALLEL RESTRICTED;

-- The triggers on the application's customer table keep the dictionary
-- (and check keys) whoever writes the table: they run as the owner.
ALTER FUNCTION @extschema@._dictionary_add() SECURITY DEFINER;

ALTER FUNCTION @extschema@._direct_key_check() SECURITY DEFINER;

-- Later 0.2 changes: function definitions go here, before the API
-- functions move to @extschema@_api and the privilege pass below run
-- (both act on every function that exists at that point).
-- main: purge_contacts(keep, NULL) deleted nothing silently; it is refused.
CREATE OR REPLACE FUNCTION @extschema@.purge_contacts(keep interval DEFAULT interval '90 days', as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF keep IS NULL OR keep < interval '0' THEN
        RAISE EXCEPTION 'keep must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM @extschema@.contacts c
    WHERE c.tenant = @extschema@._tenant()
      AND c.day < ((as_of - keep) AT TIME ZONE @extschema@._zone())::date;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- main: create_preset_segments() checks paid_filter and the seconds column
-- even when the presets exist already.
CREATE OR REPLACE FUNCTION @extschema@.create_preset_segments(orders_source text, views_source text DEFAULT NULL,
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
    -- The filter and the seconds column are checked before anything is
    -- created or kept, so a bad one fails on a re-run too.
    PERFORM @extschema@.compile(format('EXISTS %s%s', o, p)::@extschema@.segment_rule);
    IF v IS NOT NULL THEN
        PERFORM @extschema@.compile(format('EXISTS %s WHERE %I > 15', v, view_seconds_column)::@extschema@.segment_rule);
    END IF;
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

-- The API functions: each body moves to schema @extschema@_api (same name,
-- so that its PL/pgSQL still qualifies parameters with the function's
-- name), run by a C stub of the same name and arguments in @extschema@
-- (src/rule_privilege.c).  Nobody but the owner may use that schema.
CREATE SCHEMA @extschema@_api;

REVOKE ALL ON SCHEMA @extschema@_api FROM PUBLIC;

COMMENT ON SCHEMA @extschema@_api IS 'bodies of the segment functions that write the catalogs; run as the owner through the stubs in schema @extschema@';

DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT p.oid, p.proname, pg_catalog.pg_get_function_arguments(p.oid) AS args,
                    pg_catalog.pg_get_function_identity_arguments(p.oid) AS ident,
                    pg_catalog.pg_get_function_result(p.oid) AS result,
                    pg_catalog.obj_description(p.oid, 'pg_proc') AS comment
             FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname = ANY (@extschema@._api_functions())
             ORDER BY p.proname LOOP
        EXECUTE format('ALTER FUNCTION @extschema@.%I(%s) SET SCHEMA @extschema@_api', f.proname, f.ident);
        EXECUTE format('CREATE FUNCTION @extschema@.%I(%s) RETURNS %s AS %L, %L LANGUAGE C VOLATILE',
                       f.proname, f.args, f.result, 'MODULE_PATHNAME', 'segment_api_call');
        EXECUTE format('COMMENT ON FUNCTION @extschema@.%I(%s) IS %L', f.proname, f.ident, f.comment);
        EXECUTE format('COMMENT ON FUNCTION @extschema@_api.%I(%s) IS %L', f.proname, f.ident,
                       format('body of %s(): runs as the extension owner, for the role calling it', f.proname));
    END LOOP;
END $$;

-- Pins search_path and revokes EXECUTE from PUBLIC, for every function of
-- the extension (so also for those added later to any part of the script).
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT x AS sig, p.proname, p.pronamespace, l.lanname, p.prosecdef, p.prorettype
             FROM @extschema@._extension_functions() x
             JOIN pg_catalog.pg_proc p ON p.oid = x
             JOIN pg_catalog.pg_language l ON l.oid = p.prolang LOOP
        IF f.lanname IN ('sql', 'plpgsql') OR f.prosecdef THEN
            EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, @extschema@, pg_temp', f.sig);
        END IF;
        IF f.proname LIKE '\_%' OR f.prorettype = 'pg_catalog.trigger'::regtype
           OR f.pronamespace = '@extschema@_api'::regnamespace
           OR f.proname = ANY (@extschema@._api_functions())
           OR f.proname = ANY (@extschema@._admin_functions()) THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.sig);
        END IF;
    END LOOP;
END $$;

-- 0.1's grant_tenant() gave its roles INSERT, UPDATE and DELETE on the
-- catalogs and USAGE on the sequences: they now read the catalogs and
-- write them only through the functions (grant_usage()).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee::regrole AS role
             FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
             WHERE c.relnamespace = '@extschema@'::regnamespace
               AND a.grantee NOT IN (0, c.relowner)
             UNION
             SELECT t.role_name::regrole FROM @extschema@.tenant_roles t LOOP
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM %s', r.role);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM %s', r.role);
        PERFORM @extschema@.grant_usage(r.role);
    END LOOP;
END $$;

-- s7-feed: snapshots (src/sql/48_snapshots.sql) and IN SNAPSHOT, tag
-- changes through the consumers; the new catalogs under row-level
-- security, granted like the others; the new API functions behind their
-- stubs

-- One row per snapshot.  The members are those of the segment's last
-- successful refresh when the snapshot was taken; nothing changes them
-- afterwards (the trigger below refuses every UPDATE, refresh() and
-- drop_segment() never touch the table), so a snapshot outlives its
-- segment and its segment's later refreshes.
CREATE TABLE @extschema@.snapshots (
    id           bigserial PRIMARY KEY,
    tenant       text NOT NULL DEFAULT @extschema@._tenant(),
    label        text NOT NULL CHECK (btrim(label) <> ''),
    segment_id   bigint NOT NULL,      -- no foreign key: outlives drop_segment
    segment_name text NOT NULL,
    members      @extschema@.audience NOT NULL,
    member_count bigint NOT NULL,
    rule         text NOT NULL,        -- the rule of the refresh that computed the members (canonical text)
    refreshed_at timestamptz NOT NULL, -- when that refresh ran
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   regrole NOT NULL DEFAULT @extschema@._caller(),
    UNIQUE (tenant, label)
);
CREATE INDEX ON @extschema@.snapshots (segment_id);
COMMENT ON TABLE @extschema@.snapshots IS 'frozen members of segments under a label (see segment.snapshot_segment); never updated';

-- The snapshot row of the current tenant, or an error listing the labels
-- that exist (src/catalog_lookup.c, the rule compiler's too).
CREATE FUNCTION @extschema@._snapshot(label text) RETURNS @extschema@.snapshots
    AS 'MODULE_PATHNAME', 'segment_catalog_snapshot' LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.rule_snapshots(rule @extschema@.segment_rule) RETURNS text[]
    AS 'MODULE_PATHNAME', 'segment_rule_snapshots' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rule_snapshots(@extschema@.segment_rule) IS 'labels of the snapshots the rule reads with IN SNAPSHOT';

-- A frozen snapshot never changes, whoever asks (the extension owner too).
CREATE FUNCTION @extschema@._snapshot_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'snapshot "%" is frozen', OLD.label
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'A snapshot''s members never change once taken.',
              HINT = 'Take a new snapshot with segment.snapshot_segment() under another label, or drop this one with segment.drop_snapshot() first.';
END $$;
CREATE TRIGGER frozen BEFORE UPDATE ON @extschema@.snapshots
    FOR EACH ROW EXECUTE FUNCTION @extschema@._snapshot_frozen();

-- Freezes the members of the segment's last successful refresh under
-- label; returns how many members the snapshot holds.
CREATE FUNCTION @extschema@.snapshot_segment(name text, label text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    produced text;
    n bigint;
BEGIN
    IF label IS NULL OR btrim(label) = '' THEN
        RAISE EXCEPTION 'snapshot label must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF s.members IS NULL THEN
        RAISE EXCEPTION 'segment "%" has not been refreshed yet', name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A snapshot freezes the members of the segment''s last successful refresh.',
                  HINT = format('Refresh it first: SELECT segment.refresh(%L);', name);
    END IF;
    IF EXISTS (SELECT FROM @extschema@.snapshots x WHERE x.tenant = s.tenant AND x.label = snapshot_segment.label) THEN
        RAISE EXCEPTION 'snapshot "%" already exists', label
            USING ERRCODE = 'duplicate_object',
                  HINT = 'A snapshot never changes: choose another label, or drop it with segment.drop_snapshot() first.';
    END IF;
    -- the rule that produced these members: the segment's rule may have
    -- been altered since (then it is pending, and its members are older)
    SELECT h.rule INTO produced FROM @extschema@.history h
    WHERE h.segment_id = s.id AND h.error IS NULL AND h.rule IS NOT NULL
    ORDER BY h.id DESC LIMIT 1;
    INSERT INTO @extschema@.snapshots (tenant, label, segment_id, segment_name, members, member_count, rule, refreshed_at)
    VALUES (s.tenant, label, s.id, s.name, s.members, @extschema@.cardinality(s.members),
            coalesce(produced, s.rule::text), s.refreshed_at)
    RETURNING member_count INTO n;
    RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@.snapshot_segment(text, text) IS 'freezes the segment''s current members (its last successful refresh) under a label; returns the member count';

-- Drops a snapshot; refused while a saved rule reads it with IN SNAPSHOT.
CREATE FUNCTION @extschema@.drop_snapshot(label text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    x @extschema@.snapshots := @extschema@._snapshot(label);
    users text;
BEGIN
    -- saved rules of the tenant: segments and auto-tagging rules
    SELECT string_agg(u.what, ', ' ORDER BY u.what) INTO users FROM (
        SELECT format('segment %L', s.name) AS what FROM @extschema@.segments s
        WHERE s.tenant = x.tenant AND x.label = ANY (@extschema@.rule_snapshots(s.rule))
        UNION ALL
        SELECT format('tag %L of group %L', t.value, g.name) FROM @extschema@.tags t
        JOIN @extschema@.tag_groups g ON g.id = t.group_id
        WHERE g.tenant = x.tenant AND t.rule IS NOT NULL AND x.label = ANY (@extschema@.rule_snapshots(t.rule))) u;
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'snapshot "%" is used by saved rules', label
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('IN SNAPSHOT %L appears in: %s.', label, users),
                  HINT = 'Change or drop those rules first (segment.alter_segment(), segment.set_tag_rule()).';
    END IF;
    DELETE FROM @extschema@.snapshots s WHERE s.id = x.id;
END $$;
COMMENT ON FUNCTION @extschema@.drop_snapshot(text) IS 'drops a snapshot; refused while a saved segment or auto-tagging rule reads it with IN SNAPSHOT';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.snapshots_id_seq', '');

ALTER TABLE @extschema@.snapshots ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON @extschema@.snapshots USING (tenant = (SELECT @extschema@._tenant()))
    WITH CHECK (tenant = (SELECT @extschema@._tenant()));

-- s7-feed: tag changes through the consumers (47_changes.sql): the
-- writing transaction of each tag_log row, consumers that follow tags,
-- the pending transactions and the commit-ordered tag_changes
ALTER TABLE @extschema@.consumers ADD COLUMN follows text NOT NULL DEFAULT 'segments' CHECK (follows IN ('segments', 'tags'));
ALTER TABLE @extschema@.consumers ADD COLUMN tag_group text;
-- (existing rows get the updating transaction's id: they are given to
-- consumers as one committed transaction, below)
ALTER TABLE @extschema@.tag_log ADD COLUMN xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id();

-- The transactions that have written tag_log rows and not yet committed
-- (one row each, deleted by the deferred trigger at commit; unlogged: no
-- row survives a commit, so none needs to survive a crash).
CREATE UNLOGGED TABLE @extschema@.tag_feed_pending (
    xid      xid8 PRIMARY KEY,
    first_id bigint NOT NULL             -- the transaction's tag_log ids are >= first_id
);
COMMENT ON TABLE @extschema@.tag_feed_pending IS 'transactions writing tag_log rows, until they commit (internal)';

CREATE TABLE @extschema@.tag_changes (
    position     bigint PRIMARY KEY,     -- commit order (drawn at commit, under a lock)
    tenant       text NOT NULL,
    xid          xid8 NOT NULL,          -- the committed transaction
    first_id     bigint NOT NULL,        -- its tag_log rows of this tenant: ids first_id .. last_id
    last_id      bigint NOT NULL,        --   with this xid
    changes      bigint NOT NULL,        -- how many
    logged_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE SEQUENCE @extschema@.tag_changes_position_seq;
CREATE INDEX ON @extschema@.tag_changes (logged_at);
COMMENT ON TABLE @extschema@.tag_changes IS 'tag_log rows of each committed transaction, in commit order: the positions of tag changes (see segment.create_tag_consumer)';

-- The newest tag_changes position purge_changes() removed, per tenant.
CREATE TABLE @extschema@.tag_changes_horizon (
    tenant       text PRIMARY KEY,
    purged_upto  bigint NOT NULL,
    purged_until timestamptz NOT NULL
);
COMMENT ON TABLE @extschema@.tag_changes_horizon IS 'per tenant, the last tag_changes position removed by segment.purge_changes()';

-- AFTER INSERT ON tag_log, per statement: notes the transaction once,
-- with the first id it wrote (its later statements get larger ids: the
-- sequence only grows).  After the rows, not before: where the commit
-- step runs at once (SET CONSTRAINTS ALL IMMEDIATE) it must see them.
-- Owner's rights: tag_log is written by the segment functions for every
-- role, and the pending table is nobody else's.
CREATE FUNCTION @extschema@._tag_feed_note() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO @extschema@.tag_feed_pending (xid, first_id)
    SELECT pg_catalog.pg_current_xact_id(), min(f.id) FROM segment_tag_log_fresh f HAVING count(*) > 0
    ON CONFLICT (xid) DO NOTHING;
    RETURN NULL;
END $$;

-- At commit (deferred): the transaction's tag_log rows, per tenant, get
-- positions drawn under a lock held until the commit completes, so tag
-- positions commit in increasing order.  Listeners on channel
-- segment_tags are told.  (After SET CONSTRAINTS ALL IMMEDIATE it runs
-- then, and holds the lock to the end of the transaction; rows written
-- after it are noted again and get later positions.)
CREATE FUNCTION @extschema@._tag_feed_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    t record;
    pos bigint;
BEGIN
    FOR t IN SELECT l.tenant, min(l.id) AS first_id, max(l.id) AS last_id, count(*) AS n
             FROM @extschema@.tag_log l WHERE l.id >= NEW.first_id AND l.xid = NEW.xid
             GROUP BY l.tenant ORDER BY l.tenant LOOP
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('segment.tag_changes'));
        pos := pg_catalog.nextval('@extschema@.tag_changes_position_seq');
        INSERT INTO @extschema@.tag_changes (position, tenant, xid, first_id, last_id, changes)
        VALUES (pos, t.tenant, NEW.xid, t.first_id, t.last_id, t.n);
        PERFORM pg_catalog.pg_notify('segment_tags', pg_catalog.json_build_object(
            'tenant', t.tenant, 'changes', t.n, 'position', pos << 33)::text);
    END LOOP;
    DELETE FROM @extschema@.tag_feed_pending p WHERE p.xid = NEW.xid;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER commit_order AFTER INSERT ON @extschema@.tag_feed_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION @extschema@._tag_feed_commit();

CREATE TRIGGER tag_feed AFTER INSERT ON @extschema@.tag_log
    REFERENCING NEW TABLE AS segment_tag_log_fresh FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._tag_feed_note();

-- the tag_log rows logged before the update: one committed transaction
-- per tenant, so that a consumer starting at the beginning gets them
INSERT INTO @extschema@.tag_changes (position, tenant, xid, first_id, last_id, changes)
SELECT pg_catalog.nextval('@extschema@.tag_changes_position_seq'), l.tenant, pg_catalog.pg_current_xact_id(),
       min(l.id), max(l.id), count(*)
FROM @extschema@.tag_log l GROUP BY l.tenant ORDER BY l.tenant;

CREATE FUNCTION @extschema@.create_tag_consumer(name text, tag_group text DEFAULT NULL,
                                                start text DEFAULT 'beginning')
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    g @extschema@.tag_groups;
    pos bigint := 0;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'consumer name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF start IS NULL OR start NOT IN ('beginning', 'now') THEN
        RAISE EXCEPTION 'start must be ''beginning'' or ''now'', not %', coalesce(quote_literal(start), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '''beginning'' replays the retained tag changes; ''now'' follows only later ones.';
    END IF;
    IF tag_group IS NOT NULL THEN
        g := @extschema@._group(tag_group);
    END IF;
    IF start = 'now' THEN
        -- every position drawn later is larger (see _tag_feed_commit)
        SELECT greatest(coalesce((SELECT max(t.position) FROM @extschema@.tag_changes t), 0),
                        coalesce((SELECT max(h.purged_upto) FROM @extschema@.tag_changes_horizon h), 0))
               << 33 | ((1::bigint << 33) - 1) INTO pos;
    END IF;
    IF EXISTS (SELECT FROM @extschema@.consumers c WHERE c.tenant = @extschema@._tenant()
               AND c.name = create_tag_consumer.name) THEN
        RAISE EXCEPTION 'consumer "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO @extschema@.consumers (name, position, follows, tag_group)
    VALUES (name, pos, 'tags', g.name);
    RETURN pos;
END $$;
COMMENT ON FUNCTION @extschema@.create_tag_consumer(text, text, text) IS 'creates a named reader of the tag changes of one tag group (or all); returns its starting position';

CREATE OR REPLACE FUNCTION @extschema@.read_changes(consumer text, max_rows integer DEFAULT 10000)
RETURNS TABLE("position" bigint, segment_name text, customer_key text, change text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c @extschema@.consumers := @extschema@._consumer(consumer);
    reg @extschema@.customer_registry;
    lost bigint;
    left_rows integer := max_rows;
    l @extschema@.change_log;
    after_entered bigint;
    after_exited bigint;
    part @extschema@.audience;
    phase boolean;
BEGIN
    IF max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'max_rows must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF c.follows = 'tags' THEN
        RETURN QUERY SELECT * FROM @extschema@._read_tag_changes(c, max_rows);
        RETURN;
    END IF;
    SELECT max(h.purged_upto) INTO lost FROM @extschema@.change_log_horizon h
    WHERE h.tenant = c.tenant AND (c.segment_id IS NULL OR h.segment_id = c.segment_id)
      AND (h.purged_upto << 33) | ((1::bigint << 33) - 1) > c.position;
    IF lost IS NOT NULL THEN
        RAISE EXCEPTION 'consumer "%" has fallen behind the change log', consumer
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Changes up to log position %s were purged before the consumer read them (it acknowledged %s).',
                                  lost, c.position),
                  HINT = 'Resynchronise from the current members (segment.membership), then drop the consumer and create it again with start => ''now''.';
    END IF;
    SELECT * INTO reg FROM @extschema@.customer_registry;
    FOR l IN SELECT * FROM @extschema@.change_log x
             WHERE x.tenant = c.tenant AND (c.segment_id IS NULL OR x.segment_id = c.segment_id)
               AND x.position >= c.position >> 33
             ORDER BY x.position LOOP
        -- where in this row the consumer stands: ordinals after which to go on
        after_entered := -1;
        after_exited := -1;
        IF l.position = c.position >> 33 THEN
            IF (c.position >> 32) & 1 = 0 THEN
                after_entered := c.position & 4294967295;
            ELSE
                after_entered := 4294967295;
                after_exited := c.position & 4294967295;
            END IF;
        END IF;
        FOREACH phase IN ARRAY ARRAY[false, true] LOOP
            EXIT WHEN left_rows = 0;
            part := CASE WHEN phase THEN @extschema@.page(l.exited, after_exited, left_rows)
                         ELSE @extschema@.page(l.entered, after_entered, left_rows) END;
            CONTINUE WHEN @extschema@.is_empty(part);
            -- keys of exited customers deleted since are still named: the
            -- dictionary is append-only, direct keys are the ordinals.  ORDER
            -- BY 1: the position (a bare "i" would be the text key column)
            RETURN QUERY EXECUTE format(
                'SELECT @extschema@._change_position($1, $2, i), $3, %s, $4
                 FROM @extschema@.ids_bigint($5) i %s ORDER BY 1',
                CASE WHEN reg.ordinal_mode = 'dictionary' THEN 'o.key::text' ELSE 'i::text' END,
                CASE WHEN reg.ordinal_mode = 'dictionary'
                     THEN 'LEFT JOIN @extschema@.customer_ordinals o ON o.ordinal = i' ELSE '' END)
                USING l.position, phase, l.segment_name, CASE WHEN phase THEN 'exited' ELSE 'entered' END, part;
            left_rows := left_rows - @extschema@.cardinality(part)::integer;
        END LOOP;
        EXIT WHEN left_rows = 0;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.read_changes(text, integer) IS 'the next changes (entered/exited customers, or tagged/untagged for a tag consumer) after the consumer''s acknowledged position, at most max_rows; does not move the consumer';

CREATE FUNCTION @extschema@._read_tag_changes(c @extschema@.consumers, max_rows integer)
RETURNS TABLE("position" bigint, segment_name text, customer_key text, change text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    reg @extschema@.customer_registry;
    lost bigint;
    dict boolean;
BEGIN
    SELECT h.purged_upto INTO lost FROM @extschema@.tag_changes_horizon h
    WHERE h.tenant = c.tenant AND (h.purged_upto << 33) | ((1::bigint << 33) - 1) > c.position;
    IF lost IS NOT NULL THEN
        RAISE EXCEPTION 'consumer "%" has fallen behind the change log', c.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Tag changes up to position %s were purged before the consumer read them (it acknowledged %s).',
                                  lost, c.position),
                  HINT = 'Resynchronise from the current tags (segment.customer_tags), then drop the consumer and create it again with start => ''now''.';
    END IF;
    SELECT * INTO reg FROM @extschema@.customer_registry;
    dict := coalesce(reg.ordinal_mode = 'dictionary', false);
    -- the tag as group-value (group names hold no "-"); keys of customers
    -- deleted since are still named (the dictionary is append-only; direct
    -- keys are the ordinals)
    RETURN QUERY EXECUTE format(
        'SELECT (t.position << 33) | (l.id - t.first_id), l.group_name || ''-'' || l.value, %s,
                CASE l.action WHEN ''add'' THEN ''tagged'' ELSE ''untagged'' END
         FROM @extschema@.tag_changes t
         CROSS JOIN LATERAL (
             SELECT x.id, x.group_name, x.value, x.ordinal, x.action FROM @extschema@.tag_log x
             WHERE x.id BETWEEN t.first_id + CASE WHEN t.position = ($2 >> 33) THEN ($2 & 8589934591) + 1 ELSE 0 END
                            AND t.last_id
               AND x.xid = t.xid AND x.tenant = t.tenant AND ($3::text IS NULL OR x.group_name = $3)
             ORDER BY x.id LIMIT $4) l
         %s
         WHERE t.tenant = $1 AND t.position >= ($2 >> 33)
         ORDER BY t.position, l.id LIMIT $4',
        CASE WHEN dict THEN 'o.key::text' ELSE 'l.ordinal::text' END,
        CASE WHEN dict THEN 'LEFT JOIN @extschema@.customer_ordinals o ON o.ordinal = l.ordinal' ELSE '' END)
        USING c.tenant, c.position, c.tag_group, max_rows;
END $$;

-- (the body; the stub in @extschema@ is unchanged but for its comment)
CREATE OR REPLACE FUNCTION @extschema@_api.ack_changes(consumer text, upto bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    c @extschema@.consumers := @extschema@._consumer(consumer);
    pos bigint;
BEGIN
    IF upto IS NULL THEN
        RAISE EXCEPTION 'position must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF upto < c.position THEN
        RAISE EXCEPTION 'consumer "%" has already acknowledged position %', consumer, c.position
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Position %s is before it; acknowledgements never move a consumer back.', upto);
    END IF;
    -- the last change of its log row: the whole row is read (so purging
    -- that row later loses this consumer nothing)
    IF c.follows = 'tags' THEN
        SELECT CASE WHEN NOT EXISTS (
                    SELECT FROM @extschema@.tag_log l
                    WHERE l.id > t.first_id + (upto & ((1::bigint << 33) - 1)) AND l.id <= t.last_id
                      AND l.xid = t.xid AND l.tenant = t.tenant
                      AND (c.tag_group IS NULL OR l.group_name = c.tag_group))
                    THEN (t.position << 33) | ((1::bigint << 33) - 1) ELSE upto END
        INTO pos FROM @extschema@.tag_changes t WHERE t.position = upto >> 33;
    ELSE
    SELECT CASE WHEN upto >= @extschema@._change_position(l.position, NOT @extschema@.is_empty(l.exited),
                               @extschema@.max(CASE WHEN @extschema@.is_empty(l.exited) THEN l.entered ELSE l.exited END))
                THEN (l.position << 33) | ((1::bigint << 33) - 1) ELSE upto END
    INTO pos FROM @extschema@.change_log l WHERE l.position = upto >> 33;
    END IF;
    UPDATE @extschema@.consumers x SET position = coalesce(pos, upto), acked_at = now()
    WHERE x.tenant = c.tenant AND x.name = c.name;
    RETURN upto;
END $$;
COMMENT ON FUNCTION @extschema@.ack_changes(text, bigint) IS 'acknowledges the consumer''s changes up to and including a position';

-- (the body; the stub in @extschema@ is unchanged but for its comment)
CREATE OR REPLACE FUNCTION @extschema@_api.purge_changes(keep interval DEFAULT interval '30 days') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    tags bigint;
BEGIN
    IF keep IS NULL OR keep < interval '0' THEN
        RAISE EXCEPTION 'keep must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH gone AS (
        DELETE FROM @extschema@.change_log l
        WHERE l.tenant = @extschema@._tenant() AND l.logged_at < now() - keep
        RETURNING l.segment_id, l.tenant, l.position, l.logged_at
    ), per_segment AS (
        SELECT g.segment_id, g.tenant, max(g.position) AS upto, max(g.logged_at) AS until, count(*) AS n
        FROM gone g GROUP BY 1, 2
    ), horizon AS (
        INSERT INTO @extschema@.change_log_horizon AS h (segment_id, tenant, purged_upto, purged_until)
        SELECT p.segment_id, p.tenant, p.upto, p.until FROM per_segment p
        ON CONFLICT (segment_id) DO UPDATE SET purged_upto = greatest(h.purged_upto, excluded.purged_upto),
                                               purged_until = greatest(h.purged_until, excluded.purged_until)
    )
    SELECT coalesce(sum(p.n), 0) INTO n FROM per_segment p;
    -- tag changes: the positions go, the tag_log rows (the audit) stay
    WITH gone AS (
        DELETE FROM @extschema@.tag_changes t
        WHERE t.tenant = @extschema@._tenant() AND t.logged_at < now() - keep
        RETURNING t.tenant, t.position, t.logged_at
    ), per_tenant AS (
        SELECT g.tenant, max(g.position) AS upto, max(g.logged_at) AS until, count(*) AS n FROM gone g GROUP BY 1
    ), horizon AS (
        INSERT INTO @extschema@.tag_changes_horizon AS h (tenant, purged_upto, purged_until)
        SELECT p.tenant, p.upto, p.until FROM per_tenant p
        ON CONFLICT (tenant) DO UPDATE SET purged_upto = greatest(h.purged_upto, excluded.purged_upto),
                                           purged_until = greatest(h.purged_until, excluded.purged_until)
    )
    SELECT coalesce(sum(p.n), 0) INTO tags FROM per_tenant p;
    RETURN n + tags;
END $$;
COMMENT ON FUNCTION @extschema@.purge_changes(interval) IS 'removes change-log and tag-change rows older than keep; returns how many';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_changes', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_changes_position_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_changes_horizon', '');

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tag_changes', 'tag_changes_horizon'] LOOP
        EXECUTE format('ALTER TABLE @extschema@.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON @extschema@.%I USING (tenant = (SELECT @extschema@._tenant()))
                        WITH CHECK (tenant = (SELECT @extschema@._tenant()))', t);
    END LOOP;
END $$;

-- s7-feed: progress of refresh() and refresh_all() (45_segments.sql,
-- src/refresh_progress.c)
-- Progress of refresh() and refresh_all() in shared memory, readable from
-- other sessions while the refresh runs (src/refresh_progress.c): the
-- command's start (false when this backend already reports one, e.g. a
-- refresh() inside refresh_all()), the segment and its phase, a segment
-- done, the end (also at the end of the transaction).
CREATE FUNCTION @extschema@._progress_begin(command text, tenant text, total integer) RETURNS boolean
    AS 'MODULE_PATHNAME', 'segment_progress_begin' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@._progress_phase(segment_name text, phase text) RETURNS void
    AS 'MODULE_PATHNAME', 'segment_progress_phase' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@._progress_done() RETURNS void
    AS 'MODULE_PATHNAME', 'segment_progress_done' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@._progress_end() RETURNS void
    AS 'MODULE_PATHNAME', 'segment_progress_end' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@._progress()
RETURNS TABLE(pid integer, tenant text, command text, segment_name text, phase text, segments_done integer,
              segments_total integer, started_at timestamptz, segment_started_at timestamptz, segments_left integer)
    AS 'MODULE_PATHNAME', 'segment_progress' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- (the body; the stub in @extschema@ is unchanged)
CREATE OR REPLACE FUNCTION @extschema@_api.refresh(name text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    t0 timestamptz := clock_timestamp();
    fresh @extschema@.audience;
    ent @extschema@.audience;
    ext @extschema@.audience;
    n bigint;
    err text;
    own boolean := @extschema@._progress_begin('refresh', s.tenant, 1);
BEGIN
    -- one refresh per segment at a time; a second caller is told, never
    -- blocked.  Two int4 keys carry the whole bigint id (its high half folded
    -- into the name's hash, its low half as the second key), so ids beyond
    -- 2^31 neither fail nor collide; running_refreshes decodes the same.
    IF NOT pg_catalog.pg_try_advisory_xact_lock(
               pg_catalog.hashtext('segment.refresh') # (s.id >> 32)::integer,
               ((s.id & 4294967295) - CASE WHEN (s.id & 4294967295) > 2147483647 THEN 4294967296 ELSE 0 END)::integer) THEN
        IF own THEN
            PERFORM @extschema@._progress_end();
        END IF;
        RAISE EXCEPTION 'segment "%" is already being refreshed', name
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Wait for the running refresh to commit; see segment.running_refreshes.';
    END IF;
    -- re-read under the lock: a refresh that committed meanwhile changed the members
    s := @extschema@._segment(name);
    PERFORM @extschema@._progress_phase(s.name, 'evaluating');
    BEGIN
        -- as the rule's author: it reads no more than its author could
        fresh := @extschema@._evaluate_as(s.owner, s.rule, now());
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
        INSERT INTO @extschema@.history (segment_id, refreshed_at, milliseconds, error, rule)
        VALUES (s.id, now(), extract(epoch FROM clock_timestamp() - t0) * 1000, err, s.rule::text);
        RAISE WARNING 'refresh of segment "%" failed: %', name, err
            USING HINT = 'The previous members are kept; see segment.segments.last_error.';
        IF own THEN
            PERFORM @extschema@._progress_end();
        END IF;
        RETURN NULL;
    END IF;
    PERFORM @extschema@._progress_phase(s.name, 'storing');
    -- who entered and exited, computed once for the row, the history and
    -- the change feed (47_changes.sql)
    ent := fresh OPERATOR(@extschema@.-) coalesce(s.members, '{}');
    ext := coalesce(s.members, '{}') OPERATOR(@extschema@.-) fresh;
    UPDATE @extschema@.segments
    SET members = fresh, member_count = n, status = 'ready', last_error = NULL,
        entered = ent, exited = ext, refreshed_at = now(), updated_at = now()
    WHERE id = s.id;
    INSERT INTO @extschema@.history (segment_id, refreshed_at, member_count, entered, exited, milliseconds, rule)
    VALUES (s.id, now(), n, @extschema@.cardinality(ent), @extschema@.cardinality(ext),
            extract(epoch FROM clock_timestamp() - t0) * 1000, s.rule::text);
    PERFORM @extschema@._log_changes(s, n, ent, ext, 'refresh');
    IF own THEN
        PERFORM @extschema@._progress_end();
    END IF;
    RETURN n;
END $$;

-- (the body; the stub in @extschema@ is unchanged)
CREATE OR REPLACE FUNCTION @extschema@_api.refresh_all() RETURNS TABLE(name text, members bigint, milliseconds float8)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    i integer := 0;
    total integer := (SELECT count(*) FROM @extschema@.segments s WHERE s.tenant = @extschema@._tenant());
    saved bigint;
    own boolean := @extschema@._progress_begin('refresh_all', @extschema@._tenant(), total);
BEGIN
    PERFORM @extschema@._share_begin();
    FOR name IN SELECT o.name FROM @extschema@._refresh_order() o LOOP
        i := i + 1;
        t0 := clock_timestamp();
        BEGIN
            members := @extschema@.refresh(name);
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'segment "%" is being refreshed by another session, skipped', name;
            PERFORM @extschema@._progress_done();
            members := NULL;
            milliseconds := NULL;
            RETURN NEXT;
            CONTINUE;
        END;
        PERFORM @extschema@._progress_done();
        milliseconds := extract(epoch FROM clock_timestamp() - t0) * 1000;
        RAISE NOTICE 'refreshed segment % of %: "%" (% members, % ms)', i, total, name, members, round(milliseconds::numeric, 1);
        RETURN NEXT;
    END LOOP;
    saved := @extschema@._share_end();
    IF saved > 0 THEN
        RAISE NOTICE 'refresh_all: % predicate evaluations shared', saved;
    END IF;
    IF own THEN
        PERFORM @extschema@._progress_end();
    END IF;
END $$;

-- What each refresh() and refresh_all() of the tenant is doing right now,
-- seen from any session (src/refresh_progress.c).
CREATE VIEW @extschema@.refresh_progress WITH (security_invoker = true) AS
SELECT p.pid, p.tenant, p.command, p.segment_name, p.phase, p.segments_done, p.segments_total, p.segments_left,
       pg_catalog.clock_timestamp() - p.segment_started_at AS segment_elapsed,
       pg_catalog.clock_timestamp() - p.started_at AS elapsed, p.started_at
FROM @extschema@._progress() p;
COMMENT ON VIEW @extschema@.refresh_progress IS 'progress of the refresh() and refresh_all() calls running now: segment, phase, elapsed time, segments left';


CREATE OR REPLACE FUNCTION @extschema@._api_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['create_segment', 'alter_segment', 'drop_segment', 'refresh', 'refresh_all',
                 'create_tag_group', 'drop_tag_group', 'rename_tag_group', 'move_tag_group',
                 'set_tag_group_enabled', 'add_tag', 'move_tag', 'set_tag_enabled', 'rename_tag',
                 'drop_tag', 'tag_customer', 'untag_customer', 'import_tags', 'set_tag_rule', 'retag',
                 'record_contact', 'purge_contacts', 'create_rfm_tags', 'set_time_zone',
                 'create_consumer', 'drop_consumer', 'ack_changes', 'purge_changes',
                 'snapshot_segment', 'drop_snapshot', 'create_tag_consumer']
$$;

CREATE OR REPLACE FUNCTION @extschema@._reader_helpers() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['_tenant', '_tenant_granted', '_caller', '_zone', '_segment', '_group', '_tag',
                 '_ordinal_of', '_source', '_customers', '_column_type', '_require_pg_cron',
                 '_refresh_job_name', '_retag_job_name', '_consumer', '_change_position', '_snapshot',
                 '_read_tag_changes', '_progress']
$$;

CREATE OR REPLACE FUNCTION @extschema@.grant_usage(role regrole) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    f regprocedure;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA @extschema@ TO %s', role);
    EXECUTE format('GRANT SELECT ON @extschema@.customer_registry, @extschema@.sources, @extschema@.segments,
                    @extschema@.history, @extschema@.tag_groups, @extschema@.tags, @extschema@.tag_members,
                    @extschema@.tag_log, @extschema@.contacts, @extschema@.rfm_groups, @extschema@.rfm_classes,
                    @extschema@.watches, @extschema@.autotag_triggers, @extschema@.running_refreshes,
                    @extschema@.refresh_progress,
                    @extschema@.tag_group_errors, @extschema@.stale_tag_groups, @extschema@.tenant_settings,
                    @extschema@.change_log, @extschema@.change_log_horizon, @extschema@.consumers,
                    @extschema@.snapshots, @extschema@.tag_changes, @extschema@.tag_changes_horizon TO %s', role);
    -- the dictionary and the views exist only while a customer table is
    -- registered (with a dictionary); _rebuild_views() grants them anew
    IF to_regclass('@extschema@.customer_ordinals') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON @extschema@.customer_ordinals TO %s', role);
    END IF;
    IF to_regclass('@extschema@.membership') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON @extschema@.membership, @extschema@.customer_tags TO %s', role);
    END IF;
    FOR f IN SELECT x FROM @extschema@._extension_functions() x
             JOIN pg_catalog.pg_proc p ON p.oid = x
             WHERE p.pronamespace = '@extschema@'::regnamespace
               AND p.proname = ANY (@extschema@._api_functions() || @extschema@._reader_helpers()) LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f, role);
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.grant_usage(regrole) IS 'lets a role use segment (read the catalogs, call the functions) without tying it to a tenant';

-- The privilege pass of 90_tenancy.sql for the functions added or
-- replaced here (CREATE OR REPLACE drops a function's SET search_path):
-- bodies of the new API functions behind stubs, search_path pinned,
-- EXECUTE revoked from PUBLIC; granted roles get them (and the new
-- catalog) again from grant_usage().
DO $$
DECLARE
    f record;
    r record;
    added text[] := ARRAY['_snapshot', '_snapshot_frozen', 'snapshot_segment', 'drop_snapshot', 'rule_snapshots', '_api_functions', '_reader_helpers', 'grant_usage', '_tag_feed_note', '_tag_feed_commit', 'create_tag_consumer', 'read_changes', '_read_tag_changes', 'ack_changes', 'purge_changes', '_progress_begin', '_progress_phase', '_progress_done', '_progress_end', '_progress', 'refresh', 'refresh_all'];
BEGIN
    FOR f IN SELECT p.oid, p.proname, pg_catalog.pg_get_function_arguments(p.oid) AS args,
                    pg_catalog.pg_get_function_identity_arguments(p.oid) AS ident,
                    pg_catalog.pg_get_function_result(p.oid) AS result,
                    pg_catalog.obj_description(p.oid, 'pg_proc') AS comment
             FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname = ANY (added)
               AND p.proname = ANY (@extschema@._api_functions()) AND p.prolang <> (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'c')
             ORDER BY p.proname LOOP
        EXECUTE format('ALTER FUNCTION @extschema@.%I(%s) SET SCHEMA @extschema@_api', f.proname, f.ident);
        EXECUTE format('CREATE FUNCTION @extschema@.%I(%s) RETURNS %s AS %L, %L LANGUAGE C VOLATILE',
                       f.proname, f.args, f.result, 'MODULE_PATHNAME', 'segment_api_call');
        EXECUTE format('COMMENT ON FUNCTION @extschema@.%I(%s) IS %L', f.proname, f.ident, f.comment);
        EXECUTE format('COMMENT ON FUNCTION @extschema@_api.%I(%s) IS %L', f.proname, f.ident,
                       format('body of %s(): runs as the extension owner, for the role calling it', f.proname));
    END LOOP;
    FOR f IN SELECT x AS sig, p.proname, p.pronamespace, l.lanname, p.prosecdef, p.prorettype
             FROM @extschema@._extension_functions() x
             JOIN pg_catalog.pg_proc p ON p.oid = x
             JOIN pg_catalog.pg_language l ON l.oid = p.prolang
             WHERE p.proname = ANY (added) LOOP
        IF f.lanname IN ('sql', 'plpgsql') OR f.prosecdef THEN
            EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, @extschema@, pg_temp', f.sig);
        END IF;
        IF f.proname LIKE '\_%' OR f.prorettype = 'pg_catalog.trigger'::regtype
           OR f.pronamespace = '@extschema@_api'::regnamespace
           OR f.proname = ANY (@extschema@._api_functions())
           OR f.proname = ANY (@extschema@._admin_functions()) THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.sig);
        END IF;
    END LOOP;
    FOR r IN SELECT DISTINCT a.grantee::regrole AS role
             FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
             WHERE n.oid = '@extschema@'::regnamespace AND a.grantee NOT IN (0, n.nspowner)
             UNION
             SELECT t.role_name::regrole FROM @extschema@.tenant_roles t LOOP
        PERFORM @extschema@.grant_usage(r.role);
    END LOOP;
END $$;
-- s7-explain: explain_membership() and condition_counts() (src/sql/49_explain.sql)

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
-- (the privilege pass above ran before these were created)
ALTER FUNCTION @extschema@.explain_membership(text, anyelement) SET search_path = pg_catalog, @extschema@, pg_temp;
-- s7-funnel: event_funnel(), an ordered funnel over EXISTS steps (src/sql/41_funnel.sql)
CREATE FUNCTION @extschema@.event_funnel(steps @extschema@.segment_rule[], within interval,
                                         as_of timestamptz DEFAULT now())
RETURNS TABLE(step integer, members bigint, rate float8, reached @extschema@.audience)
    AS 'MODULE_PATHNAME', 'segment_event_funnel' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 8;
COMMENT ON FUNCTION @extschema@.event_funnel(@extschema@.segment_rule[], interval, timestamptz) IS 'ordered funnel over EXISTS steps: the customers reaching each step with events in order within the conversion window from the first step''s event, and the rate against the first step';

-- s7-funnel: first_by() / last_by(), the aggregates behind first() and last() (src/sql/42_first_last.sql)
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
-- s7-shard: scale-out over postgres_fdw (issue 17): shard_reason(), sharding(),
-- create_foreign_partitions(); register_customers() installs no key-check
-- trigger on a customer table with foreign partitions
CREATE OR REPLACE FUNCTION @extschema@.register_customers(rel regclass, key_column name, tenant_column name DEFAULT NULL,
                                               dictionary boolean DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, @extschema@, pg_temp AS $$
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
    IF @extschema@._is_integer_type(ktype) AND NOT coalesce(dictionary, false) THEN
        mode := 'direct';
        EXECUTE format('SELECT %1$I::text FROM %2$s WHERE %1$I < 0 OR %1$I > 4294967295 LIMIT 1', key_column, rel) INTO bad;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'customer key % is outside the range of ordinals', bad
                USING ERRCODE = 'numeric_value_out_of_range',
                      DETAIL = 'Integer customer keys are used directly as ordinals between 0 and 4294967295.',
                      HINT = 'Register with dictionary => true to map keys of any size to ordinals.';
        END IF;
    ELSIF NOT coalesce(dictionary, true) THEN
        RAISE EXCEPTION 'customer key column "%" has type %, which cannot be used as ordinals', key_column, ktype
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'Only smallint, integer and bigint keys can be their own ordinals.',
                  HINT = 'Register with dictionary => true or NULL.';
    ELSIF NOT EXISTS (SELECT FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod
                      WHERE a.amname = 'btree' AND c.opcdefault AND c.opcintype = ktype) THEN
        RAISE EXCEPTION 'customer key column "%" has type %, which cannot be a key', key_column, ktype
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Use an integer, bigint, uuid or text key column.';
    ELSE
        mode := 'dictionary';
    END IF;

    SELECT * INTO old FROM @extschema@.customer_registry;
    IF FOUND AND (old.key_type <> ktype OR old.rel <> rel OR old.key_column <> key_column
                  OR old.ordinal_mode <> mode)
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

    -- a re-registration keeps the zone; a first one records the session's
    INSERT INTO @extschema@.customer_registry (rel, key_column, key_type, ordinal_mode, tenant_column, time_zone)
    VALUES (rel, key_column, ktype, mode, tenant_column, coalesce(old.time_zone, @extschema@._zone()));

    -- statement triggers with transition tables cannot be on a table with
    -- foreign partitions (doc/scale-out.md): rules check such keys instead
    SELECT relkind IN ('r', 'p') AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i
                                                 JOIN pg_catalog.pg_class p ON p.oid = i.inhrelid
                                                 WHERE i.inhparent = rel AND p.relkind = 'f')
    INTO is_table FROM pg_catalog.pg_class WHERE oid = rel;
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
    ELSIF is_table THEN
        -- any integer key (smallint and integer too: -1 is as impossible an
        -- ordinal as 2^32) is checked as it is written, so that no one row
        -- makes every rule fail with "audience member is out of range"
        EXECUTE format('CREATE TRIGGER segment_key_check AFTER INSERT ON %s
                        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                        EXECUTE FUNCTION @extschema@._direct_key_check()', rel);
        EXECUTE format('CREATE TRIGGER segment_key_check_upd AFTER UPDATE ON %s
                        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                        EXECUTE FUNCTION @extschema@._direct_key_check()', rel);
    END IF;
    PERFORM @extschema@._rebuild_views();
END $$;

-- NULL when rule evaluation scans the relation shard by shard (it is
-- partitioned, on customer_column when given, and every partition is a
-- postgres_fdw foreign table on a server with extensions 'segment'), else
-- the reason it does not.
CREATE FUNCTION @extschema@.shard_reason(relation regclass, customer_column name DEFAULT NULL)
RETURNS text
    AS 'MODULE_PATHNAME', 'segment_shard_reason' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.shard_reason(regclass, name) IS 'NULL when rules scan the relation shard by shard (postgres_fdw foreign partitions on servers with extensions ''segment''), else why not';

-- The customer table and every source: how many shards rules scan it on.
CREATE FUNCTION @extschema@.sharding()
RETURNS TABLE (name text, relation regclass, shards integer, reason text)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, @extschema@, pg_temp AS $$
    SELECT t.name, t.rel,
           CASE WHEN t.reason IS NULL
                THEN (SELECT count(*)::integer FROM pg_catalog.pg_inherits i WHERE i.inhparent = t.rel) ELSE 0 END,
           t.reason
    FROM (SELECT 'customer'::text AS name, r.rel, @extschema@.shard_reason(r.rel) AS reason, 0 AS o
          FROM @extschema@.customer_registry r
          UNION ALL
          SELECT s.name, s.rel, @extschema@.shard_reason(s.rel, s.customer_column), 1
          FROM @extschema@.sources s) t
    ORDER BY t.o, t.name
$$;
COMMENT ON FUNCTION @extschema@.sharding() IS 'the customer table and each source: the number of shards rules scan it on (0 and the reason when not sharded)';

-- One postgres_fdw foreign partition of a hash-partitioned table per
-- server, named <table>_<server>: partition i of n holds the rows whose
-- key hashes to remainder i - 1 modulo n.  The remote table is the same
-- schema and name on every shard unless given.  Runs as its caller (who
-- needs CREATE on the schema and USAGE on the servers).
CREATE FUNCTION @extschema@.create_foreign_partitions(parent regclass, servers name[],
                                                      remote_schema name DEFAULT NULL,
                                                      remote_table name DEFAULT NULL)
RETURNS SETOF regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, @extschema@, pg_temp AS $$
DECLARE
    n integer := pg_catalog.cardinality(servers);
    nsp name;
    rel name;
    part regclass;
BEGIN
    IF parent IS NULL THEN
        RAISE EXCEPTION 'parent must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF n IS NULL OR n = 0 OR pg_catalog.array_position(servers, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'servers must be a non-empty array without NULLs' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_partitioned_table p WHERE p.partrelid = parent AND p.partstrat = 'h') THEN
        RAISE EXCEPTION 'table % is not partitioned by hash', parent USING ERRCODE = 'wrong_object_type',
            HINT = 'Create it with PARTITION BY HASH (customer column).';
    END IF;
    SELECT c.relname, ns.nspname INTO rel, nsp
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace WHERE c.oid = parent;
    FOR i IN 1 .. n LOOP
        EXECUTE pg_catalog.format('CREATE FOREIGN TABLE %I.%I PARTITION OF %s FOR VALUES WITH (MODULUS %s, REMAINDER %s) '
                                  'SERVER %I OPTIONS (schema_name %L, table_name %L)',
                                  nsp, rel || '_' || servers[i], parent, n, i - 1, servers[i],
                                  coalesce(remote_schema, nsp), coalesce(remote_table, rel));
        part := pg_catalog.format('%I.%I', nsp, rel || '_' || servers[i])::regclass;
        RETURN NEXT part;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.create_foreign_partitions(regclass, name[], name, name) IS 'creates one postgres_fdw foreign partition of a hash-partitioned table per server (<table>_<server>)';

-- s7-shard: no auto-tagging triggers on tables with foreign partitions
CREATE OR REPLACE FUNCTION @extschema@._watched_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, @extschema@, pg_temp AS $$
    WITH feeds AS (SELECT DISTINCT unnest(refs) AS feed FROM @extschema@._auto_rules())
    SELECT DISTINCT rel FROM (
        SELECT s.rel FROM @extschema@.sources s JOIN feeds f ON f.feed = 'source:' || s.name
        UNION SELECT w.base_table FROM @extschema@.watches w JOIN feeds f ON f.feed = 'source:' || w.source
        UNION SELECT r.rel FROM @extschema@.customer_registry r JOIN feeds f ON f.feed = 'customer'
    ) x
    WHERE (SELECT c.relkind IN ('r', 'p') FROM pg_catalog.pg_class c WHERE c.oid = x.rel)
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhrelid
                      WHERE i.inhparent = x.rel AND p.relkind = 'f')
$$;

-- s9-shagg: grouped_audience_agg(), one audience per shard for aggregate conditions (src/sql/71_grouped_agg.sql)
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

-- s9-dict: audience_agg_keys(), mapping customer keys to ordinals in batches (src/sql/20_registry.sql)
-- audience_agg_keys(key): audience_agg(customer_ordinal(key)), mapping the
-- keys many at a time in the order of the cache's slots
-- (src/key_dictionary_agg.c).  The state is audience_agg's, combined by its
-- function; parallel workers send their keys unmapped and the leader maps
-- them when it deserializes.  STABLE, as customer_ordinal(): it reads the
-- dictionary.
CREATE FUNCTION @extschema@.audience_agg_keys_trans(internal, anyelement) RETURNS internal
    AS 'MODULE_PATHNAME', 'audience_agg_keys_trans' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_agg_keys_trans(internal, anyelement) IS 'transition function of audience_agg_keys: buffers a customer key to be mapped to its ordinal';
CREATE FUNCTION @extschema@.audience_agg_keys_final(internal) RETURNS @extschema@.audience
    AS 'MODULE_PATHNAME', 'audience_agg_keys_final' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_agg_keys_final(internal) IS 'final function of audience_agg_keys: the audience of the keys'' ordinals (NULL when no key is a registered customer''s)';
CREATE FUNCTION @extschema@.audience_agg_keys_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'audience_agg_keys_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_agg_keys_serialize(internal) IS 'serialize function of audience_agg_keys: the ordinals mapped so far and the keys not mapped yet, from a parallel worker';
CREATE FUNCTION @extschema@.audience_agg_keys_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'audience_agg_keys_deserialize' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.audience_agg_keys_deserialize(bytea, internal) IS 'deserialize function of audience_agg_keys: a worker''s partial state, its keys mapped in the leader';
CREATE AGGREGATE @extschema@.audience_agg_keys(anyelement) (
    SFUNC = @extschema@.audience_agg_keys_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.audience_agg_keys_final,
    COMBINEFUNC = @extschema@.audience_union_combine,
    SERIALFUNC = @extschema@.audience_agg_keys_serialize,
    DESERIALFUNC = @extschema@.audience_agg_keys_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.audience_agg_keys(anyelement) IS 'audience of the ordinals of customer keys, as audience_agg(customer_ordinal(key)) (NULL when none is a registered customer''s)';

-- audience_keys(members, key_type): the customer keys of an audience's
-- members, from the backend's cache of the dictionary (or the integers
-- themselves); the registered-customer check of few members probes the
-- customer table's key index with them (src/audience_keys.c).  STABLE: it
-- reads the dictionary; PARALLEL RESTRICTED: the cache is the backend's.
CREATE FUNCTION @extschema@.audience_keys(members @extschema@.audience, key_type anyelement) RETURNS anyarray
    AS 'MODULE_PATHNAME', 'segment_audience_keys' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.audience_keys(@extschema@.audience, anyelement) IS 'the customer keys of the members, as an array of key_type (pass NULL::<key type>); members without a key are left out';
