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
