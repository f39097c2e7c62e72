#!/usr/bin/env bash
# Benchmark of auto-tagging trigger overhead (issue 5): the same inserts
# into orders with no trigger, with three auto-tag groups watching the
# table, and with a hand-written statement trigger keeping the same three
# tags in a plain table (the least a DBA would write: no tag log, no
# manual tags, no exclusivity rules), all in the same run.
#   bash bench/autotag.sh [customers] [seconds]   (default 100000 customers, 20 s per pgbench run)
# Single-row inserts through pgbench (2 clients): TPS ratios (target >= 0.6).
# One 100k-row INSERT ... SELECT (rolled back, median of 3): time ratios
# (target <= 2); it names every customer once (the worst case: a full
# re-evaluation), and a second one names 10% of them.
# The single-row runs are repeated with durable commits (fsync and
# synchronous_commit on, as a production server runs); the throwaway
# clusters of this project otherwise run with fsync off.
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
BULK_ALL="INSERT INTO orders (customer_id, status, amount) SELECT 1 + (g * 7919) % $N, 'paid', 50 FROM generate_series(1, 100000) g"
BULK_TENTH="INSERT INTO orders (customer_id, status, amount) SELECT 1 + (g * 7919) % ($N / 10), 'paid', 50 FROM generate_series(1, 100000) g"

# median ms of a bulk insert, each run rolled back (the table stays the same)
bulk_ms() {
    for i in 1 2 3; do
        as_pg psql -X -q -h "$work" -p "$port" -U postgres -d postgres -c '\timing on' -c BEGIN -c "$1" -c ROLLBACK \
            | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 2p
    done | sort -n | sed -n 2p
}

tps() {
    as_pg env PGHOST="$work" PGPORT="$port" pgbench -n -c 2 -j 2 -T "$SECS" -f "$work/insert.sql" -U postgres postgres 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

# Prints "tps bulk_all bulk_tenth" for the triggers enabled now.
measure() {
    echo "$(tps) $(bulk_ms "$BULK_ALL") $(bulk_ms "$BULK_TENTH")"
}

# The hand-written anchor: one statement trigger upserting the three tags
# of the customers a statement touched, only where they changed.
q <<'SQL'
CREATE TABLE hand_tags (customer_id int PRIMARY KEY, tier text, band text, recent boolean NOT NULL);
CREATE FUNCTION hand_tag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH touched AS (SELECT DISTINCT customer_id FROM new_rows),
    agg AS (
        SELECT t.customer_id,
               coalesce(sum(o.amount) FILTER (WHERE o.status = 'paid'), 0) AS spent,
               count(*) FILTER (WHERE o.status = 'paid') AS paid,
               coalesce(bool_or(o.status = 'paid' AND o.paid_at >= current_date - 30), false) AS recent
        FROM touched t LEFT JOIN orders o ON o.customer_id = t.customer_id
        GROUP BY 1),
    want AS (
        SELECT customer_id,
               CASE WHEN spent < 300 THEN 'low' WHEN spent < 2000 THEN 'mid' ELSE 'high' END AS tier,
               CASE WHEN paid BETWEEN 1 AND 3 THEN '1-3' WHEN paid BETWEEN 4 AND 6 THEN '4-6'
                    WHEN paid >= 7 THEN '7+' END AS band,
               recent
        FROM agg)
    INSERT INTO hand_tags AS h SELECT * FROM want
    ON CONFLICT (customer_id) DO UPDATE SET tier = EXCLUDED.tier, band = EXCLUDED.band, recent = EXCLUDED.recent
    WHERE (h.tier, h.band, h.recent) IS DISTINCT FROM (EXCLUDED.tier, EXCLUDED.band, EXCLUDED.recent);
    RETURN NULL;
END $$;
INSERT INTO hand_tags SELECT id, NULL, NULL, false FROM customers;
CREATE TRIGGER hand_tag AFTER INSERT ON orders REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION hand_tag();
-- one refunded order per customer fills hand_tags through the trigger
INSERT INTO orders (customer_id, status, amount) SELECT id, 'refunded', 0 FROM customers;
ALTER TABLE orders DISABLE TRIGGER hand_tag;
VACUUM ANALYZE hand_tags;
VACUUM ANALYZE orders;
SQL

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
only() {   # enables one kind of trigger on orders: none, segment or hand
    q -c "ALTER TABLE orders DISABLE TRIGGER USER" \
      -c "$(case $1 in segment) echo 'ALTER TABLE orders ENABLE TRIGGER segment_autotag_insert';;
                        hand) echo 'ALTER TABLE orders ENABLE TRIGGER hand_tag';; *) echo 'SELECT 1';; esac)" >/dev/null
}

# Auto tags go stale while their trigger is off: retag() (untimed) first.
run_all() {   # label; measures the three variants
    local label=$1
    for v in none hand segment; do
        only $v
        [ $v = segment ] && q -c "SELECT count(*) FROM segment.retag()" >/dev/null
        read -r t a b < <(measure)
        eval "tps_$v=$t bulk_$v=$a tenth_$v=$b"
        echo "    $label, $v: single-row $t tps; 100k rows for all customers $a ms; for 10% of them $b ms"
    done
}

log "fsync off"
run_all "fsync off"
report() {
    awk -v t0="$tps_none" -v t1="$tps_segment" -v t2="$tps_hand" -v b0="$bulk_none" -v b1="$bulk_segment" -v b2="$bulk_hand" \
        -v c0="$tenth_none" -v c1="$tenth_segment" -v c2="$tenth_hand" -v label="$1" 'BEGIN {
        printf "    %s: single-row TPS  auto-tag/none %.3f (target >= 0.6), hand/none %.3f, auto-tag/hand %.3f\n", label, t1 / t0, t2 / t0, t1 / t2;
        if (b0 != "") {
        printf "    %s: 100k rows, all customers  auto-tag/none %.2f (target <= 2), hand/none %.2f, auto-tag/hand %.2f\n", label, b1 / b0, b2 / b0, b1 / b2;
        printf "    %s: 100k rows, 10%% of them    auto-tag/none %.2f (target <= 2), hand/none %.2f, auto-tag/hand %.2f\n", label, c1 / c0, c2 / c0, c1 / c2 } }'
}
R1=$(report "fsync off")

log "durable commits (fsync on, synchronous_commit on)"
printf "fsync = on\nsynchronous_commit = on\n" >>"$work/data/postgresql.conf"
as_pg pg_ctl -D "$work/data" -l "$work/server.log" -w restart >/dev/null
for v in none hand segment; do
    only $v
    [ $v = segment ] && q -c "SELECT count(*) FROM segment.retag()" >/dev/null
    t=$(tps)
    eval "tps_$v=$t"
    echo "    durable, $v: single-row $t tps"
done
bulk_none=""
R2=$(report "durable")

log "results"
echo "$R1"
echo "$R2"
q -c "SELECT 'consistency: a full retag changes ' || sum(added + removed) || ' tags' FROM segment.retag()"
