#!/usr/bin/env bash
# bench/vs-torch.sh REFDIR [SCALE]: orl's training updates per second side by side with the
# PyTorch reference update loops of REFDIR (torch_learners_ref.py, torch_iql_ref.py: CORL's
# shapes, obs 17, act 6, batch 256), on this machine, at 1 and 2 threads, at width 256 and 64.
# Needs Debian's python3-torch (scripts/install-deps.sh --bench) and a build (build/bench/train).
#
# PyTorch's own rate moves by 20-48% between runs on an idle machine, so one run of each side
# decides nothing: each (learner, width, threads) runs R alternating rounds (orl, torch, orl,
# torch, ...; ROUNDS=R, default 3), and its "vs_torch" line gives the median of the R per-round
# ratios orl / torch with their min and max, the medians of both sides' rates, and every run.
# Only the learners with a reference loop run (BC as the reference's "mlp", TD3+BC, IQL, CQL,
# BCQ; BCQ 64 by a copy of the reference loop with every network 64 wide).
#
# Steps: each run is sized to a few seconds of training (table below, from the idle rates of
# 2026-12-07) times SCALE (default 1); bench/train lengthens a run that takes under 2 s to about
# 2.5 s. One program runs at a time; JSON lines of every run, then the "vs_torch" lines.
# THREADS="1" runs one thread count only; ONLY="td3bc:64 iql:256" (algo:width, BC as "bc") runs
# only those learners. Most of a round is fixed cost (Python's start and
# warm-up, bench/train's warm-up, GEMM replay and acting cost): THREADS=1 ROUNDS=2 at SCALE 0.05
# took 5.7 min at load 4-5; THREADS=1 at R = 3, SCALE 1 took 7.25 min at load 2.4-3 (one core
# mostly free), so about 7 min per thread count.
set -euo pipefail
ref=${1:?usage: bench/vs-torch.sh REFDIR [SCALE]}
scale=${2:-1}
rounds=${ROUNDS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
out=$(mktemp)
bcq64=$(mktemp --suffix=.py)
trap 'rm -f "$out" "$bcq64"' EXIT

# BCQ's reference has fixed 750 / 400-300 networks: a copy with every network HIDDEN wide
sed -E -e 's/mlp\(S \+ A, 4 \* A, 750\)/mlp(S + A, 4 * A)/' -e 's/mlp\(S \+ 2 \* A, A, 750\)/mlp(S + 2 * A, A)/' \
  -e 's/nn\.Linear\(i, 400\)/nn.Linear(i, hid)/' -e 's/nn\.Linear\(400, 300\)/nn.Linear(hid, hid)/' \
  -e 's/nn\.Linear\(300, o\)/nn.Linear(hid, o)/' "$ref/torch_learners_ref.py" >"$bcq64"
grep -q 'nn.Linear(hid, hid)' "$bcq64" || { echo "vs-torch.sh: could not make BCQ's 64-wide copy" >&2; exit 1; }

# orl algo, bench/train case, reference algo, width, orl steps, torch steps (before SCALE)
cases="bc corl mlp 256 1500 800
bc small mlp 64 6000 1600
td3bc corl td3bc 256 500 300
td3bc small td3bc 64 2000 800
iql corl iql 256 400 300
cql corl cql 256 20 16
bcq corl bcq 256 40 30
bcq small bcq 64 800 400"

for t in ${THREADS:-1 2}; do
  # PyTorch's set_num_threads does not bound the OpenBLAS it calls for sgemm (Debian's torch
  # links libblas.so.3 -> OpenBLAS, which otherwise starts one thread per core): pin both
  # thread pools to T for every program, or "1 thread" PyTorch runs its GEMMs on 2 cores.
  export OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t
  while read -r algo case talgo h osteps tsteps; do
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $algo:$h "* ]]; then continue; fi
    osteps=$(awk -v s="$osteps" -v k="$scale" 'BEGIN { n = int(s * k); print (n > 1 ? n : 1) }')
    tsteps=$(awk -v s="$tsteps" -v k="$scale" 'BEGIN { n = int(s * k); print (n > 1 ? n : 1) }')
    for ((r = 1; r <= rounds; r++)); do
      "$top/build/bench/train" --threads "$t" --algos "$algo" --cases "$case" --steps "$osteps" |
        sed -E "s/^\\{/{\"round\":$r,/" | tee -a "$out"
      if [ "$talgo" = iql ]; then # the IQL reference prints text: make it a JSON line
        "$py" "$ref/torch_iql_ref.py" "$tsteps" "$t" |
          sed -E 's/^torch ([^ ]+) threads=([0-9]+) iql updates\/s ([0-9.]+)$/{"ref":"torch","version":"\1","algo":"iql","threads":\2,"hidden":256,"updates_per_s":\3}/'
      elif [ "$talgo" = bcq ] && [ "$h" != 256 ]; then
        "$py" "$bcq64" bcq "$tsteps" "$t" "$h"
      else
        "$py" "$ref/torch_learners_ref.py" "$talgo" "$tsteps" "$t" "$h"
      fi | sed -E "s/^\\{/{\"round\":$r,/" | tee -a "$out"
    done
  done <<<"$cases"
done

"$py" - "$out" <<'EOF'
import json, statistics, sys
orl, torch = {}, {}
for line in open(sys.argv[1]):
    try: j = json.loads(line)
    except ValueError: continue
    if j.get("bench") == "train":
        orl.setdefault((j["algo"], j["hidden"], j["threads"]), {})[j["round"]] = j["updates_per_s"]
    elif j.get("ref") == "torch":
        algo = {"mlp": "bc"}.get(j["algo"], j["algo"])
        torch.setdefault((algo, j["hidden"], j["threads"]), {})[j["round"]] = j["updates_per_s"]
for key in sorted(torch, key=lambda k: (k[2], -k[1], k[0])):
    mine, theirs = orl.get(key, {}), torch[key]
    both = sorted(set(mine) & set(theirs))
    if not both: continue
    ratios = [mine[r] / theirs[r] for r in both]
    algo, h, t = key
    print(json.dumps({"bench": "vs_torch", "algo": algo, "hidden": h, "threads": t,
                      "orl_updates_per_s": round(statistics.median(mine[r] for r in both), 1),
                      "torch_updates_per_s": round(statistics.median(theirs[r] for r in both), 1),
                      "ratio": round(statistics.median(ratios), 2),
                      "ratio_min": round(min(ratios), 2), "ratio_max": round(max(ratios), 2),
                      "rounds": len(both), "orl_runs": [mine[r] for r in both],
                      "torch_runs": [theirs[r] for r in both]}))
EOF
