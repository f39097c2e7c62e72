# Shared shell functions of scripts/demo.sh and scripts/test.sh.
# Source it; it does nothing by itself.

PG_MAJOR=15
# SEGMENT_PGROOT=/some/dir runs everything against a private, relocated copy
# of the system PostgreSQL (made on first use), so that several work trees
# can build, install and test side by side without overwriting each other.
PG_ROOT=${SEGMENT_PGROOT:-}
PG_BIN=$PG_ROOT/usr/lib/postgresql/$PG_MAJOR/bin
PGXS_DIR=$PG_ROOT/usr/lib/postgresql/$PG_MAJOR/lib/pgxs
# PostgreSQL refuses to run as root; the Debian package's postgres user runs
# the throwaway clusters (override with SEGMENT_PG_USER).
PG_USER=${SEGMENT_PG_USER:-postgres}

log() { printf '\n==> %s\n' "$*"; }

# Installs the Debian packages the build, the demo and the tests need.
# Idempotent: apt runs only when something is missing.
install_deps() {
    local pkgs="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libroaring-dev
        postgresql-$PG_MAJOR-cron libipc-run-perl make gcc
        clang libclang-rt-14-dev valgrind"
    local missing=()
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        if [ "$(id -u)" -ne 0 ]; then
            echo "need root to install: ${missing[*]}" >&2
            return 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    # Debian's postgresql-common may start a default cluster; we never use it.
    if [ -d /etc/postgresql/$PG_MAJOR/main ] && command -v pg_ctlcluster >/dev/null; then
        pg_ctlcluster $PG_MAJOR main stop >/dev/null 2>&1 || true
    fi
    id "$PG_USER" >/dev/null 2>&1 || useradd --system --create-home "$PG_USER"
    [ -z "$PG_ROOT" ] || private_pg_copy
    ensure_postgres_fdw
}

# postgres_fdw (test/t/015_scale_out.pl, bench/scale_out.sh) ships with
# postgresql-15; a private copy made without it gets it here.  Idempotent.
ensure_postgres_fdw() {
    local lib=/usr/lib/postgresql/$PG_MAJOR/lib ext=/usr/share/postgresql/$PG_MAJOR/extension f
    if [ ! -f "$lib/postgres_fdw.so" ]; then
        echo "postgres_fdw is missing from postgresql-$PG_MAJOR" >&2
        return 1
    fi
    [ -n "$PG_ROOT" ] || return 0
    [ -f "$PG_ROOT$lib/postgres_fdw.so" ] || cp -a "$lib/postgres_fdw.so" "$PG_ROOT$lib/"
    for f in "$ext"/postgres_fdw*; do
        [ -f "$PG_ROOT$ext/${f##*/}" ] || cp -a "$f" "$PG_ROOT$ext/"
    done
}

# PostgreSQL finds its share and lib directories relative to its binaries,
# so a copy of the two trees is a complete private installation.
private_pg_copy() {
    [ -x "$PG_BIN/postgres" ] && [ -d "$PG_ROOT/usr/include/postgresql" ] && return 0
    rm -rf "$PG_ROOT/usr"
    log "making a private PostgreSQL copy in $PG_ROOT"
    mkdir -p "$PG_ROOT/usr/lib/postgresql" "$PG_ROOT/usr/share/postgresql" "$PG_ROOT/usr/include"
    cp -a /usr/lib/postgresql/$PG_MAJOR "$PG_ROOT/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/$PG_MAJOR "$PG_ROOT/usr/share/postgresql/"
    cp -a /usr/include/postgresql "$PG_ROOT/usr/include/"    # pg_config --includedir-server
    chmod 755 "$PG_ROOT"
}

# Builds and installs the extension into the system PostgreSQL.
build_install() {
    log "building and installing the extension"
    make -s PG_CONFIG=$PG_BIN/pg_config ${SEGMENT_CFLAGS:+PG_CFLAGS="$SEGMENT_CFLAGS"} >/dev/null
    make -s PG_CONFIG=$PG_BIN/pg_config install >/dev/null
}

# Runs a command as the unprivileged PostgreSQL user.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- env PATH="$PG_BIN:$PATH" "$@"
    else
        env PATH="$PG_BIN:$PATH" "$@"
    fi
}

# A work directory the unprivileged user owns; removed by the caller's trap.
make_workdir() {
    local d
    d=$(mktemp -d /tmp/segment.XXXXXX)
    chmod 755 "$d"
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$d"
    echo "$d"
}

# Picks a free TCP port on loopback.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
    done
}

# Starts a throwaway cluster in $1 on port $2 (pg_cron preloaded).
start_cluster() {
    local dir=$1 port=$2
    as_pg initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
max_worker_processes = 16
fsync = off
CONF
    as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
}

stop_cluster() {
    local dir=$1
    [ -f "$dir/data/postmaster.pid" ] && as_pg pg_ctl -D "$dir/data" -m fast -w stop >/dev/null 2>&1
    return 0
}

# For bench/: a throwaway cluster (pg_cron preloaded) with extra settings,
# e.g. start_bench_cluster "shared_buffers = '2GB'" "work_mem = '256MB'".
# Sets $work and $port and removes everything when the script exits.
start_bench_cluster() {
    work=$(make_workdir)
    port=$(free_port)
    trap 'stop_cluster "$work"; rm -rf "$work"' EXIT
    start_cluster "$work" "$port"
    printf '%s\n' "$@" >>"$work/data/postgresql.conf"
    as_pg pg_ctl -D "$work/data" -l "$work/server.log" -w restart >/dev/null
    cp bench/*.sql "$work/"
}

# Builds a past release ($1, a version in updates/releases) from its commit
# into a private PostgreSQL copy at $2, for the upgrade test: the library
# and install script that release shipped.  Fails (returns 1) where the
# git history is missing, e.g. in a shallow clone.
build_release() {
    local version=$1 root=$2 commit src
    commit=$(awk -v v="$version" '$1 == v { print $2 }' updates/releases)
    [ -n "$commit" ] && git rev-parse -q --verify "$commit^{commit}" >/dev/null 2>&1 || return 1
    src=$(mktemp -d /tmp/segment-release.XXXXXX)
    git archive "$commit" | tar -x -C "$src" || { rm -rf "$src"; return 1; }
    ( PG_ROOT=$root; PG_BIN=$root/usr/lib/postgresql/$PG_MAJOR/bin; private_pg_copy >/dev/null
      # a copy of a PostgreSQL where the current version is installed
      rm -f "$root"/usr/share/postgresql/$PG_MAJOR/extension/segment[-.]* \
            "$root"/usr/lib/postgresql/$PG_MAJOR/lib/segment.so
      make -s -C "$src" PG_CONFIG="$PG_BIN/pg_config" >/dev/null 2>&1 &&
      make -s -C "$src" PG_CONFIG="$PG_BIN/pg_config" install >/dev/null 2>&1 ) || { rm -rf "$src"; return 1; }
    # the release's install script must be the one committed in updates/
    cmp -s "$src/segment--$version.sql" "updates/segment--$version.sql" || {
        echo "updates/segment--$version.sql differs from the script release $version built" >&2
        rm -rf "$src"; return 1; }
    rm -rf "$src"
}
