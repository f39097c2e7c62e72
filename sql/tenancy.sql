-- Tenant isolation: two tenants, two roles.  Each role can neither see,
-- refresh, reference nor infer the other tenant's segments, history,
-- membership, tags or contacts.
SET search_path = segment, public;
\set SHOW_CONTEXT never

CREATE TABLE mt_customers (id int PRIMARY KEY, shop text NOT NULL, name text);
CREATE TABLE mt_orders (customer_id int, amount numeric, paid_at timestamptz);
INSERT INTO mt_customers SELECT g, CASE WHEN g <= 10 THEN 'shop_a' ELSE 'shop_b' END, 'c' || g
FROM generate_series(1, 20) g;
INSERT INTO mt_orders SELECT g, 100 * g, '2024-08-01' FROM generate_series(1, 20) g;
SELECT register_customers('mt_customers', 'id', tenant_column => 'shop');
SELECT register_source('orders', 'mt_orders', 'customer_id', 'paid_at');

-- auto-tagging works tenant by tenant: one statement touching customers of
-- both tenants re-tags each with its own tenant's rules (a: >= 500, b: >= 2000)
SET segment.tenant = 'shop_a';
SELECT create_tag_group('spend', allow_auto => true) > 0, add_tag('spend', 'big', rule => 'sum(orders.amount) >= 500') > 0;
SET segment.tenant = 'shop_b';
SELECT create_tag_group('spend', allow_auto => true) > 0, add_tag('spend', 'big', rule => 'sum(orders.amount) >= 2000') > 0;
RESET segment.tenant;
CREATE VIEW pg_temp.spenders AS
SELECT g.tenant, array_agg(m.ordinal ORDER BY m.ordinal) AS big FROM tag_members m
JOIN tags t ON t.id = m.tag_id JOIN tag_groups g ON g.id = t.group_id WHERE g.name = 'spend' GROUP BY 1 ORDER BY 1;
SELECT * FROM pg_temp.spenders;
INSERT INTO mt_orders VALUES (4, 200, '2024-08-02'), (12, 900, '2024-08-02');
SELECT * FROM pg_temp.spenders;
DELETE FROM mt_orders WHERE paid_at = '2024-08-02';
SELECT * FROM pg_temp.spenders;
-- TRUNCATE: every tenant's groups reading the table, for all their customers
TRUNCATE mt_orders;
SELECT count(*) AS spend_tags_after_truncate FROM pg_temp.spenders;
INSERT INTO mt_orders SELECT g, 100 * g, '2024-08-01' FROM generate_series(1, 20) g;
SELECT * FROM pg_temp.spenders;
SET segment.tenant = 'shop_a';
SELECT drop_tag_group('spend');
SET segment.tenant = 'shop_b';
SELECT drop_tag_group('spend');
RESET segment.tenant;
DELETE FROM tag_log;

-- the setting is required once a tenant column is registered
RESET segment.tenant;
SELECT evaluate('EXISTS orders');
SELECT create_segment('any', 'EXISTS orders');

CREATE ROLE regress_shop_a;
CREATE ROLE regress_shop_b;
CREATE ROLE regress_nobody;
GRANT SELECT ON mt_customers, mt_orders TO regress_shop_a, regress_shop_b, regress_nobody;
GRANT USAGE ON SCHEMA segment TO regress_nobody;
GRANT SELECT ON segment.segments, segment.customer_registry TO regress_nobody;
SELECT grant_tenant('shop_a', 'regress_shop_a'), grant_tenant('shop_b', 'regress_shop_b');
SELECT grant_tenant('', 'regress_shop_a');
SELECT grant_tenant('shop_a', NULL);
SELECT grant_tenant(NULL, 'regress_shop_a');
SELECT grant_tenant('shop_a', 'regress_no_such_role');

-- tenant a: the same rule sees only its own customers
SET ROLE regress_shop_a;
SET segment.tenant = 'shop_a';
SELECT evaluate('sum(orders.amount) >= 500');
SELECT create_segment('big', 'sum(orders.amount) >= 500') > 0 AS created;
SELECT create_segment('a_only', 'customer.name LIKE ''c1%''') > 0 AS created;
SELECT create_tag_group('vip') > 0 AS created, add_tag('vip', 'gold') > 0 AS added;
SELECT tag_customer('vip', 'gold', 7);
SELECT record_contact('{1,2,3}', 'sms', '2024-08-01 10:00');

-- tenant b: its own segment of the same name, different members
SET ROLE regress_shop_b;
SET segment.tenant = 'shop_b';
SELECT create_segment('big', 'sum(orders.amount) >= 1500') > 0 AS created;
SELECT name, member_count, members FROM segments ORDER BY name;
SELECT segment_name, count(*) FROM membership GROUP BY 1;
SELECT count(*) AS visible_history FROM history;
SELECT count(*) AS visible_groups FROM tag_groups;
SELECT count(*) AS visible_tags FROM tags;
SELECT count(*) AS visible_members FROM tag_members;
SELECT count(*) AS visible_log FROM tag_log;
SELECT count(*) AS visible_contacts FROM contacts;
SELECT * FROM customer_tags;
-- cannot refresh, reference, test membership or tag with a's objects
SELECT refresh('a_only');
SELECT evaluate('IN SEGMENT ''a_only''');
SELECT create_segment('peek', 'IN SEGMENT ''a_only''');
SELECT is_member('a_only', 1);
SELECT evaluate('TAG ''vip'' IN (''gold'')');
SELECT tag_customer('vip', 'gold', 12);
-- nor tag or test a's customers with b's own objects
SELECT create_tag_group('b_tags') > 0, add_tag('b_tags', 'x') > 0;
SELECT tag_customer('b_tags', 'x', 3);
SELECT tag_customer('b_tags', 'x', 13);
SELECT is_member('big', 3), is_member('big', 16);
SELECT drop_tag_group('b_tags');
-- cannot touch a's rows directly either
UPDATE segments SET members = '{}' WHERE tenant = 'shop_a';
DELETE FROM history WHERE tenant = 'shop_a';
INSERT INTO segments (tenant, name, rule) VALUES ('shop_a', 'planted', 'EXISTS orders');
-- nor switch to tenant a
SET segment.tenant = 'shop_a';
SELECT evaluate('EXISTS orders');
SELECT count(*) FROM segments;

-- a role without any grant may not pick a granted tenant
SET ROLE regress_nobody;
SET segment.tenant = 'shop_b';
SELECT count(*) FROM segments;
SELECT evaluate('EXISTS orders');

-- back as a: everything of a is intact
SET ROLE regress_shop_a;
SET segment.tenant = 'shop_a';
SELECT name, member_count, members FROM segments ORDER BY name;
SELECT customer_key, group_name, value FROM customer_tags;
SELECT count(*) FROM history;
SELECT cardinality(contactable('{1-20}', 'sms', '5 days', 1, '2024-08-02 10:00')) AS contactable_a;
RESET ROLE;

-- the superuser sees both tenants (RLS does not apply to the owner)
SELECT tenant, name, member_count FROM segments ORDER BY tenant, name;
SELECT revoke_tenant('shop_b', 'regress_shop_b'), revoke_tenant('shop_b', 'regress_shop_b');

-- clean up (drop_segment works per tenant)
SET segment.tenant = 'shop_a';
SELECT drop_segment('big'), drop_segment('a_only'), drop_tag_group('vip');
SELECT purge_contacts('0 days', '2100-01-01');
SET segment.tenant = 'shop_b';
SELECT drop_segment('big');
RESET segment.tenant;
DELETE FROM tenant_roles;
REVOKE ALL ON ALL TABLES IN SCHEMA segment FROM regress_shop_a, regress_shop_b, regress_nobody;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA segment FROM regress_shop_a, regress_shop_b, regress_nobody;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA segment FROM regress_shop_a, regress_shop_b;
REVOKE ALL ON SCHEMA segment FROM regress_shop_a, regress_shop_b, regress_nobody;
REVOKE ALL ON mt_customers, mt_orders FROM regress_shop_a, regress_shop_b, regress_nobody;
DROP ROLE regress_shop_a, regress_shop_b, regress_nobody;
SELECT unregister_source('orders');
SELECT unregister_customers();
DROP TABLE mt_customers, mt_orders;
