-- Schema changes under registrations and rules: refused like changes under
-- a view, naming the dependents; and the failure policy of auto-tagging:
-- the application's statement always goes through, the group goes stale.
SET search_path = segment, public;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

CREATE TABLE dp_customers (id int PRIMARY KEY, city text, note text);
CREATE TABLE dp_orders (customer_id int, status text, amount numeric, paid_at timestamptz DEFAULT now(), extra text);
CREATE TABLE dp_clicks (member int, at timestamptz DEFAULT now());
CREATE VIEW dp_clicks_v AS SELECT member AS customer_id, at FROM dp_clicks;
CREATE TABLE dp_unrelated (x int);
INSERT INTO dp_customers SELECT g, CASE WHEN g % 2 = 0 THEN '上海' ELSE '北京' END FROM generate_series(1, 10) g;
SELECT register_customers('dp_customers', 'id');
SELECT register_source('orders', 'dp_orders', 'customer_id', 'paid_at');
SELECT register_source('clicks', 'dp_clicks_v', 'customer_id', 'at');
SELECT watch('clicks', 'dp_clicks', 'member');
SELECT create_tag_group('价值', exclusive => true, allow_auto => true) > 0 AS created;
-- the rule is add_tag's third parameter
SELECT add_tag('价值', '低价值', 'sum(orders.amount WHERE status = ''paid'') < 300') > 0,
       add_tag('价值', '高价值', 'sum(orders.amount WHERE status = ''paid'') >= 300', false) > 0;
SELECT value, auto_remove FROM tags ORDER BY position;
SELECT create_tag_group('big', allow_auto => true) > 0, add_tag('big', 'yes', 'max(orders.amount) >= 1000') > 0;
SELECT create_tag_group('clicker', allow_auto => true) > 0, add_tag('clicker', 'yes', 'EXISTS clicks') > 0;
SELECT create_segment('上海 buyers', 'EXISTS orders AND customer.city = ''上海''') > 0;

-- registrations: the tables, the view and the columns they name
DROP TABLE dp_orders;
DROP TABLE dp_customers;
DROP VIEW dp_clicks_v;
DROP TABLE dp_clicks CASCADE;
ALTER TABLE dp_orders DROP COLUMN paid_at;
ALTER TABLE dp_orders DROP COLUMN customer_id;
ALTER TABLE dp_orders RENAME COLUMN paid_at TO paid_on;
ALTER TABLE dp_orders ALTER COLUMN paid_at TYPE text;
ALTER TABLE dp_customers ALTER COLUMN id TYPE bigint;
ALTER TABLE dp_clicks RENAME COLUMN member TO member_id;
CREATE OR REPLACE VIEW dp_clicks_v AS SELECT member AS customer_id, at, 1 AS one FROM dp_clicks;
-- rules: the columns they read, with the types their literals need
ALTER TABLE dp_orders DROP COLUMN status;
ALTER TABLE dp_orders ALTER COLUMN status TYPE integer USING 0;
ALTER TABLE dp_orders RENAME COLUMN amount TO total;
ALTER TABLE dp_customers DROP COLUMN city;
-- two drops in one statement: refused as a whole
ALTER TABLE dp_orders DROP COLUMN extra, DROP COLUMN status;
SELECT attname FROM pg_attribute WHERE attrelid = 'dp_orders'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
-- changes nothing depends on go through
ALTER TABLE dp_orders ALTER COLUMN status TYPE varchar(20);
ALTER TABLE dp_orders ALTER COLUMN amount TYPE integer;
ALTER TABLE dp_orders ADD COLUMN coupon text;
ALTER TABLE dp_orders DROP COLUMN extra;
ALTER TABLE dp_customers DROP COLUMN note;
ALTER TABLE dp_customers RENAME TO dp_clients;
ALTER TABLE dp_clients RENAME TO dp_customers;
DROP TABLE dp_unrelated;
CREATE OR REPLACE VIEW dp_clicks_v AS SELECT member AS customer_id, at, 2 AS one FROM dp_clicks WHERE member > 0;
-- the application's writes still tag
INSERT INTO dp_orders (customer_id, status, amount) VALUES (1, 'paid', 400), (2, 'paid', 1500);
INSERT INTO dp_clicks (member) VALUES (3);
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key <= 3 ORDER BY 1, 2;
SELECT refresh('上海 buyers');

-- the failure policy: with the check off (a superuser's escape hatch), a
-- rename breaks the tier rules; inserts still succeed, with a WARNING, the
-- tier group goes stale, and the group that still works keeps tagging
ALTER EVENT TRIGGER segment_dependencies_alter DISABLE;
ALTER TABLE dp_orders RENAME COLUMN status TO state;
ALTER EVENT TRIGGER segment_dependencies_alter ENABLE;
INSERT INTO dp_orders (customer_id, state, amount) VALUES (4, 'paid', 2000);
SELECT group_name, relation, error FROM stale_tag_groups;
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 4 ORDER BY 2;
-- a stale group is skipped (no WARNING each time) until retag() repairs it
INSERT INTO dp_orders (customer_id, state, amount) VALUES (5, 'paid', 350);
UPDATE dp_orders SET amount = amount + 1 WHERE customer_id = 1;
DELETE FROM dp_orders WHERE customer_id = 5;
SELECT count(*) AS orders FROM dp_orders;
SELECT * FROM retag('价值');
SELECT group_name FROM stale_tag_groups;
ALTER EVENT TRIGGER segment_dependencies_alter DISABLE;
ALTER TABLE dp_orders RENAME COLUMN state TO status;
ALTER EVENT TRIGGER segment_dependencies_alter ENABLE;
SELECT * FROM retag('价值');
SELECT group_name FROM stale_tag_groups;
SELECT customer_key, value FROM customer_tags WHERE group_name = '价值' AND customer_key <= 5 ORDER BY 1;
-- a failing TRUNCATE trigger is absorbed the same way
ALTER EVENT TRIGGER segment_dependencies_alter DISABLE;
ALTER TABLE dp_orders RENAME COLUMN amount TO total;
ALTER EVENT TRIGGER segment_dependencies_alter ENABLE;
TRUNCATE dp_orders;
SELECT group_name, error FROM stale_tag_groups ORDER BY 1;
ALTER EVENT TRIGGER segment_dependencies_alter DISABLE;
ALTER TABLE dp_orders RENAME COLUMN total TO amount;
ALTER EVENT TRIGGER segment_dependencies_alter ENABLE;
SELECT tag_group, added, removed FROM retag() ORDER BY 1;
SELECT count(*) AS stale FROM stale_tag_groups;
-- dropping a stale group drops its mark
ALTER EVENT TRIGGER segment_dependencies_alter DISABLE;
ALTER TABLE dp_orders RENAME COLUMN amount TO total;
ALTER EVENT TRIGGER segment_dependencies_alter ENABLE;
INSERT INTO dp_orders (customer_id, status, total) VALUES (6, 'paid', 1);
SELECT drop_tag_group('big');
SELECT group_name FROM stale_tag_groups ORDER BY 1;
SELECT count(*) FROM tag_group_errors;
ALTER EVENT TRIGGER segment_dependencies_alter DISABLE;
ALTER TABLE dp_orders RENAME COLUMN total TO amount;
ALTER EVENT TRIGGER segment_dependencies_alter ENABLE;
SELECT count(*) > 0 AS repaired FROM retag('价值');

-- unregistered in the right order, everything can go
SELECT drop_segment('上海 buyers');
SELECT drop_tag_group('价值'), drop_tag_group('clicker');
SELECT unwatch('clicks', 'dp_clicks');
SELECT unregister_source('clicks');
DROP VIEW dp_clicks_v;
SELECT unregister_source('orders');
SELECT unregister_customers();
DROP TABLE dp_orders, dp_clicks, dp_customers;
DELETE FROM tag_log;
SELECT setval('tag_groups_id_seq', 1, false), setval('tags_id_seq', 1, false);
