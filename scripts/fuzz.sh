#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [HARNESS...]: builds the libFuzzer harnesses of fuzz/ with clang,
# ASan and UBSan (build-fuzz/), and runs each for SECONDS (default 60) from its committed seed
# corpus (fuzz/corpus/NAME) plus the corpus earlier runs grew (build-fuzz/corpus/NAME).
#
# The text harnesses (csv, jsonl, mapping) stop at the first crash, leak or sanitizer report.
# The file harnesses (dataset, policy, model) open hostile HDF5 files, where libhdf5 itself can
# crash (it does not checksum most of its metadata); they run in libFuzzer's fork mode, which goes
# on past crashes. Every sanitizer report (ASan, UBSan, LeakSanitizer, and the stack libFuzzer
# prints for a deadly signal) is written to its own file (build-fuzz/reports/NAME/) by the
# process that made it, and is told apart by its stack: inside libhdf5 (known; fuzz/README.md) or
# in orl (a failure). The report, not a re-run of the input, decides: some libhdf5 crashes happen
# only after earlier inputs in the same process (its caches and free lists) and do not recur
# when the input is run alone. Timeouts and out-of-memory inputs have no report and are run again
# alone (5 s limit), told apart by the stack printed then; one that does not recur is counted as
# "unreproduced" (printed, not a failure: nothing says whose it is).
#
# FUZZ_RUNS=N stops each non-fork harness after N executions instead (SECONDS stays the cap).
#
# Prints one JSON line per harness and exits 1 when orl crashed anywhere; reproducing inputs are
# kept as build-fuzz/crashes/NAME-*. Reproduce one with: build-fuzz/fuzz/fuzz_NAME FILE
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(csv jsonl mapping suite dataset policy model)
command -v clang >/dev/null || { echo "fuzz.sh: clang is needed (scripts/install-deps.sh)" >&2; exit 2; }

CC=clang cmake -B build-fuzz -DORL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target fuzz -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
mkdir -p build-fuzz/crashes
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1

# whose a sanitizer report (on stdin) is: "libhdf5" when the first frame that is either in
# libhdf5 or in source code with a line number (orl's own code; the sanitizers' interceptors,
# libc and the fuzzer runtime have none) is in libhdf5, "orl" when it is in orl's code, "none"
# when the text has no stack at all
whose() {
  local frames frame
  frames=$(grep -E '^ +#[0-9]+ |runtime error:' || true)
  [ -n "$frames" ] || { echo none; return; }
  frame=$(printf '%s\n' "$frames" | grep -E 'libhdf5|\.[ch]:[0-9]+' |
    grep -vE '/sysdeps/|compiler-rt|sanitizer_common' | head -1 || true)
  case "$frame" in *libhdf5*) echo libhdf5 ;; *) echo orl ;; esac
}

failed=0
for h in "${harnesses[@]}"; do
  work=build-fuzz/corpus/$h
  mkdir -p "$work"
  log=build-fuzz/fuzz_$h.log
  prefix=build-fuzz/crashes/$h-
  # -max_len: a few times the largest real input of the format. A suite file is 1-3 KB (the
  # built-in ones), so 16 KB; data files, logs and mappings 64 KB. Runs slow down as inputs grow
  # to this cap (the suite harness from 15,000 to 1,500 executions/s at 64 KB).
  maxlen=65536
  [ "$h" != suite ] || maxlen=16384
  flags=(-max_total_time="$secs" -max_len=$maxlen -rss_limit_mb=2048 -timeout=20
    -print_final_stats=1 -artifact_prefix="$prefix")
  forked=1
  case $h in
  dataset | policy | model) flags+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1) ;;
  *)
    forked=0
    [ -z "${FUZZ_RUNS:-}" ] || flags+=(-runs="$FUZZ_RUNS")
    ;;
  esac
  reports=$PWD/build-fuzz/reports/$h
  rm -rf "$reports" && mkdir -p "$reports"
  hangs() { find build-fuzz/crashes \( -name "$h-timeout-*" -o -name "$h-oom-*" \) | sort; }
  hangs >"$reports.before"
  rc=0
  start=$(date +%s)
  ASAN_OPTIONS=$ASAN_OPTIONS:log_path=$reports/report UBSAN_OPTIONS=print_stacktrace=1:log_path=$reports/report \
    build-fuzz/fuzz/fuzz_"$h" "$work" "fuzz/corpus/$h" "${flags[@]}" >"$log" 2>&1 || rc=$?
  took=$(($(date +%s) - start))
  # executions and coverage: the final stats, or fork mode's last progress line
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' "$log" | tail -1)
  ours=0 hdf5=0 unrepro=0 first=
  for r in "$reports"/report.*; do
    [ -e "$r" ] || continue
    case $(whose <"$r") in
    libhdf5) hdf5=$((hdf5 + 1)) ;;
    orl) ours=$((ours + 1)) && first=${first:-$r} ;;
    esac
  done
  for a in $(hangs | comm -13 "$reports.before" -); do
    case $(timeout 120 build-fuzz/fuzz/fuzz_"$h" -timeout=5 -rss_limit_mb=2048 "$a" 2>&1 | whose) in
    libhdf5) hdf5=$((hdf5 + 1)) ;;
    orl) ours=$((ours + 1)) ;;
    none) unrepro=$((unrepro + 1)) && echo "fuzz.sh: fuzz_$h: $a did not recur when run alone" >&2 ;;
    esac
  done
  # a stop without a report still counts (fork mode's parent exits 1 when any child crashed),
  # except a run stopped by a signal sent to the fuzzer (SIGINT, SIGTERM: libFuzzer exits 72)
  interrupted=false
  if [ $rc -eq 72 ] && grep -q 'libFuzzer: run interrupted' "$log"; then interrupted=true; fi
  [ $forked -eq 1 ] || [ $rc -eq 0 ] || [ $ours -gt 0 ] || [ $interrupted = true ] || ours=1
  printf '{"harness":"%s","seconds":%s,"executions":%s,"exec_per_second":%s,"coverage":%s,"max_len":%s,"interrupted":%s,"crashes_in_orl":%s,"crashes_in_libhdf5":%s,"unreproduced":%s}\n' \
    "$h" "$took" "${execs:-0}" "$((${execs:-0} / (took > 0 ? took : 1)))" "${cov:-0}" "$maxlen" "$interrupted" "$ours" "$hdf5" "$unrepro"
  if [ $ours -gt 0 ]; then
    failed=1
    echo "fuzz.sh: fuzz_$h: orl crashed (exit $rc); the report:" >&2
    grep -E "ERROR|SUMMARY|Test unit written|^ +#[0-9] " "$log" ${first:+"$first"} | head -30 >&2
  fi
done
exit $failed
