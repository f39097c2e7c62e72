#!/usr/bin/env bash
# Generalization benchmark of rule evaluation: segment.evaluate() against the
# best hand-written SQL on a schema written without knowledge of how rules
# are compiled (bench/generalize_data.sql: no foreign keys, bigint keys
# beyond 2^32 or text keys through the dictionary, monthly partitions, skew,
# NULLs, wide rows, five sources, tags, saved segments) with 41 rules
# unlike the 18 typical scenarios of bench/scenarios.sql (bench/generalize_rules.sql).
#
#   bash bench/generalize.sh [customers]      (default 1000000)
#   KEYS=bigint|text                          customer keys (default bigint)
#   SETTINGS=defaults|tuned|both              server settings (default both; the
#                                             data is generated once, the server
#                                             restarted between the two)
#   RULES=bench/generalize_behaviour_rules.sql  other rules instead of the 41 (loaded after
#                                             generalize_rules.sql, whose procedures they use)
#   FUNNELS=1                                 also event_funnel() against hand-written SQL
#                                             (bench/generalize_funnels.sql; bench/funnel.sh)
#   GROWTH=1 bash bench/generalize.sh         8 rules at 100k, 1M and 5M customers
#                                             (GROWTH_SIZES="..." to change; SETTINGS
#                                             defaults to tuned there): time per customer
#
# For each rule: evaluate() vs hand SQL, median of 3 warm runs (21 for rules under 50 ms) after one
# warm-up run that also checks the two return the same customers (keys
# compared, evaluate()'s audience mapped back through the dictionary).
# Ratios are segment / hand, measured in the same run.
set -eu -o pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
CUSTOMERS=${1:-1000000}
KEYS=${KEYS:-bigint}
GROWTH=${GROWTH:-0}
RULES=${RULES:-}
FUNNELS=${FUNNELS:-0}
if [ "$GROWTH" = 1 ]; then
    SETTINGS=${SETTINGS:-tuned}
    SIZES=${GROWTH_SIZES:-100000 1000000 5000000}
else
    SETTINGS=${SETTINGS:-both}
    SIZES=$CUSTOMERS
fi
AS_OF='2025-03-31 09:15:00+02'
case $KEYS in bigint|text) ;; *) echo "KEYS must be bigint or text, not $KEYS" >&2; exit 2 ;; esac
case $SETTINGS in
    defaults|tuned) MODES=$SETTINGS ;;
    both) MODES="defaults tuned" ;;
    *) echo "SETTINGS must be defaults, tuned or both, not $SETTINGS" >&2; exit 2 ;;
esac

install_deps
build_install
# 'defaults' is PostgreSQL's configuration with only the time zone set (the
# throwaway cluster also preloads pg_cron and runs with fsync off); 'tuned'
# adds these through ALTER SYSTEM.
# segment.dictionary_cache_size: 1GB holds the dictionary of 10M bigint keys
# (doc/reference/settings.md: about 100 bytes a key); the default 256MB
# holds 2.5M, and beyond that every rule joins the dictionary table.
TUNED=("shared_buffers = '2GB'" "work_mem = '128MB'" "effective_cache_size = '16GB'"
       "maintenance_work_mem = '1GB'" "random_page_cost = 1.1" "segment.dictionary_cache_size = '1GB'")
start_bench_cluster "timezone = 'Europe/Berlin'"
q() { as_pg env PGOPTIONS="-c search_path=segment,public" psql -X -q -At -h "$work" -p "$port" -U postgres \
          -d "${DB:-postgres}" -v ON_ERROR_STOP=1 "$@"; }

set_mode() {
    q -c 'ALTER SYSTEM RESET ALL'
    if [ "$1" = tuned ]; then
        local s
        # LOAD: ALTER SYSTEM knows segment's settings only once the library is loaded
        for s in "${TUNED[@]}"; do q -c "LOAD 'segment'" -c "ALTER SYSTEM SET ${s%% = *} = ${s#* = }"; done
    fi
    as_pg pg_ctl -D "$work/data" -l "$work/server.log" -w restart >/dev/null
    echo "    settings $1: $(q -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
        FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'effective_cache_size', 'random_page_cost',
        'max_parallel_workers_per_gather', 'TimeZone')"), dictionary cache $(q -c 'LOAD '"'"'segment'"'"'' -c 'SHOW segment.dictionary_cache_size')"
}

has_dictionary=$(q -c 'CREATE EXTENSION segment' -c "SELECT EXISTS (SELECT FROM pg_proc
    WHERE proname = 'register_customers' AND pronamespace = 'segment'::regnamespace AND 'dictionary' = ANY (proargnames))")
if [ "$KEYS" = bigint ] && [ "$has_dictionary" != t ]; then
    log "NOTE: segment.register_customers() has no 'dictionary' parameter yet, so bigint keys beyond 2^32"
    echo "    cannot be registered: running with text keys instead (KEYS=text)."
    KEYS=text
fi
q -f "$work/bench_lib.sql" -c 'CREATE TABLE bench.g_all (keys text, mode text, customers bigint, n int, name text,
    members bigint, hand_rows bigint, missing bigint, extra bigint, duplicates bigint, segment_ms float8, hand_ms float8,
    error text, ok boolean)' -c 'CREATE TABLE bench.g_funnel_all (keys text, mode text, customers bigint, n int, name text,
    members bigint[], window_members bigint[], lateral_members bigint[], segment_ms float8, window_ms float8,
    lateral_ms float8, error text)'

# Generates the shop for $1 customers in database g$1.
generate() {
    local n=$1
    log "generating the shop: $n customers, $KEYS keys"
    local t0
    t0=$(date +%s)
    q -c "CREATE DATABASE g$n"
    DB=g$n q -c 'CREATE EXTENSION segment' -f "$work/bench_lib.sql" \
        -v customers="$n" -v keys="$KEYS" -f "$work/generalize_data.sql" -f "$work/generalize_rules.sql" \
        ${RULES:+-f "$work/$(basename "$RULES")"} -f "$work/generalize_funnels.sql"
    DB=g$n q -c "SELECT format('    customers %s (ordinals %s), orders %s, order_items %s, page_views %s, support_tickets %s, app_events %s; %s',
        (SELECT count(*) FROM shop.customers), (SELECT count(*) FROM segment.customer_ordinals),
        (SELECT count(*) FROM shop.orders), (SELECT count(*) FROM shop.order_items),
        (SELECT count(*) FROM shop.page_views), (SELECT count(*) FROM shop.support_tickets),
        (SELECT count(*) FROM shop.app_events),
        pg_size_pretty(pg_database_size(current_database())))"
    echo "    generated in $(( $(date +%s) - t0 )) s"
    local bad
    bad=$(DB=g$n q -c "SELECT string_agg(format('%s resolves to %s, the hand SQL assumes %s', w,
        segment.resolve_window(w, '$AS_OF'), expect), E'\n') FROM bench.g_windows
        WHERE segment.resolve_window(w, '$AS_OF') IS DISTINCT FROM expect")
    if [ -n "$bad" ]; then
        echo "the hand-written queries' bounds do not match the windows:" >&2
        echo "$bad" >&2
        exit 1
    fi
}

# Runs the rules (the growth subset when $3 = true) in database g$1 at settings $2.
run_rules() {
    local n=$1 mode=$2 growth=$3
    log "rules at $n customers, settings $mode: segment.evaluate() vs hand-written SQL (warm, median of 3; 21 under 50 ms)"
    DB=g$n q -c "CALL bench.g_run('$mode', '$AS_OF', $growth, $n)" 2>&1 | sed -u 's/^NOTICE: */    /'
    DB=g$n q -c "COPY (SELECT '$KEYS', r.*, bench.g_ok(r) FROM bench.g_results r WHERE mode = '$mode') TO STDOUT" |
        q -c 'COPY bench.g_all FROM STDIN'
    [ "$FUNNELS" = 1 ] || return 0
    log "funnels at $n customers, settings $mode: event_funnel() vs hand-written SQL (warm, median of 3)"
    DB=g$n q -c "CALL bench.g_funnel_run('$mode', '$AS_OF', $n)" 2>&1 | sed -u 's/^NOTICE: */    /'
    DB=g$n q -c "COPY (SELECT '$KEYS', r.* FROM bench.g_funnel_results r WHERE mode = '$mode') TO STDOUT" |
        q -c 'COPY bench.g_funnel_all FROM STDIN'
}

for n in $SIZES; do
    generate "$n"
    for mode in $MODES; do
        set_mode "$mode"
        run_rules "$n" "$mode" "$([ "$GROWTH" = 1 ] && echo true || echo false)"
    done
    if [ "$GROWTH" = 1 ]; then q -c "DROP DATABASE g$n"; fi
done

if [ "$GROWTH" != 1 ]; then
    for mode in $MODES; do
        log "results at $CUSTOMERS customers, $KEYS keys, settings $mode (ratio = segment / hand)"
        q <<SQL
\pset format aligned
\pset tuples_only off
SELECT n, name, members, CASE WHEN ok THEN 'yes' ELSE 'WRONG' END AS same,
       round(segment_ms::numeric, 1) AS segment_ms, round(hand_ms::numeric, 1) AS hand_ms,
       round((segment_ms / greatest(hand_ms, 0.001))::numeric, 2) AS ratio
FROM bench.g_all WHERE mode = '$mode' ORDER BY n;
SQL
    done
    log "wrong results (members: evaluate(); missing: keys of the hand query evaluate() lacks; extra: the reverse)"
    q <<SQL
\pset format aligned
\pset tuples_only off
SELECT mode, n, name, members, hand_rows, missing, extra, duplicates, error
FROM bench.g_all WHERE NOT ok ORDER BY n, mode;
SQL
    if [ "$FUNNELS" = 1 ]; then
        log "funnels at $CUSTOMERS customers, $KEYS keys (ratio = event_funnel / hand; same: the per-step counts agree)"
        q <<SQL
\pset format aligned
\pset tuples_only off
SELECT mode, n, name, members, members = window_members AND members = lateral_members AS same,
       round(segment_ms::numeric, 1) AS segment_ms, round(window_ms::numeric, 1) AS window_ms,
       round(lateral_ms::numeric, 1) AS lateral_ms, round((segment_ms / window_ms)::numeric, 2) AS vs_window,
       round((segment_ms / lateral_ms)::numeric, 2) AS vs_lateral,
       round((segment_ms / least(window_ms, lateral_ms))::numeric, 2) AS vs_best, error
FROM bench.g_funnel_all ORDER BY mode, n;
SQL
    fi
    log "summary: $CUSTOMERS customers, $KEYS keys"
    q <<SQL
SELECT format('settings %-8s  rules %s  median ratio %s  max ratio %s (rule %s)  above 1.5: %s  wrong results: %s',
              mode, count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY segment_ms / greatest(hand_ms, 0.001))::numeric, 2),
              round(max(segment_ms / greatest(hand_ms, 0.001))::numeric, 2),
              (array_agg(n ORDER BY segment_ms / greatest(hand_ms, 0.001) DESC NULLS LAST))[1],
              count(*) FILTER (WHERE segment_ms / greatest(hand_ms, 0.001) > 1.5),
              count(*) FILTER (WHERE NOT ok))
FROM bench.g_all GROUP BY mode ORDER BY mode;
SQL
else
    log "growth: microseconds per customer, $KEYS keys (segment / hand)"
    q <<SQL
\pset format aligned
\pset tuples_only off
SELECT mode, n, name,
       string_agg(format('%s: %s / %s%s', customers,
                         round((segment_ms * 1000 / customers)::numeric, 3), round((hand_ms * 1000 / customers)::numeric, 3),
                         CASE WHEN ok THEN '' ELSE ' WRONG' END), '   ' ORDER BY customers) AS "us per customer, segment / hand"
FROM bench.g_all GROUP BY mode, n, name ORDER BY mode, n;
SELECT mode, customers, count(*) AS rules,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY segment_ms * 1000 / customers)::numeric, 3) AS segment_us_per_customer,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY hand_ms * 1000 / customers)::numeric, 3) AS hand_us_per_customer,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY segment_ms / greatest(hand_ms, 0.001))::numeric, 2) AS median_ratio,
       round(max(segment_ms / greatest(hand_ms, 0.001))::numeric, 2) AS max_ratio,
       count(*) FILTER (WHERE NOT ok) AS wrong
FROM bench.g_all GROUP BY mode, customers ORDER BY mode, customers;
SQL
fi
