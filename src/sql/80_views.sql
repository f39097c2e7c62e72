--------------------------------------------------------------------------
-- BI views: segment.membership and segment.customer_tags, typed by the
-- registered customer key, so BI tools can join them to the customer table
--------------------------------------------------------------------------

-- The views read the segments (45_segments.sql) and tags (50_tags.sql)
-- catalogs, so they come after both.  No view exists before a customer
-- table is registered: register_customers() and unregister_customers()
-- (20_registry.sql) rebuild them.

-- Drops the key-typed views (they depend on the dictionary).  They exist
-- only while a customer table is registered, hence the look-up.
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
