#!/usr/bin/env bash
# Benchmark of condition_counts() and explain_membership() (issue 16).
#   bash bench/condition_counts.sh [scale]   (default 1: the CRM of bench/segments.sh,
#                                             1M customers, ~5M orders, ~10M events)
# For each rule of bench/scenarios.sql (SCENARIOS=bench/behaviour_rules.sql for the
# behavioural ones): condition_counts(rule) against one estimate() of the
# whole rule, in the same run, warm, median of 3 each (target: within 1.5x),
# with the root's members checked equal to estimate(); then the time of one
# explain_membership() against the same estimate(), for three customers.
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh
SCALE=${1:-1}
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

log "$(basename "$SCENARIOS" .sql): condition_counts() vs one estimate() of the rule (warm, median of 3)"
q <<SQL
\pset format aligned
\pset tuples_only off
SET TimeZone = 'Asia/Shanghai';
-- warm both once, then time them in turn
SELECT count(*) AS warmed FROM bench.scenarios, LATERAL (SELECT segment.estimate(rule::segment.segment_rule, '$AS_OF'),
       (SELECT count(*) FROM segment.condition_counts(rule::segment.segment_rule, '$AS_OF'))) w;
CREATE TABLE bench.counts_results AS
SELECT n, name,
       (SELECT count(*) FROM segment.condition_counts(rule::segment.segment_rule, '$AS_OF')) AS nodes,
       segment.estimate(rule::segment.segment_rule, '$AS_OF') AS members,
       (SELECT k.members FROM segment.condition_counts(rule::segment.segment_rule, '$AS_OF') k WHERE k.path = '1') AS counted,
       bench.ms(format('SELECT segment.estimate(%L, %L)', rule, '$AS_OF'), 3) AS estimate_ms,
       bench.ms(format('SELECT count(*) FROM segment.condition_counts(%L, %L)', rule, '$AS_OF'), 3) AS counts_ms
FROM bench.scenarios ORDER BY n;
SELECT n, name, nodes, members, members = counted AS same, round(estimate_ms::numeric, 1) AS estimate_ms,
       round(counts_ms::numeric, 1) AS counts_ms, round((counts_ms / estimate_ms)::numeric, 2) AS ratio
FROM bench.counts_results ORDER BY n;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY counts_ms / estimate_ms)::numeric, 2) AS median_ratio,
       round(max(counts_ms / estimate_ms)::numeric, 2) AS max_ratio,
       count(*) FILTER (WHERE counts_ms / estimate_ms > 1.5) AS above_1_5,
       count(*) FILTER (WHERE members <> counted) AS wrong
FROM bench.counts_results;
SQL

log "explain_membership() of one customer vs one estimate() of the rule (median of 3)"
q <<SQL
\pset format aligned
\pset tuples_only off
SET TimeZone = 'Asia/Shanghai';
SELECT s.n, s.name, round(r.estimate_ms::numeric, 1) AS estimate_ms,
       round(bench.ms(format('SELECT count(*) FROM segment.explain_membership(%L::segment.segment_rule, %s, %L)',
                             s.rule, k, '$AS_OF'), 3)::numeric, 1) AS explain_ms, k AS customer
FROM bench.scenarios s JOIN bench.counts_results r USING (n), (VALUES (1), ($CUSTOMERS / 2), ($CUSTOMERS - 7)) c(k)
ORDER BY s.n, k;
SQL
