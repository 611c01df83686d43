#!/usr/bin/env bash
# An example CI job: did this change make a learner worse on the shared benchmark?
#
# What it does:
#   1. runs a suite (SUITE, default the built-in smoke suite; for a real check a suite of your
#      own with a few seeds) with the program under review (ORL) into HEAD_DIR;
#   2. uses BASE_DIR as the reference: a benchmark directory kept from the main branch (a CI
#      cache or artifact), or, when absent, runs the same suite with ORL_BASE (the main
#      branch's build) into it;
#   3. writes `orl bench compare`'s Markdown where the CI shows it (GitHub Actions:
#      $GITHUB_STEP_SUMMARY; elsewhere a file) and exits with its status: 1 when a learner's
#      aggregate IQM on HEAD is below the reference's bootstrap interval, 0 otherwise, 2 on bad
#      input.
# Results of both runs are in their directories' results.sqlite catalogs and report.md.
#
# Environment (all optional):
#   ORL        the program under review (default: orl on PATH, else build/orl)
#   ORL_BASE   the main branch's program, to make BASE_DIR when it is missing (default: ORL)
#   SUITE      a built-in suite name or a suite file (default smoke)
#   HEAD_DIR   (default bench-head)     BASE_DIR (default bench-base)
#   JOBS       worker processes (default 2)
#   REPORT     where the Markdown goes (default: $GITHUB_STEP_SUMMARY, else bench-compare.md)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
ORL="${ORL:-$(command -v orl || echo "$root/build/orl")}"
ORL_BASE="${ORL_BASE:-$ORL}"
SUITE="${SUITE:-smoke}"
HEAD_DIR="${HEAD_DIR:-bench-head}"
BASE_DIR="${BASE_DIR:-bench-base}"
JOBS="${JOBS:-2}"
REPORT="${REPORT:-${GITHUB_STEP_SUMMARY:-bench-compare.md}}"

if [ ! -f "$BASE_DIR/suite.json" ]; then
    "$ORL_BASE" bench run "$SUITE" -o "$BASE_DIR" -j "$JOBS" --no-report >/dev/null
fi
"$ORL" bench run "$SUITE" -o "$HEAD_DIR" -j "$JOBS" >/dev/null

status=0
"$ORL" bench compare "$BASE_DIR" "$HEAD_DIR" >>"$REPORT" || status=$?
echo "orl bench compare: exit $status (report in $REPORT)"
exit $status
