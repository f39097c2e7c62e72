#!/usr/bin/env bash
# Benchmark of auto-tagging trigger overhead (issue 5): the same inserts
# into orders with and without three auto-tag groups watching the table.
#   bash bench/autotag.sh [customers] [seconds]   (default 100000 customers, 20 s per pgbench run)
# Single-row inserts through pgbench (2 clients): TPS ratio (target >= 0.6).
# One 100k-row INSERT ... SELECT (rolled back, median of 3): time ratio
# (target <= 2).
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${1:-100000}
SECS=${2:-20}

install_deps
build_install
start_bench_cluster "shared_buffers = '1GB'" "work_mem = '64MB'"
q() { as_pg psql -X -q -At -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

log "data: $N customers, $((N * 10)) orders"
q -c 'CREATE EXTENSION segment' -f "$work/bench_lib.sql"
q -c "CREATE TABLE customers (id int PRIMARY KEY, city text);
      INSERT INTO customers SELECT g, (ARRAY['上海','北京'])[1 + g % 2] FROM generate_series(1, $N) g;
      CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
                           status text NOT NULL, amount numeric, paid_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO orders (customer_id, status, amount, paid_at)
      SELECT 1 + g % $N, CASE WHEN g % 11 = 0 THEN 'refunded' ELSE 'paid' END, (g % 97) * 7, now() - (g % 400) * interval '1 day'
      FROM generate_series(1, $N * 10) g;
      CREATE INDEX ON orders (customer_id);" -c "VACUUM ANALYZE customers" -c "VACUUM ANALYZE orders" \
  -c "SELECT segment.register_customers('customers', 'id');
      SELECT segment.register_source('orders', 'orders', 'customer_id', 'paid_at');" >/dev/null

cat >"$work/insert.sql" <<SQL
\set cid random(1, $N)
INSERT INTO orders (customer_id, status, amount) VALUES (:cid, 'paid', 120);
SQL
chown "$PG_USER" "$work/insert.sql"
BULK="INSERT INTO orders (customer_id, status, amount) SELECT 1 + (g * 7919) % $N, 'paid', 50 FROM generate_series(1, 100000) g"

# median ms of the bulk insert, each run rolled back (the table stays the same)
bulk_ms() {
    for i in 1 2 3; do
        as_pg psql -X -q -h "$work" -p "$port" -U postgres -d postgres -c '\timing on' -c BEGIN -c "$BULK" -c ROLLBACK \
            | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 2p
    done | sort -n | sed -n 2p
}

measure() {
    local label=$1
    local tps bulk
    tps=$(as_pg env PGHOST="$work" PGPORT="$port" pgbench -n -c 2 -j 2 -T "$SECS" -f "$work/insert.sql" -U postgres postgres 2>/dev/null \
          | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    bulk=$(bulk_ms)
    echo "$label $tps $bulk"
}

log "without auto-tagging"
read -r _ tps0 bulk0 < <(measure base)
echo "    single-row inserts: $tps0 tps; 100k-row insert: $bulk0 ms"

q -c "SELECT segment.create_tag_group('tier', exclusive => true, allow_manual => false, allow_auto => true);
      SELECT segment.add_tag('tier', 'low', rule => 'sum(orders.amount WHERE status = ''paid'') < 300');
      SELECT segment.add_tag('tier', 'mid', rule => 'sum(orders.amount WHERE status = ''paid'') < 2000');
      SELECT segment.add_tag('tier', 'high', rule => 'sum(orders.amount WHERE status = ''paid'') >= 2000');
      SELECT segment.create_tag_group('band', exclusive => true, allow_auto => true);
      SELECT segment.add_tag('band', '1-3', rule => 'count(orders WHERE status = ''paid'') BETWEEN 1 AND 3');
      SELECT segment.add_tag('band', '4-6', rule => 'count(orders WHERE status = ''paid'') BETWEEN 4 AND 6');
      SELECT segment.add_tag('band', '7+', rule => 'count(orders WHERE status = ''paid'') >= 7');
      SELECT segment.create_tag_group('recent', allow_auto => true);
      SELECT segment.add_tag('recent', 'bought in 30 days', rule => 'EXISTS orders WHERE status = ''paid'' DURING LAST 30 days');" >/dev/null
q -c "VACUUM ANALYZE segment.tag_members"

log "with three auto-tag groups watching orders"
read -r _ tps1 bulk1 < <(measure tagged)
echo "    single-row inserts: $tps1 tps; 100k-row insert: $bulk1 ms"

log "results"
awk -v t0="$tps0" -v t1="$tps1" -v b0="$bulk0" -v b1="$bulk1" 'BEGIN {
    printf "    single-row insert TPS with/without: %.3f (target >= 0.6)\n", t1 / t0;
    printf "    100k-row insert time with/without:  %.2f (target <= 2)\n", b1 / b0 }'
q -c "SELECT 'consistency: a full retag changes ' || sum(added + removed) || ' tags' FROM segment.retag()"
