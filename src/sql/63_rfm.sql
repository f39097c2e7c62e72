--------------------------------------------------------------------------
-- RFM: recency, frequency, monetary scores and the eight classic classes
-- (doc/campaign.md)
--------------------------------------------------------------------------

-- The eight classes: R, F, M each high (better than the average customer)
-- or low.  Tag values are the Chinese class names marketers use.
CREATE TABLE @extschema@.rfm_classes (
    class   text PRIMARY KEY,
    label   text NOT NULL UNIQUE,
    r_high  boolean NOT NULL,
    f_high  boolean NOT NULL,
    m_high  boolean NOT NULL,
    position integer NOT NULL UNIQUE
);
INSERT INTO @extschema@.rfm_classes VALUES
    ('important_value',       '重要价值客户', true,  true,  true,  1),
    ('important_development', '重要发展客户', true,  false, true,  2),
    ('important_retention',   '重要保持客户', false, true,  true,  3),
    ('important_winback',     '重要挽留客户', false, false, true,  4),
    ('general_value',         '一般价值客户', true,  true,  false, 5),
    ('general_development',   '一般发展客户', true,  false, false, 6),
    ('general_retention',     '一般保持客户', false, true,  false, 7),
    ('general_winback',       '一般挽留客户', false, false, false, 8);
COMMENT ON TABLE @extschema@.rfm_classes IS 'the eight RFM classes: high or low recency, frequency and monetary value';

-- rfm(): per registered customer (of the current tenant) with at least one
-- event in the source up to as_of:
--   recency_days  days from the last event to as_of (calendar days in the
--                 segment.timezone zone), frequency = events, monetary = sum
--                 of amount (NULL amounts count as 0);
--   r, f, m       1..5 by quintile: ceil(5 * cume_dist()), so equal values
--                 always get equal scores (recency: more recent is higher);
--   class         from R, F, M each compared with the average customer
--                 (recency below the average, frequency and monetary above).
-- Customers without events are not scored.
CREATE FUNCTION @extschema@.rfm(source text, amount_column name, as_of timestamptz DEFAULT now())
RETURNS TABLE(customer_key text, ordinal bigint, recency_days integer, frequency bigint, monetary numeric,
              r integer, f integer, m integer, class text, class_label text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s @extschema@.sources;
    reg @extschema@.customer_registry;
    atype regtype;
    ord_expr text;
    key_join text := '';
    tenant_cond text := '';
BEGIN
    IF source IS NULL OR amount_column IS NULL OR as_of IS NULL THEN
        RETURN;
    END IF;
    reg := @extschema@._customers();
    s := @extschema@._source(source);
    atype := @extschema@._column_type(s.rel, amount_column, 'amount column');
    IF (SELECT t.typcategory FROM pg_catalog.pg_type t WHERE t.oid = atype) <> 'N' THEN
        RAISE EXCEPTION 'amount column "%" of % has type %, not a number', amount_column, s.rel, atype
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    IF reg.ordinal_mode = 'direct' THEN
        ord_expr := format('c.%I::bigint', reg.key_column);
    ELSE
        ord_expr := 'o.ordinal';
        key_join := format('JOIN @extschema@.customer_ordinals o ON o.key = c.%I', reg.key_column);
    END IF;
    IF reg.tenant_column IS NOT NULL THEN
        tenant_cond := format('AND c.%I::text = %L', reg.tenant_column, @extschema@._tenant());
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH per_customer AS (
            SELECT c.%1$I::text AS key, %2$s AS ord,
                   ((($1 AT TIME ZONE %10$L)::date) - ((max(e.%3$I)::timestamptz AT TIME ZONE %10$L)::date))::integer AS recency,
                   count(*) AS freq, coalesce(sum(e.%4$I), 0)::numeric AS money
            FROM %5$s e JOIN %6$s c ON c.%1$I = e.%7$I %8$s
            WHERE e.%3$I <= $1 %9$s
            GROUP BY 1, 2
        ), scored AS (
            SELECT p.*,
                   ceil(5 * cume_dist() OVER (ORDER BY p.recency DESC))::integer AS r,
                   ceil(5 * cume_dist() OVER (ORDER BY p.freq))::integer AS f,
                   ceil(5 * cume_dist() OVER (ORDER BY p.money))::integer AS m,
                   p.recency < avg(p.recency) OVER () AS r_high,
                   p.freq > avg(p.freq) OVER () AS f_high,
                   p.money > avg(p.money) OVER () AS m_high
            FROM per_customer p
        )
        SELECT sc.key, sc.ord, sc.recency, sc.freq, sc.money, sc.r, sc.f, sc.m, k.class, k.label
        FROM scored sc JOIN @extschema@.rfm_classes k
             ON k.r_high = sc.r_high AND k.f_high = sc.f_high AND k.m_high = sc.m_high
        ORDER BY sc.ord$q$,
        reg.key_column, ord_expr, s.time_column, amount_column, s.rel, reg.rel, s.customer_column,
        key_join, tenant_cond, @extschema@._zone())
    USING as_of;
END $$;
COMMENT ON FUNCTION @extschema@.rfm(text, name, timestamptz) IS 'recency, frequency, monetary, quintile scores 1-5 and the eight RFM classes per customer with events';

-- Tag groups kept as RFM classes; retag() re-scores them.
CREATE TABLE @extschema@.rfm_groups (
    group_id      integer PRIMARY KEY REFERENCES @extschema@.tag_groups ON DELETE CASCADE,
    source        text NOT NULL,
    amount_column name NOT NULL
);
COMMENT ON TABLE @extschema@.rfm_groups IS 'tag groups holding RFM classes (see segment.create_rfm_tags)';

-- Re-scores an RFM tag group: every scored customer gets its class as an
-- automatic tag, swaps logged; customers no longer scored lose it.
CREATE FUNCTION @extschema@._rescore_rfm(gid integer, as_of timestamptz DEFAULT now(),
                                         OUT added bigint, OUT removed bigint)
LANGUAGE plpgsql SET search_path = @extschema@, pg_catalog, pg_temp AS $$
DECLARE
    g tag_groups;
    rg rfm_groups;
    t tags;
    wins audience[] := '{}';
    vals tags[];
    cur audience;
    rem audience;
    i integer;
BEGIN
    added := 0;
    removed := 0;
    SELECT * INTO g FROM tag_groups WHERE id = gid;
    SELECT * INTO rg FROM rfm_groups WHERE group_id = gid;
    -- rfm() reads the source with the owner's rights: only what the author may read
    PERFORM _check_rfm_privileges(rg.source, rg.amount_column, g.rule_owner);
    CREATE TEMP TABLE IF NOT EXISTS _segment_rfm (ordinal bigint, label text) ON COMMIT DROP;
    PERFORM _check_own_table('pg_temp._segment_rfm');
    TRUNCATE _segment_rfm;
    INSERT INTO _segment_rfm SELECT x.ordinal, x.class_label FROM rfm(rg.source, rg.amount_column, as_of) x;
    vals := ARRAY(SELECT x FROM tags x WHERE x.group_id = gid ORDER BY x.position, x.id);
    FOR i IN 1 .. coalesce(array_length(vals, 1), 0) LOOP
        wins := wins || (SELECT coalesce(audience_agg(z.ordinal), '{}') FROM _segment_rfm z WHERE z.label = vals[i].value);
    END LOOP;
    -- removals first, so the log reads as swaps
    FOR i IN 1 .. coalesce(array_length(vals, 1), 0) LOOP
        cur := (SELECT coalesce(audience_agg(mm.ordinal), '{}') FROM tag_members mm
                WHERE mm.tag_id = vals[i].id AND mm.source = 'auto');
        rem := cur - wins[i];
        wins[i] := wins[i] - cur;
        PERFORM _apply_auto((vals[i]).id, '{}', rem);
        removed := removed + cardinality(rem);
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(vals, 1), 0) LOOP
        PERFORM _apply_auto((vals[i]).id, wins[i], '{}');
        added := added + cardinality(wins[i]);
    END LOOP;
END $$;

-- An exclusive, automatic tag group of the eight RFM classes.
CREATE FUNCTION @extschema@.create_rfm_tags(group_name text, source text, amount_column name)
RETURNS TABLE(value text, customers bigint)
LANGUAGE plpgsql AS $$
DECLARE
    gid integer;
    k record;
BEGIN
    -- validates the source and amount column before creating anything
    PERFORM count(*) FROM @extschema@.rfm(source, amount_column) LIMIT 1;
    PERFORM @extschema@._check_rfm_privileges(source, amount_column, @extschema@._caller());
    gid := @extschema@.create_tag_group(group_name, exclusive => true, allow_manual => false, allow_auto => true);
    UPDATE @extschema@.tag_groups SET rule_owner = @extschema@._caller() WHERE id = gid;
    FOR k IN SELECT * FROM @extschema@.rfm_classes ORDER BY position LOOP
        PERFORM @extschema@.add_tag(group_name, k.label);
    END LOOP;
    INSERT INTO @extschema@.rfm_groups VALUES (gid, source, amount_column);
    PERFORM @extschema@._rescore_rfm(gid);
    RETURN QUERY SELECT t.value, count(m.ordinal)
        FROM @extschema@.tags t LEFT JOIN @extschema@.tag_members m ON m.tag_id = t.id
        WHERE t.group_id = gid GROUP BY t.value, t.position ORDER BY t.position;
END $$;
COMMENT ON FUNCTION @extschema@.create_rfm_tags(text, text, name) IS 'creates an exclusive auto tag group of the eight RFM classes, scored now and re-scored by retag()';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.rfm_groups', '');
