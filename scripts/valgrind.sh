#!/usr/bin/env bash
# Runs the pg_regress suite once with every backend under valgrind memcheck
# and fails if valgrind reports an error in any process.  Slow (minutes);
# not part of scripts/test.sh.  Usage: bash scripts/valgrind.sh [test ...]
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_deps || exit 1
make -s clean >/dev/null
SEGMENT_CFLAGS="-O0 -g" build_install || exit 1
make -s clean >/dev/null    # the next ordinary build starts from scratch
work=$(make_workdir)
port=$(free_port)
trap 'stop_cluster "$work"; rm -rf "$work"' EXIT

as_pg initdb -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >>"$work/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$work'
fsync = off
max_parallel_workers_per_gather = 2
shared_preload_libraries = 'pg_cron'
cron.database_name = 'contrib_regression'
CONF
cp test/valgrind.supp "$work/"
# postmaster and its forked backends all run under memcheck
as_pg bash -c "valgrind --quiet --trace-children=yes --track-origins=yes \
    --leak-check=no --suppressions='$work/valgrind.supp' \
    --log-file='$work/vg.%p.log' postgres -D '$work/data' >'$work/server.log' 2>&1 &"
for i in $(seq 1 120); do
    as_pg pg_isready -q -h "$work" -p "$port" && break
    sleep 1
done

mkdir -p "$work/regress"
cp -r sql expected "$work/regress/"
chown -R "$PG_USER" "$work/regress"
tests=${*:-$(sed -n "s/^REGRESS = //p" Makefile)}
(cd "$work/regress" && as_pg "$PGXS_DIR/src/test/regress/pg_regress" --inputdir=. \
    --outputdir=. --bindir="$PG_BIN" --host="$work" --port="$port" \
    --load-extension=segment --dbname=contrib_regression $tests)
rc=$?
stop_cluster "$work"
as_pg pg_ctl -D "$work/data" -m fast -w stop >/dev/null 2>&1
errors=$(cat "$work"/vg.*.log | grep -c '^==[0-9]*== [A-Z].*\(Invalid\|uninitialised\|Mismatched\|overlap\)')
if [ "$errors" -gt 0 ]; then
    cat "$work"/vg.*.log | head -200
    echo "valgrind: $errors error reports"
    exit 1
fi
echo "valgrind: no errors in $(ls "$work"/vg.*.log | wc -l) processes (pg_regress exit $rc)"
exit $rc
