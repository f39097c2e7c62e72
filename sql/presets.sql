-- The platform's preset audiences as saved segments.
SET search_path = segment, public;
SET TimeZone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

CREATE TABLE pr_customers (id int PRIMARY KEY);
CREATE TABLE pr_orders (customer_id int, status text, paid_at timestamptz);
CREATE TABLE pr_views (customer_id int, seconds int, viewed_at timestamptz);
INSERT INTO pr_customers SELECT generate_series(1, 8);
-- relative to today (presets refresh as of now), noon to stay clear of day edges
CREATE FUNCTION pr_ago(days int) RETURNS timestamptz LANGUAGE sql AS
$$ SELECT date_trunc('day', now()) + interval '12 hours' - days * interval '1 day' $$;
INSERT INTO pr_orders VALUES
 (1, 'paid', pr_ago(10)),                                  -- new: first order 10 days ago
 (2, 'paid', pr_ago(400)), (2, 'paid', pr_ago(5)),         -- returning (and loyal? only 1 in 180)
 (3, 'paid', pr_ago(100)),                                 -- silent: none in 30, some in 180
 (4, 'paid', pr_ago(20)), (4, 'paid', pr_ago(90)),         -- loyal, repeat, new (first in 180)
 (5, 'paid', pr_ago(60)), (5, 'paid', pr_ago(70)),         -- repeat, silent
 (6, 'refunded', pr_ago(3));                               -- only a refund
INSERT INTO pr_views VALUES
 (6, 40, pr_ago(2)),                                       -- prospect (never paid)
 (7, 10, pr_ago(2)),                                       -- watched too briefly
 (8, 30, pr_ago(20));                                      -- too long ago
SELECT register_customers('pr_customers', 'id');
SELECT register_source('orders', 'pr_orders', 'customer_id', 'paid_at');
SELECT register_source('views', 'pr_views', 'customer_id', 'viewed_at');

SELECT * FROM create_preset_segments('orders', 'views', paid_filter => 'status = ''paid''');
SELECT name, members, rule FROM segments WHERE name LIKE 'preset:%' ORDER BY name;
-- re-running keeps them, even edited
SELECT alter_segment('preset: repeat', 'count(orders WHERE status = ''paid'' DURING LAST 180 days) >= 3');
SELECT * FROM create_preset_segments('orders', 'views', paid_filter => 'status = ''paid''');
SELECT rule FROM segments WHERE name = 'preset: repeat';
-- presets are ordinary segments: refresh, drop
SELECT refresh('preset: repeat');
SELECT drop_segment('preset: prospects');
SELECT name, status FROM create_preset_segments('orders', 'views', paid_filter => 'status = ''paid''') WHERE name = 'preset: prospects';

-- without a views source the prospects are skipped; without a paid filter every order counts
SELECT drop_segment(name) FROM segments WHERE name LIKE 'preset:%';
SELECT * FROM create_preset_segments('orders');

-- errors
SELECT * FROM create_preset_segments('nosuch');
SELECT * FROM create_preset_segments('orders', 'nosuch');
SELECT * FROM create_preset_segments(NULL);
SELECT drop_segment(name) FROM segments WHERE name LIKE 'preset:%';
SELECT * FROM create_preset_segments('orders', paid_filter => 'nosuch_column = 1');
SELECT * FROM create_preset_segments('orders', paid_filter => 'status = ');
-- a bad filter or seconds column is refused on a re-run, when the presets exist
SELECT count(*) FROM create_preset_segments('orders', 'views');
SELECT * FROM create_preset_segments('orders', paid_filter => 'nosuch_column = 1');
SELECT * FROM create_preset_segments('orders', 'views', view_seconds_column => 'nosuch');
SELECT drop_segment(name) FROM segments WHERE name LIKE 'preset:%';
SELECT count(*) FROM segments WHERE name LIKE 'preset:%';

SELECT drop_segment(name) FROM segments WHERE name LIKE 'preset:%';
SELECT unregister_source('orders'), unregister_source('views');
SELECT unregister_customers();
DROP TABLE pr_customers, pr_orders, pr_views;
DROP FUNCTION pr_ago;
