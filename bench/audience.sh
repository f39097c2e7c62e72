#!/usr/bin/env bash
# Benchmark of the audience type (issue 2).  Ratios against baselines
# measured in the same run, warm backend (medians of 5) and new backend.
#   bash bench/audience.sh [ids]     (default 10,000,000 ids over 0..50M)
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${1:-10000000}

install_deps
build_install
start_bench_cluster "shared_buffers = '2GB'" "work_mem = '256MB'" "max_parallel_workers_per_gather = 0"
q() { as_pg env PGOPTIONS="-c search_path=segment,public" psql -X -q -At -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

q -c 'CREATE EXTENSION segment' -f "$work/bench_lib.sql"
log "loading $N random ids over 0..50M"
q -c "SELECT setseed(0.1);
      CREATE TABLE ids AS SELECT (random() * 50000000)::int AS x FROM generate_series(1, $N);
      CREATE TABLE half AS SELECT (random() * 50000000)::int AS x FROM generate_series(1, $N / 2);
" -c "VACUUM ANALYZE ids" -c "VACUUM ANALYZE half"
q -c "CREATE TABLE sets AS SELECT segment.audience_agg(x) a FROM ids UNION ALL SELECT segment.audience_agg(x) FROM half;
      CREATE TABLE two AS SELECT (SELECT segment.audience_agg(x) FROM (SELECT x FROM ids LIMIT $N / 2) s) a,
                                 (SELECT segment.audience_agg(x) FROM half) b;
      CREATE TABLE arrs AS SELECT (SELECT array_agg(DISTINCT x ORDER BY x) FROM (SELECT x FROM ids LIMIT $N / 2) s) a,
                                  (SELECT array_agg(DISTINCT x ORDER BY x) FROM half) b;
" -c "VACUUM ANALYZE two" -c "VACUUM ANALYZE arrs"
q -c "SELECT 'audience a: ' || segment.cardinality(two.a) || ' members, ' || pg_column_size(two.a) || ' bytes stored; int4[] a: ' || pg_column_size(arrs.a) || ' bytes' FROM two, arrs"

log "results (warm backend, median of 5; ratio = segment / baseline)"
q <<'SQL'
\pset format aligned
\pset tuples_only off
WITH r(what, segment_ms, baseline, baseline_ms) AS (VALUES
  ('audience_agg(x) over all ids', bench.ms('SELECT segment.audience_agg(x) FROM ids'),
   'sum(x) over the same rows', bench.ms('SELECT sum(x) FROM ids')),
  ('a & b (stored, 5M each)', bench.ms('SELECT length((a & b)::bytea) FROM two'),
   'int4[] INTERSECT via unnest', bench.ms('SELECT cardinality(array(SELECT unnest(a) INTERSECT SELECT unnest(b))) FROM arrs', 3)),
  ('a | b', bench.ms('SELECT length((a | b)::bytea) FROM two'),
   'int4[] UNION via unnest', bench.ms('SELECT cardinality(array(SELECT unnest(a) UNION SELECT unnest(b))) FROM arrs', 3)),
  ('cardinality(a & b)', bench.ms('SELECT segment.cardinality(a & b) FROM two'),
   'count of int4[] INTERSECT', bench.ms('SELECT count(*) FROM (SELECT unnest(a) FROM arrs INTERSECT SELECT unnest(b) FROM arrs) s', 3)),
  ('intersect_cardinality(a, b)', bench.ms('SELECT segment.intersect_cardinality(a, b) FROM two'),
   'count of int4[] INTERSECT', bench.ms('SELECT count(*) FROM (SELECT unnest(a) FROM arrs INTERSECT SELECT unnest(b) FROM arrs) s', 3)),
  ('cardinality(a)', bench.ms('SELECT segment.cardinality(a) FROM two'),
   'cardinality(int4[])', bench.ms('SELECT cardinality(a) FROM arrs')),
  ('a | b (again)', bench.ms('SELECT length((a | b)::bytea) FROM two'),
   'floor: bytea concat of the same stored values', bench.ms('SELECT length(a::bytea || b::bytea) FROM two'))
)
SELECT what, round(segment_ms::numeric, 1) AS segment_ms, baseline, round(baseline_ms::numeric, 1) AS baseline_ms,
       round((segment_ms / nullif(baseline_ms, 0))::numeric, 3) AS ratio
FROM r;
SQL

log "membership checks per second (@> on a stored 5M-member audience)"
q <<'SQL'
\pset format aligned
\pset tuples_only off
SELECT round(1000000 / (bench.ms('SELECT count(*) FROM two, generate_series(1, 1000000) g WHERE a @> g', 3) / 1000)) AS audience_checks_per_s,
       round(200 / (bench.ms('SELECT count(*) FROM arrs, generate_series(1, 200) g WHERE g = ANY(a)', 3) / 1000)) AS int4_array_any_checks_per_s;
SQL

log "new backend each time (first touch of memory; see shared/PERF-NOTES.md)"
for what in "length((a & b)::bytea)" "length((a | b)::bytea)" "segment.intersect_cardinality(a, b)" "length(a::bytea || b::bytea)"; do
    t=$(q -c "SELECT round(bench.ms('SELECT $what FROM two', 1)::numeric, 1)")
    echo "    $what: $t ms"
done
