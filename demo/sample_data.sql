-- A small, deterministic sample CRM: customers, orders, order lines,
-- messages and page views.  Used by the demo (scripts/demo.sh) and tests.
-- Scale with: psql -v customers=20000 -f demo/sample_data.sql
\if :{?customers}
\else
\set customers 5000
\endif

SELECT setseed(0.42) \g /dev/null

CREATE TABLE customers (
    id            integer PRIMARY KEY,
    name          text NOT NULL,
    phone         text,
    age           integer,
    city          text,
    source        text,
    registered_at timestamptz NOT NULL,
    followed_at   timestamptz          -- when they followed the shop's account (NULL: never)
);

INSERT INTO customers
SELECT g,
       (ARRAY['王','李','张','刘','陈','Smith','García','Müller'])[1 + g % 8] || ' ' || g,
       CASE WHEN g % 11 = 0 THEN NULL ELSE '+86 138' || lpad((g::bigint * 7919 % 100000000)::text, 8, '0') END,
       CASE WHEN g % 17 = 0 THEN NULL ELSE 18 + (g * 37) % 50 END,
       (ARRAY['上海','北京','深圳','杭州','成都'])[1 + g % 5],
       (ARRAY['widget','qrcode','inbound'])[1 + g % 3],
       timestamptz '2024-08-09 11:00+08' - (g % 900) * interval '1 day' - (g % 24) * interval '1 hour',
       CASE WHEN g % 3 = 0 THEN timestamptz '2024-08-09 11:00+08' - (g % 97) * interval '1 day' END
FROM generate_series(1, :customers) g;

CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers,
    status      text NOT NULL,
    amount      numeric(12,2),
    channel     text NOT NULL,
    paid_at     timestamptz NOT NULL
);

-- about 60% of customers ordered, a few of them many times
INSERT INTO orders (customer_id, status, amount, channel, paid_at)
SELECT c.id,
       CASE WHEN random() < 0.08 THEN 'refunded' ELSE 'paid' END,
       CASE WHEN random() < 0.01 THEN NULL ELSE round((20 + random() * random() * 1500)::numeric, 2) END,
       CASE WHEN random() < 0.3 THEN 'store' ELSE 'online' END,
       timestamptz '2024-08-09 11:00+08' - random() * interval '700 days'
FROM customers c,
     generate_series(1, (CASE WHEN c.id % 7 < 3 THEN 0 ELSE 1 + (c.id * 13) % 9 END)) n;

CREATE TABLE order_lines (
    order_id     bigint NOT NULL REFERENCES orders,
    customer_id  integer NOT NULL,
    sku          text NOT NULL,
    product_type text NOT NULL,
    collection   text,
    quantity     integer NOT NULL,
    paid_at      timestamptz NOT NULL
);

INSERT INTO order_lines
SELECT o.id, o.customer_id, 'SKU-' || (1 + (o.id * 31 + n) % 40),
       (ARRAY['consumable-1m','apparel','gadget','gift'])[1 + (o.id + n) % 4],
       (ARRAY['summer','winter',NULL])[1 + o.id % 3],
       1 + n % 3, o.paid_at
FROM orders o, generate_series(1, 1 + o.id % 3) n;

CREATE TABLE messages (
    id          bigserial PRIMARY KEY,
    customer_id integer NOT NULL,
    campaign    text,
    kind        text NOT NULL,
    button      text,
    sent_at     timestamptz NOT NULL
);

INSERT INTO messages (customer_id, campaign, kind, button, sent_at)
SELECT c.id, (ARRAY['A','B','coupon'])[1 + (c.id + n) % 3],
       (ARRAY['delivered','read','clicked','inbound'])[1 + (c.id * n) % 4],
       CASE WHEN (c.id * n) % 4 = 2 THEN (ARRAY['coupon','shop'])[1 + n % 2] END,
       timestamptz '2024-08-09 11:00+08' - random() * interval '60 days'
FROM customers c, generate_series(1, c.id % 4) n;

CREATE TABLE page_views (
    customer_id integer NOT NULL,
    url         text NOT NULL,
    seconds     integer NOT NULL,
    viewed_at   timestamptz NOT NULL
);

INSERT INTO page_views
SELECT c.id, '/product/' || (c.id * n % 40), (c.id * n) % 90,
       timestamptz '2024-08-09 11:00+08' - random() * interval '30 days'
FROM customers c, generate_series(1, c.id % 3) n;

CREATE INDEX ON orders (customer_id);
CREATE INDEX ON order_lines (customer_id);
CREATE INDEX ON messages (customer_id);
CREATE INDEX ON page_views (customer_id);
ANALYZE;
