-- Tag groups, manual tagging, import, views and the tag log.
SET search_path = segment, public;
\set SHOW_CONTEXT never

CREATE TABLE crm_customers (id integer PRIMARY KEY, name text);
INSERT INTO crm_customers SELECT g, 'c' || g FROM generate_series(1, 10) g;
SELECT register_customers('crm_customers', 'id');

-- groups and values (any Unicode)
SELECT create_tag_group('退订标签');
SELECT create_tag_group('tier', exclusive => true);
SELECT create_tag_group('auto_only', allow_manual => false, allow_auto => true);
SELECT add_tag('退订标签', '已退订');
SELECT add_tag('tier', 'low'), add_tag('tier', 'mid'), add_tag('tier', 'high');
SELECT add_tag('auto_only', 'x');
-- the rule is the third parameter, auto_remove the fourth
SELECT add_tag('auto_only', 'y', NULL, false) > 0 AS positional;
SELECT value, auto_remove, rule FROM tags WHERE value = 'y';
SELECT drop_tag('auto_only', 'y');
SELECT add_tag('auto_only', 'z', true);
SELECT name, exclusive, allow_manual, allow_auto, enabled, position FROM tag_groups ORDER BY position;

-- manual tagging
SELECT tag_customer('退订标签', '已退订', 3);
SELECT tag_customer('退订标签', '已退订', 3);     -- already held: false
SELECT tag_customer('tier', 'low', 1), tag_customer('tier', 'low', 2);
-- exclusive: moving customer 1 to mid removes low
SELECT tag_customer('tier', 'mid', 1);
SELECT customer_key, group_name, value, source FROM customer_tags ORDER BY customer_key, group_name;
SELECT untag_customer('tier', 'low', 2), untag_customer('tier', 'low', 2);
SELECT group_name, value, ordinal, action, source FROM tag_log ORDER BY id;

-- ordering
SELECT move_tag_group('auto_only', 1);
SELECT name, position FROM tag_groups ORDER BY position;
SELECT move_tag('tier', 'high', 1);
SELECT t.value, t.position FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE g.name = 'tier' ORDER BY t.position;
-- positions are clamped to 1..n, NULL is last; the others keep their order
CREATE TEMP VIEW tier_order AS
SELECT string_agg(t.value || ':' || t.position, ' ' ORDER BY t.position) AS tier
FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE g.name = 'tier';
SELECT move_tag('tier', 'high', 99);
SELECT tier FROM tier_order;
SELECT move_tag('tier', 'high', 2);
SELECT tier FROM tier_order;
SELECT move_tag('tier', 'low', NULL);
SELECT tier FROM tier_order;
SELECT move_tag('tier', 'low', -5);
SELECT tier FROM tier_order;
SELECT move_tag('tier', 'high', 0);
SELECT tier FROM tier_order;
SELECT move_tag_group('tier', 2);
SELECT string_agg(name || ':' || position, ' ' ORDER BY position) AS groups FROM tag_groups;
SELECT move_tag_group('tier', NULL);
SELECT string_agg(name || ':' || position, ' ' ORDER BY position) AS groups FROM tag_groups;
DROP VIEW tier_order;

-- disabling hides from the view, removes nothing, refuses manual tagging
SELECT set_tag_group_enabled('退订标签', false);
SELECT count(*) FROM customer_tags WHERE group_name = '退订标签';
SELECT count(*) FROM tag_members m JOIN tags t ON t.id = m.tag_id WHERE t.value = '已退订';
SELECT tag_customer('退订标签', '已退订', 4);
-- ...and untagging too: a disabled group or value keeps its customers' tags
SELECT untag_customer('退订标签', '已退订', 3);
SELECT set_tag_group_enabled('退订标签', true);
SELECT tag_customer('tier', 'high', 4);
SELECT set_tag_enabled('tier', 'high', false);
SELECT tag_customer('tier', 'high', 5);
SELECT untag_customer('tier', 'high', 4);
SELECT count(*) AS still_tagged FROM tag_members m JOIN tags t ON t.id = m.tag_id WHERE t.value = 'high';
SELECT set_tag_enabled('tier', 'high', true);
SELECT untag_customer('tier', 'high', 4);

-- renames keep members
SELECT rename_tag('tier', 'mid', 'middle');
SELECT rename_tag_group('tier', 'value tier');
SELECT customer_key, group_name, value FROM customer_tags WHERE customer_key = 1;

-- import: group-value labels, rows checked first, nothing half-imported
CREATE TABLE import_rows (customer_key text, label text);
INSERT INTO import_rows VALUES ('5', '退订标签-已退订'), ('6', 'value tier-low'), ('7', '已退订'),
                               ('8', 'nosuch-x'), ('99', 'value tier-low'), ('9', 'auto_only-x');
SELECT * FROM import_tags('import_rows');
SELECT count(*) FROM tag_log WHERE source = 'import';
SELECT * FROM import_tags('import_rows', on_error => 'skip');
SELECT customer_key, group_name, value, source FROM customer_tags WHERE source = 'import' ORDER BY customer_key;
SELECT * FROM import_tags('import_rows', on_error => 'maybe');
DELETE FROM import_rows WHERE label NOT IN ('退订标签-已退订', 'value tier-low') OR customer_key = '99';
SELECT * FROM import_tags('import_rows');
-- rows are numbered in input order (the order they were written), a view's
-- rows in the view's order; the columns may have any names
CREATE TABLE import_ordered (n text, "标签" text);
INSERT INTO import_ordered SELECT g::text, CASE WHEN g % 3 = 0 THEN 'bad' ELSE 'value tier-low' END
FROM generate_series(10, 1, -1) g;
SELECT row_number, customer_key, status FROM import_tags('import_ordered', on_error => 'skip');
-- (a table: import_tags() reads tables only, with the owner's rights)
CREATE TABLE import_sorted AS SELECT * FROM import_ordered ORDER BY n::int;
SELECT row_number, customer_key, status FROM import_tags('import_sorted', on_error => 'skip') WHERE status = 'rejected';
DROP TABLE import_sorted;
DROP TABLE import_ordered;

-- bad input
SELECT create_tag_group('');
SELECT create_tag_group('a-b');
SELECT create_tag_group('value tier');
SELECT create_tag_group('none', allow_manual => false, allow_auto => false);
SELECT add_tag('nosuch', 'x');
SELECT add_tag('value tier', '');
SELECT add_tag('value tier', 'low');
SELECT tag_customer('value tier', 'nosuch', 1);
SELECT tag_customer('auto_only', 'x', 1);
SELECT tag_customer('value tier', 'low', 12345);
SELECT tag_customer('value tier', 'low', NULL::int);

-- dropping a value or group logs the removals
SELECT drop_tag('value tier', 'low');
SELECT drop_tag_group('退订标签');
SELECT group_name, value, action, count(*) FROM tag_log WHERE action = 'remove' GROUP BY 1, 2, 3 ORDER BY 1, 2;
SELECT name FROM tag_groups ORDER BY position;

-- tag_members.tag_id acts as a foreign key to tags (checked per statement)
SELECT count(*) AS members_of_dropped_values FROM tag_members m WHERE NOT EXISTS (SELECT FROM tags t WHERE t.id = m.tag_id);
INSERT INTO tag_members (tag_id, ordinal, source) VALUES (999999, 1, 'manual');
INSERT INTO tag_members (tag_id, ordinal, source) SELECT t.id, 424242, 'manual' FROM tags t LIMIT 1;
UPDATE tag_members SET tag_id = 999999 WHERE ordinal = 424242;
INSERT INTO tag_members (tag_id, ordinal, source)
SELECT x, 424243, 'manual' FROM (SELECT min(id) FROM tags UNION ALL SELECT 999998 UNION ALL SELECT max(id) FROM tags) t(x);
SELECT _tag_members_check();
-- deleting tags directly removes their members, in one statement
SELECT count(*) > 0 AS has_members FROM tag_members;
DELETE FROM tags;
SELECT count(*) AS members_left FROM tag_members;

SELECT unregister_customers();
DROP TABLE crm_customers, import_rows;
DELETE FROM tag_groups;
DELETE FROM tag_log;

-- renames onto an existing name, NULL flags, NULL on_error
SELECT create_tag_group('rn_a') > 0, create_tag_group('rn_b') > 0, add_tag('rn_a', 'x') > 0, add_tag('rn_a', 'y') > 0;
SELECT rename_tag_group('rn_a', 'rn_b');
SELECT rename_tag('rn_a', 'x', 'y');
SELECT rename_tag_group('rn_a', 'rn_a'), rename_tag('rn_a', 'x', 'x');   -- to its own name: fine
SELECT create_tag_group('rn_c', exclusive => NULL);
SELECT create_tag_group('rn_c', allow_auto => NULL);
CREATE TEMP TABLE rn_import (customer_key text, label text);
SELECT * FROM import_tags('rn_import', NULL);
SELECT drop_tag_group('rn_a'), drop_tag_group('rn_b');

