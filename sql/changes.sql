-- Change feed: change_log, consumers, read_changes/ack_changes, retention,
-- NOTIFY segment_refresh, a dropped segment's members exiting.
SET search_path = segment, public;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

CREATE TABLE cf_customers (id text PRIMARY KEY, name text);
CREATE TABLE cf_orders (customer_id text, amount numeric, paid_at timestamptz DEFAULT now());
INSERT INTO cf_customers SELECT 'c' || g, '客户' || g FROM generate_series(1, 30) g;
INSERT INTO cf_orders (customer_id, amount) SELECT 'c' || g, g * 10 FROM generate_series(1, 10) g;
-- sql/segments.sql moved the segment id sequence back; ids of segments it
-- dropped must not come back here (a segment id names its log and history)
SELECT setval('segments_id_seq', greatest((SELECT max(segment_id) FROM history), (SELECT max(segment_id) FROM change_log),
                                          (SELECT last_value FROM segments_id_seq))) > 0 AS fresh_ids;
SELECT register_customers('cf_customers', 'id');
SELECT register_source('orders', 'cf_orders', 'customer_id', 'paid_at');

-- errors whose texts carry log positions, with the numbers masked
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    m text; d text; h text; c text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT, c = RETURNED_SQLSTATE;
    RETURN regexp_replace(c || ' ' || m || E'\nDETAIL: ' || coalesce(d, '') || E'\nHINT: ' || coalesce(h, ''),
                          '[0-9]+', 'N', 'g');
END $$;

-- a consumer of every segment, made before they exist (start => 'now':
-- earlier tests' refreshes are not its business)
SELECT create_consumer('crm', start => 'now') > 0 AS created;
SELECT create_segment('buyers', 'EXISTS orders') > 0 AS created;
SELECT create_segment('big', 'sum(orders.amount) >= 80') > 0 AS created;
-- the first refresh of each segment enters its members
SELECT count(*) AS n, count(*) FILTER (WHERE change = 'entered') AS entered,
       min(segment_name) AS first_segment, max(segment_name) AS last_segment
FROM read_changes('crm');
SELECT segment_name, customer_key, change FROM read_changes('crm') WHERE segment_name = 'big' ORDER BY position;
-- positions increase in the order returned; reading twice gives the same rows
SELECT bool_and(p > lag_p) AS increasing FROM (
    SELECT position AS p, lag(position) OVER (ORDER BY position) AS lag_p FROM read_changes('crm')) x WHERE lag_p IS NOT NULL;
SELECT (SELECT array_agg(position ORDER BY position) FROM read_changes('crm'))
     = (SELECT array_agg(position ORDER BY position) FROM read_changes('crm')) AS reading_does_not_move;
-- pages of 4, acknowledged one by one, deliver every change exactly once
CREATE TEMP TABLE delivered (position bigint, segment_name text, customer_key text, change text);
DO $$
DECLARE
    last bigint;
BEGIN
    LOOP
        WITH page AS (SELECT * FROM segment.read_changes('crm', 4)),
             ins AS (INSERT INTO delivered SELECT * FROM page RETURNING position)
        SELECT max(position) INTO last FROM ins;
        EXIT WHEN last IS NULL;
        PERFORM segment.ack_changes('crm', last);
    END LOOP;
END $$;
SELECT count(*) AS delivered, count(DISTINCT position) AS distinct_positions FROM delivered;
SELECT count(*) AS left_after_ack FROM read_changes('crm');
-- the next refresh: who entered and exited
INSERT INTO cf_orders (customer_id, amount) VALUES ('c11', 5), ('c12', 500);
DELETE FROM cf_orders WHERE customer_id = 'c1';
SELECT refresh('buyers'), refresh('big');
SELECT segment_name, customer_key, change FROM read_changes('crm') ORDER BY position;
-- a refresh that changes nothing logs nothing
SELECT refresh('big');
SELECT count(*) AS unchanged FROM read_changes('crm') WHERE segment_name = 'big';
-- the consumer's changes replay to the membership
INSERT INTO delivered SELECT * FROM read_changes('crm');
SELECT ack_changes('crm', max(position)) > 0 AS acked FROM delivered;
WITH replay AS (
    SELECT segment_name, customer_key FROM (
        SELECT DISTINCT ON (segment_name, customer_key) segment_name, customer_key, change
        FROM delivered ORDER BY segment_name, customer_key, position DESC) x
    WHERE change = 'entered')
SELECT (SELECT count(*) FROM replay) AS replayed, (SELECT count(*) FROM membership) AS members,
       NOT EXISTS (SELECT segment_name, customer_key::text FROM membership EXCEPT SELECT * FROM replay)
       AND NOT EXISTS (SELECT * FROM replay EXCEPT SELECT segment_name, customer_key::text FROM membership) AS same;
-- a consumer of one segment, starting now: only later changes
SELECT create_consumer('ads', 'buyers', start => 'now') > 0 AS created;
SELECT count(*) AS nothing_yet FROM read_changes('ads');
INSERT INTO cf_orders (customer_id, amount) VALUES ('c20', 1);
SELECT refresh('buyers'), refresh('big');
SELECT segment_name, customer_key, change FROM read_changes('ads');
-- members at a past instant, rebuilt from the log; history keeps the rule
SELECT members_at('buyers', now() - interval '1 hour') IS NULL AS before_first_refresh,
       members_at('buyers', now()) = (SELECT members FROM segments WHERE name = 'buyers') AS now_is_current;
-- (the log rows of buyers spread over the last hours, oldest first)
UPDATE change_log l SET logged_at = now() - (x.n || ' hours')::interval
FROM (SELECT position, count(*) OVER (ORDER BY position DESC) AS n FROM change_log
      WHERE segment_id = (SELECT id FROM segments WHERE name = 'buyers')) x WHERE l.position = x.position;
SET session_replication_role = replica;     -- history is append-only: its trigger is bypassed here
UPDATE history SET refreshed_at = now() - interval '1 day' WHERE segment_id = (SELECT id FROM segments WHERE name = 'buyers');
RESET session_replication_role;
SELECT n AS refreshes_logged, cardinality(members_at('buyers', now() - ((n - 0.5) || ' hours')::interval)) AS after_first,
       members_at('buyers', now() - ((n - 0.5) || ' hours')::interval)
       = (SELECT entered FROM change_log WHERE segment_id = (SELECT id FROM segments WHERE name = 'buyers')
          ORDER BY position LIMIT 1) AS is_first_refresh,
       members_at('buyers', now() - interval '30 minutes') = (SELECT members FROM segments WHERE name = 'buyers') AS latest
FROM (SELECT count(*) AS n FROM change_log WHERE segment_id = (SELECT id FROM segments WHERE name = 'buyers')) c;
SELECT rule FROM history WHERE segment_id = (SELECT id FROM segments WHERE name = 'big') ORDER BY id LIMIT 1;
SELECT members_at('buyers', NULL);
SELECT members_at('nosuch', now());
-- dropping a segment: its members exit for its followers
SELECT drop_segment('big');
SELECT count(*) AS exits, bool_and(change = 'exited') AS all_exited FROM read_changes('crm') WHERE segment_name = 'big';
-- retention: a consumer behind the purged rows is told, never silently skips
SELECT purge_changes('0 seconds') > 0 AS purged;
SELECT pg_temp.err($$SELECT read_changes('crm')$$);
SELECT pg_temp.err($$SELECT * FROM read_changes('ads')$$);
SELECT drop_consumer('crm');
SELECT create_consumer('crm', start => 'beginning');
SELECT pg_temp.err($$SELECT count(*) FROM read_changes('crm')$$);
SELECT drop_consumer('crm');
SELECT create_consumer('crm', start => 'now') > 0 AS created;
SELECT count(*) AS fresh_start FROM read_changes('crm');
INSERT INTO cf_orders (customer_id, amount) VALUES ('c21', 1);
SELECT refresh('buyers');
SELECT segment_name, customer_key, change FROM read_changes('crm');
-- bad input
SELECT create_consumer('crm');
SELECT create_consumer('');
SELECT create_consumer(NULL);
SELECT create_consumer('x', 'nosuch');
SELECT create_consumer('x', start => 'yesterday');
SELECT read_changes('nosuch');
SELECT read_changes('crm', 0);
SELECT ack_changes('crm', NULL);
SELECT pg_temp.err($$SELECT ack_changes('crm', 1)$$);
SELECT drop_consumer('nosuch');
SELECT purge_changes(NULL);
SELECT purge_changes('-1 day');
-- Unicode names
SELECT create_consumer('同步 🛒') >= 0 AS created;
SELECT name, segment_name IS NULL AS all_segments FROM consumers WHERE name = '同步 🛒';
SELECT drop_consumer('同步 🛒');

SELECT drop_consumer('ads'), drop_consumer('crm');
SELECT drop_segment('buyers');
SELECT unregister_source('orders');
SELECT unregister_customers();
DROP TABLE cf_customers, cf_orders;
