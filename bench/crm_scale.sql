-- Tops up demo/sample_data.sql to the benchmark's proportions per million
-- customers: ~5M orders, ~5M order lines, ~10M messages and page views;
-- adds the time indexes both the rules and the hand-written SQL use.
SELECT setseed(0.24) \g /dev/null

-- repeat purchases: two thirds of the orders again, 37 days earlier
INSERT INTO orders (customer_id, status, amount, channel, paid_at)
SELECT customer_id, status, amount, channel, paid_at - interval '37 days'
FROM orders WHERE id % 3 <> 0;

INSERT INTO messages (customer_id, campaign, kind, button, sent_at)
SELECT c.id, (ARRAY['A','B','coupon'])[1 + (c.id + n) % 3],
       (ARRAY['delivered','read','clicked','inbound'])[1 + (c.id * n + 1) % 4],
       CASE WHEN (c.id * n + 1) % 4 = 2 THEN (ARRAY['coupon','shop'])[1 + n % 2] END,
       timestamptz '2024-08-09 11:00+08' - random() * interval '60 days'
FROM customers c, generate_series(1, 1 + c.id % 8) n;

INSERT INTO page_views
SELECT c.id, '/product/' || (c.id * n % 40), (c.id * n + 7) % 90,
       timestamptz '2024-08-09 11:00+08' - random() * interval '30 days'
FROM customers c, generate_series(1, 1 + c.id % 5) n;

-- a normalized CRM declares that events belong to customers
ALTER TABLE order_lines ADD FOREIGN KEY (customer_id) REFERENCES customers;
ALTER TABLE messages ADD FOREIGN KEY (customer_id) REFERENCES customers;
ALTER TABLE page_views ADD FOREIGN KEY (customer_id) REFERENCES customers;

CREATE INDEX ON orders (paid_at);
CREATE INDEX ON order_lines (paid_at);
CREATE INDEX ON messages (sent_at);
CREATE INDEX ON page_views (viewed_at);
CREATE INDEX ON customers (registered_at);
CREATE INDEX ON customers (followed_at);
VACUUM ANALYZE;
