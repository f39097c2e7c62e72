#!/usr/bin/env bash
# Benchmark of the campaign building blocks (issue 6), ratios against plain
# SQL in the same run (warm, median of 3):
#  - contactable() on a 1M-member audience with 30 days of contact history
#    (200k contacts a day) vs a contact-log table with an index;
#  - record_contact() of a day's 200k contacts vs inserting them as rows;
#  - split() and sample() of a 10M-member audience vs hashing/sorting ids.
#   bash bench/campaign.sh [members] [big]   (default 1000000 and 10000000)
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${1:-1000000}
BIG=${2:-10000000}
PER_DAY=$((N / 5))

install_deps
build_install
start_bench_cluster "shared_buffers = '2GB'" "work_mem = '256MB'" "timezone = 'Asia/Shanghai'"
q() { as_pg env PGOPTIONS="-c search_path=segment,public" psql -X -q -At -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

log "data: $N members, 30 days x $PER_DAY contacts; $BIG members for split/sample"
q -c 'CREATE EXTENSION segment' -f "$work/bench_lib.sql"
q -c "CREATE TABLE members AS SELECT g AS id FROM generate_series(1, $N) g;
      CREATE TABLE big AS SELECT g AS id FROM generate_series(1, $BIG) g;
      CREATE TABLE sets AS SELECT (SELECT audience_agg(id) FROM members) AS a, (SELECT audience_agg(id) FROM big) AS b;
      CREATE TABLE contact_log (customer_id int NOT NULL, channel text NOT NULL, at timestamptz NOT NULL);
      INSERT INTO contact_log
      SELECT 1 + (d * 7919 + g * 5) % $N, 'coupon', timestamptz '2024-08-09 10:00+08' - d * interval '1 day'
      FROM generate_series(1, 30) d, generate_series(1, $PER_DAY) g;
      CREATE INDEX ON contact_log (customer_id, channel, at);" -c "VACUUM ANALYZE"
# the same history as day bitmaps
q -c "SELECT sum(record_contact((SELECT audience_agg(1 + (d * 7919 + g * 5) % $N) FROM generate_series(1, $PER_DAY) g),
                               'coupon', timestamptz '2024-08-09 10:00+08' - d * interval '1 day'))
      FROM generate_series(1, 30) d" >/dev/null
q -c "SELECT 'contact history: ' || pg_size_pretty(pg_total_relation_size('segment.contacts')) || ' as bitmaps, '
             || pg_size_pretty(pg_total_relation_size('contact_log')) || ' as rows with index'"
q -c "CREATE TABLE day_ids AS SELECT 1 + (g * 31) % $N AS id FROM generate_series(1, $PER_DAY) g;
      CREATE TABLE day_set AS SELECT audience_agg(id) AS a FROM day_ids;"

log "results (median of 3; ratio = segment / plain SQL)"
q <<SQL
\pset format aligned
\pset tuples_only off
SELECT count(*) = (SELECT cardinality(contactable(a, 'coupon', '5 days', 1, '2024-08-09 11:00+08')) FROM sets) AS same_contactable
FROM members m WHERE NOT EXISTS (SELECT FROM contact_log c WHERE c.customer_id = m.id AND c.channel = 'coupon'
                                 AND c.at >= timestamptz '2024-08-04 00:00+08');
WITH r(what, segment_ms, baseline, baseline_ms) AS (VALUES
  ('contactable(1M, cooldown 5 days, 1/day)',
   bench.ms(\$\$SELECT cardinality(contactable(a, 'coupon', '5 days', 1, '2024-08-09 11:00+08')) FROM sets\$\$, 3),
   'NOT EXISTS over contact_log (index)',
   bench.ms(\$\$SELECT count(*) FROM members m WHERE NOT EXISTS (SELECT FROM contact_log c WHERE c.customer_id = m.id
              AND c.channel = 'coupon' AND c.at >= timestamptz '2024-08-04 00:00+08')\$\$, 3)),
  ('record_contact of $PER_DAY',
   bench.ms(\$\$SELECT record_contact(a, 'sms', '2024-08-09 12:00+08') FROM day_set\$\$, 3),
   'INSERT $PER_DAY rows into contact_log',
   bench.ms(\$\$INSERT INTO contact_log SELECT id, 'sms', timestamptz '2024-08-09 12:00+08' FROM day_ids\$\$, 3)),
  ('split($BIG, 50/50)',
   bench.ms(\$\$SELECT cardinality((split(b, '{50,50}', 7))[1]) FROM sets\$\$, 3),
   'count by hashint8(id) % 100 < 50',
   bench.ms(\$\$SELECT count(*) FILTER (WHERE abs(hashint8(id::bigint + 7)) % 100 < 50) FROM big\$\$, 3)),
  ('sample($BIG, 100000)',
   bench.ms(\$\$SELECT cardinality(sample(b, 100000, 7)) FROM sets\$\$, 3),
   'ORDER BY hashint8(id) LIMIT 100000',
   bench.ms(\$\$SELECT count(*) FROM (SELECT id FROM big ORDER BY hashint8(id::bigint + 7) LIMIT 100000) s\$\$, 3)),
  ('sample_fraction($BIG, 0.1)',
   bench.ms(\$\$SELECT cardinality(sample_fraction(b, 0.1, 7)) FROM sets\$\$, 3),
   'count where random-ish hash < 10%',
   bench.ms(\$\$SELECT count(*) FILTER (WHERE abs(hashint8(id::bigint + 7)) % 10 = 0) FROM big\$\$, 3))
)
SELECT what, round(segment_ms::numeric, 1) AS segment_ms, baseline, round(baseline_ms::numeric, 1) AS baseline_ms,
       round((segment_ms / nullif(baseline_ms, 0))::numeric, 3) AS ratio
FROM r;
SQL
