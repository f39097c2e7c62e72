-- The zone of calendar days is stored with the registration (per tenant
-- where there are tenants) and used by every caller; segment.timezone
-- overrides it explicitly.  Time literals in rules are read in that zone,
-- whatever the session's TimeZone.
SET search_path = segment, public;
\set SHOW_CONTEXT never

-- before any registration
SET TimeZone = 'UTC';
SELECT time_zone(), registered_time_zone() IS NULL AS none;
SELECT set_time_zone('Asia/Shanghai');

CREATE TABLE tz_customers (id int PRIMARY KEY, followed_at timestamptz, shop text);
CREATE TABLE tz_orders (customer_id int, status text, paid_at timestamptz);
-- customer i followed and paid at 2024-02-10 10:00 UTC + i hours: 10:00 UTC
-- .. 07:00 UTC next day, so the Shanghai day 2024-02-11 starts at customer 6
INSERT INTO tz_customers SELECT g, timestamptz '2024-02-10 10:00+00' + g * interval '1 hour', CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END
FROM generate_series(1, 20) g;
INSERT INTO tz_orders SELECT g, 'paid', timestamptz '2024-02-10 10:00+00' + g * interval '1 hour' FROM generate_series(1, 20) g;
-- registered from an Asia/Shanghai session: its zone is recorded
SET TimeZone = 'Asia/Shanghai';
SELECT register_customers('tz_customers', 'id');
SELECT register_source('orders', 'tz_orders', 'customer_id', 'paid_at');
SELECT time_zone FROM customer_registry;

-- the same rules give the same members in sessions of any TimeZone
CREATE TABLE tz_rules (n int, rule text);
INSERT INTO tz_rules VALUES
  (1, 'customer.followed_at < ''2024-02-11'''),
  (2, 'EXISTS orders WHERE paid_at >= ''2024-02-11'' AND paid_at < ''2024-02-12'''),
  (3, 'min(orders.paid_at) > ''2024-02-11 03:00'''),
  (4, 'EXISTS orders DURING BETWEEN ''2024-02-11'' AND ''2024-02-11'''),
  (5, 'count(orders WHERE status = ''paid'' AND paid_at BETWEEN ''2024-02-11'' AND ''2024-02-11 02:00'') >= 1'),
  (6, 'EXISTS orders DURING TODAY'),
  (7, 'NOT customer.followed_at IN (''2024-02-11'')');
CREATE TABLE tz_results (zone text, n int, members text);
SET TimeZone = 'UTC';
INSERT INTO tz_results SELECT 'UTC', n, evaluate(rule::segment_rule, '2024-02-11 12:00+08')::text FROM tz_rules;
SET TimeZone = 'Asia/Shanghai';
INSERT INTO tz_results SELECT 'Asia/Shanghai', n, evaluate(rule::segment_rule, '2024-02-11 12:00+08')::text FROM tz_rules;
SET TimeZone = 'America/New_York';
INSERT INTO tz_results SELECT 'America/New_York', n, evaluate(rule::segment_rule, '2024-02-11 12:00+08')::text FROM tz_rules;
SELECT n, count(DISTINCT members) AS distinct_results, min(members) AS members FROM tz_results GROUP BY n ORDER BY n;
-- compile() shows the instants the literals resolved to (Shanghai midnight = 16:00 UTC)
SELECT (regexp_matches(compile('EXISTS orders WHERE paid_at >= ''2024-02-11''', '2024-02-11 12:00+08'),
                       '''(2024-02-1[01] [0-9:.]+\+00)''', 'g'))[1] AS resolved;
SELECT (regexp_matches(compile('customer.followed_at < ''2024-02-11''', '2024-02-11 12:00+08'),
                       '''(2024-02-1[01] [0-9:.]+\+00)''', 'g'))[1] AS resolved;

-- segment.timezone overrides the registered zone explicitly
SET segment.timezone = 'UTC';
SELECT time_zone(), evaluate('customer.followed_at < ''2024-02-11''', '2024-02-11 12:00+08') AS utc_days;
RESET segment.timezone;
-- an unknown zone is refused when set, not when a rule runs later
SET segment.timezone = 'Nowhere/Land';
SHOW segment.timezone;
SELECT time_zone(), evaluate('customer.followed_at < ''2024-02-11''', '2024-02-11 12:00+08') AS shanghai_days;
-- windows: resolve_window uses the registered zone too; a window starting
-- after as_of is empty, not an error
SET TimeZone = 'UTC';
SELECT resolve_window('TODAY', '2024-02-11 12:00+08');
SELECT resolve_window('since ''2024-08-11''', '2024-08-09 11:00+08');
SELECT evaluate('EXISTS orders DURING SINCE ''2099-01-01''') AS future;

-- contact days are the registered zone's: 2024-02-10 20:00 UTC is the 11th in Shanghai
SELECT record_contact('{1,2}', 'sms', '2024-02-10 20:00+00');
SELECT day, members FROM contacts WHERE channel = 'sms';
SELECT contactable('{1,2,3}', 'sms', '0 days', 1, '2024-02-11 23:00+08') AS capped_on_the_11th;

-- auto-tagging and retag use it: a TODAY rule tagged from a UTC session
SELECT create_tag_group('today', allow_auto => true) > 0,
       add_tag('today', 'ordered', 'EXISTS orders WHERE paid_at >= ''2024-02-11'' AND paid_at < ''2024-02-12''') > 0;
SELECT count(*) AS tagged FROM customer_tags WHERE group_name = 'today';
INSERT INTO tz_orders VALUES (1, 'paid', '2024-02-10 17:00+00');   -- Shanghai 2024-02-11 01:00
INSERT INTO tz_orders VALUES (2, 'paid', '2024-02-10 15:00+00');   -- Shanghai 2024-02-10 23:00
SELECT customer_key FROM customer_tags WHERE group_name = 'today' AND customer_key IN (1, 2);
SELECT * FROM retag('today');
SELECT drop_tag_group('today');

-- saved segments: the same members refreshed from any session
SELECT create_segment('the 11th', 'EXISTS orders WHERE paid_at >= ''2024-02-11'' AND paid_at < ''2024-02-12''') > 0;
SELECT member_count FROM segments WHERE name = 'the 11th';
SET TimeZone = 'America/Los_Angeles';
SELECT refresh('the 11th');
-- the pg_cron command carries the tenant, and the zone only when overridden
SELECT refresh_command('the 11th'), retag_command();
SELECT schedule_refresh_command('the 11th', '0 3 * * *');
SET segment.timezone = 'Europe/Berlin';
SELECT refresh_command('the 11th');
SELECT schedule_refresh_command('the 11th', '0 3 * * *');
SELECT schedule_retag_command('0 2 * * *');
RESET segment.timezone;
SELECT refresh_command('nosuch');
SELECT unschedule_refresh_command('the 11th');
SELECT schedule_refresh_command('the 11th', '');
SELECT schedule_refresh_command('nosuch', '0 3 * * *');
SELECT drop_segment('the 11th');

-- bad zones
SELECT set_time_zone('Mars/Olympus_Mons');
SELECT set_time_zone('');
SELECT set_time_zone(NULL);
SELECT set_time_zone('UTC');
SELECT time_zone();
SELECT set_time_zone('Asia/Shanghai');

-- per tenant: each tenant's own zone, else the registration's
SELECT unregister_source('orders'), unregister_customers();
SET TimeZone = 'UTC';
SELECT register_customers('tz_customers', 'id', tenant_column => 'shop');
SELECT time_zone FROM customer_registry;
SET segment.tenant = 'a';
SELECT set_time_zone('Asia/Shanghai');
SET segment.tenant = 'b';
SELECT time_zone();
SELECT set_time_zone('America/New_York');
SELECT tenant, time_zone FROM tenant_settings ORDER BY 1;
SET segment.tenant = 'a';
SELECT time_zone(), resolve_window('TODAY', '2024-02-11 12:00+08');
SET segment.tenant = 'b';
SELECT time_zone(), resolve_window('TODAY', '2024-02-11 12:00+08');
SELECT set_time_zone(NULL);
SELECT time_zone();
SELECT tenant, time_zone FROM tenant_settings ORDER BY 1;
RESET segment.tenant;
-- a tenant's role sets its own zone, not another tenant's
CREATE ROLE tz_shop_a;
SELECT grant_tenant('a', 'tz_shop_a');
SET ROLE tz_shop_a;
SET segment.tenant = 'a';
SELECT set_time_zone('Asia/Tokyo');
SELECT time_zone();
SELECT tenant, time_zone FROM tenant_settings ORDER BY 1;
SET segment.tenant = 'b';
SELECT set_time_zone('Europe/Paris');
RESET ROLE;
RESET segment.tenant;
SELECT tenant, time_zone FROM tenant_settings ORDER BY 1;
SELECT revoke_tenant('a', 'tz_shop_a');
DROP OWNED BY tz_shop_a;
DROP ROLE tz_shop_a;

SELECT unregister_customers();
DELETE FROM tenant_settings;
DELETE FROM contacts;
DELETE FROM tag_log;
SELECT setval('tag_groups_id_seq', 1, false), setval('tags_id_seq', 1, false);
DROP TABLE tz_customers, tz_orders, tz_rules, tz_results;
