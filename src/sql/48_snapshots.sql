--------------------------------------------------------------------------
-- Snapshots: a segment's members frozen under a label ("who got the 双11
-- campaign"), listed in segment.snapshots, read by rules with IN SNAPSHOT
-- 'label' (doc/changes.md, Snapshots)
--------------------------------------------------------------------------

-- One row per snapshot.  The members are those of the segment's last
-- successful refresh when the snapshot was taken; nothing changes them
-- afterwards (the trigger below refuses every UPDATE, refresh() and
-- drop_segment() never touch the table), so a snapshot outlives its
-- segment and its segment's later refreshes.
CREATE TABLE @extschema@.snapshots (
    id           bigserial PRIMARY KEY,
    tenant       text NOT NULL DEFAULT @extschema@._tenant(),
    label        text NOT NULL CHECK (btrim(label) <> ''),
    segment_id   bigint NOT NULL,      -- no foreign key: outlives drop_segment
    segment_name text NOT NULL,
    members      @extschema@.audience NOT NULL,
    member_count bigint NOT NULL,
    rule         text NOT NULL,        -- the rule of the refresh that computed the members (canonical text)
    refreshed_at timestamptz NOT NULL, -- when that refresh ran
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   regrole NOT NULL DEFAULT @extschema@._caller(),
    UNIQUE (tenant, label)
);
CREATE INDEX ON @extschema@.snapshots (segment_id);
COMMENT ON TABLE @extschema@.snapshots IS 'frozen members of segments under a label (see segment.snapshot_segment); never updated';

-- The snapshot row of the current tenant, or an error listing the labels
-- that exist (src/catalog_lookup.c, the rule compiler's too).
CREATE FUNCTION @extschema@._snapshot(label text) RETURNS @extschema@.snapshots
    AS 'MODULE_PATHNAME', 'segment_catalog_snapshot' LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.rule_snapshots(rule @extschema@.segment_rule) RETURNS text[]
    AS 'MODULE_PATHNAME', 'segment_rule_snapshots' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rule_snapshots(@extschema@.segment_rule) IS 'labels of the snapshots the rule reads with IN SNAPSHOT';

-- A frozen snapshot never changes, whoever asks (the extension owner too).
CREATE FUNCTION @extschema@._snapshot_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'snapshot "%" is frozen', OLD.label
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'A snapshot''s members never change once taken.',
              HINT = 'Take a new snapshot with segment.snapshot_segment() under another label, or drop this one with segment.drop_snapshot() first.';
END $$;
CREATE TRIGGER frozen BEFORE UPDATE ON @extschema@.snapshots
    FOR EACH ROW EXECUTE FUNCTION @extschema@._snapshot_frozen();

-- Freezes the members of the segment's last successful refresh under
-- label; returns how many members the snapshot holds.
CREATE FUNCTION @extschema@.snapshot_segment(name text, label text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    produced text;
    n bigint;
BEGIN
    IF label IS NULL OR btrim(label) = '' THEN
        RAISE EXCEPTION 'snapshot label must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF s.members IS NULL THEN
        RAISE EXCEPTION 'segment "%" has not been refreshed yet', name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A snapshot freezes the members of the segment''s last successful refresh.',
                  HINT = format('Refresh it first: SELECT segment.refresh(%L);', name);
    END IF;
    IF EXISTS (SELECT FROM @extschema@.snapshots x WHERE x.tenant = s.tenant AND x.label = snapshot_segment.label) THEN
        RAISE EXCEPTION 'snapshot "%" already exists', label
            USING ERRCODE = 'duplicate_object',
                  HINT = 'A snapshot never changes: choose another label, or drop it with segment.drop_snapshot() first.';
    END IF;
    -- the rule that produced these members: the segment's rule may have
    -- been altered since (then it is pending, and its members are older)
    SELECT h.rule INTO produced FROM @extschema@.history h
    WHERE h.segment_id = s.id AND h.error IS NULL AND h.rule IS NOT NULL
    ORDER BY h.id DESC LIMIT 1;
    INSERT INTO @extschema@.snapshots (tenant, label, segment_id, segment_name, members, member_count, rule, refreshed_at)
    VALUES (s.tenant, label, s.id, s.name, s.members, @extschema@.cardinality(s.members),
            coalesce(produced, s.rule::text), s.refreshed_at)
    RETURNING member_count INTO n;
    RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@.snapshot_segment(text, text) IS 'freezes the segment''s current members (its last successful refresh) under a label; returns the member count';

-- Drops a snapshot; refused while a saved rule reads it with IN SNAPSHOT.
CREATE FUNCTION @extschema@.drop_snapshot(label text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    x @extschema@.snapshots := @extschema@._snapshot(label);
    users text;
BEGIN
    -- saved rules of the tenant: segments and auto-tagging rules
    SELECT string_agg(u.what, ', ' ORDER BY u.what) INTO users FROM (
        SELECT format('segment %L', s.name) AS what FROM @extschema@.segments s
        WHERE s.tenant = x.tenant AND x.label = ANY (@extschema@.rule_snapshots(s.rule))
        UNION ALL
        SELECT format('tag %L of group %L', t.value, g.name) FROM @extschema@.tags t
        JOIN @extschema@.tag_groups g ON g.id = t.group_id
        WHERE g.tenant = x.tenant AND t.rule IS NOT NULL AND x.label = ANY (@extschema@.rule_snapshots(t.rule))) u;
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'snapshot "%" is used by saved rules', label
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('IN SNAPSHOT %L appears in: %s.', label, users),
                  HINT = 'Change or drop those rules first (segment.alter_segment(), segment.set_tag_rule()).';
    END IF;
    DELETE FROM @extschema@.snapshots s WHERE s.id = x.id;
END $$;
COMMENT ON FUNCTION @extschema@.drop_snapshot(text) IS 'drops a snapshot; refused while a saved segment or auto-tagging rule reads it with IN SNAPSHOT';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.snapshots_id_seq', '');
