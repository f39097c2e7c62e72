#!/usr/bin/env bash
# Benchmark of scale-out over postgres_fdw (issue 17, doc/scale-out.md).
#   [SCENARIOS="101 107"] bash bench/scale_out.sh [scale] ["2 4"]   (default 1: 1M customers, ~5M orders,
#                                            ~5M order lines, ~10M messages and views;
#                                            layouts of 2 and 4 shards)
# A coordinator cluster and 4 shard clusters on this machine.  The sample CRM
# (demo/sample_data.sql, bench/crm_scale.sql) is generated once on a single
# node (database "single" of the coordinator cluster), then copied, hash-
# partitioned by customer, into the shards; the coordinator's tables are
# partitioned tables of postgres_fdw foreign partitions (extensions
# 'segment', async_capable, fetch_size 10000).  For each scenario of
# bench/scenarios.sql and bench/behaviour_rules.sql, warm, median of 3:
#   single_ms   segment.evaluate() on the single node
#   shard_ms    segment.evaluate() on the coordinator
#   hand_ms     the hand-written SQL on the coordinator (rows pulled over postgres_fdw)
#   seg_kb      bytes the shards send for evaluate(): the text COPY output of
#               every "Remote SQL" of its plan, run on its shard
#   hand_kb     the same for the hand-written SQL
#   shard_max_ms  the slowest shard's own time for evaluate()'s remote queries
#                 (each run on its shard, one after the other)
#   off_ms, off_kb  evaluate() and its bytes with segment.shard_aggregates = off
#               (aggregates push their GROUP BY down and ship one row per
#               customer, the form before grouped_audience_agg()), same run
# with the member counts checked equal (single, sharded, hand, off).
#   SCENARIOS="5 14 104"  only these scenarios (behavioural ones from 101)
#   SETUP_ONLY=1          build the layouts, leave the clusters running, print
#                         how to reach them and stop (no measurements)
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh
SCALE=${1:-1}
LAYOUTS=${2:-2 4}
CUSTOMERS=$(awk "BEGIN { printf \"%d\", 1000000 * $SCALE }")
AS_OF='2024-08-09 11:00+08'
MAXSHARDS=0
for n in $LAYOUTS; do [ "$n" -gt "$MAXSHARDS" ] && MAXSHARDS=$n; done

install_deps
build_install
CONF=("shared_buffers = '1GB'" "work_mem = '128MB'" "max_parallel_workers_per_gather = 2" "timezone = 'Asia/Shanghai'")
work=$(make_workdir)
declare -A PORT
stop_all() {
    for d in "$work"/*/; do [ -d "$d/data" ] && stop_cluster "$d"; done
    rm -rf "$work"
}
trap stop_all EXIT
for n in coord $(seq -f 'shard%g' 1 "$MAXSHARDS"); do
    mkdir -p "$work/$n"; [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$work/$n"
    PORT[$n]=$(free_port)
    start_cluster "$work/$n" "${PORT[$n]}"
    printf '%s\n' "${CONF[@]}" >>"$work/$n/data/postgresql.conf"
    as_pg pg_ctl -D "$work/$n/data" -l "$work/$n/server.log" -w restart >/dev/null
done
cp bench/*.sql demo/sample_data.sql "$work/"
chmod 644 "$work"/*.sql
# q node db [psql args]
q() { local n=$1 db=$2; shift 2
      as_pg env PGOPTIONS="-c search_path=segment,public" psql -X -q -At -h "$work/$n" -p "${PORT[$n]}" -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"; }
TABLES="customers orders order_lines messages page_views"    # in the order of their foreign keys
keyof() { [ "$1" = customers ] && echo id || echo customer_id; }
REGISTER="SELECT register_customers('customers', 'id');
SELECT register_source('orders', 'orders', 'customer_id', 'paid_at');
SELECT register_source('order_lines', 'order_lines', 'customer_id', 'paid_at');
SELECT register_source('messages', 'messages', 'customer_id', 'sent_at');
SELECT register_source('page_views', 'page_views', 'customer_id', 'viewed_at');
SELECT create_tag_group('退订标签'), add_tag('退订标签', '已退订');
INSERT INTO segment.tag_members (tag_id, ordinal, source)
SELECT (SELECT id FROM segment.tags WHERE value = '已退订'), id, 'import' FROM customers WHERE id % 7 = 0;
ANALYZE segment.tag_members;"
# the scenarios of both files in one table (behavioural ones numbered from 101)
cat >"$work/scen.sql" <<SQL
\\i $work/scenarios.sql
ALTER TABLE bench.scenarios RENAME TO s1;
\\i $work/behaviour_rules.sql
INSERT INTO bench.s1 SELECT n + 100, name, rule, hand FROM bench.scenarios;
DROP TABLE bench.scenarios; ALTER TABLE bench.s1 RENAME TO scenarios;
${SCENARIOS:+DELETE FROM bench.scenarios WHERE n <> ALL ('{$(echo "$SCENARIOS" | tr ' ' ',')}'::int[]);}
-- the remote queries of a query's plan: the relation (its name ends in _s<shard>) and the SQL
CREATE FUNCTION bench.remote_sql(q text) RETURNS TABLE (rel text, sql text) LANGUAGE plpgsql AS \$\$
DECLARE p json;
BEGIN
    EXECUTE 'EXPLAIN (VERBOSE, FORMAT JSON) ' || q INTO p;
    RETURN QUERY SELECT coalesce(o->>'Relations', o->>'Relation Name'), o->>'Remote SQL'
        FROM jsonb_path_query(p::jsonb, 'strict \$.**') o WHERE jsonb_typeof(o) = 'object' AND o ? 'Remote SQL';
END \$\$;
SQL
# SCENARIOS="101 102": only those scenarios (numbers as above);
# SERVER_OPTIONS="use_remote_estimate 'true'": more options of the servers
[ -z "${SCENARIOS:-}" ] || echo "DELETE FROM bench.scenarios WHERE n <> ALL ('{${SCENARIOS// /,}}'::int[]);" >>"$work/scen.sql"

log "generating the CRM on the single node: $CUSTOMERS customers"
t0=$(date +%s)
q coord postgres -c 'CREATE DATABASE single'
q coord single -c 'CREATE EXTENSION segment' -f "$work/bench_lib.sql" -v customers="$CUSTOMERS" -f "$work/sample_data.sql"
q coord single -f "$work/crm_scale.sql"
q coord single -c "$REGISTER" >/dev/null
q coord single -f "$work/scen.sql" >/dev/null
# hash routing of int keys, as the coordinator's partitioned tables do it
q coord single -c "CREATE TABLE bench.hp (k int) PARTITION BY HASH (k)"
echo "    generated in $(( $(date +%s) - t0 )) s"

for N in $LAYOUTS; do
    log "$N shards: copying the rows to the shards"
    t0=$(date +%s)
    db=shards$N
    for i in $(seq 1 "$N"); do
        q "shard$i" postgres -c "CREATE DATABASE $db"
        # empty tables with the single node's keys and indexes
        q "shard$i" "$db" -c 'CREATE EXTENSION segment' -c 'SET search_path = public' -v customers=0 -f "$work/sample_data.sql" -f "$work/crm_scale.sql" -f "$work/bench_lib.sql" >/dev/null
        for t in $TABLES; do
            q coord single -c "COPY (SELECT * FROM $t WHERE satisfies_hash_partition('bench.hp'::regclass, $N, $((i - 1)), $(keyof "$t"))) TO STDOUT" |
                q "shard$i" "$db" -c "COPY $t FROM STDIN"
        done
        q "shard$i" "$db" -c 'VACUUM ANALYZE'
    done
    setup="CREATE EXTENSION segment; CREATE EXTENSION postgres_fdw;
CREATE SCHEMA tmpl; SET search_path = tmpl;
\\i $work/sample_data.sql
RESET search_path;"
    servers=""
    for i in $(seq 1 "$N"); do
        setup="$setup
CREATE SERVER s$i FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$work/shard$i', port '${PORT[shard$i]}', dbname '$db',
    extensions 'segment', async_capable 'true', fetch_size '10000'${SERVER_OPTIONS:+, $SERVER_OPTIONS});
CREATE USER MAPPING FOR CURRENT_USER SERVER s$i;"
        servers="$servers${servers:+, }'s$i'"
    done
    for t in $TABLES; do
        setup="$setup
CREATE TABLE public.$t (LIKE tmpl.$t) PARTITION BY HASH ($(keyof "$t"));
SELECT count(*) FROM segment.create_foreign_partitions('public.$t', ARRAY[$servers]);"
    done
    q coord postgres -c "CREATE DATABASE $db"
    # plain ANALYZE skips foreign tables (and autovacuum never analyzes
    # them): without their statistics, joins are planned blind
    printf '%s\nDROP SCHEMA tmpl CASCADE;\nANALYZE;\n%s\n' "$setup" \
        "DO \$\$ DECLARE r regclass; BEGIN FOR r IN SELECT c.oid FROM pg_class c WHERE c.relkind = 'f' LOOP EXECUTE format('ANALYZE %s', r); END LOOP; END \$\$;" \
        >"$work/setup$N.sql"
    q coord "$db" -v customers=0 -f "$work/setup$N.sql" >/dev/null
    q coord "$db" -f "$work/bench_lib.sql" -c "$REGISTER" -f "$work/scen.sql" >/dev/null
    q coord "$db" -c "SELECT name, shards FROM segment.sharding()" | tr '\n' ' '; echo
    echo "    copied in $(( $(date +%s) - t0 )) s"
done

# SETUP_ONLY=1: leave the clusters running for a look by hand, and stop here
if [ "${SETUP_ONLY:-0}" = 1 ]; then
    trap - EXIT
    for n in coord $(seq -f 'shard%g' 1 "$MAXSHARDS"); do
        echo "    $n: psql -h $work/$n -p ${PORT[$n]} -U postgres (as $PG_USER); pg_ctl -D $work/$n/data stop"
    done
    echo "    databases: single (one node), $(for N in $LAYOUTS; do printf 'shards%s ' "$N"; done)on the coordinator"
    exit 0
fi

# remote_bytes db query N: the query's remote queries, each run on its shard:
# prints "bytes rows max_shard_ms" (text COPY bytes and rows they send; the
# slowest shard's total of their median times)
remote_bytes() {
    local db=$1 query=$2 N=$3
    local plan bytes=0 rows=0 i out t
    declare -A ms
    for i in $(seq 1 "$N"); do ms[$i]=0; done
    plan=$(q coord "$db" -c "SET TimeZone = 'Asia/Shanghai'" -c "SELECT rel || chr(9) || sql FROM bench.remote_sql(\$q\$$query\$q\$)")
    while IFS=$'\t' read -r rel sql; do
        [ -n "$sql" ] || continue
        i=$(echo "$rel" | grep -oE '_s[0-9]+' | head -1 | tr -d '_s')
        [ -n "$i" ] || continue
        case "$sql" in *'$1'*) continue ;; esac    # parameterized (per outer row): not measured
        out=$(q "shard$i" "$db" -c "COPY ($sql) TO STDOUT" | wc -l -c) || out="0 0"
        rows=$((rows + $(echo "$out" | awk '{print $1}')))
        bytes=$((bytes + $(echo "$out" | awk '{print $2}')))
        # the query itself (a count(*) around it lets the planner drop an
        # unused aggregate: audience queries took "0 ms")
        t=$(q "shard$i" "$db" -c "SELECT round(bench.ms(\$q\$$sql\$q\$, 3))") || t=0
        ms[$i]=$(( ${ms[$i]} + t ))
    done <<<"$plan"
    local mx=0
    for i in $(seq 1 "$N"); do [ "${ms[$i]}" -gt "$mx" ] && mx=${ms[$i]}; done
    echo "$bytes $rows $mx"
}

log "single node: segment.evaluate() (warm, median of 3)"
q coord single <<SQL
SET TimeZone = 'Asia/Shanghai';
CREATE TABLE bench.single AS
SELECT n, (SELECT segment.cardinality(segment.evaluate(rule::segment.segment_rule, '$AS_OF'))) AS members,
       bench.ms(format('SELECT segment.cardinality(segment.evaluate(%L, %L))', rule, '$AS_OF'), 3) AS ms
FROM bench.scenarios ORDER BY n;
SQL
q coord single -c "COPY bench.single TO STDOUT" >"$work/single.tsv"

for N in $LAYOUTS; do
    db=shards$N
    log "$N shards: evaluate() and the hand-written SQL on the coordinator (warm, median of 3)"
    q coord "$db" -c "CREATE TABLE bench.single (n int, members bigint, ms float8)" -c "COPY bench.single FROM STDIN" <"$work/single.tsv"
    # one scenario at a time, each measurement under a statement timeout
    # (sequences over foreign partitions can be quadratic: doc/scale-out.md)
    q coord "$db" <<SQL
CREATE TABLE bench.sharded AS
SELECT n, name, NULL::bigint AS members, NULL::bigint AS hand_members, NULL::float8 AS shard_ms, NULL::float8 AS hand_ms,
       segment.compile(rule::segment.segment_rule, '$AS_OF') AS sql, bench.hand(hand, '$AS_OF') AS hand_sql,
       0::bigint AS seg_bytes, 0::bigint AS seg_rows, 0::bigint AS shard_max_ms, 0::bigint AS hand_bytes, 0::bigint AS hand_rows,
       NULL::bigint AS off_members, NULL::float8 AS off_ms, NULL::text AS off_sql, 0::bigint AS off_bytes
FROM bench.scenarios ORDER BY n;
SET segment.shard_aggregates = off;
UPDATE bench.sharded h SET off_sql = segment.compile(s.rule::segment.segment_rule, '$AS_OF') FROM bench.scenarios s WHERE s.n = h.n;
SQL
    for n in $(q coord "$db" -c "SELECT n FROM bench.sharded ORDER BY n"); do
        q coord "$db" -c "SET TimeZone = 'Asia/Shanghai'" -c "SET statement_timeout = '${TIMEOUT:-300s}'" \
          -c "UPDATE bench.sharded h SET members = (SELECT segment.cardinality(segment.evaluate(s.rule::segment.segment_rule, '$AS_OF'))),
                     shard_ms = bench.ms(format('SELECT segment.cardinality(segment.evaluate(%L, %L))', s.rule, '$AS_OF'), 3)
              FROM bench.scenarios s WHERE s.n = h.n AND h.n = $n" || echo "    scenario $n: evaluate() timed out"
        q coord "$db" -c "SET TimeZone = 'Asia/Shanghai'" -c "SET statement_timeout = '${TIMEOUT:-300s}'" -c "SET segment.shard_aggregates = off" \
          -c "UPDATE bench.sharded h SET off_members = (SELECT segment.cardinality(segment.evaluate(s.rule::segment.segment_rule, '$AS_OF'))),
                     off_ms = bench.ms(format('SELECT segment.cardinality(segment.evaluate(%L, %L))', s.rule, '$AS_OF'), 3)
              FROM bench.scenarios s WHERE s.n = h.n AND h.n = $n" || echo "    scenario $n: evaluate() with shard_aggregates off timed out"
        q coord "$db" -c "SET TimeZone = 'Asia/Shanghai'" -c "SET statement_timeout = '${TIMEOUT:-300s}'" \
          -c "UPDATE bench.sharded h SET hand_members = bench.count_of(h.hand_sql),
                     hand_ms = bench.ms(format('SELECT count(*) FROM (%s) s', h.hand_sql), 3) WHERE h.n = $n" || echo "    scenario $n: hand-written SQL timed out"
    done
    for n in $(q coord "$db" -c "SELECT n FROM bench.sharded ORDER BY n"); do
        sql=$(q coord "$db" -c "SELECT sql FROM bench.sharded WHERE n = $n")
        hand=$(q coord "$db" -c "SELECT hand_sql FROM bench.sharded WHERE n = $n")
        read -r sb sr smax <<<"$(remote_bytes "$db" "$sql" "$N")"
        read -r hb hr _ <<<"$(remote_bytes "$db" "$hand" "$N")"
        off=$(q coord "$db" -c "SELECT off_sql FROM bench.sharded WHERE n = $n")
        if [ "$off" = "$sql" ]; then ob=$sb; else read -r ob _ _ <<<"$(remote_bytes "$db" "$off" "$N")"; fi
        q coord "$db" -c "UPDATE bench.sharded SET seg_bytes = $sb, seg_rows = $sr, shard_max_ms = $smax, hand_bytes = $hb, hand_rows = $hr,
                                 off_bytes = $ob WHERE n = $n"
    done
    q coord "$db" <<'SQL'
\pset format aligned
\pset tuples_only off
SELECT h.n, h.name, h.members, h.members = s.members AND h.members = h.hand_members AND h.members = h.off_members AS same,
       round(s.ms::numeric, 1) AS single_ms, round(h.shard_ms::numeric, 1) AS shard_ms,
       round((h.shard_ms / s.ms)::numeric, 2) AS vs_single, round(h.hand_ms::numeric, 1) AS hand_ms,
       round((h.shard_ms / h.hand_ms)::numeric, 2) AS vs_hand,
       round(h.seg_bytes / 1024.0, 1) AS seg_kb, h.seg_rows, round(h.hand_bytes / 1024.0, 1) AS hand_kb, h.hand_rows,
       round(h.hand_bytes::numeric / greatest(h.seg_bytes, 1), 1) AS fewer_bytes, h.shard_max_ms,
       round(h.off_ms::numeric, 1) AS off_ms, round(h.off_bytes / 1024.0, 1) AS off_kb,
       round(h.off_bytes::numeric / greatest(h.seg_bytes, 1), 1) AS fewer_than_off
FROM bench.sharded h JOIN bench.single s USING (n) ORDER BY h.n;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY h.shard_ms / s.ms)::numeric, 2) AS median_vs_single,
       round(max(h.shard_ms / s.ms)::numeric, 2) AS max_vs_single,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY h.shard_ms / h.hand_ms)::numeric, 2) AS median_vs_hand,
       round(sum(h.hand_bytes)::numeric / greatest(sum(h.seg_bytes), 1), 1) AS total_fewer_bytes,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY h.hand_bytes::float8 / greatest(h.seg_bytes, 1))::numeric, 1) AS median_fewer_bytes,
       round(sum(h.off_bytes)::numeric / greatest(sum(h.seg_bytes), 1), 1) AS total_fewer_than_off,
       count(*) FILTER (WHERE NOT (h.members = s.members AND h.members = h.hand_members AND h.members = h.off_members)) AS wrong,
       count(*) FILTER (WHERE h.members IS NULL OR h.hand_members IS NULL OR h.off_members IS NULL) AS timed_out
FROM bench.sharded h JOIN bench.single s USING (n);
SQL
done
