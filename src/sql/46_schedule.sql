--------------------------------------------------------------------------
-- Scheduling refreshes with pg_cron
--------------------------------------------------------------------------

-- Raises a clear error when pg_cron is not installed in this database.
CREATE FUNCTION @extschema@._require_pg_cron() RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    hint text := 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, and run CREATE EXTENSION pg_cron.';
BEGIN
    IF to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
        IF coalesce(current_setting('cron.database_name', true), current_database()) <> current_database() THEN
            RAISE EXCEPTION 'pg_cron is not installed in this database'
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = format('pg_cron runs in database %s (cron.database_name).',
                                      quote_ident(current_setting('cron.database_name'))),
                      HINT = 'Run the statement that segment.schedule_refresh_command() or '
                             'segment.schedule_retag_command() returns in that database.';
        END IF;
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'feature_not_supported', HINT = hint;
    END IF;
END $$;

-- The command of a segment's refresh job.  It starts with the settings
-- that make it compute what the scheduling session computes: the tenant,
-- and the zone of calendar days when the session overrides it with
-- segment.timezone (otherwise the job, like every caller, uses the
-- registered zone: segment.time_zone()).
CREATE FUNCTION @extschema@.refresh_command(name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('SET segment.tenant = %L; ', s.tenant) ||
           CASE WHEN coalesce(current_setting('segment.timezone', true), '') = '' THEN ''
                ELSE format('SET segment.timezone = %L; ', current_setting('segment.timezone')) END ||
           format('SELECT @extschema@.refresh(%L)', s.name)
    FROM @extschema@._segment(name) s
$$;
COMMENT ON FUNCTION @extschema@.refresh_command(text) IS 'the command a pg_cron job runs to refresh the segment (tenant, and segment.timezone when set)';

CREATE FUNCTION @extschema@._refresh_job_name(s @extschema@.segments) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'segment refresh ' || CASE WHEN s.tenant = '' THEN '' ELSE s.tenant || '/' END || s.name
$$;

CREATE FUNCTION @extschema@.schedule_refresh(name text, cron text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    job bigint;
BEGIN
    PERFORM @extschema@._require_pg_cron();
    EXECUTE 'SELECT cron.schedule($1, $2, $3)'
        INTO job
        USING @extschema@._refresh_job_name(s), cron, @extschema@.refresh_command(name);
    RETURN job;
END $$;
COMMENT ON FUNCTION @extschema@.schedule_refresh(text, text) IS 'schedules a pg_cron job refreshing the segment (cron syntax, e.g. ''0 3 * * *''); re-scheduling replaces it';

CREATE FUNCTION @extschema@.unschedule_refresh(name text, missing_ok boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
    job_name text := @extschema@._refresh_job_name(s);
BEGIN
    PERFORM @extschema@._require_pg_cron();
    -- the caller's job, also when drop_segment() (run as the owner) calls this
    IF NOT EXISTS (SELECT FROM cron.job j WHERE j.jobname = job_name
                   AND j.username = pg_catalog.pg_get_userbyid(@extschema@._caller())) THEN
        IF missing_ok THEN
            RETURN false;
        END IF;
        RAISE EXCEPTION 'segment "%" has no scheduled refresh', name USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE 'SELECT cron.unschedule(j.jobid) FROM cron.job j WHERE j.jobname = $1 AND j.username = $2'
        USING job_name, pg_catalog.pg_get_userbyid(@extschema@._caller());
    RETURN true;
END $$;
COMMENT ON FUNCTION @extschema@.unschedule_refresh(text, boolean) IS 'removes the segment''s pg_cron refresh job';

-- pg_cron usually lives in one database (cron.database_name) and the shop
-- in another: the statement to run there, scheduling the same job in this
-- database (cron.schedule_in_database, pg_cron 1.4; a superuser grants
-- EXECUTE on it).  Nothing is scheduled by this function itself.
CREATE FUNCTION @extschema@.schedule_refresh_command(name text, cron text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s @extschema@.segments := @extschema@._segment(name);
BEGIN
    IF cron IS NULL OR btrim(cron) = '' THEN
        RAISE EXCEPTION 'cron schedule must not be empty' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Use cron syntax, e.g. ''0 3 * * *''.';
    END IF;
    RETURN format('SELECT cron.schedule_in_database(%L, %L, %L, %L, %L);',
                  @extschema@._refresh_job_name(s), cron, @extschema@.refresh_command(name),
                  current_database(), current_user);
END $$;
COMMENT ON FUNCTION @extschema@.schedule_refresh_command(text, text) IS 'the statement that schedules the segment''s refresh from the pg_cron database when it is another database';

CREATE FUNCTION @extschema@.unschedule_refresh_command(name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %L AND database = %L AND username = %L;',
                  @extschema@._refresh_job_name(@extschema@._segment(name)), current_database(), current_user)
$$;
COMMENT ON FUNCTION @extschema@.unschedule_refresh_command(text) IS 'the statement that removes the segment''s refresh job from the pg_cron database when it is another database';
