-- segment_rule <-> jsonb: the JSON form rule-builder UIs send.
SET search_path = segment, public;
\set SHOW_CONTEXT never

-- 18 everyday segmentation scenarios: text -> rule -> jsonb -> rule is the same
-- rule, and jsonb -> rule -> jsonb the same JSON
CREATE TABLE json_scenario (n int PRIMARY KEY, rule segment_rule);
INSERT INTO json_scenario VALUES
 (1,  'TAG ''退订标签'' NOT IN (''已退订'') AND customer.age > 30'),
 (2,  'max(orders.paid_at) < 90 days ago AND count(orders WHERE status = ''paid'') >= 1'),
 (3,  'EXISTS orders DURING BETWEEN ''2023-12-01'' AND ''2023-12-31'' AND NOT EXISTS orders DURING SINCE ''2024-01-01'''),
 (4,  'EXISTS order_lines WHERE sku = ''A'' AND NOT EXISTS order_lines WHERE sku = ''B'''),
 (5,  'count(orders WHERE status = ''paid'' DURING LAST 180 days) >= 3'),
 (6,  'EXISTS orders AND NOT EXISTS orders DURING LAST 1 year'),
 (7,  'customer.registered_at DURING LAST 15 days AND count(orders) = 0'),
 (8,  'min(orders.paid_at) DURING LAST 60 days AND count(orders WHERE status = ''paid'') > 1'),
 (9,  'NOT EXISTS orders DURING LAST 90 days AND count(orders WHERE status = ''paid'') > 4 AND avg(orders.amount WHERE status = ''paid'') > 200'),
 (10, 'EXISTS messages WHERE campaign = ''A'' AND kind = ''delivered'' DURING YESTERDAY AND NOT EXISTS messages WHERE campaign = ''A'' AND kind = ''read'' DURING YESTERDAY'),
 (11, 'EXISTS messages WHERE kind = ''clicked'' AND button = ''coupon'' DURING PREVIOUS week AND NOT EXISTS orders WHERE status = ''paid'' DURING THIS week'),
 (12, 'EXISTS messages WHERE kind = ''inbound'' AND count(orders) = 0'),
 (13, 'sum(orders.amount WHERE status = ''paid'') >= 300 AND sum(orders.amount WHERE status = ''paid'') < 2000'),
 (14, 'count(orders WHERE status = ''paid'') BETWEEN 1 AND 3'),
 (15, 'EXISTS page_views WHERE seconds > 15 DURING LAST 15 days AND NOT EXISTS orders WHERE status = ''paid'''),
 (16, 'sum(orders.amount WHERE channel = ''store'' AND status = ''paid'') > 1000 AND NOT EXISTS orders DURING LAST 30 days'),
 (17, 'customer.followed_at DURING LAST 1 month AND NOT EXISTS orders'),
 (18, 'EXISTS order_lines WHERE product_type = ''consumable-1m'' DURING PAST 25 TO 35 days');
SELECT n, rule::jsonb FROM json_scenario ORDER BY n;
SELECT n FROM json_scenario WHERE rule::jsonb::segment_rule::text <> rule::text;
SELECT n FROM json_scenario WHERE rule::jsonb::segment_rule::jsonb <> rule::jsonb;
SELECT count(*) AS scenarios_round_tripped FROM json_scenario WHERE rule_from_json(rule_to_json(rule))::text = rule::text;

-- what a rule builder sends: groups, nested groups, not, Unicode
SELECT $${"group": "and", "conditions": [
           {"type": "attribute", "field": "city", "operator": "in", "values": ["上海", "北京"]},
           {"group": "or", "conditions": [
               {"type": "aggregate", "function": "sum", "source": "orders", "field": "amount",
                "filter": {"field": "status", "operator": "=", "values": ["paid"]},
                "window": {"type": "last", "count": 30, "unit": "day"}, "operator": ">=", "values": [1000]},
               {"not": {"type": "tag", "group": "退订标签", "operator": "in", "values": ["已退订"]}}]},
           {"type": "exists", "source": "page_views", "filter": {"field": "seconds", "operator": ">", "values": [15]},
            "window": {"type": "past", "from": 0, "to": 1, "unit": "days"}},
           {"type": "attribute", "field": "registered_at", "operator": "<", "values": [{"ago": 15, "unit": "day"}]},
           {"type": "attribute", "field": "registered_at", "operator": "not during", "values": [{"type": "this", "unit": "month"}]},
           {"type": "segment", "name": "VIP 客户"}]}$$::jsonb::segment_rule;
-- a group of one condition is that condition; numbers keep their spelling as jsonb keeps it
SELECT '{"group": "or", "conditions": [{"type": "attribute", "field": "score", "operator": "between", "values": [-1.50, 1e3]}]}'::jsonb::segment_rule;
SELECT '{"type": "attribute", "field": "x", "operator": "=", "values": [{"number": "1."}]}'::jsonb::segment_rule,
       'customer.x = 1.'::segment_rule::jsonb;
SELECT '{"type": "exists", "source": "orders", "window": {"type": "since", "from": {"moment": "today"}}}'::jsonb::segment_rule,
       '{"type": "exists", "source": "orders", "window": {"type": "before", "to": "2024-01-01 10:00:00+08"}}'::jsonb::segment_rule;
SELECT '{"type": "tag", "group": "g", "operator": "is not empty"}'::jsonb::segment_rule::jsonb;
SELECT 'customer."Full Name" LIKE ''Wang%'' AND customer.note = ''a"b\c'''::segment_rule::jsonb;

-- NULL in, NULL out
SELECT rule_to_json(NULL), rule_from_json(NULL), NULL::jsonb::segment_rule;

-- a large rule: 5000 values in an IN list
SELECT length(rule_to_json(format('customer.id IN (%s)', (SELECT string_agg(g::text, ', ') FROM generate_series(1, 5000) g))::segment_rule)::text) > 20000 AS big,
       (SELECT jsonb_build_object('type', 'attribute', 'field', 'id', 'operator', 'in',
                                  'values', jsonb_agg(g)) FROM generate_series(1, 5000) g)::segment_rule::text
       = format('customer.id IN (%s)', (SELECT string_agg(g::text, ', ') FROM generate_series(1, 5000) g))::segment_rule::text AS same;

-- errors: shape, with the JSON location
SELECT '{}'::jsonb::segment_rule;
SELECT '[]'::jsonb::segment_rule;
SELECT '"customer.age > 3"'::jsonb::segment_rule;
SELECT '{"type": "colour"}'::jsonb::segment_rule;
SELECT '{"type": "segment", "name": "a", "extra": true}'::jsonb::segment_rule;
SELECT '{"group": "xor", "conditions": []}'::jsonb::segment_rule;
SELECT '{"group": "and", "conditions": []}'::jsonb::segment_rule;
SELECT '{"group": "and", "conditions": [{"type": "attribute", "field": "a", "operator": "~", "values": [1]}]}'::jsonb::segment_rule;
SELECT '{"type": "attribute", "field": "a", "operator": "=", "values": [1, 2]}'::jsonb::segment_rule;
SELECT '{"type": "attribute", "field": "a", "operator": "=", "values": [null]}'::jsonb::segment_rule;
SELECT '{"type": "attribute", "field": "a", "operator": "=", "values": 1}'::jsonb::segment_rule;
SELECT '{"type": "attribute", "field": 7, "operator": "=", "values": [1]}'::jsonb::segment_rule;
SELECT '{"type": "attribute", "field": "a", "operator": "is null", "values": [1]}'::jsonb::segment_rule;
SELECT '{"type": "aggregate", "function": "median", "source": "o", "operator": ">", "values": [1]}'::jsonb::segment_rule;
SELECT '{"type": "tag", "group": "g", "operator": "contains", "values": ["a"]}'::jsonb::segment_rule;
SELECT '{"type": "exists", "source": "o", "window": {"type": "fortnight"}}'::jsonb::segment_rule;
SELECT '{"type": "exists", "source": "o", "window": {"type": "last", "count": 3, "unit": "day; DROP TABLE x"}}'::jsonb::segment_rule;
SELECT '{"type": "attribute", "field": "a", "operator": "=", "values": [{"ago": 3, "unit": "day", "x": 1}]}'::jsonb::segment_rule;
SELECT '{"type": "attribute", "field": "a", "operator": "=", "values": [{"moment": "tomorrow"}]}'::jsonb::segment_rule;
-- errors the language itself reports (same messages as for rule text)
SELECT '{"type": "attribute", "field": "a", "operator": "in", "values": []}'::jsonb::segment_rule;
SELECT '{"type": "exists", "source": "o", "window": {"type": "last", "count": 3, "unit": "fortnight"}}'::jsonb::segment_rule;
SELECT '{"type": "exists", "source": "o", "window": {"type": "between", "from": "2024-02-30", "to": "2024-03-01"}}'::jsonb::segment_rule;
SELECT '{"type": "exists", "source": "o", "window": {"type": "past", "from": 3, "to": 1, "unit": "day"}}'::jsonb::segment_rule;
SELECT '{"type": "exists", "source": "o", "window": {"type": "last", "count": 2.5, "unit": "day"}}'::jsonb::segment_rule;
SELECT (repeat('{"not": ', 70) || '{"type": "segment", "name": "a"}' || repeat('}', 70))::jsonb::segment_rule;
SELECT jsonb_build_object('type', 'attribute', 'field', 'id', 'operator', 'in', 'values', (SELECT jsonb_agg(g) FROM generate_series(1, 10001) g))::segment_rule;

DROP TABLE json_scenario;
