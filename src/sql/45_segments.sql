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
    -- the rule's author: refreshes evaluate it as this role (90_tenancy.sql)
    owner        regrole NOT NULL DEFAULT @extschema@._caller(),
    UNIQUE (tenant, name)
);
COMMENT ON TABLE @extschema@.segments IS 'saved segments: rule, last refreshed members and status';

CREATE TABLE @extschema@.history (
    id           bigserial PRIMARY KEY,
    segment_id   bigint NOT NULL,   -- no foreign key: append-only, kept after drop_segment
    tenant       text NOT NULL DEFAULT @extschema@._tenant(),
    refreshed_at timestamptz NOT NULL,
    member_count bigint,
    entered      bigint,
    exited       bigint,
    milliseconds float8 NOT NULL,
    error        text,
    rule         text               -- the rule that produced this refresh (canonical text)
);
CREATE INDEX ON @extschema@.history (segment_id, refreshed_at);
COMMENT ON TABLE @extschema@.history IS 'one row per refresh of a saved segment (append-only)';

-- The segment row of the current tenant, or an error listing what exists
-- (src/catalog_lookup.c, the rule compiler's too).
CREATE FUNCTION @extschema@._segment(name text) RETURNS @extschema@.segments
    AS 'MODULE_PATHNAME', 'segment_catalog_segment' LANGUAGE C STABLE;

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
    PERFORM @extschema@._check_rule_privileges(rule);
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
    -- its followers see its last members exit (47_changes.sql)
    PERFORM @extschema@._log_changes(s, 0, '{}', coalesce(s.members, '{}'), 'drop');
    DELETE FROM @extschema@.segments WHERE id = s.id;
END $$;
COMMENT ON FUNCTION @extschema@.drop_segment(text) IS 'drops a segment and its pg_cron refresh job; refused while other segments read it with IN SEGMENT';

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

-- Refreshes one segment atomically: the new members replace the old ones
-- in one UPDATE, visible when the caller's transaction commits.  A failed
-- evaluation keeps the old members and records the error.
CREATE FUNCTION @extschema@.refresh(name text) RETURNS bigint
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
JOIN @extschema@.segments s ON l.locktype = 'advisory' AND l.objsubid = 2
     AND l.classid::bigint = ((pg_catalog.hashtext('segment.refresh') # (s.id >> 32)::integer)::bigint & 4294967295)
     AND l.objid::bigint = (s.id & 4294967295) AND l.granted
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid;
COMMENT ON VIEW @extschema@.running_refreshes IS 'segments being refreshed right now, by which session';

-- What each refresh() and refresh_all() of the tenant is doing right now,
-- seen from any session (src/refresh_progress.c).
CREATE VIEW @extschema@.refresh_progress WITH (security_invoker = true) AS
SELECT p.pid, p.tenant, p.command, p.segment_name, p.phase, p.segments_done, p.segments_total, p.segments_left,
       pg_catalog.clock_timestamp() - p.segment_started_at AS segment_elapsed,
       pg_catalog.clock_timestamp() - p.started_at AS elapsed, p.started_at
FROM @extschema@._progress() p;
COMMENT ON VIEW @extschema@.refresh_progress IS 'progress of the refresh() and refresh_all() calls running now: segment, phase, elapsed time, segments left';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.segments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history_id_seq', '');
