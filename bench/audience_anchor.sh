#!/usr/bin/env bash
# audience against pg_roaringbitmap (issue 18), both measured in one run on
# the same data: two stored bitmaps of ~9.06M members (10M random draws over
# 0..50M each), warm (one backend, median of 7) and cold (a new backend for
# every run, median of 7).
#
#   PG_ROARINGBITMAP_SRC=/path/to/checkout bash bench/audience_anchor.sh [ids]
#
# The anchor is built with PGXS from a checkout outside this tree, named by
# PG_ROARINGBITMAP_SRC; without it (as on CI) only segment's side and the
# floors are measured and the anchor column says so.  In the same run, both
# extensions are loaded into one backend, in both orders, and checked to
# give equal answers (both carry CRoaring symbols; see doc/audience.md).
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${1:-10000000}
REPS=${REPS:-7}

install_deps
build_install
anchor=0
if [ -n "${PG_ROARINGBITMAP_SRC:-}" ] && [ -f "$PG_ROARINGBITMAP_SRC/roaringbitmap.control" ]; then
    log "building pg_roaringbitmap from $PG_ROARINGBITMAP_SRC"
    make -s -C "$PG_ROARINGBITMAP_SRC" PG_CONFIG=$PG_BIN/pg_config >/dev/null 2>&1
    make -s -C "$PG_ROARINGBITMAP_SRC" PG_CONFIG=$PG_BIN/pg_config install >/dev/null
    anchor=1
else
    echo "SKIP anchor: PG_ROARINGBITMAP_SRC is not set to a pg_roaringbitmap checkout; measuring segment only"
fi

start_bench_cluster "shared_buffers = '2GB'" "work_mem = '256MB'" "max_parallel_workers_per_gather = 0"
q() { as_pg env PGOPTIONS="-c search_path=segment,public" psql -X -q -At -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

q -c 'CREATE EXTENSION segment' -f "$work/bench_lib.sql"
[ $anchor = 1 ] && q -c 'CREATE EXTENSION roaringbitmap'
log "loading 2 x $N random ids over 0..50M"
q -c "SELECT setseed(0.18);
      CREATE TABLE ids AS SELECT (random() * 50000000)::int AS x FROM generate_series(1, $N);
      CREATE TABLE ids2 AS SELECT (random() * 50000000)::int AS x FROM generate_series(1, $N);
      CREATE TABLE seg AS SELECT (SELECT segment.audience_agg(x) FROM ids) a, (SELECT segment.audience_agg(x) FROM ids2) b;" \
  -c "VACUUM ANALYZE ids" -c "VACUUM ANALYZE ids2" -c "VACUUM ANALYZE seg"
# 100 audiences of ~200k members each (overlapping), for union_agg
many="SELECT abs(hashint4(x)) % 100 AS i, x FROM ids UNION ALL SELECT abs(hashint4(x + 1)) % 100, x FROM ids2"
q -c "CREATE TABLE many AS SELECT i, segment.audience_agg(x) a FROM ($many) s GROUP BY i" -c "VACUUM ANALYZE many"
if [ $anchor = 1 ]; then
    q -c "CREATE TABLE rb AS SELECT (SELECT rb_build_agg(x) FROM ids) a, (SELECT rb_build_agg(x) FROM ids2) b" -c "VACUUM ANALYZE rb"
    q -c "CREATE TABLE rbmany AS SELECT i, rb_build_agg(x) a FROM ($many) s GROUP BY i" -c "VACUUM ANALYZE rbmany"
fi
q -c "SELECT 'a: ' || segment.cardinality(a) || ' members, ' || pg_column_size(a) || ' bytes stored; b: ' || segment.cardinality(b) || ' members' FROM seg"

# Where the dynamic linker bound each module's roaring_* references, in a
# backend that loads both ($1 first): a second small cluster run with
# LD_DEBUG=bindings.  Any line "X -> Y" with X != Y is interposition.
binding_check() {
    local d="$work/ld" out pid f first second
    mkdir -p "$d/log"; chown -R "$PG_USER" "$d"
    as_pg initdb -D "$d/data" -U postgres --auth=trust >/dev/null
    printf '%s\n' "port = $((port + 1))" "unix_socket_directories = '$d'" "listen_addresses = ''" >>"$d/data/postgresql.conf"
    as_pg env LD_DEBUG=bindings LD_DEBUG_OUTPUT="$d/log/ld" pg_ctl -D "$d/data" -l "$d/server.log" -w start >/dev/null
    first="SELECT segment.to_array('{1,2,70000}'::segment.audience)"
    second="SELECT rb_to_array(rb_build(ARRAY[1,2,70000]))"
    [ "$1" = segment ] || { local t=$first; first=$second; second=$t; }
    out=$(as_pg psql -X -q -At -h "$d" -p $((port + 1)) -U postgres -d postgres \
        -c "CREATE EXTENSION segment" -c "CREATE EXTENSION roaringbitmap" 2>&1 >/dev/null;
        as_pg psql -X -q -At -h "$d" -p $((port + 1)) -U postgres -d postgres \
        -c "SELECT pg_backend_pid()" -c "$first" -c "$second" 2>&1)
    pid=$(echo "$out" | head -1)
    as_pg pg_ctl -D "$d/data" -m fast -w stop >/dev/null
    f=$(grep -l "^ *$pid:" "$d"/log/ld.* | head -1)
    echo "    $1 loaded first: bindings of roaring_* symbols in that backend (count, from -> to):"
    grep -E "^ *$pid:.*normal symbol .roaring_" "$f" |
        sed -E 's/.*binding file ([^ ]+) \[0\] to ([^ ]+) \[0\].*/\1 -> \2/; s#[^ ]*/##g' | sort | uniq -c | sed 's/^/      /'
    rm -rf "$d"
}

# Both extensions in one backend, loaded in both orders: the same answers.
lib=$($PG_BIN/pg_config --pkglibdir)/segment.so
echo "segment.so: $(nm -D --undefined-only "$lib" | grep -c ' roaring_' || true) undefined roaring_* symbols, $(nm -D --defined-only "$lib" | grep -c ' roaring_' || true) exported; libroaring linked: $(readelf -d "$lib" | grep -c 'NEEDED.*libroaring' || true)"
if [ $anchor = 1 ]; then
    log "both extensions in one backend"
    check='SELECT bool_and(ok) FROM seg s, rb r, LATERAL (VALUES
        (cardinality(s.a & s.b) = rb_cardinality(r.a & r.b)),
        (cardinality(s.a | s.b) = rb_cardinality(r.a | r.b)),
        (cardinality(s.a - s.b) = rb_cardinality(r.a - r.b)),
        (cardinality(s.a # s.b) = rb_cardinality(r.a # r.b)),
        (to_array(s.a & s.b) = rb_to_array(r.a & r.b)),
        (audience_from_bytea(r.a::bytea) = s.a),
        (audience_from_bytea((r.a | r.b)::bytea) = s.a | s.b),
        (rb_cardinality(roaringbitmap(s.a::bytea)) = rb_cardinality(r.a)),
        ((SELECT audience_agg(x) = audience_from_bytea(rb_build_agg(x)::bytea) FROM ids))) v(ok)'
    first=$(q -c "LOAD 'segment'" -c "SELECT rb_cardinality(rb_build(ARRAY[1,2]))" -c "$check" 2>&1 | tail -1)
    second=$(q -c "LOAD 'roaringbitmap'" -c "SELECT cardinality('{1,2}'::audience)" -c "$check" 2>&1 | tail -1)
    echo "    segment loaded first: all equal = $first; pg_roaringbitmap loaded first: all equal = $second"
    [ "$first" = t ] && [ "$second" = t ] || echo "FAIL: answers differ (or a backend failed) with both extensions loaded"
    binding_check segment
    binding_check roaringbitmap
fi

# name <tab> segment query <tab> anchor query (empty: none)
ops=$(cat <<'OPS'
a | b	SELECT length((a | b)::bytea) FROM seg	SELECT length((a | b)::bytea) FROM rb
a & b	SELECT length((a & b)::bytea) FROM seg	SELECT length((a & b)::bytea) FROM rb
a - b	SELECT length((a - b)::bytea) FROM seg	SELECT length((a - b)::bytea) FROM rb
a # b	SELECT length((a # b)::bytea) FROM seg	SELECT length((a # b)::bytea) FROM rb
cardinality(a & b) vs rb_and_cardinality	SELECT segment.cardinality(a & b) FROM seg	SELECT rb_and_cardinality(a, b) FROM rb
cardinality(a | b) vs rb_or_cardinality	SELECT segment.cardinality(a | b) FROM seg	SELECT rb_or_cardinality(a, b) FROM rb
cardinality(a - b) vs rb_andnot_cardinality	SELECT segment.cardinality(a - b) FROM seg	SELECT rb_andnot_cardinality(a, b) FROM rb
a && b	SELECT a && b FROM seg	SELECT a && b FROM rb
cardinality(a)	SELECT segment.cardinality(a) FROM seg	SELECT rb_cardinality(a) FROM rb
a @> x, one probe	SELECT a @> 4000000 FROM seg	SELECT a @> 4000000 FROM rb
a @> x, 100 probes over rows	SELECT count(*) FROM seg, generate_series(1, 100) g WHERE a @> g	SELECT count(*) FROM rb, generate_series(1, 100) g WHERE a @> g
(a | b) - (a & b) (chain)	SELECT length(((a | b) - (a & b))::bytea) FROM seg	SELECT length(((a | b) - (a & b))::bytea) FROM rb
audience_agg of 10M ints vs rb_build_agg	SELECT length(segment.audience_agg(x)::bytea) FROM ids	SELECT length(rb_build_agg(x)::bytea) FROM ids
union_agg of 100 audiences (~200k each)	SELECT length(segment.union_agg(a)::bytea) FROM many	SELECT length(rb_or_agg(a)::bytea) FROM rbmany
floor: sum(x) over the same 10M rows	SELECT sum(x) FROM ids	
floor: bytea concat of the stored a, b	SELECT length(a::bytea || b::bytea) FROM seg	
OPS
)

# Cold: a new backend for every run.  The two sides alternate run by run,
# so that load from elsewhere on the machine falls on both alike; prints
# the two medians.
cold_ms() {
    local i t s_all=() a_all=()
    for i in $(seq 1 "$REPS"); do
        s_all+=("$(q -c "SELECT bench.ms(\$q\$$1\$q\$, 1)")")
        [ -n "$2" ] && a_all+=("$(q -c "SELECT bench.ms(\$q\$$2\$q\$, 1)")")
    done
    printf '%s\n' "${s_all[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p"
    if [ -n "$2" ]; then printf '%s\n' "${a_all[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p"; else echo; fi
}

# Warm: one backend holding both extensions (whose heap has grown, as a
# pooled connection's has); each operation's two queries alternate run by
# run, so that load from elsewhere falls on both alike.
q -c "CREATE OR REPLACE FUNCTION bench.ms_pair(q1 text, q2 text, reps int) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz;
    t1 float8[] := '{}';
    t2 float8[] := '{}';
BEGIN
    FOR i IN 1 .. reps LOOP
        t0 := clock_timestamp();
        EXECUTE q1;
        t1 := t1 || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
        IF q2 IS NOT NULL THEN
            t0 := clock_timestamp();
            EXECUTE q2;
            t2 := t2 || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
        END IF;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(t1) t) || ' ' ||
           coalesce((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(t2) t)::text, '');
END \$\$"
warm_sql() {
    while IFS=$'\t' read -r name s a; do
        [ $anchor = 1 ] || a=""
        if [ -n "$a" ]; then a="\$q\$$a\$q\$"; else a=NULL; fi
        echo "SELECT bench.ms_pair(\$q\$$s\$q\$, $a, $REPS);"
    done <<<"$ops"
}

log "warm (one backend, both extensions, the two sides alternating, median of $REPS)"
warm_seg=()
warm_anc=()
while read -r ws wa; do
    warm_seg+=("$ws")
    warm_anc+=("${wa:-}")
done < <(warm_sql | q)

log "cold (a new backend for every run, median of $REPS)"
i=0
rows=()
while IFS=$'\t' read -r name s a; do
    [ $anchor = 1 ] || a=""
    { read -r cs; read -r ca; } < <(cold_ms "$s" "$a")
    rows+=("$name"$'\x1f'"$cs"$'\x1f'"$ca"$'\x1f'"${warm_seg[$i]:-}"$'\x1f'"${warm_anc[$i]:-}")
    i=$((i + 1))
done <<<"$ops"

ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2f", x / y }'; }
fmt() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { printf "%.1f", x }'; }
echo
[ $anchor = 1 ] || echo "(anchor skipped: set PG_ROARINGBITMAP_SRC to compare with pg_roaringbitmap)"
echo "| operation | cold ms: segment / pg_roaringbitmap | ratio | warm ms: segment / pg_roaringbitmap | ratio |"
echo "|---|---|---|---|---|"
for r in "${rows[@]}"; do
    IFS=$'\x1f' read -r name cs ca ws wa <<<"$r"
    echo "| $name | $(fmt "$cs") / $(fmt "$ca") | $(ratio "$cs" "$ca") | $(fmt "$ws") / $(fmt "$wa") | $(ratio "$ws" "$wa") |"
done
