#!/usr/bin/env bash
# Benchmark of event_funnel() (issue 15) at 1M customers by default:
#   bash bench/funnel.sh [customers]
# The generalization shop (bench/generalize_data.sql: no foreign keys,
# bigint keys beyond 2^32 through the dictionary, partitions, skew), the
# funnels of bench/generalize_funnels.sql against a hand-written
# window-function query and a hand-written LATERAL query, at defaults and
# tuned, together with the behavioural rules of
# bench/generalize_behaviour_rules.sql (RULES= to change, e.g.
# RULES=bench/generalize_rules.sql for the 41 general ones).
set -eu
cd "$(dirname "$0")/.."
RULES=${RULES:-bench/generalize_behaviour_rules.sql} FUNNELS=1 exec bash bench/generalize.sh "$@"
