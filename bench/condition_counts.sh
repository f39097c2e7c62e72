#!/usr/bin/env bash
# Benchmark of condition_counts() and explain_membership() (issue 16).
#   bash bench/condition_counts.sh [scale]   (default 1: the CRM of bench/segments.sh,
#                                             1M customers, ~5M orders, ~10M events)
# For each rule of bench/scenarios.sql (SCENARIOS=bench/behaviour_rules.sql for the
# behavioural ones): condition_counts(rule) against one estimate() of the
# whole rule, in the same run, warm, median of 3 each (target: within 1.5x),
# with the root's members checked equal to estimate(), the two run in turn so
# that both see the same load; beside it, what a client would run without
# it (estimate() of every node and partial combination, once); then the time
# of one explain_membership() against the same estimate(), for three customers.
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

log "$(basename "$SCENARIOS" .sql): condition_counts() vs one estimate() of the rule (warm, median of 3, interleaved)"
q <<SQL
\pset format aligned
\pset tuples_only off
SET TimeZone = 'Asia/Shanghai';
-- median ms of q1 and of q2, run in turn reps times after one warm-up of
-- each, so that both see the same load of a shared machine
CREATE FUNCTION bench.pair_ms(q1 text, q2 text, reps int DEFAULT 3, OUT ms1 float8, OUT ms2 float8)
LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz;
    a float8[] := '{}';
    b float8[] := '{}';
BEGIN
    EXECUTE q1;
    EXECUTE q2;
    FOR i IN 1 .. reps LOOP
        t0 := clock_timestamp();
        EXECUTE q1;
        a := a || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
        t0 := clock_timestamp();
        EXECUTE q2;
        b := b || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
    END LOOP;
    ms1 := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(a) t);
    ms2 := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(b) t);
END \$\$;
-- what a client would run without condition_counts(): estimate() of every
-- node and of every partial combination (the rules condition_counts()
-- answers), once each, right after the pair
CREATE FUNCTION bench.naive_ms(rule text, as_of timestamptz) RETURNS float8
LANGUAGE plpgsql AS \$\$
DECLARE
    k record;
    t0 timestamptz := clock_timestamp();
    counts jsonb;
    parts text[] := '{}';
BEGIN
    SELECT jsonb_agg(to_jsonb(c)) INTO counts FROM segment.condition_counts(rule::segment.segment_rule, as_of) c;
    FOR k IN SELECT c->>'path' AS path, c->>'condition' AS condition FROM jsonb_array_elements(counts) c LOOP
        parts := parts || k.condition;
    END LOOP;
    -- the partial combinations: a parent's children 1..k joined with its AND / OR
    FOR k IN SELECT p->>'path' AS path, p->>'condition' AS condition FROM jsonb_array_elements(counts) p LOOP
        IF (k.condition::segment.segment_rule::jsonb) ? 'group' THEN
            FOR n IN 2 .. (SELECT count(*) FROM jsonb_array_elements(counts) c
                           WHERE c->>'path' ~ ('^' || replace(k.path, '.', '\.') || '\.[0-9]+\$')) - 1 LOOP
                parts := parts || (SELECT string_agg('(' || (c->>'condition') || ')',
                                                     ' ' || (k.condition::segment.segment_rule::jsonb ->> 'group') || ' ')
                                   FROM jsonb_array_elements(counts) c
                                   WHERE c->>'path' ~ ('^' || replace(k.path, '.', '\.') || '\.[0-9]+\$')
                                     AND substring(c->>'path' FROM '[0-9]+\$')::int <= n);
            END LOOP;
        END IF;
    END LOOP;
    t0 := clock_timestamp();
    PERFORM segment.estimate(x::segment.segment_rule, as_of) FROM unnest(parts) x;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;
CREATE TABLE bench.counts_results AS
SELECT n, name,
       (SELECT count(*) FROM segment.condition_counts(rule::segment.segment_rule, '$AS_OF')) AS nodes,
       segment.estimate(rule::segment.segment_rule, '$AS_OF') AS members,
       (SELECT k.members FROM segment.condition_counts(rule::segment.segment_rule, '$AS_OF') k WHERE k.path = '1') AS counted,
       p.ms1 AS estimate_ms, p.ms2 AS counts_ms, bench.naive_ms(rule, '$AS_OF') AS naive_ms
FROM bench.scenarios,
     LATERAL bench.pair_ms(format('SELECT segment.estimate(%L, %L)', rule, '$AS_OF'),
                           format('SELECT count(*) FROM segment.condition_counts(%L, %L)', rule, '$AS_OF')) p
ORDER BY n;
SELECT n, name, nodes, members, members = counted AS same, round(estimate_ms::numeric, 1) AS estimate_ms,
       round(counts_ms::numeric, 1) AS counts_ms, round((counts_ms / estimate_ms)::numeric, 2) AS ratio,
       round(naive_ms::numeric, 1) AS naive_ms, round((counts_ms / naive_ms)::numeric, 2) AS vs_naive
FROM bench.counts_results ORDER BY n;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY counts_ms / estimate_ms)::numeric, 2) AS median_ratio,
       round(max(counts_ms / estimate_ms)::numeric, 2) AS max_ratio,
       count(*) FILTER (WHERE counts_ms / estimate_ms > 1.5) AS above_1_5,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY counts_ms / naive_ms)::numeric, 2) AS median_vs_naive,
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
