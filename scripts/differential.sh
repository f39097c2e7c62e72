#!/usr/bin/env bash
# Long differential run of rule evaluation, outside CI: runs the TAP test
# test/t/004_differential.pl alone with many rules and a random seed
# (segment.evaluate() against a reference translation of every rule, see
# test/t/Differential.pm). Installs dependencies and builds the extension
# like scripts/test.sh.
#
# Environment: DIFF_SEED (default random), DIFF_RULES (default 50000), and
# the test's other settings (DIFF_TEXT_RULES, DIFF_ZONE_RULES, DIFF_INSTANTS,
# DIFF_CUSTOMERS, DIFF_STRICT, DIFF_SHRINK, DIFF_VERBOSE; see the test).
# The full TAP output is kept in ./differential.log; the seed is printed so
# that a failing run can be repeated: DIFF_SEED=<seed> DIFF_RULES=<n> bash scripts/differential.sh
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_deps || exit 1
build_install || exit 1

work=$(make_workdir)
trap 'rm -rf "$work"' EXIT

export DIFF_SEED=${DIFF_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
export DIFF_RULES=${DIFF_RULES:-50000}
vars=()
for v in $(compgen -e | grep '^DIFF_'); do vars+=("$v=${!v}"); done
log "differential test: DIFF_SEED=$DIFF_SEED DIFF_RULES=$DIFF_RULES"

mkdir -p "$work/tap"
cp -r test/t "$work/tap/"
[ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$work/tap"
start=$(date +%s)
(cd "$work/tap" && as_pg env PERL5LIB="$PGXS_DIR/src/test/perl" \
    PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" TESTDIR="$work/tap" \
    PGXS_DIR="$PGXS_DIR" "${vars[@]}" prove -v t/004_differential.pl) >"$work/tap.log" 2>&1
rc=$?
cp "$work/tap.log" ./differential.log
grep -E '^# (differential test|known bug)|^not ok|Result' "$work/tap.log" | grep -v '^not ok.*agree with' | head -60
[ $rc -eq 0 ] || grep -A40 '^#   Failed test' "$work/tap.log" | head -200
echo
echo "seed $DIFF_SEED, $DIFF_RULES rules, $(( $(date +%s) - start )) s: $([ $rc -eq 0 ] && echo passed || echo FAILED) (full output: differential.log)"
exit $rc
