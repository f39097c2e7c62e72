--------------------------------------------------------------------------
-- Scheduling refreshes with pg_cron
--------------------------------------------------------------------------

-- Raises a clear error when pg_cron is not installed in this database.
CREATE FUNCTION @extschema@._require_pg_cron() RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, and run CREATE EXTENSION pg_cron.';
    END IF;
END $$;

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
        USING @extschema@._refresh_job_name(s), cron,
              format('SET segment.tenant = %L; SELECT @extschema@.refresh(%L)', s.tenant, s.name);
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
