#!/usr/bin/env bash
# Benchmark of rule evaluation and saved segments (issue 4).
#   bash bench/segments.sh [scale]     (default 1: 1M customers, ~5M orders,
#                                        ~5M order lines, ~10M messages and views)
# For each of the 18 typical scenarios (bench/scenarios.sql): segment.evaluate() vs the best plain
# SQL we could write for the same customers (same indexes, same server, warm,
# median of 3), with the member counts checked equal.  Then refresh_all() of
# 20 segments sharing sub-conditions vs the sum of their single refreshes.
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh
SCALE=${1:-1}
# SCENARIOS=bench/behaviour_rules.sql measures the behavioural conditions
# instead (same CRM, same comparison; no refresh_all part)
SCENARIOS=${SCENARIOS:-bench/scenarios.sql}
CUSTOMERS=$(awk "BEGIN { printf \"%d\", 1000000 * $SCALE }")
AS_OF='2024-08-09 11:00+08'

install_deps
build_install
case ${SETTINGS:-tuned} in defaults) start_bench_cluster "timezone = 'Asia/Shanghai'" ;; tuned) start_bench_cluster "shared_buffers = '2GB'" "work_mem = '128MB'" "max_parallel_workers_per_gather = 2" "timezone = 'Asia/Shanghai'" ;; *) echo "SETTINGS must be tuned or defaults" >&2; exit 2 ;; esac
cp demo/sample_data.sql "$work/"
q() { as_pg env PGOPTIONS="-c search_path=segment,public" psql -X -q -At -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

log "generating the CRM: $CUSTOMERS customers"
t0=$(date +%s)
q -c 'CREATE EXTENSION segment' -f "$work/bench_lib.sql" -v customers="$CUSTOMERS" -f "$work/sample_data.sql"
q -f "$work/crm_scale.sql"
q -c "SELECT format('customers %s, orders %s, order_lines %s, messages %s, page_views %s',
        (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines),
        (SELECT count(*) FROM messages), (SELECT count(*) FROM page_views))"
echo "    generated in $(( $(date +%s) - t0 )) s"
q <<'SQL'
SELECT register_customers('customers', 'id');
SELECT register_source('orders', 'orders', 'customer_id', 'paid_at');
SELECT register_source('order_lines', 'order_lines', 'customer_id', 'paid_at');
SELECT register_source('messages', 'messages', 'customer_id', 'sent_at');
SELECT register_source('page_views', 'page_views', 'customer_id', 'viewed_at');
SELECT create_tag_group('退订标签'), add_tag('退订标签', '已退订');
INSERT INTO segment.tag_members (tag_id, ordinal, source)
SELECT (SELECT id FROM segment.tags WHERE value = '已退订'), id, 'import' FROM customers WHERE id % 7 = 0;
ANALYZE segment.tag_members;
SQL
q -f "$work/$(basename "$SCENARIOS")"

log "$(basename "$SCENARIOS" .sql): segment.evaluate() vs hand-written SQL (warm, median of 3)"
q <<SQL
\pset format aligned
\pset tuples_only off
SET TimeZone = 'Asia/Shanghai';
CREATE TABLE bench.results AS
SELECT n, name,
       (SELECT segment.cardinality(segment.evaluate(rule::segment.segment_rule, '$AS_OF'))) AS members,
       bench.count_of(bench.hand(hand, '$AS_OF')) AS hand_members,
       bench.ms(format('SELECT segment.cardinality(segment.evaluate(%L, %L))', rule, '$AS_OF'), 3) AS segment_ms,
       bench.ms(format('SELECT count(*) FROM (%s) s', bench.hand(hand, '$AS_OF')), 3) AS hand_ms
FROM bench.scenarios ORDER BY n;
SELECT n, name, members, members = hand_members AS same, round(segment_ms::numeric, 1) AS segment_ms,
       round(hand_ms::numeric, 1) AS hand_ms, round((segment_ms / hand_ms)::numeric, 2) AS ratio
FROM bench.results ORDER BY n;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY segment_ms / hand_ms)::numeric, 2) AS median_ratio,
       round(max(segment_ms / hand_ms)::numeric, 2) AS max_ratio,
       count(*) FILTER (WHERE segment_ms / hand_ms > 1.5) AS above_1_5,
       count(*) FILTER (WHERE members <> hand_members) AS wrong
FROM bench.results;
SQL

[ "$SCENARIOS" = bench/scenarios.sql ] || exit 0
log "refresh_all() of 20 segments sharing sub-conditions vs 20 single refreshes"
q <<SQL
\pset format aligned
\pset tuples_only off
SET client_min_messages = warning;
SELECT count(segment.create_segment(name, rule::segment.segment_rule, refresh => false)) FROM bench.shared_segments;
CREATE TABLE bench.refresh_times (run int, singles_ms float8, all_ms float8);
DO \$\$
DECLARE
    t0 timestamptz;
    singles float8;
    s record;
BEGIN
    FOR run IN 1 .. 3 LOOP
        singles := 0;
        FOR s IN SELECT name FROM bench.shared_segments LOOP
            t0 := clock_timestamp();
            PERFORM segment.refresh(s.name);
            singles := singles + extract(epoch FROM clock_timestamp() - t0) * 1000;
        END LOOP;
        t0 := clock_timestamp();
        PERFORM count(*) FROM segment.refresh_all();
        INSERT INTO bench.refresh_times VALUES (run, singles, extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
END \$\$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY singles_ms)::numeric, 1) AS sum_of_single_refreshes_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY all_ms)::numeric, 1) AS refresh_all_ms,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY all_ms) /
              percentile_cont(0.5) WITHIN GROUP (ORDER BY singles_ms))::numeric, 2) AS ratio
FROM bench.refresh_times;
SELECT count(*) AS segments_checked, count(*) FILTER (WHERE s.members = segment.evaluate(s.rule)) AS equal_to_evaluate
FROM segment.segments s;
SQL
