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

-- Applies one value's difference: removes then adds auto tags, logged.
CREATE FUNCTION @extschema@._apply_auto(t @extschema@.tags, g @extschema@.tag_groups,
                                        added @extschema@.audience, removed @extschema@.audience)
RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_catalog, pg_temp AS $$
DECLARE
    actor text := format('rule %s-%s', g.name, t.value);
BEGIN
    IF NOT @extschema@.is_empty(removed) THEN
        WITH gone AS (
            DELETE FROM @extschema@.tag_members m
            WHERE m.tag_id = t.id AND m.source = 'auto' AND m.ordinal IN (SELECT @extschema@.ids_bigint(removed))
            RETURNING m.ordinal
        )
        INSERT INTO @extschema@.tag_log (tenant, group_name, value, ordinal, action, source, actor)
        SELECT g.tenant, g.name, t.value, gone.ordinal, 'remove', 'auto', actor FROM gone ORDER BY gone.ordinal;
    END IF;
    IF NOT @extschema@.is_empty(added) THEN
        WITH fresh AS (
            INSERT INTO @extschema@.tag_members (tag_id, ordinal, source)
            SELECT t.id, i, 'auto' FROM @extschema@.ids_bigint(added) i
            ON CONFLICT (tag_id, ordinal) DO NOTHING
            RETURNING ordinal
        )
        INSERT INTO @extschema@.tag_log (tenant, group_name, value, ordinal, action, source, actor)
        SELECT g.tenant, g.name, t.value, fresh.ordinal, 'add', 'auto', actor FROM fresh ORDER BY fresh.ordinal;
    END IF;
END $$;

-- Holders of each of some tags, automatic and not, among candidates (NULL:
-- all), as arrays aligned with tag_ids.  A few candidates are looked up
-- by ordinal (index), many are probed in the bitmap while reading the tags.
CREATE FUNCTION @extschema@._holders(tag_ids integer[], cand @extschema@.audience,
                                     OUT auto_holders @extschema@.audience[], OUT other_holders @extschema@.audience[])
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_catalog, pg_temp AS $$
BEGIN
    IF cand IS NULL THEN
        SELECT array_agg(coalesce(h.a, '{}') ORDER BY v.n), array_agg(coalesce(h.o, '{}') ORDER BY v.n)
        INTO auto_holders, other_holders
        FROM unnest(tag_ids) WITH ORDINALITY v(id, n)
        LEFT JOIN (SELECT m.tag_id, audience_agg(m.ordinal) FILTER (WHERE m.source = 'auto') a,
                          audience_agg(m.ordinal) FILTER (WHERE m.source <> 'auto') o
                   FROM tag_members m WHERE m.tag_id = ANY(tag_ids) GROUP BY 1) h ON h.tag_id = v.id;
    ELSIF cardinality(cand) <= 1000 THEN
        SELECT array_agg(coalesce(h.a, '{}') ORDER BY v.n), array_agg(coalesce(h.o, '{}') ORDER BY v.n)
        INTO auto_holders, other_holders
        FROM unnest(tag_ids) WITH ORDINALITY v(id, n)
        LEFT JOIN (SELECT m.tag_id, audience_agg(m.ordinal) FILTER (WHERE m.source = 'auto') a,
                          audience_agg(m.ordinal) FILTER (WHERE m.source <> 'auto') o
                   FROM tag_members m WHERE m.ordinal = ANY(cand::bigint[]) AND m.tag_id = ANY(tag_ids)
                   GROUP BY 1) h ON h.tag_id = v.id;
    ELSE
        SELECT array_agg(coalesce(h.a, '{}') ORDER BY v.n), array_agg(coalesce(h.o, '{}') ORDER BY v.n)
        INTO auto_holders, other_holders
        FROM unnest(tag_ids) WITH ORDINALITY v(id, n)
        LEFT JOIN (SELECT m.tag_id, audience_agg(m.ordinal) FILTER (WHERE m.source = 'auto') a,
                          audience_agg(m.ordinal) FILTER (WHERE m.source <> 'auto') o
                   FROM tag_members m WHERE m.tag_id = ANY(tag_ids) AND cand @> m.ordinal
                   GROUP BY 1) h ON h.tag_id = v.id;
    END IF;
END $$;

-- Re-evaluates the auto values of one group, among candidates (NULL: all
-- customers), and applies the difference.  Exclusive groups give each
-- customer the first value (by position) whose rule holds; customers with
-- a manual or imported value in the group, or a value that is disabled or
-- has no rule, keep it.  Manual and imported tags are never removed; auto
-- tags of a value with auto_remove = false are removed only when another
-- value of an exclusive group takes over.  Returns who changed.
CREATE FUNCTION @extschema@._retag_group(gid integer, cand @extschema@.audience,
                                         OUT changed @extschema@.audience, OUT added bigint, OUT removed bigint)
LANGUAGE plpgsql SET search_path = @extschema@, pg_catalog, pg_temp AS $$
DECLARE
    g tag_groups;
    vals tags[];
    all_ids integer[];
    autos audience[];
    others audience[];
    helds audience[];
    wins audience[] := '{}';
    curs audience[] := '{}';
    taken audience := '{}';
    win audience;
    rem audience;
    k integer;
    i integer;
BEGIN
    changed := '{}';
    added := 0;
    removed := 0;
    SELECT * INTO g FROM tag_groups WHERE id = gid;
    vals := ARRAY(SELECT x FROM tags x WHERE x.group_id = gid AND x.enabled AND x.rule IS NOT NULL
                  ORDER BY x.position, x.id);
    -- every value's holders among the candidates, in one query
    all_ids := ARRAY(SELECT x.id FROM tags x WHERE x.group_id = gid ORDER BY x.position, x.id);
    SELECT h.auto_holders, h.other_holders INTO autos, others FROM _holders(all_ids, cand) h;
    IF g.exclusive THEN
        -- customers whose value in the group is not the rules' to change
        FOR k IN 1 .. coalesce(array_length(all_ids, 1), 0) LOOP
            taken := taken | others[k];
            IF NOT EXISTS (SELECT FROM unnest(vals) v WHERE (v).id = all_ids[k]) THEN
                taken := taken | autos[k];
            END IF;
        END LOOP;
    END IF;
    -- who should hold each value: all the group's rules in one query
    helds := _evaluate_rules(ARRAY(SELECT (v).rule FROM unnest(vals) v), cand);
    FOR i IN 1 .. coalesce(array_length(vals, 1), 0) LOOP
        k := array_position(all_ids, vals[i].id);
        curs := curs || autos[k];
        IF g.exclusive THEN
            win := helds[i] - taken;
            taken := taken | win;
        ELSE
            win := helds[i] - others[k];
        END IF;
        wins := wins || win;
    END LOOP;
    -- apply: every removal first, so the log reads as swaps
    FOR i IN 1 .. coalesce(array_length(vals, 1), 0) LOOP
        rem := curs[i] - wins[i];
        IF NOT vals[i].auto_remove THEN
            -- keep them unless another value of an exclusive group won
            rem := CASE WHEN g.exclusive THEN rem & (taken - wins[i]) ELSE '{}' END;
        END IF;
        wins[i] := wins[i] - curs[i];
        PERFORM _apply_auto(vals[i], g, '{}', rem);
        changed := changed | rem;
        removed := removed + cardinality(rem);
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(vals, 1), 0) LOOP
        PERFORM _apply_auto(vals[i], g, wins[i], '{}');
        changed := changed | wins[i];
        added := added + cardinality(wins[i]);
    END LOOP;
END $$;

-- Groups with auto rules reading tag group "name".
CREATE FUNCTION @extschema@._tag_readers(group_name text, tenant text) RETURNS SETOF integer
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT a.group_id FROM @extschema@._auto_rules() a JOIN @extschema@.tag_groups g ON g.id = a.group_id
    WHERE g.tenant = _tag_readers.tenant AND 'tag:' || group_name = ANY(a.refs)
$$;

-- Re-tags groups among candidates and then, with the customers that
-- changed, the groups whose rules read them (TAG predicates), until
-- nothing changes.  The rule graph is acyclic (checked when rules are
-- set), so this ends; a group is processed after the groups it reads.
CREATE FUNCTION @extschema@._retag_cascade(start integer[], cand @extschema@.audience)
RETURNS TABLE(tag_group text, added bigint, removed bigint)
LANGUAGE plpgsql SET search_path = @extschema@, pg_catalog, pg_temp AS $$
DECLARE
    ids integer[] := start;
    cands @extschema@.audience[] := array_fill(cand, ARRAY[coalesce(array_length(start, 1), 0)]);
    k integer;
    gid integer;
    c @extschema@.audience;
    r record;
    g @extschema@.tag_groups;
    rounds integer := 0;
BEGIN
    WHILE coalesce(array_length(ids, 1), 0) > 0 LOOP
        rounds := rounds + 1;
        IF rounds > 10000 THEN
            RAISE EXCEPTION 'auto-tagging did not settle' USING ERRCODE = 'internal_error';
        END IF;
        -- a pending group none of whose pending peers it reads
        k := 1;
        FOR i IN 1 .. array_length(ids, 1) LOOP
            SELECT * INTO g FROM @extschema@.tag_groups WHERE id = ids[i];
            IF NOT EXISTS (SELECT FROM unnest(ids) p JOIN @extschema@.tag_groups pg ON pg.id = p
                           WHERE p <> ids[i] AND ids[i] IN (SELECT @extschema@._tag_readers(pg.name, pg.tenant))) THEN
                k := i;
                EXIT;
            END IF;
        END LOOP;
        gid := ids[k];
        c := cands[k];
        ids := ids[1:k - 1] || ids[k + 1:];
        cands := cands[1:k - 1] || cands[k + 1:];
        SELECT * INTO g FROM @extschema@.tag_groups WHERE id = gid;
        SELECT * INTO r FROM @extschema@._retag_group(gid, c);
        tag_group := g.name;
        added := r.added;
        removed := r.removed;
        RETURN NEXT;
        IF NOT @extschema@.is_empty(r.changed) THEN
            FOR gid IN SELECT @extschema@._tag_readers(g.name, g.tenant) LOOP
                k := array_position(ids, gid);
                IF k IS NULL THEN
                    ids := ids || gid;
                    cands := cands || r.changed;
                ELSIF cands[k] IS NOT NULL THEN
                    cands[k] := cands[k] | r.changed;
                END IF;
            END LOOP;
        END IF;
    END LOOP;
END $$;

-- The statement-level trigger: the customers whose rows the statement
-- inserted, updated or deleted, re-tagged for the rules reading this
-- table, tenant by tenant.  SECURITY DEFINER: the application's role needs
-- no rights on the tag store, and works for every tenant its rows touch.
CREATE FUNCTION @extschema@._autotag_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @extschema@, pg_catalog, pg_temp AS $$
DECLARE
    reg @extschema@.customer_registry;
    f record;
    keys @extschema@.audience := '{}';
    part @extschema@.audience;
    tbl text;
    feeds text[];
    groups integer[];
    tenant_before text := current_setting('segment.tenant', true);
    per_tenant record;
BEGIN
    SELECT * INTO reg FROM @extschema@.customer_registry;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    feeds := ARRAY(SELECT x.feed FROM @extschema@._table_feeds(TG_RELID) x);
    FOR f IN SELECT DISTINCT x.customer_column FROM @extschema@._table_feeds(TG_RELID) x LOOP
        FOREACH tbl IN ARRAY CASE TG_OP WHEN 'INSERT' THEN ARRAY['segment_new_rows']
                                        WHEN 'DELETE' THEN ARRAY['segment_old_rows']
                                        ELSE ARRAY['segment_new_rows', 'segment_old_rows'] END LOOP
            IF reg.ordinal_mode = 'direct' THEN
                EXECUTE format('SELECT coalesce(@extschema@.audience_agg(n.%1$I::bigint), ''{}'') FROM %2$I n
                                WHERE n.%1$I BETWEEN 0 AND 4294967295', f.customer_column, tbl) INTO part;
            ELSE
                EXECUTE format('SELECT coalesce(@extschema@.audience_agg(o.ordinal), ''{}'') FROM %2$I n
                                JOIN @extschema@.customer_ordinals o ON o.key = n.%1$I', f.customer_column, tbl) INTO part;
            END IF;
            keys := keys | part;
        END LOOP;
    END LOOP;
    IF @extschema@.is_empty(keys) THEN
        RETURN NULL;
    END IF;
    PERFORM @extschema@._lock_customers(keys);
    -- tenant by tenant (one pass with the empty tenant when there is no tenant column)
    FOR per_tenant IN EXECUTE CASE WHEN reg.tenant_column IS NULL
            THEN 'SELECT ''''::text AS tenant, $1 AS cand'
            ELSE format('SELECT c.%1$I::text AS tenant, @extschema@.audience_agg(%2$s) AS cand FROM %3$s c %4$s
                         WHERE %5$s IN (SELECT @extschema@.ids_bigint($1)) GROUP BY 1',
                        reg.tenant_column,
                        CASE WHEN reg.ordinal_mode = 'direct' THEN format('c.%I::bigint', reg.key_column) ELSE 'o.ordinal' END,
                        reg.rel,
                        CASE WHEN reg.ordinal_mode = 'direct' THEN ''
                             ELSE format('JOIN @extschema@.customer_ordinals o ON o.key = c.%I', reg.key_column) END,
                        CASE WHEN reg.ordinal_mode = 'direct' THEN format('c.%I', reg.key_column) ELSE 'o.ordinal' END)
            END USING keys LOOP
        PERFORM pg_catalog.set_config('segment.tenant', per_tenant.tenant, true);
        groups := ARRAY(SELECT DISTINCT a.group_id FROM @extschema@._auto_rules() a
                        JOIN @extschema@.tag_groups g ON g.id = a.group_id
                        WHERE g.tenant = per_tenant.tenant AND a.refs && feeds);
        IF array_length(groups, 1) > 0 THEN
            PERFORM count(*) FROM @extschema@._retag_cascade(groups, per_tenant.cand);
        END IF;
    END LOOP;
    PERFORM pg_catalog.set_config('segment.tenant', coalesce(tenant_before, ''), true);
    RETURN NULL;
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
    IF NOT EXISTS (SELECT FROM @extschema@.sources s WHERE s.name = watch.source) THEN
        RAISE EXCEPTION 'source "%" does not exist', source USING ERRCODE = 'undefined_object';
    END IF;
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
