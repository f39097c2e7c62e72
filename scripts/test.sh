#!/usr/bin/env bash
# Runs every test of the extension on a fresh machine, as root:
#   pure-C unit tests, bounded fuzzing, pg_regress and TAP tests,
# each against throwaway clusters run by an unprivileged user.
# Prints one summary line "N passed, N failed" and exits non-zero on failure.
#
# Environment: FUZZ_SECONDS (default 60 per target), SKIP_FUZZ=1,
#              SEGMENT_CFLAGS (extra compiler flags, e.g. -Werror).
# For a quicker run while developing (CI sets none of these):
#              SKIP_UNIT=1; REGRESS_TESTS="evaluate tags" (a subset of
#              REGRESS, "none" for no pg_regress); TAP_TESTS="t/004*.pl"
#              ("none" for no TAP).
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_deps || exit 1
build_install || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
work=$(make_workdir)
trap 'rm -rf "$work"' EXIT

# count PASS FAIL: adds to the totals and echoes a line
count() {
    passed=$((passed + $1))
    failed=$((failed + $2))
    printf '    %s: %d passed, %d failed\n' "$3" "$1" "$2"
}

# TAP lines in a log -> counts (plans without assertions count as nothing)
count_tap() {
    local ok nok
    ok=$(grep -cE '^[[:space:]]*ok [0-9]+' "$1")
    nok=$(grep -cE '^[[:space:]]*not ok [0-9]+' "$1")
    count "$ok" "$nok" "$2"
}

if [ "${SKIP_UNIT:-0}" != 1 ]; then
log "unit tests (pure C core)"
if make -s -C test/unit check >"$work/unit.log" 2>&1; then unit_rc=0; else unit_rc=1; fi
count_tap "$work/unit.log" "unit"
if [ $unit_rc -ne 0 ]; then
    grep -E 'not ok|error|Error' "$work/unit.log" | head -40
    grep -qE '^[[:space:]]*not ok' "$work/unit.log" || count 0 1 "unit build"
fi
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    log "fuzzing (${FUZZ_SECONDS:-60} s per target)"
    if make -s -C test/fuzz run SECONDS="${FUZZ_SECONDS:-60}" >"$work/fuzz.log" 2>&1; then
        count "$(grep -c '^fuzz target .* ok' "$work/fuzz.log")" 0 "fuzz"
    else
        tail -40 "$work/fuzz.log"
        count 0 1 "fuzz"
    fi
fi

tests=${REGRESS_TESTS:-$(sed -n "s/^REGRESS = //p" Makefile)}
if [ "$tests" != none ]; then
log "pg_regress"
mkdir -p "$work/regress"
cp -r sql expected "$work/regress/"
cat >"$work/regress/temp.conf" <<CONF
shared_preload_libraries = 'pg_cron'
cron.database_name = 'contrib_regression'
max_worker_processes = 16
CONF
[ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$work/regress"

(cd "$work/regress" && as_pg "$PGXS_DIR/src/test/regress/pg_regress" \
    --inputdir=. --outputdir=. --bindir="$PG_BIN" \
    --temp-instance="$work/regress/tmp_instance" --temp-config=temp.conf \
    --port="$(free_port)" --load-extension=segment --dbname=contrib_regression \
    $tests) >"$work/regress.log" 2>&1
cat "$work/regress.log" | grep -E '\.\.\. |tests passed|failed' || tail -20 "$work/regress.log"
count "$(grep -cE '\.\.\. ok' "$work/regress.log")" "$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$work/regress.log")" "pg_regress"
if [ -f "$work/regress/regression.diffs" ]; then
    cp "$work/regress/regression.diffs" ./regression.diffs
    head -200 regression.diffs
fi
grep -qE 'tests passed|tests failed|test failed' "$work/regress.log" || count 0 1 "pg_regress run"
fi

tap=${TAP_TESTS:-t/*.pl}
if [ "$tap" != none ] && ls test/t/*.pl >/dev/null 2>&1; then
    log "TAP tests"
    mkdir -p "$work/tap"
    # the upgrade test (013) starts on release 0.1, built from its commit
    release=""
    case "$tap" in *013*|'t/*.pl') want_release=1 ;; *) want_release=0 ;; esac
    if [ $want_release = 0 ]; then :
    elif build_release 0.1 "$work/release-0.1"; then
        release="$work/release-0.1/usr/lib/postgresql/$PG_MAJOR"
    else
        echo "    (release 0.1 could not be built from git history; 013_upgrade.pl runs its script on this build)"
    fi
    cp -r test/t "$work/tap/"
    # 017 reads the sample CRM and the scenario rules (../../demo, ../../bench)
    cp -r demo bench "$work/"
    [ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$work/tap"
    (cd "$work/tap" && as_pg env PERL5LIB="$PGXS_DIR/src/test/perl" \
        PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" TESTDIR="$work/tap" \
        PGXS_DIR="$PGXS_DIR" \
        SEGMENT_RELEASE_0_1="$release" SEGMENT_CURRENT_INSTALL="$(dirname "$PG_BIN")" prove -v $tap) >"$work/tap.log" 2>&1
    grep -E '^t/|^(not )?ok|Result|#   Failed' "$work/tap.log" | grep -vE '^ok [0-9]+ - ' | tail -60
    count_tap "$work/tap.log" "TAP"
    grep -q 'Result: PASS' "$work/tap.log" || { grep -q 'not ok' "$work/tap.log" || count 0 1 "TAP run"; tail -30 "$work/tap.log"; }
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
