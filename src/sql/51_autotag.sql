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
-- segment.watch(), or retag().  So are tables with foreign partitions
-- (doc/scale-out.md): their triggers would not see writes made on the
-- shards, and transition tables of foreign partitions make every write
-- through the coordinator fail; retag() serves them.
CREATE FUNCTION @extschema@._watched_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
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
-- (what the engine in src/autotag_decide.c does for each value; RFM uses it).
CREATE FUNCTION @extschema@._apply_auto(tag integer, added @extschema@.audience, removed @extschema@.audience)
RETURNS void
AS 'MODULE_PATHNAME', 'segment_apply_auto' LANGUAGE C VOLATILE STRICT;

-- The engine (src/autotag_layers.c).  _retag_cascade re-tags groups among
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
    FOREACH t IN ARRAY ARRAY['tag_groups', 'tags', 'sources', 'watches', 'customer_registry', 'tag_group_errors',
                             'tenant_settings'] LOOP
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
        PERFORM @extschema@._claim_tag_rules(g, t, rule);
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

CREATE FUNCTION @extschema@.schedule_retag(cron text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    job bigint;
BEGIN
    PERFORM @extschema@._require_pg_cron();
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
        USING @extschema@._retag_job_name(), cron, @extschema@.retag_command();
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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_group_errors', '');
