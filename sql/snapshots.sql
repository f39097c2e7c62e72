-- Snapshots: a segment's members frozen under a label, listed in
-- segment.snapshots, never changed by later refreshes or drop_segment(),
-- per tenant; rules read them with IN SNAPSHOT 'label'.
SET search_path = segment, public;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

CREATE TABLE sn_customers (id int PRIMARY KEY, shop text NOT NULL, city text);
CREATE TABLE sn_orders (customer_id int, amount numeric, paid_at timestamptz DEFAULT now());
INSERT INTO sn_customers SELECT g, CASE WHEN g <= 20 THEN 'shop_a' ELSE 'shop_b' END,
                                CASE WHEN g % 2 = 0 THEN '上海' ELSE '北京' END
FROM generate_series(1, 30) g;
INSERT INTO sn_orders (customer_id, amount) SELECT g, g * 10 FROM generate_series(1, 30) g;
SELECT register_customers('sn_customers', 'id', tenant_column => 'shop');
SELECT register_source('orders', 'sn_orders', 'customer_id', 'paid_at');

-- errors with their SQLSTATE, detail and hint
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    m text; d text; h text; c text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT, c = RETURNED_SQLSTATE;
    RETURN c || ' ' || m || E'\nDETAIL: ' || coalesce(d, '') || E'\nHINT: ' || coalesce(h, '');
END $$;

SET segment.tenant = 'shop_a';
SELECT pg_temp.err($$SELECT snapshot_segment('big', 'x')$$);
SELECT create_segment('big', 'sum(orders.amount) >= 150') > 0 AS created;
SELECT create_segment('later', 'EXISTS orders', refresh => false) > 0 AS created;
-- the 双11 campaign went to the members of the last refresh: frozen now
SELECT snapshot_segment('big', '双11 campaign') AS frozen_members;
SELECT label, segment_name, member_count, members, rule, refreshed_at = (SELECT refreshed_at FROM segments WHERE name = 'big') AS same_refresh,
       created_by = current_user::regrole AS by_me, tenant
FROM snapshots ORDER BY label;
-- later refreshes change the segment, never the snapshot
INSERT INTO sn_orders (customer_id, amount) VALUES (1, 1000), (2, 1000);
DELETE FROM sn_orders WHERE customer_id = 20;
SELECT refresh('big');
SELECT s.members AS segment_now, x.members AS snapshot FROM segments s, snapshots x WHERE s.name = 'big' AND x.label = '双11 campaign';
-- an altered rule makes the segment pending: a snapshot then records the rule that produced the members
SELECT alter_segment('big', rule => 'sum(orders.amount) >= 190');
SELECT snapshot_segment('big', 'before the edit') AS frozen_members;
SELECT label, member_count, rule FROM snapshots ORDER BY id;
-- nobody updates a snapshot, not even the extension owner
SELECT pg_temp.err($$UPDATE snapshots SET members = '{}' WHERE label = '双11 campaign'$$);
-- dropping the segment keeps its snapshots
SELECT drop_segment('big');
SELECT label, segment_name, member_count FROM snapshots ORDER BY id;
-- bad input
SELECT pg_temp.err($$SELECT snapshot_segment('nosuch', 'x')$$);
SELECT pg_temp.err($$SELECT snapshot_segment('later', 'x')$$);
SELECT create_segment('big', 'sum(orders.amount) >= 150') > 0 AS created;
SELECT pg_temp.err($$SELECT snapshot_segment('big', '双11 campaign')$$);
SELECT pg_temp.err($$SELECT snapshot_segment('big', '  ')$$);
SELECT pg_temp.err($$SELECT snapshot_segment('big', NULL)$$);
SELECT pg_temp.err($$SELECT snapshot_segment(NULL, 'x')$$);
SELECT pg_temp.err($$SELECT drop_snapshot('nosuch')$$);
SELECT pg_temp.err($$SELECT drop_snapshot(NULL)$$);
-- an empty segment freezes an empty snapshot; a long Unicode label
SELECT create_segment('nobody', 'sum(orders.amount) >= 1000000') > 0 AS created;
SELECT snapshot_segment('nobody', repeat('空', 200) || ' 🛒') AS frozen_members;
SELECT length(label), members, member_count FROM snapshots WHERE segment_name = 'nobody';
SELECT drop_snapshot(repeat('空', 200) || ' 🛒');

-- IN SNAPSHOT: rules read the frozen members
SELECT evaluate('IN SNAPSHOT ''双11 campaign''') AS campaign, evaluate('IN SNAPSHOT ''before the edit''') AS before_edit;
SELECT evaluate('IN SNAPSHOT ''双11 campaign'' AND customer.city = ''上海''') AS campaign_shanghai,
       evaluate('NOT IN SNAPSHOT ''双11 campaign'' AND sum(orders.amount) >= 150') AS new_big_ones,
       evaluate('IN SNAPSHOT ''双11 campaign'' OR IN SEGMENT ''big''') AS either;
-- the same in every form of evaluation
SET segment.rule_form = per_customer;
SELECT evaluate('IN SNAPSHOT ''双11 campaign'' AND customer.city = ''上海''') AS per_customer,
       evaluate('NOT IN SNAPSHOT ''双11 campaign'' AND sum(orders.amount) >= 150') AS per_customer_not;
SET segment.rule_form = reduced;
SELECT evaluate('IN SNAPSHOT ''双11 campaign'' AND customer.city = ''上海''') AS reduced;
RESET segment.rule_form;
-- explanations and counts read the same frozen members
SELECT path, condition, value, holds FROM explain_membership('IN SNAPSHOT ''双11 campaign'' AND customer.city = ''上海'''::segment_rule, 16);
SELECT path, condition, value, holds FROM explain_membership('IN SNAPSHOT ''双11 campaign'' OR customer.city = ''上海'''::segment_rule, 1);
SELECT path, members, running FROM condition_counts('IN SNAPSHOT ''双11 campaign'' AND NOT customer.city = ''上海''');
-- a frozen member who is no longer a customer is in no rule's result
DELETE FROM sn_orders WHERE customer_id = 16;
DELETE FROM sn_customers WHERE id = 16;
SELECT evaluate('IN SNAPSHOT ''双11 campaign''') AS without_16, members FROM snapshots WHERE label = '双11 campaign';
INSERT INTO sn_customers VALUES (16, 'shop_a', '上海');
INSERT INTO sn_orders (customer_id, amount) VALUES (16, 160);
-- text, JSON, canonical form and references
SELECT 'in snapshot ''双11 campaign'' and not exists orders during last 7 days'::segment_rule::jsonb;
SELECT '{"type": "snapshot", "label": "双11 campaign"}'::jsonb::segment_rule;
SELECT rule_snapshots('IN SNAPSHOT ''a'' OR IN SNAPSHOT ''b'' AND NOT IN SNAPSHOT ''a'' OR IN SEGMENT ''c'''),
       rule_segments('IN SNAPSHOT ''a'' OR IN SEGMENT ''c'''), rule_snapshots('customer.city = ''上海''');
-- a saved segment of the customers who got the campaign and ordered since
SELECT create_segment('campaign buyers', 'IN SNAPSHOT ''双11 campaign'' AND sum(orders.amount) >= 170') > 0 AS created;
SELECT members FROM segments WHERE name = 'campaign buyers';
-- and an auto tag of those who got it
SELECT create_tag_group('campaigns', allow_auto => true) > 0 AS created;
SELECT add_tag('campaigns', '双11', rule => 'IN SNAPSHOT ''双11 campaign''') > 0 AS added;
SELECT retag('campaigns');
SELECT array_agg(m.ordinal ORDER BY m.ordinal) AS tagged FROM tag_members m JOIN tags t ON t.id = m.tag_id WHERE t.value = '双11';
SELECT pg_temp.err($$SELECT drop_snapshot('双11 campaign')$$);
SELECT drop_tag_group('campaigns');
DELETE FROM tag_log WHERE group_name = 'campaigns';
-- an unknown label, at compile time and when saving
SELECT pg_temp.err($$SELECT evaluate('IN SNAPSHOT ''nosuch''')$$);
SELECT pg_temp.err($$SELECT create_segment('x', 'IN SNAPSHOT ''nosuch''')$$);
SELECT pg_temp.err($$SELECT alter_segment('campaign buyers', rule => 'IN SNAPSHOT ''双11''')$$);
SELECT pg_temp.err($$SELECT 'IN SNAPSHOT 双11'::segment_rule$$);
SELECT pg_temp.err($$SELECT '{"type": "snapshot", "name": "双11 campaign"}'::jsonb::segment_rule$$);
SELECT drop_segment('campaign buyers');

-- tenants: the other tenant neither sees nor drops shop_a's snapshots,
-- and may use the same label
SET segment.tenant = 'shop_b';
SELECT pg_temp.err($$SELECT drop_snapshot('双11 campaign')$$);
SELECT create_segment('big', 'sum(orders.amount) >= 250') > 0 AS created;
SELECT snapshot_segment('big', '双11 campaign') AS frozen_members;
SELECT tenant, label, members FROM snapshots WHERE label = '双11 campaign' ORDER BY tenant;
-- ... and its rules read its own snapshot of that label
SELECT evaluate('IN SNAPSHOT ''双11 campaign''') AS shop_b_campaign;
SELECT pg_temp.err($$SELECT evaluate('IN SNAPSHOT ''before the edit''')$$);
CREATE ROLE sn_reader LOGIN;
SELECT grant_tenant('shop_b', 'sn_reader');
SET ROLE sn_reader;
SELECT tenant, label, members FROM segment.snapshots ORDER BY label;
SELECT pg_temp.err($$DELETE FROM segment.snapshots$$);
SELECT pg_temp.err($$INSERT INTO segment.snapshots (label, segment_id, segment_name, members, member_count, rule, refreshed_at) VALUES ('forged', 1, 'big', '{1}', 1, 'x', now())$$);
RESET ROLE;
SELECT drop_snapshot('双11 campaign');
SELECT drop_segment('big');

SET segment.tenant = 'shop_a';
SELECT count(*) AS shop_a_snapshots FROM snapshots WHERE tenant = 'shop_a';
SELECT drop_snapshot(label) FROM snapshots WHERE tenant = 'shop_a' ORDER BY id;
SELECT count(*) AS left_over FROM snapshots;
SELECT drop_segment('big'), drop_segment('later'), drop_segment('nobody');
RESET segment.tenant;
SELECT revoke_usage('sn_reader');
DROP ROLE sn_reader;
SELECT unregister_source('orders');
SELECT unregister_customers();
DROP TABLE sn_customers, sn_orders;
