-- The generalization benchmark's dataset (bench/generalize.sh): a shop
-- schema written without looking at how rules are compiled, shaped unlike
-- the demo CRM of bench/segments.sh.
--   psql -v customers=1000000 -v keys=bigint|text -f generalize_data.sql
--
-- * no foreign keys; primary keys where natural, a btree index on every
--   customer-id column and every time column;
-- * customer keys: bigint snowflake-like ids beyond 2^32 (10^15 + ...), or
--   text ('C-00000123'); rules reach them through the key dictionary;
-- * 0.5% of the customers were deleted after they produced events: their
--   orders, views, tickets and app events remain (no foreign keys), so event
--   tables hold keys that are not customers;
-- * skew: orders pick customers by a power law (a few have thousands,
--   about half have none); 30% of page views are anonymous (NULL visitor);
-- * orders, page views and app events are range-partitioned by month over
--   two years (2023-04 .. 2025-04), with more traffic in recent months; the
--   data runs about a day past the benchmark's as-of instant
--   (2025-03-31 09:15 Europe/Berlin, the day after the spring DST change);
-- * NULLs in filtered columns (city, age, gender, email_opt_in, status,
--   channel, category, shipped_on, device, topic, csat, platform, value),
--   wide rows (customers.profile ~300 bytes, orders.ship_to ~140 bytes);
-- * other types: numeric amounts, a date time column (order_items.shipped_on),
--   timestamp without time zone (customers.signup_at, support_tickets.opened_at),
--   booleans (vip, email_opt_in, gift, returned, resolved);
-- * five sources (orders, items, views, tickets, app), two tag groups
--   (interest: several values per customer; consent) and two saved segments.
--
-- Rows at N customers: orders 2.5N, order_items ~5.7N, page_views 6N,
-- support_tickets 0.3N, app_events 4N.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET TimeZone = 'Europe/Berlin';
SET maintenance_work_mem = '1GB';
SET work_mem = '256MB';
SET max_parallel_workers_per_gather = 0;   -- random() is serial anyway; keeps the data reproducible
\o /dev/null
SELECT setseed(0.20250331);

CREATE SCHEMA shop;
CREATE SCHEMA gen;

SELECT :'keys' = 'text' AS text_keys \gset
\if :text_keys
\set keytype text
CREATE FUNCTION gen.k(n bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT 'C-' || lpad(n::text, 8, '0') $$;
\else
\set keytype bigint
-- snowflake-like: increasing, unique, all beyond 2^32
CREATE FUNCTION gen.k(n bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT 1000000000000000 + n * 4099 + (n * 7919) % 4096 $$;
\endif

-- customer slots 1..slots; slot n is a customer unless deleted (n % 200 = 123)
SELECT :customers::bigint * 200 / 199 AS slots \gset

-- event time for position u in [0,1): traffic grows linearly over the two years
CREATE FUNCTION gen.t(u float8) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS
$$ SELECT '2023-04-01 00:00+02'::timestamptz + interval '1 second' * (sqrt(u) * 63201600) $$;   -- .. 2025-04-01 12:00+02

-- who produces events: a random permutation of slots per activity, rank 0 most active
CREATE TABLE gen.buyers AS
SELECT (row_number() OVER (ORDER BY random()) - 1)::int AS r, n
FROM generate_series(1, :slots) n WHERE random() < 0.55;
CREATE TABLE gen.browsers AS
SELECT (row_number() OVER (ORDER BY random()) - 1)::int AS r, n
FROM generate_series(1, :slots) n WHERE random() < 0.50;
CREATE TABLE gen.requesters AS
SELECT (row_number() OVER (ORDER BY random()) - 1)::int AS r, n
FROM generate_series(1, :slots) n WHERE random() < 0.12;
CREATE TABLE gen.app_users AS
SELECT (row_number() OVER (ORDER BY random()) - 1)::int AS r, n
FROM generate_series(1, :slots) n WHERE random() < 0.30;
SELECT (SELECT count(*) FROM gen.buyers) AS nb, (SELECT count(*) FROM gen.browsers) AS nv,
       (SELECT count(*) FROM gen.requesters) AS nr, (SELECT count(*) FROM gen.app_users) AS na \gset

------------------------------------------------------------------ customers
CREATE TABLE shop.customers (
    id            :keytype PRIMARY KEY,
    full_name     text NOT NULL,
    email         text,
    city          text,                       -- NULL for ~7%
    country       text NOT NULL,
    birth_date    date,                       -- NULL for ~10%
    age           smallint,                   -- as of the data's day; NULL with birth_date
    gender        text,                       -- 'f', 'm', 'x' or NULL
    vip           boolean NOT NULL DEFAULT false,
    email_opt_in  boolean,                    -- NULL: never asked
    loyalty_points integer NOT NULL DEFAULT 0,
    signup_at     timestamp without time zone NOT NULL,   -- local wall-clock time
    profile       text                        -- ~300 bytes
);
INSERT INTO shop.customers
SELECT gen.k(n),
       'Name ' || n,
       CASE WHEN u1 < 0.04 THEN NULL
            ELSE 'user' || n || (CASE WHEN u1 < 0.30 THEN '@example.org' WHEN u1 < 0.70 THEN '@mail.example' ELSE '@shop.example' END) END,
       CASE WHEN u2 < 0.07 THEN NULL
            ELSE (ARRAY['Berlin','Berlin','Berlin','Hamburg','Hamburg','Munich','Munich','Cologne','Frankfurt',
                        'Stuttgart','Düsseldorf','Leipzig','Dresden','Bremen','Hannover','Nuremberg'])[1 + floor(random() * 16)::int] END,
       CASE WHEN u3 < 0.85 THEN 'DE' WHEN u3 < 0.95 THEN 'AT' ELSE 'CH' END,
       bd,
       CASE WHEN bd IS NOT NULL THEN extract(year FROM age('2025-03-31'::date, bd))::smallint END,
       CASE WHEN u3 < 0.47 THEN 'f' WHEN u3 < 0.92 THEN 'm' WHEN u3 < 0.94 THEN 'x' END,
       random() < 0.03,
       CASE WHEN u4 < 0.25 THEN NULL WHEN u4 < 0.80 THEN true ELSE false END,
       floor(12000 * random() ^ 4)::int,
       ('2019-01-01'::timestamp + sqrt(n::float8 / :slots) * (interval '2280 days' + interval '12 hours' * random())),
       repeat(md5(n::text), 9) || ' ' || n
FROM (SELECT n, random() AS u1, random() AS u2, random() AS u3, random() AS u4,
             CASE WHEN random() < 0.10 THEN NULL
                  ELSE '1940-01-01'::date + floor(23000 * random())::int END AS bd
      FROM generate_series(1, :slots) n WHERE n % 200 <> 123) c;

------------------------------------------------------------------ partitioned event tables
CREATE TABLE shop.orders (
    order_no   bigint NOT NULL,
    buyer_id   :keytype NOT NULL,
    placed_at  timestamptz NOT NULL,
    status     text,                 -- completed / cancelled / refunded / pending / NULL
    channel    text,                 -- web / app / store / phone / NULL
    total      numeric(12,2) NOT NULL,
    gift       boolean NOT NULL DEFAULT false,
    coupon     text,
    ship_to    text,                 -- ~140 bytes
    PRIMARY KEY (order_no, placed_at)
) PARTITION BY RANGE (placed_at);
CREATE TABLE shop.page_views (
    view_id     bigint NOT NULL,
    visitor_id  :keytype,            -- NULL: anonymous
    viewed_at   timestamptz NOT NULL,
    url_path    text NOT NULL,
    device      text,                -- desktop / mobile / tablet / NULL
    duration_ms integer NOT NULL,
    referrer    text,
    PRIMARY KEY (view_id, viewed_at)
) PARTITION BY RANGE (viewed_at);
CREATE TABLE shop.app_events (
    event_id    bigint NOT NULL,
    user_key    :keytype NOT NULL,
    occurred_at timestamptz NOT NULL,
    event_name  text NOT NULL,       -- view_item / add_to_cart / purchase / login / share
    platform    text,                -- ios / android / NULL
    value       numeric(10,2),       -- add_to_cart and purchase only
    PRIMARY KEY (event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
DO $$
DECLARE m timestamptz;
BEGIN
    FOR m IN SELECT generate_series('2023-04-01'::timestamptz, '2025-04-01', interval '1 month') LOOP
        EXECUTE format('CREATE TABLE shop.orders_%s PARTITION OF shop.orders FOR VALUES FROM (%L) TO (%L)',
                       to_char(m, 'YYYYMM'), m, m + interval '1 month');
        EXECUTE format('CREATE TABLE shop.page_views_%s PARTITION OF shop.page_views FOR VALUES FROM (%L) TO (%L)',
                       to_char(m, 'YYYYMM'), m, m + interval '1 month');
        EXECUTE format('CREATE TABLE shop.app_events_%s PARTITION OF shop.app_events FOR VALUES FROM (%L) TO (%L)',
                       to_char(m, 'YYYYMM'), m, m + interval '1 month');
    END LOOP;
END $$;

-- orders, in time order; the customer by rank floor(nb * u^2)
INSERT INTO shop.orders
SELECT o.i, gen.k(b.n), o.t,
       CASE WHEN o.u < 0.70 THEN 'completed' WHEN o.u < 0.78 THEN 'cancelled' WHEN o.u < 0.83 THEN 'refunded'
            WHEN o.u < 0.88 THEN 'pending' END,
       CASE WHEN o.v < 0.45 THEN 'web' WHEN o.v < 0.75 THEN 'app' WHEN o.v < 0.90 THEN 'store'
            WHEN o.v < 0.93 THEN 'phone' END,
       round((5 + 2500 * random() ^ 6)::numeric, 2),
       random() < (CASE WHEN extract(month FROM o.t) = 12 THEN 0.15 ELSE 0.03 END),
       CASE WHEN random() < 0.12 THEN 'SAVE' || (10 * (1 + floor(random() * 3))) END,
       md5(o.i::text) || ' ' || md5((o.i * 31)::text) || ' Hauptstraße ' || (o.i % 300) || ', ' || lpad((o.i % 99999)::text, 5, '0') || ' Stadt ' || md5((o.i * 7)::text)
FROM (SELECT i, floor(:nb * random() ^ 2)::int AS r, gen.t((i - 1 + random()) / (2.5 * :customers)) AS t,
             random() AS u, random() AS v
      FROM generate_series(1, (2.5 * :customers)::bigint) i) o
JOIN gen.buyers b ON b.r = o.r;

-- page views: 30% anonymous; visitors by rank floor(nv * u^1.5)
INSERT INTO shop.page_views
SELECT p.i, CASE WHEN p.anon THEN NULL ELSE gen.k(b.n) END, p.t,
       CASE WHEN p.u < 0.55 THEN '/product/' || floor(5000 * random() ^ 3)::int
            WHEN p.u < 0.70 THEN '/category/' || (ARRAY['shoes','books','garden','tech','toys','food'])[1 + floor(random() * 6)::int]
            WHEN p.u < 0.80 THEN '/cart' WHEN p.u < 0.85 THEN '/checkout' ELSE '/' END,
       CASE WHEN p.v < 0.40 THEN 'desktop' WHEN p.v < 0.85 THEN 'mobile' WHEN p.v < 0.92 THEN 'tablet' END,
       floor(120000 * random() ^ 3)::int,
       CASE WHEN random() < 0.6 THEN NULL ELSE (ARRAY['google','newsletter','instagram','direct'])[1 + floor(random() * 4)::int] END
FROM (SELECT i, floor(:nv * random() ^ 1.5)::int AS r, gen.t((i - 1 + random()) / (6 * :customers)) AS t,
             random() < 0.30 AS anon, random() AS u, random() AS v
      FROM generate_series(1, 6 * :customers::bigint) i) p
JOIN gen.browsers b ON b.r = p.r;

-- app events: app users by rank floor(na * u^1.5)
INSERT INTO shop.app_events
SELECT e.i, gen.k(b.n), e.t, e.name,
       CASE WHEN random() < 0.10 THEN NULL WHEN random() < 0.55 THEN 'ios' ELSE 'android' END,
       CASE WHEN e.name IN ('add_to_cart', 'purchase') THEN round((3 + 400 * random() ^ 3)::numeric, 2) END
FROM (SELECT i, floor(:na * random() ^ 1.5)::int AS r, gen.t((i - 1 + random()) / (4 * :customers)) AS t,
             (CASE WHEN u < 0.50 THEN 'view_item' WHEN u < 0.70 THEN 'add_to_cart' WHEN u < 0.78 THEN 'purchase'
                   WHEN u < 0.98 THEN 'login' ELSE 'share' END) AS name
      FROM (SELECT i, random() AS u FROM generate_series(1, 4 * :customers::bigint) i) s) e
JOIN gen.app_users b ON b.r = e.r;

------------------------------------------------------------------ plain event tables
CREATE TABLE shop.order_items (
    item_id    bigint PRIMARY KEY,
    order_no   bigint NOT NULL,
    buyer_id   :keytype NOT NULL,
    sku        text NOT NULL,
    category   text,                  -- NULL for some SKUs
    qty        integer NOT NULL,
    unit_price numeric(10,2) NOT NULL,
    returned   boolean NOT NULL DEFAULT false,
    shipped_on date                   -- NULL: not shipped (cancelled, pending, unknown status)
);
INSERT INTO shop.order_items
SELECT row_number() OVER (), o.order_no, o.buyer_id,
       'SKU-' || lpad(s.sku::text, 5, '0'),
       CASE WHEN s.sku % 37 = 0 THEN NULL
            ELSE (ARRAY['shoes','books','garden','electronics','toys','food','beauty','sports','home','music'])[1 + s.sku % 10] END,
       CASE WHEN random() < 0.85 THEN 1 ELSE 1 + floor(random() * 9)::int END,
       round((2 + 30 * (1 + s.sku % 10) * random() ^ 2)::numeric, 2),
       coalesce(o.status = 'refunded', false) OR random() < 0.02,
       CASE WHEN o.status IN ('completed', 'refunded') THEN (o.placed_at + interval '1 day' * (1 + floor(random() * 4)))::date END
FROM shop.orders o
CROSS JOIN LATERAL (SELECT floor(5000 * random() ^ 3)::int AS sku
                    FROM generate_series(1, 1 + (o.order_no % 3)::int + CASE WHEN o.order_no % 11 = 0 THEN 3 ELSE 0 END)) s;

CREATE TABLE shop.support_tickets (
    ticket_id  bigint PRIMARY KEY,
    requester  :keytype NOT NULL,
    opened_at  timestamp without time zone NOT NULL,   -- local wall-clock time (Europe/Berlin)
    priority   smallint NOT NULL,     -- 1 (low) .. 4 (urgent)
    topic      text,                  -- delivery / payment / return / account / NULL
    csat       smallint,              -- 1..5, NULL: no answer
    resolved   boolean NOT NULL,
    body       text
);
INSERT INTO shop.support_tickets
SELECT k.i, gen.k(b.n), k.t AT TIME ZONE 'Europe/Berlin',
       CASE WHEN k.u < 0.50 THEN 1 WHEN k.u < 0.80 THEN 2 WHEN k.u < 0.95 THEN 3 ELSE 4 END,
       CASE WHEN random() < 0.15 THEN NULL ELSE (ARRAY['delivery','payment','return','account'])[1 + floor(random() * 4)::int] END,
       CASE WHEN random() < 0.45 THEN NULL ELSE 1 + floor(5 * random() ^ 0.7)::int END,
       k.t < '2025-03-28'::timestamptz OR random() < 0.3,
       'Ticket ' || k.i || ': ' || repeat(md5(k.i::text), 6)
FROM (SELECT i, floor(:nr * random() ^ 2)::int AS r, gen.t((i - 1 + random()) / (0.3 * :customers)) AS t, random() AS u
      FROM generate_series(1, (0.3 * :customers)::bigint) i) k
JOIN gen.requesters b ON b.r = k.r;

------------------------------------------------------------------ indexes, as a DBA would add
CREATE INDEX ON shop.customers (signup_at);
CREATE INDEX ON shop.customers (birth_date);
CREATE INDEX ON shop.orders (buyer_id);
CREATE INDEX ON shop.orders (placed_at);
CREATE INDEX ON shop.order_items (buyer_id);
CREATE INDEX ON shop.order_items (shipped_on);
CREATE INDEX ON shop.order_items (order_no);
CREATE INDEX ON shop.page_views (visitor_id);
CREATE INDEX ON shop.page_views (viewed_at);
CREATE INDEX ON shop.support_tickets (requester);
CREATE INDEX ON shop.support_tickets (opened_at);
CREATE INDEX ON shop.app_events (user_key);
CREATE INDEX ON shop.app_events (occurred_at);
DROP SCHEMA gen CASCADE;
VACUUM ANALYZE shop.customers, shop.orders, shop.order_items, shop.page_views, shop.support_tickets, shop.app_events;

------------------------------------------------------------------ registry
SELECT EXISTS (SELECT FROM pg_proc WHERE proname = 'register_customers' AND pronamespace = 'segment'::regnamespace
               AND 'dictionary' = ANY (proargnames)) AS has_dictionary \gset
\if :has_dictionary
SELECT segment.register_customers('shop.customers', 'id', dictionary => true);
\else
SELECT segment.register_customers('shop.customers', 'id');
\endif
SELECT segment.register_source('orders', 'shop.orders', 'buyer_id', 'placed_at');
SELECT segment.register_source('items', 'shop.order_items', 'buyer_id', 'shipped_on');
SELECT segment.register_source('views', 'shop.page_views', 'visitor_id', 'viewed_at');
SELECT segment.register_source('tickets', 'shop.support_tickets', 'requester', 'opened_at');
SELECT segment.register_source('app', 'shop.app_events', 'user_key', 'occurred_at');

------------------------------------------------------------------ tags
-- interest: several values per customer, ~40% of customers hold one or two;
-- consent: email_unsub for ~9%.  Bulk-loaded into the tag store (the
-- documented storage; import_tags checks row by row), plus a few by hand.
SELECT segment.create_tag_group('interest');
SELECT segment.add_tag('interest', v) FROM unnest(ARRAY['sports','books','garden','tech','fashion']) v;
SELECT segment.create_tag_group('consent', exclusive => true);
SELECT segment.add_tag('consent', 'email_unsub');
SELECT segment.add_tag('consent', 'sms_only');
INSERT INTO segment.tag_members (tag_id, ordinal, source)
SELECT DISTINCT t.id, o.ordinal, 'import'
FROM segment.customer_ordinals o
CROSS JOIN LATERAL (VALUES (abs(hashtext(o.key::text)) % 100), (abs(hashtext(o.key::text || '+')) % 100)) h(b)
JOIN segment.tags t ON t.group_id = (SELECT id FROM segment.tag_groups WHERE name = 'interest')
     AND t.value = (ARRAY['sports','books','garden','tech','fashion'])[1 + h.b % 5]
WHERE h.b < 25;
INSERT INTO segment.tag_members (tag_id, ordinal, source)
SELECT (SELECT t.id FROM segment.tags t JOIN segment.tag_groups g ON g.id = t.group_id
        WHERE g.name = 'consent' AND t.value = CASE WHEN abs(hashtext(o.key::text || 'c')) % 100 < 9 THEN 'email_unsub' ELSE 'sms_only' END),
       o.ordinal, 'import'
FROM segment.customer_ordinals o WHERE abs(hashtext(o.key::text || 'c')) % 100 < 12;
SELECT count(segment.tag_customer('interest', 'tech', id)) FROM (SELECT id FROM shop.customers ORDER BY id LIMIT 20) c;
ANALYZE segment.tag_members;

------------------------------------------------------------------ saved segments (no relative windows:
-- they are refreshed now, not at the benchmark's as-of)
SELECT segment.create_segment('big_spenders', $$sum(orders.total WHERE status = 'completed') >= 1500$$);
SELECT segment.create_segment('app_buyers', $$count(app WHERE event_name = 'purchase') >= 3$$);
\o
