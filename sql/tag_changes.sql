-- Tag changes through the change feed: tag consumers (one group or all),
-- tagged/untagged in commit order, acknowledgements, rolled-back work,
-- retention, tenants, bad input.
SET search_path = segment, public;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

CREATE TABLE tc_customers (id text PRIMARY KEY, shop text NOT NULL, score int NOT NULL);
INSERT INTO tc_customers SELECT 'k' || g, CASE WHEN g <= 20 THEN 'a' ELSE 'b' END, g FROM generate_series(1, 30) g;
SELECT register_customers('tc_customers', 'id', tenant_column => 'shop');

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
-- the changes without their positions, and whether positions increase
CREATE FUNCTION pg_temp.feed(consumer text, n int DEFAULT 10000)
RETURNS TABLE(tag text, customer_key text, change text) LANGUAGE sql AS $$
    SELECT segment_name, customer_key, change FROM segment.read_changes(consumer, n) ORDER BY position
$$;

SET segment.tenant = 'a';
SELECT create_tag_group('tier', exclusive => true, allow_auto => true) > 0 AS created;
SELECT create_tag_group('vip') > 0 AS created;
SELECT add_tag('vip', '金卡') > 0 AND add_tag('vip', '银卡') > 0 AS added;
-- a consumer of every group from the beginning, one of tier starting now
SELECT create_tag_consumer('crm') AS starts_at;
SELECT create_tag_consumer('tiers', 'tier', start => 'now') > 0 AS created;
SELECT follows, tag_group, segment_name FROM consumers ORDER BY name;
-- auto tags: the group-value and the key, tagged
SELECT add_tag('tier', 'high', rule => 'customer.score >= 17') > 0 AS added;
SELECT add_tag('tier', 'low', rule => 'customer.score < 3') > 0 AS added;
SELECT * FROM pg_temp.feed('crm');
-- manual tags, and a customer moving between exclusive values
SELECT tag_customer('vip', '金卡', 'k5'::text);
UPDATE tc_customers SET score = 1 WHERE id = 'k20';
SELECT * FROM pg_temp.feed('tiers');
SELECT bool_and(p > lag_p) AS increasing FROM (
    SELECT position AS p, lag(position) OVER (ORDER BY position) AS lag_p FROM read_changes('crm')) x WHERE lag_p IS NOT NULL;
-- pages of 2 acknowledged one by one deliver every change once
CREATE TEMP TABLE delivered (position bigint, tag text, customer_key text, change text);
DO $$
DECLARE
    last bigint;
BEGIN
    LOOP
        WITH page AS (SELECT * FROM segment.read_changes('crm', 2)),
             ins AS (INSERT INTO delivered SELECT * FROM page RETURNING position)
        SELECT max(position) INTO last FROM ins;
        EXIT WHEN last IS NULL;
        PERFORM segment.ack_changes('crm', last);
    END LOOP;
END $$;
SELECT count(*) AS delivered, count(DISTINCT position) AS distinct_positions FROM delivered;
-- replaying them gives the tags the customers hold
WITH replay AS (
    SELECT tag, customer_key FROM (
        SELECT DISTINCT ON (tag, customer_key) tag, customer_key, change
        FROM delivered ORDER BY tag, customer_key, position DESC) x
    WHERE change = 'tagged')
SELECT (SELECT count(*) FROM replay) AS replayed,
       NOT EXISTS (SELECT group_name || '-' || value, customer_key FROM customer_tags EXCEPT SELECT * FROM replay)
       AND NOT EXISTS (SELECT * FROM replay EXCEPT SELECT group_name || '-' || value, customer_key FROM customer_tags) AS same;
-- work rolled back (a savepoint, a transaction) never appears
BEGIN;
SAVEPOINT s;
SELECT tag_customer('vip', '金卡', 'k6'::text);
ROLLBACK TO s;
SELECT tag_customer('vip', '银卡', 'k7'::text);
COMMIT;
BEGIN;
SELECT tag_customer('vip', '金卡', 'k8'::text);
ROLLBACK;
SELECT * FROM pg_temp.feed('crm');
-- tags written after the commit step ran early (SET CONSTRAINTS ALL
-- IMMEDIATE) still reach the feed, at a later position
BEGIN;
SELECT untag_customer('vip', '银卡', 'k7'::text);
SET CONSTRAINTS ALL IMMEDIATE;
SELECT tag_customer('vip', '金卡', 'k9'::text);
COMMIT;
SELECT * FROM pg_temp.feed('crm');
SELECT count(*) AS pending FROM tag_feed_pending;
-- a group dropped: its holders are untagged
SELECT ack_changes('crm', (SELECT max(position) FROM read_changes('crm'))) > 0 AS acked;
SELECT drop_tag_group('vip');
SELECT * FROM pg_temp.feed('crm');
-- the other tenant's tags are not this tenant's consumers' business
SET segment.tenant = 'b';
SELECT create_tag_group('tier', allow_auto => true) > 0 AS created;
SELECT add_tag('tier', 'high', rule => 'customer.score >= 29') > 0 AS added;
SELECT create_tag_consumer('crm') = 0 AS from_beginning;
SELECT * FROM pg_temp.feed('crm');
SET segment.tenant = 'a';
SELECT count(*) AS shop_b_changes_seen FROM read_changes('crm') WHERE customer_key IN ('k29', 'k30');
-- retention: purged tag changes are lost to a consumer behind them, with an error
SELECT ack_changes('crm', (SELECT max(position) FROM read_changes('crm'))) > 0 AS acked;
UPDATE tc_customers SET score = 2 WHERE id = 'k19';
SELECT purge_changes('0 seconds') > 0 AS purged;
SELECT count(*) AS tag_log_kept FROM tag_log WHERE tenant = 'a';
SELECT pg_temp.err($$SELECT read_changes('crm')$$);
SELECT drop_consumer('crm');
SELECT create_tag_consumer('crm', start => 'now') > 0 AS created;
UPDATE tc_customers SET score = 18 WHERE id = 'k19';
SELECT * FROM pg_temp.feed('crm');
-- bad input
SELECT create_tag_consumer('crm');
SELECT create_consumer('crm');
SELECT create_tag_consumer('');
SELECT create_tag_consumer(NULL);
SELECT create_tag_consumer('x', 'nosuch');
SELECT create_tag_consumer('x', start => 'tomorrow');
-- Unicode
SELECT create_tag_consumer('标签同步 🏷', 'tier') >= 0 AS created;
SELECT name, tag_group FROM consumers WHERE name = '标签同步 🏷';
SELECT drop_consumer('标签同步 🏷');

SELECT drop_consumer('crm'), drop_consumer('tiers');
SELECT drop_tag_group('tier');
SET segment.tenant = 'b';
SELECT drop_consumer('crm');
SELECT drop_tag_group('tier');
RESET segment.tenant;
DELETE FROM tag_log WHERE tenant IN ('a', 'b');
SELECT unregister_customers();
DROP TABLE tc_customers;
