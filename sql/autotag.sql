-- Auto-tagging: value tiers and order-count bands kept current by the
-- statement triggers, as a shop's tagging tool uses them.
SET search_path = segment, public;
SET TimeZone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

CREATE TABLE at_customers (id int PRIMARY KEY, name text, city text);
CREATE TABLE at_orders (id serial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
                        amount numeric, paid_at timestamptz NOT NULL DEFAULT now());
INSERT INTO at_customers SELECT g, '客户' || g, CASE WHEN g % 2 = 0 THEN '上海' ELSE '北京' END FROM generate_series(1, 20) g;
SELECT register_customers('at_customers', 'id');
SELECT register_source('orders', 'at_orders', 'customer_id', 'paid_at');

-- value tiers: auto only, exclusive, first matching value wins
SELECT create_tag_group('价值等级', exclusive => true, allow_manual => false, allow_auto => true) > 0 AS created;
SELECT add_tag('价值等级', '低', rule => 'sum(orders.amount WHERE status = ''paid'') < 300') > 0,
       add_tag('价值等级', '中', rule => 'sum(orders.amount WHERE status = ''paid'') >= 300 AND sum(orders.amount WHERE status = ''paid'') < 2000') > 0,
       add_tag('价值等级', '高', rule => 'sum(orders.amount WHERE status = ''paid'') >= 2000') > 0;
-- a rule tags existing customers at once: nobody has paid, everyone is low
SELECT value, count(*) FROM customer_tags WHERE group_name = '价值等级' GROUP BY 1 ORDER BY 1;
-- the triggers are on the orders table, and on the customer table: 低 (sum < 300)
-- holds for a customer without orders, so a new customer is 低 at once
SELECT tgname FROM pg_trigger WHERE tgrelid = 'at_orders'::regclass ORDER BY 1;
SELECT count(*) AS customer_table_triggers FROM pg_trigger WHERE tgrelid = 'at_customers'::regclass AND tgname LIKE 'segment_autotag%';
INSERT INTO at_customers VALUES (30, '客户30', '上海');
SELECT customer_key, value FROM customer_tags WHERE customer_key = 30;
-- ...and a deleted customer loses its automatic tags
DELETE FROM at_customers WHERE id = 30;
SELECT count(*) AS tags_of_deleted_customer FROM tag_members WHERE ordinal = 30;

-- order-count bands, not exclusive by accident: two bands, exclusive group
SELECT create_tag_group('订单数', exclusive => true, allow_manual => true, allow_auto => true) > 0 AS created;
SELECT add_tag('订单数', '1-3单', rule => 'count(orders WHERE status = ''paid'') BETWEEN 1 AND 3') > 0,
       add_tag('订单数', '4-6单', rule => 'count(orders WHERE status = ''paid'') BETWEEN 4 AND 6') > 0;

-- customer 1 buys: 100, then 250 (crosses 300), then 3 more orders
INSERT INTO at_orders (customer_id, status, amount) VALUES (1, 'paid', 100);
SELECT customer_key, group_name, value, source FROM customer_tags WHERE customer_key = 1 ORDER BY 2;
INSERT INTO at_orders (customer_id, status, amount) VALUES (1, 'paid', 250);
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 1 ORDER BY 2;
INSERT INTO at_orders (customer_id, status, amount) VALUES (1, 'paid', 1000), (1, 'paid', 10), (1, 'paid', 20);
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 1 ORDER BY 2;
-- one big order moves customer 2 from low straight to high
INSERT INTO at_orders (customer_id, status, amount) VALUES (2, 'paid', 5000);
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 2 ORDER BY 2;
-- a refund (UPDATE status) moves customer 2 back to low and out of the bands
UPDATE at_orders SET status = 'refunded' WHERE customer_id = 2;
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 2 ORDER BY 2;
-- deleting orders: customer 1 falls back to 1-3 orders and stays mid
DELETE FROM at_orders WHERE customer_id = 1 AND amount IN (10, 20);
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 1 ORDER BY 2;
DELETE FROM at_orders WHERE customer_id = 1 AND amount = 1000;
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 1 ORDER BY 2;
-- the tag log shows every swap, by rule
SELECT group_name, value, ordinal, action, source, actor FROM tag_log WHERE ordinal IN (1, 2) ORDER BY id;

-- NULL amounts and orders of unknown customers change nothing and break nothing
INSERT INTO at_orders (customer_id, status, amount) VALUES (3, 'paid', NULL), (999, 'paid', 50), (-5, 'paid', 1);
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 3 ORDER BY 2;

-- manual tags: a manual value in an exclusive group is kept, never replaced or removed by rules
SELECT tag_customer('订单数', '4-6单', 4);
INSERT INTO at_orders (customer_id, status, amount) VALUES (4, 'paid', 10);
SELECT customer_key, group_name, value, source FROM customer_tags WHERE customer_key = 4 ORDER BY 2;
-- ...and manual tagging of an auto-only group is refused
SELECT tag_customer('价值等级', '高', 4);

-- one statement, many customers: 2000 orders for customers 5..20
INSERT INTO at_orders (customer_id, status, amount)
SELECT 5 + g % 16, CASE WHEN g % 10 = 0 THEN 'refunded' ELSE 'paid' END, (g % 7) * 40 FROM generate_series(1, 2000) g;
SELECT value, count(*) FROM customer_tags WHERE group_name = '价值等级' GROUP BY 1 ORDER BY 1;
-- consistency: a full retag finds nothing to change
SELECT * FROM retag() ORDER BY 1;

-- the same customers by hand: tiers equal what the rules say
SELECT count(*) AS mismatches FROM at_customers c
LEFT JOIN (SELECT customer_id, sum(amount) AS s FROM at_orders WHERE status = 'paid' GROUP BY 1) o ON o.customer_id = c.id
LEFT JOIN customer_tags t ON t.customer_key = c.id AND t.group_name = '价值等级'
WHERE t.value IS DISTINCT FROM CASE WHEN coalesce(o.s, 0) < 300 THEN '低' WHEN o.s < 2000 THEN '中' ELSE '高' END;

-- rules on tags: a group reading another group's tags follows it in the same statement
SELECT create_tag_group('vip', allow_auto => true) > 0 AS created;
SELECT add_tag('vip', 'yes', rule => 'TAG ''价值等级'' IN (''高'') AND customer.city = ''上海''') > 0;
SELECT count(*) AS vip FROM customer_tags WHERE group_name = 'vip';
INSERT INTO at_orders (customer_id, status, amount) VALUES (2, 'paid', 3000);
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 2 ORDER BY 2;
-- the customer table is watched now (the vip rule reads customer.city)
UPDATE at_customers SET city = '北京' WHERE id = 2;
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 2 ORDER BY 2;
SELECT count(*) AS customer_table_triggers FROM pg_trigger WHERE tgrelid = 'at_customers'::regclass AND tgname LIKE 'segment_autotag%';

-- rule changes re-tag at once and report what changed; manual tags survive
SELECT * FROM set_tag_rule('订单数', '1-3单', 'count(orders WHERE status = ''paid'') BETWEEN 2 AND 3');
SELECT customer_key, value FROM customer_tags WHERE group_name = '订单数' ORDER BY 1;
SELECT customer_key, group_name, value, source FROM customer_tags WHERE customer_key = 4 ORDER BY 2;
-- auto_remove = false: the rule only adds
SELECT create_tag_group('ever_bought', allow_auto => true) > 0,
       add_tag('ever_bought', 'yes', auto_remove => false, rule => 'EXISTS orders WHERE status = ''paid''') > 0;
SELECT count(*) FROM customer_tags WHERE group_name = 'ever_bought';
UPDATE at_orders SET status = 'refunded' WHERE customer_id = 3;
DELETE FROM at_orders WHERE customer_id = 3;
SELECT count(*) FILTER (WHERE customer_key = 3) AS still_tagged FROM customer_tags WHERE group_name = 'ever_bought';

-- disabled groups keep their customers' tags and stop changing
SELECT set_tag_group_enabled('订单数', false);
INSERT INTO at_orders (customer_id, status, amount) VALUES (6, 'paid', 1), (6, 'paid', 1), (6, 'paid', 1);
SELECT count(*) AS bands_kept FROM tag_members m JOIN tags t ON t.id = m.tag_id JOIN tag_groups g ON g.id = t.group_id WHERE g.name = '订单数';
SELECT set_tag_group_enabled('订单数', true);

-- errors
SELECT add_tag('vip', 'no', rule => 'EXISTS nosuch');
SELECT add_tag('vip', 'no2', rule => 'sum(orders.nosuch) > 1');
SELECT create_tag_group('manual_only') > 0;
SELECT add_tag('manual_only', 'x', rule => 'EXISTS orders');
SELECT set_tag_rule('价值等级', '低', 'TAG ''vip'' IS EMPTY');
SELECT set_tag_rule('vip', 'yes', 'TAG ''vip'' IS NOT EMPTY');
SELECT set_tag_rule('nosuch', 'x', 'EXISTS orders');
SELECT set_tag_rule('vip', 'nosuch', 'EXISTS orders');
SELECT retag('nosuch');
SELECT unregister_source('orders');
SELECT watch('nosuch', 'at_orders', 'customer_id');
SELECT watch('orders', 'at_orders', 'nosuch');

-- a view source needs watch() for real time
CREATE TABLE at_clicks (customer_id int, kind text, at timestamptz DEFAULT now());
CREATE VIEW at_coupon_clicks AS SELECT customer_id, at FROM at_clicks WHERE kind = 'coupon';
SELECT register_source('coupon_clicks', 'at_coupon_clicks', 'customer_id', 'at');
SELECT create_tag_group('clicked', allow_auto => true) > 0, add_tag('clicked', 'coupon', rule => 'EXISTS coupon_clicks') > 0;
INSERT INTO at_clicks VALUES (7, 'coupon');
SELECT count(*) AS tagged_without_watch FROM customer_tags WHERE group_name = 'clicked';
SELECT watch('coupon_clicks', 'at_clicks', 'customer_id');
INSERT INTO at_clicks VALUES (8, 'coupon'), (9, 'other');
SELECT customer_key FROM customer_tags WHERE group_name = 'clicked' ORDER BY 1;
SELECT * FROM retag('clicked');
SELECT customer_key FROM customer_tags WHERE group_name = 'clicked' ORDER BY 1;
SELECT unwatch('coupon_clicks', 'at_clicks'), unwatch('coupon_clicks', 'at_clicks');

-- pg_cron: nightly re-tagging
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT schedule_retag('0 2 * * *') > 0 AS scheduled;
SELECT jobname, schedule, command FROM cron.job WHERE jobname LIKE 'segment retag%';
SELECT unschedule_retag(), unschedule_retag(missing_ok => true);
SELECT unschedule_retag();

-- each backend caches the groups and prepared queries; a rule change,
-- also one rolled back, is seen by the very next statement (new customers
-- 21..25 without orders)
INSERT INTO at_customers SELECT g, '客户' || g, '北京' FROM generate_series(21, 25) g;
BEGIN;
SELECT * FROM set_tag_rule('价值等级', '高', 'sum(orders.amount WHERE status = ''paid'') >= 5000');
INSERT INTO at_orders (customer_id, status, amount) VALUES (21, 'paid', 3000);
SELECT count(*) AS tiers_under_new_rule FROM customer_tags WHERE customer_key = 21 AND group_name = '价值等级';
ROLLBACK;
INSERT INTO at_orders (customer_id, status, amount) VALUES (21, 'paid', 3000);
SELECT value AS under_old_rule FROM customer_tags WHERE customer_key = 21 AND group_name = '价值等级';
-- a value disabled and enabled again, in the same session
SELECT set_tag_enabled('价值等级', '高', false);
INSERT INTO at_orders (customer_id, status, amount) VALUES (22, 'paid', 3000);
SELECT count(*) AS tiers_while_disabled FROM tag_members m JOIN tags t ON t.id = m.tag_id JOIN tag_groups g ON g.id = t.group_id
WHERE g.name = '价值等级' AND m.ordinal = 22;
SELECT set_tag_enabled('价值等级', '高', true);
INSERT INTO at_orders (customer_id, status, amount) VALUES (22, 'paid', 1);
SELECT value AS enabled_again FROM customer_tags WHERE customer_key = 22 AND group_name = '价值等级';

-- another time zone (as after midnight: another local date) compiles the
-- cached queries again
SET segment.timezone = 'America/New_York';
INSERT INTO at_orders (customer_id, status, amount) VALUES (22, 'paid', 1);
SELECT value AS in_new_york FROM customer_tags WHERE customer_key = 22 AND group_name = '价值等级';
RESET segment.timezone;
INSERT INTO at_orders (customer_id, status, amount) VALUES (22, 'paid', -3000);
SELECT value AS back_home FROM customer_tags WHERE customer_key = 22 AND group_name = '价值等级';

-- rules reading the clock (hour windows) are compiled for each statement
SELECT create_tag_group('just_bought', allow_auto => true) > 0,
       add_tag('just_bought', 'within an hour', rule => 'EXISTS orders WHERE status = ''paid'' DURING LAST 1 hour') > 0;
INSERT INTO at_orders (customer_id, status, amount, paid_at) VALUES (23, 'paid', 5, now() - interval '2 hours');
INSERT INTO at_orders (customer_id, status, amount) VALUES (24, 'paid', 5);
INSERT INTO at_orders (customer_id, status, amount, paid_at) VALUES (25, 'paid', 5, now() - interval '59 minutes');
SELECT customer_key FROM customer_tags WHERE group_name = 'just_bought' AND customer_key IN (23, 24, 25) ORDER BY 1;

-- the trigger function refuses to run as anything but a statement trigger
CREATE TABLE at_wrong (customer_id int);
CREATE TRIGGER wrong AFTER INSERT ON at_wrong FOR EACH ROW EXECUTE FUNCTION _autotag_trigger();
INSERT INTO at_wrong VALUES (1);
DROP TABLE at_wrong;
SELECT _autotag_catalog_changed();

-- dropping the rules removes the triggers
SELECT drop_tag_group('clicked'), drop_tag_group('just_bought'), drop_tag_group('vip'), drop_tag_group('ever_bought'), drop_tag_group('价值等级'),
       drop_tag_group('订单数'), drop_tag_group('manual_only');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'segment_autotag%';
SELECT count(*) AS watched FROM autotag_triggers;

DELETE FROM tag_log;
SELECT setval('tag_groups_id_seq', 1, false), setval('tags_id_seq', 1, false);
SELECT unregister_source('coupon_clicks'), unregister_source('orders');
SELECT unregister_customers();
DROP VIEW at_coupon_clicks;
DROP TABLE at_customers, at_orders, at_clicks;

-- customers with text keys and a tenant column: the trigger maps the
-- statement's keys to ordinals through the dictionary, then splits them by
-- tenant (here the city); only 上海 has a visitor group
CREATE TABLE at_members (code text PRIMARY KEY, city text);
CREATE TABLE at_visits (member_code text NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE at_points (member_id bigint, points int, at timestamptz NOT NULL DEFAULT now());
INSERT INTO at_members VALUES ('m-一', '上海'), ('m-二', '北京'), ('m-三', '上海');
SELECT register_customers('at_members', 'code', tenant_column => 'city');
SELECT register_source('visits', 'at_visits', 'member_code', 'at');
SET segment.tenant = '上海';
SELECT create_tag_group('visitor', allow_auto => true) > 0, add_tag('visitor', 'yes', rule => 'EXISTS visits') > 0;
RESET segment.tenant;
INSERT INTO at_visits (member_code) VALUES ('m-二'), ('m-二'), ('m-一'), ('nobody');
SET segment.tenant = '上海';
SELECT customer_key, value FROM customer_tags WHERE group_name = 'visitor';
UPDATE at_visits SET member_code = 'm-三' WHERE member_code IN ('m-一', 'm-二');
SELECT customer_key, value FROM customer_tags WHERE group_name = 'visitor';
DELETE FROM at_visits;
SELECT count(*) AS visitors_left FROM customer_tags WHERE group_name = 'visitor';
SELECT drop_tag_group('visitor');
RESET segment.tenant;
SELECT unregister_source('visits');
SELECT unregister_customers();

-- integer keys, bigint customer column in the source: read from the rows directly
CREATE TABLE at_people (id int PRIMARY KEY);
INSERT INTO at_people SELECT generate_series(1, 5);
SELECT register_customers('at_people', 'id');
SELECT register_source('points', 'at_points', 'member_id', 'at');
SELECT create_tag_group('points', exclusive => true, allow_auto => true) > 0,
       add_tag('points', 'many', rule => 'sum(points.points) >= 100') > 0,
       add_tag('points', 'some', rule => 'sum(points.points) > 0') > 0;
INSERT INTO at_points VALUES (2, 50), (3, 150), (9999999999, 1), (-1, 5), (NULL, 7);
SELECT customer_key, value FROM customer_tags WHERE group_name = 'points' ORDER BY 1;
UPDATE at_points SET points = 60 WHERE member_id = 2;
INSERT INTO at_points (member_id, points) VALUES (2, 60);
SELECT customer_key, value FROM customer_tags WHERE group_name = 'points' ORDER BY 1;
SELECT * FROM retag('points');
-- TRUNCATE leaves no rows to read: every group reading the table is
-- evaluated for everyone (and the automatic tags go)
TRUNCATE at_points;
SELECT count(*) AS points_tags_after_truncate FROM customer_tags WHERE group_name = 'points';
SELECT group_name, value, ordinal, action, source FROM tag_log WHERE group_name = 'points' AND action = 'remove' ORDER BY id;
SELECT drop_tag_group('points');
SELECT unregister_source('points');
SELECT unregister_customers();
DELETE FROM tag_log;
SELECT setval('tag_groups_id_seq', 1, false), setval('tags_id_seq', 1, false);
DROP TABLE at_members, at_visits, at_points, at_people;
