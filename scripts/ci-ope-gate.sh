#!/usr/bin/env bash
# An example CI job that gates a policy change on an off-policy evaluation report.
#
# What it does:
#   1. finds the logged data (LOGS, e.g. last week's production logs converted with `orl ingest`)
#      or, for a demonstration, generates a GridWorld dataset with `orl gen`;
#   2. runs `orl ope` on the candidate policy against the production (baseline) policy;
#      the job fails (exit 1) when the candidate's lower bound falls more than MARGIN below
#      the baseline's estimate, or (exit 2) on bad input;
#   3. writes the Markdown report where the CI shows it (GitHub Actions: $GITHUB_STEP_SUMMARY;
#      elsewhere a file kept as an artifact), and appends the results to a SQLite catalog
#      labelled with the commit, so the trend across commits can be queried:
#        sqlite3 results.sqlite "SELECT label, policy, estimator, estimate, lower_bound
#                                FROM results ORDER BY id DESC LIMIT 20"
#
# Environment (all optional):
#   ORL          the orl program (default: orl on PATH, else build/orl)
#   CANDIDATE    the policy under review (default: a demo tabular policy from the fixtures)
#   BASELINE     the policy in production (default: a second demo policy)
#   LOGS         the logged dataset (default: generated with orl gen)
#   MARGIN       how far below the baseline the candidate's lower bound may fall (default 5)
#   ESTIMATORS   estimators to report (default wis,pdis,fqe,wdr; the gate uses wdr)
#   RESULTS      the results catalog (default results.sqlite)
#   COMMIT       the run label (default: $GITHUB_SHA, or git rev-parse HEAD, or "local")
#   REPORT       where the Markdown goes (default: $GITHUB_STEP_SUMMARY, else ope-report.md)
#
# In GitHub Actions:
#   - name: OPE gate
#     run: scripts/ci-ope-gate.sh
#     env: { CANDIDATE: build/candidate.h5, BASELINE: models/prod.h5, LOGS: data/logs.h5 }
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
ORL="${ORL:-$(command -v orl || echo "$root/build/orl")}"
MARGIN="${MARGIN:-5}"
ESTIMATORS="${ESTIMATORS:-wis,pdis,fqe,wdr}"
RESULTS="${RESULTS:-results.sqlite}"
COMMIT="${COMMIT:-${GITHUB_SHA:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo local)}}"
REPORT="${REPORT:-${GITHUB_STEP_SUMMARY:-ope-report.md}}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. the data and the policies (demo defaults: GridWorld, the study's two softmax policies)
fixtures="$root/tests/fixtures/ris-gridworld"
# the demo candidate is p1 (true value 96.9 by dynamic programming) and the baseline p2
# (86.1), so the gate passes; swap them (CANDIDATE=p2, BASELINE=p1) to watch it fail
if [[ -z "${CANDIDATE:-}" ]]; then
    CANDIDATE="$work/candidate.h5"
    "$ORL" policy from-table "$fixtures/p1.txt" --env GridWorld-4x4 -o "$CANDIDATE" >&2
fi
if [[ -z "${BASELINE:-}" ]]; then
    BASELINE="$work/prod.h5"
    "$ORL" policy from-table "$fixtures/p2.txt" --env GridWorld-4x4 -o "$BASELINE" >&2
fi
# the demo logs come from a small canary run of the candidate: logs of a policy far from the
# candidate (e.g. random) leave too few effective episodes, and the gate then fails for
# insufficient evidence (--min-ess, see the report's first line)
if [[ -z "${LOGS:-}" ]]; then
    LOGS="$work/logs.h5"
    "$ORL" gen --env GridWorld-4x4 --behavior "$CANDIDATE" --episodes 500 --seed 1 -o "$LOGS" >&2
fi

# 2. + 3. the report and the gate. GitHub's step summary is appended to, so the report is
# written to a file of its own (atomically) and then appended.
status=0
"$ORL" ope "$CANDIDATE" --data "$LOGS" --estimators "$ESTIMATORS" \
    --baseline "$BASELINE" --margin "$MARGIN" \
    --format md -o "$work/report.md" \
    --record "$RESULTS" --label "$COMMIT" || status=$?
if [[ -f "$work/report.md" ]]; then
    cat "$work/report.md" >>"$REPORT"
fi

# a JUnit file for CI systems that display test results (optional; same numbers, no gate
# decision of its own)
# "$ORL" ope "$CANDIDATE" --data "$LOGS" --baseline "$BASELINE" --margin "$MARGIN" \
#     --format junit -o ope-junit.xml || true

case "$status" in
    0) echo "OPE gate passed ($COMMIT)" >&2 ;;
    1) echo "OPE gate FAILED: the candidate's lower bound is below the baseline - $MARGIN, or the evidence is insufficient (see the report's first line)" >&2 ;;
    *) echo "OPE gate could not run (bad input, exit $status)" >&2 ;;
esac
exit "$status"
