-- Registering the customer table and event sources.
SET search_path = segment, public;
\set SHOW_CONTEXT never

CREATE TABLE shop_customers (id integer PRIMARY KEY, name text, age int, tenant text, joined timestamptz, prefs json);
CREATE TABLE shop_orders (id serial, customer_id integer, amount numeric, status text, paid_at timestamptz);
CREATE TABLE shop_events (customer_id bigint, kind text, at date);
CREATE VIEW paid_orders AS SELECT * FROM shop_orders WHERE status = 'paid';
CREATE SEQUENCE not_a_table;

-- sources need a customer table first
SELECT register_source('orders', 'shop_orders', 'customer_id', 'paid_at');

-- bad customer registrations
SELECT register_customers('no_such_table', 'id');
SELECT register_customers('not_a_table', 'id');
SELECT register_customers('shop_customers', 'nope');
SELECT register_customers('shop_customers', NULL);
SELECT register_customers('shop_customers', 'prefs');
SELECT register_customers('shop_customers', 'id', 'no_tenant_col');

-- a good one
SELECT register_customers('shop_customers', 'id');
SELECT rel, key_column, key_type, ordinal_mode, tenant_column FROM customer_registry;

-- sources: a table, a view, and a bigint customer column (integer family)
SELECT register_source('orders', 'shop_orders', 'customer_id', 'paid_at');
SELECT register_source('paid', 'paid_orders', 'customer_id', 'paid_at');
SELECT register_source('events', 'shop_events', 'customer_id', 'at');
SELECT name, rel, customer_column, time_column FROM sources ORDER BY name;

-- re-registering replaces the definition
SELECT register_source('paid', 'shop_orders', 'customer_id', 'paid_at');
SELECT name, rel FROM sources WHERE name = 'paid';

-- bad sources
SELECT register_source('Orders', 'shop_orders', 'customer_id', 'paid_at');
SELECT register_source('customer', 'shop_orders', 'customer_id', 'paid_at');
SELECT register_source('', 'shop_orders', 'customer_id', 'paid_at');
SELECT register_source('订单', 'shop_orders', 'customer_id', 'paid_at');
SELECT register_source('x', 'shop_orders', 'cust', 'paid_at');
SELECT register_source('x', 'shop_orders', 'customer_id', 'status');
SELECT register_source('x', 'shop_orders', 'status', 'paid_at');
SELECT register_source('x', 'shop_orders', 'customer_id', NULL);

-- unregistering
SELECT unregister_source('events');
SELECT unregister_source('events');
SELECT name FROM sources ORDER BY name;

-- integer keys must fit the ordinal range: existing rows when registering...
CREATE TABLE small_customers (id smallint PRIMARY KEY);
INSERT INTO small_customers VALUES (1), (-5);
SELECT register_customers('small_customers', 'id');
DROP TABLE small_customers;
-- ...and integer keys as rows arrive or change (not only bigint ones): one
-- row must not make every rule fail with "audience member is out of range"
INSERT INTO shop_customers VALUES (-1, 'negative');
INSERT INTO shop_customers VALUES (1000, 'fine'), (-2, 'negative');
UPDATE shop_customers SET id = -3 WHERE id = 1000;
SELECT count(*) FROM shop_customers WHERE id < 0;
SELECT evaluate('NOT customer.name = ''x''') IS NOT NULL AS universe_ok;
DELETE FROM shop_customers WHERE id = 1000;

-- bigint keys are checked as rows arrive
CREATE TABLE big_customers (id bigint PRIMARY KEY);
INSERT INTO big_customers VALUES (1), (4294967295);
SELECT register_customers('big_customers', 'id');
INSERT INTO big_customers VALUES (4294967296);
INSERT INTO big_customers VALUES (7);
SELECT ordinal_mode FROM customer_registry;
-- text and uuid keys get dense ordinals from a dictionary kept by trigger
CREATE TABLE text_customers (code text PRIMARY KEY, city text);
INSERT INTO text_customers VALUES ('b-002', '上海'), ('a-001', '北京'), ('😀', 'emoji');
SELECT register_customers('text_customers', 'code');
SELECT unregister_source('orders'), unregister_source('paid');
SELECT register_customers('text_customers', 'code');
SELECT ordinal_mode, key_type FROM customer_registry;
SELECT ordinal, key FROM customer_ordinals ORDER BY ordinal;
INSERT INTO text_customers VALUES ('c-003', NULL), ('d-004', NULL);
UPDATE text_customers SET code = 'a-001-renamed' WHERE code = 'a-001';
-- existing ordinals never change; new keys are appended
SELECT ordinal, key FROM customer_ordinals ORDER BY ordinal;
-- a source must use the same key type as a dictionary key
SELECT register_source('orders', 'shop_orders', 'customer_id', 'paid_at');

CREATE TABLE uuid_customers (id uuid PRIMARY KEY);
INSERT INTO uuid_customers VALUES ('00000000-0000-0000-0000-000000000002'), ('00000000-0000-0000-0000-000000000001');
SELECT register_customers('uuid_customers', 'id');
SELECT count(*), min(ordinal) >= 0 FROM customer_ordinals;
SELECT register_customers('uuid_customers', 'id', dictionary => false);
SELECT ordinal_mode FROM customer_registry;

-- bigint keys of any size (snowflake ids, 2^62) through the dictionary
DELETE FROM big_customers;
INSERT INTO big_customers VALUES (4611686018427387904), (9223372036854775807), (-9223372036854775808), (0);
SELECT register_customers('big_customers', 'id');
SELECT register_customers('big_customers', 'id', dictionary => true);
SELECT ordinal_mode, key_type FROM customer_registry;
SELECT ordinal, key FROM customer_ordinals ORDER BY ordinal;
INSERT INTO big_customers VALUES (4294967296);
SELECT ordinal, key FROM customer_ordinals WHERE key = 4294967296;
-- dictionary => false: keys must be their own ordinals
SELECT register_customers('big_customers', 'id', dictionary => false);
DELETE FROM big_customers WHERE id < 0 OR id > 4294967295;
SELECT register_customers('big_customers', 'id', dictionary => false);
SELECT ordinal_mode FROM customer_registry;

-- unregistering the customer table drops the dictionary and the triggers
SELECT unregister_customers();
SELECT count(*) FROM customer_registry;
SELECT to_regclass('segment.customer_ordinals');
INSERT INTO uuid_customers VALUES ('00000000-0000-0000-0000-000000000003');

DROP TABLE shop_customers, shop_orders, shop_events, big_customers, text_customers, uuid_customers CASCADE;
DROP SEQUENCE not_a_table;
DELETE FROM sources;
