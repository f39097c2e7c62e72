--------------------------------------------------------------------------
-- Preset audiences: the platform's standard segments
--------------------------------------------------------------------------

-- Creates the standard audiences as ordinary saved segments (editable with
-- alter_segment, droppable).  paid_filter narrows orders to paid ones in
-- the rule language's filter syntax (e.g. 'status = ''paid'''); NULL counts
-- every order.  Without a views source the prospects audience is skipped.
-- Re-running creates what is missing and keeps the rest as they are (they
-- may have been edited).
CREATE FUNCTION @extschema@.create_preset_segments(orders_source text, views_source text DEFAULT NULL,
                                                   paid_filter text DEFAULT NULL,
                                                   view_seconds_column name DEFAULT 'seconds')
RETURNS TABLE(name text, status text, members bigint)
LANGUAGE plpgsql AS $$
DECLARE
    o text;
    t text;
    p text;
    v text;
    r record;
BEGIN
    IF orders_source IS NULL THEN
        RAISE EXCEPTION 'orders_source must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT quote_ident(s.name), quote_ident(s.time_column) INTO o, t FROM @extschema@._source(orders_source) s;
    IF views_source IS NOT NULL THEN
        v := quote_ident((@extschema@._source(views_source)).name);
    END IF;
    p := CASE WHEN paid_filter IS NULL THEN '' ELSE ' WHERE ' || paid_filter END;
    -- The filter and the seconds column are checked before anything is
    -- created or kept, so a bad one fails on a re-run too.
    PERFORM @extschema@.compile(format('EXISTS %s%s', o, p)::@extschema@.segment_rule);
    IF v IS NOT NULL THEN
        PERFORM @extschema@.compile(format('EXISTS %s WHERE %I > 15', v, view_seconds_column)::@extschema@.segment_rule);
    END IF;
    FOR r IN SELECT * FROM (VALUES
        (1, 'preset: new', '新客: first paid order within 180 days, a purchase in the last 30 days',
         format('min(%1$s.%2$s%3$s) DURING LAST 180 days AND EXISTS %1$s%3$s DURING LAST 30 days', o, t, p)),
        (2, 'preset: returning', '老客: first paid order over 180 days ago, a purchase in the last 30 days',
         format('min(%1$s.%2$s%3$s) < 180 days ago AND EXISTS %1$s%3$s DURING LAST 30 days', o, t, p)),
        (3, 'preset: prospects', '潜客: watched over 15 seconds in the last 15 days, never bought',
         CASE WHEN v IS NULL THEN NULL
              ELSE format('EXISTS %s WHERE %I > 15 DURING LAST 15 days AND NOT EXISTS %s%s', v, view_seconds_column, o, p) END),
        (4, 'preset: silent', '沉默客户: no purchase in 30 days, some in 180 days',
         format('NOT EXISTS %1$s%2$s DURING LAST 30 days AND EXISTS %1$s%2$s DURING LAST 180 days', o, p)),
        (5, 'preset: loyal', '忠诚客户: bought in the last 30 days and at least twice in 180 days',
         format('EXISTS %1$s%2$s DURING LAST 30 days AND count(%1$s%2$s DURING LAST 180 days) >= 2', o, p)),
        (6, 'preset: repeat', '复购客户: at least two purchases in 180 days',
         format('count(%1$s%2$s DURING LAST 180 days) >= 2', o, p)),
        (7, 'preset: recent buyers', '近期购买: a purchase in the last 30 days',
         format('EXISTS %s%s DURING LAST 30 days', o, p))
    ) d(n, seg_name, description, rule) ORDER BY n LOOP
        name := r.seg_name;
        IF r.rule IS NULL THEN
            status := 'skipped: no views source';
            members := NULL;
        ELSIF EXISTS (SELECT FROM @extschema@.segments s WHERE s.tenant = @extschema@._tenant() AND s.name = r.seg_name) THEN
            status := 'kept';
            SELECT s.member_count INTO members FROM @extschema@.segments s
            WHERE s.tenant = @extschema@._tenant() AND s.name = r.seg_name;
        ELSE
            PERFORM @extschema@.create_segment(r.seg_name, r.rule::@extschema@.segment_rule, r.description);
            status := 'created';
            SELECT s.member_count INTO members FROM @extschema@.segments s
            WHERE s.tenant = @extschema@._tenant() AND s.name = r.seg_name;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.create_preset_segments(text, text, text, name) IS 'creates the standard audiences (new, returning, prospects, silent, loyal, repeat, recent buyers) as editable saved segments; re-running keeps existing ones';
