#!/usr/bin/env bash
# The layering check: no source file includes a header of a room above its own (DESIGN.md's
# arrows). Rooms, lowest first:
#   core < formats < nn < policy < filters < models < {algorithms, ope} < eval < cli
# algorithms and ope share a floor and never include each other. bench/ and tests/ may include
# anything and are not checked.
#
# A file's room is its directory; a public header's room is given by HEADER_ROOM below (the one
# table: a header missing from it fails the check, so every new header gets classified). A
# private header ("core/hdf5_util.h", "formats/internal.h", or "internal.h" beside the file)
# belongs to its directory's room. Quoted includes and <orl/...> are checked; other angle-bracket
# includes are system headers.
#
# Usage: tests/layering.sh [SOURCE_DIR]     exit 0 clean, 1 with one line per violation
#        tests/layering.sh --self-test       checks the checker on a small made-up tree
set -euo pipefail

# the rooms, by floor (algorithms and ope on the same floor)
declare -A FLOOR=(
    [core]=0 [formats]=1 [nn]=2 [policy]=3 [filters]=4 [models]=5
    [algorithms]=6 [ope]=6 [eval]=7 [cli]=8
)

# every public header in include/orl/, and its room
declare -A HEADER_ROOM=(
    [status.h]=core [rng.h]=core [progress.h]=core [fs.h]=core [version.h]=core
    [dataset.h]=formats [ingest.h]=formats
    [nn.h]=nn [heads.h]=nn [fit.h]=nn
    [policy.h]=policy
    [filters.h]=filters
    [models.h]=models [dynamics.h]=models [npg.h]=models [pmdp.h]=models
    [train.h]=algorithms
    [ope.h]=ope [fqe.h]=ope [report.h]=ope [ope_run.h]=ope
    [env.h]=eval [eval.h]=eval [bench.h]=eval [bps.h]=eval [behavior.h]=eval [tabular.h]=eval [tabular_policy.h]=eval
    [mujoco.h]=eval [online.h]=eval [pmdp_env.h]=eval
    [orl.h]=cli
)

# check ROOT: prints each violation, returns 1 if there was one
check() {
    local root="$1" bad=0 file room inc target troom
    n_files=0
    n_includes=0
    # every public header is classified
    for file in "$root"/include/orl/*.h; do
        [ -e "$file" ] || continue
        if [ -z "${HEADER_ROOM[$(basename "$file")]:-}" ]; then
            echo "include/orl/$(basename "$file"): not in the layering table (tests/layering.sh)"
            bad=1
        fi
    done
    while IFS= read -r file; do
        local rel="${file#"$root"/}"
        n_files=$((n_files + 1))
        if [[ "$rel" == include/orl/* ]]; then
            room="${HEADER_ROOM[$(basename "$rel")]:-}"
            [ -n "$room" ] || continue # reported above
        else
            room="${rel%%/*}"
        fi
        while IFS= read -r inc; do
            target="$inc"
            n_includes=$((n_includes + 1))
            if [[ "$target" == orl/* ]]; then
                troom="${HEADER_ROOM[${target#orl/}]:-}"
                if [ -z "$troom" ]; then
                    echo "$rel: includes \"$target\", which is not in the layering table"
                    bad=1
                    continue
                fi
            elif [[ "$target" == */* ]]; then
                troom="${target%%/*}"
                if [ -z "${FLOOR[$troom]:-}" ]; then
                    echo "$rel: includes \"$target\", which is in no room"
                    bad=1
                    continue
                fi
            else
                troom="$room" # a header beside the file
            fi
            if ((FLOOR[$troom] > FLOOR[$room])); then
                echo "$rel ($room): includes \"$target\" of room $troom, above it"
                bad=1
            elif [ "$troom" != "$room" ] && ((FLOOR[$troom] == FLOOR[$room])); then
                echo "$rel ($room): includes \"$target\" of room $troom (algorithms and ope never include each other)"
                bad=1
            fi
        done < <(sed -n -e 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' \
            -e 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\(orl\/[^>]*\)>.*/\1/p' "$file")
    done < <(
        for dir in "${!FLOOR[@]}"; do
            [ -d "$root/$dir" ] && find "$root/$dir" -name '*.[ch]' -type f
        done
        [ -d "$root/include/orl" ] && find "$root/include/orl" -name '*.h' -type f
    )
    return $bad
}

self_test() {
    local t
    t="$(mktemp -d)"
    trap 'rm -rf "$t"' RETURN
    mkdir -p "$t/include/orl" "$t/core" "$t/nn" "$t/algorithms" "$t/ope" "$t/cli"
    printf '#include <stdio.h>\n' >"$t/include/orl/status.h"
    printf '#include "orl/status.h"\n' >"$t/include/orl/nn.h"
    printf '#include "orl/status.h"\n#include "orl/nn.h"\n' >"$t/include/orl/train.h"
    printf '#include "orl/nn.h"\n' >"$t/include/orl/ope.h"
    printf '#include "orl/train.h"\n#include "orl/ope.h"\n' >"$t/include/orl/orl.h"
    printf '#include "orl/status.h"\n#include "core/util.h"\n#include <sys/stat.h>\n' >"$t/core/a.c"
    printf '#include "orl/status.h"\n' >"$t/core/util.h"
    printf '#include "orl/nn.h"\n#include "core/util.h"\n' >"$t/nn/nn.c"
    printf '#include "orl/train.h"\n#include "local.h"\n' >"$t/algorithms/bc.c"
    printf '#include "orl/nn.h"\n' >"$t/algorithms/local.h"
    printf '#include "orl/orl.h"\n#include "cli/cli.h"\n' >"$t/cli/main.c"
    printf '#include "orl/orl.h"\n' >"$t/cli/cli.h"
    check "$t" >/dev/null || { echo "self-test: a clean tree failed:"; check "$t"; return 1; }
    local name file text
    for case in \
        "upward:core/b.c:#include \"orl/nn.h\"" \
        "private-upward:nn/b.c:#include \"cli/cli.h\"" \
        "sideways:algorithms/x.c:#include \"orl/ope.h\"" \
        "sideways-private:ope/x.c:#include \"algorithms/local.h\"" \
        "umbrella:nn/c.c:#include \"orl/orl.h\"" \
        "unknown-header:core/c.c:#include \"orl/new.h\"" \
        "unclassified:include/orl/new.h:#include <stdint.h>" \
        "public-upward:include/orl/status.h:#include \"orl/nn.h\""; do
        name="${case%%:*}"
        file="${case#*:}"
        text="${file#*:}"
        file="${file%%:*}"
        local keep=""
        [ -e "$t/$file" ] && keep="$(cat "$t/$file")"
        printf '%s\n' "$text" >>"$t/$file"
        if check "$t" >/dev/null; then
            echo "self-test: the check missed the case '$name' ($file: $text)"
            return 1
        fi
        if [ -n "$keep" ]; then printf '%s\n' "$keep" >"$t/$file"; else rm -f "$t/$file"; fi
        check "$t" >/dev/null || { echo "self-test: restoring after '$name' failed"; return 1; }
    done
    echo "layering self-test: the clean tree passes, 8 kinds of violation are caught"
}

if [ "${1:-}" = "--self-test" ]; then
    self_test
    exit $?
fi
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
if check "$root"; then
    echo "layering: $n_files files, $n_includes includes of our headers: none of a room above"
else
    echo "layering: violations above (rooms: core < formats < nn < policy < filters < models < {algorithms, ope} < eval < cli)"
    exit 1
fi
