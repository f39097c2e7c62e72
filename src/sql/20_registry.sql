--------------------------------------------------------------------------
-- Registry: the application's customer table and event sources
--------------------------------------------------------------------------

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
-- or when the role it acts for (_caller()) was not granted the tenant.
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
    IF NOT @extschema@._tenant_granted(t, pg_catalog.pg_get_userbyid(@extschema@._caller())) THEN
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
    registered_at timestamptz NOT NULL DEFAULT now(),
    -- the zone of calendar days (TODAY, LAST n days, date literals, contact
    -- days) for every caller: a pg_cron job as a session (doc/operations.md)
    time_zone     text NOT NULL
);
COMMENT ON TABLE @extschema@.customer_registry IS 'the registered customer table (see segment.register_customers)';

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
CREATE FUNCTION @extschema@._zone() RETURNS text
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

-- Number of saved segments: the registration does not change under them.
-- PL/pgSQL, so that it may precede the segments catalog (45_segments.sql).
CREATE FUNCTION @extschema@._segment_count() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM @extschema@.segments);
END $$;

-- The type of a column, or an error naming the columns that exist.
CREATE FUNCTION @extschema@._column_type(rel regclass, col name, what text) RETURNS regtype
    AS 'MODULE_PATHNAME', 'segment_catalog_column_type' LANGUAGE C STABLE;

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
                  DETAIL = 'Integer customer keys are used directly as ordinals between 0 and 4294967295.',
                  HINT = 'Use keys in that range, or register the customer table with dictionary => true to map keys of any value.';
    END IF;
    RETURN NULL;
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
COMMENT ON FUNCTION @extschema@.register_customers(regclass, name, name, boolean) IS 'registers the customer table: the universe of every rule';

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

-- A customer key's ordinal: through a backend-local cache of the dictionary
-- (src/key_dictionary.c), or the key itself when integer keys are used
-- directly.  Parallel workers read the leader's copy of the cache in
-- dynamic shared memory (src/key_dictionary_share.c).
CREATE FUNCTION @extschema@.customer_ordinal(key anyelement) RETURNS bigint
    AS 'MODULE_PATHNAME', 'customer_ordinal' LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.customer_ordinal(anyelement) IS 'the ordinal of a customer key (NULL for a key that is no registered customer''s)';

-- audience_keys(members, key_type): the customer keys of an audience's
-- members, from the backend's cache of the dictionary (or the integers
-- themselves); the registered-customer check of few members probes the
-- customer table's key index with them (src/audience_keys.c).  STABLE: it
-- reads the dictionary; PARALLEL RESTRICTED: the cache is the backend's.
CREATE FUNCTION @extschema@.audience_keys(members @extschema@.audience, key_type anyelement) RETURNS anyarray
    AS 'MODULE_PATHNAME', 'segment_audience_keys' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.audience_keys(@extschema@.audience, anyelement) IS 'the customer keys of the members, as an array of key_type (pass NULL::<key type>); members without a key are left out';

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
COMMENT ON FUNCTION @extschema@.register_source(text, regclass, name, name) IS 'registers (or re-registers) an event source usable in rules';

-- A registered source, or the error every function reports for an unknown
-- one (the rule compiler's too): its name, and the sources there are
-- (src/catalog_lookup.c).
CREATE FUNCTION @extschema@._source(name text) RETURNS @extschema@.sources
    AS 'MODULE_PATHNAME', 'segment_catalog_source' LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.unregister_source(name text) RETURNS void
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
COMMENT ON FUNCTION @extschema@.unregister_source(text) IS 'removes an event source';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_registry', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sources', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tenant_settings', '');
