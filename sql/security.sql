-- search_path hijacking, as in PostgreSQL's contrib/seg/sql/security.sql:
-- an application role puts its own operators and functions, shadowing built-in
-- and segment ones, in a schema ahead of pg_catalog and calls the segment
-- functions.  Its objects may run as itself, never with the rights of the
-- extension owner (the functions that write the catalogs run as it).
SET search_path = segment, public;
\set SHOW_CONTEXT never

CREATE TABLE public.sx_customers (id int PRIMARY KEY, name text);
CREATE TABLE public.sx_orders (customer_id int, amount numeric, paid_at timestamptz);
INSERT INTO sx_customers SELECT g, 'c' || g FROM generate_series(1, 10) g;
INSERT INTO sx_orders SELECT g, 100 * g, '2024-08-01' FROM generate_series(1, 10) g;
SELECT register_customers('sx_customers', 'id');
SELECT register_source('orders', 'sx_orders', 'customer_id', 'paid_at');
CREATE ROLE regress_sx_app;
GRANT SELECT (id), INSERT ON sx_customers TO regress_sx_app;
GRANT SELECT, INSERT ON sx_orders TO regress_sx_app;
SELECT grant_usage('regress_sx_app');      -- no tenant column: no tenant to grant
-- the views a re-registration rebuilds stay readable by the role
SELECT register_customers('sx_customers', 'id');
SELECT has_table_privilege('regress_sx_app', 'segment.membership', 'SELECT') AS membership_readable,
       has_table_privilege('regress_sx_app', 'segment.customer_tags', 'SELECT') AS customer_tags_readable;
CREATE SCHEMA regress_sx_evil AUTHORIZATION regress_sx_app;

SET ROLE regress_sx_app;
-- every call of the impostors is recorded with the role it ran as
CREATE TABLE regress_sx_evil.calls (what text, who name);
GRANT INSERT ON regress_sx_evil.calls TO PUBLIC;
CREATE FUNCTION regress_sx_evil.note(what text) RETURNS void LANGUAGE sql AS
$$ INSERT INTO regress_sx_evil.calls VALUES (what, current_user) $$;
-- operators on text, integers and audiences, and functions the segment
-- code calls unqualified; each behaves like the original, so nothing fails
CREATE FUNCTION regress_sx_evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('text ='); RETURN pg_catalog.texteq($1, $2); END $$;
CREATE OPERATOR regress_sx_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_sx_evil.text_eq);
CREATE FUNCTION regress_sx_evil.int_eq(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('int ='); RETURN pg_catalog.int4eq($1, $2); END $$;
CREATE OPERATOR regress_sx_evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = regress_sx_evil.int_eq);
CREATE FUNCTION regress_sx_evil.aud_minus(audience, audience) RETURNS audience LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('audience -'); RETURN segment.audience_except($1, $2); END $$;
CREATE OPERATOR regress_sx_evil.- (LEFTARG = audience, RIGHTARG = audience, FUNCTION = regress_sx_evil.aud_minus);
CREATE FUNCTION regress_sx_evil.quote_ident(text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('quote_ident'); RETURN pg_catalog.quote_ident($1); END $$;
CREATE FUNCTION regress_sx_evil.btrim(text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('btrim'); RETURN pg_catalog.btrim($1); END $$;
CREATE FUNCTION regress_sx_evil.current_setting(text, boolean) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('current_setting'); RETURN pg_catalog.current_setting($1, $2); END $$;
CREATE FUNCTION regress_sx_evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION regress_sx_evil.cardinality(audience) RETURNS bigint LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('cardinality'); RETURN segment.cardinality($1); END $$;
CREATE FUNCTION regress_sx_evil.rule_refs(segment_rule) RETURNS text[] LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('rule_refs'); RETURN segment.rule_refs($1); END $$;
CREATE FUNCTION regress_sx_evil.pg_get_userbyid(oid) RETURNS name LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('pg_get_userbyid'); RETURN pg_catalog.pg_get_userbyid($1); END $$;
CREATE FUNCTION regress_sx_evil.has_column_privilege(regrole, regclass, name, text) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN PERFORM regress_sx_evil.note('has_column_privilege'); RETURN true; END $$;
-- a work table of import_tags() planted ahead, and a temporary impostor
-- of a catalog table
CREATE TEMP TABLE sx_labels (customer_key int, label text);
INSERT INTO sx_labels VALUES (2, 'tier-gold');
CREATE TEMP TABLE customer_registry (x int);

-- the impostors first, pg_catalog after them
SET search_path = regress_sx_evil, pg_catalog, segment, public;
SELECT create_segment('big', 'sum(orders.amount) >= 500') > 0 AS created;
SELECT alter_segment('big', rule => 'sum(orders.amount) >= 600');
SET client_min_messages = warning;
SELECT refresh('big'), (SELECT count(*) FROM refresh_all());
RESET client_min_messages;
SELECT is_member('big', 7), (SELECT count(*) FROM changes('big'));
SELECT create_tag_group('tier', allow_auto => true) > 0 AS created;
SELECT add_tag('tier', 'gold', rule => 'sum(orders.amount) >= 800') > 0 AS added;
SELECT add_tag('tier', 'hand') > 0 AS added;
SELECT tag_customer('tier', 'hand', 1), untag_customer('tier', 'hand', 1);
SELECT status FROM import_tags('sx_labels');
SELECT * FROM set_tag_rule('tier', 'gold', 'sum(orders.amount) >= 900');
SELECT * FROM retag();
INSERT INTO sx_orders VALUES (3, 1000, '2024-08-02');       -- the auto-tagging trigger
SELECT move_tag('tier', 'gold', 2), rename_tag('tier', 'hand', 'by hand'), set_tag_enabled('tier', 'by hand', true);
SELECT record_contact('{1,2}', 'sms', '2024-08-01 10:00');
SELECT cardinality(contactable('{1-5}', 'sms', '1 day', 1, '2024-08-01 12:00'));
SELECT purge_contacts('0 days', '2100-01-01');
SELECT cardinality(evaluate('sum(orders.amount) >= 500')), estimate('EXISTS orders');
SELECT drop_tag('tier', 'by hand'), drop_tag_group('tier'), drop_segment('big');
-- a rule checked with the impostor has_column_privilege() is still refused
SELECT create_segment('peek', 'customer.name = ''c1''');
RESET search_path;
SET search_path = segment, public;

-- some impostors ran (as the caller, from the functions that run as it);
-- none ran as anyone else
SELECT who = 'regress_sx_app' AS as_caller, count(*) > 0 AS some_calls FROM regress_sx_evil.calls GROUP BY 1;
RESET ROLE;
SELECT count(*) AS calls_as_owner FROM regress_sx_evil.calls WHERE who <> 'regress_sx_app';

-- clean up
DROP SCHEMA regress_sx_evil CASCADE;
SELECT revoke_usage('regress_sx_app');
REVOKE ALL ON sx_customers, sx_orders FROM regress_sx_app;
DROP TABLE pg_temp.sx_labels, pg_temp.customer_registry;
DROP ROLE regress_sx_app;
SELECT unregister_source('orders');
SELECT unregister_customers();
DROP TABLE sx_customers, sx_orders;
