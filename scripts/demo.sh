#!/usr/bin/env bash
# The demo: installs what is missing, builds and installs the extension,
# starts a throwaway PostgreSQL cluster (as an unprivileged user, in a
# temporary directory), loads a generated sample CRM and shows segments,
# tags and audiences at work.  Everything is removed at the end.
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_deps
build_install
work=$(make_workdir)
port=$(free_port)
trap 'stop_cluster "$work"; rm -rf "$work"' EXIT

log "starting a throwaway cluster on port $port"
start_cluster "$work" "$port"
cp demo/*.sql "$work/"
psql_pg() { as_pg psql -X -q -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

log "loading the sample CRM dataset"
psql_pg -c 'CREATE EXTENSION segment' -f "$work/sample_data.sql"
psql_pg -c "SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders,
    (SELECT count(*) FROM order_lines) AS order_lines, (SELECT count(*) FROM messages) AS messages,
    (SELECT count(*) FROM page_views) AS page_views"

log "what segment does with it"
psql_pg -f "$work/demo.sql"

log "saved segments: typical scenarios, refresh_all, BI membership, pg_cron, the change feed"
psql_pg -f "$work/segments.sql"
