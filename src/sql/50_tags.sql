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
    -- who last set a rule of the group: auto-tagging evaluates its rules as
    -- this role (90_tenancy.sql)
    rule_owner   regrole,
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
    actor      text NOT NULL DEFAULT @extschema@._caller()::text,  -- the role acting, not the owner
    xid        xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id()   -- the writing transaction (the change feed's, 47_changes.sql)
);
COMMENT ON TABLE @extschema@.tag_log IS 'every tag added or removed: when, how, by whom or which rule';
-- Tag changes reach the consumers of the change feed in commit order
-- (47_changes.sql): each writing transaction is noted once.
CREATE TRIGGER tag_feed AFTER INSERT ON @extschema@.tag_log
    REFERENCING NEW TABLE AS segment_tag_log_fresh FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._tag_feed_note();

-- The ordinal of a customer key, or an error when it is not a registered customer.
CREATE FUNCTION @extschema@._ordinal_of(customer_key anyelement) RETURNS bigint
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
CREATE FUNCTION @extschema@._group(group_name text) RETURNS @extschema@.tag_groups
    AS 'MODULE_PATHNAME', 'segment_catalog_group' LANGUAGE C STABLE;

CREATE FUNCTION @extschema@._tag(group_name text, value text) RETURNS @extschema@.tags
    AS 'MODULE_PATHNAME', 'segment_catalog_tag' LANGUAGE C STABLE;

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

CREATE FUNCTION @extschema@.move_tag_group(name text, "position" integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g @extschema@.tag_groups := @extschema@._group(name);
BEGIN
    UPDATE @extschema@.tag_groups t SET position = r.position
    FROM @extschema@._renumber(ARRAY(SELECT x.id FROM @extschema@.tag_groups x WHERE x.tenant = g.tenant
                                     ORDER BY x.position, x.id), g.id, move_tag_group."position") r
    WHERE t.id = r.id;
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

CREATE FUNCTION @extschema@.move_tag(group_name text, value text, "position" integer) RETURNS void
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

CREATE FUNCTION @extschema@.set_tag_enabled(group_name text, value text, enabled boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t @extschema@.tags := @extschema@._tag(group_name, value);
BEGIN
    UPDATE @extschema@.tags SET enabled = coalesce(set_tag_enabled.enabled, true) WHERE id = t.id;
    PERFORM @extschema@._sync_triggers();
END $$;
COMMENT ON FUNCTION @extschema@.set_tag_enabled(text, text, boolean) IS 'enables or disables a value of a tag group: a disabled value is hidden from customer_tags and tags no one, by hand or by rule; its customers keep it';

CREATE FUNCTION @extschema@.rename_tag(group_name text, value text, new_value text) RETURNS void
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
COMMENT ON FUNCTION @extschema@.drop_tag(text, text) IS 'drops a value of a tag group and its customers'' tags (logged)';

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
COMMENT ON FUNCTION @extschema@.import_tags(regclass, text) IS 'imports (customer_key, label) rows with labels "group-value"; reports each row';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_groups', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tags', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_members', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_groups_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tags_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_log_id_seq', '');
