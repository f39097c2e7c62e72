--------------------------------------------------------------------------
-- Privileges: who a function acts for, and acting as a rule's author
-- (src/rule_privilege.c; the grants themselves are in 90_tenancy.sql)
--------------------------------------------------------------------------

-- The role the current segment function acts for: inside a catalog-writing
-- API function (run as the extension owner), the role that called it;
-- elsewhere current_user.  Saved rules record it as their author.
CREATE FUNCTION @extschema@._caller() RETURNS regrole
    AS 'MODULE_PATHNAME', 'segment_caller_sql' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@._caller() IS 'the role the current segment function acts for';
