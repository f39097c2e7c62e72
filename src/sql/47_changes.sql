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
    follows      text NOT NULL DEFAULT 'segments' CHECK (follows IN ('segments', 'tags')),
    tag_group    text,                 -- follows = 'tags': the group followed, NULL: every group
    PRIMARY KEY (tenant, name)
);
COMMENT ON TABLE @extschema@.consumers IS 'named readers of the change feed and the position each acknowledged (see segment.create_consumer)';

-- Tag changes (tag_log rows: every tag added or removed, by auto-tagging,
-- by hand or by import) reach consumers too.  tag_log ids do not commit in
-- order: concurrent transactions (the auto-tagging trigger of two
-- application statements) take ids in turns and commit in any order, so a
-- reader that had acknowledged id 7 would skip an id 6 that commits later.
-- So tag positions are drawn when each writing transaction commits, under
-- a lock it holds until it has committed, like the log positions of
-- refreshes: a deferred trigger turns the transaction's tag_log rows into
-- one tag_changes row per tenant, naming the range of ids they occupy.

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

-- A consumer of tag changes: read_changes() gives it the tags added
-- ('tagged') and removed ('untagged') in one group (or all), in commit
-- order.
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

-- read_changes() of a tag consumer: tag_log rows of the committed
-- transactions after its position, in commit order, each transaction's in
-- id order.  A change's position is its transaction's tag_changes position
-- times 2^33 plus its id's offset from the first id of that row.  One
-- query: tag_changes in position order, each row's next tag_log ids by
-- index (at most a page of them, so that a page of a huge transaction
-- costs a page).
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

-- Removes log rows older than keep (a cron job runs it); consumers that
-- had not read them are told by read_changes().
CREATE FUNCTION @extschema@.purge_changes(keep interval DEFAULT interval '30 days') RETURNS bigint
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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_changes', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_changes_position_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_changes_horizon', '');
