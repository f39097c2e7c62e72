-- RFM scores and classes, and the RFM tag group.
SET search_path = segment, public;
SET TimeZone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

CREATE TABLE rf_customers (id int PRIMARY KEY, name text);
CREATE TABLE rf_orders (customer_id int, amount numeric, paid_at timestamptz);
INSERT INTO rf_customers SELECT g, '客户' || g FROM generate_series(1, 10) g;
-- 1: recent, frequent, big    2: recent, frequent, small   3: old, frequent, big
-- 4: old, rare, big           5: recent, rare, small       6: old, rare, small
-- 7: recent, rare, big (NULL amounts too)   8: same as 6 (a tie)   9, 10: no orders
INSERT INTO rf_orders VALUES
 (1, 500, '2024-08-08'), (1, 400, '2024-08-01'), (1, 600, '2024-07-20'), (1, 300, '2024-07-01'),
 (2, 10, '2024-08-07'), (2, 20, '2024-08-02'), (2, 15, '2024-07-25'), (2, 5, '2024-07-10'),
 (3, 700, '2024-03-01'), (3, 800, '2024-02-01'), (3, 900, '2024-01-10'), (3, 650, '2023-12-01'),
 (4, 3000, '2024-01-05'),
 (5, 12, '2024-08-06'),
 (6, 9, '2023-11-11'),
 (7, 2500, '2024-08-05'), (7, NULL, '2024-08-04'),
 (8, 9, '2023-11-11'),
 (1, 99999, '2024-09-01');   -- after as_of: ignored
SELECT register_customers('rf_customers', 'id');
SELECT register_source('orders', 'rf_orders', 'customer_id', 'paid_at');

SELECT * FROM rfm('orders', 'amount', '2024-08-09 11:00');
-- ties get equal scores; every class comes from R, F, M against the averages
SELECT count(DISTINCT (r, f, m)) FILTER (WHERE customer_key IN ('6', '8')) AS tie_groups FROM rfm('orders', 'amount', '2024-08-09 11:00');
SELECT class, count(*) FROM rfm('orders', 'amount', '2024-08-09 11:00') GROUP BY 1 ORDER BY 1;
-- nothing before the first order
SELECT count(*) FROM rfm('orders', 'amount', '2020-01-01');
-- NULLs
SELECT count(*) FROM rfm(NULL, 'amount'), rfm('orders', NULL) x;

-- errors
SELECT * FROM rfm('nosuch', 'amount');
SELECT * FROM rfm('orders', 'nosuch');
SELECT * FROM rfm('orders', 'paid_at');

-- the RFM tag group: exclusive, automatic, re-scored by retag()
SELECT * FROM create_rfm_tags('RFM', 'orders', 'amount');
SELECT customer_key, value, source FROM customer_tags WHERE group_name = 'RFM' ORDER BY customer_key::int;
SELECT tag_customer('RFM', '重要价值客户', 9);
INSERT INTO rf_orders VALUES (9, 100000, now());
SELECT * FROM retag('RFM');
SELECT customer_key, value FROM customer_tags WHERE group_name = 'RFM' AND customer_key = 9;
SELECT * FROM retag('RFM');
SELECT * FROM create_rfm_tags('RFM', 'orders', 'amount');
SELECT * FROM create_rfm_tags('RFM2', 'nosuch', 'amount');
SELECT count(*) FROM tag_groups WHERE name = 'RFM2';

SELECT drop_tag_group('RFM');
SELECT count(*) FROM rfm_groups;
DELETE FROM tag_log;
SELECT setval('tag_groups_id_seq', 1, false), setval('tags_id_seq', 1, false);
SELECT unregister_source('orders');
SELECT unregister_customers();
DROP TABLE rf_customers, rf_orders;
