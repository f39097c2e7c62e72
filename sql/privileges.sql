-- Privileges, the pg_cron model: application roles (two tenant roles and
-- a plain role) only read the catalogs; every direct write is refused and
-- changes nothing, while the segment functions keep working for them.
-- Saved rules are checked against, and run with, their author's rights.
SET search_path = segment, public;
\set SHOW_CONTEXT never

-- the catalog guards future additions: every SQL, PL/pgSQL and SECURITY
-- DEFINER function of the extension pins search_path, and no internal
-- (leading "_"), trigger or body (schema segment_api) function, nor any
-- writing or administrative function, is executable by PUBLIC
CREATE TEMP VIEW ext_functions AS
SELECT p.oid, p.oid::regprocedure AS sig, p.proname, n.nspname, l.lanname, p.prosecdef, p.proconfig, p.prosrc,
       p.prorettype = 'trigger'::regtype AS is_trigger, has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'segment';
SELECT sig AS unpinned FROM ext_functions
WHERE (lanname IN ('sql', 'plpgsql') OR prosecdef)
  AND NOT coalesce('search_path=pg_catalog, segment, pg_temp' = ANY (proconfig), false);
SELECT sig AS executable_by_public FROM ext_functions
WHERE public_exec AND (proname LIKE '\_%' OR is_trigger OR nspname = 'segment_api'
                       OR proname = ANY (_admin_functions()) OR proname = ANY (_api_functions()));
-- no SQL or PL/pgSQL function of schema segment writes the catalogs, but
-- internal and administrative ones: the others run as their caller, who
-- has no write privilege (a new writing function goes to _api_functions())
SELECT sig AS writes_as_caller FROM ext_functions
WHERE nspname = 'segment' AND lanname IN ('sql', 'plpgsql') AND proname NOT LIKE '\_%'
  AND NOT proname = ANY (_admin_functions())
  AND prosrc ~* '(insert\s+into|update|delete\s+from|truncate)\s+segment\.';
-- the writing functions are C stubs of bodies in segment_api, no SECURITY DEFINER
SELECT count(*) AS stubs, bool_and(lanname = 'c' AND NOT prosecdef AND NOT public_exec) AS all_c_not_public,
       bool_and(EXISTS (SELECT FROM ext_functions b WHERE b.nspname = 'segment_api' AND b.proname = s.proname
                        AND b.lanname = 'plpgsql')) AS all_have_bodies
FROM ext_functions s WHERE nspname = 'segment' AND proname = ANY (_api_functions());
SELECT sig AS security_definer FROM ext_functions WHERE prosecdef ORDER BY 1;
-- every public function of schema segment (aggregates and the functions
-- behind operators too, every overload) says what it does
SELECT sig AS uncommented FROM ext_functions
WHERE nspname = 'segment' AND proname NOT LIKE '\_%' AND obj_description(oid, 'pg_proc') IS NULL
ORDER BY 1;

-- a shop's tables: two tenants, a column only tenant b may read
CREATE TABLE public.pv_customers (id int PRIMARY KEY, shop text NOT NULL, name text, secret text);
CREATE TABLE public.pv_orders (customer_id int, amount numeric, paid_at timestamptz, note text, cost numeric);
INSERT INTO pv_customers SELECT g, CASE WHEN g <= 10 THEN 'a' ELSE 'b' END, 'c' || g, 's' || (g % 3)
FROM generate_series(1, 20) g;
INSERT INTO pv_orders SELECT g, 100 * g, '2024-08-01', NULL, g FROM generate_series(1, 20) g;
SELECT register_customers('pv_customers', 'id', tenant_column => 'shop');
SELECT register_source('orders', 'pv_orders', 'customer_id', 'paid_at');
CREATE ROLE regress_priv_a;
CREATE ROLE regress_priv_b;
CREATE ROLE regress_priv_plain;
GRANT SELECT (id, shop, name) ON pv_customers TO regress_priv_a;
GRANT SELECT (customer_id, amount, paid_at) ON pv_orders TO regress_priv_a;
GRANT SELECT ON pv_customers, pv_orders TO regress_priv_b, regress_priv_plain;
-- the plain role may use the schema (the audience type), nothing more
GRANT USAGE ON SCHEMA segment TO regress_priv_plain;
SELECT grant_tenant('a', 'regress_priv_a'), grant_tenant('b', 'regress_priv_b');
-- grant_tenant gives no write privilege on any table or sequence of the extension
SELECT c.relname, p.privilege_type FROM pg_class c, LATERAL aclexplode(c.relacl) a,
       LATERAL (SELECT a.privilege_type) p
WHERE c.relnamespace = 'segment'::regnamespace AND a.grantee = 'regress_priv_a'::regrole
  AND a.privilege_type <> 'SELECT';
SELECT count(*) AS sequences_usable FROM pg_class c
WHERE c.relnamespace = 'segment'::regnamespace AND c.relkind = 'S'
  AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('regress_priv_a', c.oid, 'USAGE, UPDATE') END;

-- the functions work for each tenant role
SET ROLE regress_priv_a;
SET segment.tenant = 'a';
SELECT create_segment('big', 'sum(orders.amount) >= 500') > 0 AS created;
SELECT create_tag_group('vip', allow_auto => true) > 0 AS created;
SELECT add_tag('vip', 'gold', rule => 'sum(orders.amount) >= 800') > 0 AS added;
SELECT add_tag('vip', 'manual') > 0 AS added, tag_customer('vip', 'manual', 3);
SELECT record_contact('{1,2}', 'sms', '2024-08-01 10:00');
CREATE TEMP TABLE a_import (customer_key int, label text);
INSERT INTO a_import VALUES (4, 'vip-manual');
SELECT * FROM import_tags('a_import');
SELECT refresh('big'), (SELECT count(*) FROM retag());
SELECT name, members, owner FROM segments;
SELECT name, rule_owner FROM tag_groups;
SET ROLE regress_priv_b;
SET segment.tenant = 'b';
SELECT create_segment('big', 'sum(orders.amount) >= 1500 AND customer.secret = ''s1''') > 0 AS created;
SELECT name, members, owner FROM segments;
RESET ROLE;
RESET segment.tenant;

-- every catalog row, hashed: compared after the attempts below
CREATE FUNCTION pg_temp.catalog_snapshot() RETURNS text LANGUAGE sql AS $$
    SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
        SELECT 'registry' || r::text AS x FROM segment.customer_registry r
        UNION ALL SELECT 'sources' || r::text FROM segment.sources r
        UNION ALL SELECT 'tenant_roles' || r::text FROM segment.tenant_roles r
        UNION ALL SELECT 'segments' || r::text FROM segment.segments r
        UNION ALL SELECT 'history' || r::text FROM segment.history r
        UNION ALL SELECT 'tag_groups' || r::text FROM segment.tag_groups r
        UNION ALL SELECT 'tags' || r::text FROM segment.tags r
        UNION ALL SELECT 'tag_members' || r::text FROM segment.tag_members r
        UNION ALL SELECT 'tag_log' || r::text FROM segment.tag_log r
        UNION ALL SELECT 'contacts' || r::text FROM segment.contacts r
        UNION ALL SELECT 'watches' || r::text FROM segment.watches r
        UNION ALL SELECT 'autotag_triggers' || r::text FROM segment.autotag_triggers r
        UNION ALL SELECT 'rfm_classes' || r::text FROM segment.rfm_classes r
        UNION ALL SELECT 'rfm_groups' || r::text FROM segment.rfm_groups r
        UNION ALL SELECT 'sequences' || s.last_value FROM pg_sequences s WHERE s.schemaname = 'segment'
    ) s
$$;
SELECT pg_temp.catalog_snapshot() AS before \gset

-- Every direct write, on every table of the extension, as each role:
-- INSERT, UPDATE, DELETE, TRUNCATE, MERGE, row locks (SELECT ... FOR
-- UPDATE) and table locks that would block the functions, and nextval()
-- of its sequences.  "refused" is SQLSTATE 42501 (insufficient_privilege).
CREATE FUNCTION public.pv_try_writes()
RETURNS TABLE(tbl text, ins text, upd text, del text, trunc text, merge text, lock_rows text, lock_table text)
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    stmt text;
    i integer;
    outcome text[];
BEGIN
    FOR t IN SELECT c.relname, (SELECT quote_ident(a.attname) FROM pg_attribute a
                                WHERE a.attrelid = c.oid AND a.attnum = 1) AS col
             FROM pg_class c WHERE c.relnamespace = 'segment'::regnamespace AND c.relkind = 'r'
               AND (c.relname = 'customer_ordinals'
                    OR EXISTS (SELECT FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                 AND d.deptype = 'e' AND e.extname = 'segment'))
             ORDER BY c.relname LOOP
        outcome := '{}';
        FOREACH stmt IN ARRAY ARRAY[
            format('INSERT INTO segment.%I DEFAULT VALUES', t.relname),
            format('UPDATE segment.%I SET %s = %s', t.relname, t.col, t.col),
            format('DELETE FROM segment.%I', t.relname),
            format('TRUNCATE segment.%I', t.relname),
            format('MERGE INTO segment.%I x USING (SELECT 1) y ON true WHEN MATCHED THEN DELETE
                    WHEN NOT MATCHED THEN INSERT DEFAULT VALUES', t.relname),
            format('SELECT FROM segment.%I FOR UPDATE', t.relname),
            format('LOCK TABLE segment.%I IN SHARE ROW EXCLUSIVE MODE', t.relname)]
        LOOP
            BEGIN
                EXECUTE stmt;
                outcome := outcome || 'ALLOWED'::text;
            EXCEPTION WHEN insufficient_privilege THEN
                outcome := outcome || 'refused'::text;
            WHEN OTHERS THEN
                outcome := outcome || SQLERRM;
            END;
        END LOOP;
        tbl := t.relname;
        ins := outcome[1];
        upd := outcome[2];
        del := outcome[3];
        trunc := outcome[4];
        merge := outcome[5];
        lock_rows := outcome[6];
        lock_table := outcome[7];
        RETURN NEXT;
    END LOOP;
    FOR t IN SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'segment'::regnamespace AND c.relkind = 'S'
             ORDER BY c.relname LOOP
        tbl := t.relname;
        BEGIN
            PERFORM nextval(format('segment.%I', t.relname));
            ins := 'nextval ALLOWED';
        EXCEPTION WHEN insufficient_privilege THEN
            ins := 'nextval refused';
        WHEN OTHERS THEN
            ins := SQLERRM;
        END;
        upd := NULL; del := NULL; trunc := NULL; merge := NULL; lock_rows := NULL; lock_table := NULL;
        RETURN NEXT;
    END LOOP;
END $$;
-- as both tenant roles (for their own tenant and for the other's) and the plain role
SET ROLE regress_priv_a;
SET segment.tenant = 'a';
SELECT * FROM pv_try_writes();
SET segment.tenant = 'b';
SELECT count(*) AS tried, count(*) FILTER (WHERE EXISTS (
    SELECT FROM unnest(ARRAY[ins, upd, del, trunc, merge, lock_rows, lock_table]) o
    WHERE o NOT IN ('refused', 'nextval refused'))) AS not_refused FROM pv_try_writes();
SET ROLE regress_priv_b;
SET segment.tenant = 'b';
SELECT count(*) AS tried, count(*) FILTER (WHERE EXISTS (
    SELECT FROM unnest(ARRAY[ins, upd, del, trunc, merge, lock_rows, lock_table]) o
    WHERE o NOT IN ('refused', 'nextval refused'))) AS not_refused FROM pv_try_writes();
SET ROLE regress_priv_plain;
RESET segment.tenant;
SELECT count(*) AS tried, count(*) FILTER (WHERE EXISTS (
    SELECT FROM unnest(ARRAY[ins, upd, del, trunc, merge, lock_rows, lock_table]) o
    WHERE o NOT IN ('refused', 'nextval refused'))) AS not_refused FROM pv_try_writes();

-- nor COPY into a catalog, nor switching off its triggers or policies
SET ROLE regress_priv_a;
SET segment.tenant = 'a';
COPY segment.tag_log (group_name, value, ordinal, action, source) FROM stdin;
vip	gold	1	add	manual
\.
ALTER TABLE segment.tag_log DISABLE TRIGGER append_only;
ALTER TABLE segment.segments DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON segment.segments;
CREATE POLICY mine ON segment.segments USING (true);
CREATE TRIGGER mine AFTER INSERT ON segment.tag_log FOR EACH STATEMENT EXECUTE FUNCTION segment._append_only();
-- the internal functions, and the bodies behind the stubs, are out of reach
SELECT _sync_triggers();
SELECT segment_api.refresh('big');
SELECT _apply_auto(1, '{1}', '{}');
SELECT _retag_cascade(ARRAY[1], NULL);
SELECT _evaluate_as('regress_priv_b', 'EXISTS orders', now());
SELECT _claim_tag_rules(g, t, NULL) FROM tag_groups g, tags t LIMIT 1;
SELECT _rescore_rfm(1);
SELECT _lock_customers('{1}');
SELECT register_source('orders', 'pv_orders', 'customer_id', 'paid_at');
SELECT grant_tenant('b', 'regress_priv_a');
SELECT grant_usage('regress_priv_a');
SELECT revoke_usage('regress_priv_b');
-- the plain role may use no segment function beyond the audience type
SET ROLE regress_priv_plain;
SELECT create_segment('x', 'EXISTS orders');
SELECT refresh('big');
SELECT tag_customer('vip', 'gold', 1);
SELECT evaluate('EXISTS orders');
SELECT count(*) FROM segment.segments;
SELECT cardinality('{1-5}'::audience);
RESET ROLE;
RESET segment.tenant;
SELECT pg_temp.catalog_snapshot() = :'before' AS catalogs_unchanged;

-- a function acts for its caller: tenant a's role cannot act for tenant b
-- through the functions either, though they run as the owner
SET ROLE regress_priv_a;
SET segment.tenant = 'b';
SELECT create_segment('planted', 'EXISTS orders');
SELECT refresh('big');
SELECT drop_segment('big');
SELECT tag_customer('vip', 'gold', 12);
SELECT record_contact('{11}', 'sms');
SELECT purge_contacts('0 days', '2100-01-01');
RESET ROLE;
RESET segment.tenant;
SELECT pg_temp.catalog_snapshot() = :'before' AS catalogs_unchanged;

-- a rule is checked, when saved, against its author's column privileges
SET ROLE regress_priv_a;
SET segment.tenant = 'a';
SELECT create_segment('peek', 'customer.secret = ''s1''');
SELECT create_segment('peek', 'exists orders where note is null');
SELECT alter_segment('big', rule => 'count(orders where note = ''x'') > 0');
SELECT set_tag_rule('vip', 'gold', 'sum(orders.amount) >= 800 and customer.secret = ''s0''');
SELECT add_tag('vip', 'silver', rule => 'customer.secret is null');
SELECT create_rfm_tags('rfm', 'orders', 'cost');
SELECT evaluate('customer.secret = ''s1''');   -- evaluate() runs as the caller: PostgreSQL's own check
SELECT name, rule FROM segments;
RESET ROLE;

-- ... and runs as its author: refreshed by a superuser or by pg_cron, the
-- segment of a still reads with a's privileges only
REVOKE SELECT (name) ON pv_customers FROM regress_priv_a;
SET segment.tenant = 'a';
SELECT alter_segment('big', description => 'no rule change: the author stays a');
SET ROLE regress_priv_a;
SELECT alter_segment('big', rule => 'sum(orders.amount) >= 500 and customer.name like ''c%''');
RESET ROLE;
GRANT SELECT (name) ON pv_customers TO regress_priv_a;
SET ROLE regress_priv_a;
SELECT alter_segment('big', rule => 'sum(orders.amount) >= 500 and customer.name like ''c%''');
RESET ROLE;
REVOKE SELECT (name) ON pv_customers FROM regress_priv_a;
SELECT refresh('big');
SELECT status, last_error, owner FROM segments WHERE tenant = 'a' AND name = 'big';
-- an auto-tagging rule runs as the role that set it: a superuser's retag()
-- of a's group fails while a may not read orders.amount
REVOKE SELECT (amount) ON pv_orders FROM regress_priv_a;
SELECT * FROM retag('vip');
GRANT SELECT (name) ON pv_customers TO regress_priv_a;
GRANT SELECT (amount) ON pv_orders TO regress_priv_a;
SELECT refresh('big'), (SELECT count(*) FROM retag('vip'));
-- a superuser saving the rule becomes its author
SELECT set_tag_rule('vip', 'gold', 'sum(orders.amount) >= 800 and customer.secret = ''s0''');
SELECT name, rule_owner FROM tag_groups WHERE tenant = 'a';
SET ROLE regress_priv_a;
SELECT set_tag_rule('vip', 'gold', 'sum(orders.amount) >= 800');
RESET ROLE;
-- groups of two authors in one tenant are evaluated each as its own author
-- (the superuser's reads a column a may not), by retag() and the triggers
SELECT create_tag_group('hidden', allow_auto => true) > 0 AS created;
SELECT add_tag('hidden', 's1', rule => 'customer.secret = ''s1'' and sum(orders.amount) >= 1000') > 0 AS added;
SELECT g.name, g.rule_owner, count(m.ordinal) AS holders FROM tag_groups g JOIN tags t ON t.group_id = g.id
LEFT JOIN tag_members m ON m.tag_id = t.id WHERE g.tenant = 'a' AND t.rule IS NOT NULL GROUP BY 1, 2 ORDER BY 1;
SELECT * FROM retag() ORDER BY 1;
INSERT INTO pv_orders VALUES (1, 5000, '2024-08-02', NULL, 1), (4, 5000, '2024-08-02', NULL, 1);
SELECT g.name, array_agg(m.ordinal ORDER BY m.ordinal) AS holders FROM tag_groups g JOIN tags t ON t.group_id = g.id
JOIN tag_members m ON m.tag_id = t.id WHERE g.tenant = 'a' AND t.rule IS NOT NULL GROUP BY 1 ORDER BY 1;
-- a may not take over the group: it cannot read what the other rule reads
SET ROLE regress_priv_a;
SELECT add_tag('hidden', 'any', rule => 'exists orders');
RESET ROLE;
DELETE FROM pv_orders WHERE amount = 5000;
SELECT drop_tag_group('hidden');
-- the author's role must exist to run the rule
CREATE ROLE regress_priv_gone;
SELECT grant_tenant('a', 'regress_priv_gone');
GRANT SELECT ON pv_customers, pv_orders TO regress_priv_gone;
SET ROLE regress_priv_gone;
SELECT create_segment('orphan', 'exists orders', refresh => false) > 0 AS created;
RESET ROLE;
REVOKE ALL ON pv_customers, pv_orders FROM regress_priv_gone;
SELECT revoke_usage('regress_priv_gone');
DROP ROLE regress_priv_gone;
SELECT refresh('orphan');
SELECT drop_segment('orphan');

-- import_tags() reads its relation as the owner: only tables the caller
-- may read, without row-level security, and never a work table the
-- caller planted with a trigger of its own
SET ROLE regress_priv_a;
CREATE TEMP VIEW a_import_view AS SELECT * FROM a_import;
SELECT * FROM import_tags('a_import_view');
RESET ROLE;
CREATE TABLE pv_private (customer_key int, label text);
SET ROLE regress_priv_a;
SELECT * FROM import_tags('pv_private');
RESET ROLE;
ALTER TABLE pv_private ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON pv_private TO regress_priv_a;
SET ROLE regress_priv_a;
SELECT * FROM import_tags('pv_private');
CREATE TEMP TABLE _segment_import (n bigint, key text, label text, tag_id integer, ordinal bigint, status text, message text);
CREATE FUNCTION pg_temp.planted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'planted trigger ran as %', current_user;
    RETURN NULL;
END $$;
CREATE TRIGGER planted AFTER TRUNCATE ON pg_temp._segment_import FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.planted();
SELECT * FROM import_tags('a_import');
DROP TABLE pg_temp._segment_import;
SELECT status FROM import_tags('a_import');
DROP VIEW a_import_view;
DROP TABLE a_import;
DROP FUNCTION pg_temp.planted();
RESET ROLE;
DROP TABLE pv_private;

-- a tenant role's pg_cron job is its own, and drop_segment() (run as the
-- owner) removes that job, not one of the owner's
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
RESET client_min_messages;
GRANT USAGE ON SCHEMA cron TO regress_priv_a;
SET ROLE regress_priv_a;
SET segment.tenant = 'a';
SELECT create_segment('nightly', 'exists orders', refresh => false) > 0 AS created;
SELECT schedule_refresh('nightly', '0 3 * * *') > 0 AS scheduled;
SELECT jobname, username FROM cron.job WHERE jobname LIKE 'segment refresh a/%';
SELECT drop_segment('nightly');
SELECT count(*) AS jobs_left FROM cron.job WHERE jobname LIKE 'segment refresh a/%';
RESET ROLE;
REVOKE USAGE ON SCHEMA cron FROM regress_priv_a;
SELECT count(*) AS jobs_left FROM cron.job WHERE jobname LIKE 'segment refresh a/%';

-- tag_log and history are append-only, for the owner too
UPDATE tag_log SET actor = 'someone';
UPDATE history SET error = 'rewritten';
-- the log names the role that acted, not the owner the functions ran as
SELECT action, source, actor, count(*) FROM tag_log WHERE tenant IN ('a', 'b') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- clean up
SET segment.tenant = 'a';
SELECT drop_segment('big'), drop_tag_group('vip');
SELECT purge_contacts('0 days', '2100-01-01');
SET segment.tenant = 'b';
SELECT drop_segment('big');
RESET segment.tenant;
SELECT revoke_usage('regress_priv_a'), revoke_usage('regress_priv_b'), revoke_usage('regress_priv_plain');
SELECT count(*) AS grants_left FROM tenant_roles;
SELECT revoke_usage(NULL);
SELECT grant_usage(NULL);
SELECT grant_usage('regress_priv_nobody');
DELETE FROM history;
DELETE FROM tag_log;
DROP FUNCTION public.pv_try_writes();
REVOKE ALL ON pv_customers, pv_orders FROM regress_priv_a, regress_priv_b, regress_priv_plain;
DROP ROLE regress_priv_a, regress_priv_b, regress_priv_plain;
SELECT unregister_source('orders');
SELECT unregister_customers();
DROP TABLE pv_customers, pv_orders;
