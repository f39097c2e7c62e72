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
    FOREACH t IN ARRAY ARRAY['segments', 'history', 'tag_groups', 'tag_log', 'contacts', 'tenant_settings',
                             'change_log', 'change_log_horizon', 'consumers', 'snapshots', 'tag_changes',
                             'tag_changes_horizon'] LOOP
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

ALTER TABLE @extschema@.tag_group_errors ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON @extschema@.tag_group_errors
    USING (group_id IN (SELECT g.id FROM @extschema@.tag_groups g WHERE g.tenant = (SELECT @extschema@._tenant())));

ALTER TABLE @extschema@.tag_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON @extschema@.tag_members
    USING (tag_id IN (SELECT t.id FROM @extschema@.tags t JOIN @extschema@.tag_groups g ON g.id = t.group_id
                      WHERE g.tenant = (SELECT @extschema@._tenant())));

-- Lets a role work for a tenant: the privileges the segment functions need
-- and the right to SET segment.tenant to it.
CREATE FUNCTION @extschema@.grant_tenant(tenant text, role regrole) RETURNS void
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

CREATE FUNCTION @extschema@.revoke_tenant(tenant text, role regrole) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM @extschema@.tenant_roles r WHERE r.tenant = revoke_tenant.tenant AND r.role_name = role::text::name;
    RETURN FOUND;
END $$;
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
                 'create_consumer', 'drop_consumer', 'ack_changes', 'purge_changes',
                 'snapshot_segment', 'drop_snapshot', 'create_tag_consumer']
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
                 '_refresh_job_name', '_retag_job_name', '_consumer', '_change_position', '_snapshot',
                 '_read_tag_changes', '_progress']
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

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tenant_roles', '');
