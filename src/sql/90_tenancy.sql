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
    FOREACH t IN ARRAY ARRAY['segments', 'history', 'tag_groups', 'tag_log', 'contacts', 'tenant_settings'] LOOP
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
                    @extschema@.contacts, @extschema@.rfm_groups, @extschema@.tag_group_errors,
                    @extschema@.tenant_settings TO %s', role);
    EXECUTE format('GRANT SELECT ON @extschema@.rfm_classes, @extschema@.watches, @extschema@.autotag_triggers TO %s', role);
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA @extschema@ TO %s', role);
    EXECUTE format('GRANT SELECT ON @extschema@.running_refreshes, @extschema@.stale_tag_groups TO %s', role);
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
