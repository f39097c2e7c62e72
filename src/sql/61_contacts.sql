--------------------------------------------------------------------------
-- Contact policy: who was contacted when, and who may be contacted now
--------------------------------------------------------------------------

-- Contacts are stored as bit-sliced day counters: for each (channel, day),
-- slice k holds the customers contacted at least k times that day.  A day
-- of a million contacted customers is a few bitmaps, not a million rows.
CREATE TABLE @extschema@.contacts (
    tenant   text NOT NULL DEFAULT '',
    channel  text NOT NULL,
    day      date NOT NULL,
    times    integer NOT NULL CHECK (times >= 1),
    members  @extschema@.audience NOT NULL,
    PRIMARY KEY (tenant, channel, day, times)
);
COMMENT ON TABLE @extschema@.contacts IS 'customers contacted per channel and day (slice k: contacted at least k times)';

CREATE FUNCTION @extschema@.record_contact(members @extschema@.audience, channel text,
                                           at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    pending @extschema@.audience := members;
    cur @extschema@.audience;
    k integer := 1;
    t text := @extschema@._tenant();
BEGIN
    IF members IS NULL OR channel IS NULL OR at IS NULL THEN
        RAISE EXCEPTION 'record_contact arguments must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF channel = '' THEN
        RAISE EXCEPTION 'channel must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    d := (at AT TIME ZONE @extschema@._zone())::date;
    -- one writer per (tenant, channel, day): slices are read-modify-write
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('segment.contacts'),
                                             pg_catalog.hashtext(t || '/' || channel || '/' || d));
    WHILE NOT @extschema@.is_empty(pending) LOOP
        SELECT c.members INTO cur FROM @extschema@.contacts c
        WHERE c.tenant = t AND c.channel = record_contact.channel AND c.day = d AND c.times = k;
        IF NOT FOUND THEN
            INSERT INTO @extschema@.contacts VALUES (t, channel, d, k, pending);
            EXIT;
        END IF;
        UPDATE @extschema@.contacts c SET members = cur OPERATOR(@extschema@.|) pending
        WHERE c.tenant = t AND c.channel = record_contact.channel AND c.day = d AND c.times = k;
        -- those already at k contacts move on to slice k + 1
        pending := pending OPERATOR(@extschema@.&) cur;
        k := k + 1;
    END LOOP;
    RETURN @extschema@.cardinality(members);
END $$;
COMMENT ON FUNCTION @extschema@.record_contact(@extschema@.audience, text, timestamptz) IS 'records that these customers were contacted on a channel at a time';

CREATE FUNCTION @extschema@.contactable(members @extschema@.audience, channel text, cooldown interval,
                                        max_per_day integer DEFAULT 1, as_of timestamptz DEFAULT now())
RETURNS @extschema@.audience
LANGUAGE plpgsql STABLE AS $$
DECLARE
    zone text := @extschema@._zone();
    today date;
    first_day date;
    blocked @extschema@.audience;
    capped @extschema@.audience;
    t text := @extschema@._tenant();
BEGIN
    IF members IS NULL OR channel IS NULL OR as_of IS NULL THEN
        RETURN NULL;
    END IF;
    IF cooldown < interval '0' THEN
        RAISE EXCEPTION 'cooldown must not be negative: %', cooldown USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_per_day < 1 THEN
        RAISE EXCEPTION 'max_per_day must be at least 1, not %', max_per_day
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL for no daily limit.';
    END IF;
    today := (as_of AT TIME ZONE zone)::date;
    -- the cooldown counts whole days, rounded up: a contact on any day from
    -- the day of (as_of - cooldown) through today blocks the customer
    IF cooldown > interval '0' THEN
        first_day := ((as_of - cooldown) AT TIME ZONE zone)::date;
        SELECT @extschema@.union_agg(c.members) INTO blocked FROM @extschema@.contacts c
        WHERE c.tenant = t AND c.channel = contactable.channel AND c.times = 1
          AND c.day BETWEEN first_day AND today;
    END IF;
    IF max_per_day IS NOT NULL THEN
        SELECT c.members INTO capped FROM @extschema@.contacts c
        WHERE c.tenant = t AND c.channel = contactable.channel AND c.day = today AND c.times = max_per_day;
    END IF;
    RETURN members OPERATOR(@extschema@.-) coalesce(blocked, '{}')
                   OPERATOR(@extschema@.-) coalesce(capped, '{}');
END $$;
COMMENT ON FUNCTION @extschema@.contactable(@extschema@.audience, text, interval, integer, timestamptz) IS 'members not contacted on the channel within the cooldown and below the daily limit';

CREATE FUNCTION @extschema@.purge_contacts(keep interval DEFAULT interval '90 days', as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF keep IS NULL OR keep < interval '0' THEN
        RAISE EXCEPTION 'keep must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM @extschema@.contacts c
    WHERE c.tenant = @extschema@._tenant()
      AND c.day < ((as_of - keep) AT TIME ZONE @extschema@._zone())::date;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@.purge_contacts(interval, timestamptz) IS 'deletes contact history older than keep (for the current tenant); returns the rows deleted';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.contacts', '');
